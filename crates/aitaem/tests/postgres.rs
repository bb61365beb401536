//! The PostgreSQL backend on a real server (`scripts/test.sh` starts one): connecting (TLS and
//! every kind of failure), the catalog, results checked against hand-written SQL run by `psql`,
//! and a request that mixes PostgreSQL and DuckDB. Without a server each test says it was
//! skipped (and fails under `CI=true`).

#![cfg(feature = "postgres")]

mod common;

use aitaem::BackendKind;
use aitaem::error::BackendErrorKind;
use aitaem::{ComputeRequest, ConnectionManager, ErrorKind, MetricCompute, PeriodType, SpecCache};
use common::metric;
use common::postgres::Pg;

/// Events with integer clicks and impressions (a zero denominator), NULL revenue, a quote and
/// unicode in values, and `timestamp`, `timestamptz` and `date` time columns.
const EVENTS: &str = "
CREATE TABLE events (
    id int, ts timestamp, ts_tz timestamptz, day date, country text, clicks int,
    impressions int, revenue numeric(12, 2), converted boolean, user_id bigint
);
INSERT INTO events VALUES
    (1, '2024-01-01 00:00:00', '2024-01-01 00:00:00+00', '2024-01-01', 'US',            1, 3, 10.50, true,  1),
    (2, '2024-01-07 23:59:59', '2024-01-07 23:59:59+00', '2024-01-07', 'US',            2, 0, NULL,  false, 2),
    (3, '2024-01-08 00:00:00', '2024-01-08 00:00:00+00', '2024-01-08', 'Côte d''Ivoire', 4, 5, 2.25,  true,  2),
    (4, '2024-02-29 12:00:00', '2024-02-29 12:00:00+00', '2024-02-29', NULL,            8, 9, 100,   false, 3),
    (5, '2023-12-31 23:59:59', '2023-12-31 23:59:59+00', '2023-12-31', '日本',            16, 0, 0,     true,  1);
";

fn connections(pg: &Pg, extra: &str) -> ConnectionManager {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("connections.yaml");
    std::fs::write(&file, pg.connections_yaml(extra)).unwrap();
    ConnectionManager::from_yaml(&file).unwrap()
}

fn value(pg: &Pg, sql: &str) -> Option<f64> {
    let text = pg.scalar(sql);
    (!text.is_empty()).then(|| text.parse().unwrap())
}

#[test]
fn ratios_divide_in_floating_point_and_match_hand_written_sql() {
    let Some(pg) = Pg::new("ratios") else { return };
    pg.sql(EVENTS);
    let source = format!("postgres://{}/events", pg.schema);
    let specs = SpecCache::from_strings(
        &[
            &metric(
                "ctr",
                &source,
                "  numerator: SUM(clicks)\n  denominator: SUM(impressions)\n",
            ),
            &metric(
                "ratio_in_numerator",
                &source,
                "  numerator: SUM(clicks) / SUM(id)\n",
            ),
            &metric("revenue", &source, "  numerator: SUM(revenue)\n"),
            &metric("avg_clicks", &source, "  numerator: AVG(clicks)\n"),
            &metric("users", &source, "  numerator: COUNT(DISTINCT user_id)\n"),
            &metric(
                "converted",
                &source,
                "  numerator: COUNT(*) FILTER (WHERE converted)\n",
            ),
        ],
        &["slice:\n  name: country\n  where: country\n"],
        &[],
    )
    .unwrap();
    let connections = connections(&pg, "");
    let result = MetricCompute::new(&specs, &connections)
        .compute(
            &ComputeRequest::new([
                "ctr",
                "ratio_in_numerator",
                "revenue",
                "avg_clicks",
                "users",
                "converted",
            ])
            .slices(["country"]),
        )
        .unwrap();
    let rows = result.rows().unwrap();
    let get = |metric: &str, country: &str| {
        let slice = if country == "all" { "none" } else { "country" };
        common::value(&rows, metric, (slice, country), ("none", "all"))
    };
    // Integer sums divided in floating point: 31 / 17, and 31 / 15 (not 1 and 2).
    assert_eq!(
        get("ctr", "all"),
        value(
            &pg,
            "SELECT SUM(clicks)::float8 / SUM(impressions) FROM events"
        )
    );
    assert_eq!(get("ctr", "all"), Some(31.0 / 17.0));
    assert_eq!(get("ratio_in_numerator", "all"), Some(31.0 / 15.0));
    // A zero denominator gives NULL.
    assert_eq!(get("ctr", "日本"), None);
    assert_eq!(get("revenue", "all"), Some(112.75));
    assert_eq!(get("revenue", "Côte d'Ivoire"), Some(2.25));
    assert_eq!(get("avg_clicks", "US"), Some(1.5));
    assert_eq!(get("users", "all"), Some(3.0));
    assert_eq!(get("converted", "all"), Some(3.0));
    // NULL countries are left out of the slice, as on every backend.
    assert!(
        !rows
            .iter()
            .any(|r| r.slice_type == "country" && r.slice_value.is_empty())
    );
}

#[test]
fn timestamp_timestamptz_and_date_columns_give_the_same_iso_weeks() {
    let Some(pg) = Pg::new("weeks") else { return };
    pg.sql(EVENTS);
    let source = format!("postgres://{}/events", pg.schema);
    for column in ["ts", "ts_tz", "day"] {
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
        let connections = connections(&pg, "");
        let rows = MetricCompute::new(&specs, &connections)
            .compute(
                &ComputeRequest::new(["clicks"])
                    .time_window("2023-12-31", "2024-03-01")
                    .period(PeriodType::Weekly)
                    .sorted(true),
            )
            .unwrap()
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
        // 2023-12-31 is a Sunday (week of Monday 2023-12-25); 2024-01-07 23:59:59 is the last
        // second of the week of Monday 2024-01-01; 2024-02-29 is in the week of 2024-02-26.
        let expected = [
            ("2023-12-25 00:00:00", 16.0),
            ("2024-01-01 00:00:00", 3.0),
            ("2024-01-08 00:00:00", 4.0),
            ("2024-02-26 00:00:00", 8.0),
        ];
        let expected: Vec<(String, f64)> =
            expected.iter().map(|(d, v)| (d.to_string(), *v)).collect();
        assert_eq!(weeks, expected, "{column}");
    }
}

#[test]
fn quoted_mixed_case_and_unicode_identifiers() {
    let Some(pg) = Pg::new("identifiers") else {
        return;
    };
    pg.sql(
        "CREATE TABLE \"Événements \"\"Q1\"\"\" (\"Clicks\" int, pays text);
         INSERT INTO \"Événements \"\"Q1\"\"\" VALUES (2, 'FR'), (3, 'FR'), (5, 'DE');",
    );
    let source = format!("postgres://{}/Événements \"Q1\"", pg.schema);
    let specs = SpecCache::from_strings(
        &[&metric("clicks", &source, "  numerator: SUM(\"Clicks\")\n")],
        &["slice:\n  name: pays\n  where: pays\n"],
        &[],
    )
    .unwrap();
    let connections = connections(&pg, "");
    let rows = MetricCompute::new(&specs, &connections)
        .compute(
            &ComputeRequest::new(["clicks"])
                .slices(["pays"])
                .sorted(true),
        )
        .unwrap()
        .rows()
        .unwrap();
    let values: Vec<(&str, Option<f64>)> = rows
        .iter()
        .map(|r| (r.slice_value.as_str(), r.metric_value))
        .collect();
    assert_eq!(
        values,
        [("DE", Some(5.0)), ("FR", Some(5.0)), ("all", Some(10.0))]
    );
    let tables = connections.list_tables().unwrap();
    assert!(
        tables.contains(&format!("postgres://{}/Événements \"Q1\"", pg.schema)),
        "{tables:?}"
    );
    let columns = connections.describe_table(&source).unwrap();
    assert_eq!(columns[0].name, "Clicks");
    assert_eq!(columns[0].data_type, "integer");
}

#[test]
fn missing_tables_and_columns_and_rejected_expressions_are_clear_errors() {
    let Some(pg) = Pg::new("missing") else { return };
    pg.sql(EVENTS);
    let schema = &pg.schema;
    let specs = SpecCache::from_strings(
        &[
            &metric(
                "typo",
                &format!("postgres://{schema}/evnts"),
                "  numerator: COUNT(*)\n",
            ),
            &metric(
                "no_schema",
                "postgres://no_such_schema/events",
                "  numerator: COUNT(*)\n",
            ),
            &metric(
                "bad_column",
                &format!("postgres://{schema}/events"),
                "  numerator: SUM(clikcs)\n",
            ),
            &metric(
                "text_sum",
                &format!("postgres://{schema}/events"),
                "  numerator: SUM(country)\n",
            ),
        ],
        &[],
        &[],
    )
    .unwrap();
    let connections = connections(&pg, "");
    let compute = MetricCompute::new(&specs, &connections);
    let err = compute.compute(&ComputeRequest::new(["typo"])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TableNotFound);
    assert!(err.to_string().contains("did you mean `events`?"), "{err}");
    let err = compute
        .compute(&ComputeRequest::new(["no_schema"]))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TableNotFound, "{err}");

    // The error points at the unknown column in the spec (line 4, `  numerator: SUM(clikcs)`).
    match compute.compute(&ComputeRequest::new(["bad_column"])) {
        Err(aitaem::Error::QueryExecution {
            location: Some(at), ..
        }) => assert_eq!((at.line, at.column), (4, 18)),
        other => panic!("{other:?}"),
    }
    // A type error points where the server says: at `SUM(country)`, from its position.
    match compute.compute(&ComputeRequest::new(["text_sum"])) {
        Err(aitaem::Error::QueryExecution {
            location: Some(at), ..
        }) => assert_eq!((at.line, at.column), (4, 14)),
        other => panic!("{other:?}"),
    }
    for (metric, code) in [("bad_column", "42703"), ("text_sum", "42883")] {
        let err = compute.compute(&ComputeRequest::new([metric])).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::QueryExecution, "{err}");
        let backend = err.backend_error().unwrap();
        assert_eq!(backend.code(), Some(code), "{err}");
        assert_eq!(backend.kind(), BackendErrorKind::Rejected);
        let text = err.to_string();
        assert!(text.contains(&format!("`{metric}`")), "{text}");
        assert!(
            text.contains(&format!("postgres://{schema}/events")),
            "{text}"
        );
        assert!(text.contains(&format!("SQLSTATE {code}")), "{text}");
    }
}

#[test]
fn statements_cannot_write_and_time_out() {
    let Some(pg) = Pg::new("readonly") else {
        return;
    };
    pg.sql(&format!("{EVENTS}\nCREATE SEQUENCE seq;"));
    let source = format!("postgres://{}/events", pg.schema);
    let specs = SpecCache::from_strings(
        &[
            &metric(
                "writes",
                &source,
                &format!("  numerator: SUM(nextval('{}.seq'))\n", pg.schema),
            ),
            &metric(
                "slow",
                &source,
                "  numerator: COUNT(*) + MAX(length(CAST(pg_sleep(1) AS text)))\n",
            ),
        ],
        &[],
        &[],
    )
    .unwrap();
    let connections = connections(&pg, "  statement_timeout: 200ms\n");
    let compute = MetricCompute::new(&specs, &connections);
    let err = compute
        .compute(&ComputeRequest::new(["writes"]))
        .unwrap_err();
    assert_eq!(err.backend_error().unwrap().code(), Some("25006"), "{err}");
    assert_eq!(pg.scalar("SELECT last_value FROM seq"), "1");
    assert_eq!(pg.scalar("SELECT is_called FROM seq"), "f");

    // The server ends the statement at its timeout (SQLSTATE 57014, not cancelled by us).
    let err = compute.compute(&ComputeRequest::new(["slow"])).unwrap_err();
    let backend = err.backend_error().unwrap();
    assert_eq!(backend.kind(), BackendErrorKind::Timeout, "{err}");
    assert_eq!(backend.code(), Some("57014"));
}

/// The URL with one part replaced.
fn with(url: &str, from: &str, to: &str) -> String {
    assert!(url.contains(from), "{url} has no {from}");
    url.replacen(from, to, 1)
}

fn open(url: &str, extra: &str) -> Result<(), aitaem::Error> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("connections.yaml");
    std::fs::write(&file, format!("postgres:\n  url: {url}\n{extra}")).unwrap();
    ConnectionManager::from_yaml(&file)?.open(BackendKind::POSTGRES)
}

#[test]
fn every_connection_failure_is_its_own_clear_error_and_never_shows_the_password() {
    let Some(url) = common::postgres::url("connection failures") else {
        return;
    };
    let port = url
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    let cases = [
        (
            with(&url, "aitaem-test@", "wrong-secret@"),
            "",
            BackendErrorKind::Authentication,
            Some("28P01"),
        ),
        (
            with(&url, "/aitaem_test", "/no_such_db"),
            "",
            BackendErrorKind::NotFound,
            Some("3D000"),
        ),
        (
            with(&url, &port, &closed_port),
            "",
            BackendErrorKind::Connection,
            None,
        ),
        (
            with(&url, "localhost", "nonexistent.invalid"),
            "",
            BackendErrorKind::Connection,
            None,
        ),
        // A non-routable address: the connect timeout ends the attempt.
        (
            with(&url, &format!("localhost:{port}"), "10.255.255.1:5432"),
            "  connect_timeout: 500ms\n",
            BackendErrorKind::Timeout,
            None,
        ),
    ];
    for (url, extra, kind, code) in cases {
        // A hang would end here, far beyond every connect timeout above.
        let err = common::within(move || open(&url, extra)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
        let backend = err.backend_error().unwrap();
        // Unreachable networks may fail at once instead of timing out.
        if kind == BackendErrorKind::Timeout {
            assert!(
                matches!(
                    backend.kind(),
                    BackendErrorKind::Timeout | BackendErrorKind::Connection
                ),
                "{err}"
            );
        } else {
            assert_eq!(backend.kind(), kind, "{err}");
        }
        assert_eq!(backend.code(), code, "{err}");
        let text = err.to_string();
        assert!(text.contains("cannot connect to PostgreSQL at"), "{text}");
        assert!(
            !text.contains("aitaem-test") && !text.contains("wrong-secret"),
            "{text}"
        );
        assert!(!format!("{err:?}").contains("wrong-secret"), "{err:?}");
    }
}

#[test]
fn tls_is_verified_as_sslmode_asks() {
    let Some(url) = common::postgres::url("tls") else {
        return;
    };
    let ca = std::env::var("AITAEM_TEST_POSTGRES_CA").unwrap();
    let other = std::env::var("AITAEM_TEST_POSTGRES_OTHER_CA").unwrap();
    let by_ip = with(&url, "localhost", "127.0.0.1");
    // The server's certificate names `localhost`, signed by the test authority.
    for (url, extra) in [
        (
            &url,
            format!("  sslmode: verify-full\n  sslrootcert: {ca}\n"),
        ),
        (
            &by_ip,
            format!("  sslmode: verify-ca\n  sslrootcert: {ca}\n"),
        ),
        (&by_ip, "  sslmode: require\n".to_string()),
        (&url, "  sslmode: prefer\n".to_string()),
        (&url, "  sslmode: disable\n".to_string()),
    ] {
        open(url, &extra).unwrap_or_else(|e| panic!("{extra}: {e}"));
    }
    for (url, extra, says) in [
        (
            &url,
            format!("  sslmode: verify-full\n  sslrootcert: {other}\n"),
            "certificate",
        ),
        (
            &by_ip,
            format!("  sslmode: verify-full\n  sslrootcert: {ca}\n"),
            "certificate",
        ),
        (
            &url,
            format!("  sslmode: require\n  sslrootcert: {other}\n"),
            "certificate",
        ),
        (
            &url,
            "  sslmode: verify-full\n  sslrootcert: missing.pem\n".to_string(),
            "not found",
        ),
    ] {
        let err = open(url, &extra).unwrap_err();
        assert!(err.to_string().contains(says), "{extra}: {err}");
    }
}

#[test]
fn one_request_reads_postgres_and_duckdb_and_a_failing_source_leaves_a_warning() {
    let Some(pg) = Pg::new("mixed") else { return };
    pg.sql(EVENTS);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("orders.csv");
    std::fs::write(&csv, "amount\n3\n4\n").unwrap();
    let specs = SpecCache::from_strings(
        &[
            &metric(
                "pg_clicks",
                &format!("postgres://{}/events", pg.schema),
                "  numerator: SUM(clicks)\n",
            ),
            &metric(
                "pg_broken",
                &format!("postgres://{}/events", pg.schema),
                "  numerator: SUM(nope)\n",
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
    let connections = connections(&pg, "");
    let compute = MetricCompute::new(&specs, &connections);
    let rows = compute
        .compute(&ComputeRequest::new(["pg_clicks", "orders"]).sorted(true))
        .unwrap()
        .rows()
        .unwrap();
    let values: Vec<(&str, Option<f64>)> = rows
        .iter()
        .map(|r| (r.metric_name.as_str(), r.metric_value))
        .collect();
    assert_eq!(values, [("pg_clicks", Some(31.0)), ("orders", Some(7.0))]);

    let partial = compute
        .compute(&ComputeRequest::new(["pg_broken", "orders"]))
        .unwrap();
    assert_eq!(partial.rows().unwrap().len(), 1);
    assert_eq!(partial.warnings().len(), 1);
    assert!(partial.warnings()[0].to_string().contains("pg_broken"));
}

#[test]
fn scan_checks_slices_and_segments_against_the_catalog() {
    let Some(pg) = Pg::new("scan") else { return };
    pg.sql(&format!(
        "{EVENTS}\nCREATE TABLE users (user_id bigint, tier text);"
    ));
    let schema = &pg.schema;
    let specs = SpecCache::from_strings(
        &[&metric("clicks", &format!("postgres://{schema}/events"), "  numerator: SUM(clicks)\n")],
        &[
            "slice:\n  name: country\n  where: country\n",
            "slice:\n  name: device\n  where: device\n",
        ],
        &[&format!(
            "segment:\n  name: tier\n  source: postgres://{schema}/users\n  entity_id: user_id\n  where: tier\n"
        )],
    )
    .unwrap();
    let connections = connections(&pg, "");
    let scan = MetricCompute::new(&specs, &connections).scan().unwrap();
    assert_eq!(scan.compatible_slices("clicks"), ["country"]);
    let device = &scan.for_spec("device")[0];
    assert_eq!(device.missing_columns, ["device"]);
    assert_eq!(scan.compatible_segments("clicks"), ["tier"]);
}

/// `ConnectionManager::interrupt`, from another thread, cancels the running statement on the
/// server: the compute fails as cancelled, and the connection keeps working.
#[test]
fn an_interrupt_cancels_the_running_statement() {
    let Some(pg) = Pg::new("interrupt") else {
        return;
    };
    pg.sql(&format!(
        "{EVENTS}\nCREATE VIEW endless AS SELECT g FROM generate_series(1, 10000000000) g;"
    ));
    let specs = SpecCache::from_strings(
        &[
            &metric(
                "endless",
                &format!("postgres://{}/endless", pg.schema),
                "  numerator: SUM(g)\n",
            ),
            &metric(
                "clicks",
                &format!("postgres://{}/events", pg.schema),
                "  numerator: SUM(clicks)\n",
            ),
        ],
        &[],
        &[],
    )
    .unwrap();
    let connections = connections(&pg, "");
    let compute = MetricCompute::new(&specs, &connections);
    let err = common::interrupted(&connections, &compute, &ComputeRequest::new(["endless"]));
    // Cancelled by the server on our request (SQLSTATE 57014, "canceling statement due to user
    // request"), not by a timeout.
    assert_eq!(
        err.backend_error().and_then(|b| b.code()),
        Some("57014"),
        "{err}"
    );
    assert_eq!(
        err.backend_error().map(|b| b.kind()),
        Some(BackendErrorKind::Cancelled),
        "{err}"
    );
    let rows = compute
        .compute(&ComputeRequest::new(["clicks"]))
        .unwrap()
        .rows()
        .unwrap();
    assert_eq!(rows[0].metric_value, Some(31.0));
}
