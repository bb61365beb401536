//! Times `MetricCompute::compute` repeatedly in one process, for the benchmark's warm
//! comparison with the original library and the hand-written statements (which are timed the
//! same way: execution and fetch to Arrow, after a first run).
//!
//! ```text
//! compute_warm --specs DIR --connections FILE --workload JSON [--runs 3] [--out result.csv]
//! ```
//!
//! `JSON` is one workload object of `bench/workloads.json`. Prints one JSON object with the first
//! run, the warm runs, their median, the rows, and the time to write the result as CSV.

use std::path::PathBuf;
use std::time::Instant;

use aitaem::request::ComputeRequest;
use aitaem::result::{OutputFormat, write};
use aitaem::{ConnectionManager, MetricCompute, SpecCache};
use serde_json::Value;

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn request(workload: &Value) -> Result<ComputeRequest, Box<dyn std::error::Error>> {
    let mut request = ComputeRequest::new(strings(&workload["metrics"]))
        .slices(strings(&workload["slices"]))
        .period(
            workload["period_type"]
                .as_str()
                .unwrap_or("all_time")
                .parse()?,
        );
    if let Some(segment) = workload["segments"].as_str() {
        request = request.segment(segment);
    }
    if let [start, end] = strings(&workload["time_window"]).as_slice() {
        request = request.time_window(start, end);
    }
    if let Some(entity) = workload["by_entity"].as_str() {
        request = request.by_entity(entity);
    }
    Ok(request)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut specs, mut connections, mut workload) = (None, None, None);
    let mut runs = 3usize;
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--specs" => specs = Some(value()?),
            "--connections" => connections = Some(value()?),
            "--workload" => workload = Some(serde_json::from_str::<Value>(&value()?)?),
            "--runs" => runs = value()?.parse()?,
            "--out" => out = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let (Some(specs), Some(connections), Some(workload)) = (specs, connections, workload) else {
        return Err("usage: compute_warm --specs DIR --connections FILE --workload JSON [--runs N] [--out CSV]".into());
    };
    let specs = SpecCache::from_project(specs)?;
    let connections = ConnectionManager::from_yaml(connections)?;
    let compute = MetricCompute::new(&specs, &connections);
    let request = request(&workload)?;
    let started = Instant::now();
    let result = compute.compute(&request)?;
    let first = started.elapsed().as_secs_f64();
    let mut warm = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        compute.compute(&request)?;
        warm.push(t.elapsed().as_secs_f64());
    }
    let mut sorted = warm.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(first);
    let t = Instant::now();
    if let Some(path) = out {
        write(
            &result.batches,
            OutputFormat::Csv,
            std::io::BufWriter::new(std::fs::File::create(path)?),
        )?;
    }
    let write_s = t.elapsed().as_secs_f64();
    let warm: Vec<String> = warm.iter().map(|t| format!("{t:.4}")).collect();
    println!(
        "{{\"rows_out\": {}, \"first_run_s\": {first:.4}, \"warm_runs_s\": [{}], \"warm_median_s\": {median:.4}, \"write_s\": {write_s:.4}}}",
        result.num_rows(),
        warm.join(", ")
    );
    Ok(())
}
