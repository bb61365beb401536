//! The same answers everywhere: one generated dataset (NULLs, zero denominators, quotes and
//! unicode in values, orphan and duplicate keys, a leap day, midnight and year boundaries,
//! integer columns in ratios) loaded into DuckDB, PostgreSQL, the BigQuery emulator and a local
//! Spark, and every
//! compute feature run on each: every aggregate kind, ratios, value-list / wildcard / composite slices with
//! overlapping values, value and wildcard segments with join keys, every period type, windows,
//! by-entity and grouping sets, quarters, week starts, filled gaps, comparisons, shares, running
//! and rolling totals. Results must be equal within 1e-9 relative.
//!
//! DuckDB's own answers are checked against hand-written SQL elsewhere (`oracle.rs`,
//! `compute.rs`); here PostgreSQL, BigQuery and Spark must agree with them row for row. The dataset is
//! loaded once for the whole file; each test is one feature, compared on every backend.

#![cfg(all(feature = "postgres", feature = "bigquery", feature = "spark"))]

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use aitaem::backend::duckdb::DuckDbConfig;
use aitaem::result::ResultRow;
use aitaem::{
    Comparison, ComputeRequest, ConnectionManager, MetricCompute, PeriodType, SpecCache, WeekStart,
};
use common::bigquery::Bq;
use common::postgres::Pg;
use common::spark::Spark;
use common::{Key, close};

/// A deterministic pseudo-random sequence (64-bit LCG, top bits).
struct Random(u64);

impl Random {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }

    fn pick<'a>(&mut self, values: &[&'a str]) -> &'a str {
        values[self.next(values.len() as u64) as usize]
    }
}

/// A CSV field: empty for NULL, quoted when it holds a comma, quote or newline.
fn field(value: Option<&str>) -> String {
    match value {
        None => String::new(),
        Some(v) if v.is_empty() || v.contains([',', '"', '\n']) => {
            format!("\"{}\"", v.replace('"', "\"\""))
        }
        Some(v) => v.to_string(),
    }
}

/// Timestamps every dataset has: midnights, the last second of a year, a leap day, the edges
/// of ISO weeks and of the test windows.
const BOUNDARIES: [&str; 10] = [
    "2023-12-31 23:59:59",
    "2024-01-01 00:00:00",
    "2024-01-07 23:59:59",
    "2024-01-08 00:00:00",
    "2024-02-29 00:00:00",
    "2024-02-29 23:59:59",
    "2024-03-01 00:00:00",
    "2024-12-30 00:00:00",
    "2024-12-31 23:59:59",
    "2025-01-01 00:00:00",
];

/// A column's type, as each backend spells it.
#[derive(Clone, Copy)]
enum Kind {
    Int,
    Timestamp,
    Date,
    Text,
    Double,
    Decimal,
    Bool,
}

/// The backends the dataset is loaded into, in the order of [`Kind::names`].
#[derive(Clone, Copy)]
enum Target {
    DuckDb = 0,
    Postgres = 1,
    BigQuery = 2,
    Spark = 3,
}

impl Kind {
    /// DuckDB, PostgreSQL, BigQuery, Spark.
    fn names(self) -> [&'static str; 4] {
        match self {
            Kind::Int => ["INTEGER", "INTEGER", "INT64", "INT"],
            Kind::Timestamp => ["TIMESTAMP", "TIMESTAMP", "DATETIME", "TIMESTAMP_NTZ"],
            Kind::Date => ["DATE", "DATE", "DATE", "DATE"],
            Kind::Text => ["VARCHAR", "TEXT", "STRING", "STRING"],
            Kind::Double => ["DOUBLE", "DOUBLE PRECISION", "FLOAT64", "DOUBLE"],
            Kind::Decimal => [
                "DECIMAL(10, 2)",
                "DECIMAL(10, 2)",
                "NUMERIC",
                "DECIMAL(10, 2)",
            ],
            Kind::Bool => ["BOOLEAN", "BOOLEAN", "BOOL", "BOOLEAN"],
        }
    }

    /// A Spark SQL literal of a value.
    fn spark_literal(self, value: &Option<String>) -> String {
        let Some(v) = value else {
            return "NULL".into();
        };
        match self {
            Kind::Timestamp => format!("TIMESTAMP_NTZ '{v}'"),
            Kind::Date => format!("DATE '{v}'"),
            Kind::Decimal => format!("CAST('{v}' AS DECIMAL(10, 2))"),
            Kind::Text => format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'")),
            Kind::Int | Kind::Double | Kind::Bool => v.clone(),
        }
    }

    /// A GoogleSQL literal of a value.
    fn google_literal(self, value: &Option<String>) -> String {
        let Some(v) = value else {
            return "NULL".into();
        };
        match self {
            Kind::Timestamp => format!("DATETIME '{v}'"),
            Kind::Date => format!("DATE '{v}'"),
            Kind::Decimal => format!("NUMERIC '{v}'"),
            Kind::Text => format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'")),
            Kind::Int | Kind::Double | Kind::Bool => v.clone(),
        }
    }
}

/// One table of the dataset: its columns and rows (values as text; `None` is NULL).
struct Data {
    name: &'static str,
    columns: Vec<(&'static str, Kind)>,
    rows: Vec<Vec<Option<String>>>,
}

impl Data {
    fn csv(&self) -> String {
        let header: Vec<&str> = self.columns.iter().map(|(c, _)| *c).collect();
        let mut out = format!("{}\n", header.join(","));
        for row in &self.rows {
            let fields: Vec<String> = row.iter().map(|v| field(v.as_deref())).collect();
            writeln!(out, "{}", fields.join(",")).unwrap();
        }
        out
    }

    /// `CREATE TABLE` in a backend's type names; `qualifier` goes before the table's name.
    fn create(&self, target: Target, qualifier: &str) -> String {
        let columns: Vec<String> = self
            .columns
            .iter()
            .map(|(c, k)| format!("{c} {}", k.names()[target as usize]))
            .collect();
        format!(
            "CREATE TABLE {qualifier}{} ({})",
            self.name,
            columns.join(", ")
        )
    }

    /// `INSERT` statements into `schema` with literals written by `literal`, a few hundred rows
    /// each.
    fn inserts(&self, schema: &str, literal: fn(Kind, &Option<String>) -> String) -> Vec<String> {
        self.rows
            .chunks(500)
            .map(|chunk| {
                let rows: Vec<String> = chunk
                    .iter()
                    .map(|row| {
                        let values: Vec<String> = row
                            .iter()
                            .zip(&self.columns)
                            .map(|(v, (_, k))| literal(*k, v))
                            .collect();
                        format!("({})", values.join(", "))
                    })
                    .collect();
                format!(
                    "INSERT INTO {schema}.{} VALUES {}",
                    self.name,
                    rows.join(", ")
                )
            })
            .collect()
    }
}

/// The three tables: events, users (with a duplicated key and conflicting labels) and platforms
/// (one platform of the events missing).
fn dataset() -> [Data; 3] {
    let mut r = Random(20240229);
    let text = |v: &str| (!v.is_empty()).then_some(v.to_string());
    let start = chrono::NaiveDate::from_ymd_opt(2023, 12, 20)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let mut events = Vec::new();
    for id in 1..=2500u64 {
        let ts = if id <= BOUNDARIES.len() as u64 {
            chrono::NaiveDateTime::parse_from_str(BOUNDARIES[id as usize - 1], "%Y-%m-%d %H:%M:%S")
                .unwrap()
        } else {
            start + chrono::Duration::seconds(r.next(390 * 86_400) as i64)
        };
        let user = match r.next(20) {
            0 => None,
            1 => Some("999".to_string()),
            _ => Some((1 + r.next(60)).to_string()),
        };
        let platform = r.pick(&["google", "meta", "reddit", "tiktok", ""]);
        let country = r.pick(&[
            "US",
            "FR",
            "Côte d'Ivoire",
            "O\"Neil, Inc",
            "日本",
            "",
            "US",
        ]);
        let device = r.pick(&["mobile", "desktop", "tablet", "", "mobile"]);
        let impressions = if r.next(8) == 0 { 0 } else { r.next(50) };
        let clicks = r.next(impressions.max(1) + 3);
        let revenue = match r.next(6) {
            0 => None,
            _ => Some(format!("{}.{:02}", r.next(200), r.next(100))),
        };
        let spend = format!("{}.{:02}", r.next(80), r.next(100));
        let converted = ["true", "false", ""][r.next(3) as usize];
        events.push(vec![
            Some(id.to_string()),
            Some(ts.format("%Y-%m-%d %H:%M:%S").to_string()),
            Some(ts.format("%Y-%m-%d").to_string()),
            user,
            text(platform),
            text(country),
            text(device),
            Some(clicks.to_string()),
            Some(impressions.to_string()),
            revenue,
            Some(spend),
            text(converted),
        ]);
    }
    let mut users = Vec::new();
    for id in 1..=60u64 {
        let tier = r.pick(&["free", "pro", "team", ""]);
        let region = r.pick(&["EMEA", "AMER", "APAC", ""]);
        users.push(vec![Some(id.to_string()), text(tier), text(region)]);
    }
    // A duplicated key with a second, different tier.
    users.push(vec![Some("7".into()), text("team"), text("EMEA")]);
    let platforms = [
        ("google", "search"),
        ("meta", "social"),
        ("reddit", "social"),
    ]
    .iter()
    .map(|(p, g)| vec![text(p), text(g)])
    .collect();
    use Kind::*;
    [
        Data {
            name: "events",
            columns: vec![
                ("event_id", Int),
                ("event_ts", Timestamp),
                ("event_day", Date),
                ("user_id", Int),
                ("platform", Text),
                ("country", Text),
                ("device", Text),
                ("clicks", Int),
                ("impressions", Int),
                ("revenue", Double),
                ("spend", Decimal),
                ("converted", Bool),
            ],
            rows: events,
        },
        Data {
            name: "users",
            columns: vec![("user_id", Int), ("tier", Text), ("region", Text)],
            rows: users,
        },
        Data {
            name: "platforms",
            columns: vec![("platform", Text), ("grp", Text)],
            rows: platforms,
        },
    ]
}

/// The specs, with every source under `prefix` (e.g. `duckdb://db.duckdb/`).
fn specs(prefix: &str) -> SpecCache {
    let metric = |name: &str, body: &str| {
        format!(
            "metric:\n  name: {name}\n  source: {prefix}events\n  timestamp_col: event_ts\n  entities: [user_id, platform]\n{body}"
        )
    };
    let metrics = [
        metric("revenue", "  numerator: SUM(revenue)\n"),
        metric("events", "  numerator: COUNT(*)\n"),
        metric("clicked_rows", "  numerator: COUNT(clicks)\n"),
        metric("avg_revenue", "  numerator: AVG(revenue)\n"),
        metric("extremes", "  numerator: MAX(revenue) - MIN(spend)\n"),
        metric("spend", "  numerator: SUM(spend)\n"),
        metric(
            "ctr",
            "  numerator: SUM(clicks)\n  denominator: SUM(impressions)\n",
        ),
        metric(
            "clicks_per_id",
            "  numerator: SUM(clicks) / SUM(event_id)\n",
        ),
        metric(
            "converted",
            "  numerator: COUNT(*) FILTER (WHERE converted)\n",
        ),
        metric("users", "  numerator: COUNT(DISTINCT user_id)\n"),
        metric(
            "median_revenue",
            "  numerator: percentile_cont(0.5) WITHIN GROUP (ORDER BY revenue)\n",
        ),
        metric("median_clicks", "  numerator: MEDIAN(clicks)\n"),
        metric("p90_spend", "  numerator: QUANTILE_DISC(spend, 0.9)\n"),
        metric(
            "p25_revenue",
            "  numerator: PERCENTILE_DISC(0.25) WITHIN GROUP (ORDER BY revenue)\n",
        ),
        metric(
            "users_per_event",
            "  numerator: COUNT(DISTINCT user_id)\n  denominator: COUNT(*)\n",
        ),
        format!(
            "metric:\n  name: daily_events\n  source: {prefix}events\n  timestamp_col: event_day\n  numerator: COUNT(*)\n"
        ),
        metric(
            "us_revenue",
            "  numerator: SUM(revenue)\n  filter: \"country = 'US'\"\n",
        ),
        metric(
            "mobile_ctr",
            "  numerator: SUM(clicks)\n  denominator: SUM(impressions)\n  filter: events.device = 'mobile'\n",
        ),
        metric(
            "converted_users",
            "  numerator: COUNT(DISTINCT user_id)\n  filter: converted AND revenue > 10\n",
        ),
        "metric:\n  name: revenue_per_event\n  expression: revenue / events\n".to_string(),
        "metric:\n  name: margin_per_event\n  expression: (revenue - spend) / events\n".to_string(),
        "metric:\n  name: revenue_per_user\n  expression: revenue / users\n".to_string(),
        "metric:\n  name: us_share\n  expression: us_revenue / revenue * 100\n".to_string(),
    ];
    let slices = [
        "slice:\n  name: country\n  where: country\n",
        "slice:\n  name: device\n  where: device\n",
        "slice:\n  name: platform\n  where: platform\n",
        "slice:\n  name: user\n  where: user_id\n",
        "slice:\n  name: converted\n  where: converted\n",
        "slice:\n  name: band\n  values:\n    - {name: none, where: \"revenue IS NULL\"}\n    - {name: any, where: \"revenue >= 0\"}\n    - {name: high, where: \"revenue >= 100\"}\n",
        "slice:\n  name: named\n  values:\n    - name: \"Côte d'Ivoire\"\n      where: \"country = 'Côte d''Ivoire'\"\n    - name: \"O\\\"Neil\"\n      where: \"country LIKE 'O\\\"Neil%'\"\n    - name: 日本\n      where: \"country = '日本'\"\n",
        "slice:\n  name: device_x_country\n  cross_product: [device, country]\n",
    ];
    let segments = [
        format!(
            "segment:\n  name: platform_group\n  source: {prefix}platforms\n  entity_id: platform\n  values:\n    - {{name: search, where: \"grp = 'search'\"}}\n    - {{name: social, where: \"_dim.grp = 'social'\"}}\n"
        ),
        format!(
            "segment:\n  name: tier\n  source: {prefix}users\n  entity_id: user_id\n  join_keys: [user_id]\n  values:\n    - {{name: free, where: \"tier = 'free'\"}}\n    - {{name: paying, where: \"tier IN ('pro', 'team')\"}}\n    - {{name: team, where: \"tier = 'team'\"}}\n"
        ),
        format!(
            "segment:\n  name: region_tier\n  source: {prefix}users\n  entity_id: user_id\n  where: [region, tier]\n"
        ),
    ];
    let metrics: Vec<&str> = metrics.iter().map(String::as_str).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    SpecCache::from_strings(&metrics, &slices, &segments).unwrap_or_else(|e| panic!("{e}"))
}

/// Additive metrics (two-stage plans) and metrics computed in one pass.
const ADDITIVE: [&str; 9] = [
    "revenue",
    "events",
    "clicked_rows",
    "avg_revenue",
    "extremes",
    "spend",
    "ctr",
    "clicks_per_id",
    "converted",
];
const ONE_PASS: [&str; 2] = ["users", "median_revenue"];
/// Distinct counts and quantiles, in every spelling, and a ratio with a distinct count: over
/// ranges, their values are computed from the range's rows.
const RANGED: [&str; 6] = [
    "users",
    "median_revenue",
    "median_clicks",
    "p90_spend",
    "p25_revenue",
    "users_per_event",
];
/// Filtered metrics beside unfiltered ones, rolled up in two stages and in one pass.
const FILTERED: [&str; 4] = ["revenue", "us_revenue", "mobile_ctr", "events"];
const FILTERED_ONE_PASS: [&str; 3] = ["users", "converted_users", "us_revenue"];
/// Derived metrics: over additive metrics, a distinct count and a filtered metric.
const DERIVED: [&str; 4] = [
    "revenue_per_event",
    "margin_per_event",
    "revenue_per_user",
    "us_share",
];

/// Each row's value and derived values, by its labels.
fn by_key(rows: &[ResultRow]) -> BTreeMap<Key, Vec<Option<f64>>> {
    let values = common::by_key(rows);
    let mut out: BTreeMap<Key, Vec<Option<f64>>> =
        values.into_iter().map(|(k, v)| (k, vec![v])).collect();
    for r in rows {
        let values = out.get_mut(&common::key(r)).expect("every row has a key");
        values.extend(r.derived.iter().map(|(_, v)| *v));
    }
    out
}

fn same(a: &[Option<f64>], b: &[Option<f64>]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(a, b)| match (a, b) {
            (Some(a), Some(b)) => close(*a, *b),
            (None, None) => true,
            _ => false,
        })
}

fn compute(
    specs: &SpecCache,
    connections: &ConnectionManager,
    request: &ComputeRequest,
    what: &str,
) -> Vec<ResultRow> {
    let result = MetricCompute::new(specs, connections)
        .compute(request)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        result.warnings().is_empty(),
        "{what}: {:?}",
        result.warnings()
    );
    result.rows().unwrap()
}

/// The dataset in a DuckDB file: the reference answers come from it.
struct Reference {
    dir: tempfile::TempDir,
    specs: SpecCache,
    connections: ConnectionManager,
}

impl Reference {
    fn new() -> Reference {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("cross.duckdb");
        let duck = duckdb::Connection::open(&db).unwrap();
        for table in dataset() {
            let file = dir.path().join(format!("{}.csv", table.name));
            std::fs::write(&file, table.csv()).unwrap();
            duck.execute_batch(&format!(
                "{}; COPY {} FROM '{}' (HEADER)",
                table.create(Target::DuckDb, ""),
                table.name,
                file.display()
            ))
            .unwrap();
        }
        drop(duck);
        let mut connections = ConnectionManager::new();
        connections.add_connection(DuckDbConfig::new(db.display().to_string()));
        Reference {
            specs: specs(&format!("duckdb://{}/", db.display())),
            dir,
            connections,
        }
    }

    fn scalar(&self, sql: &str) -> String {
        duckdb::Connection::open(self.dir.path().join("cross.duckdb"))
            .unwrap()
            .query_row(sql, [], |r| r.get::<_, i64>(0))
            .unwrap()
            .to_string()
    }
}

/// A backend with the dataset, compared with the reference.
struct Other {
    name: &'static str,
    specs: SpecCache,
    connections: ConnectionManager,
    _keep: Box<dyn std::any::Any + Send + Sync>,
}

/// The dataset on every backend the tests have, loaded once for every test of this file.
struct Suite {
    reference: Reference,
    others: Vec<Other>,
}

fn suite() -> &'static Suite {
    static SUITE: std::sync::OnceLock<Suite> = std::sync::OnceLock::new();
    SUITE.get_or_init(|| {
        let reference = Reference::new();
        let others = [
            postgres(&reference),
            bigquery(&reference),
            spark(&reference),
        ]
        .into_iter()
        .flatten()
        .collect();
        Suite { reference, others }
    })
}

fn postgres(reference: &Reference) -> Option<Other> {
    let pg = Pg::new("cross_backend")?;
    let mut load = String::new();
    for table in dataset() {
        let file = reference.dir.path().join(format!("{}.csv", table.name));
        writeln!(
            load,
            "{};\n\\copy {} FROM '{}' WITH (FORMAT csv, HEADER)",
            table.create(Target::Postgres, ""),
            table.name,
            file.display()
        )
        .unwrap();
    }
    pg.sql(&load);
    assert_eq!(pg.scalar("SELECT COUNT(*) FROM events"), "2500");
    let nulls = "SELECT COUNT(*) FROM events WHERE country IS NULL";
    assert_eq!(
        pg.scalar(nulls),
        reference.scalar(nulls),
        "both loads read NULLs alike"
    );
    let yaml = reference.dir.path().join("postgres.yaml");
    std::fs::write(&yaml, pg.connections_yaml("")).unwrap();
    Some(Other {
        name: "PostgreSQL",
        specs: specs(&format!("postgres://{}/", pg.schema)),
        connections: ConnectionManager::from_yaml(&yaml).unwrap(),
        _keep: Box::new(pg),
    })
}

fn bigquery(reference: &Reference) -> Option<Other> {
    let bq = Bq::new("cross_backend")?;
    for table in dataset() {
        bq.sql(&table.create(Target::BigQuery, &format!("{}.", bq.dataset)));
        for insert in table.inserts(&bq.dataset, Kind::google_literal) {
            bq.sql(&insert);
        }
    }
    let events = format!("{}.events", bq.dataset);
    assert_eq!(
        bq.scalar(&format!("SELECT COUNT(*) FROM {events}"))
            .as_deref(),
        Some("2500")
    );
    let nulls = format!("SELECT COUNT(*) FROM {events} WHERE country IS NULL");
    assert_eq!(
        bq.scalar(&nulls).unwrap(),
        reference.scalar("SELECT COUNT(*) FROM events WHERE country IS NULL"),
        "both loads read NULLs alike"
    );
    let yaml = reference.dir.path().join("bigquery.yaml");
    std::fs::write(&yaml, bq.connections_yaml("")).unwrap();
    Some(Other {
        name: "BigQuery",
        specs: specs(&format!("bigquery://{}.", bq.dataset)),
        connections: ConnectionManager::from_yaml(&yaml).unwrap(),
        _keep: Box::new(bq),
    })
}

fn spark(reference: &Reference) -> Option<Other> {
    let spark = Spark::new("cross_backend")?;
    let mut statements = Vec::new();
    for table in dataset() {
        statements.push(table.create(Target::Spark, &format!("{}.", spark.schema)));
        statements.extend(table.inserts(&spark.schema, Kind::spark_literal));
    }
    let events = format!("{}.events", spark.schema);
    statements.push(format!("SELECT COUNT(*) FROM {events}"));
    statements.push(format!(
        "SELECT COUNT(*) FROM {events} WHERE country IS NULL"
    ));
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    let answers = spark.sql(&statements);
    let count = |i: usize| answers[answers.len() - i][0][0].clone();
    assert_eq!(count(2).as_deref(), Some("2500"));
    assert_eq!(
        count(1).unwrap(),
        reference.scalar("SELECT COUNT(*) FROM events WHERE country IS NULL"),
        "both loads read NULLs alike"
    );
    let yaml = reference.dir.path().join("spark.yaml");
    std::fs::write(&yaml, spark.connections_yaml("")).unwrap();
    Some(Other {
        name: "Spark",
        specs: specs(&format!("spark://{}.", spark.schema)),
        connections: ConnectionManager::from_yaml(&yaml).unwrap(),
        _keep: Box::new(spark),
    })
}

/// Runs a feature's requests on the reference and on every other backend; their rows must be
/// equal. `request` makes a request for the metrics a backend has.
fn check(feature: &str, request: impl Fn(Vec<&str>) -> ComputeRequest) {
    check_kinds(feature, &[Kinds::Additive, Kinds::OnePass], request);
}

/// Which metrics a request is made for.
#[derive(Clone, Copy, Debug)]
enum Kinds {
    /// The additive metrics (two-stage plans).
    Additive,
    /// The metrics computed in one pass.
    OnePass,
    /// Both together.
    All,
    /// Filtered metrics beside unfiltered ones ([`FILTERED`], [`FILTERED_ONE_PASS`]).
    Filtered,
    /// Derived metrics ([`DERIVED`]).
    Derived,
    /// Distinct counts and quantiles ([`RANGED`]).
    Ranged,
}

fn check_kinds(feature: &str, kinds: &[Kinds], request: impl Fn(Vec<&str>) -> ComputeRequest) {
    let suite = suite();
    if suite.others.is_empty() {
        eprintln!("skipped {feature}: no backend to compare with DuckDB");
    }
    for other in &suite.others {
        for &kind in kinds {
            let metrics: Vec<&str> = match kind {
                Kinds::Additive => ADDITIVE.to_vec(),
                Kinds::OnePass => ONE_PASS.to_vec(),
                Kinds::All => ADDITIVE.iter().chain(&ONE_PASS).copied().collect(),
                Kinds::Filtered => FILTERED.to_vec(),
                Kinds::Derived => DERIVED.to_vec(),
                Kinds::Ranged => RANGED.to_vec(),
            };
            let what = format!("{feature} ({kind:?} metrics)");
            let request = request(metrics);
            let reference = &suite.reference;
            let expected = by_key(&compute(
                &reference.specs,
                &reference.connections,
                &request,
                &what,
            ));
            let got = by_key(&compute(&other.specs, &other.connections, &request, &what));
            assert!(
                !expected.is_empty() && expected.values().any(|v| v[0].is_some()),
                "{what}: a trivial result"
            );
            let missing: Vec<_> = expected.keys().filter(|k| !got.contains_key(k)).collect();
            let extra: Vec<_> = got.keys().filter(|k| !expected.contains_key(k)).collect();
            let backend = other.name;
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{what}: rows only on DuckDB: {missing:?}\nrows only on {backend}: {extra:?}"
            );
            for (key, want) in &expected {
                let have = &got[key];
                assert!(
                    same(want, have),
                    "{what}: {key:?}: DuckDB {want:?}, {backend} {have:?}"
                );
            }
            eprintln!(
                "{what}: {} rows equal on DuckDB and {backend}",
                expected.len()
            );
        }
    }
}

/// The window of the period features: a year and the days before it.
const WINDOW: (&str, &str) = ("2023-12-28", "2025-01-01");

#[test]
fn baseline() {
    check("baseline", |m| ComputeRequest::new(m));
}

#[test]
fn column_value_list_and_cross_product_slices() {
    check("slices", |m| {
        ComputeRequest::new(m).slices(["country", "device", "band", "named", "device_x_country"])
    });
}

#[test]
fn value_segment() {
    check("value segment", |m| {
        ComputeRequest::new(m)
            .slices(["band", "country"])
            .segment("platform_group")
    });
}

#[test]
fn segment_on_a_join_key_monthly() {
    check("segment on a join key, monthly", |m| {
        ComputeRequest::new(m)
            .slices(["device"])
            .segment("tier")
            .join_key("user_id")
            .time_window(WINDOW.0, WINDOW.1)
            .period(PeriodType::Monthly)
    });
}

#[test]
fn wildcard_segment_weekly() {
    check("wildcard segment, weekly", |m| {
        ComputeRequest::new(m)
            .segment("region_tier")
            .time_window(WINDOW.0, WINDOW.1)
            .period(PeriodType::Weekly)
    });
}

#[test]
fn every_period() {
    for period in PeriodType::ALL {
        let (start, end) = if period == PeriodType::Hourly {
            ("2024-02-28 20:00", "2024-03-01 02:30")
        } else {
            WINDOW
        };
        check(&format!("{period}"), |m| {
            ComputeRequest::new(m)
                .slices(["band"])
                .time_window(start, end)
                .period(period)
        });
    }
}

#[test]
fn by_entity_monthly() {
    check("by entity, monthly", |m| {
        ComputeRequest::new(m)
            .slices(["device"])
            .time_window(WINDOW.0, WINDOW.1)
            .period(PeriodType::Monthly)
            .by_entity("user_id")
    });
}

#[test]
fn grouping_sets() {
    check("grouping sets", |m| {
        ComputeRequest::new(m).slices(["country", "device", "platform", "user", "converted"])
    });
}

#[test]
fn filled_gaps_previous_year_share_cumulative_and_rolling_monthly() {
    check_kinds(
        "monthly, filled, previous year, share, cumulative, rolling",
        &[Kinds::All],
        |m| {
            ComputeRequest::new(m)
                .time_window("2024-01-01", "2025-01-01")
                .period(PeriodType::Monthly)
                .slices(["device", "band"])
                .segment("platform_group")
                .fill_gaps(true)
                .compare(Comparison::PreviousYear)
                .share(true)
                .cumulative(true)
                .rolling(3)
        },
    );
}

#[test]
fn daily_by_entity_previous_period_and_rolling() {
    check_kinds(
        "daily by entity, previous period, rolling",
        &[Kinds::All],
        |m| {
            ComputeRequest::new(m)
                .slices(["device"])
                .time_window("2024-02-20", "2024-03-10")
                .period(PeriodType::Daily)
                .by_entity("user_id")
                .fill_gaps(true)
                .compare(Comparison::PreviousPeriod)
                .rolling(7)
        },
    );
}

/// Distinct counts and quantiles per day with their rolling and cumulative values (computed
/// from each range's rows) and shares, by five slices (grouping sets) and a segment.
#[test]
fn distinct_counts_and_quantiles_over_ranges_with_grouping_sets() {
    check_kinds(
        "daily distinct counts and quantiles, grouping sets, cumulative, rolling",
        &[Kinds::Ranged],
        |m| {
            ComputeRequest::new(m)
                .slices(["country", "device", "platform", "converted", "band"])
                .segment("platform_group")
                .time_window("2024-02-20", "2024-03-20")
                .period(PeriodType::Daily)
                .fill_gaps(true)
                .share(true)
                .cumulative(true)
                .rolling(7)
        },
    );
}

/// Weekly active users by user (each a series of its own) over a year, cumulative and rolling
/// over four weeks, with the previous year's.
#[test]
fn weekly_distinct_counts_by_entity_over_ranges() {
    check_kinds(
        "weekly distinct counts by entity, cumulative, rolling, previous year",
        &[Kinds::Ranged],
        |m| {
            ComputeRequest::new(m)
                .slices(["device"])
                .time_window("2024-01-01", "2025-01-01")
                .period(PeriodType::Weekly)
                .by_entity("platform")
                .compare(Comparison::PreviousYear)
                .cumulative(true)
                .rolling(4)
        },
    );
}

#[test]
fn weeks_from_sunday_and_saturday() {
    for start in [WeekStart::Sunday, WeekStart::Saturday] {
        check_kinds(
            &format!("weeks from {start}, previous year"),
            &[Kinds::All],
            |m| {
                ComputeRequest::new(m)
                    .slices(["country"])
                    .time_window("2024-01-01", "2024-07-01")
                    .period(PeriodType::Weekly)
                    .week_start(start)
                    .compare(Comparison::PreviousYear)
                    .cumulative(true)
            },
        );
    }
}

#[test]
fn quarterly_previous_period() {
    check_kinds("quarterly, previous period", &[Kinds::All], |m| {
        ComputeRequest::new(m)
            .segment("tier")
            .time_window("2024-01-01", "2025-01-01")
            .period(PeriodType::Quarterly)
            .compare(Comparison::PreviousPeriod)
            .share(true)
    });
}

#[test]
fn all_time_previous_period() {
    check_kinds("all time, previous period", &[Kinds::All], |m| {
        ComputeRequest::new(m)
            .slices(["device", "band"])
            .time_window("2024-03-01", "2024-09-01")
            .compare(Comparison::PreviousPeriod)
            .share(true)
    });
}

#[test]
fn all_time_overlapping_previous_year() {
    check_kinds(
        "all time over a year, previous year (overlapping)",
        &[Kinds::All],
        |m| {
            ComputeRequest::new(m)
                .slices(["country"])
                .time_window("2023-12-25", "2025-01-01")
                .compare(Comparison::PreviousYear)
        },
    );
}

#[test]
fn date_columns() {
    for period in [PeriodType::Daily, PeriodType::Weekly, PeriodType::Yearly] {
        check_kinds(
            &format!("date column: {period}"),
            &[Kinds::Additive],
            |_| {
                ComputeRequest::new(["daily_events"])
                    .slices(["device"])
                    .time_window("2024-01-01", "2024-03-15")
                    .period(period)
            },
        );
    }
}

#[test]
fn metric_filters_with_slices_segments_and_time_options() {
    check_kinds(
        "metric filters, monthly, filled, previous year, share, cumulative, rolling",
        &[Kinds::Filtered],
        |m| {
            ComputeRequest::new(m)
                .time_window("2024-01-01", "2025-01-01")
                .period(PeriodType::Monthly)
                .slices(["device", "band"])
                .segment("platform_group")
                .fill_gaps(true)
                .compare(Comparison::PreviousYear)
                .share(true)
                .cumulative(true)
                .rolling(3)
        },
    );
    check_kinds(
        "metric filters in one pass, by country",
        &[Kinds::Filtered],
        |_| ComputeRequest::new(FILTERED_ONE_PASS).slices(["country", "converted"]),
    );
}

#[test]
fn request_filters() {
    check("request filters", |m| {
        ComputeRequest::new(m)
            .filter("country <> 'US'")
            .filter("clicks > 0 OR revenue IS NULL")
            .slices(["device", "band"])
            .time_window(WINDOW.0, WINDOW.1)
            .period(PeriodType::Quarterly)
    });
}

#[test]
fn derived_metrics_with_slices_segments_and_time_options() {
    check_kinds(
        "derived metrics, weekly, previous period, cumulative, rolling",
        &[Kinds::Derived],
        |m| {
            ComputeRequest::new(m)
                .time_window(WINDOW.0, WINDOW.1)
                .period(PeriodType::Weekly)
                .slices(["device"])
                .segment("platform_group")
                .fill_gaps(true)
                .compare(Comparison::PreviousPeriod)
                .share(true)
                .cumulative(true)
                .rolling(4)
        },
    );
    check_kinds("derived metrics by entity", &[Kinds::Derived], |m| {
        ComputeRequest::new(m)
            .slices(["country"])
            .by_entity("user_id")
            .filter("device = 'mobile'")
    });
}

#[test]
fn the_example_project_gives_the_same_answers_on_postgres() {
    let Some(db) = common::postgres::Database::new("example project") else {
        return;
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // As the README says: load.sql, run from the repository root.
    db.script(&root.join("examples/ads-postgres/load.sql"), &root);
    let mut connections = ConnectionManager::new();
    connections
        .add_connection(aitaem::backend::postgres::PostgresConfig::from_url(&db.url).unwrap());
    the_example_project_gives_the_same_answers("PostgreSQL", "ads-postgres", &connections);
}

#[test]
fn the_example_project_gives_the_same_answers_on_spark() {
    let Some(url) = common::spark::url("example project") else {
        return;
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // As the README says: load.py, with PySpark's client. The example's schema `ads` is the
    // server's own (one test loads it).
    let python = std::env::var("AITAEM_TEST_SPARK_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(&python)
        .arg(root.join("examples/ads-spark/load.py"))
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "load.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut connections = ConnectionManager::new();
    connections.add_connection(aitaem::backend::spark::SparkConfig::from_url(&url).unwrap());
    the_example_project_gives_the_same_answers("Spark", "ads-spark", &connections);
}

/// The example project's requests give the same rows on DuckDB (`examples/ads`) and on another
/// backend (the same specs in `examples/<dir>`, its data loaded as the README says).
fn the_example_project_gives_the_same_answers(
    backend: &str,
    dir: &str,
    connections: &ConnectionManager,
) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let duck = aitaem::Project::open(root.join("examples/ads"));
    let (duck_specs, duck_connections) = (duck.specs().unwrap(), duck.connections().unwrap());
    let other_specs = aitaem::Project::open(root.join("examples").join(dir))
        .specs()
        .unwrap();
    // Every metric of the events table (`known_users` reads the user dimension).
    let all: Vec<&str> = duck_specs
        .metrics()
        .map(|m| m.name.as_str())
        .filter(|m| *m != "known_users")
        .collect();
    let requests = [
        ComputeRequest::new(["revenue", "ctr", "unique_users"])
            .slices(["campaign_type", "spend_band"])
            .segment("platform_group")
            .time_window("2024-01-01", "2025-01-01"),
        ComputeRequest::new(all.clone()).slices([
            "campaign_type",
            "campaign_x_device",
            "category",
            "channel_group",
            "country",
            "device",
            "spend_band",
        ]),
        ComputeRequest::new(all.clone())
            .segment("user_tier")
            .time_window("2024-01-01", "2025-01-01")
            .period(PeriodType::Monthly),
        ComputeRequest::new(["known_users"]).segment("tier_region"),
        ComputeRequest::new(["revenue", "events"])
            .segment("tier_region")
            .time_window("2024-03-01", "2024-06-01")
            .period(PeriodType::Weekly)
            .by_entity("user_id"),
    ];
    for (i, request) in requests.iter().enumerate() {
        let what = format!("example request {i}");
        let expected = by_key(&compute(&duck_specs, &duck_connections, request, &what));
        let got = by_key(&compute(&other_specs, connections, request, &what));
        assert_eq!(expected.len(), got.len(), "{what}");
        for (key, want) in &expected {
            let have = got
                .get(key)
                .unwrap_or_else(|| panic!("{what}: no {key:?} on {backend}"));
            assert!(
                same(want, have),
                "{what}: {key:?}: DuckDB {want:?}, {backend} {have:?}"
            );
        }
    }
}
