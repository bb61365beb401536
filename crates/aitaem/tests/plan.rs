//! The statements the planner writes, in every dialect, for representative requests: every slice
//! kind, segments (value lists and wildcards, with a join key), every period, by-entity, one-pass
//! and grouping-set plans, metric and request filters, derived metrics. No database is involved: the fixture's sources are written in each
//! backend's URI form, and the catalog below names each source's table. Each statement must parse back with sqlparser in its
//! dialect, and is compared with a reviewed snapshot (`tests/snapshots/`; after a deliberate
//! change, run with `INSTA_UPDATE=always` and review the diff).

use std::path::Path;

use aitaem::BackendKind;
use aitaem::catalog::{Catalog, Column, Table};
use aitaem::plan::{Plan, plan};
use aitaem::source::{Source, SourceUri};
use aitaem::{Comparison, ComputeRequest, PeriodType, SpecCache, WeekStart};
use sqlparser::dialect::{
    BigQueryDialect, DatabricksDialect, Dialect as ParserDialect, DuckDbDialect, PostgreSqlDialect,
};
use sqlparser::parser::Parser;

/// Every source is a table of its name on its backend (BigQuery's in dataset `analytics`, Spark's
/// in schema `analytics`).
struct Tables;

impl Catalog for Tables {
    fn table(&self, source: &SourceUri) -> aitaem::Result<Table> {
        let Source::Table(name) = source.source() else {
            panic!("the fixtures read tables");
        };
        let backend = source.backend();
        Ok(Table::new(backend, backend.quote(&name.qualified())))
    }

    fn columns(&self, _source: &SourceUri) -> aitaem::Result<Vec<Column>> {
        Ok(Vec::new())
    }
}

fn parser(backend: BackendKind) -> Box<dyn ParserDialect> {
    match backend.name() {
        "duckdb" => Box::new(DuckDbDialect {}),
        "postgres" => Box::new(PostgreSqlDialect {}),
        "bigquery" => Box::new(BigQueryDialect {}),
        // Spark SQL, as Databricks speaks it.
        "spark" => Box::new(DatabricksDialect {}),
        other => panic!("no parser for {other}"),
    }
}

/// The specs of `tests/fixtures/plan/`, their sources (`duckdb://TABLE`) written in the URI
/// form of `backend`.
fn fixture(backend: BackendKind) -> SpecCache {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plan");
    let read = |kind: &str| -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(kind))
            .unwrap()
            .map(|f| f.unwrap().path())
            .collect();
        files.sort();
        files
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(f).unwrap();
                let prefix = match backend.name() {
                    "duckdb" => "duckdb://",
                    "postgres" => "postgres:///",
                    "bigquery" => "bigquery://analytics.",
                    "spark" => "spark://analytics.",
                    other => panic!("no URI form for {other}"),
                };
                text.replace("source: duckdb://", &format!("source: {prefix}"))
            })
            .collect()
    };
    let (metrics, slices, segments) = (read("metrics"), read("slices"), read("segments"));
    fn refs(texts: &[String]) -> Vec<&str> {
        texts.iter().map(String::as_str).collect()
    }
    SpecCache::from_strings(&refs(&metrics), &refs(&slices), &refs(&segments))
        .expect("fixture specs")
}

/// Plans a request on every backend; checks that each statement parses in its dialect and
/// matches its snapshot `<name>@<backend>`.
fn check(name: &str, request: ComputeRequest) {
    for backend in aitaem::backend::backends() {
        let planned: Plan = plan(&request, &fixture(backend), &Tables)
            .unwrap_or_else(|e| panic!("{name} on {backend}: {e}"));
        for statement in planned.statements() {
            let parsed = Parser::parse_sql(parser(backend).as_ref(), statement.sql())
                .unwrap_or_else(|e| {
                    panic!(
                        "{name} on {backend} does not parse: {e}\n{}",
                        statement.sql()
                    )
                });
            assert_eq!(parsed.len(), 1, "{name} on {backend}: one statement");
        }
        insta::assert_snapshot!(format!("{name}@{backend}"), planned.to_string());
    }
}

#[test]
fn one_metric_without_breakdowns_is_a_single_aggregate() {
    check("single", ComputeRequest::new(["revenue"]));
}

#[test]
fn value_list_wildcard_and_cross_product_slices() {
    check(
        "slices",
        ComputeRequest::new(["revenue", "ctr", "avg_spend", "converted_events"]).slices([
            "country",
            "spend_band",
            "category",
            "country_x_device",
        ]),
    );
}

#[test]
fn value_segment_on_a_join_key_per_month() {
    check(
        "segment_monthly",
        ComputeRequest::new(["revenue", "ctr"])
            .slices(["spend_band"])
            .segment("tier")
            .join_key("referrer_id")
            .time_window("2024-01-01", "2024-07-01")
            .period(PeriodType::Monthly),
    );
}

#[test]
fn wildcard_segment_per_week_and_entity() {
    check(
        "segment_weekly_by_entity",
        ComputeRequest::new(["revenue"])
            .segment("region_tier")
            .time_window("2024-01-03", "2024-02-01")
            .period(PeriodType::Weekly)
            .by_entity("user_id"),
    );
}

#[test]
fn distinct_counts_are_computed_in_one_pass_per_day() {
    check(
        "one_pass_daily",
        ComputeRequest::new(["unique_users", "revenue"])
            .slices(["country"])
            .time_window("2024-01-01", "2024-01-08")
            .period(PeriodType::Daily),
    );
}

#[test]
fn many_slices_split_the_first_stage_into_grouping_sets() {
    check(
        "grouping_sets",
        ComputeRequest::new(["revenue"]).slices([
            "country", "device", "channel", "browser", "os", "region", "campaign",
        ]),
    );
}

#[test]
fn hours_years_and_windows_without_periods() {
    check(
        "hourly",
        ComputeRequest::new(["revenue"])
            .time_window("2024-02-28 22:30", "2024-03-01 01:00")
            .period(PeriodType::Hourly),
    );
    check(
        "yearly",
        ComputeRequest::new(["revenue", "ctr"])
            .slices(["country"])
            .time_window("2023-06-01", "2025-01-01")
            .period(PeriodType::Yearly)
            .sorted(true),
    );
    check(
        "window_two_sources",
        ComputeRequest::new(["revenue", "orders"]).time_window("2024-01-01", "2024-02-01"),
    );
}

#[test]
fn time_options_widen_the_scan_and_group_by_window() {
    // Rolling over 3 months reads two months before the window, and the previous year a
    // separate range (with a gap); ratios of totals carry their numerators and denominators.
    check(
        "rolling_previous_year_quarterly",
        ComputeRequest::new(["revenue", "ctr"])
            .slices(["country"])
            .time_window("2024-04-01", "2024-07-01")
            .period(PeriodType::Quarterly)
            .compare(Comparison::PreviousYear)
            .rolling(3),
    );
    // All time against the window before: rows are grouped by the window they fall in.
    check(
        "all_time_previous_period",
        ComputeRequest::new(["revenue", "unique_users"])
            .slices(["spend_band"])
            .time_window("2024-03-01", "2024-04-01")
            .compare(Comparison::PreviousPeriod),
    );
    check(
        "sunday_weeks",
        ComputeRequest::new(["revenue"])
            .time_window("2024-03-01", "2024-04-01")
            .period(PeriodType::Weekly)
            .week_start(WeekStart::Sunday),
    );
}

#[test]
fn filters_restrict_aggregates_or_the_scan_and_derived_metrics_add_no_statement() {
    // Metrics of different filters on one table: each filtered metric's aggregates are
    // restricted to its rows (GoogleSQL: `IF`), and its rows are counted.
    check(
        "metric_filters_two_stage",
        ComputeRequest::new(["revenue", "paid_revenue"])
            .slices(["country"])
            .time_window("2024-01-01", "2024-03-01")
            .period(PeriodType::Monthly),
    );
    check(
        "metric_filters_one_pass",
        ComputeRequest::new(["paid_buyers", "revenue"]).slices(["country"]),
    );
    // Metrics of one filter share it in the WHERE, with the request's filters.
    check(
        "shared_and_request_filters",
        ComputeRequest::new(["paid_revenue"])
            .filter("country <> 'FR'")
            .filter("events.device = 'mobile' OR device IS NULL"),
    );
    // A derived metric over two tables: their statements, then the expression.
    check(
        "derived_metric",
        ComputeRequest::new(["revenue_per_order"]).time_window("2024-01-01", "2024-02-01"),
    );
}

/// A source whose lookup learned its columns, and a catalog that must not be asked for them
/// again.
struct LookedUp(&'static str);

impl Catalog for LookedUp {
    fn table(&self, source: &SourceUri) -> aitaem::Result<Table> {
        let columns = [("day", self.0), ("country", "STRING"), ("amount", "INT64")];
        Ok(Table::new(source.backend(), "`analytics.orders`")
            .with_columns(columns.map(|(n, t)| Column::new(n, t)).to_vec()))
    }

    fn columns(&self, source: &SourceUri) -> aitaem::Result<Vec<Column>> {
        panic!("the columns of {source} were asked for again");
    }
}

/// The time column's type and the filter's columns come from the table's lookup, when it
/// learned the columns (BigQuery and Spark do): one round trip per source, not two.
#[test]
fn columns_learned_by_the_table_lookup_are_not_asked_for_again() {
    let specs = SpecCache::from_strings(
        &["metric:\n  name: revenue\n  source: bigquery://analytics.orders\n  numerator: SUM(amount)\n  timestamp_col: day\n"],
        &[],
        &[],
    )
    .unwrap();
    let request = ComputeRequest::new(["revenue"])
        .time_window("2024-01-01", "2024-07-01")
        .period(PeriodType::Monthly)
        .filter("country = 'MX'");
    let sql = |time_type| {
        let plan = plan(&request, &specs, &LookedUp(time_type)).unwrap();
        plan.statements()[0].sql().to_string()
    };
    let (dates, timestamps) = (sql("DATE"), sql("TIMESTAMP"));
    assert!(dates.contains("DATE '2024-01-01'"), "{dates}");
    assert!(timestamps.contains("TIMESTAMP '2024-01-01"), "{timestamps}");
    // A filter on a column the table does not have is an error, found from the same columns.
    let missing = plan(
        &ComputeRequest::new(["revenue"])
            .time_window("2024-01-01", "2024-07-01")
            .filter("city = 'Lima'"),
        &specs,
        &LookedUp("DATE"),
    )
    .unwrap_err();
    assert!(missing.to_string().contains("city"), "{missing}");
}
