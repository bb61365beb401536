//! The example project's data, computed by the planner and by a naive oracle: one hand-written
//! GROUP BY query per slice value and segment value. Both must give the same rows and values.

mod common;

use std::collections::BTreeMap;

use aitaem::plan::Strategy;
use aitaem::{ComputeRequest, PeriodType};
use aitaem::{ConnectionManager, MetricCompute, SpecCache};
use common::{Key, by_key, close, example_dir};

/// The metrics' aggregates, written out again by hand.
const METRICS: &[(&str, &str)] = &[
    ("revenue", "CAST(SUM(revenue) AS DOUBLE)"),
    (
        "ctr",
        "CAST(SUM(clicks) AS DOUBLE) / NULLIF(CAST(SUM(impressions) AS DOUBLE), 0)",
    ),
    ("avg_revenue", "AVG(revenue)"),
    ("events", "CAST(COUNT(*) AS DOUBLE)"),
    ("unique_users", "CAST(COUNT(DISTINCT user_id) AS DOUBLE)"),
    ("median_revenue", "MEDIAN(revenue)"),
];

/// A breakdown for the oracle: (slice type, slice value SQL, row filter SQL).
type Label = (&'static str, String, String);

fn slice_labels(slice: &str) -> Vec<Label> {
    let values = |name: &'static str, pairs: &[(&str, &str)]| -> Vec<Label> {
        pairs
            .iter()
            .map(|(v, w)| (name, format!("'{v}'"), w.to_string()))
            .collect()
    };
    match slice {
        "none" => vec![("none", "'all'".into(), "TRUE".into())],
        "spend_band" => values(
            "spend_band",
            &[
                ("no_spend", "ad_spend = 0"),
                ("any_spend", "ad_spend > 0"),
                ("high_spend", "ad_spend >= 50"),
            ],
        ),
        "country" => vec![("country", "country".into(), "country IS NOT NULL".into())],
        "category" => vec![("category", "category".into(), "category IS NOT NULL".into())],
        "device" => vec![(
            "device",
            "device_type".into(),
            "device_type IS NOT NULL".into(),
        )],
        "channel_group" => values(
            "channel_group",
            &[
                ("paid", "channel IN ('cpc', 'cpm')"),
                ("organic", "channel = 'organic'"),
                ("other", "channel = 'affiliate' OR channel IS NULL"),
            ],
        ),
        "campaign_x_device" => ["Search", "Display", "Video", "Shopping"]
            .iter()
            .map(|c| {
                (
                    "campaign_type|device",
                    format!("'{c}|' || device_type"),
                    format!("campaign_type = '{c}' AND device_type IS NOT NULL"),
                )
            })
            .collect(),
        other => panic!("no oracle for slice {other}"),
    }
}

fn segment_labels(segment: Option<&str>) -> Vec<(String, String, String)> {
    let mut out = vec![("none".to_string(), "'all'".to_string(), "TRUE".to_string())];
    match segment {
        None => {}
        Some("platform_group") => {
            for g in ["search", "social"] {
                out.push((
                    "platform_group".into(),
                    format!("'{g}'"),
                    format!("d.platform_group = '{g}'"),
                ));
            }
        }
        Some("tier_region") => out.push((
            "tier_region".into(),
            "u.tier || '|' || u.region".into(),
            "u.tier IS NOT NULL AND u.region IS NOT NULL".into(),
        )),
        Some(other) => panic!("no oracle for segment {other}"),
    }
    out
}

struct Case {
    metrics: &'static [&'static str],
    slices: &'static [&'static str],
    segment: Option<&'static str>,
    window: (&'static str, &'static str),
    period: PeriodType,
    entity: Option<&'static str>,
}

fn oracle(case: &Case) -> BTreeMap<Key, Option<f64>> {
    let data = example_dir().join("data");
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!(
        "CREATE TABLE e AS SELECT * FROM read_csv_auto('{0}/events.csv');
         CREATE TABLE d AS SELECT * FROM read_csv_auto('{0}/dim_platforms.csv');
         CREATE TABLE u AS SELECT * FROM read_csv_auto('{0}/dim_users.csv');",
        data.display()
    ))
    .unwrap();
    let (period, start, end) = match case.period {
        PeriodType::AllTime => (
            "NULL".to_string(),
            format!("TIMESTAMP '{}'", case.window.0),
            format!("TIMESTAMP '{}'", case.window.1),
        ),
        PeriodType::Monthly => (
            "strftime(date_trunc('month', event_ts), '%Y-%m-%d %H:%M:%S')".to_string(),
            format!("date_trunc('month', TIMESTAMP '{}')", case.window.0),
            format!("TIMESTAMP '{}'", case.window.1),
        ),
        other => panic!("no oracle for {other}"),
    };
    let entity = case.entity.unwrap_or("NULL");
    let mut expected = BTreeMap::new();
    let slice_states: Vec<&str> = case.slices.iter().copied().chain(["none"]).collect();
    for slice in slice_states {
        for (slice_type, slice_value, slice_filter) in slice_labels(slice) {
            for (segment_name, segment_value, segment_filter) in segment_labels(case.segment) {
                let aggregates: Vec<&str> = case
                    .metrics
                    .iter()
                    .map(|m| METRICS.iter().find(|(n, _)| n == m).unwrap().1)
                    .collect();
                let sql = format!(
                    "SELECT CAST({slice_value} AS VARCHAR), CAST({segment_value} AS VARCHAR), {period}, CAST({entity} AS VARCHAR), {}
                     FROM e LEFT JOIN d USING (platform) LEFT JOIN u USING (user_id)
                     WHERE event_ts >= {start} AND event_ts < {end} AND ({slice_filter}) AND ({segment_filter})
                     GROUP BY ALL",
                    aggregates.join(", ")
                );
                let mut stmt = conn.prepare(&sql).unwrap();
                let mut rows = stmt.query([]).unwrap();
                while let Some(row) = rows.next().unwrap() {
                    for (i, metric) in case.metrics.iter().enumerate() {
                        let key: Key = (
                            metric.to_string(),
                            slice_type.to_string(),
                            row.get(0).unwrap(),
                            segment_name.clone(),
                            row.get(1).unwrap(),
                            if case.period == PeriodType::AllTime {
                                Some(case.window.0.to_string())
                            } else {
                                row.get(2).unwrap()
                            },
                            row.get(3).unwrap(),
                        );
                        expected.insert(key, row.get::<_, Option<f64>>(4 + i).unwrap());
                    }
                }
            }
        }
    }
    expected
}

/// Checks the planner's result against the oracle; returns the statement's SQL.
fn check(case: Case, strategy: Strategy) -> String {
    let specs = SpecCache::from_project(example_dir()).unwrap();
    let connections = ConnectionManager::from_yaml(example_dir().join("connections.yaml")).unwrap();
    let mut request = ComputeRequest::new(case.metrics.iter().copied())
        .slices(case.slices.iter().copied())
        .time_window(case.window.0, case.window.1)
        .period(case.period);
    if let Some(segment) = case.segment {
        request = request.segment(segment);
    }
    if let Some(entity) = case.entity {
        request = request.by_entity(entity);
    }
    let compute = MetricCompute::new(&specs, &connections);
    let plan = compute.plan(&request).unwrap();
    assert_eq!(
        plan.statements().len(),
        1,
        "one statement for one source table"
    );
    assert_eq!(plan.statements()[0].strategy(), strategy);
    let result = compute.compute(&request).unwrap();
    let got = by_key(&result.rows().unwrap());
    let expected = oracle(&case);
    let missing: Vec<&Key> = expected.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<&Key> = got.keys().filter(|k| !expected.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:#?}\nextra {extra:#?}"
    );
    for (key, want) in &expected {
        let have = got[key];
        let same = match (have, want) {
            (Some(a), Some(b)) => close(a, *b),
            (None, None) => true,
            _ => false,
        };
        assert!(same, "{key:?}: computed {have:?}, oracle {want:?}");
    }
    assert!(
        expected.len() > 50,
        "a meaningful comparison ({} rows)",
        expected.len()
    );
    plan.statements()[0].sql().to_string()
}

#[test]
fn two_stage_slices_segment_and_months() {
    check(
        Case {
            metrics: &["revenue", "ctr", "avg_revenue", "events"],
            slices: &["spend_band", "campaign_x_device", "country"],
            segment: Some("platform_group"),
            window: ("2024-01-15", "2024-04-01"),
            period: PeriodType::Monthly,
            entity: None,
        },
        Strategy::TwoStage,
    );
}

#[test]
fn many_slices_split_the_first_stage_into_grouping_sets() {
    let sql = check(
        Case {
            metrics: &["revenue", "ctr", "avg_revenue", "events"],
            slices: &[
                "spend_band",
                "campaign_x_device",
                "country",
                "category",
                "channel_group",
                "device",
            ],
            segment: Some("platform_group"),
            window: ("2024-01-15", "2024-04-01"),
            period: PeriodType::Monthly,
            entity: None,
        },
        Strategy::TwoStage,
    );
    assert!(sql.contains("GROUPING SETS"), "{sql}");
}

#[test]
fn one_pass_distinct_and_median_with_a_wildcard_segment() {
    check(
        Case {
            metrics: &["revenue", "unique_users", "median_revenue"],
            slices: &["campaign_x_device", "spend_band"],
            segment: Some("tier_region"),
            window: ("2024-01-01", "2025-01-01"),
            period: PeriodType::AllTime,
            entity: None,
        },
        Strategy::OnePass,
    );
}

#[test]
fn by_entity_with_slices() {
    check(
        Case {
            metrics: &["revenue", "events"],
            slices: &["country"],
            segment: None,
            window: ("2024-01-01", "2024-03-01"),
            period: PeriodType::Monthly,
            entity: Some("user_id"),
        },
        Strategy::TwoStage,
    );
}
