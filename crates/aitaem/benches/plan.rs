//! Planning cost: W1 of the benchmark (6 metrics x 5 slices x 1 segment) must plan in well
//! under 5 ms, and the cost must not grow out of proportion with the number of slices.
//!
//! `cargo bench -p aitaem --bench plan`

use std::path::Path;

use aitaem::ComputeRequest;
use aitaem::{ConnectionManager, MetricCompute, SpecCache};
use criterion::{Criterion, criterion_group, criterion_main};

fn w1() -> ComputeRequest {
    ComputeRequest::new([
        "revenue_total",
        "revenue_avg",
        "event_count",
        "ctr",
        "roas",
        "max_revenue",
    ])
    .slices([
        "campaign_type",
        "channel_group",
        "spend_band",
        "country",
        "ctype_x_device",
    ])
    .segment("platform_group")
    .time_window("2024-01-01", "2025-01-01")
}

fn plan(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let conn = duckdb::Connection::open(dir.path().join("big.duckdb")).unwrap();
    conn.execute_batch(
        "CREATE TABLE events (event_ts TIMESTAMP, user_id VARCHAR, platform VARCHAR, campaign_type VARCHAR,
             channel VARCHAR, device_type VARCHAR, country VARCHAR, impressions INTEGER, clicks INTEGER,
             ad_spend DOUBLE, revenue DOUBLE);
         CREATE TABLE dim_platforms (platform VARCHAR, platform_group VARCHAR);",
    )
    .unwrap();
    drop(conn);
    std::fs::write(
        dir.path().join("connections.yaml"),
        "duckdb:\n  path: big.duckdb\n",
    )
    .unwrap();
    let specs_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/specs");
    let specs = SpecCache::from_project(&specs_dir).unwrap();
    let connections = ConnectionManager::from_yaml(dir.path().join("connections.yaml")).unwrap();
    let compute = MetricCompute::new(&specs, &connections);
    let request = w1();
    c.bench_function("plan W1", |b| b.iter(|| compute.plan(&request).unwrap()));
    c.bench_function("load bench specs", |b| {
        b.iter(|| SpecCache::from_project(&specs_dir).unwrap())
    });
}

criterion_group!(benches, plan);
criterion_main!(benches);
