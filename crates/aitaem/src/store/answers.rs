//! An entry's answers: the rows of serving statements that ran over its files, by the
//! statement's text. A refresh writes new files under new names and never rewrites one, so a
//! statement over the same files always has the same rows: a repeated request is answered by
//! reading its rows back, without running it again.

use std::fs;
use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;

use super::files;
use crate::plan::stored::fingerprint;

/// The answers an entry keeps; the oldest goes when another is kept.
const KEPT: usize = 64;

fn answers(entry: &Path) -> PathBuf {
    entry.join("answers")
}

fn path(entry: &Path, sql: &str) -> PathBuf {
    // Another version may compute other rows from the same statement.
    let key = fingerprint(&[env!("CARGO_PKG_VERSION").to_string(), sql.to_string()]);
    answers(entry).join(format!("{key}.parquet"))
}

/// The rows of `sql` over the entry's files, when kept.
pub(crate) fn read(entry: &Path, sql: &str) -> Option<Vec<RecordBatch>> {
    files::read_parquet(&path(entry, sql))
}

/// Whether the rows of `sql` over the entry's files are kept.
pub(crate) fn has(entry: &Path, sql: &str) -> bool {
    path(entry, sql).is_file()
}

/// Keeps the rows of `sql` (best effort: an answer not kept only costs speed).
pub(crate) fn keep(entry: &Path, sql: &str, batches: &[RecordBatch]) {
    if batches.is_empty() {
        return;
    }
    if let Ok(listing) = fs::read_dir(answers(entry)) {
        let mut kept: Vec<(std::time::SystemTime, PathBuf)> = listing
            .flatten()
            .filter_map(|f| Some((f.metadata().ok()?.modified().ok()?, f.path())))
            .collect();
        if kept.len() >= KEPT {
            kept.sort();
            for (_, old) in &kept[..=kept.len() - KEPT] {
                files::remove_file(old);
            }
        }
    }
    let _ = files::write_parquet_at(&path(entry, sql), batches);
}

/// Forgets every answer of the entry (its files changed).
pub(crate) fn clear(entry: &Path) {
    let _ = files::remove_dir(&answers(entry));
}
