//! Requests that cannot be computed fail before anything runs, each with its own error kind and
//! a message saying what to change; failures while running name the metric and the source.

mod common;

use aitaem::{ComputeRequest, PeriodType};
use common::Project;

const SETUP: &str = "
CREATE TABLE events (ts TIMESTAMP, user_id VARCHAR, platform VARCHAR, revenue DOUBLE);
INSERT INTO events VALUES ('2024-01-01 10:00', 'u1', 'google', 5), ('2024-02-01', 'u2', 'meta', 7);
CREATE TABLE snapshot (n INTEGER);
INSERT INTO snapshot VALUES (3), (4);
CREATE TABLE platforms (platform VARCHAR, grp VARCHAR);
INSERT INTO platforms VALUES ('google', 'search');
CREATE SEQUENCE ticket START 1;
";

fn project() -> Project {
    let p = Project::new(SETUP);
    p.spec(
        "metrics",
        "revenue",
        "metric:\n  name: revenue\n  source: duckdb://main.duckdb/events\n  numerator: SUM(revenue)\n  timestamp_col: ts\n  entities: [user_id]\n",
    )
    .spec(
        "metrics",
        "revenue_avg",
        "metric:\n  name: revenue_avg\n  source: duckdb://main.duckdb/events\n  numerator: AVG(revenue)\n  timestamp_col: ts\n",
    )
    .spec(
        "metrics",
        "rows",
        "metric:\n  name: rows\n  source: duckdb://main.duckdb/snapshot\n  numerator: SUM(n)\n",
    )
    .spec(
        "metrics",
        "broken",
        "metric:\n  name: broken\n  source: duckdb://main.duckdb/snapshot\n  numerator: SUM(no_such_column)\n",
    )
    .spec(
        "metrics",
        "tickets",
        "metric:\n  name: tickets\n  source: duckdb://main.duckdb/snapshot\n  numerator: MAX(nextval('ticket'))\n",
    )
    .spec("slices", "platform", "slice:\n  name: platform\n  where: platform\n")
    .spec(
        "segments",
        "grp",
        "segment:\n  name: grp\n  source: duckdb://main.duckdb/platforms\n  entity_id: platform\n  join_keys: [platform]\n  values:\n    - {name: search, where: \"grp = 'search'\"}\n",
    );
    p
}

fn error(p: &Project, request: &ComputeRequest) -> aitaem::Error {
    match p.compute(request) {
        Ok(result) => panic!("expected an error, got {} rows", result.num_rows()),
        Err(err) => err,
    }
}

fn assert_error(p: &Project, request: ComputeRequest, kind: &str, fragments: &[&str]) {
    let err = error(p, &request);
    assert_eq!(err.kind().name(), kind, "{err}");
    let text = err.to_string();
    for fragment in fragments {
        assert!(text.contains(fragment), "`{fragment}` not in: {text}");
    }
}

#[test]
fn unknown_names_suggest_close_ones() {
    let p = project();
    assert_error(
        &p,
        ComputeRequest::new(["revenu"]),
        "SpecNotFoundError",
        &["no metric named `revenu`", "`revenue`"],
    );
    assert_error(
        &p,
        ComputeRequest::new(["revenue"]).slices(["platfrom"]),
        "SpecNotFoundError",
        &["no slice named `platfrom`", "did you mean `platform`"],
    );
    assert_error(
        &p,
        ComputeRequest::new(["revenue"]).segment("group"),
        "SpecNotFoundError",
        &["no segment named `group`"],
    );
    assert_error(
        &p,
        ComputeRequest::new(Vec::<String>::new()),
        "QueryBuildError",
        &["no metrics requested"],
    );
}

#[test]
fn time_options_are_checked() {
    let p = project();
    assert_error(
        &p,
        ComputeRequest::new(["revenue"]).period(PeriodType::Monthly),
        "QueryBuildError",
        &["period `monthly` requires time_window"],
    );
    assert_error(
        &p,
        ComputeRequest::new(["revenue", "rows"]).time_window("2024-01-01", "2024-02-01"),
        "QueryBuildError",
        &["`timestamp_col`", "`rows`"],
    );
    assert_error(
        &p,
        ComputeRequest::new(["revenue", "rows"])
            .time_window("2024-01-01", "2024-02-01")
            .period(PeriodType::Daily),
        "QueryBuildError",
        &["period `daily` needs a `timestamp_col`", "`rows`"],
    );
    assert_error(
        &p,
        ComputeRequest::new(["revenue"]).time_window("2024-02-01", "2024-01-01"),
        "QueryBuildError",
        &["ends (2024-01-01) before it starts (2024-02-01)"],
    );
    assert_error(
        &p,
        ComputeRequest::new(["revenue"]).time_window("2024-01-01", "next tuesday"),
        "QueryBuildError",
        &["cannot read `next tuesday`"],
    );
    let err = "fortnightly".parse::<PeriodType>().unwrap_err();
    assert_eq!(err.kind(), aitaem::ErrorKind::QueryBuild);
    assert!(
        err.to_string()
            .contains("all_time, hourly, daily, weekly, monthly, quarterly, yearly")
    );
}

#[test]
fn entity_and_join_key_are_checked() {
    let p = project();
    assert_error(
        &p,
        ComputeRequest::new(["revenue", "revenue_avg"]).by_entity("user_id"),
        "QueryBuildError",
        &["by_entity='user_id' is not declared", "`revenue_avg`"],
    );
    assert_error(
        &p,
        ComputeRequest::new(["revenue"])
            .segment("grp")
            .join_key("user_id"),
        "QueryBuildError",
        &[
            "join key `user_id` is not allowed for segment `grp`",
            "`platform`",
        ],
    );
    assert_error(
        &p,
        ComputeRequest::new(["revenue"])
            .segment("grp")
            .join_key("platform; DROP TABLE events"),
        "QueryBuildError",
        &["not a column name"],
    );
}

#[test]
fn a_failing_source_is_reported_with_its_metric_while_others_succeed() {
    let p = project();
    let result = p
        .compute(&ComputeRequest::new(["revenue", "broken"]))
        .unwrap();
    assert_eq!(result.num_rows(), 1);
    assert_eq!(result.rows().unwrap()[0].metric_name, "revenue");
    assert_eq!(result.warnings().len(), 1);
    let warning = &result.warnings()[0];
    assert_eq!(warning.kind(), aitaem::ErrorKind::QueryExecution);
    let text = warning.to_string();
    assert!(
        text.contains("`broken`") && text.contains("duckdb://main.duckdb/snapshot"),
        "{text}"
    );
    assert!(text.contains("no_such_column"), "{text}");

    // When every source fails, the failure is the error.
    assert_error(
        &p,
        ComputeRequest::new(["broken"]),
        "QueryExecutionError",
        &["`broken`", "no_such_column"],
    );
}

#[test]
fn missing_tables_and_connections_are_named() {
    let p = project();
    p.spec(
        "metrics",
        "ghost",
        "metric:\n  name: ghost\n  source: duckdb://main.duckdb/evnts\n  numerator: COUNT(*)\n",
    )
    .spec(
        "metrics",
        "pg",
        "metric:\n  name: pg\n  source: postgres://public/events\n  numerator: COUNT(*)\n",
    );
    assert_error(
        &p,
        ComputeRequest::new(["ghost"]),
        "TableNotFoundError",
        &["no table or view `evnts`", "did you mean `events`"],
    );
    assert_error(
        &p,
        ComputeRequest::new(["pg"]),
        "ConnectionNotFoundError",
        &[
            "metric `pg`",
            "no postgres connection is configured",
            "connections.yaml",
        ],
    );
}

#[test]
fn computing_never_writes_to_the_database() {
    let p = project();
    // nextval changes a sequence: the database is open read-only, so the statement is refused
    // (and would be rolled back anyway).
    for _ in 0..2 {
        let err = p.compute(&ComputeRequest::new(["tickets"])).unwrap_err();
        assert_eq!(err.kind(), aitaem::ErrorKind::QueryExecution);
        assert!(err.to_string().contains("read-only"), "{err}");
    }
    let next = p.scalar("SELECT CAST(nextval('ticket') AS DOUBLE)");
    assert_eq!(next, Some(1.0), "the sequence was never advanced");
}

#[test]
fn read_only_connections_compute() {
    let p = project();
    std::fs::write(
        p.path().join("connections.yaml"),
        "duckdb:\n  path: main.duckdb\n  read_only: true\n",
    )
    .unwrap();
    let rows = p.rows(&ComputeRequest::new(["revenue"]).slices(["platform"]));
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2].metric_value, Some(12.0));
}
