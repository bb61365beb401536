//! Nothing a user writes makes aitaem panic: arbitrary bytes, arbitrary YAML structures and
//! mutations of valid specs given to the spec and connections loaders, arbitrary source URIs,
//! and arbitrary SQL fragments planned in every dialect all come back as values or errors.
//!
//! Each property runs `PROPTEST_CASES` cases (a few hundred by default); `.ci/run` runs them with
//! many more, for about a minute (see docs/development.md to run them longer).

use aitaem::BackendKind;
use aitaem::catalog::{Catalog, Table};
use aitaem::config::ConnectionsConfig;
use aitaem::plan::plan;
use aitaem::source::SourceUri;
use aitaem::spec::Spec;
use aitaem::{Column, ComputeRequest, PeriodType, SpecCache};
use proptest::prelude::*;

fn load_everything(text: &str) {
    let _ = Spec::from_yaml(text);
    let _ = SpecCache::from_strings(&[text], &[text], &[text]);
    let _ = ConnectionsConfig::from_str_with(text, None, |_| Some("x".into()));
}

/// YAML values built from spec-like keys and SQL-like scalars.
fn yaml_value() -> impl Strategy<Value = String> {
    let scalar = prop_oneof![
        Just("SUM(x)".to_string()),
        Just("COUNT(DISTINCT u)".to_string()),
        Just("x = 'a'".to_string()),
        Just("duckdb://db/t".to_string()),
        Just("postgres:///t".to_string()),
        Just("\"quoted: value\"".to_string()),
        Just("~".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        "[a-z_]{1,8}",
        "[ -~]{0,12}",
        any::<i64>().prop_map(|i| i.to_string()),
    ];
    scalar.prop_recursive(4, 32, 6, |inner| {
        let key = prop_oneof![
            Just("metric"),
            Just("slice"),
            Just("segment"),
            Just("name"),
            Just("source"),
            Just("numerator"),
            Just("denominator"),
            Just("where"),
            Just("values"),
            Just("cross_product"),
            Just("entity_id"),
            Just("join_keys"),
            Just("entities"),
            Just("format"),
            Just("duckdb"),
            Just("path"),
            Just("port"),
            Just("read_only"),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec((key, inner), 0..5).prop_map(|entries| {
                let fields: Vec<String> =
                    entries.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", fields.join(", "))
            }),
        ]
    })
}

const VALID: &str = "metric:\n  name: ctr\n  source: duckdb://ads.db/events\n  numerator: SUM(clicks)\n  denominator: SUM(impressions)\n  timestamp_col: ts\n  entities: [user_id]\n  format: currency:USD\n";

/// Every source on one backend (no database involved).
struct OneBackend(BackendKind);

impl Catalog for OneBackend {
    fn table(&self, _source: &SourceUri) -> aitaem::Result<Table> {
        Ok(Table::new(self.0, "events"))
    }

    fn columns(&self, _source: &SourceUri) -> aitaem::Result<Vec<Column>> {
        Ok(vec![Column::new("ts", "TIMESTAMP")])
    }
}

/// Plans a metric with `numerator`, a metric filtered by `predicate` beside it, a derived
/// metric over both, and a slice with `predicate`, with `predicate` as a request filter too, in
/// every dialect.
fn plan_fragments(numerator: &str, predicate: &str) {
    let metric = format!(
        "metric:\n  name: m\n  source: duckdb://db/t\n  numerator: {numerator:?}\n  timestamp_col: ts\n"
    );
    let filtered = format!(
        "metric:\n  name: f\n  source: duckdb://db/t\n  numerator: SUM(x)\n  filter: {predicate:?}\n  timestamp_col: ts\n"
    );
    let derived = "metric:\n  name: d\n  expression: m / f\n";
    let slice =
        format!("slice:\n  name: s\n  values:\n    - name: v\n      where: {predicate:?}\n");
    let Ok(specs) = SpecCache::from_strings(&[&metric], &[&slice], &[]) else {
        return;
    };
    let requests = [
        ComputeRequest::new(["m"])
            .slices(["s"])
            .time_window("2024-01-01", "2024-02-01")
            .period(PeriodType::Weekly),
        ComputeRequest::new(["m"]).filter(predicate),
    ];
    for backend in aitaem::backend::backends() {
        for request in &requests {
            let _ = plan(request, &specs, &OneBackend(backend));
        }
    }
    let Ok(specs) = SpecCache::from_strings(&[&metric, &filtered, derived], &[&slice], &[]) else {
        return;
    };
    let request = ComputeRequest::new(["d", "m"]).slices(["s"]);
    for backend in aitaem::backend::backends() {
        let _ = plan(&request, &specs, &OneBackend(backend));
    }
}

/// Text built from the pieces derived metrics' expressions are made of.
fn expression() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("revenue".to_string()),
        Just("users".to_string()),
        Just(" + ".to_string()),
        Just(" - ".to_string()),
        Just(" * ".to_string()),
        Just(" / ".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("-".to_string()),
        Just("1.5e3".to_string()),
        Just("0".to_string()),
        "[a-z_]{1,4}",
        "[ -~]{0,3}",
    ];
    prop::collection::vec(piece, 1..16).prop_map(|pieces| pieces.concat())
}

/// SQL-like text built from the pieces spec expressions are made of.
fn sql_fragment() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("SUM(".to_string()),
        Just("COUNT(DISTINCT ".to_string()),
        Just("AVG(".to_string()),
        Just("MAX(".to_string()),
        Just(")".to_string()),
        Just(" / ".to_string()),
        Just(" + ".to_string()),
        Just(" FILTER (WHERE ".to_string()),
        Just("::INTEGER".to_string()),
        Just(" ILIKE ".to_string()),
        Just(" -> ".to_string()),
        Just("x".to_string()),
        Just("\"Weird Col\"".to_string()),
        Just("'it''s'".to_string()),
        Just("'a\\b'".to_string()),
        Just(" = ".to_string()),
        Just(" AND ".to_string()),
        Just("CASE WHEN ".to_string()),
        Just(" THEN 1 ELSE 0 END".to_string()),
        Just("(SELECT 1)".to_string()),
        Just("1".to_string()),
        "[a-z_]{1,6}",
        "[ -~]{0,4}",
    ];
    prop::collection::vec(piece, 1..12).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(400)
    ))]

    #[test]
    fn arbitrary_source_uris(
        scheme in prop_oneof![Just("duckdb://"), Just("postgres://"), Just("bigquery://"), Just("")],
        rest in "[ -~é日/.:*]{0,40}",
    ) {
        let _ = SourceUri::parse(&format!("{scheme}{rest}"));
    }

    #[test]
    fn arbitrary_fragments_planned_in_every_dialect(
        numerator in sql_fragment(),
        predicate in sql_fragment(),
    ) {
        plan_fragments(&numerator, &predicate);
        plan_fragments(&format!("SUM({numerator})"), &format!("x = {predicate}"));
    }

    #[test]
    fn arbitrary_derived_expressions(text in expression(), a in any::<f64>(), b in any::<f64>()) {
        if let Ok(formula) = aitaem::spec::Formula::parse(&text) {
            let value = formula.eval(&mut |name| match name {
                "revenue" => Some(a),
                "users" => Some(b),
                _ => None,
            });
            prop_assert!(value.is_none_or(f64::is_finite));
        }
        let revenue = "metric:\n  name: revenue\n  source: duckdb://db/t\n  numerator: SUM(x)\n";
        let users = "metric:\n  name: users\n  source: duckdb://db/t\n  numerator: COUNT(*)\n";
        let derived = format!("metric:\n  name: d\n  expression: {text:?}\n");
        let _ = SpecCache::from_strings(&[revenue, users, &derived], &[], &[]);
    }

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        load_everything(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_yaml(value in yaml_value()) {
        load_everything(&value);
        load_everything(&format!("metric: {value}"));
        load_everything(&format!("slice: {value}"));
        load_everything(&format!("segment: {value}"));
    }

    #[test]
    fn mutated_valid_specs(position in 0usize..VALID.len(), insert in "[ -~\n\t]{0,6}", cut in 0usize..8) {
        let mut text = VALID.to_string();
        let at = (0..=position).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        let end = (at + cut).min(text.len());
        let end = (end..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
        text.replace_range(at..end, &insert);
        load_everything(&text);
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!(
        "metric:\n  name: m\n  source: duckdb://db/t\n  numerator: \"{}SUM(x){}\"\n",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    assert!(Spec::from_yaml(&deep).is_err());
    let deep_yaml = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    load_everything(&deep_yaml);
}
