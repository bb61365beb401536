//! Test projects: a real DuckDB file built from SQL, spec files, and a connections file, in a
//! temporary directory.

#![allow(dead_code)]

pub mod bigquery;
pub mod postgres;
pub mod spark;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use aitaem::ComputeRequest;
use aitaem::result::ResultRow;
use aitaem::{ComputeResult, ConnectionManager, MetricCompute, SpecCache};

pub struct Project {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
}

impl Project {
    /// A project whose database `main.duckdb` is built by `setup` (SQL statements).
    pub fn new(setup: &str) -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("main.duckdb");
        let conn = duckdb::Connection::open(&db).expect("open db");
        conn.execute_batch(setup).expect("setup SQL");
        drop(conn);
        std::fs::write(
            dir.path().join("connections.yaml"),
            "duckdb:\n  path: main.duckdb\n",
        )
        .unwrap();
        Project { dir, db }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Copies the spec files of `tests/fixtures/<name>/` (metrics, slices, segments) into the
    /// project.
    pub fn fixture(&self, name: &str) -> &Self {
        let from = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        for kind in ["metrics", "slices", "segments"] {
            let Ok(files) = std::fs::read_dir(from.join(kind)) else {
                continue;
            };
            let to = self.path().join(kind);
            std::fs::create_dir_all(&to).unwrap();
            for file in files {
                let file = file.unwrap().path();
                std::fs::copy(&file, to.join(file.file_name().unwrap())).unwrap();
            }
        }
        self
    }

    /// Writes `yaml` to `<kind>/<name>.yaml` (kind: metrics, slices, segments).
    pub fn spec(&self, kind: &str, name: &str, yaml: &str) -> &Self {
        let dir = self.path().join(kind);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.yaml")), yaml).unwrap();
        self
    }

    pub fn specs(&self) -> SpecCache {
        SpecCache::from_project(self.path()).unwrap_or_else(|e| panic!("specs: {e}"))
    }

    pub fn connections(&self) -> ConnectionManager {
        ConnectionManager::from_yaml(self.path().join("connections.yaml"))
            .unwrap_or_else(|e| panic!("connections: {e}"))
    }

    pub fn compute(&self, request: &ComputeRequest) -> aitaem::Result<ComputeResult> {
        let specs = self.specs();
        let connections = self.connections();
        MetricCompute::new(&specs, &connections).compute(request)
    }

    /// The rows of a request, ordered.
    pub fn rows(&self, request: &ComputeRequest) -> Vec<ResultRow> {
        let result = self
            .compute(&request.clone().sorted(true))
            .unwrap_or_else(|e| panic!("{}: {e}", e.kind()));
        assert!(
            result.warnings().is_empty(),
            "warnings: {:?}",
            result.warnings()
        );
        result.rows().unwrap()
    }

    /// The independent calculation: one hand-written query returning one number.
    pub fn scalar(&self, sql: &str) -> Option<f64> {
        let conn = duckdb::Connection::open(&self.db).unwrap();
        conn.query_row(sql, [], |r| r.get::<_, Option<f64>>(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// Rows keyed by (metric, slice type, slice value, segment name, segment value, period start,
/// entity) for lookups.
pub type Key = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

/// A row's labels.
pub fn key(r: &ResultRow) -> Key {
    (
        r.metric_name.clone(),
        r.slice_type.clone(),
        r.slice_value.clone(),
        r.segment_name.clone(),
        r.segment_value.clone(),
        r.period_start_date.clone(),
        r.entity_id.clone(),
    )
}

pub fn by_key(rows: &[ResultRow]) -> BTreeMap<Key, Option<f64>> {
    let mut map = BTreeMap::new();
    for r in rows {
        let key = key(r);
        assert!(
            map.insert(key.clone(), r.metric_value).is_none(),
            "duplicate row {key:?}"
        );
    }
    map
}

/// The value of the row with these labels (no period, no entity).
pub fn value(
    rows: &[ResultRow],
    metric: &str,
    slice: (&str, &str),
    segment: (&str, &str),
) -> Option<f64> {
    let found: Vec<&ResultRow> = rows
        .iter()
        .filter(|r| {
            r.metric_name == metric
                && r.slice_type == slice.0
                && r.slice_value == slice.1
                && r.segment_name == segment.0
                && r.segment_value == segment.1
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one row for {metric} {slice:?} {segment:?}, found {}",
        found.len()
    );
    found[0].metric_value
}

/// The (slice value, value) pairs of one metric and slice type, baseline segment.
pub fn slice_values(
    rows: &[ResultRow],
    metric: &str,
    slice_type: &str,
) -> Vec<(String, Option<f64>)> {
    rows.iter()
        .filter(|r| {
            r.metric_name == metric && r.slice_type == slice_type && r.segment_name == "none"
        })
        .map(|r| (r.slice_value.clone(), r.metric_value))
        .collect()
}

pub fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// A metric spec reading `source`, with more fields in `body` (YAML lines, indented by two).
pub fn metric(name: &str, source: &str, body: &str) -> String {
    format!("metric:\n  name: {name}\n  source: {source}\n{body}")
}

/// The value of a test server's environment variable, or `None` after saying that `test` is
/// skipped; under `CI=true` a missing server fails the test instead.
pub fn server(variable: &str, test: &str, what: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(value) if !value.is_empty() => Some(value),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{test}: {variable} is not set; run the tests with scripts/test.sh");
            }
            eprintln!(
                "skipped {test}: no {what} ({variable} is not set; scripts/test.sh starts one)"
            );
            None
        }
    }
}

/// A name no other test of this run uses: `t_<test>_<process>_<n>` (a schema, a dataset, a
/// database).
pub fn unique_name(test: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "t_{}_{}_{}",
        test.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(30)
            .collect::<String>(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The example project shipped with the repository.
pub fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ads")
}

/// How long a test waits before it calls something a hang: far beyond what any step of the
/// tests takes on a slow, loaded machine, so that only a real hang fails.
pub const HANG: std::time::Duration = std::time::Duration::from_secs(120);

/// Runs `work` on its own thread and returns what it returns; panics when it has not finished
/// after [`HANG`] (the thread is left behind).
pub fn within<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, outcome) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(work());
    });
    outcome
        .recv_timeout(HANG)
        .unwrap_or_else(|_| panic!("no answer after {} s: a hang", HANG.as_secs()))
}

/// Runs a compute that would take minutes and interrupts it through `connections` until it
/// stops (an interrupt before its statement starts has nothing to stop); returns its error.
/// Panics when interrupting does not stop it within [`HANG`].
pub fn interrupted(
    connections: &ConnectionManager,
    compute: &MetricCompute,
    request: &ComputeRequest,
) -> aitaem::Error {
    let deadline = std::time::Instant::now() + HANG;
    std::thread::scope(|scope| {
        let running = scope.spawn(|| compute.compute(request));
        while !running.is_finished() {
            assert!(
                std::time::Instant::now() < deadline,
                "the compute did not stop within {} s of interrupting it",
                HANG.as_secs()
            );
            connections.interrupt();
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        match running.join().unwrap() {
            Ok(_) => panic!("the compute finished although it was interrupted"),
            Err(err) => err,
        }
    })
}

/// One expected row: metric, slice value (`all`: the baseline), segment value (`all`: none),
/// period start (a prefix of `period_start_date`), then the metric value and the derived
/// columns in result order.
pub type Expected<'a> = (&'a str, &'a str, &'a str, &'a str, Vec<Option<f64>>);

/// NULL, in [`Expected`] rows.
pub const N: Option<f64> = None;

/// A value, in [`Expected`] rows.
pub fn v(x: f64) -> Option<f64> {
    Some(x)
}

/// Checks that `result` (of `request`) has the rows of `expected`, each once, with those
/// values (1e-9 relative), and, when `complete`, no other rows of the metrics named there.
/// `what` names the case in failures.
pub fn assert_rows(
    what: &str,
    result: &ComputeResult,
    request: &ComputeRequest,
    expected: &[Expected],
    complete: bool,
) {
    let names: Vec<&str> = result
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    let derived = request.derived_columns();
    assert_eq!(names.len(), 11 + derived.len(), "{what}: {names:?}");
    for (name, column) in names[11..].iter().zip(&derived) {
        assert_eq!(*name, column.name(), "{what}");
    }
    let rows = result.rows().unwrap();
    for (metric, slice, segment, period, values) in expected {
        let found: Vec<&ResultRow> = rows
            .iter()
            .filter(|r| {
                r.metric_name == *metric
                    && r.slice_value == *slice
                    && (r.slice_type == "none") == (*slice == "all")
                    && r.segment_value == *segment
                    && (r.segment_name == "none") == (*segment == "all")
                    && r.period_start_date
                        .as_deref()
                        .unwrap_or("")
                        .starts_with(period)
            })
            .collect();
        let row_name = format!("{what}: {metric} {slice} {segment} {period}");
        assert_eq!(found.len(), 1, "{row_name}: {} rows", found.len());
        let row = found[0];
        let mut got = vec![row.metric_value];
        got.extend(derived.iter().map(|c| row.derived(*c)));
        assert_eq!(got.len(), values.len(), "{row_name}");
        for ((have, want), column) in got
            .iter()
            .zip(values)
            .zip(std::iter::once("metric_value").chain(derived.iter().map(|c| c.name())))
        {
            let same = match (have, want) {
                (Some(a), Some(b)) => close(*a, *b),
                (None, None) => true,
                _ => false,
            };
            assert!(same, "{row_name}: {column} is {have:?}, expected {want:?}");
        }
    }
    if complete {
        let metrics: Vec<&str> = expected.iter().map(|e| e.0).collect();
        let counted: Vec<String> = rows
            .iter()
            .filter(|r| metrics.contains(&r.metric_name.as_str()))
            .map(|r| {
                format!(
                    "{} {} {} {:?}",
                    r.metric_name, r.slice_value, r.segment_value, r.period_start_date
                )
            })
            .collect();
        assert_eq!(counted.len(), expected.len(), "{what}: rows {counted:#?}");
    }
}

/// The statements of a dataset in a backend's SQL, given its names for a timestamp, text and an
/// integer, and a function that qualifies a table name.
pub type Statements<'a> = &'a dyn Fn([&str; 3], &TableName) -> Vec<String>;

/// Qualifies a table name in a backend's SQL.
pub type TableName = dyn Fn(&str) -> String;

/// Runs statements on a backend's database.
type Run = dyn Fn(&[String]);

/// A backend loaded with a test's dataset: its name, specs and connections.
pub struct Backend {
    pub name: &'static str,
    pub specs: SpecCache,
    pub connections: ConnectionManager,
    types: [&'static str; 3],
    table: Box<TableName>,
    run: Box<Run>,
    _keep: Box<dyn std::any::Any>,
}

impl Backend {
    /// Runs statements written like a dataset's (see [`backends`]) on the backend's database,
    /// with its connections closed meanwhile (they open again when next needed).
    pub fn execute(&self, statements: Statements) {
        for backend in self.connections.backends() {
            self.connections.close(backend);
        }
        (self.run)(&statements(self.types, &*self.table));
    }
}

/// The dataset of `setup` on DuckDB, and on PostgreSQL, the BigQuery emulator and Spark when the
/// test run has them (see [`server`]), with the specs `specs` makes for each backend's URI prefix.
/// `setup` writes the dataset's statements in a backend's SQL, given its names for a timestamp,
/// text and an integer, and a function that qualifies a table name.
pub fn backends(
    test: &str,
    setup: impl Fn([&str; 3], &dyn Fn(&str) -> String) -> Vec<String>,
    specs: impl Fn(&str) -> SpecCache,
) -> Vec<Backend> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data.duckdb");
    let duck_types = ["TIMESTAMP", "VARCHAR", "INTEGER"];
    let run_duck = {
        let db = db.clone();
        move |statements: &[String]| {
            let duck = duckdb::Connection::open(&db).unwrap();
            for sql in statements {
                duck.execute_batch(sql).unwrap();
            }
        }
    };
    run_duck(&setup(duck_types, &str::to_string));
    let mut connections = ConnectionManager::new();
    connections.add_connection(aitaem::backend::duckdb::DuckDbConfig::new(
        db.display().to_string(),
    ));
    out.push(Backend {
        name: "DuckDB",
        specs: specs(&format!("duckdb://{}/", db.display())),
        connections,
        types: duck_types,
        table: Box::new(str::to_string),
        run: Box::new(run_duck),
        _keep: Box::new(()),
    });
    let yaml = |name: &str, text: String| {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        ConnectionManager::from_yaml(&file).unwrap()
    };
    if let Some(pg) = postgres::Pg::new(test) {
        let pg = std::rc::Rc::new(pg);
        let types = ["TIMESTAMP", "TEXT", "INTEGER"];
        let run = {
            let pg = pg.clone();
            move |statements: &[String]| {
                pg.sql(&statements.join(";\n"));
            }
        };
        run(&setup(types, &str::to_string));
        let connections = yaml("postgres.yaml", pg.connections_yaml(""));
        out.push(Backend {
            name: "PostgreSQL",
            specs: specs(&format!("postgres://{}/", pg.schema)),
            connections,
            types,
            table: Box::new(str::to_string),
            run: Box::new(run),
            _keep: Box::new(pg),
        });
    }
    if let Some(bq) = bigquery::Bq::new(test) {
        let bq = std::rc::Rc::new(bq);
        let types = ["DATETIME", "STRING", "INT64"];
        let dataset = bq.dataset.clone();
        let table = move |t: &str| format!("{dataset}.{t}");
        let run = {
            let bq = bq.clone();
            move |statements: &[String]| {
                for sql in statements {
                    bq.sql(sql);
                }
            }
        };
        run(&setup(types, &table));
        let connections = yaml("bigquery.yaml", bq.connections_yaml(""));
        out.push(Backend {
            name: "BigQuery",
            specs: specs(&format!("bigquery://{}.", bq.dataset)),
            connections,
            types,
            table: Box::new(table),
            run: Box::new(run),
            _keep: Box::new(bq),
        });
    }
    if let Some(spark) = spark::Spark::new(test) {
        let spark = std::rc::Rc::new(spark);
        let types = ["TIMESTAMP_NTZ", "STRING", "INT"];
        let schema = spark.schema.clone();
        let table = move |t: &str| format!("{schema}.{t}");
        let run = {
            let spark = spark.clone();
            move |statements: &[String]| {
                spark.sql(&statements.iter().map(String::as_str).collect::<Vec<_>>());
            }
        };
        run(&setup(types, &table));
        let connections = yaml("spark.yaml", spark.connections_yaml(""));
        out.push(Backend {
            name: "Spark",
            specs: specs(&format!("spark://{}.", spark.schema)),
            connections,
            types,
            table: Box::new(table),
            run: Box::new(run),
            _keep: Box::new(spark),
        });
    }
    out[0]._keep = Box::new(dir);
    out
}

/// Runs `request` on every backend and checks its rows with [`assert_rows`] (and that no
/// source failed).
pub fn assert_everywhere(
    backends: &[Backend],
    request: &ComputeRequest,
    expected: &[Expected],
    complete: bool,
) {
    for backend in backends {
        let what = format!("{} {request:?}", backend.name);
        let result = MetricCompute::new(&backend.specs, &backend.connections)
            .compute(request)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            result.warnings().is_empty(),
            "{what}: {:?}",
            result.warnings()
        );
        assert_rows(&what, &result, request, expected, complete);
    }
}
