//! Distinct counts and quantiles over rolling and cumulative ranges, shares of distinct counts,
//! and quantiles with slices and a segment, on rows whose answers are worked out by hand
//! below: users active on some days only, a day without rows, a user in two slice values, a
//! user missing from the segment's table, a window whose first ranges reach back before it, a
//! leap day, and weeks around ISO week 53 of 2020. Every backend present gets the same
//! questions and must give the same hand-computed answers.

mod common;

use aitaem::{ComputeRequest, PeriodType, SpecCache};
use common::{Backend, Expected, N, v};

/// (day, device, user_id, amount): nine rows around 29 February 2024, then seven around ISO
/// week 53 of 2020 (Monday 28 December 2020 to Sunday 3 January 2021).
const EVENTS: [(&str, &str, &str, Option<i64>); 16] = [
    ("2024-02-26", "mobile", "u1", Some(10)),
    ("2024-02-27", "desktop", "u2", Some(20)),
    ("2024-02-28", "desktop", "u1", Some(30)),
    ("2024-02-28", "mobile", "u3", Some(40)),
    ("2024-02-29", "mobile", "u1", Some(50)),
    ("2024-02-29", "mobile", "u1", Some(60)),
    ("2024-03-01", "mobile", "u2", Some(70)),
    ("2024-03-03", "desktop", "u3", Some(80)),
    ("2024-03-03", "desktop", "u2", None),
    ("2020-12-08", "mobile", "u1", Some(1)),
    ("2020-12-15", "desktop", "u2", Some(2)),
    ("2020-12-27", "mobile", "u1", Some(3)),
    ("2020-12-29", "mobile", "u3", Some(4)),
    ("2021-01-02", "desktop", "u1", Some(5)),
    ("2021-01-05", "desktop", "u3", Some(6)),
    ("2021-01-10", "mobile", "u4", Some(7)),
];

/// The segment's table: u3 and u4 are not in it.
const CUSTOMERS: [(&str, &str); 2] = [("u1", "gold"), ("u2", "silver")];

fn setup(types: [&str; 3], table: &dyn Fn(&str) -> String) -> Vec<String> {
    let [ts, text, int] = types;
    // 3,000 visitors, numbered 1 to 3,000, each once: sketches estimate their count and
    // quantiles.
    let visits = match (text, int) {
        ("VARCHAR", _) => {
            "SELECT 'v' || CAST(i AS VARCHAR) AS visitor, i AS amount FROM range(1, 3001) t(i)"
        }
        ("TEXT", _) => {
            "SELECT 'v' || i AS visitor, i AS amount FROM generate_series(1, 3000) AS t(i)"
        }
        (_, "INT64") => {
            "SELECT CONCAT('v', CAST(i AS STRING)) AS visitor, i AS amount FROM UNNEST(GENERATE_ARRAY(1, 3000)) AS i"
        }
        // Spark
        _ => {
            "SELECT concat('v', CAST(id AS STRING)) AS visitor, CAST(id AS INT) AS amount FROM range(1, 3001)"
        }
    };
    let rows: Vec<String> = EVENTS
        .iter()
        .map(|(day, device, user, amount)| {
            let amount = amount.map_or("NULL".to_string(), |a| a.to_string());
            format!(
                "(CAST('{day} 12:00:00' AS {ts}), '{device}', '{user}', CAST({amount} AS {int}))"
            )
        })
        .collect();
    vec![
        format!(
            "CREATE TABLE {} (event_ts {ts}, device {text}, user_id {text}, amount {int})",
            table("events")
        ),
        format!("INSERT INTO {} VALUES {}", table("events"), rows.join(", ")),
        format!(
            "CREATE TABLE {} (user_id {text}, tier {text})",
            table("customers")
        ),
        format!(
            "INSERT INTO {} VALUES {}",
            table("customers"),
            CUSTOMERS
                .map(|(user, tier)| format!("('{user}', '{tier}')"))
                .join(", ")
        ),
        format!("CREATE TABLE {} AS {visits}", table("visits")),
    ]
}

fn specs(prefix: &str) -> SpecCache {
    let metric = |name: &str, body: &str| {
        format!(
            "metric:\n  name: {name}\n  source: {prefix}events\n  timestamp_col: event_ts\n  entities: [user_id]\n{body}"
        )
    };
    let metrics = [
        metric("users", "  numerator: COUNT(DISTINCT user_id)\n"),
        metric("median", "  numerator: MEDIAN(amount)\n"),
        metric(
            "p50_disc",
            "  numerator: PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY amount)\n",
        ),
        metric("p90", "  numerator: QUANTILE_CONT(amount, 0.9)\n"),
        metric(
            "users_per_event",
            "  numerator: COUNT(DISTINCT user_id)\n  denominator: COUNT(*)\n",
        ),
        metric(
            "mobile_users",
            "  numerator: COUNT(DISTINCT user_id)\n  filter: device = 'mobile'\n",
        ),
        metric(
            "approx_users",
            "  numerator: APPROX_COUNT_DISTINCT(user_id)\n",
        ),
        metric(
            "approx_median",
            "  numerator: APPROX_QUANTILE(amount, 0.5)\n",
        ),
        "metric:\n  name: median_per_user\n  expression: median / users\n".to_string(),
        format!(
            "metric:\n  name: approx_visitors\n  source: {prefix}visits\n  numerator: APPROX_COUNT_DISTINCT(visitor)\n"
        ),
        format!(
            "metric:\n  name: approx_p90\n  source: {prefix}visits\n  numerator: APPROX_QUANTILE(amount, 0.9)\n"
        ),
    ];
    let metrics: Vec<&str> = metrics.iter().map(String::as_str).collect();
    let segment = format!(
        "segment:\n  name: tier\n  source: {prefix}customers\n  entity_id: user_id\n  where: [tier]\n"
    );
    SpecCache::from_strings(
        &metrics,
        &["slice:\n  name: device\n  where: device\n"],
        &[&segment],
    )
    .unwrap()
}

fn backends() -> Vec<Backend> {
    common::backends("active_users_and_quantiles", setup, specs)
}

fn check(request: ComputeRequest, expected: &[Expected], complete: bool) {
    common::assert_everywhere(&backends(), &request, expected, complete);
}

/// 28 February to 3 March 2024, daily (2 March has no rows).
fn days(metrics: &[&str]) -> ComputeRequest {
    ComputeRequest::new(metrics.iter().copied())
        .time_window("2024-02-28", "2024-03-04")
        .period(PeriodType::Daily)
}

/// Per day (value), from 28 February on (cumulative) and over the day and the two before it
/// (rolling), with 2 March filled.
#[test]
fn distinct_counts_and_quantiles_over_ranges() {
    let request = days(&["users", "median", "p50_disc", "p90", "users_per_event"])
        .fill_gaps(true)
        .cumulative(true)
        .rolling(3);
    let row = |metric, day, values: [Option<f64>; 3]| -> Expected {
        (metric, "all", "all", day, values.to_vec())
    };
    // Amounts by day: 26th [10], 27th [20], 28th [30, 40], 29th [50, 60], 1st [70], 3rd [80,
    // NULL]; users: 26th u1, 27th u2, 28th u1 u3, 29th u1, 1st u2, 3rd u3 u2.
    let expected = vec![
        // value, cumulative (from the 28th), rolling (3 days)
        row("users", "2024-02-28", [v(2.), v(2.), v(3.)]),
        row("users", "2024-02-29", [v(1.), v(2.), v(3.)]),
        row("users", "2024-03-01", [v(1.), v(3.), v(3.)]),
        row("users", "2024-03-02", [v(0.), v(3.), v(2.)]),
        row("users", "2024-03-03", [v(2.), v(3.), v(2.)]),
        // [30, 40] | [30..60] | [30..70] | same | [30..80]; rolling [10..40], [20..60],
        // [30..70], [50, 60, 70], [70, 80].
        row("median", "2024-02-28", [v(35.), v(35.), v(25.)]),
        row("median", "2024-02-29", [v(55.), v(45.), v(40.)]),
        row("median", "2024-03-01", [v(70.), v(50.), v(50.)]),
        row("median", "2024-03-02", [N, v(50.), v(60.)]),
        row("median", "2024-03-03", [v(80.), v(55.), v(75.)]),
        // The first value whose cumulative distribution reaches 0.5: index ceil(n / 2) - 1.
        row("p50_disc", "2024-02-28", [v(30.), v(30.), v(20.)]),
        row("p50_disc", "2024-02-29", [v(50.), v(40.), v(40.)]),
        row("p50_disc", "2024-03-01", [v(70.), v(50.), v(50.)]),
        row("p50_disc", "2024-03-02", [N, v(50.), v(60.)]),
        row("p50_disc", "2024-03-03", [v(80.), v(50.), v(70.)]),
        // Position 0.9 (n - 1), interpolated.
        row("p90", "2024-02-28", [v(39.), v(39.), v(37.)]),
        row("p90", "2024-02-29", [v(59.), v(57.), v(56.)]),
        row("p90", "2024-03-01", [v(70.), v(66.), v(66.)]),
        row("p90", "2024-03-02", [N, v(66.), v(68.)]),
        row("p90", "2024-03-03", [v(80.), v(75.), v(79.)]),
        // Distinct users over the range's rows (the NULL amount's row counts).
        row("users_per_event", "2024-02-28", [v(1.), v(1.), v(0.75)]),
        row("users_per_event", "2024-02-29", [v(0.5), v(0.5), v(0.6)]),
        row("users_per_event", "2024-03-01", [v(1.), v(0.6), v(0.6)]),
        row("users_per_event", "2024-03-02", [N, v(0.6), v(2. / 3.)]),
        row(
            "users_per_event",
            "2024-03-03",
            [v(1.), v(3. / 7.), v(2. / 3.)],
        ),
    ];
    check(request, &expected, true);
}

/// A user counts in every slice value they have rows in; shares of distinct counts may sum
/// to more than 1.
#[test]
fn distinct_counts_by_slice_value_with_shares() {
    let request = days(&["users", "median", "mobile_users"])
        .slices(["device"])
        .share(true)
        .cumulative(true)
        .rolling(3);
    let row = |metric, slice, day, values: [Option<f64>; 4]| -> Expected {
        (metric, slice, "all", day, values.to_vec())
    };
    // mobile: 26th u1 10, 28th u3 40, 29th u1 50 60, 1st u2 70;
    // desktop: 27th u2 20, 28th u1 30, 3rd u3 80 and u2 NULL.
    let expected = vec![
        // value, share, cumulative, rolling
        row(
            "users",
            "mobile",
            "2024-02-28",
            [v(1.), v(0.5), v(1.), v(2.)],
        ),
        row(
            "users",
            "mobile",
            "2024-02-29",
            [v(1.), v(1.), v(2.), v(2.)],
        ),
        row(
            "users",
            "mobile",
            "2024-03-01",
            [v(1.), v(1.), v(3.), v(3.)],
        ),
        row(
            "users",
            "desktop",
            "2024-02-28",
            [v(1.), v(0.5), v(1.), v(2.)],
        ),
        row(
            "users",
            "desktop",
            "2024-03-03",
            [v(2.), v(1.), v(3.), v(2.)],
        ),
        row("users", "all", "2024-02-28", [v(2.), v(1.), v(2.), v(3.)]),
        row("users", "all", "2024-02-29", [v(1.), v(1.), v(2.), v(3.)]),
        row("users", "all", "2024-03-01", [v(1.), v(1.), v(3.), v(3.)]),
        row("users", "all", "2024-03-03", [v(2.), v(1.), v(3.), v(2.)]),
        row(
            "median",
            "mobile",
            "2024-02-28",
            [v(40.), N, v(40.), v(25.)],
        ),
        row(
            "median",
            "mobile",
            "2024-02-29",
            [v(55.), N, v(50.), v(50.)],
        ),
        row(
            "median",
            "mobile",
            "2024-03-01",
            [v(70.), N, v(55.), v(55.)],
        ),
        row(
            "median",
            "desktop",
            "2024-02-28",
            [v(30.), N, v(30.), v(25.)],
        ),
        row(
            "median",
            "desktop",
            "2024-03-03",
            [v(80.), N, v(55.), v(80.)],
        ),
        row("median", "all", "2024-02-28", [v(35.), N, v(35.), v(25.)]),
        row("median", "all", "2024-02-29", [v(55.), N, v(45.), v(40.)]),
        row("median", "all", "2024-03-01", [v(70.), N, v(50.), v(50.)]),
        row("median", "all", "2024-03-03", [v(80.), N, v(55.), v(75.)]),
        // Filtered to mobile rows: no row on days without them.
        row(
            "mobile_users",
            "mobile",
            "2024-02-28",
            [v(1.), v(1.), v(1.), v(2.)],
        ),
        row(
            "mobile_users",
            "mobile",
            "2024-02-29",
            [v(1.), v(1.), v(2.), v(2.)],
        ),
        row(
            "mobile_users",
            "mobile",
            "2024-03-01",
            [v(1.), v(1.), v(3.), v(3.)],
        ),
        row(
            "mobile_users",
            "all",
            "2024-02-28",
            [v(1.), v(1.), v(1.), v(2.)],
        ),
        row(
            "mobile_users",
            "all",
            "2024-02-29",
            [v(1.), v(1.), v(2.), v(2.)],
        ),
        row(
            "mobile_users",
            "all",
            "2024-03-01",
            [v(1.), v(1.), v(3.), v(3.)],
        ),
    ];
    check(request, &expected, true);
}

/// By user, every day filled: whether each user was active on the day and the day before
/// (u2's first range reaches back to the 27th).
#[test]
fn distinct_counts_by_entity() {
    let request = days(&["users"])
        .by_entity("user_id")
        .fill_gaps(true)
        .rolling(2);
    // Active: u1 28th, 29th; u2 27th, 1st, 3rd; u3 28th, 3rd.
    let want = [
        ("u1", [(1., 1.), (1., 1.), (0., 1.), (0., 0.), (0., 0.)]),
        ("u2", [(0., 1.), (0., 0.), (1., 1.), (0., 1.), (1., 1.)]),
        ("u3", [(1., 1.), (0., 1.), (0., 0.), (0., 0.), (1., 1.)]),
    ];
    let days = [
        "2024-02-28",
        "2024-02-29",
        "2024-03-01",
        "2024-03-02",
        "2024-03-03",
    ];
    let mut want: Vec<(String, String, Option<f64>, Option<f64>)> = want
        .iter()
        .flat_map(|(user, values)| {
            days.iter().zip(values).map(move |(day, (value, rolling))| {
                (
                    user.to_string(),
                    day.to_string(),
                    Some(*value),
                    Some(*rolling),
                )
            })
        })
        .collect();
    want.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    for backend in backends() {
        let result = aitaem::MetricCompute::new(&backend.specs, &backend.connections)
            .compute(&request)
            .unwrap_or_else(|e| panic!("{}: {e}", backend.name));
        let mut got: Vec<(String, String, Option<f64>, Option<f64>)> = result
            .rows()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.entity_id.clone().unwrap_or_default(),
                    r.period_start_date.clone().unwrap_or_default()[..10].to_string(),
                    r.metric_value,
                    r.derived(aitaem::result::DerivedColumn::RollingValue),
                )
            })
            .collect();
        got.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        assert_eq!(got, want, "{}", backend.name);
    }
}

/// The overall (no slice, no segment) value of each metric of an ungrouped request.
fn overall_values(backend: &Backend, request: &ComputeRequest) -> impl Fn(&str) -> f64 {
    let result = aitaem::MetricCompute::new(&backend.specs, &backend.connections)
        .compute(request)
        .unwrap_or_else(|e| panic!("{}: {e}", backend.name));
    let rows = result.rows().unwrap();
    let name = backend.name;
    move |m: &str| {
        rows.iter()
            .find(|r| r.metric_name == m)
            .and_then(|r| r.metric_value)
            .unwrap_or_else(|| panic!("{name}: no {m}"))
    }
}

/// Approximate distinct counts and quantiles run everywhere, within their error bounds (on
/// this little data: exact counts, and a median between the two middle values).
#[test]
fn approximate_aggregates_run_everywhere() {
    let request = ComputeRequest::new(["approx_users", "approx_median", "median"])
        .time_window("2024-02-26", "2024-03-04");
    for backend in backends() {
        let value = overall_values(&backend, &request);
        assert_eq!(value("approx_users"), 3.0, "{}", backend.name);
        // Amounts 10..80: the exact median is 45, between 40 and 50.
        assert_eq!(value("median"), 45.0, "{}", backend.name);
        let approx = value("approx_median");
        assert!(
            (40.0..=50.0).contains(&approx),
            "{}: {approx}",
            backend.name
        );
    }
}

/// On 3,000 distinct visitors numbered 1 to 3,000, the estimates fall within the documented
/// bounds: the count within 10% (three standard errors of DuckDB's HyperLogLog; BigQuery's is
/// tighter, PostgreSQL's exact), the 90th percentile (2,700.1) within 1% of the ranks (30).
#[test]
fn approximate_aggregates_within_their_error_bounds() {
    let request = ComputeRequest::new(["approx_visitors", "approx_p90"]);
    for backend in backends() {
        let value = overall_values(&backend, &request);
        let count = value("approx_visitors");
        assert!((count - 3000.0).abs() <= 300.0, "{}: {count}", backend.name);
        let p90 = value("approx_p90");
        assert!((p90 - 2700.1).abs() <= 30.0, "{}: {p90}", backend.name);
        if backend.name == "PostgreSQL" {
            assert_eq!(count, 3000.0, "exact on PostgreSQL");
            assert!((p90 - 2700.1).abs() < 1e-6, "exact on PostgreSQL: {p90}");
        }
    }
}

/// A segment: u1 is gold and u2 silver; u3 is in no segment value but counts in the baseline.
#[test]
fn distinct_counts_and_medians_by_segment_value() {
    let request = days(&["users", "median"])
        .segment("tier")
        .share(true)
        .cumulative(true)
        .rolling(3);
    let row = |metric, segment, day, values: [Option<f64>; 4]| -> Expected {
        (metric, "all", segment, day, values.to_vec())
    };
    // gold (u1): 26th 10, 28th 30, 29th 50 60; silver (u2): 27th 20, 1st 70, 3rd NULL.
    let expected = vec![
        // value, share, cumulative (from the 28th), rolling (3 days)
        row("users", "gold", "2024-02-28", [v(1.), v(0.5), v(1.), v(1.)]),
        row("users", "gold", "2024-02-29", [v(1.), v(1.), v(1.), v(1.)]),
        row(
            "users",
            "silver",
            "2024-03-01",
            [v(1.), v(1.), v(1.), v(1.)],
        ),
        row(
            "users",
            "silver",
            "2024-03-03",
            [v(1.), v(0.5), v(1.), v(1.)],
        ),
        row("users", "all", "2024-02-28", [v(2.), v(1.), v(2.), v(3.)]),
        row("users", "all", "2024-02-29", [v(1.), v(1.), v(2.), v(3.)]),
        row("users", "all", "2024-03-01", [v(1.), v(1.), v(3.), v(3.)]),
        row("users", "all", "2024-03-03", [v(2.), v(1.), v(3.), v(2.)]),
        // [30] | [50, 60]; cumulative [30] | [30, 50, 60]; rolling [10, 30] | [30, 50, 60]
        row("median", "gold", "2024-02-28", [v(30.), N, v(30.), v(20.)]),
        row("median", "gold", "2024-02-29", [v(55.), N, v(50.), v(50.)]),
        // The 3rd's only silver amount is NULL; its ranges hold the 1st's 70.
        row(
            "median",
            "silver",
            "2024-03-01",
            [v(70.), N, v(70.), v(70.)],
        ),
        row("median", "silver", "2024-03-03", [N, N, v(70.), v(70.)]),
        row("median", "all", "2024-02-28", [v(35.), N, v(35.), v(25.)]),
        row("median", "all", "2024-02-29", [v(55.), N, v(45.), v(40.)]),
        row("median", "all", "2024-03-01", [v(70.), N, v(50.), v(50.)]),
        row("median", "all", "2024-03-03", [v(80.), N, v(55.), v(75.)]),
    ];
    check(request, &expected, true);
}

/// Weekly active users around ISO week 53 of 2020 (28 December to 3 January): the week holds
/// days of two years and is one period, and ranges cross it like any other week.
#[test]
fn weekly_distinct_counts_across_week_53() {
    let request = ComputeRequest::new(["users", "median"])
        .time_window("2020-12-14", "2021-01-11")
        .period(PeriodType::Weekly)
        .slices(["device"])
        .cumulative(true)
        .rolling(2);
    let row = |metric, slice, week, values: [Option<f64>; 3]| -> Expected {
        (metric, slice, "all", week, values.to_vec())
    };
    // Weeks: 7 Dec u1 m 1 (before the window); 14 Dec u2 d 2; 21 Dec u1 m 3 (Sunday 27th);
    // 28 Dec u3 m 4, u1 d 5 (Saturday 2 January); 4 Jan u3 d 6, u4 m 7 (Sunday 10th).
    let expected = vec![
        // value, cumulative (from 14 December), rolling (2 weeks)
        row("users", "all", "2020-12-14", [v(1.), v(1.), v(2.)]),
        row("users", "all", "2020-12-21", [v(1.), v(2.), v(2.)]),
        row("users", "all", "2020-12-28", [v(2.), v(3.), v(2.)]),
        row("users", "all", "2021-01-04", [v(2.), v(4.), v(3.)]),
        row("users", "mobile", "2020-12-21", [v(1.), v(1.), v(1.)]),
        row("users", "mobile", "2020-12-28", [v(1.), v(2.), v(2.)]),
        row("users", "mobile", "2021-01-04", [v(1.), v(3.), v(2.)]),
        row("users", "desktop", "2020-12-14", [v(1.), v(1.), v(1.)]),
        row("users", "desktop", "2020-12-28", [v(1.), v(2.), v(1.)]),
        row("users", "desktop", "2021-01-04", [v(1.), v(3.), v(2.)]),
        // all: [2] | [3] | [4, 5] | [6, 7]; rolling [1, 2] | [2, 3] | [3, 4, 5] | [4..7]
        row("median", "all", "2020-12-14", [v(2.), v(2.), v(1.5)]),
        row("median", "all", "2020-12-21", [v(3.), v(2.5), v(2.5)]),
        row("median", "all", "2020-12-28", [v(4.5), v(3.5), v(4.)]),
        row("median", "all", "2021-01-04", [v(6.5), v(4.5), v(5.5)]),
        // mobile: [3] | [4] | [7]; desktop: [2] | [5] | [6]
        row("median", "mobile", "2020-12-21", [v(3.), v(3.), v(3.)]),
        row("median", "mobile", "2020-12-28", [v(4.), v(3.5), v(3.5)]),
        row("median", "mobile", "2021-01-04", [v(7.), v(4.), v(5.5)]),
        row("median", "desktop", "2020-12-14", [v(2.), v(2.), v(2.)]),
        row("median", "desktop", "2020-12-28", [v(5.), v(3.5), v(5.)]),
        row("median", "desktop", "2021-01-04", [v(6.), v(5.), v(5.5)]),
    ];
    check(request, &expected, true);
}

/// An option that cannot apply to a metric gives NULL and says why, in the result's notices:
/// `share_of_total` of a median, a ratio and a derived metric; none for a distinct count.
#[test]
fn options_that_cannot_apply_say_why() {
    let request = days(&["users", "median", "users_per_event", "median_per_user"]).share(true);
    for backend in backends() {
        let result = aitaem::MetricCompute::new(&backend.specs, &backend.connections)
            .compute(&request)
            .unwrap_or_else(|e| panic!("{}: {e}", backend.name));
        let notices = result.notices();
        for metric in ["median", "users_per_event", "median_per_user"] {
            let said = notices
                .iter()
                .filter(|n| n.starts_with(&format!("`share_of_total` is NULL for `{metric}`")))
                .count();
            assert_eq!(said, 1, "{}: {metric}: {notices:?}", backend.name);
        }
        assert_eq!(notices.len(), 3, "{}: {notices:?}", backend.name);
        let rows = result.rows().unwrap();
        for row in &rows {
            let share = row.derived(aitaem::result::DerivedColumn::ShareOfTotal);
            assert_eq!(
                share.is_some(),
                row.metric_name == "users",
                "{}: {row:?}",
                backend.name
            );
        }
    }
    let request = days(&["users"]).share(true).rolling(2);
    let backend = &backends()[0];
    let result = aitaem::MetricCompute::new(&backend.specs, &backend.connections)
        .compute(&request)
        .unwrap();
    assert!(result.notices().is_empty(), "{:?}", result.notices());
}
