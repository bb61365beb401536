//! What the commands print, other than results and errors.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aitaem::duckdb::{LoadEvent, LoadOptions};
use aitaem::scan::ScanResult;
use aitaem::{Column, Error, RefreshOutcome, SpecCache, SpecKind, StoreRefresh, StoredEntry};
use indicatif::{ProgressBar, ProgressStyle};

/// One line per spec kind: how many, and their names.
pub fn summary(cache: &SpecCache) {
    let line = |kind: &str, names: Vec<&str>| {
        let list = if names.is_empty() {
            String::new()
        } else {
            format!(": {}", names.join(", "))
        };
        println!("{} {kind}{list}", names.len());
    };
    line(
        "metrics",
        cache.metrics().map(|m| m.name.as_str()).collect(),
    );
    for metric in cache.metrics() {
        if let Some(expression) = metric.expression() {
            println!("  {} = {expression}  (derived)", metric.name);
        }
    }
    line("slices", cache.slices().map(|s| s.name.as_str()).collect());
    line(
        "segments",
        cache.segments().map(|s| s.name.as_str()).collect(),
    );
    println!("all specs are valid");
}

/// A text table with a header row, columns padded to their widest cell.
fn table(header: &[String], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain(std::iter::once(header[i].chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let print = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    print(header);
    for row in rows {
        print(row);
    }
}

/// The compatibility matrix (metrics × slices, metrics × segments), then the reasons for every
/// incompatible pair.
pub fn scan(cache: &SpecCache, scan: &ScanResult) {
    let metrics: Vec<&str> = cache.metrics().map(|m| m.name.as_str()).collect();
    for (kind, title) in [(SpecKind::Slice, "slices"), (SpecKind::Segment, "segments")] {
        let specs: Vec<String> = match kind {
            SpecKind::Slice => cache.slices().map(|s| s.name.clone()).collect(),
            _ => cache.segments().map(|s| s.name.clone()).collect(),
        };
        if specs.is_empty() {
            continue;
        }
        let mut header = vec![format!("metric \\ {title}")];
        header.extend(specs.iter().cloned());
        let rows: Vec<Vec<String>> = metrics
            .iter()
            .map(|metric| {
                // A derived metric shows its inputs: it fits where all of them do.
                let label = match cache.metric(metric).ok().and_then(|m| m.expression()) {
                    Some(expression) => format!("{metric} = {expression}"),
                    None => metric.to_string(),
                };
                let mut row = vec![label];
                for spec in &specs {
                    let entry = scan.entries.iter().find(|e| {
                        e.metric_name == *metric && e.spec_name == *spec && e.spec_type == kind
                    });
                    row.push(match entry {
                        Some(e) if e.compatible => "yes".into(),
                        _ => "no".into(),
                    });
                }
                row
            })
            .collect();
        table(&header, &rows);
        println!();
    }
    let incompatible: Vec<_> = scan.entries.iter().filter(|e| !e.compatible).collect();
    if incompatible.is_empty() {
        println!("every metric fits every slice and segment");
    } else {
        println!("incompatible:");
        for e in incompatible {
            println!(
                "  {} x {} ({}): {}",
                e.metric_name,
                e.spec_name,
                e.spec_type,
                e.reason.as_deref().unwrap_or_default()
            );
        }
    }
}

/// `1.5 GB`-style sizes.
pub fn bytes(bytes: u64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

/// A range of time a store has read, in words.
fn range(from: Option<impl std::fmt::Display>, to: Option<impl std::fmt::Display>) -> String {
    match (from, to) {
        (None, None) => "all time".to_string(),
        (Some(from), None) => format!("{from} on, and rows without a time"),
        (None, Some(to)) => format!("until {to}"),
        (Some(from), Some(to)) => format!("{from} to {to}"),
    }
}

/// What a result store holds, an entry per row.
pub fn store_status(entries: &[StoredEntry]) {
    if entries.is_empty() {
        println!("the store is empty");
        return;
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let ranges: Vec<String> = e.ranges.iter().map(|&(a, b)| range(a, b)).collect();
            vec![
                e.source.clone(),
                e.metrics.join(", "),
                e.grain.clone(),
                ranges.join("; "),
                e.watermark.map(|w| w.to_string()).unwrap_or_default(),
                e.rows.to_string(),
                bytes(e.bytes),
                e.refreshed.clone(),
            ]
        })
        .collect();
    let header = [
        "source",
        "metrics",
        "grain",
        "read",
        "latest period",
        "rows",
        "size",
        "refreshed (UTC)",
    ];
    table(&header.map(String::from), &rows);
}

/// What a refresh did, an entry per line (on standard error).
pub fn refreshed(refreshed: &[StoreRefresh]) {
    for r in refreshed {
        let what = format!("{} ({})", r.source, r.metrics.join(", "));
        match &r.outcome {
            RefreshOutcome::Read { from, to, rows } => {
                let read = range(*from, *to);
                eprintln!("refreshed {what}: read {read}, {rows} stored rows")
            }
            RefreshOutcome::UpToDate => eprintln!("{what}: nothing to read"),
            RefreshOutcome::Dropped(reason) => eprintln!("dropped {what}: {reason}"),
            _ => eprintln!("{what}: {:?}", r.outcome),
        }
    }
}

/// A source's columns.
pub fn columns(columns: &[Column]) {
    let rows: Vec<Vec<String>> = columns
        .iter()
        .map(|c| vec![c.name.clone(), c.data_type.clone()])
        .collect();
    table(&["column".into(), "type".into()], &rows);
}

/// A progress bar per file while CSV files load (on a terminal only: the share of the file
/// read and the rows so far), and a line per table loaded.
pub struct LoadProgress {
    interactive: bool,
    current: Option<(ProgressBar, Arc<AtomicBool>)>,
}

impl LoadProgress {
    pub fn new() -> LoadProgress {
        LoadProgress {
            interactive: std::io::stderr().is_terminal(),
            current: None,
        }
    }

    /// Shows a load's event.
    pub fn event(&mut self, event: LoadEvent) {
        match event {
            LoadEvent::Started {
                file,
                table,
                bytes,
                progress,
            } => {
                self.finish();
                if !self.interactive {
                    return;
                }
                let bar = ProgressBar::new(100);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {msg} [{bar:30}] {pos}% {prefix} ({elapsed})",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                bar.set_message(format!(
                    "{} ({:.1} MB) -> {table}",
                    file.display(),
                    bytes as f64 / 1e6
                ));
                bar.enable_steady_tick(Duration::from_millis(100));
                let done = Arc::new(AtomicBool::new(false));
                let (poll_bar, poll_done) = (bar.clone(), done.clone());
                std::thread::spawn(move || {
                    while !poll_done.load(Ordering::Relaxed) {
                        let now = progress.query_progress();
                        if let Some(pct) = now.percentage() {
                            poll_bar.set_position(pct.clamp(0.0, 100.0) as u64);
                        }
                        if now.rows_processed() > 0 {
                            poll_bar.set_prefix(format!("{} rows", now.rows_processed()));
                        }
                        std::thread::sleep(Duration::from_millis(200));
                    }
                });
                self.current = Some((bar, done));
            }
            LoadEvent::Finished { table, rows } => {
                self.finish();
                eprintln!("loaded {rows} rows into {table}");
            }
            _ => {}
        }
    }

    /// Removes the current bar.
    pub fn finish(&mut self) {
        if let Some((bar, done)) = self.current.take() {
            done.store(true, Ordering::Relaxed);
            bar.finish_and_clear();
        }
    }
}

/// Loads CSVs with a progress bar per file on a terminal, and a line per table.
pub fn load_csv(path: &Path, db: &Path, options: LoadOptions) -> Result<(), Error> {
    let mut progress = LoadProgress::new();
    let result = aitaem::duckdb::load_csvs(path, db, options, |event| progress.event(event));
    progress.finish();
    let (_, tables) = result?;
    println!(
        "{} table(s) in {}: {}",
        tables.len(),
        db.display(),
        tables
            .iter()
            .map(|t| t.table.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// Creates a project from CSV files, and says what is in it and what to run next.
pub fn init(dir: &Path, csvs: &[PathBuf]) -> Result<(), Error> {
    let mut progress = LoadProgress::new();
    let made = aitaem::duckdb::init_project(dir, csvs, |event| progress.event(event));
    progress.finish();
    let made = made?;
    let shown = dir.display();
    println!("created a project in {shown}:");
    println!(
        "  connections.yaml  DuckDB database {}",
        aitaem::duckdb::INIT_DATABASE
    );
    for table in &made.tables {
        println!(
            "  {:<16}  table {} ({} rows)",
            aitaem::duckdb::INIT_DATABASE,
            table.table,
            table.rows
        );
    }
    println!("  metrics/          {}", made.metrics.join(", "));
    if made.slices.is_empty() {
        println!("  slices/           none (no text column with 2 to 50 values)");
    } else {
        println!("  slices/           {}", made.slices.join(", "));
    }
    let metric = made
        .metrics
        .iter()
        .find(|m| !m.ends_with("_rows"))
        .unwrap_or(&made.metrics[0]);
    let slice = made
        .slices
        .first()
        .map(|s| format!(" --slice {s}"))
        .unwrap_or_default();
    println!("\nnext:");
    match &made.time {
        Some((_, column, from, to)) => {
            println!(
                "  aitaem compute {metric} --specs {shown}{slice} --time-window {from},{to} --period monthly --plot {}",
                dir.join("chart.png").display()
            );
            println!("  (periods use `{column}`; edit the specs in {shown} to change them)");
        }
        None => println!("  aitaem compute {metric} --specs {shown}{slice}"),
    }
    Ok(())
}
