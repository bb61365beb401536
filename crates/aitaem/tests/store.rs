//! The result store, on every backend present: what it answers equals a cold compute of the
//! same request (and hand-computed values), it answers without reading the source, and what it
//! cannot answer exactly is computed from the source.

mod common;

use aitaem::{
    Comparison, ComputeRequest, ComputeResult, MetricCompute, PeriodType, SpecCache, Store,
};
use common::Backend;

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
    ("2024-04-28 23:59:59", "u1", "MX", "done", 128),
];

fn setup(types: [&str; 3], table: &dyn Fn(&str) -> String) -> Vec<String> {
    let [ts, text, int] = types;
    let orders: Vec<String> = ORDERS
        .iter()
        .map(|(t, user, country, status, amount)| {
            format!("(CAST('{t}' AS {ts}), '{user}', '{country}', '{status}', {amount})")
        })
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
    ]
}

fn specs_with(prefix: &str, revenue: &str) -> SpecCache {
    let order = |name: &str, body: &str| {
        format!(
            "metric:\n  name: {name}\n  source: {prefix}orders\n  timestamp_col: ts\n  entities: [user_id]\n{body}"
        )
    };
    let metrics = [
        order("revenue", &format!("  numerator: {revenue}\n")),
        order("orders", "  numerator: COUNT(*)\n"),
        order(
            "done_revenue",
            "  numerator: SUM(amount)\n  filter: status = 'done'\n",
        ),
        order("avg_order", "  numerator: AVG(amount)\n"),
        order("largest", "  numerator: MAX(amount)\n"),
        order("buyers", "  numerator: COUNT(DISTINCT user_id)\n"),
        "metric:\n  name: aov\n  expression: revenue / orders\n".to_string(),
    ];
    let metrics: Vec<&str> = metrics.iter().map(String::as_str).collect();
    SpecCache::from_strings(
        &metrics,
        &[
            "slice:\n  name: country\n  where: country\n",
            "slice:\n  name: size\n  values:\n    - name: small\n      where: amount < 10\n    - name: large\n      where: amount >= 10\n",
        ],
        &[],
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn specs(prefix: &str) -> SpecCache {
    specs_with(prefix, "SUM(amount)")
}

fn backends(test: &str) -> Vec<Backend> {
    common::backends(test, setup, specs)
}

/// The rows of a result, each as text, sorted.
fn rows(what: &str, result: &ComputeResult) -> Vec<String> {
    assert!(
        result.warnings().is_empty(),
        "{what}: {:?}",
        result.warnings()
    );
    let mut rows: Vec<String> = result
        .rows()
        .unwrap()
        .iter()
        .map(|r| format!("{r:?}"))
        .collect();
    rows.sort();
    rows
}

fn notices(result: &ComputeResult) -> String {
    result.notices().join("\n")
}

/// Computes `request` with the store and without, checks the rows are the same, and returns the
/// stored compute's notices.
fn same_as_cold(backend: &Backend, store: &Store, request: &ComputeRequest) -> String {
    same_as_cold_with(backend, &backend.specs, store, request)
}

fn same_as_cold_with(
    backend: &Backend,
    specs: &SpecCache,
    store: &Store,
    request: &ComputeRequest,
) -> String {
    let what = format!("{} {request:?}", backend.name);
    let cold = MetricCompute::new(specs, &backend.connections)
        .compute(request)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let stored = compute(backend, specs, store, request);
    assert_eq!(rows(&what, &stored), rows(&what, &cold), "{what}");
    notices(&stored)
}

fn compute(
    backend: &Backend,
    specs: &SpecCache,
    store: &Store,
    request: &ComputeRequest,
) -> ComputeResult {
    MetricCompute::new(specs, &backend.connections)
        .with_store(store)
        .compute(request)
        .unwrap_or_else(|e| panic!("{} {request:?} (store): {e}", backend.name))
}

/// `(period start, value)` of each row.
fn values(result: &ComputeResult) -> Vec<(Option<String>, Option<f64>)> {
    result
        .rows()
        .unwrap()
        .into_iter()
        .map(|r| (r.period_start_date, r.metric_value))
        .collect()
}

fn months() -> ComputeRequest {
    ComputeRequest::new([
        "revenue",
        "orders",
        "done_revenue",
        "avg_order",
        "largest",
        "aov",
    ])
    .slices(["country", "size"])
    .time_window("2024-01-01", "2024-07-01")
    .period(PeriodType::Monthly)
}

#[test]
fn later_requests_are_answered_from_what_a_compute_kept() {
    for backend in backends("store_answers") {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store")).unwrap();
        let name = backend.name;

        let first = same_as_cold(&backend, &store, &months());
        assert!(
            first.contains("kept in the result store"),
            "{name}: {first}"
        );
        let entries = store.status().unwrap();
        assert_eq!(entries.len(), 1, "{name}: {entries:?}");
        assert_eq!(entries[0].grain, "day");
        // Days with orders: 8, each in the baseline, its country and its size.
        assert_eq!(entries[0].rows, 24, "{name}: {entries:?}");

        let answered = [
            months(),
            // Coarser periods (a request reads its periods whole).
            months().period(PeriodType::Quarterly),
            months()
                .period(PeriodType::Weekly)
                .time_window("2024-01-01", "2024-04-29"),
            // A narrower window, all time.
            ComputeRequest::new(["revenue", "largest"]).time_window("2024-02-01", "2024-04-01"),
            // Fewer metrics and slices.
            ComputeRequest::new(["avg_order"])
                .slices(["size"])
                .time_window("2024-03-01", "2024-05-01")
                .period(PeriodType::Monthly),
            // Comparisons, shares, cumulative and rolling sums, filled gaps.
            ComputeRequest::new(["revenue", "orders"])
                .slices(["country"])
                .time_window("2024-02-01", "2024-05-01")
                .period(PeriodType::Monthly)
                .compare(Comparison::PreviousPeriod)
                .share(true)
                .cumulative(true)
                .fill_gaps(true),
            // All time, compared with the 31 days before.
            ComputeRequest::new(["revenue"])
                .time_window("2024-03-01", "2024-04-01")
                .compare(Comparison::PreviousPeriod),
        ];
        for request in &answered {
            let notices = same_as_cold(&backend, &store, request);
            assert!(
                notices.contains("answered from the result store"),
                "{name} {request:?}: {notices}"
            );
        }
        assert_eq!(store.status().unwrap().len(), 1, "{name}");

        // Hand-computed, from the store: revenue by quarter (Q1: 1+2+4+8+16+32, Q2: 64+128).
        let quarters = ComputeRequest::new(["revenue"])
            .time_window("2024-01-01", "2024-07-01")
            .period(PeriodType::Quarterly);
        let expected = vec![
            (Some("2024-01-01 00:00:00".to_string()), Some(63.0)),
            (Some("2024-04-01 00:00:00".to_string()), Some(192.0)),
        ];
        let mut got = values(&compute(&backend, &backend.specs, &store, &quarters));
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, expected, "{name}");

        // Answered without reading the source: an order added to the table is not seen
        // until the store reads the source again.
        backend.execute(&insert_orders(&[("2024-04-30 10:00:00", 256)]));
        let mut got = values(&compute(&backend, &backend.specs, &store, &quarters));
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, expected, "{name}");

        // By entity: kept apart (the entity is part of what the rows depend on), then answered.
        let by_user = ComputeRequest::new(["revenue", "avg_order"])
            .slices(["country"])
            .time_window("2024-01-01", "2024-07-01")
            .period(PeriodType::Monthly)
            .by_entity("user_id");
        let notices = same_as_cold(&backend, &store, &by_user);
        assert!(
            notices.contains("kept in the result store"),
            "{name}: {notices}"
        );
        let notices = same_as_cold(&backend, &store, &by_user.period(PeriodType::Quarterly));
        assert!(
            notices.contains("answered from the result store"),
            "{name}: {notices}"
        );
        assert_eq!(store.status().unwrap().len(), 2, "{name}");

        // A wider window reads the source again, and keeps another entry.
        let wider = ComputeRequest::new(["revenue"]).time_window("2023-12-01", "2024-05-01");
        let notices = same_as_cold(&backend, &store, &wider);
        assert!(
            notices.contains("kept in the result store"),
            "{name}: {notices}"
        );
        assert_eq!(store.status().unwrap().len(), 3, "{name}");
    }
}

#[test]
fn what_the_store_cannot_keep_exactly_is_computed_from_the_source() {
    for backend in backends("store_cannot") {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let name = backend.name;
        let distinct = ComputeRequest::new(["buyers", "revenue"])
            .slices(["country"])
            .time_window("2024-01-01", "2024-05-01")
            .period(PeriodType::Monthly);
        let notices = same_as_cold(&backend, &store, &distinct);
        assert!(
            notices.contains("not from the result store: distinct counts"),
            "{name}: {notices}"
        );
        // A window that does not start on a whole day.
        let hours = ComputeRequest::new(["revenue"]).time_window("2024-01-05 06:00", "2024-05-01");
        let notices = same_as_cold(&backend, &store, &hours);
        assert!(
            notices.contains("does not start and end on whole days"),
            "{name}: {notices}"
        );
        assert!(store.status().unwrap().is_empty(), "{name}");
    }
}

#[test]
fn an_edited_spec_or_a_deleted_store_never_gives_old_numbers() {
    for backend in backends("store_edits") {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let store = Store::open(&path).unwrap();
        let name = backend.name;
        let request = ComputeRequest::new(["revenue"]).time_window("2024-01-01", "2024-05-01");
        same_as_cold(&backend, &store, &request);

        // The same metric name with another numerator: read again, with the new numbers.
        let edited = specs_with(&backend_prefix(&backend), "SUM(amount * 2)");
        let notices = same_as_cold_with(&backend, &edited, &store, &request);
        assert!(
            notices.contains("kept in the result store"),
            "{name}: {notices}"
        );
        let result = compute(&backend, &edited, &store, &request);
        assert_eq!(
            values(&result),
            [(Some("2024-01-01".to_string()), Some(510.0))],
            "{name}"
        );

        // A deleted store costs only speed.
        std::fs::remove_dir_all(&path).unwrap();
        let notices = same_as_cold(&backend, &store, &request);
        assert!(
            notices.contains("kept in the result store"),
            "{name}: {notices}"
        );
        assert_eq!(store.status().unwrap().len(), 1, "{name}");
        assert_eq!(store.clear(None).unwrap(), 1);
        assert!(store.status().unwrap().is_empty());
    }
}

#[test]
fn all_time_requests_are_kept_per_day_and_answer_windows_too() {
    for backend in backends("store_all_time") {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let name = backend.name;
        let all_time = ComputeRequest::new(["revenue", "orders", "avg_order", "largest", "aov"])
            .slices(["country", "size"]);
        let notices = same_as_cold(&backend, &store, &all_time);
        assert!(
            notices.contains("kept in the result store"),
            "{name}: {notices}"
        );
        let entries = store.status().unwrap();
        assert_eq!(entries.len(), 1, "{name}");
        assert_eq!(
            (entries[0].grain.as_str(), entries[0].ranges.as_slice()),
            ("day", &[(None, None)][..])
        );

        for request in [
            all_time.clone(),
            ComputeRequest::new(["revenue"]),
            // Windows and periods, from the all-time entry.
            all_time
                .clone()
                .time_window("2024-01-01", "2024-07-01")
                .period(PeriodType::Monthly),
            ComputeRequest::new(["revenue", "orders"])
                .slices(["country"])
                .time_window("2024-02-01", "2024-05-01")
                .period(PeriodType::Weekly)
                .compare(Comparison::PreviousPeriod),
        ] {
            let notices = same_as_cold(&backend, &store, &request);
            assert!(
                notices.contains("answered from the result store"),
                "{name} {request:?}: {notices}"
            );
        }
        assert_eq!(store.status().unwrap().len(), 1, "{name}");
        // Hand-computed: every order, 1 + 2 + ... + 128.
        let revenue = compute(
            &backend,
            &backend.specs,
            &store,
            &ComputeRequest::new(["revenue"]),
        );
        assert_eq!(values(&revenue), [(None, Some(255.0))], "{name}");

        // By entity: an entry of its own, then answered.
        let by_user = ComputeRequest::new(["revenue", "avg_order"]).by_entity("user_id");
        let notices = same_as_cold(&backend, &store, &by_user);
        assert!(
            notices.contains("kept in the result store"),
            "{name}: {notices}"
        );
        let notices = same_as_cold(&backend, &store, &by_user.slices(["country"]));
        assert!(
            notices.contains("kept in the result store"),
            "{name}: {notices}"
        );
        let notices = same_as_cold(
            &backend,
            &store,
            &ComputeRequest::new(["avg_order"]).by_entity("user_id"),
        );
        assert!(
            notices.contains("answered from the result store"),
            "{name}: {notices}"
        );
    }
}

#[test]
fn an_all_time_entry_refreshes_new_late_and_undated_rows_with_its_sources_lookback() {
    for backend in backends("store_all_time_refresh") {
        let name = backend.name;
        let dir = tempfile::tempdir().unwrap();
        let source = format!("{}orders", backend_prefix(&backend));
        // A day for every source, three days for this one.
        let store = Store::open(dir.path())
            .unwrap()
            .with_source_lookback(&source, std::time::Duration::from_secs(3 * 86400))
            .with_lookback(std::time::Duration::from_secs(86400))
            .with_source_lookback(&source, std::time::Duration::from_secs(3 * 86400));
        let revenue = ComputeRequest::new(["revenue"]).slices(["country"]);
        let april_may = ComputeRequest::new(["revenue"])
            .time_window("2024-04-01", "2024-06-01")
            .period(PeriodType::Monthly);
        let compute = MetricCompute::new(&backend.specs, &backend.connections).with_store(&store);
        let total = |request: &ComputeRequest| -> Vec<Option<f64>> {
            let result = compute.compute(request).unwrap();
            assert!(
                notices(&result).contains("answered from the result store"),
                "{name}: {}",
                notices(&result)
            );
            let mut got = values(&result);
            got.sort_by(|a, b| a.0.cmp(&b.0));
            got.into_iter().map(|(_, v)| v).collect()
        };
        same_as_cold(&backend, &store, &revenue);
        let day = |d: &str| {
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
        };
        assert_eq!(
            store.status().unwrap()[0].watermark,
            Some(day("2024-04-28"))
        );

        // A row without a time, a new day, a late row inside the source's lookback (from 25 April)
        // and one before it, which a refresh does not read.
        backend.execute(&insert_orders(&[
            ("NULL", 256),
            ("2024-05-10 08:00:00", 512),
            ("2024-04-26 12:00:00", 1024),
            ("2024-02-01 08:00:00", 2048),
        ]));
        // Before the refresh: the stored rows.
        assert_eq!(
            total(&ComputeRequest::new(["revenue"])),
            [Some(255.0)],
            "{name}"
        );

        let refreshed = compute.refresh_store(None).unwrap();
        assert_eq!(
            refreshed[0].outcome,
            aitaem::RefreshOutcome::Read {
                from: Some(day("2024-04-25")),
                to: None,
                // 26 April, 28 April, 10 May and no time, each in the baseline and a country.
                rows: 8,
            },
            "{name}"
        );
        // 255 + 256 + 512 + 1024, without the row of 1 February.
        assert_eq!(
            total(&ComputeRequest::new(["revenue"])),
            [Some(2047.0)],
            "{name}"
        );
        // April: 64 + 128 + 1024; May: 512 (the row without a time is in no month).
        assert_eq!(total(&april_may), [Some(1216.0), Some(512.0)], "{name}");

        // Refreshed again (from 7 May): the row without a time counts once.
        let refreshed = compute.refresh_store(None).unwrap();
        assert_eq!(
            refreshed[0].outcome,
            aitaem::RefreshOutcome::Read {
                from: Some(day("2024-05-07")),
                to: None,
                rows: 4,
            },
            "{name}"
        );
        assert_eq!(
            total(&ComputeRequest::new(["revenue"])),
            [Some(2047.0)],
            "{name}"
        );
        let by_country = compute.compute(&revenue).unwrap();
        let mut got: Vec<(String, Option<f64>)> = by_country
            .rows()
            .unwrap()
            .into_iter()
            .map(|r| (r.slice_value, r.metric_value))
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        // FR: 32 + 256 + 512 + 1024; MX: 1 + 2 + 16 + 128; US: 4 + 8 + 64.
        assert_eq!(
            got,
            [
                ("FR".to_string(), Some(1824.0)),
                ("MX".to_string(), Some(147.0)),
                ("US".to_string(), Some(76.0)),
                ("all".to_string(), Some(2047.0)),
            ],
            "{name}"
        );
        // Cleared, the store reads everything again: every row.
        store.clear(None).unwrap();
        let cold = MetricCompute::new(&backend.specs, &backend.connections)
            .compute(&ComputeRequest::new(["revenue"]))
            .unwrap();
        assert_eq!(values(&cold), [(None, Some(4095.0))], "{name}");
    }
}

#[test]
fn an_hourly_entry_answers_daily_and_coarser_requests() {
    for backend in backends("store_hourly") {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let name = backend.name;
        let hours = ComputeRequest::new(["revenue", "orders", "largest"])
            .slices(["country"])
            .time_window("2024-01-01", "2024-05-01")
            .period(PeriodType::Hourly);
        let notices = same_as_cold(&backend, &store, &hours);
        assert!(
            notices.contains("kept in the result store"),
            "{name}: {notices}"
        );
        assert_eq!(store.status().unwrap()[0].grain, "hour");
        for request in [
            hours.clone().time_window("2024-04-28 20:00", "2024-04-29"),
            hours.clone().period(PeriodType::Daily),
            ComputeRequest::new(["revenue", "largest"])
                .time_window("2024-02-01", "2024-05-01")
                .period(PeriodType::Monthly),
            ComputeRequest::new(["orders"]).time_window("2024-01-01", "2024-05-01"),
        ] {
            let notices = same_as_cold(&backend, &store, &request);
            assert!(
                notices.contains("answered from the result store"),
                "{name} {request:?}: {notices}"
            );
        }
        assert_eq!(store.status().unwrap().len(), 1, "{name}");
        // A daily request that the hourly entry does not cover keeps a daily entry; hourly
        // requests are still answered by the hourly one.
        let wider = ComputeRequest::new(["revenue"])
            .time_window("2024-01-01", "2024-06-01")
            .period(PeriodType::Daily);
        assert!(same_as_cold(&backend, &store, &wider).contains("kept in the result store"));
        let narrower_hours = hours.clone().time_window("2024-04-28", "2024-04-29");
        assert!(
            same_as_cold(&backend, &store, &narrower_hours)
                .contains("answered from the result store")
        );
        assert_eq!(store.status().unwrap().len(), 2, "{name}");
    }
}

/// The URI prefix of the backend's tables, read back from its specs.
fn backend_prefix(backend: &Backend) -> String {
    let metric = backend.specs.metric("revenue").unwrap();
    let source = metric.aggregate().unwrap().source.to_string();
    source.strip_suffix("orders").unwrap().to_string()
}

/// An order of 2024 (`ts` of the backend) in `orders` (as the backend names the table).
fn insert_orders(orders: &[(&str, i64)]) -> impl Fn([&str; 3], &common::TableName) -> Vec<String> {
    let rows: Vec<(String, i64)> = orders.iter().map(|&(t, a)| (t.to_string(), a)).collect();
    move |[ts, ..], table| {
        let values: Vec<String> = rows
            .iter()
            .map(|(t, amount)| {
                let t = match t.as_str() {
                    "NULL" => "NULL".to_string(),
                    t => format!("'{t}'"),
                };
                format!("(CAST({t} AS {ts}), 'u5', 'FR', 'done', {amount})")
            })
            .collect();
        vec![format!(
            "INSERT INTO {} VALUES {}",
            table("orders"),
            values.join(", ")
        )]
    }
}

#[test]
fn a_refresh_reads_only_from_the_watermark_less_the_lookback() {
    for backend in backends("store_refresh") {
        let name = backend.name;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let quarters = ComputeRequest::new(["revenue"])
            .time_window("2024-01-01", "2024-07-01")
            .period(PeriodType::Quarterly);
        same_as_cold(&backend, &store, &months());
        let entry = &store.status().unwrap()[0];
        let day = |d: &str| {
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
        };
        assert_eq!(entry.watermark, Some(day("2024-04-28")));

        // A late row inside the lookback (a day before the watermark), a new day, and a late row
        // before the lookback, which a refresh does not read.
        backend.execute(&insert_orders(&[
            ("2024-04-27 12:00:00", 256),
            ("2024-05-10 08:00:00", 512),
            ("2024-02-01 08:00:00", 1024),
        ]));

        let compute = MetricCompute::new(&backend.specs, &backend.connections).with_store(&store);
        let refreshed = compute.refresh_store(None).unwrap();
        assert_eq!(refreshed.len(), 1);
        assert_eq!(
            refreshed[0].outcome,
            aitaem::RefreshOutcome::Read {
                from: Some(day("2024-04-27")),
                to: Some(day("2024-07-01")),
                // 27 April, 28 April and 10 May, each in the baseline, a country and a size.
                rows: 9,
            },
            "{name}"
        );
        let result = compute.compute(&quarters).unwrap();
        assert!(
            notices(&result).contains("answered from the result store"),
            "{name}"
        );
        let mut got = values(&result);
        got.sort_by(|a, b| a.0.cmp(&b.0));
        // Q1 without the row before the lookback; Q2: 64 + 128 + 256 + 512.
        assert_eq!(
            got,
            [
                (Some("2024-01-01 00:00:00".to_string()), Some(63.0)),
                (Some("2024-04-01 00:00:00".to_string()), Some(960.0)),
            ],
            "{name}"
        );
        let entry = &store.status().unwrap()[0];
        assert_eq!(entry.watermark, Some(day("2024-05-10")), "{name}");
        // The first file still answers for the days before 27 April, the new one after.
        assert_eq!(entry.rows, 24 + 9, "{name}");

        // Cleared, the store reads everything again.
        assert_eq!(store.clear(Some("no-such-source")).unwrap(), 0);
        assert_eq!(store.clear(Some(&entry.source)).unwrap(), 1);
        let result = compute.compute(&quarters).unwrap();
        let mut got = values(&result);
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got[0].1, Some(1087.0), "{name}");
    }
}

/// On BigQuery, where every job is billed: what the store answers runs no job, and a refresh
/// runs one, which reads from the watermark less the lookback only.
#[test]
fn on_bigquery_a_stored_answer_runs_no_job_and_a_refresh_reads_only_new_days() {
    let test = "store_bigquery";
    let Some(backend) = backends(test).into_iter().find(|b| b.name == "BigQuery") else {
        return; // skipped: no emulator (a failure under CI=true)
    };
    let (endpoint, project) = common::bigquery::emulator(test).unwrap();
    let dataset = backend_prefix(&backend)
        .trim_start_matches("bigquery://")
        .trim_end_matches('.')
        .to_string();
    // The jobs that read this test's table (other tests run jobs of their own meanwhile).
    let reads = || -> Vec<String> {
        common::bigquery::job_queries(&endpoint, &project)
            .into_iter()
            .filter(|sql| {
                sql.contains(&dataset) && !sql.starts_with("INSERT") && !sql.starts_with("CREATE")
            })
            .collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let kept = compute(&backend, &backend.specs, &store, &months());
    assert!(notices(&kept).contains("kept in the result store"));
    let before = reads();
    assert!(!before.is_empty(), "the emulator lists no job of {dataset}");

    let quarters = ComputeRequest::new(["revenue"])
        .time_window("2024-01-01", "2024-07-01")
        .period(PeriodType::Quarterly);
    for request in [
        months(),
        quarters.clone(),
        ComputeRequest::new(["orders"]).time_window("2024-02-01", "2024-04-01"),
    ] {
        let answered = compute(&backend, &backend.specs, &store, &request);
        assert!(
            notices(&answered).contains("answered from the result store"),
            "{request:?}: {}",
            notices(&answered)
        );
    }
    assert_eq!(reads().len(), before.len(), "a stored answer ran a job");

    // One more day; the refresh reads from 27 April (the watermark, 28 April, less a day).
    common::bigquery::run(
        &endpoint,
        &project,
        &format!(
            "INSERT INTO `{dataset}.orders` VALUES (TIMESTAMP '2024-05-10 08:00:00', 'u5', 'FR', 'done', 512)"
        ),
    );
    let refreshed = MetricCompute::new(&backend.specs, &backend.connections)
        .with_store(&store)
        .refresh_store(None)
        .unwrap();
    assert_eq!(refreshed.len(), 1);
    let after = reads();
    assert_eq!(after.len(), before.len() + 1, "one job per refreshed entry");
    let refresh = after.iter().find(|sql| !before.contains(sql)).unwrap();
    assert!(
        refresh.contains("'2024-04-27") && !refresh.contains("'2024-01-01"),
        "{refresh}"
    );
    let answered = compute(&backend, &backend.specs, &store, &quarters);
    assert!(notices(&answered).contains("answered from the result store"));
    let mut got = values(&answered);
    got.sort_by(|a, b| a.0.cmp(&b.0));
    // Q1: 1 + 2 + 4 + 8 + 16 + 32; Q2: 64 + 128 + 512.
    assert_eq!(
        got.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
        [Some(63.0), Some(704.0)]
    );
    assert_eq!(reads().len(), before.len() + 1);
}

#[test]
fn processes_sharing_a_store_and_a_crashed_write_leave_it_correct() {
    let backend = backends("store_shared").remove(0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let cold: Vec<String> = {
        let result = MetricCompute::new(&backend.specs, &backend.connections)
            .compute(&months())
            .unwrap();
        rows("cold", &result)
    };
    let (specs, connections) = (&backend.specs, &backend.connections);
    // Four computes at once on one store, each with a store of its own (as processes have):
    // all equal to the cold compute, and one entry kept.
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let store = Store::open(&path).unwrap();
                    let result = MetricCompute::new(specs, connections)
                        .with_store(&store)
                        .compute(&months())
                        .unwrap();
                    rows("shared", &result)
                })
            })
            .collect();
        for handle in handles {
            assert_eq!(handle.join().unwrap(), cold);
        }
    });
    let store = Store::open(&path).unwrap();
    assert_eq!(store.status().unwrap().len(), 1);

    // Refreshes at once: each replaces the same periods; the rows stay those of the source.
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                let store = Store::open(&path).unwrap();
                MetricCompute::new(specs, connections)
                    .with_store(&store)
                    .refresh_store(None)
                    .unwrap();
            });
        }
    });
    let result = compute(&backend, &backend.specs, &store, &months());
    assert!(notices(&result).contains("answered from the result store"));
    assert_eq!(rows("refreshed", &result), cold);

    // A write that died half-way (a temporary file, a file no manifest lists) and a damaged
    // manifest of another entry change nothing: the store still answers, correctly.
    let entry = std::fs::read_dir(&path)
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir())
        .unwrap()
        .path();
    std::fs::write(entry.join("0-0.parquet.tmp"), b"half a file").unwrap();
    std::fs::write(entry.join("0-1.parquet"), b"not listed").unwrap();
    std::fs::create_dir(path.join("damaged")).unwrap();
    std::fs::write(path.join("damaged/manifest.json"), b"{ not json").unwrap();
    let result = compute(&backend, &backend.specs, &store, &months());
    assert!(notices(&result).contains("answered from the result store"));
    assert_eq!(rows("after a crash", &result), cold);
    assert_eq!(store.status().unwrap().len(), 1);

    // The rows of an answer are kept, and read back; damaged, they are computed again.
    let answers: Vec<_> = std::fs::read_dir(entry.join("answers"))
        .unwrap()
        .flatten()
        .map(|f| f.path())
        .collect();
    assert_eq!(answers.len(), 1, "{answers:?}");
    std::fs::write(&answers[0], b"damaged").unwrap();
    let result = compute(&backend, &backend.specs, &store, &months());
    assert!(notices(&result).contains("answered from the result store"));
    assert_eq!(rows("a damaged answer", &result), cold);
    assert!(std::fs::metadata(&answers[0]).unwrap().len() > 100);
}

#[test]
fn a_store_that_cannot_be_used_costs_only_speed() {
    let backend = backends("store_unusable").remove(0);
    let dir = tempfile::tempdir().unwrap();
    // `store:` in connections.yaml, naming a file rather than a directory.
    let not_a_directory = dir.path().join("file");
    std::fs::write(&not_a_directory, "").unwrap();
    let db = backend_prefix(&backend);
    let db = db.strip_prefix("duckdb://").unwrap().trim_end_matches('/');
    let yaml = dir.path().join("connections.yaml");
    std::fs::write(
        &yaml,
        format!(
            "duckdb:\n  path: {db}\nstore: {}\n",
            not_a_directory.display()
        ),
    )
    .unwrap();
    let connections = aitaem::ConnectionManager::from_yaml(&yaml).unwrap();
    assert_eq!(connections.store().unwrap().path(), not_a_directory);
    let result = MetricCompute::new(&backend.specs, &connections)
        .compute(&months())
        .unwrap();
    assert!(
        notices(&result).contains("the result store could not be used"),
        "{}",
        notices(&result)
    );
    let cold = MetricCompute::new(&backend.specs, &backend.connections)
        .compute(&months())
        .unwrap();
    assert_eq!(rows("unusable", &result), rows("cold", &cold));
}
