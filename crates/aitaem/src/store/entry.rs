//! An entry's manifest: what it holds and where.

use std::path::Path;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::StoredEntry;
use super::files;
use crate::error::Result;
use crate::request::Reach;

/// The manifest format this build reads and writes; others are skipped.
const FORMAT: u32 = 1;

const TIME: &str = "%Y-%m-%d %H:%M:%S";

/// A time as a manifest writes it: the bounds of all time as `-infinity` and `infinity`.
pub(crate) fn time_text(t: NaiveDateTime) -> String {
    match t {
        Reach::OPEN_START => "-infinity".to_string(),
        Reach::OPEN_END => "infinity".to_string(),
        t => t.format(TIME).to_string(),
    }
}

/// A range's bounds as the public API gives them: `None` where it is open.
pub(crate) fn bounded(
    (start, end): (NaiveDateTime, NaiveDateTime),
) -> (Option<NaiveDateTime>, Option<NaiveDateTime>) {
    (
        (start != Reach::OPEN_START).then_some(start),
        (end != Reach::OPEN_END).then_some(end),
    )
}

fn parse_time(text: &str) -> Option<NaiveDateTime> {
    match text {
        "-infinity" => Some(Reach::OPEN_START),
        "infinity" => Some(Reach::OPEN_END),
        text => NaiveDateTime::parse_from_str(text, TIME).ok(),
    }
}

/// What an entry holds. Its rows are those of the populating statement (see
/// `plan::stored`): `__state`, `__period`, `__entity` (when by entity), `slice_value`,
/// `segment_value` and the partial aggregates `__p0`, `__p1`, ...
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Manifest {
    format: u32,
    /// The fingerprint of everything every row depends on but the states and partials: the
    /// connection, the table, the timestamp column, the entity and the filters.
    pub identity: String,
    pub source: String,
    pub backend: String,
    pub metrics: Vec<String>,
    pub grain: String,
    /// The fingerprint of each state, by `__state`.
    pub states: Vec<String>,
    /// The fingerprint of each partial aggregate, by column (`__p{i}`).
    pub partials: Vec<String>,
    /// The `[start, end)` ranges of the source's time column that were read.
    ranges: Vec<(String, String)>,
    /// The start of the latest period with rows.
    watermark: Option<String>,
    pub files: Vec<StoredFile>,
    /// The request that populates it, to read a range again (see [`StoredRequest`]).
    pub request: StoredRequest,
    /// When it was last written, UTC.
    refreshed: String,
}

/// A file of an entry, whose rows count for the periods in `[from, to)` (either end open).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredFile {
    pub name: String,
    from: Option<String>,
    to: Option<String>,
    pub rows: u64,
    pub bytes: u64,
}

impl StoredFile {
    pub(crate) fn new(name: String, from: Option<NaiveDateTime>, rows: u64, bytes: u64) -> Self {
        StoredFile {
            name,
            from: from.map(time_text),
            to: None,
            rows,
            bytes,
        }
    }

    /// The periods whose rows it holds: `[from, to)`.
    pub(crate) fn valid(&self) -> (Option<NaiveDateTime>, Option<NaiveDateTime>) {
        (
            self.from.as_deref().and_then(parse_time),
            self.to.as_deref().and_then(parse_time),
        )
    }
}

/// The request an entry was populated by, in the words of a [`crate::ComputeRequest`]: the
/// metrics of one statement, its slices, segment, entity and filters, per day or hour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StoredRequest {
    pub metrics: Vec<String>,
    pub slices: Vec<String>,
    pub segment: Option<(String, String)>,
    pub by_entity: Option<String>,
    pub filters: Vec<String>,
    pub period: String,
}

impl StoredRequest {
    /// The request, over the window `[from, to)`, or over all time.
    pub(crate) fn compute_request(
        &self,
        window: Option<(NaiveDateTime, NaiveDateTime)>,
    ) -> Result<crate::ComputeRequest> {
        let mut request = crate::ComputeRequest::new(self.metrics.iter().cloned())
            .slices(self.slices.iter().cloned());
        if let Some((from, to)) = window {
            request = request
                .time_window(time_text(from), time_text(to))
                .period(self.period.parse()?);
        }
        if let Some((segment, join_key)) = &self.segment {
            request = request.segment(segment.clone()).join_key(join_key.clone());
        }
        if let Some(entity) = &self.by_entity {
            request = request.by_entity(entity.clone());
        }
        for filter in &self.filters {
            request = request.filter(filter.clone());
        }
        Ok(request)
    }
}

/// Where a request's needs meet an entry.
pub(crate) struct Coverage {
    /// For each of the request's states, its `__state` in the entry.
    pub states: Vec<usize>,
    /// For each of the request's partial aggregates, its column in the entry.
    pub partials: Vec<usize>,
}

impl Manifest {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        identity: String,
        source: String,
        backend: String,
        grain: String,
        states: Vec<String>,
        partials: Vec<String>,
        ranges: &[(NaiveDateTime, NaiveDateTime)],
        request: StoredRequest,
    ) -> Manifest {
        Manifest {
            format: FORMAT,
            identity,
            source,
            backend,
            metrics: request.metrics.clone(),
            grain,
            states,
            partials,
            ranges: ranges
                .iter()
                .map(|&(a, b)| (time_text(a), time_text(b)))
                .collect(),
            watermark: None,
            files: Vec::new(),
            request,
            refreshed: String::new(),
        }
    }

    /// The manifest in `dir`, or `None` when there is none that this build reads.
    pub(crate) fn read(dir: &Path) -> Option<Manifest> {
        let text = std::fs::read(dir.join("manifest.json")).ok()?;
        let manifest: Manifest = serde_json::from_slice(&text).ok()?;
        (manifest.format == FORMAT).then_some(manifest)
    }

    /// Writes the manifest into `dir`, replacing the one there at once.
    pub(crate) fn write(&mut self, dir: &Path) -> Result<()> {
        self.refreshed = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| crate::error::Error::internal(format!("a store manifest: {e}")))?;
        files::write_atomically(&dir.join("manifest.json"), &text)
    }

    pub(crate) fn ranges(&self) -> Vec<(NaiveDateTime, NaiveDateTime)> {
        self.ranges
            .iter()
            .filter_map(|(a, b)| Some((parse_time(a)?, parse_time(b)?)))
            .collect()
    }

    pub(crate) fn watermark(&self) -> Option<NaiveDateTime> {
        self.watermark.as_deref().and_then(parse_time)
    }

    pub(crate) fn set_watermark(&mut self, watermark: Option<NaiveDateTime>) {
        if let Some(w) = watermark
            && self.watermark().is_none_or(|old| w > old)
        {
            self.watermark = Some(time_text(w));
        }
    }

    /// Replaces the rows of the periods from `from` on with those of `file` (none: no rows);
    /// returns the files no longer read.
    pub(crate) fn replace_from(
        &mut self,
        from: NaiveDateTime,
        file: Option<StoredFile>,
    ) -> Vec<StoredFile> {
        let mut unread = Vec::new();
        let mut kept = Vec::new();
        for mut old in self.files.drain(..) {
            let (old_from, old_to) = old.valid();
            if old_from.unwrap_or(NaiveDateTime::MIN) >= from {
                unread.push(old);
                continue;
            }
            if old_to.is_none_or(|to| to > from) {
                old.to = Some(time_text(from));
            }
            kept.push(old);
        }
        kept.extend(file);
        self.files = kept;
        unread
    }

    /// Where the request's states and partial aggregates are in this entry, when it holds all
    /// of them and has read every range the request needs.
    pub(crate) fn covers(
        &self,
        states: &[String],
        partials: &[String],
        needs: &[(NaiveDateTime, NaiveDateTime)],
    ) -> Option<Coverage> {
        let ranges = self.ranges();
        let read = |&(start, end): &(NaiveDateTime, NaiveDateTime)| {
            ranges.iter().any(|&(a, b)| a <= start && end <= b)
        };
        if !needs.iter().all(read) {
            return None;
        }
        let find = |have: &[String], want: &String| have.iter().position(|h| h == want);
        Some(Coverage {
            states: states
                .iter()
                .map(|s| find(&self.states, s))
                .collect::<Option<_>>()?,
            partials: partials
                .iter()
                .map(|p| find(&self.partials, p))
                .collect::<Option<_>>()?,
        })
    }

    pub(crate) fn status(&self) -> StoredEntry {
        StoredEntry {
            source: self.source.clone(),
            backend: self.backend.clone(),
            metrics: self.metrics.clone(),
            grain: self.grain.clone(),
            ranges: self.ranges().into_iter().map(bounded).collect(),
            watermark: self.watermark(),
            rows: self.files.iter().map(|f| f.rows).sum(),
            bytes: self.files.iter().map(|f| f.bytes).sum(),
            refreshed: self.refreshed.clone(),
        }
    }
}
