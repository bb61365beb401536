//! Where a result file goes: never over a file the compute reads, and written whole or not at
//! all.

use std::path::{Path, PathBuf};

use aitaem::Error;

/// Where a result file goes: checked not to be a file the compute reads, and written whole or
/// not at all (into a temporary file next to it, renamed over it when complete).
pub struct Target {
    /// The file to write: the output path, or the file a link there points to.
    path: PathBuf,
}

impl Target {
    /// Refuses a path that is (or resolves to, through links or `..`) one of `reads`.
    pub fn new<'p>(path: &Path, reads: impl Iterator<Item = &'p Path>) -> Result<Target, Error> {
        let resolved = resolve(path);
        for read in reads {
            if matches(&resolved, read) {
                return Err(Error::Output {
                    message: format!(
                        "refusing to write the result to `{}`: it is `{}`, which this command reads; choose another --output file",
                        path.display(),
                        read.display()
                    ),
                });
            }
        }
        Ok(Target { path: resolved })
    }

    /// Whether the target exists and is not a regular file (`/dev/null`, a named pipe): written
    /// in place, never replaced.
    fn is_special(&self) -> bool {
        std::fs::metadata(&self.path).is_ok_and(|m| !m.is_file())
    }

    /// Writes in place to a target that is not a regular file.
    fn write_in_place(
        &self,
        write: impl FnOnce(&mut std::io::BufWriter<&mut std::fs::File>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(&self.path)
            .map_err(|e| self.io(e))?;
        let mut out = std::io::BufWriter::new(&mut file);
        write(&mut out)?;
        std::io::Write::flush(&mut out).map_err(|e| self.io(e))
    }

    /// Draws the file by `draw`, which writes a file of the same extension; an existing file is
    /// replaced only when `draw` succeeded.
    pub fn draw(&self, draw: impl FnOnce(&Path) -> Result<(), Error>) -> Result<(), Error> {
        let (dir, name) = self.parts();
        let extension = self
            .path
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        let temporary = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(&format!(".partial{extension}"))
            .tempfile_in(dir)
            .map_err(|source| self.io(source))?;
        draw(temporary.path())?;
        if self.is_special() {
            let drawn = std::fs::read(temporary.path()).map_err(|e| self.io(e))?;
            return self.write_in_place(|out| {
                std::io::Write::write_all(out, &drawn).map_err(|e| self.io(e))
            });
        }
        self.persist(temporary)
    }

    /// The directory and file name of the target.
    fn parts(&self) -> (&Path, String) {
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (dir, name)
    }

    fn io(&self, source: std::io::Error) -> Error {
        Error::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Moves a finished temporary file over the target, with the old file's permissions (or
    /// the usual ones for a new file).
    fn persist(&self, temporary: tempfile::NamedTempFile) -> Result<(), Error> {
        let permissions = std::fs::metadata(&self.path)
            .map(|m| m.permissions())
            .unwrap_or_else(|_| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::Permissions::from_mode(0o644)
            });
        std::fs::set_permissions(temporary.path(), permissions).map_err(|e| self.io(e))?;
        temporary
            .persist(&self.path)
            .map_err(|e| self.io(e.error))?;
        Ok(())
    }

    /// Writes the file by `write`; an existing file is replaced only when `write` succeeded.
    pub fn write(
        &self,
        write: impl FnOnce(&mut std::io::BufWriter<&mut std::fs::File>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if self.is_special() {
            return self.write_in_place(write);
        }
        let (dir, name) = self.parts();
        let mut temporary = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".partial")
            .tempfile_in(dir)
            .map_err(|source| self.io(source))?;
        {
            let mut out = std::io::BufWriter::new(temporary.as_file_mut());
            write(&mut out)?;
            std::io::Write::flush(&mut out).map_err(|source| self.io(source))?;
        }
        self.persist(temporary)
    }
}

/// An absolute path with links and `..` resolved, also for a file that does not exist yet.
fn resolve(path: &Path) -> PathBuf {
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    match (dir.canonicalize(), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_path_buf(),
    }
}

/// Whether `path` is `read`, a file or a glob of files (`logs/*.csv`).
fn matches(path: &Path, read: &Path) -> bool {
    let text = read.to_string_lossy();
    if !text.contains(['*', '?', '[']) {
        return path == read;
    }
    let (dir, pattern) = match (read.parent(), read.file_name()) {
        (Some(dir), Some(pattern)) => (dir, pattern.to_string_lossy()),
        _ => return false,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    path.parent() == Some(dir) && wildcard(&pattern, &name)
}

/// `*` and `?` matching (other glob syntax counts as itself: refusing too much is safe).
fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_file_names() {
        assert!(wildcard("*.csv", "events.csv"));
        assert!(wildcard("ev?nts_*.csv", "events_2024.csv"));
        assert!(!wildcard("*.csv", "events.parquet"));
        assert!(wildcard("*", ""));
        assert!(matches(
            Path::new("/d/logs/a.jsonl"),
            Path::new("/d/logs/*.jsonl")
        ));
        assert!(!matches(
            Path::new("/d/other/a.jsonl"),
            Path::new("/d/logs/*.jsonl")
        ));
    }
}
