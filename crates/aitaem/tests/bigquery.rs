//! The BigQuery backend against the emulator (`scripts/test.sh` starts bqemulator): our
//! plumbing (endpoint, anonymous credentials, jobs, paging, types, errors, listing, dry runs) and
//! our numbers, checked against hand-computed values. The emulator runs on DuckDB and differs
//! from the real service in places (see docs/connections.md); the tests check what aitaem sends
//! and reads, not the emulator's quirks. Without an emulator each test says it was skipped (and
//! fails under `CI=true`).

#![cfg(feature = "bigquery")]

mod common;

use aitaem::error::BackendErrorKind;
use aitaem::{ComputeRequest, ConnectionManager, ErrorKind, MetricCompute, PeriodType, SpecCache};
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
fn aggregates_ratios_and_filters_match_hand_computed_values() {
    let Some(bq) = Bq::new("aggregates") else {
        return;
    };
    load(&bq);
    let source = format!("bigquery://{}.{}.events", bq.project, bq.dataset);
    let specs = SpecCache::from_strings(
        &[
            &metric("ctr", &source, "  numerator: SUM(clicks)\n  denominator: SUM(impressions)\n"),
            &metric("per_id", &source, "  numerator: SUM(clicks) / SUM(id)\n"),
            &metric("revenue", &source, "  numerator: SUM(revenue)\n"),
            &metric("avg_clicks", &source, "  numerator: AVG(clicks)\n"),
            &metric("users", &source, "  numerator: COUNT(DISTINCT country)\n"),
            &metric("converted", &source, "  numerator: COUNT(*) FILTER (WHERE converted)\n"),
        ],
        &[
            "slice:\n  name: country\n  where: country\n",
            "slice:\n  name: category\n  values:\n    - name: \"Kids' Toys\"\n      where: \"category = 'Kids'' Toys'\"\n    - name: books\n      where: \"category = 'Books'\"\n",
        ],
        &[],
    )
    .unwrap();
    let connections = connections(&bq, "");
    let rows = MetricCompute::new(&specs, &connections)
        .compute(
            &ComputeRequest::new([
                "ctr",
                "per_id",
                "revenue",
                "avg_clicks",
                "users",
                "converted",
            ])
            .slices(["country", "category"]),
        )
        .unwrap()
        .rows()
        .unwrap();
    let get =
        |metric: &str, slice: (&str, &str)| common::value(&rows, metric, slice, ("none", "all"));
    let all = ("none", "all");
    assert_eq!(get("ctr", all), Some(31.0 / 17.0));
    assert_eq!(get("per_id", all), Some(31.0 / 15.0));
    assert_eq!(
        get("ctr", ("country", "日本")),
        None,
        "a zero denominator gives NULL"
    );
    assert_eq!(get("revenue", all), Some(112.75));
    assert_eq!(get("revenue", ("country", "Côte d'Ivoire")), Some(2.25));
    assert_eq!(get("avg_clicks", ("country", "US")), Some(1.5));
    assert_eq!(get("users", all), Some(3.0));
    assert_eq!(get("converted", all), Some(3.0));
    // A quote inside a value name and inside the predicate's string.
    assert_eq!(get("revenue", ("category", "Kids' Toys")), Some(12.75));
    assert_eq!(get("revenue", ("category", "books")), Some(100.0));
}

#[test]
fn timestamp_datetime_and_date_columns_give_the_same_iso_weeks() {
    let Some(bq) = Bq::new("weeks") else { return };
    load(&bq);
    let source = format!("bigquery://{}/{}.events", bq.project, bq.dataset);
    for column in ["ts", "dt", "day"] {
        let specs = SpecCache::from_strings(
            &[&metric(
                "clicks",
                &source,
                &format!("  numerator: SUM(clicks)\n  timestamp_col: {column}\n"),
            )],
            &[],
            &[],
        )
        .unwrap();
        let connections = connections(&bq, "");
        let rows = MetricCompute::new(&specs, &connections)
            .compute(
                &ComputeRequest::new(["clicks"])
                    .time_window("2023-12-31", "2024-03-01")
                    .period(PeriodType::Weekly)
                    .sorted(true),
            )
            .unwrap_or_else(|e| panic!("{column}: {e}"))
            .rows()
            .unwrap();
        let weeks: Vec<(String, f64)> = rows
            .iter()
            .map(|r| {
                (
                    r.period_start_date.clone().unwrap(),
                    r.metric_value.unwrap(),
                )
            })
            .collect();
        let expected: Vec<(String, f64)> = [
            ("2023-12-25 00:00:00", 16.0),
            ("2024-01-01 00:00:00", 3.0),
            ("2024-01-08 00:00:00", 4.0),
            ("2024-02-26 00:00:00", 8.0),
        ]
        .iter()
        .map(|(d, v)| (d.to_string(), *v))
        .collect();
        assert_eq!(weeks, expected, "{column}");
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

#[test]
fn missing_tables_and_rejected_expressions_are_clear_errors() {
    let Some(bq) = Bq::new("errors") else { return };
    load(&bq);
    let dataset = &bq.dataset;
    let specs = SpecCache::from_strings(
        &[
            &metric("typo", &format!("bigquery://{dataset}.evnts"), "  numerator: COUNT(*)\n"),
            &metric(
                "bad_column",
                &format!("bigquery://{dataset}.events"),
                "  numerator: SUM(clikcs)\n",
            ),
            &metric(
                "lambda",
                &format!("bigquery://{dataset}.events"),
                "  numerator: SUM(clicks)\n",
            ),
        ],
        &["slice:\n  name: tags\n  values:\n    - {name: a, where: \"len(list_filter([country], x -> x = 'US')) > 0\"}\n"],
        &[],
    )
    .unwrap();
    let connections = connections(&bq, "");
    let compute = MetricCompute::new(&specs, &connections);
    let err = compute.compute(&ComputeRequest::new(["typo"])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TableNotFound, "{err}");
    assert!(err.to_string().contains("did you mean `events`?"), "{err}");

    let err = compute
        .compute(&ComputeRequest::new(["bad_column"]))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QueryExecution, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("`bad_column`") && text.contains("clikcs"),
        "{text}"
    );
    // The error points at the unknown column in the spec (line 4, `  numerator: SUM(clikcs)`).
    match &err {
        aitaem::Error::QueryExecution {
            location: Some(at), ..
        } => assert_eq!((at.line, at.column), (4, 18)),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.backend_error().unwrap().kind(),
        BackendErrorKind::Rejected,
        "{err}"
    );

    // A construct with no GoogleSQL counterpart is refused before anything runs.
    let err = compute
        .compute(&ComputeRequest::new(["lambda"]).slices(["tags"]))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QueryBuild, "{err}");
    assert!(err.to_string().contains("slice `tags`"), "{err}");
    assert!(
        err.to_string().contains("no counterpart in BigQuery"),
        "{err}"
    );
}

#[test]
fn one_request_reads_bigquery_and_duckdb() {
    let Some(bq) = Bq::new("mixed") else { return };
    load(&bq);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("orders.csv");
    std::fs::write(&csv, "amount\n3\n4\n").unwrap();
    let specs = SpecCache::from_strings(
        &[
            &metric(
                "bq_clicks",
                &format!("bigquery://{}.events", bq.dataset),
                "  numerator: SUM(clicks)\n",
            ),
            &metric(
                "orders",
                &format!("duckdb://{}", csv.display()),
                "  numerator: SUM(amount)\n",
            ),
        ],
        &[],
        &[],
    )
    .unwrap();
    let connections = connections(&bq, "");
    let rows = MetricCompute::new(&specs, &connections)
        .compute(&ComputeRequest::new(["bq_clicks", "orders"]).sorted(true))
        .unwrap()
        .rows()
        .unwrap();
    let values: Vec<(&str, Option<f64>)> = rows
        .iter()
        .map(|r| (r.metric_name.as_str(), r.metric_value))
        .collect();
    assert_eq!(values, [("bq_clicks", Some(31.0)), ("orders", Some(7.0))]);
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
