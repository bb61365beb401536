//! Loading spec files and directories: every problem of every file at once, with positions.

use std::collections::BTreeMap;
use std::path::Path;

use aitaem::error::SpecIssue;
use aitaem::spec::{SliceKind, Spec};
use aitaem::{Error, SpecCache, SpecKind};

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), text).unwrap();
}

fn issues(result: aitaem::Result<SpecCache>) -> Vec<SpecIssue> {
    match result {
        Err(Error::SpecValidation(e)) => e.issues,
        Err(other) => panic!(
            "expected SpecValidationError, got {}: {other}",
            other.kind()
        ),
        Ok(_) => panic!("expected SpecValidationError, got a cache"),
    }
}

/// (file name, line, column, message fragment) of each issue.
fn summary(issues: &[SpecIssue]) -> Vec<(String, u32, u32, String)> {
    issues
        .iter()
        .map(|i| {
            let file = i
                .location
                .file
                .as_ref()
                .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
                .unwrap_or_default();
            (file, i.location.line, i.location.column, i.message.clone())
        })
        .collect()
}

#[test]
fn a_directory_of_broken_specs_reports_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = dir.path().join("metrics");
    write(
        &metrics,
        "a_ok.yaml",
        "metric:\n  name: ok\n  source: duckdb://db/t\n  numerator: SUM(x)\n",
    );
    write(
        &metrics,
        "b_typo.yaml",
        "metric:\n  name: typo\n  source: duckdb://db/t\n  numerater: SUM(x)\n",
    );
    write(
        &metrics,
        "c_sql.yaml",
        "metric:\n  name: sql\n  source: duckdb://db/t\n  numerator: \"SUM(x) FROM t\"\n",
    );
    write(
        &metrics,
        "d_bare.yml",
        "metric:\n  name: bare\n  source: duckdb://db/t\n  numerator: x\n  format: money\n",
    );
    write(&metrics, "e_yaml.yaml", "metric:\n  name: [unclosed\n");
    write(
        &metrics,
        "f_dup_key.yaml",
        "metric:\n  name: a\n  name: b\n  source: duckdb://db/t\n  numerator: SUM(x)\n",
    );
    write(&metrics, "notes.txt", "ignored: not yaml");
    let all = issues(SpecCache::from_paths(
        &[&metrics],
        &[] as &[&Path],
        &[] as &[&Path],
    ));
    let got = summary(&all);
    let files: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
    assert_eq!(
        files,
        [
            "b_typo.yaml",
            "b_typo.yaml",
            "c_sql.yaml",
            "d_bare.yml",
            "d_bare.yml",
            "e_yaml.yaml",
            "f_dup_key.yaml"
        ],
        "{got:#?}"
    );
    assert!(got[0].3.contains("missing required field `numerator`"));
    assert_eq!((got[1].1, got[1].2), (4, 3));
    assert_eq!(got[1].3, "unknown field `numerater`");
    assert_eq!(all[1].help.as_deref(), Some("did you mean `numerator`?"));
    assert_eq!(
        (got[2].1, got[2].2),
        (4, 22),
        "points at FROM inside the quoted SQL"
    );
    assert!(got[3].3.contains("no aggregate"));
    assert!(got[4].3.contains("unknown format `money`"));
    assert!(got[5].3.starts_with("invalid YAML"), "{:?}", got[5]);
    assert!(got[6].3.contains("duplicate"), "{:?}", got[6]);
    assert_eq!(got[6].1, 3);
}

#[test]
fn duplicate_names_across_files_name_both_files() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("slices"),
        "one.yaml",
        "slice:\n  name: country\n  where: country\n",
    );
    write(
        &dir.path().join("slices"),
        "two.yaml",
        "# again\nslice:\n  name: country\n  where: region\n",
    );
    let all = issues(SpecCache::from_project(dir.path()));
    assert_eq!(all.len(), 1);
    let text = all[0].to_string();
    assert!(text.contains("two.yaml:2:1"), "{text}");
    assert!(
        text.contains("also defined in") && text.contains("one.yaml:1:1"),
        "{text}"
    );
}

#[test]
fn a_project_directory_loads_all_three_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        &root.join("metrics"),
        "m.yaml",
        "metric:\n  name: m\n  source: duckdb://db/t\n  numerator: COUNT(*)\n",
    );
    write(
        &root.join("slices"),
        "a.yaml",
        "slice:\n  name: a\n  where: a\n",
    );
    write(
        &root.join("slices"),
        "b.yml",
        "slice:\n  name: b\n  values:\n    - {name: x, where: \"b = 1\"}\n",
    );
    write(
        &root.join("slices"),
        "ab.yaml",
        "slice:\n  name: ab\n  cross_product: [a, b]\n",
    );
    write(
        &root.join("segments"),
        "s.yaml",
        "segment:\n  name: s\n  source: duckdb://db/dim\n  entity_id: id\n  where: tier\n",
    );
    let cache = SpecCache::from_project(root).unwrap();
    assert_eq!(cache.metrics().count(), 1);
    assert_eq!(
        cache.slices().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["a", "ab", "b"]
    );
    assert!(
        matches!(&cache.slice("ab").unwrap().kind, SliceKind::CrossProduct(p) if p == &["a", "b"])
    );
    assert_eq!(cache.segment("s").unwrap().entity_id.name, "id");

    // Any of the three directories may be absent, but not all.
    let empty = tempfile::tempdir().unwrap();
    let all = issues(SpecCache::from_project(empty.path()));
    assert!(
        all[0]
            .message
            .contains("no `metrics/`, `slices/` or `segments/`")
    );
    // A file of the wrong kind in a kind's directory.
    write(
        &root.join("metrics"),
        "wrong.yaml",
        "slice:\n  name: w\n  where: w\n",
    );
    let all = issues(SpecCache::from_project(root));
    assert!(
        all[0]
            .message
            .contains("expected a metric spec, found a slice spec"),
        "{:?}",
        all[0]
    );
}

#[test]
fn missing_and_unreadable_paths_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.yaml");
    let not_utf8 = dir.path().join("latin1.yaml");
    std::fs::write(&not_utf8, b"metric:\n  name: caf\xe9\n").unwrap();
    let all = issues(SpecCache::from_paths(
        &[&missing, &not_utf8],
        &[] as &[&Path],
        &[] as &[&Path],
    ));
    assert_eq!(all.len(), 2);
    assert!(all[0].message.starts_with("cannot read"), "{:?}", all[0]);
    assert!(all[1].message.contains("not valid UTF-8"), "{:?}", all[1]);
}

#[test]
fn injection_through_identifiers_is_rejected() {
    for (field, value) in [
        ("timestamp_col", "ts; DROP TABLE t"),
        ("timestamp_col", "ts) --"),
        ("entities", "[\"user_id OR 1=1\"]"),
        ("name", "m; x"),
    ] {
        let yaml = format!(
            "metric:\n  name: m\n  source: duckdb://db/t\n  numerator: SUM(x)\n  {field}: {value}\n"
        )
        .replace(
            "  name: m\n  source: duckdb://db/t\n  numerator: SUM(x)\n  name:",
            "  source: duckdb://db/t\n  numerator: SUM(x)\n  name:",
        );
        let err = Spec::from_yaml(&yaml).unwrap_err();
        assert_eq!(
            err.kind(),
            aitaem::ErrorKind::SpecValidation,
            "{field}: {value}"
        );
    }
    for predicate in [
        "x = 1; DROP TABLE t",
        "x = 1) OR (1 = 1",
        "x = 1 UNION SELECT 1",
    ] {
        let yaml =
            format!("slice:\n  name: s\n  values:\n    - name: v\n      where: \"{predicate}\"\n");
        assert!(Spec::from_yaml(&yaml).is_err(), "{predicate}");
    }
}

#[test]
fn referenced_columns_per_field() {
    let cols = |yaml: &str| -> BTreeMap<String, Vec<String>> {
        Spec::from_yaml(yaml).unwrap().referenced_columns()
    };
    let metric = cols(
        "metric:\n  name: m\n  source: duckdb://db/t\n  numerator: SUM(t.revenue * qty)\n  denominator: COUNT(DISTINCT user_id)\n  timestamp_col: ts\n  entities: [user_id, device]\n",
    );
    assert_eq!(metric["numerator"], ["revenue", "qty"]);
    assert_eq!(metric["denominator"], ["user_id"]);
    assert_eq!(metric["timestamp_col"], ["ts"]);
    assert_eq!(metric["entities"], ["user_id", "device"]);
    let slice = cols(
        "slice:\n  name: s\n  values:\n    - {name: a, where: \"x > 1 AND y IS NULL\"}\n    - {name: b, where: \"z IN (1, 2)\"}\n",
    );
    assert_eq!(slice["values[0].where"], ["x", "y"]);
    assert_eq!(slice["values[1].where"], ["z"]);
    assert_eq!(
        cols("slice:\n  name: s\n  where: t.country\n")["where"],
        ["country"]
    );
    assert!(cols("slice:\n  name: s\n  cross_product: [a, b]\n").is_empty());
    let segment = cols(
        "segment:\n  name: g\n  source: duckdb://db/d\n  entity_id: id\n  join_keys: [buyer_id, seller_id]\n  values:\n    - {name: a, where: \"_dim.tier = 'a'\"}\n",
    );
    assert_eq!(segment["entity_id"], ["id"]);
    assert_eq!(segment["join_keys"], ["buyer_id", "seller_id"]);
    assert_eq!(segment["values[0].where"], ["tier"]);
    let wildcard = cols(
        "segment:\n  name: g\n  source: duckdb://db/d\n  entity_id: id\n  where: [tier, region]\n",
    );
    assert_eq!(wildcard["where"], ["tier", "region"]);
}

#[test]
fn lookups_suggest_close_names() {
    let cache = SpecCache::from_strings(
        &[
            "metric:\n  name: revenue_total\n  source: duckdb://db/t\n  numerator: SUM(x)\n",
            "metric:\n  name: revenue_avg\n  source: duckdb://db/t\n  numerator: AVG(x)\n",
        ],
        &[],
        &[],
    )
    .unwrap();
    let err = cache.metric("revenue").unwrap_err();
    assert_eq!(err.kind(), aitaem::ErrorKind::SpecNotFound);
    assert!(
        matches!(&err, Error::SpecNotFound { kind: SpecKind::Metric, suggestions, .. } if suggestions.len() == 2)
    );
    assert!(
        cache.segment("revenue_total").is_err(),
        "kinds are separate namespaces"
    );
}
