//! The loaders never panic: arbitrary bytes, arbitrary YAML structures, and mutations of valid
//! specs all come back as values or errors.

use aitaem::SpecCache;
use aitaem::config::ConnectionsConfig;
use aitaem::spec::Spec;
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

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
