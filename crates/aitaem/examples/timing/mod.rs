//! What the benchmark's timing programs (`run_sql`, `compute_warm`) share: their flags, the
//! timing of repeated runs, the CSV of the result, and the JSON they print.

// Each program compiles this module on its own and uses part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::error::Error;
use std::time::Instant;

use aitaem::result::{OutputFormat, write};
use duckdb::arrow::record_batch::RecordBatch;

/// `--name value` pairs from the command line. `usage` is the error for a missing `required`
/// flag; a flag outside `required` and `optional` is an error.
pub fn flags(
    usage: &str,
    required: &[&str],
    optional: &[&str],
) -> Result<HashMap<String, String>, Box<dyn Error>> {
    let mut values = HashMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let name = arg.strip_prefix("--").unwrap_or(&arg);
        if !required.contains(&name) && !optional.contains(&name) {
            return Err(format!("unknown argument {arg}; {usage}").into());
        }
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        values.insert(name.to_string(), value);
    }
    if required.iter().any(|r| !values.contains_key(*r)) {
        return Err(usage.into());
    }
    Ok(values)
}

/// A first run and the warm runs after it, in seconds.
pub struct Timings {
    pub first: f64,
    /// When the first run finished.
    pub first_finished: Instant,
    pub warm: Vec<f64>,
}

impl Timings {
    /// Runs `run` once, keeping its result, then `runs` more times.
    pub fn measure<T, E>(
        runs: usize,
        mut run: impl FnMut() -> Result<T, E>,
    ) -> Result<(Timings, T), E> {
        let t = Instant::now();
        let first_result = run()?;
        let first_finished = Instant::now();
        let first = (first_finished - t).as_secs_f64();
        let mut warm = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            run()?;
            warm.push(t.elapsed().as_secs_f64());
        }
        Ok((
            Timings {
                first,
                first_finished,
                warm,
            },
            first_result,
        ))
    }

    /// The median warm run, or the first run without warm runs.
    pub fn median(&self) -> f64 {
        let mut sorted = self.warm.clone();
        sorted.sort_by(f64::total_cmp);
        sorted.get(sorted.len() / 2).copied().unwrap_or(self.first)
    }

    /// `"first_run_s": …, "warm_runs_s": […], "warm_median_s": …`, for the printed object.
    pub fn json_fields(&self) -> String {
        let warm: Vec<String> = self.warm.iter().map(|t| format!("{t:.4}")).collect();
        format!(
            "\"first_run_s\": {:.4}, \"warm_runs_s\": [{}], \"warm_median_s\": {:.4}",
            self.first,
            warm.join(", "),
            self.median()
        )
    }
}

/// Writes `batches` as CSV to `path` when given; returns the seconds it took.
pub fn write_csv(batches: &[RecordBatch], path: Option<&String>) -> Result<f64, Box<dyn Error>> {
    let t = Instant::now();
    if let Some(path) = path {
        write(
            batches,
            OutputFormat::Csv,
            std::io::BufWriter::new(std::fs::File::create(path)?),
        )?;
    }
    Ok(t.elapsed().as_secs_f64())
}
