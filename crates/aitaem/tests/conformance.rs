//! What every backend must do, run on each (`duckdb::…`, `postgres::…`, `bigquery::…`,
//! `spark::…`): the
//! same small table, loaded with the backend's own SQL, and the same requests, checked against
//! values computed by hand. What only one backend has (PostgreSQL's TLS and SQLSTATEs, BigQuery's
//! dry runs and paging, Spark's sessions) is tested in its own file. Without a server, a backend's tests say they
//! were skipped (and fail under `CI=true`).

#![cfg(all(feature = "postgres", feature = "bigquery", feature = "spark"))]

mod common;

use std::any::Any;

use aitaem::error::BackendErrorKind;
use aitaem::{ComputeRequest, ConnectionManager, ErrorKind, MetricCompute, PeriodType, SpecCache};
use common::metric;

/// A backend with the table loaded: where its sources are, its connections, and what keeps its
/// schema or dataset alive.
struct Backend {
    /// `postgres://schema/`: a source is this and a table name.
    prefix: String,
    /// Columns of `events` of the backend's three time types (timestamp, another time type,
    /// date).
    time_columns: [&'static str; 3],
    connections: ConnectionManager,
    _keep: Box<dyn Any>,
}

impl Backend {
    fn source(&self, table: &str) -> String {
        format!("{}{table}", self.prefix)
    }

    fn compute(
        &self,
        specs: &SpecCache,
        request: ComputeRequest,
    ) -> aitaem::Result<Vec<aitaem::result::ResultRow>> {
        MetricCompute::new(specs, &self.connections)
            .compute(&request.sorted(true))?
            .rows()
    }
}

/// The test table: five events with integer clicks and impressions (zero denominators), a NULL
/// revenue, a NULL country, quotes and unicode in values, and a year, a week and a leap day at
/// their edges; and a dimension of users.
struct Row {
    id: i64,
    ts: &'static str,
    country: Option<&'static str>,
    category: Option<&'static str>,
    clicks: i64,
    impressions: i64,
    revenue: Option<&'static str>,
    converted: bool,
    user_id: i64,
}

const EVENTS: [Row; 5] = [
    Row {
        id: 1,
        ts: "2024-01-01 00:00:00",
        country: Some("US"),
        category: Some("Kids' Toys"),
        clicks: 1,
        impressions: 3,
        revenue: Some("10.50"),
        converted: true,
        user_id: 1,
    },
    Row {
        id: 2,
        ts: "2024-01-07 23:59:59",
        country: Some("US"),
        category: Some("Books"),
        clicks: 2,
        impressions: 0,
        revenue: None,
        converted: false,
        user_id: 2,
    },
    Row {
        id: 3,
        ts: "2024-01-08 00:00:00",
        country: Some("Côte d'Ivoire"),
        category: Some("Kids' Toys"),
        clicks: 4,
        impressions: 5,
        revenue: Some("2.25"),
        converted: true,
        user_id: 2,
    },
    Row {
        id: 4,
        ts: "2024-02-29 12:00:00",
        country: None,
        category: Some("Books"),
        clicks: 8,
        impressions: 9,
        revenue: Some("100"),
        converted: false,
        user_id: 3,
    },
    Row {
        id: 5,
        ts: "2023-12-31 23:59:59",
        country: Some("日本"),
        category: None,
        clicks: 16,
        impressions: 0,
        revenue: Some("0"),
        converted: true,
        user_id: 1,
    },
];

/// How a backend's SQL writes the table.
struct Dialect {
    /// `CREATE TABLE` of `events` and `users`, with `{}` for where the table name goes.
    events: &'static str,
    users: &'static str,
    /// A text literal.
    text: fn(&str) -> String,
    /// Literals of the three time columns of a timestamp.
    times: fn(&str) -> [String; 3],
    numeric: fn(&str) -> String,
}

fn standard_text(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The statements that load the table, each with `{}` for a table's qualified name.
fn load(d: &Dialect, qualify: &dyn Fn(&str) -> String) -> Vec<String> {
    let text = |v: Option<&str>| v.map_or("NULL".to_string(), |v| (d.text)(v));
    let rows: Vec<String> = EVENTS
        .iter()
        .map(|r| {
            let [ts, other, day] = (d.times)(r.ts);
            format!(
                "({}, {ts}, {other}, {day}, {}, {}, {}, {}, {}, {}, {})",
                r.id,
                text(r.country),
                text(r.category),
                r.clicks,
                r.impressions,
                r.revenue.map_or("NULL".to_string(), d.numeric),
                r.converted,
                r.user_id
            )
        })
        .collect();
    vec![
        d.events.replace("{}", &qualify("events")),
        format!(
            "INSERT INTO {} VALUES {}",
            qualify("events"),
            rows.join(", ")
        ),
        d.users.replace("{}", &qualify("users")),
        format!(
            "INSERT INTO {} VALUES (1, {}), (2, {}), (3, {})",
            qualify("users"),
            (d.text)("gold"),
            (d.text)("basic"),
            (d.text)("gold")
        ),
    ]
}

fn duckdb() -> Option<Backend> {
    let d = Dialect {
        events: "CREATE TABLE {} (id INTEGER, ts TIMESTAMP, ts_ms TIMESTAMP_MS, day DATE, country VARCHAR, category VARCHAR, clicks INTEGER, impressions INTEGER, revenue DECIMAL(12, 2), converted BOOLEAN, user_id BIGINT)",
        users: "CREATE TABLE {} (user_id BIGINT, tier VARCHAR)",
        text: standard_text,
        times: |ts| {
            [
                format!("TIMESTAMP '{ts}'"),
                format!("CAST('{ts}' AS TIMESTAMP_MS)"),
                format!("DATE '{}'", &ts[..10]),
            ]
        },
        numeric: |n| n.to_string(),
    };
    let project = common::Project::new(&load(&d, &|t| t.to_string()).join(";\n"));
    Some(Backend {
        prefix: "duckdb://".into(),
        time_columns: ["ts", "ts_ms", "day"],
        connections: project.connections(),
        _keep: Box::new(project),
    })
}

fn postgres() -> Option<Backend> {
    let pg = common::postgres::Pg::new("conformance")?;
    let d = Dialect {
        events: "CREATE TABLE {} (id int, ts timestamp, ts_tz timestamptz, day date, country text, category text, clicks int, impressions int, revenue numeric(12, 2), converted boolean, user_id bigint)",
        users: "CREATE TABLE {} (user_id bigint, tier text)",
        text: standard_text,
        times: |ts| {
            [
                format!("'{ts}'"),
                format!("'{ts}+00'"),
                format!("'{}'", &ts[..10]),
            ]
        },
        numeric: |n| n.to_string(),
    };
    pg.sql(&format!("{};", load(&d, &|t| t.to_string()).join(";\n")));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("connections.yaml");
    std::fs::write(&file, pg.connections_yaml("")).unwrap();
    Some(Backend {
        prefix: format!("postgres://{}/", pg.schema),
        time_columns: ["ts", "ts_tz", "day"],
        connections: ConnectionManager::from_yaml(&file).unwrap(),
        _keep: Box::new(pg),
    })
}

fn bigquery() -> Option<Backend> {
    let bq = common::bigquery::Bq::new("conformance")?;
    let d = Dialect {
        events: "CREATE TABLE {} (id INT64, ts TIMESTAMP, dt DATETIME, day DATE, country STRING, category STRING, clicks INT64, impressions INT64, revenue NUMERIC, converted BOOL, user_id INT64)",
        users: "CREATE TABLE {} (user_id INT64, tier STRING)",
        text: |t| format!("'{}'", t.replace('\\', "\\\\").replace('\'', "\\'")),
        times: |ts| {
            [
                format!("TIMESTAMP '{ts}'"),
                format!("DATETIME '{ts}'"),
                format!("DATE '{}'", &ts[..10]),
            ]
        },
        numeric: |n| format!("NUMERIC '{n}'"),
    };
    let dataset = bq.dataset.clone();
    for statement in load(&d, &|t| format!("{dataset}.{t}")) {
        bq.sql(&statement);
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("connections.yaml");
    std::fs::write(&file, bq.connections_yaml("")).unwrap();
    Some(Backend {
        prefix: format!("bigquery://{}.", bq.dataset),
        time_columns: ["ts", "dt", "day"],
        connections: ConnectionManager::from_yaml(&file).unwrap(),
        _keep: Box::new(bq),
    })
}

fn spark() -> Option<Backend> {
    let spark = common::spark::Spark::new("conformance")?;
    let d = Dialect {
        events: "CREATE TABLE {} (id INT, ts TIMESTAMP_NTZ, ts_ltz TIMESTAMP, day DATE, country STRING, category STRING, clicks INT, impressions INT, revenue DECIMAL(12, 2), converted BOOLEAN, user_id BIGINT)",
        users: "CREATE TABLE {} (user_id BIGINT, tier STRING)",
        text: |t| format!("'{}'", t.replace('\\', "\\\\").replace('\'', "\\'")),
        times: |ts| {
            [
                format!("TIMESTAMP_NTZ '{ts}'"),
                format!("TIMESTAMP '{ts}'"),
                format!("DATE '{}'", &ts[..10]),
            ]
        },
        numeric: |n| n.to_string(),
    };
    let schema = spark.schema.clone();
    let statements = load(&d, &|t| format!("{schema}.{t}"));
    spark.sql(&statements.iter().map(String::as_str).collect::<Vec<_>>());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("connections.yaml");
    std::fs::write(&file, spark.connections_yaml("")).unwrap();
    Some(Backend {
        prefix: format!("spark://{}.", spark.schema),
        time_columns: ["ts", "ts_ltz", "day"],
        connections: ConnectionManager::from_yaml(&file).unwrap(),
        _keep: Box::new(spark),
    })
}

/// Sums, counts, averages, distinct counts, filtered counts and ratios, by a column slice and
/// a value slice whose value name and predicate hold quotes.
fn aggregates_ratios_and_filters(b: Backend) {
    let events = b.source("events");
    let specs = SpecCache::from_strings(
        &[
            &metric("ctr", &events, "  numerator: SUM(clicks)\n  denominator: SUM(impressions)\n"),
            &metric("per_id", &events, "  numerator: SUM(clicks) / SUM(id)\n"),
            &metric("revenue", &events, "  numerator: SUM(revenue)\n"),
            &metric("avg_clicks", &events, "  numerator: AVG(clicks)\n"),
            &metric("users", &events, "  numerator: COUNT(DISTINCT user_id)\n"),
            &metric("converted", &events, "  numerator: COUNT(*) FILTER (WHERE converted)\n"),
        ],
        &[
            "slice:\n  name: country\n  where: country\n",
            "slice:\n  name: category\n  values:\n    - name: \"Kids' Toys\"\n      where: \"category = 'Kids'' Toys'\"\n    - name: books\n      where: \"category = 'Books'\"\n",
        ],
        &[],
    )
    .unwrap();
    let request = ComputeRequest::new([
        "ctr",
        "per_id",
        "revenue",
        "avg_clicks",
        "users",
        "converted",
    ])
    .slices(["country", "category"]);
    let rows = b.compute(&specs, request).unwrap();
    let get =
        |metric: &str, slice: (&str, &str)| common::value(&rows, metric, slice, ("none", "all"));
    let all = ("none", "all");
    // Integer sums divided in floating point: 31 / 17, and 31 / 15 (not 1 and 2).
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
    assert_eq!(get("revenue", ("category", "Kids' Toys")), Some(12.75));
    assert_eq!(get("revenue", ("category", "books")), Some(100.0));
    // NULL countries are left out of the column slice.
    let countries = common::slice_values(&rows, "ctr", "country");
    let names: Vec<&str> = countries.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(names, ["Côte d'Ivoire", "US", "日本"]);
}

/// Weeks of every time type the backend has are the same ISO weeks.
fn every_time_type_gives_the_same_iso_weeks(b: Backend) {
    for column in b.time_columns {
        let specs = SpecCache::from_strings(
            &[&metric(
                "clicks",
                &b.source("events"),
                &format!("  numerator: SUM(clicks)\n  timestamp_col: {column}\n"),
            )],
            &[],
            &[],
        )
        .unwrap();
        let request = ComputeRequest::new(["clicks"])
            .time_window("2023-12-31", "2024-03-01")
            .period(PeriodType::Weekly);
        let rows = b
            .compute(&specs, request)
            .unwrap_or_else(|e| panic!("{column}: {e}"));
        let weeks: Vec<(&str, Option<f64>)> = rows
            .iter()
            .map(|r| (r.period_start_date.as_deref().unwrap(), r.metric_value))
            .collect();
        // 2023-12-31 is a Sunday (the week of Monday 2023-12-25); 2024-01-07 23:59:59 is the
        // last second of the week of 2024-01-01; 2024-02-29 is in the week of 2024-02-26.
        assert_eq!(
            weeks,
            [
                ("2023-12-25 00:00:00", Some(16.0)),
                ("2024-01-01 00:00:00", Some(3.0)),
                ("2024-01-08 00:00:00", Some(4.0)),
                ("2024-02-26 00:00:00", Some(8.0)),
            ],
            "{column}"
        );
    }
}

/// A missing table names the closest one; a column the backend does not know is shown where
/// the spec wrote it; a request over this backend and a DuckDB file gives both, and when one
/// source fails, the other's rows and a warning.
fn errors_and_requests_over_two_backends(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("orders.csv");
    std::fs::write(&csv, "amount\n3\n4\n").unwrap();
    let events = b.source("events");
    let specs = SpecCache::from_strings(
        &[
            &metric("typo", &b.source("evnts"), "  numerator: COUNT(*)\n"),
            &metric("bad_column", &events, "  numerator: SUM(clikcs)\n"),
            &metric("clicks", &events, "  numerator: SUM(clicks)\n"),
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
    let err = b
        .compute(&specs, ComputeRequest::new(["typo"]))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TableNotFound, "{err}");
    assert!(err.to_string().contains("did you mean `events`?"), "{err}");

    let err = b
        .compute(&specs, ComputeRequest::new(["bad_column"]))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QueryExecution, "{err}");
    assert!(
        err.to_string()
            .contains(&format!("`bad_column` on {events}")),
        "{err}"
    );
    assert_eq!(
        err.backend_error().unwrap().kind(),
        BackendErrorKind::Rejected,
        "{err}"
    );
    // Line 4 of the spec, `  numerator: SUM(clikcs)`: at `clikcs`.
    match &err {
        aitaem::Error::QueryExecution {
            location: Some(at), ..
        } => {
            assert_eq!((at.line, at.column), (4, 18), "{err}")
        }
        other => panic!("{other:?}"),
    }

    let rows = b
        .compute(&specs, ComputeRequest::new(["clicks", "orders"]))
        .unwrap();
    let values: Vec<(&str, Option<f64>)> = rows
        .iter()
        .map(|r| (r.metric_name.as_str(), r.metric_value))
        .collect();
    assert_eq!(values, [("clicks", Some(31.0)), ("orders", Some(7.0))]);
    let partial = MetricCompute::new(&specs, &b.connections)
        .compute(&ComputeRequest::new(["bad_column", "orders"]))
        .unwrap();
    assert_eq!(partial.rows().unwrap().len(), 1);
    assert_eq!(partial.warnings().len(), 1);
    assert!(partial.warnings()[0].to_string().contains("bad_column"));
}

/// Scan reads the tables' columns from the backend's catalog.
fn scan_reads_the_catalog(b: Backend) {
    let specs = SpecCache::from_strings(
        &[&metric(
            "clicks",
            &b.source("events"),
            "  numerator: SUM(clicks)\n",
        )],
        &[
            "slice:\n  name: country\n  where: country\n",
            "slice:\n  name: device\n  where: device\n",
        ],
        &[&format!(
            "segment:\n  name: tier\n  source: {}\n  entity_id: user_id\n  where: tier\n",
            b.source("users")
        )],
    )
    .unwrap();
    let scan = MetricCompute::new(&specs, &b.connections).scan().unwrap();
    assert_eq!(scan.compatible_slices("clicks"), ["country"]);
    assert_eq!(scan.for_spec("device")[0].missing_columns, ["device"]);
    assert_eq!(scan.compatible_segments("clicks"), ["tier"]);
    // And the segment computes: users 1 and 3 are gold (events 1, 4, 5), user 2 basic.
    let rows = b
        .compute(&specs, ComputeRequest::new(["clicks"]).segment("tier"))
        .unwrap();
    let tiers: Vec<(&str, Option<f64>)> = rows
        .iter()
        .filter(|r| r.segment_name == "tier")
        .map(|r| (r.segment_value.as_str(), r.metric_value))
        .collect();
    assert_eq!(tiers, [("basic", Some(6.0)), ("gold", Some(25.0))]);
}

/// The suite, as tests named `backend::scenario`.
macro_rules! conformance {
    ($($backend:ident),*) => {
        $(
            mod $backend {
                #[test]
                fn aggregates_ratios_and_filters() {
                    if let Some(b) = super::$backend() {
                        super::aggregates_ratios_and_filters(b);
                    }
                }

                #[test]
                fn every_time_type_gives_the_same_iso_weeks() {
                    if let Some(b) = super::$backend() {
                        super::every_time_type_gives_the_same_iso_weeks(b);
                    }
                }

                #[test]
                fn errors_and_requests_over_two_backends() {
                    if let Some(b) = super::$backend() {
                        super::errors_and_requests_over_two_backends(b);
                    }
                }

                #[test]
                fn scan_reads_the_catalog() {
                    if let Some(b) = super::$backend() {
                        super::scan_reads_the_catalog(b);
                    }
                }
            }
        )*
    };
}

conformance!(duckdb, postgres, bigquery, spark);
