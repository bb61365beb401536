//! Connections and sources on real DuckDB files and CSV/Parquet/JSON files made by the tests.

mod common;

use std::path::Path;

use aitaem::BackendKind;
use aitaem::backend::duckdb::DuckDbConfig;
use aitaem::config::ConnectionsConfig;
use aitaem::duckdb::{LoadOptions, load_csvs};
use aitaem::{ComputeRequest, ConnectionManager, MetricCompute, SpecCache};
use common::Project;

const SETUP: &str = r#"
CREATE TABLE events (day DATE, clicks INTEGER);
INSERT INTO events VALUES ('2024-01-01', 1), ('2024-01-02', 2);
CREATE SCHEMA sales;
CREATE TABLE sales.orders (amount DOUBLE);
INSERT INTO sales.orders VALUES (10.5), (20);
CREATE TABLE "My Events" ("Order" INTEGER, "select" VARCHAR, "Event Time" TIMESTAMP);
INSERT INTO "My Events" VALUES (5, 'a', '2024-01-01 10:00'), (7, 'b', '2024-01-02 10:00'), (11, 'a', '2024-03-01');
CREATE VIEW big_clicks AS SELECT * FROM events WHERE clicks > 1;
"#;

/// Computes `SUM(<expr>)` over a source with a fresh cache and the project's connections.
fn sum(
    p: &Project,
    connections: &ConnectionManager,
    source: &str,
    expr: &str,
) -> aitaem::Result<Option<f64>> {
    let metric = format!("metric:\n  name: m\n  source: \"{source}\"\n  numerator: SUM({expr})\n");
    let specs = SpecCache::from_strings(&[&metric], &[], &[])?;
    let _ = p;
    let result = MetricCompute::new(&specs, connections).compute(&ComputeRequest::new(["m"]))?;
    Ok(result.rows().unwrap()[0].metric_value)
}

#[test]
fn every_duckdb_uri_form_reads_the_right_table() {
    let p = Project::new(SETUP);
    let connections = p.connections();
    let abs_db = p.db.display().to_string();
    for source in [
        "duckdb://main.duckdb/events".to_string(),
        "duckdb://:memory:/events".to_string(),
        "duckdb://events".to_string(),
        format!("duckdb://{abs_db}/events"),
        format!("duckdb://{abs_db}/main.events"),
        "duckdb://main.duckdb/EVENTS".to_string(),
        "duckdb://main.duckdb/big_clicks".to_string(),
    ] {
        let expected = if source.ends_with("big_clicks") {
            2.0
        } else {
            3.0
        };
        assert_eq!(
            sum(&p, &connections, &source, "clicks").unwrap(),
            Some(expected),
            "{source}"
        );
    }
    assert_eq!(
        sum(
            &p,
            &connections,
            "duckdb://main.duckdb/sales.orders",
            "amount"
        )
        .unwrap(),
        Some(30.5)
    );
}

#[test]
fn names_with_spaces_capitals_and_reserved_words_are_quoted() {
    let p = Project::new(SETUP);
    p.spec(
        "metrics",
        "orders",
        "metric:\n  name: orders\n  source: duckdb://main.duckdb/My Events\n  numerator: SUM(\"Order\")\n  timestamp_col: '\"Event Time\"'\n  entities: ['\"select\"']\n",
    )
    .spec("slices", "select", "slice:\n  name: select\n  where: '\"select\"'\n");
    let rows = p.rows(
        &ComputeRequest::new(["orders"])
            .slices(["select"])
            .time_window("2024-01-01", "2024-02-01"),
    );
    let got: Vec<(String, Option<f64>)> = rows
        .iter()
        .map(|r| (r.slice_value.clone(), r.metric_value))
        .collect();
    assert_eq!(
        got,
        vec![
            ("a".into(), Some(5.0)),
            ("b".into(), Some(7.0)),
            ("all".into(), Some(12.0))
        ]
    );
    let rows = p.rows(&ComputeRequest::new(["orders"]).by_entity("\"select\""));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].entity_id.as_deref(), Some("a"));
    assert_eq!(rows[0].metric_value, Some(16.0));
}

#[test]
fn another_database_file_is_attached_read_only() {
    let p = Project::new(SETUP);
    let other = p.path().join("other.duckdb");
    {
        let conn = duckdb::Connection::open(&other).unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (40), (2);")
            .unwrap();
    }
    let connections = p.connections();
    assert_eq!(
        sum(&p, &connections, "duckdb://other.duckdb/t", "x").unwrap(),
        Some(42.0)
    );
    // Both databases in one call.
    let specs = SpecCache::from_strings(
        &[
            "metric:\n  name: a\n  source: duckdb://other.duckdb/t\n  numerator: SUM(x)\n",
            "metric:\n  name: b\n  source: duckdb://main.duckdb/events\n  numerator: SUM(clicks)\n",
        ],
        &[],
        &[],
    )
    .unwrap();
    let rows = MetricCompute::new(&specs, &connections)
        .compute(&ComputeRequest::new(["a", "b"]))
        .unwrap()
        .rows()
        .unwrap();
    assert_eq!(
        (rows[0].metric_value, rows[1].metric_value),
        (Some(42.0), Some(3.0))
    );
    let err = sum(&p, &connections, "duckdb://missing.duckdb/t", "x").unwrap_err();
    assert_eq!(err.kind(), aitaem::ErrorKind::TableNotFound);
    assert!(
        err.to_string()
            .contains("there is no database file `missing.duckdb`"),
        "{err}"
    );
}

/// The original library reads the database part of a DuckDB URI as a label for the configured
/// database; projects written for it keep working.
#[test]
fn a_database_named_but_not_there_is_the_configured_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("examples/data");
    std::fs::create_dir_all(&data).unwrap();
    let conn = duckdb::Connection::open(data.join("ad_campaigns.duckdb")).unwrap();
    conn.execute_batch("CREATE TABLE ad_campaigns AS SELECT 5 AS clicks UNION ALL SELECT 6")
        .unwrap();
    drop(conn);
    std::fs::write(
        dir.path().join("connections.yaml"),
        "duckdb:\n  path: examples/data/ad_campaigns.duckdb\n",
    )
    .unwrap();
    let connections = ConnectionManager::from_yaml(dir.path().join("connections.yaml")).unwrap();
    let compute = |source: &str| {
        let metric = format!("metric:\n  name: m\n  source: {source}\n  numerator: SUM(clicks)\n");
        let specs = SpecCache::from_strings(&[&metric], &[], &[]).unwrap();
        MetricCompute::new(&specs, &connections).compute(&ComputeRequest::new(["m"]))
    };
    // The same file name: silently the configured database.
    let result = compute("duckdb://ad_campaigns.duckdb/ad_campaigns").unwrap();
    assert_eq!(result.rows().unwrap()[0].metric_value, Some(11.0));
    assert!(result.notices().is_empty(), "{:?}", result.notices());
    // Another name: the configured database, with a note saying so.
    let result = compute("duckdb://campaigns.db/ad_campaigns").unwrap();
    assert_eq!(result.rows().unwrap()[0].metric_value, Some(11.0));
    assert_eq!(result.notices().len(), 1);
    assert!(
        result.notices()[0].contains("there is no database file `campaigns.db`"),
        "{:?}",
        result.notices()
    );
    // Without a DuckDB connection, a database that is not there is an error.
    let nothing = ConnectionManager::new();
    let specs = SpecCache::from_strings(
        &["metric:\n  name: m\n  source: duckdb://nowhere.duckdb/t\n  numerator: COUNT(*)\n"],
        &[],
        &[],
    )
    .unwrap();
    let err = MetricCompute::new(&specs, &nothing)
        .compute(&ComputeRequest::new(["m"]))
        .unwrap_err();
    assert_eq!(err.kind(), aitaem::ErrorKind::ConnectionNotFound, "{err}");
}

#[test]
fn csv_parquet_and_json_files_are_sources_without_configuration() {
    let p = Project::new(SETUP);
    let data = p.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("a.csv"), "k,v\nx,1\ny,2\n").unwrap();
    std::fs::write(data.join("b.csv"), "k,v\nz,4\n").unwrap();
    std::fs::write(data.join("c.jsonl"), "{\"v\": 8}\n{\"v\": 16}\n").unwrap();
    {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        conn.execute_batch(&format!(
            "COPY (SELECT 32 AS v UNION ALL SELECT 64) TO '{}' (FORMAT parquet)",
            data.join("d.parquet").display()
        ))
        .unwrap();
    }
    // No connections at all: files still work, relative to the working directory.
    let none = ConnectionManager::new();
    let abs = |name: &str| format!("duckdb://{}", data.join(name).display());
    assert_eq!(sum(&p, &none, &abs("a.csv"), "v").unwrap(), Some(3.0));
    assert_eq!(sum(&p, &none, &abs("*.csv"), "v").unwrap(), Some(7.0));
    assert_eq!(sum(&p, &none, &abs("c.jsonl"), "v").unwrap(), Some(24.0));
    assert_eq!(sum(&p, &none, &abs("d.parquet"), "v").unwrap(), Some(96.0));
    // With a connections file, relative file paths resolve next to it.
    let connections = p.connections();
    assert_eq!(
        sum(&p, &connections, "duckdb://data/a.csv", "v").unwrap(),
        Some(3.0)
    );
    assert_eq!(
        sum(&p, &connections, "duckdb://:memory:/data/b.csv", "v").unwrap(),
        Some(4.0)
    );
    let err = sum(&p, &connections, "duckdb://data/nope.csv", "v").unwrap_err();
    assert_eq!(err.kind(), aitaem::ErrorKind::TableNotFound);
    assert!(err.to_string().contains("file not found"), "{err}");
}

#[test]
fn configuration_files_resolve_paths_and_substitute_variables() {
    let p = Project::new(SETUP);
    let conf_dir = p.path().join("conf");
    std::fs::create_dir(&conf_dir).unwrap();
    let env = |name: &str| (name == "STAGE").then(|| "main".to_string());
    // A partial string, relative to the connections file's directory.
    let config = ConnectionsConfig::from_str_with(
        "duckdb:\n  path: ../${STAGE}.duckdb\n  read_only: true\n",
        Some(conf_dir.join("connections.yaml").into()),
        env,
    )
    .unwrap();
    let connections = ConnectionManager::from_config(config);
    assert_eq!(
        sum(&p, &connections, "duckdb://events", "clicks").unwrap(),
        Some(3.0)
    );

    let err = ConnectionsConfig::from_str_with("duckdb:\n  path: ${NOT_SET}.duckdb\n", None, env)
        .unwrap_err();
    assert_eq!(err.kind(), aitaem::ErrorKind::Configuration);
    assert!(err.to_string().contains("`NOT_SET` is not set"), "{err}");

    std::fs::write(
        conf_dir.join("connections.yaml"),
        "duckdb:\n  path: nowhere.duckdb\n",
    )
    .unwrap();
    // Connections open when first needed; opening fails without creating the database.
    let connections = ConnectionManager::from_yaml(conf_dir.join("connections.yaml")).unwrap();
    let err = connections.open(BackendKind::DUCKDB).unwrap_err();
    assert_eq!(err.kind(), aitaem::ErrorKind::Connection);
    assert!(
        err.to_string().contains("nowhere.duckdb` not found"),
        "{err}"
    );
    assert!(!conf_dir.join("nowhere.duckdb").exists());
}

#[test]
fn an_unreachable_backend_does_not_stop_the_others() {
    let p = Project::new(SETUP);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    std::fs::write(
        p.path().join("connections.yaml"),
        format!("duckdb:\n  path: main.duckdb\npostgres:\n  host: 127.0.0.1\n  port: {port}\n  database: db\n  user: u\n  password: pw\n"),
    )
    .unwrap();
    let connections = p.connections();
    let err = sum(&p, &connections, "postgres://public/events", "x").unwrap_err();
    assert_eq!(err.kind(), aitaem::ErrorKind::Connection, "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    assert!(!err.to_string().contains("pw"), "{err}");
    assert_eq!(
        sum(&p, &connections, "duckdb://events", "clicks").unwrap(),
        Some(3.0)
    );
}

#[test]
fn programmatic_connections_and_close_all() {
    let p = Project::new(SETUP);
    let mut connections = ConnectionManager::new();
    connections.add_connection(DuckDbConfig::new(p.db.display().to_string()).read_only(true));
    assert_eq!(
        sum(&p, &connections, "duckdb://events", "clicks").unwrap(),
        Some(3.0)
    );
    connections.close_all();
    let err = sum(&p, &connections, "duckdb://events", "clicks").unwrap_err();
    assert_eq!(err.kind(), aitaem::ErrorKind::ConnectionNotFound);
}

fn write_csvs(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

fn tables(db: &Path) -> Vec<String> {
    let conn = duckdb::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT table_name FROM duckdb_tables() ORDER BY 1")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn loading_a_directory_of_csvs_names_tables_after_files() {
    let dir = tempfile::tempdir().unwrap();
    let csvs = dir.path().join("csv");
    write_csvs(
        &csvs,
        &[
            (
                "events.csv",
                "day,clicks,price\n2024-01-01,3,1.5\n2024-01-02,4,2.5\n",
            ),
            ("2024 Sales-EU.csv", "region,amount\nEU,10\n"),
            ("notes.txt", "not a csv"),
        ],
    );
    let db = dir.path().join("ads.duckdb");
    let mut events = Vec::new();
    let (conn, loaded) = load_csvs(&csvs, &db, LoadOptions::default(), |e| {
        if let aitaem::duckdb::LoadEvent::Finished { table, rows } = e {
            events.push((table.to_string(), rows));
        }
    })
    .unwrap();
    assert_eq!(
        events,
        vec![("_2024_Sales_EU".to_string(), 1), ("events".to_string(), 2)]
    );
    assert_eq!(loaded.len(), 2);
    // Types are inferred.
    let types: Vec<String> = {
        let mut stmt = conn
            .prepare("SELECT data_type FROM duckdb_columns() WHERE table_name = 'events' ORDER BY column_index")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(types, ["DATE", "BIGINT", "DOUBLE"]);

    // The returned connection plugs into a manager; list_tables gives usable URIs.
    let mut connections = ConnectionManager::new();
    connections.add_duckdb_connection(conn).unwrap();
    let uris = connections.list_tables().unwrap();
    assert_eq!(uris.len(), 2, "{uris:?}");
    let events_uri = uris.iter().find(|u| u.ends_with("/events")).unwrap();
    let columns = connections.describe_table(events_uri).unwrap();
    let names: Vec<(&str, &str)> = columns
        .iter()
        .map(|c| (c.name.as_str(), c.data_type.as_str()))
        .collect();
    assert_eq!(
        names,
        [("day", "DATE"), ("clicks", "BIGINT"), ("price", "DOUBLE")]
    );
    let p = Project::new("SELECT 1");
    assert_eq!(
        sum(&p, &connections, events_uri, "clicks").unwrap(),
        Some(7.0)
    );
}

#[test]
fn loading_refuses_to_replace_unless_asked_and_fails_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ads.duckdb");
    let first = dir.path().join("first");
    write_csvs(&first, &[("events.csv", "clicks\n1\n")]);
    load_csvs(&first, &db, LoadOptions::default(), |_| {}).unwrap();

    let second = dir.path().join("second");
    write_csvs(
        &second,
        &[("events.csv", "clicks\n5\n"), ("other.csv", "x\n1\n")],
    );
    let err = load_csvs(&second, &db, LoadOptions::default(), |_| {}).unwrap_err();
    assert_eq!(err.kind(), aitaem::ErrorKind::Load);
    assert!(err.to_string().contains("`events` already exist"), "{err}");
    assert_eq!(tables(&db), ["events"], "nothing was loaded");

    load_csvs(
        &second,
        &db,
        LoadOptions::default().with_existing(aitaem::duckdb::Existing::Replace),
        |_| {},
    )
    .unwrap();
    let conn = duckdb::Connection::open(&db).unwrap();
    let clicks: i64 = conn
        .query_row("SELECT SUM(clicks) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(clicks, 5);
    drop(conn);

    // Appending adds the rows to the tables that exist (and creates the others).
    let loaded = load_csvs(
        &second,
        &db,
        LoadOptions::default().with_existing(aitaem::duckdb::Existing::Append),
        |_| {},
    )
    .unwrap()
    .1;
    assert_eq!(loaded.iter().map(|t| t.rows).sum::<u64>(), 2);
    let conn = duckdb::Connection::open(&db).unwrap();
    let (clicks, x): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT SUM(clicks) FROM events), (SELECT SUM(x) FROM other)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((clicks, x), (10, 2));
    drop(conn);

    // A file that fails halfway through a load leaves the database as it was.
    let third = dir.path().join("third");
    write_csvs(&third, &[("a_new.csv", "y\n1\n")]);
    std::fs::write(third.join("b_broken.csv"), b"a,b\n1,\xff\xfe\n").unwrap();
    let err = load_csvs(
        &third,
        &db,
        LoadOptions::default().with_existing(aitaem::duckdb::Existing::Replace),
        |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("b_broken.csv"), "{err}");
    assert!(err.to_string().contains("nothing was loaded"), "{err}");
    assert_eq!(tables(&db), ["events", "other"]);

    // Two files that would load into one table.
    let fourth = dir.path().join("fourth");
    write_csvs(&fourth, &[("a-b.csv", "x\n1\n"), ("a_b.csv", "x\n2\n")]);
    let err = load_csvs(&fourth, &db, LoadOptions::default(), |_| {}).unwrap_err();
    assert!(
        err.to_string().contains("would both load into table `a_b`"),
        "{err}"
    );
}

#[test]
fn invalid_uris_are_reported_as_such() {
    let connections = ConnectionManager::new();
    let err = connections.describe_table("bigquery://table").unwrap_err();
    assert_eq!(err.kind(), aitaem::ErrorKind::InvalidUri);
    let err = connections.describe_table("mysql://db/t").unwrap_err();
    assert_eq!(err.kind(), aitaem::ErrorKind::UnsupportedBackend);
    let err = connections
        .describe_table("duckdb://db.duckdb/t")
        .unwrap_err();
    assert_eq!(err.kind(), aitaem::ErrorKind::ConnectionNotFound);
}

#[test]
fn computing_opens_databases_read_only_unless_this_process_writes_them() {
    let p = Project::new(&format!("{SETUP}\nCREATE SEQUENCE s;"));
    // read_only: false in the file, yet the database is opened read-only: a second process
    // could compute at the same time, and nothing can write through this connection.
    let connections = p.connections();
    assert_eq!(
        sum(&p, &connections, "duckdb://events", "clicks").unwrap(),
        Some(3.0)
    );
    let specs = SpecCache::from_strings(
        &["metric:\n  name: n\n  source: duckdb://events\n  numerator: COUNT(nextval('s'))\n"],
        &[],
        &[],
    )
    .unwrap();
    let err = MetricCompute::new(&specs, &connections)
        .compute(&ComputeRequest::new(["n"]))
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    drop(connections);
    // A connection this process holds read-write (a load's) is shared, not refused.
    let writer = duckdb::Connection::open(&p.db).unwrap();
    let connections = p.connections();
    assert_eq!(
        sum(&p, &connections, "duckdb://events", "clicks").unwrap(),
        Some(3.0)
    );
    drop(writer);
}

/// `ConnectionManager::interrupt`, from another thread, stops a running DuckDB statement: the
/// compute fails as cancelled (DuckDB's interrupt), and the connection keeps working.
#[test]
fn an_interrupt_stops_the_running_statement() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("big.duckdb");
    let conn = duckdb::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE VIEW endless AS SELECT range AS i FROM range(10000000000);
         CREATE TABLE small AS SELECT range AS i FROM range(5);",
    )
    .unwrap();
    drop(conn);
    let mut connections = ConnectionManager::new();
    connections.add_connection(DuckDbConfig::new(db.display().to_string()));
    let specs = SpecCache::from_strings(
        &[
            "metric:\n  name: endless\n  source: duckdb://endless\n  numerator: SUM(i * i % 7)\n",
            "metric:\n  name: small\n  source: duckdb://small\n  numerator: SUM(i)\n",
        ],
        &[],
        &[],
    )
    .unwrap();
    let compute = MetricCompute::new(&specs, &connections);
    let err = common::interrupted(&connections, &compute, &ComputeRequest::new(["endless"]));
    assert_eq!(
        err.backend_error().map(|b| b.kind()),
        Some(aitaem::error::BackendErrorKind::Cancelled),
        "{err}"
    );
    let rows = compute
        .compute(&ComputeRequest::new(["small"]))
        .unwrap()
        .rows()
        .unwrap();
    assert_eq!(rows[0].metric_value, Some(10.0));
}
