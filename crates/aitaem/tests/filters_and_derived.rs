//! Metric filters, request filters and derived metrics, on eight orders and nine sessions whose
//! answers are worked out by hand below. Every backend present gets the same questions and must
//! give the same hand-computed answers.

mod common;

use aitaem::{Comparison, ComputeRequest, ErrorKind, MetricCompute, PeriodType, SpecCache};
use common::{Backend, Expected, N, v};

/// (ts, user_id, country, status, amount): amounts are powers of two, so every sum names its
/// orders.
const ORDERS: [(&str, &str, &str, &str, i64); 8] = [
    ("2024-01-05 10:00:00", "u1", "MX", "done", 1),
    ("2024-01-20 10:00:00", "u2", "MX", "open", 2),
    ("2024-02-03 10:00:00", "u1", "US", "done", 4),
    ("2024-02-10 10:00:00", "u3", "US", "done", 8),
    ("2024-03-15 10:00:00", "u2", "MX", "cancelled", 16),
    ("2024-03-20 10:00:00", "u4", "FR", "open", 32),
    ("2024-04-02 10:00:00", "u3", "US", "done", 64),
    ("2024-04-28 10:00:00", "u1", "MX", "done", 128),
];

/// (ts, user_id, country)
const SESSIONS: [(&str, &str, &str); 9] = [
    ("2024-01-03 09:00:00", "u1", "MX"),
    ("2024-01-10 09:00:00", "u2", "MX"),
    ("2024-02-01 09:00:00", "u1", "US"),
    ("2024-02-02 09:00:00", "u3", "US"),
    ("2024-03-01 09:00:00", "u4", "FR"),
    ("2024-03-02 09:00:00", "u2", "MX"),
    ("2024-04-01 09:00:00", "u1", "MX"),
    ("2024-04-10 09:00:00", "u3", "US"),
    ("2024-04-11 09:00:00", "u3", "US"),
];

fn setup(types: [&str; 3], table: &dyn Fn(&str) -> String) -> Vec<String> {
    let [ts, text, int] = types;
    let orders: Vec<String> = ORDERS
        .iter()
        .map(|(t, user, country, status, amount)| {
            format!("(CAST('{t}' AS {ts}), '{user}', '{country}', '{status}', {amount})")
        })
        .collect();
    let sessions: Vec<String> = SESSIONS
        .iter()
        .map(|(t, user, country)| format!("(CAST('{t}' AS {ts}), '{user}', '{country}')"))
        .collect();
    vec![
        format!(
            "CREATE TABLE {} (ts {ts}, user_id {text}, country {text}, status {text}, amount {int})",
            table("orders")
        ),
        format!(
            "INSERT INTO {} VALUES {}",
            table("orders"),
            orders.join(", ")
        ),
        format!(
            "CREATE TABLE {} (ts {ts}, user_id {text}, country {text})",
            table("sessions")
        ),
        format!(
            "INSERT INTO {} VALUES {}",
            table("sessions"),
            sessions.join(", ")
        ),
    ]
}

fn specs(prefix: &str) -> SpecCache {
    let order = |name: &str, body: &str| {
        format!(
            "metric:\n  name: {name}\n  source: {prefix}orders\n  timestamp_col: ts\n  entities: [user_id]\n{body}"
        )
    };
    let derived = |name: &str, expression: &str, body: &str| {
        format!("metric:\n  name: {name}\n  expression: \"{expression}\"\n{body}")
    };
    let done = "  filter: status = 'done'\n";
    let metrics = [
        order("revenue", "  numerator: SUM(amount)\n"),
        order("orders", "  numerator: COUNT(*)\n"),
        order("done_revenue", &format!("  numerator: SUM(amount)\n{done}")),
        order("done_orders", &format!("  numerator: COUNT(*)\n{done}")),
        order(
            "buyers",
            &format!("  numerator: COUNT(DISTINCT user_id)\n{done}"),
        ),
        order(
            "mx_avg",
            "  numerator: AVG(amount)\n  filter: \"orders.country = 'MX'\"\n",
        ),
        format!(
            "metric:\n  name: sessions\n  source: {prefix}sessions\n  timestamp_col: ts\n  numerator: COUNT(*)\n"
        ),
        derived("aov", "revenue / orders", "  format: currency\n"),
        derived("done_per_session", "done_revenue / sessions", ""),
        derived("aov_x2", "aov * 2 - 0", ""),
        derived(
            "open_share",
            "(orders - done_orders) / orders",
            "  format: percentage\n",
        ),
    ];
    let metrics: Vec<&str> = metrics.iter().map(String::as_str).collect();
    SpecCache::from_strings(
        &metrics,
        &[
            "slice:\n  name: country\n  where: country\n",
            "slice:\n  name: status\n  where: status\n",
        ],
        &[],
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn backends() -> Vec<Backend> {
    common::backends("filters_and_derived", setup, specs)
}

/// Runs `request` on every backend and checks the rows of `expected` (and that the result has
/// no other rows for the metrics named there, when `complete`).
fn check(request: ComputeRequest, expected: &[Expected], complete: bool) {
    common::assert_everywhere(&backends(), &request, expected, complete);
}

/// January to April 2024, monthly, by country.
fn months(metrics: &[&str]) -> ComputeRequest {
    ComputeRequest::new(metrics.iter().copied())
        .slices(["country"])
        .time_window("2024-01-01", "2024-05-01")
        .period(PeriodType::Monthly)
}

/// A metric's monthly rows by country: January MX (orders 1, 2), February US (3, 4), March MX
/// (5) and FR (6), April US (7) and MX (8). `done` orders: 1, 3, 4, 7, 8.
#[test]
fn a_filter_counts_only_its_rows_whatever_shares_the_statement() {
    let done_revenue: Vec<Expected> = vec![
        ("done_revenue", "MX", "all", "2024-01", vec![v(1.)]),
        ("done_revenue", "all", "all", "2024-01", vec![v(1.)]),
        ("done_revenue", "US", "all", "2024-02", vec![v(12.)]),
        ("done_revenue", "all", "all", "2024-02", vec![v(12.)]),
        // March has orders, but none done: no rows, not even the baseline.
        ("done_revenue", "US", "all", "2024-04", vec![v(64.)]),
        ("done_revenue", "MX", "all", "2024-04", vec![v(128.)]),
        ("done_revenue", "all", "all", "2024-04", vec![v(192.)]),
    ];
    let buyers: Vec<Expected> = vec![
        ("buyers", "MX", "all", "2024-01", vec![v(1.)]),
        ("buyers", "all", "all", "2024-01", vec![v(1.)]),
        ("buyers", "US", "all", "2024-02", vec![v(2.)]),
        ("buyers", "all", "all", "2024-02", vec![v(2.)]),
        ("buyers", "US", "all", "2024-04", vec![v(1.)]),
        ("buyers", "MX", "all", "2024-04", vec![v(1.)]),
        ("buyers", "all", "all", "2024-04", vec![v(2.)]),
    ];
    let revenue: Vec<Expected> = vec![
        ("revenue", "MX", "all", "2024-01", vec![v(3.)]),
        ("revenue", "all", "all", "2024-01", vec![v(3.)]),
        ("revenue", "US", "all", "2024-02", vec![v(12.)]),
        ("revenue", "all", "all", "2024-02", vec![v(12.)]),
        ("revenue", "MX", "all", "2024-03", vec![v(16.)]),
        ("revenue", "FR", "all", "2024-03", vec![v(32.)]),
        ("revenue", "all", "all", "2024-03", vec![v(48.)]),
        ("revenue", "US", "all", "2024-04", vec![v(64.)]),
        ("revenue", "MX", "all", "2024-04", vec![v(128.)]),
        ("revenue", "all", "all", "2024-04", vec![v(192.)]),
    ];
    fn all<'a>(parts: &[&[Expected<'a>]]) -> Vec<Expected<'a>> {
        parts.iter().flat_map(|p| p.iter().cloned()).collect()
    }
    // Alone: the filter is the statement's WHERE.
    check(months(&["done_revenue"]), &done_revenue, true);
    // With an unfiltered metric, rolled up in two stages: the filter restricts each aggregate.
    check(
        months(&["revenue", "done_revenue"]),
        &all(&[&revenue, &done_revenue]),
        true,
    );
    // With an unfiltered metric, in one pass (a distinct count).
    check(
        months(&["revenue", "buyers", "done_revenue"]),
        &all(&[&revenue, &buyers, &done_revenue]),
        true,
    );
    // Metrics of one filter share it.
    check(
        months(&["done_revenue", "buyers"]),
        &all(&[&done_revenue, &buyers]),
        true,
    );
    // March has no done orders. Grouped by nothing but the slice, the overall row is there as
    // for any metric (NULL for the sum, 0 for the count), and the countries are not.
    let march = |metrics: &[&str]| {
        ComputeRequest::new(metrics.iter().copied())
            .slices(["country"])
            .time_window("2024-03-01", "2024-04-01")
    };
    let none_done: Vec<Expected> = vec![
        ("done_revenue", "all", "all", "", vec![N]),
        ("done_orders", "all", "all", "", vec![v(0.)]),
    ];
    check(march(&["done_revenue", "done_orders"]), &none_done, true);
    check(
        march(&["revenue", "done_revenue", "done_orders"]),
        &none_done,
        true,
    );
    // A qualified column in a filter; AVG over the filtered rows only: MX orders 1, 2, 5, 8.
    check(
        ComputeRequest::new(["mx_avg", "revenue"]),
        &[
            ("mx_avg", "all", "all", "", vec![v(147. / 4.)]),
            ("revenue", "all", "all", "", vec![v(255.)]),
        ],
        true,
    );
}

#[test]
fn a_filtered_metric_beside_others_fills_compares_and_totals_as_if_alone() {
    // done orders per month: MX Jan 1, Apr 1; US Feb 2, Apr 1; all Jan 1, Feb 2, Apr 2. FR has
    // none (no series), March none at all (filled where a series has rows).
    // value, comparison, delta, delta_pct, share, cumulative, rolling over 2 months.
    let expected: Vec<Expected> = vec![
        (
            "done_orders",
            "MX",
            "all",
            "2024-01",
            vec![v(1.), N, N, N, v(1.), v(1.), v(1.)],
        ),
        (
            "done_orders",
            "MX",
            "all",
            "2024-02",
            vec![v(0.), v(1.), v(-1.), v(-1.), v(0.), v(1.), v(1.)],
        ),
        (
            "done_orders",
            "MX",
            "all",
            "2024-03",
            vec![v(0.), N, N, N, N, v(1.), v(0.)],
        ),
        (
            "done_orders",
            "MX",
            "all",
            "2024-04",
            vec![v(1.), N, N, N, v(0.5), v(2.), v(1.)],
        ),
        (
            "done_orders",
            "US",
            "all",
            "2024-01",
            vec![v(0.), N, N, N, v(0.), v(0.), v(0.)],
        ),
        (
            "done_orders",
            "US",
            "all",
            "2024-02",
            vec![v(2.), N, N, N, v(1.), v(2.), v(2.)],
        ),
        (
            "done_orders",
            "US",
            "all",
            "2024-03",
            vec![v(0.), v(2.), v(-2.), v(-1.), N, v(2.), v(2.)],
        ),
        (
            "done_orders",
            "US",
            "all",
            "2024-04",
            vec![v(1.), N, N, N, v(0.5), v(3.), v(1.)],
        ),
        (
            "done_orders",
            "all",
            "all",
            "2024-01",
            vec![v(1.), N, N, N, v(1.), v(1.), v(1.)],
        ),
        (
            "done_orders",
            "all",
            "all",
            "2024-02",
            vec![v(2.), v(1.), v(1.), v(1.), v(1.), v(3.), v(3.)],
        ),
        (
            "done_orders",
            "all",
            "all",
            "2024-03",
            vec![v(0.), v(2.), v(-2.), v(-1.), N, v(3.), v(2.)],
        ),
        (
            "done_orders",
            "all",
            "all",
            "2024-04",
            vec![v(2.), N, N, N, v(1.), v(5.), v(2.)],
        ),
    ];
    for metrics in [&["done_orders"][..], &["revenue", "done_orders"]] {
        let request = months(metrics)
            .fill_gaps(true)
            .compare(Comparison::PreviousPeriod)
            .share(true)
            .cumulative(true)
            .rolling(2);
        check(request, &expected, true);
    }
}

#[test]
fn a_request_filter_applies_to_every_metric_and_its_columns_must_exist() {
    // MX orders: 1, 2, 5, 8 (done: 1, 8); MX sessions: 4.
    check(
        ComputeRequest::new(["revenue", "sessions", "done_per_session"]).filter("country = 'MX'"),
        &[
            ("revenue", "all", "all", "", vec![v(147.)]),
            ("sessions", "all", "all", "", vec![v(4.)]),
            ("done_per_session", "all", "all", "", vec![v(129. / 4.)]),
        ],
        true,
    );
    // Two filters, both must hold, with a metric filter on top: done orders of u1 in MX.
    check(
        ComputeRequest::new(["done_revenue", "orders"])
            .filter("country = 'MX'")
            .filter("user_id = 'u1'"),
        &[
            ("done_revenue", "all", "all", "", vec![v(129.)]),
            ("orders", "all", "all", "", vec![v(2.)]),
        ],
        true,
    );
    for backend in backends() {
        let compute = MetricCompute::new(&backend.specs, &backend.connections);
        // `sessions` has no `status`: nothing is computed, and the error names all three.
        let err = compute
            .compute(&ComputeRequest::new(["revenue", "sessions"]).filter("status = 'done'"))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::QueryBuild, "{}: {err}", backend.name);
        let text = err.to_string();
        for part in ["column `status`", "metric `sessions`", "sessions`"] {
            assert!(text.contains(part), "{}: {text}", backend.name);
        }
        // Not a row predicate: an aggregate, a subquery, a second statement.
        for bad in [
            "SUM(amount) > 1",
            "amount > (SELECT 1)",
            "1 = 1; DROP TABLE orders",
        ] {
            let err = compute
                .compute(&ComputeRequest::new(["revenue"]).filter(bad))
                .unwrap_err();
            assert_eq!(
                err.kind(),
                ErrorKind::QueryBuild,
                "{}: {bad}: {err}",
                backend.name
            );
            assert!(err.to_string().contains(bad), "{}: {err}", backend.name);
        }
    }
}

#[test]
fn derived_metrics_combine_their_inputs_row_by_row() {
    // aov = revenue / orders; done_per_session = done_revenue / sessions (another table, rows of
    // either input; NULL where one has none); aov_x2 reads aov; open_share reads a filtered
    // metric (NULL in March, when there are no done orders).
    let expected: Vec<Expected> = vec![
        ("aov", "MX", "all", "2024-01", vec![v(1.5)]),
        ("aov", "all", "all", "2024-01", vec![v(1.5)]),
        ("aov", "US", "all", "2024-02", vec![v(6.)]),
        ("aov", "all", "all", "2024-02", vec![v(6.)]),
        ("aov", "MX", "all", "2024-03", vec![v(16.)]),
        ("aov", "FR", "all", "2024-03", vec![v(32.)]),
        ("aov", "all", "all", "2024-03", vec![v(24.)]),
        ("aov", "US", "all", "2024-04", vec![v(64.)]),
        ("aov", "MX", "all", "2024-04", vec![v(128.)]),
        ("aov", "all", "all", "2024-04", vec![v(96.)]),
        ("done_per_session", "MX", "all", "2024-01", vec![v(0.5)]),
        ("done_per_session", "all", "all", "2024-01", vec![v(0.5)]),
        ("done_per_session", "US", "all", "2024-02", vec![v(6.)]),
        ("done_per_session", "all", "all", "2024-02", vec![v(6.)]),
        ("done_per_session", "FR", "all", "2024-03", vec![N]),
        ("done_per_session", "MX", "all", "2024-03", vec![N]),
        ("done_per_session", "all", "all", "2024-03", vec![N]),
        ("done_per_session", "US", "all", "2024-04", vec![v(32.)]),
        ("done_per_session", "MX", "all", "2024-04", vec![v(128.)]),
        ("done_per_session", "all", "all", "2024-04", vec![v(64.)]),
        ("aov_x2", "MX", "all", "2024-01", vec![v(3.)]),
        ("aov_x2", "all", "all", "2024-01", vec![v(3.)]),
        ("aov_x2", "US", "all", "2024-02", vec![v(12.)]),
        ("aov_x2", "all", "all", "2024-02", vec![v(12.)]),
        ("aov_x2", "MX", "all", "2024-03", vec![v(32.)]),
        ("aov_x2", "FR", "all", "2024-03", vec![v(64.)]),
        ("aov_x2", "all", "all", "2024-03", vec![v(48.)]),
        ("aov_x2", "US", "all", "2024-04", vec![v(128.)]),
        ("aov_x2", "MX", "all", "2024-04", vec![v(256.)]),
        ("aov_x2", "all", "all", "2024-04", vec![v(192.)]),
        ("open_share", "MX", "all", "2024-01", vec![v(0.5)]),
        ("open_share", "all", "all", "2024-01", vec![v(0.5)]),
        ("open_share", "US", "all", "2024-02", vec![v(0.)]),
        ("open_share", "all", "all", "2024-02", vec![v(0.)]),
        ("open_share", "MX", "all", "2024-03", vec![N]),
        ("open_share", "FR", "all", "2024-03", vec![N]),
        ("open_share", "all", "all", "2024-03", vec![N]),
        ("open_share", "US", "all", "2024-04", vec![v(0.)]),
        ("open_share", "MX", "all", "2024-04", vec![v(0.)]),
        ("open_share", "all", "all", "2024-04", vec![v(0.)]),
    ];
    check(
        months(&["aov", "done_per_session", "aov_x2", "open_share"]),
        &expected,
        true,
    );
    for backend in backends() {
        let compute = MetricCompute::new(&backend.specs, &backend.connections);
        let request = ComputeRequest::new(["aov", "revenue", "aov_x2"]).sorted(true);
        let result = compute.compute(&request).unwrap();
        // Only the requested metrics, in request order, each in its own format.
        let rows = result.rows().unwrap();
        let names: Vec<(&str, Option<&str>)> = rows
            .iter()
            .map(|r| (r.metric_name.as_str(), r.metric_format.as_deref()))
            .collect();
        assert_eq!(
            names,
            [
                ("aov", Some("currency")),
                ("revenue", None),
                ("aov_x2", None)
            ],
            "{}",
            backend.name
        );
        assert_eq!(rows[0].metric_value, Some(255. / 8.), "{}", backend.name);
        // Per entity: u1 orders 1, 3, 8; u2 2, 5; u3 4, 7; u4 6.
        let request = ComputeRequest::new(["aov"])
            .by_entity("user_id")
            .sorted(true);
        let rows = compute.compute(&request).unwrap().rows().unwrap();
        let per_user: Vec<(Option<&str>, Option<f64>)> = rows
            .iter()
            .map(|r| (r.entity_id.as_deref(), r.metric_value))
            .collect();
        assert_eq!(
            per_user,
            [
                (Some("u1"), Some(133. / 3.)),
                (Some("u2"), Some(9.)),
                (Some("u3"), Some(36.)),
                (Some("u4"), Some(32.)),
            ],
            "{}",
            backend.name
        );
        // `sessions` declares no entities, so neither does a metric that reads it.
        let err = compute
            .compute(&ComputeRequest::new(["done_per_session"]).by_entity("user_id"))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::QueryBuild);
        assert!(err.to_string().contains("`sessions`"), "{err}");
    }
}

#[test]
fn time_options_of_a_derived_metric_are_its_expression_over_its_inputs() {
    // revenue per month 3, 12, 48, 192; orders 2 each month (none in December 2023).
    // value, comparison, delta, delta_pct, share, cumulative, rolling over 2 months.
    let expected: Vec<Expected> = vec![
        (
            "aov",
            "all",
            "all",
            "2024-01",
            vec![v(1.5), N, N, N, N, v(1.5), v(1.5)],
        ),
        (
            "aov",
            "all",
            "all",
            "2024-02",
            vec![v(6.), v(1.5), v(4.5), v(3.), N, v(15. / 4.), v(15. / 4.)],
        ),
        (
            "aov",
            "all",
            "all",
            "2024-03",
            vec![v(24.), v(6.), v(18.), v(3.), N, v(63. / 6.), v(60. / 4.)],
        ),
        (
            "aov",
            "all",
            "all",
            "2024-04",
            vec![v(96.), v(24.), v(72.), v(3.), N, v(255. / 8.), v(240. / 4.)],
        ),
    ];
    let request = ComputeRequest::new(["aov"])
        .time_window("2024-01-01", "2024-05-01")
        .period(PeriodType::Monthly)
        .compare(Comparison::PreviousPeriod)
        .share(true)
        .cumulative(true)
        .rolling(2);
    check(request, &expected, true);
}

#[test]
fn a_plan_names_its_derived_metrics_and_runs_no_statement_for_them() {
    let backend = backends().remove(0);
    let compute = MetricCompute::new(&backend.specs, &backend.connections);
    let plan = compute
        .plan(&ComputeRequest::new(["done_per_session", "aov_x2"]).filter("country <> 'FR'"))
        .unwrap();
    // Two statements (orders, sessions) for four aggregate metrics.
    assert_eq!(plan.statements().len(), 2);
    let metrics: Vec<&[String]> = plan.statements().iter().map(|s| s.metrics()).collect();
    assert_eq!(
        metrics,
        [
            &["done_revenue", "revenue", "orders"][..],
            &["sessions"][..]
        ]
    );
    let derived: Vec<(&str, &str)> = plan
        .derived_metrics()
        .map(|(name, f)| (name, f.text()))
        .collect();
    assert_eq!(
        derived,
        [
            ("done_per_session", "done_revenue / sessions"),
            ("aov", "revenue / orders"),
            ("aov_x2", "aov * 2 - 0"),
        ]
    );
    let text = plan.to_string();
    assert!(
        text.contains("-- derived metric: aov = revenue / orders"),
        "{text}"
    );
    // The request filter is in both statements' WHERE.
    for statement in plan.statements() {
        assert!(
            statement.sql().contains("(country <> 'FR')"),
            "{}",
            statement.sql()
        );
    }
}

#[test]
fn scan_fits_a_derived_metric_where_every_input_fits() {
    let backend = backends().remove(0);
    let scan = MetricCompute::new(&backend.specs, &backend.connections)
        .scan()
        .unwrap();
    let entry = |metric: &str, slice: &str| {
        scan.for_metric(metric)
            .into_iter()
            .find(|e| e.spec_name == slice)
            .unwrap()
            .clone()
    };
    assert!(entry("done_per_session", "country").compatible);
    assert!(entry("aov_x2", "status").compatible);
    let misfit = entry("done_per_session", "status");
    assert!(!misfit.compatible);
    assert_eq!(misfit.missing_columns, ["status"]);
    let reason = misfit.reason.unwrap();
    assert!(reason.contains("input `sessions`"), "{reason}");
}

#[test]
fn unknown_inputs_and_cycles_are_spec_errors() {
    let metric = "metric:\n  name: revenue\n  source: duckdb://db/t\n  numerator: SUM(x)\n";
    let err = SpecCache::from_strings(
        &[
            metric,
            "metric:\n  name: rpu\n  expression: revenue / userz\n",
        ],
        &[],
        &[],
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SpecValidation);
    assert!(
        err.to_string().contains("`userz`, which is not defined"),
        "{err}"
    );

    let err = SpecCache::from_strings(
        &[
            metric,
            "metric:\n  name: a\n  expression: b + revenue\n",
            "metric:\n  name: b\n  expression: a * 2\n",
        ],
        &[],
        &[],
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("metric `a` depends on itself: a → b → a"),
        "{text}"
    );
    assert!(
        text.contains("metric `b` depends on itself: b → a → b"),
        "{text}"
    );

    // Adding, updating and removing keep the cache free of both.
    let mut cache = SpecCache::from_strings(
        &[
            metric,
            "metric:\n  name: double\n  expression: revenue * 2\n",
        ],
        &[],
        &[],
    )
    .unwrap();
    let spec = |yaml: &str| aitaem::spec::Spec::from_yaml(yaml).unwrap();
    assert!(
        cache
            .add(spec("metric:\n  name: bad\n  expression: nothing + 1\n"))
            .is_err()
    );
    assert!(
        cache
            .update(spec("metric:\n  name: revenue\n  expression: double / 2\n"))
            .unwrap_err()
            .to_string()
            .contains("depends on itself")
    );
    let err = cache
        .remove(aitaem::SpecKind::Metric, "revenue")
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("input of derived metric(s) `double`"),
        "{err}"
    );
    cache.remove(aitaem::SpecKind::Metric, "double").unwrap();
    cache.remove(aitaem::SpecKind::Metric, "revenue").unwrap();
}
