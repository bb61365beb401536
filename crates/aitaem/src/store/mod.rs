//! The result store: the partial aggregates of earlier computes, kept at a fine time grain (days,
//! or hours) in Parquet files under a directory, answering later requests they cover without a
//! statement on the source.
//!
//! On disk, each *entry* is a directory named by its key: `manifest.json` (what it holds: the
//! source, the fingerprints of its states and partial aggregates, the time ranges covered, its
//! files) and the Parquet files it lists, each valid for a range of periods. Files are written
//! under a temporary name and renamed, and the manifest last, so a reader (which takes no lock)
//! always sees a complete entry, and a crash leaves the previous one. Writers take an exclusive
//! lock on `store.lock`. Deleting the directory loses nothing but speed.
//!
//! Each entry also keeps the rows of the last serving statements that ran over its files
//! (`answers/`, see [`answers`]), so a repeated request reads its rows back.

pub(crate) mod answers;
mod entry;
mod files;

use std::fs;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;

pub(crate) use entry::{Coverage, Manifest, StoredFile, StoredRequest, bounded};
pub(crate) use files::{remove_dir, remove_file, write_parquet};

use crate::error::{Error, Result};

/// A result store, a directory of stored partial aggregates (see the module documentation).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let store = aitaem::Store::open(dir.path().join("store")).unwrap();
/// assert!(store.status().unwrap().is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    lookback: chrono::Duration,
    /// Lookbacks of single sources, as their specs write them.
    source_lookbacks: Vec<(String, chrono::Duration)>,
}

/// What one entry of a store holds (see [`Store::status`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoredEntry {
    /// The source table.
    pub source: String,
    /// The backend it was read from.
    pub backend: String,
    /// The metrics whose partial aggregates it holds.
    pub metrics: Vec<String>,
    /// `day` or `hour`.
    pub grain: String,
    /// The time ranges read, `[start, end)`; `(None, None)` for an all-time entry, which has
    /// read every row (those without a time too).
    pub ranges: Vec<(Option<NaiveDateTime>, Option<NaiveDateTime>)>,
    /// The start of the latest period read.
    pub watermark: Option<NaiveDateTime>,
    /// Stored rows.
    pub rows: u64,
    /// Bytes on disk.
    pub bytes: u64,
    /// When it was last written, UTC.
    pub refreshed: String,
}

/// What refreshing one entry did (see [`MetricCompute::refresh_store`](crate::MetricCompute::refresh_store)).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoreRefresh {
    /// The source table.
    pub source: String,
    /// The metrics whose partial aggregates the entry holds.
    pub metrics: Vec<String>,
    /// What was done.
    pub outcome: RefreshOutcome,
}

/// What refreshing an entry did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RefreshOutcome {
    /// The source's rows of `[from, to)` were read again and replace the stored ones.
    Read {
        /// The first period read; `None`: from the first row.
        from: Option<NaiveDateTime>,
        /// The end of the entry's range; `None` for an all-time entry, which reads to the last
        /// row, and the rows without a time.
        to: Option<NaiveDateTime>,
        /// The stored rows written.
        rows: u64,
    },
    /// Nothing to read: the entry's range ends before its watermark less the lookback.
    UpToDate,
    /// The entry was deleted, for this reason (its specs changed, ...).
    Dropped(String),
}

impl Store {
    /// Opens the store at `dir`, creating the directory when it does not exist.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Store> {
        let store = Store::at(dir);
        fs::create_dir_all(&store.dir).map_err(|source| Error::Io {
            path: store.dir.clone(),
            source,
        })?;
        Ok(store)
    }

    /// The store at `dir`, whose directory is created when first written.
    pub(crate) fn at(dir: impl Into<PathBuf>) -> Store {
        Store {
            dir: dir.into(),
            lookback: chrono::Duration::days(1),
            source_lookbacks: Vec::new(),
        }
    }

    /// How far before its watermark a refresh reads every source again, for rows that arrive
    /// late (one day unless set). It replaces the lookbacks of single sources.
    pub fn with_lookback(mut self, lookback: std::time::Duration) -> Store {
        self.lookback = chrono::Duration::from_std(lookback).unwrap_or(chrono::Duration::MAX);
        self.source_lookbacks.clear();
        self
    }

    /// How far before its watermark a refresh reads one source again, the source as its specs
    /// write it (`postgres://public/orders`).
    ///
    /// ```
    /// use std::time::Duration;
    /// let store = aitaem::Store::open(tempfile::tempdir().unwrap().path().join("store"))
    ///     .unwrap()
    ///     .with_lookback(Duration::from_secs(3600))
    ///     .with_source_lookback("postgres://public/orders", Duration::from_secs(3 * 86400));
    /// assert_eq!(store.lookback_of("postgres://public/orders"), Duration::from_secs(3 * 86400));
    /// assert_eq!(store.lookback_of("duckdb://events"), Duration::from_secs(3600));
    /// ```
    pub fn with_source_lookback(
        mut self,
        source: impl Into<String>,
        lookback: std::time::Duration,
    ) -> Store {
        let source = source.into();
        let lookback = chrono::Duration::from_std(lookback).unwrap_or(chrono::Duration::MAX);
        self.source_lookbacks.retain(|(s, _)| *s != source);
        self.source_lookbacks.push((source, lookback));
        self
    }

    /// How far before its watermark a refresh reads `source` again.
    pub fn lookback_of(&self, source: &str) -> std::time::Duration {
        self.lookback_for(source).to_std().unwrap_or_default()
    }

    /// The same store settings, in another directory.
    pub(crate) fn at_dir(&self, dir: impl Into<PathBuf>) -> Store {
        Store {
            dir: dir.into(),
            ..self.clone()
        }
    }

    /// The store's directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn lookback_for(&self, source: &str) -> chrono::Duration {
        self.source_lookbacks
            .iter()
            .find(|(s, _)| s == source)
            .map_or(self.lookback, |&(_, lookback)| lookback)
    }

    /// Every entry, by source.
    pub fn status(&self) -> Result<Vec<StoredEntry>> {
        let mut entries: Vec<StoredEntry> = self
            .entries()?
            .into_iter()
            .map(|(_, m)| m.status())
            .collect();
        entries.sort_by(|a, b| (&a.source, &a.metrics).cmp(&(&b.source, &b.metrics)));
        Ok(entries)
    }

    /// Deletes every entry, or those of one source (as its specs write it); returns how many.
    pub fn clear(&self, source: Option<&str>) -> Result<usize> {
        let _lock = self.lock()?;
        let mut cleared = 0;
        for (dir, manifest) in self.entries()? {
            if source.is_none_or(|s| s == manifest.source) {
                files::remove_dir(&dir)?;
                cleared += 1;
            }
        }
        Ok(cleared)
    }

    /// Every readable entry with its directory. An entry whose manifest cannot be read (written
    /// by another version, or damaged) is skipped: it only costs speed.
    pub(crate) fn entries(&self) -> Result<Vec<(PathBuf, Manifest)>> {
        let listing = match fs::read_dir(&self.dir) {
            Ok(listing) => listing,
            // Deleted since it was opened: empty until written again.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(Error::Io {
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut entries = Vec::new();
        for item in listing.flatten() {
            let dir = item.path();
            if !dir.is_dir() {
                continue;
            }
            if let Some(manifest) = Manifest::read(&dir) {
                entries.push((dir, manifest));
            }
        }
        Ok(entries)
    }

    /// The directory of the entry with this key.
    pub(crate) fn entry_dir(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }

    /// The writers' lock, held until dropped.
    pub(crate) fn lock(&self) -> Result<fs::File> {
        fs::create_dir_all(&self.dir).map_err(|source| Error::Io {
            path: self.dir.clone(),
            source,
        })?;
        let path = self.dir.join("store.lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
        file.lock().map_err(|source| Error::Io { path, source })?;
        Ok(file)
    }
}
