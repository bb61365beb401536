//! Compute semantics on a tiny table whose `revenue` values are powers of two: every expected
//! sum below was worked out by hand and names exactly the rows it counts.

mod common;

use aitaem::{ComputeRequest, PeriodType};
use common::{Project, slice_values, value};

/// Rows (id: revenue): 1: 1 (2023), 2: 2, 3: NULL, 4: 4, 5: 8, 6: 16, 7: 32, 8: 64 (leap day),
/// 9: 128, 10: 256, 11: 512 (2025).
const SETUP: &str = r#"
CREATE TABLE events (id INTEGER, ts TIMESTAMP, user_id VARCHAR, platform VARCHAR, partner VARCHAR,
                     country VARCHAR, device VARCHAR, clicks INTEGER, impressions INTEGER, revenue DOUBLE);
INSERT INTO events VALUES
 (1,  '2023-12-31 23:59:59', 'u1', 'google', NULL,   'US',            'mobile',  1,    10,  1),
 (2,  '2024-01-01 00:00:00', 'u1', 'google', 'meta', 'US',            'desktop', 2,    20,  2),
 (3,  '2024-01-01 13:05:00', 'u2', 'meta',   NULL,   'FR',            'mobile',  3,    0,   NULL),
 (4,  '2024-01-01 13:59:59', 'u2', 'meta',   NULL,   'Côte d''Ivoire', NULL,     NULL, 40,  4),
 (5,  '2024-01-01 14:00:00', 'u3', 'reddit', NULL,   '日本',           'tablet',  5,    50,  8),
 (6,  '2024-01-07 23:00:00', 'u3', NULL,     NULL,   NULL,            'mobile',  6,    60,  16),
 (7,  '2024-01-08 00:00:00', 'u4', 'google', 'meta', 'US',            'mobile',  7,    70,  32),
 (8,  '2024-02-29 23:59:59', 'u4', 'meta',   NULL,   'FR',            'desktop', 8,    80,  64),
 (9,  '2024-03-01 00:00:00', NULL, 'google', NULL,   'US',            'mobile',  9,    90,  128),
 (10, '2024-12-31 23:59:59', 'u5', 'meta',   NULL,   'Kids'' "Toys"',  'desktop', 10,   100, 256),
 (11, '2025-01-01 00:00:00', 'u5', 'google', NULL,   'US',            'mobile',  11,   110, 512);
CREATE TABLE platforms (platform VARCHAR, grp VARCHAR, tier VARCHAR);
INSERT INTO platforms VALUES ('google', 'search', 'gold'), ('meta', 'social', 'silver'),
                             ('tiktok', 'social', NULL);
CREATE TABLE signups (day DATE, n INTEGER);
INSERT INTO signups VALUES ('2024-01-01', 3), ('2024-01-15', 4), ('2023-06-01', 100);
"#;

const WINDOW: (&str, &str) = ("2024-01-01", "2025-01-01");

/// The table above, with the specs of `tests/fixtures/compute/`.
fn project() -> Project {
    let p = Project::new(SETUP);
    p.fixture("compute");
    p
}

fn in_window(metrics: &[&str]) -> ComputeRequest {
    ComputeRequest::new(metrics.iter().copied()).time_window(WINDOW.0, WINDOW.1)
}

#[test]
fn baseline_with_and_without_window() {
    let p = project();
    let rows = p.rows(&ComputeRequest::new(["revenue"]));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].metric_value, Some(1023.0));
    assert_eq!(rows[0].period_type, "all_time");
    assert_eq!(
        (
            rows[0].period_start_date.as_deref(),
            rows[0].period_end_date.as_deref()
        ),
        (None, None)
    );
    assert_eq!(rows[0].metric_format.as_deref(), Some("currency:USD"));
    assert_eq!(rows[0].entity_id, None);
    assert_eq!(
        (rows[0].slice_type.as_str(), rows[0].slice_value.as_str()),
        ("none", "all")
    );
    assert_eq!(
        (
            rows[0].segment_name.as_str(),
            rows[0].segment_value.as_str()
        ),
        ("none", "all")
    );

    // start <= ts < end: rows 2..10.
    let rows = p.rows(&in_window(&["revenue"]));
    assert_eq!(rows[0].metric_value, Some(510.0));
    assert_eq!(rows[0].period_start_date.as_deref(), Some("2024-01-01"));
    assert_eq!(rows[0].period_end_date.as_deref(), Some("2025-01-01"));
}

#[test]
fn wildcard_slice_with_nulls_quotes_and_unicode() {
    let p = project();
    let rows = p.rows(&in_window(&["revenue"]).slices(["country"]));
    let mut got = slice_values(&rows, "revenue", "country");
    got.sort_by(|a, b| a.0.cmp(&b.0));
    // Row 6 has no country and appears only in the baseline.
    assert_eq!(
        got,
        vec![
            ("Côte d'Ivoire".to_string(), Some(4.0)),
            ("FR".to_string(), Some(64.0)),
            ("Kids' \"Toys\"".to_string(), Some(256.0)),
            ("US".to_string(), Some(162.0)),
            ("日本".to_string(), Some(8.0)),
        ]
    );
    assert_eq!(
        value(&rows, "revenue", ("none", "all"), ("none", "all")),
        Some(510.0)
    );
}

#[test]
fn overlapping_values_count_a_row_in_each() {
    let p = project();
    let rows = p.rows(&in_window(&["revenue", "events"]).slices(["band"]));
    assert_eq!(
        value(&rows, "revenue", ("band", "ge_8"), ("none", "all")),
        Some(504.0)
    );
    assert_eq!(
        value(&rows, "revenue", ("band", "ge_64"), ("none", "all")),
        Some(448.0)
    );
    assert_eq!(
        value(&rows, "revenue", ("band", "low"), ("none", "all")),
        Some(6.0)
    );
    assert_eq!(
        value(&rows, "events", ("band", "ge_8"), ("none", "all")),
        Some(6.0)
    );
    // Row 3 (NULL revenue) matches no value.
    assert_eq!(
        value(&rows, "events", ("band", "low"), ("none", "all")),
        Some(2.0)
    );
}

#[test]
fn value_names_with_quotes_and_unicode() {
    let p = project();
    let rows = p.rows(&in_window(&["revenue"]).slices(["named"]));
    assert_eq!(
        value(
            &rows,
            "revenue",
            ("named", "it's \"quoted\" — ünïcode"),
            ("none", "all")
        ),
        Some(4.0)
    );
    assert_eq!(
        value(&rows, "revenue", ("named", "日本"), ("none", "all")),
        Some(8.0)
    );
}

#[test]
fn composite_slices_need_every_component() {
    let p = project();
    let rows = p.rows(&in_window(&["revenue", "ctr"]).slices(["device_x_country"]));
    let mut got = slice_values(&rows, "revenue", "device|country");
    got.sort_by(|a, b| a.0.cmp(&b.0));
    // Row 4 (no device) and row 6 (no country) are left out.
    assert_eq!(
        got,
        vec![
            ("desktop|FR".to_string(), Some(64.0)),
            ("desktop|Kids' \"Toys\"".to_string(), Some(256.0)),
            ("desktop|US".to_string(), Some(2.0)),
            ("mobile|FR".to_string(), None),
            ("mobile|US".to_string(), Some(160.0)),
            ("tablet|日本".to_string(), Some(8.0)),
        ]
    );
    // Row 3 alone: 3 clicks over 0 impressions is NULL, not an error or infinity.
    assert_eq!(
        value(
            &rows,
            "ctr",
            ("device|country", "mobile|FR"),
            ("none", "all")
        ),
        None
    );
    assert_eq!(
        value(
            &rows,
            "ctr",
            ("device|country", "mobile|US"),
            ("none", "all")
        ),
        Some((7.0 + 9.0) / (70.0 + 90.0))
    );
}

#[test]
fn ratios_divide_in_floating_point_and_ignore_null_terms() {
    let p = project();
    let rows = p.rows(&in_window(&["ctr", "avg_revenue"]));
    // Clicks of rows 2..10 (row 4's is NULL) over their impressions.
    assert_eq!(
        value(&rows, "ctr", ("none", "all"), ("none", "all")),
        Some(50.0 / 510.0)
    );
    assert_eq!(
        value(&rows, "avg_revenue", ("none", "all"), ("none", "all")),
        Some(510.0 / 8.0)
    );
    let rows = p.rows(&in_window(&["avg_revenue"]).slices(["country"]));
    assert_eq!(
        value(&rows, "avg_revenue", ("country", "US"), ("none", "all")),
        Some(54.0)
    );
}

#[test]
fn value_list_segment_with_orphans_and_null_keys() {
    let p = project();
    let rows = p.rows(&in_window(&["revenue", "users"]).segment("platform_group"));
    assert_eq!(
        value(
            &rows,
            "revenue",
            ("none", "all"),
            ("platform_group", "search")
        ),
        Some(162.0)
    );
    assert_eq!(
        value(
            &rows,
            "revenue",
            ("none", "all"),
            ("platform_group", "social")
        ),
        Some(324.0)
    );
    // reddit (not in the dimension) and the NULL platform count only in the baseline.
    assert_eq!(
        value(&rows, "revenue", ("none", "all"), ("none", "all")),
        Some(510.0)
    );
    // COUNT(DISTINCT) takes the one-pass plan: search has u1, u4 (and a NULL user).
    assert_eq!(
        value(
            &rows,
            "users",
            ("none", "all"),
            ("platform_group", "search")
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &rows,
            "users",
            ("none", "all"),
            ("platform_group", "social")
        ),
        Some(3.0)
    );
    assert_eq!(
        value(&rows, "users", ("none", "all"), ("none", "all")),
        Some(5.0)
    );
}

#[test]
fn segment_with_slices_gives_the_full_cross_product() {
    let p = project();
    let rows = p.rows(
        &in_window(&["revenue"])
            .slices(["device", "band"])
            .segment("platform_group"),
    );
    let states: std::collections::BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.slice_type.clone(), r.segment_name.clone()))
        .collect();
    let expected: std::collections::BTreeSet<(String, String)> = [
        ("device", "platform_group"),
        ("device", "none"),
        ("band", "platform_group"),
        ("band", "none"),
        ("none", "platform_group"),
        ("none", "none"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(states, expected);
    // social & mobile: row 3 only, whose revenue is NULL.
    assert_eq!(
        value(
            &rows,
            "revenue",
            ("device", "mobile"),
            ("platform_group", "social")
        ),
        None
    );
    assert_eq!(
        value(
            &rows,
            "revenue",
            ("device", "desktop"),
            ("platform_group", "social")
        ),
        Some(320.0)
    );
    assert_eq!(
        value(
            &rows,
            "revenue",
            ("band", "ge_8"),
            ("platform_group", "search")
        ),
        Some(160.0)
    );
}

#[test]
fn explicit_join_key_and_wildcard_segment_columns() {
    let p = project();
    let rows = p.rows(
        &in_window(&["revenue"])
            .segment("platform_group")
            .join_key("partner"),
    );
    // Rows 2 and 7 have partner `meta`.
    assert_eq!(
        value(
            &rows,
            "revenue",
            ("none", "all"),
            ("platform_group", "social")
        ),
        Some(34.0)
    );
    assert!(rows.iter().all(|r| r.segment_value != "search"));

    let rows = p.rows(&in_window(&["revenue"]).segment("tier"));
    assert_eq!(
        value(&rows, "revenue", ("none", "all"), ("tier", "search|gold")),
        Some(162.0)
    );
    assert_eq!(
        value(&rows, "revenue", ("none", "all"), ("tier", "social|silver")),
        Some(324.0)
    );
    assert_eq!(rows.len(), 3);
}

#[test]
fn monthly_periods_cover_the_window_and_skip_empty_periods() {
    let p = project();
    let rows = p.rows(
        &ComputeRequest::new(["revenue"])
            .time_window("2024-01-15", "2024-04-01")
            .period(PeriodType::Monthly),
    );
    let got: Vec<(Option<String>, Option<String>, Option<f64>)> = rows
        .iter()
        .map(|r| {
            (
                r.period_start_date.clone(),
                r.period_end_date.clone(),
                r.metric_value,
            )
        })
        .collect();
    let s = |x: &str| Some(x.to_string());
    // January is covered whole although the window starts on the 15th; the leap-day row
    // falls in February.
    assert_eq!(
        got,
        vec![
            (
                s("2024-01-01 00:00:00"),
                s("2024-02-01 00:00:00"),
                Some(62.0)
            ),
            (
                s("2024-02-01 00:00:00"),
                s("2024-03-01 00:00:00"),
                Some(64.0)
            ),
            (
                s("2024-03-01 00:00:00"),
                s("2024-04-01 00:00:00"),
                Some(128.0)
            ),
        ]
    );
    assert!(rows.iter().all(|r| r.period_type == "monthly"));
}

#[test]
fn weekly_periods_start_on_monday() {
    let p = project();
    let rows = p.rows(
        &ComputeRequest::new(["revenue"])
            .time_window("2024-01-03", "2024-01-09")
            .period(PeriodType::Weekly),
    );
    let got: Vec<(String, Option<f64>)> = rows
        .iter()
        .map(|r| (r.period_start_date.clone().unwrap(), r.metric_value))
        .collect();
    // Sunday 2024-01-07 23:00 belongs to the week of Monday 1 January.
    assert_eq!(
        got,
        vec![
            ("2024-01-01 00:00:00".to_string(), Some(30.0)),
            ("2024-01-08 00:00:00".to_string(), Some(32.0)),
        ]
    );
}

#[test]
fn daily_periods_around_the_leap_day() {
    let p = project();
    let rows = p.rows(
        &ComputeRequest::new(["revenue"])
            .time_window("2024-02-29", "2024-03-02")
            .period(PeriodType::Daily),
    );
    let got: Vec<(String, String, Option<f64>)> = rows
        .iter()
        .map(|r| {
            (
                r.period_start_date.clone().unwrap(),
                r.period_end_date.clone().unwrap(),
                r.metric_value,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "2024-02-29 00:00:00".into(),
                "2024-03-01 00:00:00".into(),
                Some(64.0)
            ),
            (
                "2024-03-01 00:00:00".into(),
                "2024-03-02 00:00:00".into(),
                Some(128.0)
            ),
        ]
    );
}

#[test]
fn yearly_periods_across_the_year_boundary() {
    let p = project();
    let rows = p.rows(
        &ComputeRequest::new(["revenue"])
            .time_window("2024-06-01", "2025-01-02")
            .period(PeriodType::Yearly),
    );
    let got: Vec<(String, Option<f64>)> = rows
        .iter()
        .map(|r| (r.period_start_date.clone().unwrap(), r.metric_value))
        .collect();
    assert_eq!(
        got,
        vec![
            ("2024-01-01 00:00:00".to_string(), Some(510.0)),
            ("2025-01-01 00:00:00".to_string(), Some(512.0)),
        ]
    );
}

#[test]
fn hourly_windows_with_datetime_strings() {
    let p = project();
    let rows = p.rows(
        &ComputeRequest::new(["events"])
            .time_window("2024-01-01 13:15", "2024-01-01 14:30:00")
            .period(PeriodType::Hourly),
    );
    let got: Vec<(String, String, Option<f64>)> = rows
        .iter()
        .map(|r| {
            (
                r.period_start_date.clone().unwrap(),
                r.period_end_date.clone().unwrap(),
                r.metric_value,
            )
        })
        .collect();
    // Whole hours: 13:00 holds rows 3 (13:05) and 4; 14:00 holds row 5.
    assert_eq!(
        got,
        vec![
            (
                "2024-01-01 13:00:00".into(),
                "2024-01-01 14:00:00".into(),
                Some(2.0)
            ),
            (
                "2024-01-01 14:00:00".into(),
                "2024-01-01 15:00:00".into(),
                Some(1.0)
            ),
        ]
    );
    // all_time keeps exactly the window: rows 4 and 5.
    let rows = p.rows(
        &ComputeRequest::new(["events"]).time_window("2024-01-01 13:15", "2024-01-01 14:30:00"),
    );
    assert_eq!(rows[0].metric_value, Some(2.0));
    assert_eq!(
        rows[0].period_start_date.as_deref(),
        Some("2024-01-01 13:15")
    );
}

#[test]
fn by_entity_per_period_and_all_time() {
    let p = project();
    let rows = p.rows(
        &ComputeRequest::new(["revenue"])
            .time_window("2024-01-01", "2024-02-01")
            .period(PeriodType::Monthly)
            .by_entity("user_id"),
    );
    let got: Vec<(Option<String>, Option<f64>)> = rows
        .iter()
        .map(|r| (r.entity_id.clone(), r.metric_value))
        .collect();
    let e = |x: &str| Some(x.to_string());
    assert_eq!(
        got,
        vec![
            (e("u1"), Some(2.0)),
            (e("u2"), Some(4.0)),
            (e("u3"), Some(24.0)),
            (e("u4"), Some(32.0))
        ]
    );
    // Without a window, the NULL user is its own group (entity_id NULL).
    let rows = p.rows(&ComputeRequest::new(["revenue"]).by_entity("user_id"));
    let null_user: Vec<_> = rows.iter().filter(|r| r.entity_id.is_none()).collect();
    assert_eq!(null_user.len(), 1);
    assert_eq!(null_user[0].metric_value, Some(128.0));
    assert_eq!(rows.len(), 6);
}

#[test]
fn metrics_from_different_tables_in_one_call() {
    let p = project();
    let rows = p.rows(&in_window(&["revenue", "signups"]));
    assert_eq!(
        value(&rows, "revenue", ("none", "all"), ("none", "all")),
        Some(510.0)
    );
    // A DATE timestamp column compares with the window like a timestamp.
    assert_eq!(
        value(&rows, "signups", ("none", "all"), ("none", "all")),
        Some(7.0)
    );
    let plan = aitaem::MetricCompute::new(&p.specs(), &p.connections())
        .plan(&in_window(&["revenue", "ctr", "signups"]))
        .unwrap();
    assert_eq!(plan.statements().len(), 2, "one statement per source table");
    assert_eq!(plan.statements()[0].metrics(), ["revenue", "ctr"]);
}

#[test]
fn many_combinations_have_no_limit() {
    let p = project();
    for i in 0..40 {
        p.spec(
            "slices",
            &format!("s{i}"),
            &format!(
                "slice:\n  name: s{i}\n  values:\n    - {{name: v, where: \"revenue > {i}\"}}\n"
            ),
        );
    }
    let slices: Vec<String> = (0..40).map(|i| format!("s{i}")).collect();
    let rows = p.rows(
        &in_window(&["revenue", "ctr", "events"])
            .slices(slices)
            .segment("platform_group"),
    );
    // 3 metrics x 41 slice states; each state has its values x (2 segment values + baseline).
    assert!(rows.len() > 3 * 41 * 2, "{} rows", rows.len());
    assert_eq!(
        value(&rows, "revenue", ("s39", "v"), ("none", "all")),
        Some(64.0 + 128.0 + 256.0)
    );
}

#[test]
fn an_empty_window_still_has_its_baseline_row() {
    let p = project();
    let window = ("2030-01-01", "2031-01-01");
    for request in [
        ComputeRequest::new(["revenue", "events"]).time_window(window.0, window.1),
        ComputeRequest::new(["revenue", "events"])
            .slices(["band"])
            .time_window(window.0, window.1),
        ComputeRequest::new(["users", "events"])
            .segment("platform_group")
            .time_window(window.0, window.1),
    ] {
        let rows = p.rows(&request);
        let got: Vec<(&str, &str, &str, Option<f64>)> = rows
            .iter()
            .map(|r| {
                (
                    r.metric_name.as_str(),
                    r.slice_value.as_str(),
                    r.segment_value.as_str(),
                    r.metric_value,
                )
            })
            .collect();
        let first = request.metrics()[0].as_str();
        let zero = if first == "users" { Some(0.0) } else { None };
        assert_eq!(
            got,
            vec![
                (first, "all", "all", zero),
                ("events", "all", "all", Some(0.0))
            ]
        );
    }
    let rows = p.rows(
        &ComputeRequest::new(["events"])
            .time_window(window.0, window.1)
            .period(PeriodType::Monthly),
    );
    assert!(rows.is_empty(), "periods without rows have no rows");
}
