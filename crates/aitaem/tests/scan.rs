//! `scan`: compatibility of metrics with slices and segments, from the tables' real columns.

mod common;

use aitaem::{MetricCompute, SpecKind};
use common::Project;

#[test]
fn scan_checks_columns_and_join_keys() {
    let p = Project::new(
        "CREATE TABLE events (ts TIMESTAMP, user_id VARCHAR, buyer_id INTEGER, Country VARCHAR, clicks INTEGER);
         CREATE TABLE orders (ts TIMESTAMP, amount DOUBLE, buyer_id INTEGER);
         CREATE TABLE users (id VARCHAR, tier VARCHAR);",
    );
    p.fixture("scan");
    let specs = p.specs();
    let connections = p.connections();
    let scan = MetricCompute::new(&specs, &connections).scan().unwrap();
    assert_eq!(scan.entries.len(), 3 * 5);

    // Column names match case-insensitively (`country` vs `Country`).
    assert_eq!(scan.compatible_slices("clicks"), ["country"]);
    assert_eq!(scan.compatible_slices("sales"), ["big"]);
    let both = scan
        .for_metric("sales")
        .into_iter()
        .find(|e| e.spec_name == "both")
        .unwrap();
    assert!(!both.compatible);
    assert_eq!(both.missing_columns, ["country"]);
    let reason = both.reason.as_deref().unwrap_or_default();
    assert!(reason.contains("lacks `country`"), "{reason}");

    let tier = scan.for_spec("tier");
    let clicks_tier = tier.iter().find(|e| e.metric_name == "clicks").unwrap();
    assert_eq!(clicks_tier.spec_type, SpecKind::Segment);
    assert_eq!(clicks_tier.valid_join_keys, ["user_id", "buyer_id"]);
    let sales_tier = tier.iter().find(|e| e.metric_name == "sales").unwrap();
    assert_eq!(sales_tier.valid_join_keys, ["buyer_id"]);
    // What fits has no reason against it (as the original's `reason is None`).
    assert_eq!((clicks_tier.compatible, &clicks_tier.reason), (true, &None));
    // Without join_keys, the candidate is entity_id, which no fact table has.
    assert_eq!(scan.compatible_segments("clicks"), ["tier"]);
    let by_id = scan.for_spec("by_id");
    assert!(by_id.iter().all(|e| !e.compatible));
    assert_eq!(by_id[0].missing_columns, ["id"]);

    // An unreadable source makes its metric incompatible with everything, with the reason.
    let gone = scan.for_metric("gone");
    assert_eq!(gone.len(), 5);
    assert!(gone.iter().all(|e| {
        !e.compatible
            && e.reason
                .as_deref()
                .is_some_and(|r| r.contains("no table or view `missing`"))
    }));
}
