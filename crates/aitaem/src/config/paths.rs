//! How relative paths (DuckDB databases and files) are found.
//!
//! A relative path is looked up first next to the connections file, then in the working
//! directory; the first place where it exists wins. So a project that keeps its data next to
//! `connections.yaml` works from any directory, and so does running from the data directory
//! with specs elsewhere. Absolute paths are used as they are.

use std::path::{Path, PathBuf};

/// Resolves relative paths against a base directory, then the working directory.
#[derive(Debug, Clone, Default)]
pub(crate) struct PathResolver {
    /// The directory of the connections file, when there is one.
    base: Option<PathBuf>,
}

/// Where a path was found, or where it was looked for.
pub(crate) enum Resolved {
    /// The path exists here.
    Found(PathBuf),
    /// Not found in any of these places.
    Missing(Vec<PathBuf>),
}

impl PathResolver {
    pub(crate) fn new(base: Option<PathBuf>) -> Self {
        PathResolver { base }
    }

    /// The places a relative path is looked for, in order.
    fn candidates(&self, path: &Path) -> Vec<PathBuf> {
        if path.is_absolute() {
            return vec![path.to_path_buf()];
        }
        let mut out = Vec::new();
        if let Some(base) = &self.base {
            out.push(base.join(path));
        }
        if let Ok(cwd) = std::env::current_dir() {
            let here = cwd.join(path);
            if !out.contains(&here) {
                out.push(here);
            }
        }
        out
    }

    /// Finds a file or directory. For a glob (`logs/*.csv`) the directory part must exist and
    /// the returned path keeps the pattern.
    pub(crate) fn resolve(&self, path: &str) -> Resolved {
        let (dir, pattern) = match path.find(['*', '?', '[']) {
            Some(i) => {
                let cut = path[..i].rfind('/').map(|j| j + 1).unwrap_or(0);
                (&path[..cut], Some(&path[cut..]))
            }
            None => (path, None),
        };
        let probe = if dir.is_empty() { "." } else { dir };
        let candidates = self.candidates(Path::new(probe));
        for candidate in &candidates {
            if candidate.exists() {
                let found = absolute(candidate);
                return Resolved::Found(match pattern {
                    Some(p) => found.join(p),
                    None => found,
                });
            }
        }
        Resolved::Missing(candidates)
    }
}

/// An absolute, normalised form of an existing path (symlinks resolved where possible).
pub(crate) fn absolute(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// "a, b or c" for error messages.
pub(crate) fn list(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    shown.join(" or ")
}
