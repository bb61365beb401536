//! Runs one SQL statement repeatedly on a DuckDB database and reports the timings: the benchmark's
//! hand-written reference statements go through the same DuckDB build as `aitaem`.
//!
//! ```text
//! run_sql --db big.duckdb --sql w1.sql [--runs 3] [--out result.csv]
//! ```
//!
//! Prints one JSON object: the first run and the warm runs (execute + fetch to Arrow), their
//! median, and the number of rows. The first run's result is written as CSV with `--out`.

mod timing;

use std::time::Instant;

use aitaem::result::num_rows;
use duckdb::arrow::record_batch::RecordBatch;
use timing::{Timings, flags, write_csv};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let flags = flags(
        "usage: run_sql --db FILE --sql FILE [--runs N] [--out CSV]",
        &["db", "sql"],
        &["runs", "out"],
    )?;
    let sql = std::fs::read_to_string(&flags["sql"])?;
    let runs: usize = flags.get("runs").map_or(Ok(3), |r| r.parse())?;
    let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly)?;
    let conn = duckdb::Connection::open_with_flags(&flags["db"], config)?;
    let run = || -> Result<Vec<RecordBatch>, duckdb::Error> {
        let mut stmt = conn.prepare(&sql)?;
        Ok(stmt.query_arrow([])?.collect())
    };
    let (timings, batches) = Timings::measure(runs, run)?;
    let oneshot = (timings.first_finished - started).as_secs_f64();
    write_csv(&batches, flags.get("out"))?;
    println!(
        "{{\"rows_out\": {}, \"oneshot_s\": {oneshot:.4}, {}}}",
        num_rows(&batches),
        timings.json_fields()
    );
    Ok(())
}
