//! Quarters, week starts, filled gaps, comparisons, shares, running and rolling totals, on a
//! dozen rows whose answers are worked out by hand below: empty months, year boundaries, a leap
//! day, ISO week 53 of 2020, and windows that overlap the ones they are compared with. Every
//! backend present gets the same questions and must give the same hand-computed answers.

mod common;

use aitaem::result::DerivedColumn;
use aitaem::{Comparison, ComputeRequest, MetricCompute, PeriodType, SpecCache, WeekStart};
use common::{Backend, Expected, N, v};

/// (event_ts, kind, amount, clicks, views, user_id)
const EVENTS: [(&str, &str, i64, i64, i64, &str); 12] = [
    ("2019-12-31 00:00:00", "a", 1, 0, 1, "u1"),
    ("2020-12-22 12:00:00", "a", 2, 0, 1, "u1"),
    ("2020-12-29 08:00:00", "a", 3, 0, 1, "u1"),
    ("2021-01-02 23:59:59", "b", 4, 0, 1, "u1"),
    ("2021-01-05 00:00:00", "a", 5, 0, 1, "u1"),
    ("2023-01-15 10:00:00", "a", 5, 1, 10, "u1"),
    ("2023-02-28 10:00:00", "a", 7, 1, 10, "u1"),
    ("2023-12-10 10:00:00", "a", 3, 2, 10, "u1"),
    ("2024-01-10 10:00:00", "a", 10, 3, 10, "u1"),
    ("2024-01-20 10:00:00", "b", 4, 1, 20, "u2"),
    ("2024-02-29 23:00:00", "b", 6, 2, 10, "u1"),
    ("2024-03-05 00:00:00", "a", 2, 0, 0, "u2"),
];

const USERS: [(&str, &str); 2] = [("u1", "gold"), ("u2", "silver")];

/// The tables in a backend's SQL: `types` are its names for a timestamp, text and an integer;
/// `table` qualifies a table name.
fn setup(types: [&str; 3], table: &dyn Fn(&str) -> String) -> Vec<String> {
    let [ts, text, int] = types;
    let events: Vec<String> = EVENTS
        .iter()
        .map(|(t, kind, amount, clicks, views, user)| {
            format!("(CAST('{t}' AS {ts}), '{kind}', {amount}, {clicks}, {views}, '{user}')")
        })
        .collect();
    let users: Vec<String> = USERS
        .iter()
        .map(|(user, tier)| format!("('{user}', '{tier}')"))
        .collect();
    vec![
        format!(
            "CREATE TABLE {} (event_ts {ts}, kind {text}, amount {int}, clicks {int}, views {int}, user_id {text})",
            table("events")
        ),
        format!(
            "INSERT INTO {} VALUES {}",
            table("events"),
            events.join(", ")
        ),
        format!(
            "CREATE TABLE {} (user_id {text}, tier {text})",
            table("users")
        ),
        format!("INSERT INTO {} VALUES {}", table("users"), users.join(", ")),
    ]
}

fn specs(prefix: &str) -> SpecCache {
    let metric = |name: &str, body: &str| {
        format!(
            "metric:\n  name: {name}\n  source: {prefix}events\n  timestamp_col: event_ts\n{body}"
        )
    };
    let metrics = [
        metric("total", "  numerator: SUM(amount)\n  entities: [user_id]\n"),
        metric("users", "  numerator: COUNT(DISTINCT user_id)\n"),
        metric("avg", "  numerator: AVG(amount)\n"),
        metric(
            "ratio",
            "  numerator: SUM(clicks)\n  denominator: SUM(views)\n",
        ),
    ];
    let metrics: Vec<&str> = metrics.iter().map(String::as_str).collect();
    let segment = format!(
        "segment:\n  name: tier\n  source: {prefix}users\n  entity_id: user_id\n  where: [tier]\n"
    );
    SpecCache::from_strings(
        &metrics,
        &["slice:\n  name: kind\n  where: kind\n"],
        &[&segment],
    )
    .unwrap()
}

fn backends() -> Vec<Backend> {
    common::backends("time_features", setup, specs)
}

/// Runs `request` on every backend and checks the rows of `expected` (and that the result has
/// no other rows for the metrics named there, when `complete`).
fn check(request: ComputeRequest, expected: &[Expected], complete: bool) {
    common::assert_everywhere(&backends(), &request, expected, complete);
}

/// January to April 2024, monthly: April has no rows at all, February none of kind `a`, March
/// none of kind `b`.
fn months() -> ComputeRequest {
    ComputeRequest::new(["total", "users", "avg", "ratio"])
        .slices(["kind"])
        .time_window("2024-01-01", "2024-05-01")
        .period(PeriodType::Monthly)
}

#[test]
fn filled_months_compared_with_the_month_before_with_shares_and_totals() {
    let request = months()
        .fill_gaps(true)
        .compare(Comparison::PreviousPeriod)
        .share(true)
        .cumulative(true)
        .rolling(2);
    // value, comparison, delta, delta_pct, share, cumulative, rolling over 2 months.
    // Totals: all Dec 3 | Jan 14, Feb 6, Mar 2, Apr 0; a: Dec 3 | 10, -, 2, -; b: - | 4, 6, -, -.
    // A filled month compares as a value of 0; a month without rows gives no comparison.
    let expected: Vec<Expected> = vec![
        (
            "total",
            "all",
            "all",
            "2024-01",
            vec![v(14.), v(3.), v(11.), v(11. / 3.), v(1.), v(14.), v(17.)],
        ),
        (
            "total",
            "all",
            "all",
            "2024-02",
            vec![v(6.), v(14.), v(-8.), v(-8. / 14.), v(1.), v(20.), v(20.)],
        ),
        (
            "total",
            "all",
            "all",
            "2024-03",
            vec![v(2.), v(6.), v(-4.), v(-4. / 6.), v(1.), v(22.), v(8.)],
        ),
        (
            "total",
            "all",
            "all",
            "2024-04",
            vec![v(0.), v(2.), v(-2.), v(-1.), N, v(22.), v(2.)],
        ),
        (
            "total",
            "a",
            "all",
            "2024-01",
            vec![
                v(10.),
                v(3.),
                v(7.),
                v(7. / 3.),
                v(10. / 14.),
                v(10.),
                v(13.),
            ],
        ),
        (
            "total",
            "a",
            "all",
            "2024-02",
            vec![v(0.), v(10.), v(-10.), v(-1.), v(0.), v(10.), v(10.)],
        ),
        (
            "total",
            "a",
            "all",
            "2024-03",
            vec![v(2.), N, N, N, v(1.), v(12.), v(2.)],
        ),
        (
            "total",
            "a",
            "all",
            "2024-04",
            vec![v(0.), v(2.), v(-2.), v(-1.), N, v(12.), v(2.)],
        ),
        (
            "total",
            "b",
            "all",
            "2024-01",
            vec![v(4.), N, N, N, v(4. / 14.), v(4.), v(4.)],
        ),
        (
            "total",
            "b",
            "all",
            "2024-02",
            vec![v(6.), v(4.), v(2.), v(0.5), v(1.), v(10.), v(10.)],
        ),
        (
            "total",
            "b",
            "all",
            "2024-03",
            vec![v(0.), v(6.), v(-6.), v(-1.), v(0.), v(10.), v(6.)],
        ),
        (
            "total",
            "b",
            "all",
            "2024-04",
            vec![v(0.), N, N, N, N, v(10.), v(0.)],
        ),
        // A distinct count fills with 0 and counts users over the months of a range (users:
        // Dec u1 (a); Jan u1 (a), u2 (b); Feb u1 (b); Mar u2 (a)); its share of an empty
        // month is NULL.
        (
            "users",
            "all",
            "all",
            "2024-01",
            vec![v(2.), v(1.), v(1.), v(1.), v(1.), v(2.), v(2.)],
        ),
        (
            "users",
            "all",
            "all",
            "2024-04",
            vec![v(0.), v(1.), v(-1.), v(-1.), N, v(2.), v(1.)],
        ),
        (
            "users",
            "a",
            "all",
            "2024-02",
            vec![v(0.), v(1.), v(-1.), v(-1.), v(0.), v(1.), v(1.)],
        ),
        // An average fills with NULL, and averages the rows of a range (amounts: Dec 3 (a);
        // Jan 10 (a), 4 (b); Feb 6 (b); Mar 2 (a)).
        (
            "avg",
            "all",
            "all",
            "2024-01",
            vec![v(7.), v(3.), v(4.), v(4. / 3.), N, v(7.), v(17. / 3.)],
        ),
        (
            "avg",
            "all",
            "all",
            "2024-04",
            vec![N, v(2.), N, N, N, v(5.5), v(2.)],
        ),
        (
            "avg",
            "a",
            "all",
            "2024-02",
            vec![N, v(10.), N, N, N, v(10.), v(10.)],
        ),
        // A ratio of sums: running and rolling values divide summed clicks by summed views
        // (Dec 2/10; Jan 4/30; Feb 2/10; Mar 0/0).
        (
            "ratio",
            "all",
            "all",
            "2024-01",
            vec![
                v(4. / 30.),
                v(0.2),
                v(4. / 30. - 0.2),
                v((4. / 30. - 0.2) / 0.2),
                N,
                v(4. / 30.),
                v(6. / 40.),
            ],
        ),
        (
            "ratio",
            "all",
            "all",
            "2024-02",
            vec![
                v(0.2),
                v(4. / 30.),
                v(0.2 - 4. / 30.),
                v(0.5),
                N,
                v(6. / 40.),
                v(6. / 40.),
            ],
        ),
        (
            "ratio",
            "all",
            "all",
            "2024-03",
            vec![N, v(0.2), N, N, N, v(6. / 40.), v(0.2)],
        ),
        (
            "ratio",
            "all",
            "all",
            "2024-04",
            vec![N, N, N, N, N, v(6. / 40.), N],
        ),
    ];
    check(request, &expected, false);
}

#[test]
fn without_fill_gaps_only_months_with_rows_appear_and_missing_months_count_as_zero() {
    let request = ComputeRequest::new(["total"])
        .slices(["kind"])
        .time_window("2024-01-01", "2024-05-01")
        .period(PeriodType::Monthly)
        .rolling(3)
        .compare(Comparison::PreviousYear);
    // value, comparison (a year before: Jan 2023 5, Feb 2023 7), delta, delta_pct, rolling 3.
    let expected: Vec<Expected> = vec![
        (
            "total",
            "all",
            "all",
            "2024-01",
            vec![v(14.), v(5.), v(9.), v(1.8), v(17.)],
        ),
        (
            "total",
            "all",
            "all",
            "2024-02",
            vec![v(6.), v(7.), v(-1.), v(-1. / 7.), v(23.)],
        ),
        (
            "total",
            "all",
            "all",
            "2024-03",
            vec![v(2.), N, N, N, v(22.)],
        ),
        (
            "total",
            "a",
            "all",
            "2024-01",
            vec![v(10.), v(5.), v(5.), v(1.), v(13.)],
        ),
        ("total", "a", "all", "2024-03", vec![v(2.), N, N, N, v(12.)]),
        ("total", "b", "all", "2024-01", vec![v(4.), N, N, N, v(4.)]),
        ("total", "b", "all", "2024-02", vec![v(6.), N, N, N, v(10.)]),
    ];
    check(request, &expected, true);
}

#[test]
fn a_leap_day_compares_with_the_28th_of_february() {
    let request = ComputeRequest::new(["total"])
        .time_window("2024-02-28", "2024-03-01")
        .period(PeriodType::Daily)
        .fill_gaps(true)
        .compare(Comparison::PreviousYear);
    // 28 February 2023 had 7; 28 February 2024 had no rows (filled), 29 February 6.
    let expected: Vec<Expected> = vec![
        (
            "total",
            "all",
            "all",
            "2024-02-28",
            vec![v(0.), v(7.), v(-7.), v(-1.)],
        ),
        (
            "total",
            "all",
            "all",
            "2024-02-29",
            vec![v(6.), v(7.), v(-1.), v(-1. / 7.)],
        ),
    ];
    check(request, &expected, true);
}

#[test]
fn iso_week_53_compares_with_52_weeks_earlier_and_with_the_week_before() {
    let weeks = || {
        ComputeRequest::new(["total"])
            .time_window("2020-12-28", "2021-01-11")
            .period(PeriodType::Weekly)
    };
    // Week 53 of 2020 (28 December to 3 January): 3 + 4; the week after: 5. 52 weeks before
    // week 53 is the week of 30 December 2019 (1); the week before it that of 21 December (2).
    check(
        weeks().compare(Comparison::PreviousYear),
        &[
            (
                "total",
                "all",
                "all",
                "2020-12-28",
                vec![v(7.), v(1.), v(6.), v(6.)],
            ),
            ("total", "all", "all", "2021-01-04", vec![v(5.), N, N, N]),
        ],
        true,
    );
    check(
        weeks().compare(Comparison::PreviousPeriod),
        &[
            (
                "total",
                "all",
                "all",
                "2020-12-28",
                vec![v(7.), v(2.), v(5.), v(2.5)],
            ),
            (
                "total",
                "all",
                "all",
                "2021-01-04",
                vec![v(5.), v(7.), v(-2.), v(-2. / 7.)],
            ),
        ],
        true,
    );
}

#[test]
fn weeks_can_start_on_sunday_or_saturday() {
    let weeks = |start| {
        ComputeRequest::new(["total"])
            .time_window("2020-12-28", "2021-01-11")
            .period(PeriodType::Weekly)
            .week_start(start)
    };
    // Sunday weeks: 27 December holds 29 December (3) and Saturday 2 January (4); 3 January
    // holds 5 January (5). Saturday weeks: 26 December holds 29 December; 2 January holds
    // 2 January and 5 January.
    check(
        weeks(WeekStart::Sunday),
        &[
            ("total", "all", "all", "2020-12-27", vec![v(7.)]),
            ("total", "all", "all", "2021-01-03", vec![v(5.)]),
        ],
        true,
    );
    check(
        weeks(WeekStart::Saturday),
        &[
            ("total", "all", "all", "2020-12-26", vec![v(3.)]),
            ("total", "all", "all", "2021-01-02", vec![v(9.)]),
        ],
        true,
    );
}

#[test]
fn quarters_start_in_january_april_july_and_october() {
    let request = ComputeRequest::new(["total"])
        .time_window("2023-01-01", "2024-07-01")
        .period(PeriodType::Quarterly)
        .fill_gaps(true)
        .compare(Comparison::PreviousYear)
        .cumulative(true);
    // Q1 2023: 5 + 7; Q4 2023: 3; Q1 2024: 10 + 4 + 6 + 2; the other quarters are filled.
    let expected: Vec<Expected> = vec![
        (
            "total",
            "all",
            "all",
            "2023-01-01",
            vec![v(12.), N, N, N, v(12.)],
        ),
        (
            "total",
            "all",
            "all",
            "2023-04-01",
            vec![v(0.), N, N, N, v(12.)],
        ),
        (
            "total",
            "all",
            "all",
            "2023-07-01",
            vec![v(0.), N, N, N, v(12.)],
        ),
        (
            "total",
            "all",
            "all",
            "2023-10-01",
            vec![v(3.), N, N, N, v(15.)],
        ),
        (
            "total",
            "all",
            "all",
            "2024-01-01",
            vec![v(22.), v(12.), v(10.), v(10. / 12.), v(37.)],
        ),
        (
            "total",
            "all",
            "all",
            "2024-04-01",
            vec![v(0.), N, N, N, v(37.)],
        ),
    ];
    check(request, &expected, true);
}

#[test]
fn all_time_compares_with_the_window_before_or_a_year_before() {
    // 60 days (January and February 2024) after the 60 days from 2 November 2023 (3).
    check(
        ComputeRequest::new(["total"])
            .time_window("2024-01-01", "2024-03-01")
            .compare(Comparison::PreviousPeriod),
        &[(
            "total",
            "all",
            "all",
            "2024-01-01",
            vec![v(20.), v(3.), v(17.), v(17. / 3.)],
        )],
        true,
    );
    // 13 months from February 2023 (7 + 3 + 10 + 4 + 6) and the 13 months a year earlier
    // (5 + 7): 28 February 2023 counts in both.
    check(
        ComputeRequest::new(["total", "users"])
            .slices(["kind"])
            .time_window("2023-02-01", "2024-03-01")
            .compare(Comparison::PreviousYear),
        &[
            (
                "total",
                "all",
                "all",
                "2023-02-01",
                vec![v(30.), v(12.), v(18.), v(1.5)],
            ),
            (
                "total",
                "a",
                "all",
                "2023-02-01",
                vec![v(20.), v(12.), v(8.), v(8. / 12.)],
            ),
            ("total", "b", "all", "2023-02-01", vec![v(10.), N, N, N]),
            (
                "users",
                "all",
                "all",
                "2023-02-01",
                vec![v(2.), v(1.), v(1.), v(1.)],
            ),
            (
                "users",
                "a",
                "all",
                "2023-02-01",
                vec![v(1.), v(1.), v(0.), v(0.)],
            ),
            ("users", "b", "all", "2023-02-01", vec![v(2.), N, N, N]),
        ],
        true,
    );
}

#[test]
fn shares_divide_by_the_slice_total_within_a_segment_and_by_the_overall_total() {
    // January to March 2024: gold (u1) 10 + 6, silver (u2) 4 + 2; kind a 12, b 10.
    let request = ComputeRequest::new(["total", "avg"])
        .slices(["kind"])
        .segment("tier")
        .time_window("2024-01-01", "2024-04-01")
        .share(true);
    let expected: Vec<Expected> = vec![
        ("total", "all", "all", "2024", vec![v(22.), v(1.)]),
        ("total", "all", "gold", "2024", vec![v(16.), v(16. / 22.)]),
        ("total", "all", "silver", "2024", vec![v(6.), v(6. / 22.)]),
        ("total", "a", "all", "2024", vec![v(12.), v(12. / 22.)]),
        ("total", "b", "all", "2024", vec![v(10.), v(10. / 22.)]),
        ("total", "a", "gold", "2024", vec![v(10.), v(10. / 16.)]),
        ("total", "a", "silver", "2024", vec![v(2.), v(2. / 6.)]),
        ("total", "b", "gold", "2024", vec![v(6.), v(6. / 16.)]),
        ("total", "b", "silver", "2024", vec![v(4.), v(4. / 6.)]),
        ("avg", "a", "gold", "2024", vec![v(10.), N]),
    ];
    check(request, &expected, false);
}

#[test]
fn running_totals_by_entity_follow_each_entity() {
    let request = ComputeRequest::new(["total"])
        .time_window("2024-01-01", "2024-04-01")
        .period(PeriodType::Monthly)
        .by_entity("user_id")
        .cumulative(true)
        .sorted(true);
    // u1: January 10, February 6; u2: January 4, March 2.
    let expected = [
        ("u1", "2024-01", 10.0, 10.0),
        ("u1", "2024-02", 6.0, 16.0),
        ("u2", "2024-01", 4.0, 4.0),
        ("u2", "2024-03", 2.0, 6.0),
    ];
    for backend in backends() {
        let rows = MetricCompute::new(&backend.specs, &backend.connections)
            .compute(&request)
            .unwrap_or_else(|e| panic!("{}: {e}", backend.name))
            .rows()
            .unwrap();
        let mut got: Vec<(String, String, f64, f64)> = rows
            .iter()
            .map(|r| {
                (
                    r.entity_id.clone().unwrap(),
                    r.period_start_date.clone().unwrap()[..7].to_string(),
                    r.metric_value.unwrap(),
                    r.derived(DerivedColumn::CumulativeValue).unwrap(),
                )
            })
            .collect();
        got.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let want: Vec<(String, String, f64, f64)> = expected
            .iter()
            .map(|(e, p, v, c)| (e.to_string(), p.to_string(), *v, *c))
            .collect();
        assert_eq!(got, want, "{}", backend.name);
    }
}

#[test]
fn options_that_do_not_fit_the_request_are_refused_with_what_to_change() {
    let backend = &backends()[0];
    let compute = |request: ComputeRequest| {
        MetricCompute::new(&backend.specs, &backend.connections)
            .compute(&request)
            .unwrap_err()
            .to_string()
    };
    let all_time = || ComputeRequest::new(["total"]).time_window("2024-01-01", "2024-02-01");
    assert!(compute(all_time().fill_gaps(true)).contains("fill_gaps needs a period"));
    assert!(compute(all_time().cumulative(true)).contains("cumulative needs a period"));
    assert!(compute(all_time().rolling(3)).contains("rolling needs a period"));
    let monthly = || all_time().period(PeriodType::Monthly);
    assert!(compute(monthly().rolling(0)).contains("at least 1 period"));
    assert!(compute(monthly().week_start(WeekStart::Sunday)).contains("applies to weekly periods"));
    assert!(
        compute(ComputeRequest::new(["total"]).compare(Comparison::PreviousYear))
            .contains("needs a time window")
    );
    // Without the options the result is exactly the 11 standard columns.
    let result = MetricCompute::new(&backend.specs, &backend.connections)
        .compute(&monthly())
        .unwrap();
    assert_eq!(result.schema().fields().len(), 11);
    assert!(result.rows().unwrap().iter().all(|r| r.derived.is_empty()));
    assert_eq!(
        months().share(true).derived_columns(),
        [DerivedColumn::ShareOfTotal]
    );
}
