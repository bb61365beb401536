//! What only the BigQuery backend has, against the emulator (`scripts/test.sh` starts
//! bqemulator): its URI forms, listing, dry runs, paging, other projects, an unreachable
//! endpoint, and what GoogleSQL cannot say. What every backend does is in `conformance.rs`. The emulator runs on DuckDB and differs
//! from the real service in places (see docs/connections.md); the tests check what aitaem sends
//! and reads, not the emulator's quirks. Without an emulator each test says it was skipped (and
//! fails under `CI=true`).

#![cfg(feature = "bigquery")]

mod common;

use aitaem::{ComputeRequest, ConnectionManager, ErrorKind, MetricCompute, SpecCache};
use common::bigquery::Bq;
use common::metric;

/// Events with integer clicks and impressions (a zero denominator), NULL revenue, quotes and
/// unicode in values, and TIMESTAMP, DATETIME and DATE time columns.
const EVENTS: &str = "
CREATE TABLE events (
    id INT64, ts TIMESTAMP, dt DATETIME, day DATE, country STRING, category STRING,
    clicks INT64, impressions INT64, revenue NUMERIC, converted BOOL
);
INSERT INTO events VALUES
    (1, TIMESTAMP '2024-01-01 00:00:00', DATETIME '2024-01-01 00:00:00', DATE '2024-01-01', 'US', \"Kids' Toys\", 1, 3, 10.5, TRUE),
    (2, TIMESTAMP '2024-01-07 23:59:59', DATETIME '2024-01-07 23:59:59', DATE '2024-01-07', 'US', 'Books', 2, 0, NULL, FALSE),
    (3, TIMESTAMP '2024-01-08 00:00:00', DATETIME '2024-01-08 00:00:00', DATE '2024-01-08', \"Côte d'Ivoire\", \"Kids' Toys\", 4, 5, 2.25, TRUE),
    (4, TIMESTAMP '2024-02-29 12:00:00', DATETIME '2024-02-29 12:00:00', DATE '2024-02-29', NULL, 'Books', 8, 9, 100, FALSE),
    (5, TIMESTAMP '2023-12-31 23:59:59', DATETIME '2023-12-31 23:59:59', DATE '2023-12-31', '日本', NULL, 16, 0, 0, TRUE);
";

fn connections(bq: &Bq, extra: &str) -> ConnectionManager {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("connections.yaml");
    std::fs::write(&file, bq.connections_yaml(extra)).unwrap();
    ConnectionManager::from_yaml(&file).unwrap()
}

fn load(bq: &Bq) {
    for statement in EVENTS.split(';').filter(|s| !s.trim().is_empty()) {
        bq.sql(&statement.replace(" events", &format!(" {}.events", bq.dataset)));
    }
}

#[test]
fn uri_forms_listing_describing_and_estimates() {
    let Some(bq) = Bq::new("catalog") else { return };
    load(&bq);
    let connections = connections(&bq, &format!("  dataset_id: {}\n", bq.dataset));
    let forms = [
        format!("bigquery://{}.{}.events", bq.project, bq.dataset),
        format!("bigquery://{}/{}.events", bq.project, bq.dataset),
        format!("bigquery://{}.events", bq.dataset),
    ];
    for (i, source) in forms.iter().enumerate() {
        let specs = SpecCache::from_strings(
            &[&metric(&format!("n{i}"), source, "  numerator: COUNT(*)\n")],
            &[],
            &[],
        )
        .unwrap();
        let compute = MetricCompute::new(&specs, &connections);
        let rows = compute
            .compute(&ComputeRequest::new([format!("n{i}")]))
            .unwrap_or_else(|e| panic!("{source}: {e}"))
            .rows()
            .unwrap();
        assert_eq!(rows[0].metric_value, Some(5.0), "{source}");
        let plan = compute
            .plan(&ComputeRequest::new([format!("n{i}")]))
            .unwrap();
        assert!(compute.estimate(&plan.statements()[0]).unwrap().is_some());
    }
    assert_eq!(
        connections.list_tables().unwrap(),
        [format!("bigquery://{}.{}.events", bq.project, bq.dataset)]
    );
    let specs = SpecCache::from_strings(
        &[&metric("n", &forms[0], "  numerator: COUNT(*)\n")],
        &[
            "slice:\n  name: country\n  where: country\n",
            "slice:\n  name: device\n  where: device\n",
        ],
        &[],
    )
    .unwrap();
    let scan = MetricCompute::new(&specs, &connections).scan().unwrap();
    assert_eq!(scan.compatible_slices("n"), ["country"]);
    let columns = connections.describe_table(&forms[0]).unwrap();
    let described: Vec<(&str, &str)> = columns
        .iter()
        .map(|c| (c.name.as_str(), c.data_type.as_str()))
        .collect();
    assert_eq!(
        described[..4],
        [
            ("id", "INTEGER"),
            ("ts", "TIMESTAMP"),
            ("dt", "DATETIME"),
            ("day", "DATE")
        ]
    );
}

/// A construct with no GoogleSQL counterpart is refused before anything runs (missing tables
/// and unknown columns are in `conformance.rs`).
#[test]
fn constructs_without_a_google_sql_counterpart_are_refused() {
    let Some(bq) = Bq::new("errors") else { return };
    load(&bq);
    let specs = SpecCache::from_strings(
        &[&metric(
            "clicks",
            &format!("bigquery://{}.events", bq.dataset),
            "  numerator: SUM(clicks)\n",
        )],
        &["slice:\n  name: tags\n  values:\n    - {name: a, where: \"len(list_filter([country], x -> x = 'US')) > 0\"}\n"],
        &[],
    )
    .unwrap();
    let connections = connections(&bq, "");
    let err = MetricCompute::new(&specs, &connections)
        .compute(&ComputeRequest::new(["clicks"]).slices(["tags"]))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QueryBuild, "{err}");
    assert!(err.to_string().contains("slice `tags`"), "{err}");
    assert!(
        err.to_string().contains("no counterpart in BigQuery"),
        "{err}"
    );
}

#[test]
fn an_unreachable_endpoint_is_a_connection_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("connections.yaml");
    std::fs::write(
        &file,
        format!("bigquery:\n  project_id: my-project\n  endpoint: 127.0.0.1:{port}\n"),
    )
    .unwrap();
    let connections = ConnectionManager::from_yaml(&file).unwrap();
    // Retries end within their time limit; a hang fails here.
    let err = common::within(move || connections.list_tables()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

#[test]
fn results_of_many_pages_and_tables_of_another_project() {
    let Some(bq) = Bq::new("paging") else { return };
    // 120,000 entities: the result comes back in three pages of 50,000 rows.
    bq.sql(&format!(
        "CREATE TABLE {}.big AS SELECT x AS id, MOD(x, 7) AS v FROM UNNEST(GENERATE_ARRAY(1, 120000)) AS x",
        bq.dataset
    ));
    let specs = SpecCache::from_strings(
        &[&format!(
            "metric:\n  name: v\n  source: bigquery://{}.big\n  numerator: SUM(v)\n  entities: [id]\n",
            bq.dataset
        )],
        &[],
        &[],
    )
    .unwrap();
    let connections = connections(&bq, "");
    let rows = MetricCompute::new(&specs, &connections)
        .compute(&ComputeRequest::new(["v"]).by_entity("id"))
        .unwrap()
        .rows()
        .unwrap();
    assert_eq!(rows.len(), 120_000);
    let total: f64 = rows.iter().filter_map(|r| r.metric_value).sum();
    // Each id holds itself mod 7: ids 1..=119994 are 17142 cycles of residues 1..6, 0 (sum 21),
    // and ids 119995..=120000 have residues 1..6 (sum 21).
    assert_eq!(total, 17_142.0 * 21.0 + 21.0);
    let ids: std::collections::BTreeSet<&str> =
        rows.iter().filter_map(|r| r.entity_id.as_deref()).collect();
    assert_eq!(ids.len(), 120_000);

    // A table of another project, read by a connection billed to this one.
    let Some(other) = Bq::in_project("paging", "other-project") else {
        return;
    };
    other.sql(&format!(
        "CREATE TABLE `other-project`.{}.t AS SELECT 42 AS n",
        other.dataset
    ));
    let specs = SpecCache::from_strings(
        &[&format!(
            "metric:\n  name: n\n  source: bigquery://other-project.{}.t\n  numerator: SUM(n)\n",
            other.dataset
        )],
        &[],
        &[],
    )
    .unwrap();
    let rows = MetricCompute::new(&specs, &connections)
        .compute(&ComputeRequest::new(["n"]))
        .unwrap()
        .rows()
        .unwrap();
    assert_eq!(rows[0].metric_value, Some(42.0));
}
