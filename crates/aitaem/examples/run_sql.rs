//! Runs one SQL statement repeatedly on a DuckDB database and reports the timings: the benchmark's
//! hand-written reference statements go through the same DuckDB build as `aitaem`.
//!
//! ```text
//! run_sql --db big.duckdb --sql w1.sql [--runs 3] [--out result.csv]
//! ```
//!
//! Prints one JSON object: the first run and the warm runs (execute + fetch to Arrow), their
//! median, and the number of rows. The first run's result is written as CSV with `--out`.

use std::path::PathBuf;
use std::time::Instant;

use aitaem::result::{OutputFormat, write};
use duckdb::arrow::record_batch::RecordBatch;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut db = None;
    let mut sql = None;
    let mut runs = 3usize;
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--db" => db = Some(PathBuf::from(value()?)),
            "--sql" => sql = Some(std::fs::read_to_string(value()?)?),
            "--runs" => runs = value()?.parse()?,
            "--out" => out = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let (Some(db), Some(sql)) = (db, sql) else {
        return Err("usage: run_sql --db FILE --sql FILE [--runs N] [--out CSV]".into());
    };
    let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly)?;
    let conn = duckdb::Connection::open_with_flags(&db, config)?;
    let run = || -> Result<(f64, Vec<RecordBatch>), duckdb::Error> {
        let t = Instant::now();
        let mut stmt = conn.prepare(&sql)?;
        let batches: Vec<RecordBatch> = stmt.query_arrow([])?.collect();
        Ok((t.elapsed().as_secs_f64(), batches))
    };
    let (first, batches) = run()?;
    let oneshot = started.elapsed().as_secs_f64();
    let mut warm = Vec::new();
    for _ in 0..runs {
        warm.push(run()?.0);
    }
    let mut sorted = warm.clone();
    sorted.sort_by(f64::total_cmp);
    let median = if sorted.is_empty() {
        first
    } else {
        sorted[sorted.len() / 2]
    };
    if let Some(path) = out {
        write(
            &batches,
            OutputFormat::Csv,
            std::io::BufWriter::new(std::fs::File::create(path)?),
        )?;
    }
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let warm: Vec<String> = warm.iter().map(|t| format!("{t:.4}")).collect();
    println!(
        "{{\"rows_out\": {rows}, \"oneshot_s\": {oneshot:.4}, \"first_run_s\": {first:.4}, \"warm_runs_s\": [{}], \"warm_median_s\": {median:.4}}}",
        warm.join(", ")
    );
    Ok(())
}
