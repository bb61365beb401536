//! When to load the project again: its spec files or connections file changed (checked every
//! second), or the process got SIGHUP.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aitaem::Project;

use crate::state::State;

/// How often the files are checked.
const EVERY: Duration = Duration::from_secs(1);

/// The files a project is read from, with their sizes and times of change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    pub specs: Vec<(PathBuf, u64, Option<SystemTime>)>,
    pub connections: Option<(PathBuf, u64, Option<SystemTime>)>,
}

impl Fingerprint {
    pub fn of(project: &Project) -> Fingerprint {
        let mut specs = Vec::new();
        for path in project.spec_paths() {
            walk(&path, &mut specs);
        }
        specs.sort();
        Fingerprint {
            specs,
            connections: project.connections_file().and_then(|file| stamp(&file)),
        }
    }
}

fn stamp(path: &Path) -> Option<(PathBuf, u64, Option<SystemTime>)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((path.to_path_buf(), meta.len(), meta.modified().ok()))
}

/// Every file under `path` (or `path` itself).
fn walk(path: &Path, out: &mut Vec<(PathBuf, u64, Option<SystemTime>)>) {
    match std::fs::read_dir(path) {
        Ok(entries) => {
            for entry in entries.flatten() {
                walk(&entry.path(), out);
            }
        }
        Err(_) => out.extend(stamp(path)),
    }
}

/// Reloads the project when its files change or on SIGHUP, until the server stops.
pub(crate) async fn watch(state: Arc<State>) {
    #[cfg(unix)]
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut ticks = tokio::time::interval(EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        #[cfg(unix)]
        let hangup = async {
            match hangups.as_mut() {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let hangup = std::future::pending::<()>();
        let forced = matches!(
            futures_util::future::select(std::pin::pin!(hangup), std::pin::pin!(ticks.tick()))
                .await,
            futures_util::future::Either::Left(_)
        );
        let shared = state.clone();
        let _ = tokio::task::spawn_blocking(move || shared.reload(forced)).await;
    }
}
