//! What only the Spark backend has, against a real local Spark Connect server
//! (`scripts/test.sh` starts one): its URI forms (quoted names with mixed case, spaces and
//! unicode; the session's current schema), listing, describing and plans, the session's time
//! zone and settings, interrupts and statement timeouts, and connection failures. What every
//! backend does is in `conformance.rs` and `cross_backend.rs`. Without a server each test says it
//! was skipped (and fails under `CI=true`).

#![cfg(feature = "spark")]

mod common;

use aitaem::error::BackendErrorKind;
use aitaem::{ComputeRequest, ConnectionManager, ErrorKind, MetricCompute, PeriodType, SpecCache};
use common::metric;
use common::spark::Spark;

fn connections(spark: &Spark, extra: &str) -> ConnectionManager {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("connections.yaml");
    std::fs::write(&file, spark.connections_yaml(extra)).unwrap();
    ConnectionManager::from_yaml(&file).unwrap()
}

fn count(connections: &ConnectionManager, source: &str) -> aitaem::Result<Option<f64>> {
    let specs = SpecCache::from_strings(&[&metric("n", source, "  numerator: SUM(x)\n")], &[], &[])
        .unwrap();
    Ok(MetricCompute::new(&specs, connections)
        .compute(&ComputeRequest::new(["n"]))?
        .rows()?[0]
        .metric_value)
}

#[test]
fn uri_forms_quoted_names_listing_describing_and_plans() {
    let Some(spark) = Spark::new("names") else {
        return;
    };
    // Spark's own catalog keeps schema and table names to letters, digits and `_` (and matches
    // them in any case); global temporary views, like other catalogs' tables, may have any name.
    let odd = format!("{} Événements 2024", spark.schema);
    let current = format!("{}_in_default", spark.schema);
    spark.sql(&[
        &format!(
            "CREATE TABLE {}.events (x INT, `Mixed Case` STRING) ",
            spark.schema
        ),
        &format!(
            "INSERT INTO {}.events VALUES (1, 'a'), (2, 'b')",
            spark.schema
        ),
        &format!("CREATE TABLE {}.MixedCase (x INT)", spark.schema),
        &format!("INSERT INTO {}.MixedCase VALUES (5)", spark.schema),
        &format!(
            "CREATE GLOBAL TEMPORARY VIEW `{odd}` AS SELECT * FROM VALUES (10), (20), (30) AS t(x)"
        ),
        &format!("CREATE TABLE default.{current} (x INT)"),
        &format!("INSERT INTO default.{current} VALUES (100)"),
    ]);
    let connections = connections(&spark, "");
    for (source, expected) in [
        (format!("spark://{}.events", spark.schema), 3.0),
        (
            format!("spark://spark_catalog.{}.events", spark.schema),
            3.0,
        ),
        (format!("spark://`{}`.`MixedCase`", spark.schema), 5.0),
        (format!("spark://global_temp.`{odd}`"), 60.0),
        (format!("spark://{current}"), 100.0),
    ] {
        assert_eq!(
            count(&connections, &source).unwrap_or_else(|e| panic!("{source}: {e}")),
            Some(expected),
            "{source}"
        );
    }
    let tables = connections.list_tables().unwrap();
    for listed in [
        format!("spark://{}.events", spark.schema),
        format!("spark://{}.mixedcase", spark.schema),
        format!("spark://default.{current}"),
    ] {
        assert!(tables.contains(&listed), "{listed} in {tables:?}");
    }
    let columns = connections
        .describe_table(&format!("spark://{}.events", spark.schema))
        .unwrap();
    let described: Vec<(&str, &str)> = columns
        .iter()
        .map(|c| (c.name.as_str(), c.data_type.as_str()))
        .collect();
    assert_eq!(described, [("x", "int"), ("Mixed Case", "string")]);

    // `sql --explain` shows Spark's own plan.
    let specs = SpecCache::from_strings(
        &[&metric(
            "n",
            &format!("spark://{}.events", spark.schema),
            "  numerator: SUM(x)\n",
        )],
        &[],
        &[],
    )
    .unwrap();
    let compute = MetricCompute::new(&specs, &connections);
    let plan = compute.plan(&ComputeRequest::new(["n"])).unwrap();
    let explained = compute.explain(&plan.statements()[0]).unwrap();
    assert!(explained.contains("Physical Plan"), "{explained}");
    assert!(explained.contains("HashAggregate"), "{explained}");

    // A missing table names the closest one of its schema.
    let err = count(&connections, &format!("spark://{}.evnts", spark.schema)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TableNotFound, "{err}");
    assert!(err.to_string().contains("did you mean `events`?"), "{err}");

    spark.sql(&[
        &format!("DROP TABLE default.{current}"),
        &format!("DROP VIEW global_temp.`{odd}`"),
    ]);
}

/// `TIMESTAMP` columns (instants) are cut into periods in the session's time zone: UTC unless
/// `time_zone` says otherwise; `TIMESTAMP_NTZ` columns are wall-clock times whatever the zone.
/// Other session settings are set as given.
#[test]
fn the_session_time_zone_and_settings() {
    let Some(spark) = Spark::new("time_zone") else {
        return;
    };
    spark.sql(&[
        &format!(
            "CREATE TABLE {}.events (ts TIMESTAMP, ts_ntz TIMESTAMP_NTZ, x INT)",
            spark.schema
        ),
        // Written in UTC: 03:00 UTC on 1 January is 22:00 on 31 December in New York.
        &format!(
            "INSERT INTO {}.events VALUES (TIMESTAMP '2024-01-01 03:00:00+00:00', TIMESTAMP_NTZ '2024-01-01 03:00:00', 1), (TIMESTAMP '2024-01-01 12:00:00+00:00', TIMESTAMP_NTZ '2024-01-01 12:00:00', 2)",
            spark.schema
        ),
    ]);
    let days = |zone: &str, column: &str| -> Vec<(String, Option<f64>)> {
        let connections = connections(
            &spark,
            &format!("  time_zone: {zone}\n  conf:\n    spark.sql.shuffle.partitions: 3\n"),
        );
        let specs = SpecCache::from_strings(
            &[&metric(
                "x",
                &format!("spark://{}.events", spark.schema),
                &format!("  numerator: SUM(x)\n  timestamp_col: {column}\n"),
            )],
            &[],
            &[],
        )
        .unwrap();
        MetricCompute::new(&specs, &connections)
            .compute(
                &ComputeRequest::new(["x"])
                    .time_window("2023-12-01", "2024-02-01")
                    .period(PeriodType::Daily)
                    .sorted(true),
            )
            .unwrap()
            .rows()
            .unwrap()
            .into_iter()
            .map(|r| (r.period_start_date.unwrap(), r.metric_value))
            .collect()
    };
    let day = |d: &str, v: f64| (format!("{d} 00:00:00"), Some(v));
    assert_eq!(days("UTC", "ts"), [day("2024-01-01", 3.0)]);
    assert_eq!(
        days("America/New_York", "ts"),
        [day("2023-12-31", 1.0), day("2024-01-01", 2.0)]
    );
    assert_eq!(days("America/New_York", "ts_ntz"), [day("2024-01-01", 3.0)]);

    // A setting Spark refuses is a connection error that names it.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("connections.yaml");
    std::fs::write(
        &file,
        spark.connections_yaml("  conf:\n    spark.sql.shuffle.partitions: many\n"),
    )
    .unwrap();
    let err = count(
        &ConnectionManager::from_yaml(&file).unwrap(),
        &format!("spark://{}.events", spark.schema),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(
        err.to_string().contains("spark.sql.shuffle.partitions"),
        "{err}"
    );
}

/// `ConnectionManager::interrupt` stops the running statement on the server, a statement past
/// `statement_timeout` is interrupted and fails as a timeout, and the session keeps working.
#[test]
fn interrupts_and_statement_timeouts() {
    let Some(spark) = Spark::new("interrupt") else {
        return;
    };
    spark.sql(&[
        &format!(
            // 1,000 tasks of 100 million rows: minutes of work, which a cancel stops between two
            // tasks (a running task finishes first: its loop does not look for interrupts).
            "CREATE VIEW {}.endless AS SELECT id AS x FROM range(0, 100000000000, 1, 1000)",
            spark.schema
        ),
        &format!("CREATE TABLE {}.small AS SELECT 7 AS x", spark.schema),
    ]);
    let schema = spark.schema.clone();
    let specs = move || {
        SpecCache::from_strings(
            &[
                &metric(
                    "endless",
                    &format!("spark://{schema}.endless"),
                    "  numerator: SUM(x % 7)\n",
                ),
                &metric(
                    "small",
                    &format!("spark://{schema}.small"),
                    "  numerator: SUM(x)\n",
                ),
            ],
            &[],
            &[],
        )
        .unwrap()
    };
    let (specs_now, connections) = (specs(), connections(&spark, ""));
    let compute = MetricCompute::new(&specs_now, &connections);
    // Interrupted once its statement runs: a Spark job that starts while the interrupt arrives
    // (an adaptive plan's first stage) can miss it and run on in the session.
    let err = std::thread::scope(|scope| {
        let running = scope.spawn(|| compute.compute(&ComputeRequest::new(["endless"])));
        std::thread::sleep(std::time::Duration::from_secs(3));
        let deadline = std::time::Instant::now() + common::HANG;
        while !running.is_finished() {
            assert!(
                std::time::Instant::now() < deadline,
                "not interrupted: a hang"
            );
            connections.interrupt();
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        running.join().unwrap().unwrap_err()
    });
    assert_eq!(
        err.backend_error().map(|b| b.kind()),
        Some(BackendErrorKind::Cancelled),
        "{err}"
    );
    let small = compute.compute(&ComputeRequest::new(["small"])).unwrap();
    assert_eq!(small.rows().unwrap()[0].metric_value, Some(7.0));

    // On a thread of its own, so that a statement that is never interrupted fails as a hang.
    let limited = spark.connections_yaml("  statement_timeout: 3s\n");
    let err = common::within(move || {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("connections.yaml");
        std::fs::write(&file, limited).unwrap();
        let (specs, connections) = (specs(), ConnectionManager::from_yaml(&file).unwrap());
        MetricCompute::new(&specs, &connections)
            .compute(&ComputeRequest::new(["endless"]))
            .unwrap_err()
    });
    assert_eq!(
        err.backend_error().map(|b| b.kind()),
        Some(BackendErrorKind::Timeout),
        "{err}"
    );
    assert!(err.to_string().contains("statement_timeout"), "{err}");
}

#[test]
fn an_unreachable_server_or_a_wrong_protocol_is_a_connection_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let unreachable = |url: String| {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("connections.yaml");
        std::fs::write(
            &file,
            format!("spark:\n  url: {url}\n  connect_timeout: 5s\n"),
        )
        .unwrap();
        let connections = ConnectionManager::from_yaml(&file).unwrap();
        common::within(move || connections.list_tables()).unwrap_err()
    };
    let err = unreachable(format!("sc://127.0.0.1:{port}"));
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert_eq!(
        err.backend_error().map(|b| b.kind()),
        Some(BackendErrorKind::Connection),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains(&format!("Spark Connect at sc://127.0.0.1:{port}")),
        "{err}"
    );
    // TLS to a server that speaks plain gRPC: a connection error, and the token never shows.
    let Some(server) = common::spark::url("tls") else {
        return;
    };
    let err = unreachable(format!("{server}/;token=s3cr3t-t0ken"));
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
    assert!(!format!("{err:?}").contains("s3cr3t"), "{err:?}");
}
