//! What only the PostgreSQL backend has, on a real server (`scripts/test.sh` starts one):
//! connecting (TLS and every kind of failure), read-only sessions and timeouts, cancelling,
//! quoted and folded names, and SQLSTATEs. What every backend does is in `conformance.rs`. Without a server each test says it was
//! skipped (and fails under `CI=true`).

#![cfg(feature = "postgres")]

mod common;

use aitaem::BackendKind;
use aitaem::error::BackendErrorKind;
use aitaem::{ComputeRequest, ConnectionManager, ErrorKind, MetricCompute, SpecCache};
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

    // A name with dots is one table, not a schema and a table.
    pg.sql(
        "CREATE TABLE \"my.weird.table\" (x int); INSERT INTO \"my.weird.table\" VALUES (4), (6);",
    );
    let dotted = format!("postgres://{}/my.weird.table", pg.schema);
    assert!(connections.list_tables().unwrap().contains(&dotted));
    let specs = SpecCache::from_strings(
        &[&metric("total", &dotted, "  numerator: SUM(x)\n")],
        &[],
        &[],
    )
    .unwrap();
    let rows = MetricCompute::new(&specs, &connections)
        .compute(&ComputeRequest::new(["total"]))
        .unwrap()
        .rows()
        .unwrap();
    assert_eq!(rows[0].metric_value, Some(10.0));
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
