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

mod timing;

use aitaem::ComputeRequest;
use aitaem::{ConnectionManager, MetricCompute, SpecCache};
use serde_json::Value;
use timing::{Timings, flags, write_csv};

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
    // The time options, when the workload has them.
    if let Some(day) = workload["week_start"].as_str() {
        request = request.week_start(day.parse()?);
    }
    if let Some(comparison) = workload["compare"].as_str() {
        request = request.compare(comparison.parse()?);
    }
    if let Some(n) = workload["rolling"].as_u64() {
        request = request.rolling(u32::try_from(n)?);
    }
    let flag = |name: &str| workload[name].as_bool().unwrap_or(false);
    Ok(request
        .fill_gaps(flag("fill_gaps"))
        .share(flag("share"))
        .cumulative(flag("cumulative")))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let flags = flags(
        "usage: compute_warm --specs DIR --connections FILE --workload JSON [--runs N] [--out CSV]",
        &["specs", "connections", "workload"],
        &["runs", "out"],
    )?;
    let workload: Value = serde_json::from_str(&flags["workload"])?;
    let runs: usize = flags.get("runs").map_or(Ok(3), |r| r.parse())?;
    let specs = SpecCache::from_project(&flags["specs"])?;
    let connections = ConnectionManager::from_yaml(&flags["connections"])?;
    let compute = MetricCompute::new(&specs, &connections);
    let request = request(&workload)?;
    let (timings, result) = Timings::measure(runs, || compute.compute(&request))?;
    let write_s = write_csv(result.batches(), flags.get("out"))?;
    println!(
        "{{\"rows_out\": {}, {}, \"write_s\": {write_s:.4}}}",
        result.num_rows(),
        timings.json_fields()
    );
    Ok(())
}
