//! Computing with a result store: a statement the store can answer is served from an entry
//! that covers it, or populated from the source, kept, and served (see `plan::stored`).

use std::sync::OnceLock;
use std::time::Duration;

use arrow::array::{Array, TimestampMicrosecondArray};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use chrono::NaiveDateTime;

use crate::backend::Backend;
use crate::backend::duckdb::client::DuckDb;
use crate::cancel::Cancel;
use crate::config::AccessMode;
use crate::config::paths::PathResolver;
use crate::connect::ConnectionManager;
use crate::error::{Error, Result};
use crate::period::TimeUnit;
use crate::plan::PlannedStatement;
use crate::plan::stored::{ServedFile, StoredPlan, fingerprint};
use crate::request::Reach;
use crate::store::{self, Manifest, RefreshOutcome, Store, StoreRefresh, StoredFile, answers};

/// The DuckDB database that serves stored rows: in memory, opened on first use.
#[derive(Default)]
pub(super) struct Engine(OnceLock<std::result::Result<DuckDb, String>>);

impl Engine {
    fn get(&self) -> Result<&DuckDb> {
        self.0
            .get_or_init(|| {
                DuckDb::open(
                    ":memory:",
                    AccessMode::ReadWrite,
                    Duration::ZERO,
                    PathResolver::new(None),
                )
                .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| Error::internal(format!("the result store's engine: {e}")))
    }
}

/// Runs a serving statement: on the source's own DuckDB when the source is on DuckDB (which
/// reads the stored files as well, and is open already), else on the engine.
fn serve(
    engine: &Engine,
    connections: &ConnectionManager,
    statement: &PlannedStatement,
    sql: &str,
    cancel: &Cancel,
) -> Result<std::result::Result<Vec<RecordBatch>, crate::error::BackendError>> {
    match statement.backend() == crate::BackendKind::DUCKDB {
        true => connections.query(crate::BackendKind::DUCKDB, sql, cancel),
        false => Ok(engine.get()?.query(sql, cancel)),
    }
}

/// The statement's wide rows, from the store, and what the user should know about it.
pub(super) fn run(
    store: &Store,
    engine: &Engine,
    connections: &ConnectionManager,
    statement: &PlannedStatement,
    stored: &StoredPlan,
    cancel: &Cancel,
) -> Result<(Vec<RecordBatch>, String)> {
    let what = format!(
        "{} on {}",
        statement.metrics().join(", "),
        statement.source()
    );
    let identity = identity(connections, statement, stored);
    let mut why_not = None;
    let answered = format!("{what}: answered from the result store");
    for (dir, manifest, coverage) in covering(store, &identity, stored)? {
        let sql = stored.serve_sql(&files(&dir, &manifest), &coverage, &statement.layout);
        if let Some(batches) = answers::read(&dir, &sql) {
            return Ok((batches, answered));
        }
        match serve(engine, connections, statement, &sql, cancel)? {
            Ok(batches) => {
                answers::keep(&dir, &sql, &batches);
                return Ok((batches, answered));
            }
            Err(e) if cancel.is_cancelled() => return Err(super::execution_error(statement, e)),
            Err(e) => why_not = Some(e.to_string()),
        }
    }
    let rows = connections
        .query(statement.backend(), &stored.populate, cancel)?
        .map_err(|source| super::execution_error(statement, source))?;
    let (dir, manifest) = keep(store, statement, stored, &identity, &rows)?;
    let coverage = manifest
        .covers(&stored.states, &stored.partials, &stored.needs)
        .ok_or_else(|| Error::internal("a stored entry does not cover its own request"))?;
    let sql = stored.serve_sql(&files(&dir, &manifest), &coverage, &statement.layout);
    let batches = serve(engine, connections, statement, &sql, cancel)?.map_err(|e| match cancel
        .is_cancelled()
    {
        true => super::execution_error(statement, e),
        false => Error::internal(format!("the result store's statement failed: {e}")),
    })?;
    answers::keep(&dir, &sql, &batches);
    let mut notice = format!("{what}: read from the source and kept in the result store");
    if let Some(reason) = why_not {
        notice.push_str(&format!(" (a stored entry could not answer: {reason})"));
    }
    Ok((batches, notice))
}

/// The entries that hold everything the statement needs, with where: those of its own grain
/// first, then hourly ones (which answer daily requests too).
fn covering(
    store: &Store,
    identity: &str,
    stored: &StoredPlan,
) -> Result<Vec<(std::path::PathBuf, Manifest, crate::store::Coverage)>> {
    let mut covering: Vec<_> = store
        .entries()?
        .into_iter()
        .filter(|(_, manifest)| {
            manifest.identity == identity
                && (manifest.grain == stored.grain || manifest.grain == TimeUnit::Hour.word())
        })
        .filter_map(|(dir, manifest)| {
            let coverage = manifest.covers(&stored.states, &stored.partials, &stored.needs)?;
            Some((dir, manifest, coverage))
        })
        .collect();
    covering.sort_by_key(|(_, manifest, _)| manifest.grain != stored.grain);
    Ok(covering)
}

/// How the store would take part in a statement, in words, with the statement that would run.
pub(super) fn describe(
    store: &Store,
    connections: &ConnectionManager,
    statement: &PlannedStatement,
) -> Result<String> {
    let stored = match &statement.stored {
        Some(Ok(stored)) => stored,
        Some(Err(reason)) => return Ok(format!("not from the result store: {reason}")),
        None => return Ok("no result store".to_string()),
    };
    let identity = identity(connections, statement, stored);
    Ok(
        match covering(store, &identity, stored)?.into_iter().next() {
            Some((dir, manifest, coverage)) => {
                let sql = stored.serve_sql(&files(&dir, &manifest), &coverage, &statement.layout);
                let how = match answers::has(&dir, &sql) {
                    true => "its rows, kept when it last ran",
                    false => "on DuckDB",
                };
                format!(
                    "answered from the result store ({}), with no statement on the source; {how}:\n{sql}",
                    dir.display(),
                )
            }
            None => format!(
                "not in the result store yet: the source is read per {} and kept, with:\n{}",
                stored.grain, stored.populate
            ),
        },
    )
}

/// The identity of the statement's entries: the plan's, with the connection's settings.
fn identity(
    connections: &ConnectionManager,
    statement: &PlannedStatement,
    stored: &StoredPlan,
) -> String {
    let settings = format!("{:?}", connections.connection_config(statement.backend()));
    fingerprint(&[stored.identity.clone(), settings])
}

fn files(dir: &std::path::Path, manifest: &Manifest) -> Vec<ServedFile> {
    manifest
        .files
        .iter()
        .map(|f| {
            let (from, to) = f.valid();
            ServedFile {
                path: dir.join(&f.name),
                from,
                to,
            }
        })
        .collect()
}

/// Keeps a populating statement's rows as a new entry (or finds the entry another process
/// kept meanwhile); returns its directory and manifest.
fn keep(
    store: &Store,
    statement: &PlannedStatement,
    stored: &StoredPlan,
    identity: &str,
    rows: &[RecordBatch],
) -> Result<(std::path::PathBuf, Manifest)> {
    let mut key = vec![identity.to_string(), stored.grain.to_string()];
    key.extend(stored.states.iter().cloned());
    key.extend(stored.partials.iter().cloned());
    key.extend(stored.needs.iter().map(|(a, b)| format!("{a}/{b}")));
    let dir = store.entry_dir(&fingerprint(&key));
    let _lock = store.lock()?;
    if let Some(manifest) = Manifest::read(&dir) {
        return Ok((dir, manifest));
    }
    let mut manifest = Manifest::new(
        identity.to_string(),
        statement.source().to_string(),
        statement.backend().to_string(),
        stored.grain.to_string(),
        stored.states.clone(),
        stored.partials.clone(),
        &stored.needs,
        stored.request.clone(),
    );
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
        path: dir.clone(),
        source,
    })?;
    manifest.replace_from(NaiveDateTime::MIN, written(&dir, rows, None)?);
    manifest.set_watermark(latest_period(rows));
    manifest.write(&dir)?;
    Ok((dir, manifest))
}

/// Populated rows written as a file of `dir` that answers for the periods from `from` on; `None`
/// when there are no rows.
fn written(
    dir: &std::path::Path,
    rows: &[RecordBatch],
    from: Option<NaiveDateTime>,
) -> Result<Option<StoredFile>> {
    if rows.iter().all(|b| b.num_rows() == 0) {
        return Ok(None);
    }
    let (name, count, bytes) = store::write_parquet(dir, rows)?;
    Ok(Some(StoredFile::new(name, from, count, bytes)))
}

/// The latest `__period` of populated rows.
pub(super) fn latest_period(rows: &[RecordBatch]) -> Option<NaiveDateTime> {
    let mut latest: Option<NaiveDateTime> = None;
    for batch in rows {
        let column = batch.column_by_name("__period")?;
        let micros = arrow::compute::cast(
            column,
            &DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, None),
        )
        .ok()?;
        let micros = micros
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()?;
        if let Some(max) = arrow::compute::max(micros)
            && let Some(t) = chrono::DateTime::from_timestamp_micros(max)
        {
            let t = t.naive_utc();
            latest = Some(latest.map_or(t, |l| l.max(t)));
        }
    }
    latest
}

/// Reads each entry's source again from its watermark less the store's lookback (or from its
/// start, when it has no rows), and replaces the stored rows of those periods. An entry whose
/// specs or connection changed is deleted.
pub(super) fn refresh(
    specs: &crate::spec::SpecCache,
    connections: &ConnectionManager,
    store: &Store,
    source: Option<&str>,
    cancel: &Cancel,
) -> Result<Vec<StoreRefresh>> {
    let mut refreshed = Vec::new();
    for (dir, manifest) in store.entries()? {
        if source.is_some_and(|s| s != manifest.source) {
            continue;
        }
        let outcome = refresh_entry(specs, connections, store, &dir, &manifest, cancel)?;
        refreshed.push(StoreRefresh {
            source: manifest.source.clone(),
            metrics: manifest.metrics.clone(),
            outcome,
        });
    }
    Ok(refreshed)
}

fn refresh_entry(
    specs: &crate::spec::SpecCache,
    connections: &ConnectionManager,
    store: &Store,
    dir: &std::path::Path,
    manifest: &Manifest,
    cancel: &Cancel,
) -> Result<RefreshOutcome> {
    let ranges = manifest.ranges();
    let (Some(&(start, _)), Some(&(_, end))) = (ranges.first(), ranges.last()) else {
        return Ok(RefreshOutcome::UpToDate);
    };
    let grain = match manifest.grain == TimeUnit::Hour.word() {
        true => TimeUnit::Hour,
        false => TimeUnit::Day,
    };
    let from = match manifest.watermark() {
        Some(watermark) => {
            let back = watermark
                .checked_sub_signed(store.lookback_for(&manifest.source))
                .unwrap_or(NaiveDateTime::MIN);
            crate::period::truncate(back, grain).max(start)
        }
        None => start,
    };
    if from >= end {
        return Ok(RefreshOutcome::UpToDate);
    }
    let drop = |reason: String| -> Result<RefreshOutcome> {
        let _lock = store.lock()?;
        store::remove_dir(dir)?;
        Ok(RefreshOutcome::Dropped(reason))
    };
    // An all-time entry reads on from `from` (with the rows without a time), a windowed one
    // to the end of its window.
    let all_time = end == Reach::OPEN_END;
    let checked = manifest
        .request
        .compute_request((!all_time).then_some((from, end)))
        .and_then(|request| request.check(specs));
    let mut checked = match checked {
        Ok(checked) => checked,
        Err(e) => return drop(format!("its request no longer fits the specs: {e}")),
    };
    if all_time {
        checked.refresh_from = Some(from);
    }
    // A source that cannot be read now is an error; the entry stays.
    let plan = crate::plan::plan_checked(&checked, connections, true)?;
    let found = plan
        .statements()
        .iter()
        .find_map(|statement| match &statement.stored {
            Some(Ok(stored))
                if identity(connections, statement, stored) == manifest.identity
                    && stored.grain == manifest.grain
                    && stored.states == manifest.states
                    && stored.partials == manifest.partials =>
            {
                Some((statement, stored))
            }
            _ => None,
        });
    let Some((statement, stored)) = found else {
        return drop("its specs or connection changed since it was kept".to_string());
    };
    let rows = connections
        .query(statement.backend(), &stored.populate, cancel)?
        .map_err(|source| super::execution_error(statement, source))?;
    let _lock = store.lock()?;
    // Another process may have written the entry meanwhile.
    let mut manifest = Manifest::read(dir).unwrap_or_else(|| manifest.clone());
    let file = written(dir, &rows, Some(from))?;
    let count = file.as_ref().map_or(0, |f| f.rows);
    let unread = manifest.replace_from(from, file);
    manifest.set_watermark(latest_period(&rows));
    manifest.write(dir)?;
    answers::clear(dir);
    for file in unread {
        store::remove_file(&dir.join(&file.name));
    }
    let (from, to) = store::bounded((from, end));
    Ok(RefreshOutcome::Read {
        from,
        to,
        rows: count,
    })
}
