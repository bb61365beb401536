//! The `aitaem` command, run as a process on real files.

mod common;

use std::path::Path;

use common::{aitaem, copy_tree, example, oracle, postgres, psql, stdout};
use predicates::prelude::*;

/// The CSV rows whose first fields match, as (slice_value, segment_value, metric_value).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut reader = text.lines();
    let header = reader.next().unwrap();
    assert_eq!(
        header,
        "period_type,period_start_date,period_end_date,entity_id,metric_name,metric_format,slice_type,slice_value,segment_name,segment_value,metric_value"
    );
    reader
        .map(|line| {
            // The example's values contain no commas inside quotes in these tests.
            line.split(',')
                .map(|s| s.trim_matches('"').to_string())
                .collect()
        })
        .collect()
}

#[test]
fn validate_summarises_the_example() {
    aitaem()
        .args(["validate", "--specs"])
        .arg(example())
        .assert()
        .success()
        .stdout(predicate::str::contains("10 metrics: avg_revenue, ctr,"))
        .stdout(predicate::str::contains("7 slices:"))
        .stdout(predicate::str::contains(
            "3 segments: platform_group, tier_region, user_tier",
        ));
}

#[test]
fn validate_reports_every_broken_file_with_its_kind_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = dir.path().join("metrics");
    std::fs::create_dir(&metrics).unwrap();
    std::fs::write(
        metrics.join("a.yaml"),
        "metric:\n  name: a\n  source: duckdb://db/t\n  numerater: SUM(x)\n",
    )
    .unwrap();
    std::fs::write(
        metrics.join("b.yaml"),
        "metric:\n  name: b\n  source: duckdb://db/t\n  numerator: clicks\n",
    )
    .unwrap();
    std::fs::write(
        metrics.join("c.yaml"),
        "metric:\n  name: c\n  source: nowhere\n  numerator: SUM(x)\n",
    )
    .unwrap();
    let out = aitaem()
        .args(["validate", "--specs"])
        .arg(dir.path())
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    let headers: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("SpecValidationError: "))
        .collect();
    assert_eq!(headers.len(), 4, "{err}");
    assert!(
        headers[0].contains("a.yaml:2:3: numerator: missing required field `numerator`"),
        "{err}"
    );
    assert!(
        headers[1].contains("a.yaml:4:3: numerater: unknown field `numerater`"),
        "{err}"
    );
    assert!(err.contains("help: did you mean `numerator`?"), "{err}");
    assert!(
        headers[2].contains("b.yaml:4:14: numerator: the expression has no aggregate function"),
        "{err}"
    );
    assert!(
        headers[3].contains("c.yaml:3:11: source: invalid source URI `nowhere`"),
        "{err}"
    );
    // The source line is shown under the header.
    assert!(err.contains("numerator: clicks"), "{err}");
}

#[test]
fn completions_are_printed_for_each_shell() {
    for (shell, marker) in [
        ("bash", "_aitaem()"),
        ("zsh", "#compdef aitaem"),
        ("fish", "complete -c aitaem"),
    ] {
        let out = aitaem()
            .args(["completions", shell])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let script = String::from_utf8(out).unwrap();
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(
            script.contains("load-csv") && script.contains("time-window"),
            "{shell}"
        );
    }
    aitaem().args(["completions", "tcsh"]).assert().code(2);
}

#[test]
fn usage_errors_exit_with_2() {
    aitaem().args(["compute"]).assert().code(2);
    aitaem().args(["frobnicate"]).assert().code(2);
}

#[test]
fn compute_writes_csv_with_independently_checked_values() {
    let out = stdout(
        aitaem()
            .args([
                "compute",
                "revenue",
                "ctr",
                "--slice",
                "channel_group",
                "--segment",
                "platform_group",
            ])
            .args(["--time-window", "2024-01-01,2025-01-01", "--specs"])
            .arg(example()),
    );
    let rows = csv_rows(&out);
    let find = |metric: &str, slice: &str, segment: &str| -> f64 {
        rows.iter()
            .find(|r| r[4] == metric && r[7] == slice && r[9] == segment)
            .unwrap_or_else(|| panic!("{metric} {slice} {segment}"))[10]
            .parse()
            .unwrap()
    };
    let window = "event_ts >= '2024-01-01' AND event_ts < '2025-01-01'";
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs());
    assert!(close(
        find("revenue", "all", "all"),
        oracle(&format!("SELECT SUM(revenue) FROM EVENTS WHERE {window}"))
    ));
    assert!(close(
        find("revenue", "paid", "all"),
        oracle(&format!(
            "SELECT SUM(revenue) FROM EVENTS WHERE {window} AND channel IN ('cpc', 'cpm')"
        ))
    ));
    assert!(close(
        find("ctr", "other", "search"),
        oracle(&format!(
            "SELECT SUM(clicks)::DOUBLE / SUM(impressions) FROM EVENTS WHERE {window} AND (channel = 'affiliate' OR channel IS NULL) AND platform IN ('Google Ads', 'Bing Ads')"
        ))
    ));
    // 2 metrics x (3 channel groups + all) x (2 platform groups + all)
    assert_eq!(rows.len(), 2 * 4 * 3);
}

#[test]
fn filters_and_derived_metrics_from_the_command_line() {
    // `mobile_revenue` filters its own rows; `--where` filters every metric's (repeatable);
    // `revenue_per_user` divides two other metrics' values.
    let out = stdout(
        aitaem()
            .args(["compute", "mobile_revenue", "revenue_per_user", "revenue"])
            .args(["--where", "country <> 'México'", "--where", "clicks > 0"])
            .args(["--slice", "device", "--specs"])
            .arg(example()),
    );
    let rows = csv_rows(&out);
    let find = |metric: &str, slice: &str| -> Option<f64> {
        let found: Vec<&Vec<String>> = rows
            .iter()
            .filter(|r| r[4] == metric && r[7] == slice)
            .collect();
        assert!(found.len() <= 1, "{metric} {slice}: {found:?}");
        found.first().map(|r| r[10].parse().unwrap())
    };
    let filters = "country <> 'México' AND clicks > 0";
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs());
    let mobile = oracle(&format!(
        "SELECT SUM(revenue) FROM EVENTS WHERE {filters} AND device_type = 'mobile'"
    ));
    assert!(close(find("mobile_revenue", "all").unwrap(), mobile));
    assert!(close(find("mobile_revenue", "mobile").unwrap(), mobile));
    // Only mobile rows count: no other device has any.
    assert_eq!(find("mobile_revenue", "desktop"), None);
    let per_user = oracle(&format!(
        "SELECT SUM(revenue) / COUNT(DISTINCT user_id) FROM EVENTS WHERE {filters} AND device_type = 'tablet'"
    ));
    assert!(close(find("revenue_per_user", "tablet").unwrap(), per_user));
    // The inputs of a derived metric are computed but not shown unless asked for.
    assert!(!rows.iter().any(|r| r[4] == "unique_users"), "{out}");
    assert!(rows.iter().any(|r| r[4] == "revenue"), "{out}");

    // `sql` shows the request's predicate in the statement and the derived metric after it.
    let sql = stdout(
        aitaem()
            .args([
                "sql",
                "revenue_per_user",
                "--where",
                "clicks > 0",
                "--specs",
            ])
            .arg(example()),
    );
    assert!(sql.contains("(clicks > 0)"), "{sql}");
    assert!(
        sql.contains("-- derived metric: revenue_per_user = revenue / unique_users"),
        "{sql}"
    );
    // A predicate that is not one, or reads a column a source lacks: exit 1, nothing computed.
    for (filter, says) in [
        ("clicks > (SELECT 1)", "subqueries are not allowed"),
        ("no_such_column = 1", "column `no_such_column`"),
    ] {
        aitaem()
            .args(["compute", "revenue", "--where", filter, "--specs"])
            .arg(example())
            .assert()
            .code(1)
            .stdout("")
            .stderr(predicate::str::contains("QueryBuildError"))
            .stderr(predicate::str::contains(says));
    }
}

#[test]
fn active_users_and_medians_over_ranges_from_the_command_line() {
    let output = aitaem()
        .args([
            "compute",
            "unique_users",
            "median_revenue",
            "--slice",
            "device",
        ])
        .args([
            "--time-window",
            "2024-06-01,2024-07-01",
            "--period",
            "daily",
        ])
        .args(["--rolling", "7", "--cumulative", "--share", "--specs"])
        .arg(example())
        .assert()
        .success()
        .get_output()
        .clone();
    let out = String::from_utf8(output.stdout).unwrap();
    let mut lines = out.lines();
    let header = lines.next().unwrap();
    assert!(
        header.ends_with(",metric_value,share_of_total,cumulative_value,rolling_value"),
        "{header}"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // (metric_value, share_of_total, cumulative_value, rolling_value) of a row.
    let find = |metric: &str, slice: &str, day: &str| -> Vec<Option<f64>> {
        let found: Vec<&Vec<&str>> = rows
            .iter()
            .filter(|r| r[4] == metric && r[7] == slice && r[1].starts_with(day))
            .collect();
        assert_eq!(found.len(), 1, "{metric} {slice} {day}: {found:?}");
        found[0][10..14].iter().map(|v| v.parse().ok()).collect()
    };
    let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() <= 1e-9 * b.abs());
    let count = |filter: &str| {
        oracle(&format!(
            "SELECT COUNT(DISTINCT user_id)::DOUBLE FROM EVENTS WHERE {filter}"
        ))
    };
    // The 7 days to 3 June reach back to 28 May, before the window.
    let week = "event_ts >= '2024-05-28' AND event_ts < '2024-06-04'";
    let month = "event_ts >= '2024-06-01' AND event_ts < '2024-06-04'";
    let day = "event_ts >= '2024-06-03' AND event_ts < '2024-06-04'";
    let desktop = find("unique_users", "desktop", "2024-06-03");
    assert!(close(
        desktop[0],
        count(&format!("{day} AND device_type = 'desktop'"))
    ));
    assert!(close(
        desktop[1],
        count(&format!("{day} AND device_type = 'desktop'")) / count(day)
    ));
    assert!(close(
        desktop[2],
        count(&format!("{month} AND device_type = 'desktop'"))
    ));
    assert!(close(
        desktop[3],
        count(&format!("{week} AND device_type = 'desktop'"))
    ));
    let all = find("unique_users", "all", "2024-06-03");
    assert!(close(all[3], count(week)), "{all:?}");
    let median = find("median_revenue", "all", "2024-06-03");
    assert_eq!(median[1], None);
    assert!(close(
        median[3],
        oracle(&format!("SELECT MEDIAN(revenue) FROM EVENTS WHERE {week}"))
    ));
    assert!(close(
        median[2],
        oracle(&format!("SELECT MEDIAN(revenue) FROM EVENTS WHERE {month}"))
    ));
    // The NULL shares of the median are explained.
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("warning: `share_of_total` is NULL for `median_revenue`"),
        "{stderr}"
    );
    assert!(!stderr.contains("`unique_users`"), "{stderr}");
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("aitaem"))
        .args(["scan", "--specs"])
        .arg(example())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the pipe before reading anything.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn compute_periods_entities_and_join_keys() {
    let out = stdout(
        aitaem()
            .args([
                "compute",
                "events",
                "--period",
                "monthly",
                "--time-window",
                "2024-02-10,2024-04-01",
            ])
            .args(["--by-entity", "platform", "--specs"])
            .arg(example()),
    );
    let rows = csv_rows(&out);
    let feb_google: f64 = rows
        .iter()
        .find(|r| r[1] == "2024-02-01 00:00:00" && r[3] == "Google Ads")
        .unwrap()[10]
        .parse()
        .unwrap();
    assert_eq!(
        feb_google,
        oracle(
            "SELECT COUNT(*)::DOUBLE FROM EVENTS WHERE event_ts >= '2024-02-01' AND event_ts < '2024-03-01' AND platform = 'Google Ads'"
        )
    );
    assert!(rows.iter().all(|r| r[0] == "monthly"));

    let out = stdout(
        aitaem()
            .args([
                "compute",
                "events",
                "--segment",
                "tier_region=user_id",
                "--specs",
            ])
            .arg(example()),
    );
    assert!(out.contains(",tier_region,pro|EMEA,"), "{out}");
    aitaem()
        .args([
            "compute",
            "events",
            "--segment",
            "tier_region=device_id",
            "--specs",
        ])
        .arg(example())
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "QueryBuildError: join key `device_id` is not allowed",
        ));
}

#[test]
fn output_formats() {
    let dir = tempfile::tempdir().unwrap();
    let base = || {
        let mut cmd = aitaem();
        cmd.args(["compute", "roas", "--slice", "device", "--specs"])
            .arg(example());
        cmd
    };
    let json = stdout(base().args(["--format", "json"]));
    assert!(
        json.trim_start()
            .starts_with("[{\"period_type\":\"all_time\",\"period_start_date\":null,"),
        "{json}"
    );
    assert!(json.contains("\"slice_value\":\"tablet\""), "{json}");
    let jsonl = stdout(base().args(["--format", "jsonl"]));
    assert_eq!(jsonl.lines().count(), 4, "3 devices + all");
    let table = stdout(base().args(["--format", "long-table"]));
    let header: Vec<&str> = table
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split('|')
        .map(str::trim)
        .collect();
    assert_eq!(header[5], "metric_name", "{table}");
    assert_eq!(header[11], "metric_value", "{table}");
    // The table shows the same values as the CSV, one row per slice value.
    let cells = |line: &str| -> (String, f64) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        (cells[8].to_string(), cells[11].parse().unwrap())
    };
    let shown: Vec<(String, f64)> = table
        .lines()
        .filter(|l| l.starts_with("| all_time"))
        .map(cells)
        .collect();
    let csv = stdout(base().args(["--format", "csv", "--sort"]));
    let written: Vec<(String, f64)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let fields: Vec<&str> = l.split(',').collect();
            (fields[7].to_string(), fields[10].parse().unwrap())
        })
        .collect();
    assert_eq!(shown.len(), 4, "{table}");
    assert_eq!(shown, written);

    let parquet = dir.path().join("out.parquet");
    base().arg("--output").arg(&parquet).assert().success();
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let (n, total): (i64, f64) = conn
        .query_row(
            &format!("SELECT COUNT(*), SUM(metric_value) FILTER (WHERE slice_value = 'all') FROM read_parquet('{}')", parquet.display()),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(n, 4);
    let expected = oracle("SELECT SUM(revenue) / SUM(ad_spend) FROM EVENTS");
    assert!(
        (total - expected).abs() < 1e-9 * expected,
        "{total} vs {expected}"
    );
    let csv = dir.path().join("out.csv");
    base().arg("--output").arg(&csv).assert().success();
    assert!(
        std::fs::read_to_string(&csv)
            .unwrap()
            .starts_with("period_type,")
    );
}

#[test]
fn compute_errors_start_with_their_kind() {
    let run = |args: &[&str]| {
        let mut cmd = aitaem();
        cmd.arg("compute").args(args).arg("--specs").arg(example());
        cmd.assert().code(1)
    };
    run(&["revenu"]).stderr(predicate::str::starts_with(
        "SpecNotFoundError: no metric named `revenu`; did you mean `revenue`",
    ));
    run(&["revenue", "--period", "monthly"]).stderr(predicate::str::starts_with(
        "QueryBuildError: period `monthly` requires time_window",
    ));
    run(&["known_users", "--time-window", "2024-01-01,2024-02-01"])
        .stderr(predicate::str::contains("`known_users` has none"));
    run(&["roas", "--by-entity", "user_id"]).stderr(predicate::str::contains(
        "not declared in the `entities` of `roas`",
    ));
}

/// Values the arguments cannot take are usage errors (exit 2), listing what they can take.
#[test]
fn bad_values_are_usage_errors() {
    let run = |args: &[&str]| {
        let mut cmd = aitaem();
        cmd.args(args).arg("--specs").arg(example());
        cmd.assert().code(2)
    };
    let window = ["--time-window", "2024-01-01,2024-02-01"];
    run(&[
        &["compute", "revenue", "--period", "fortnightly"],
        &window[..],
    ]
    .concat())
    .stderr(
        predicate::str::contains("invalid value 'fortnightly' for '--period <P>'")
            .and(predicate::str::contains("all_time, hourly, daily, weekly")),
    );
    run(&["compute", "revenue", "--time-window", "2024-01-01"])
        .stderr(predicate::str::contains("must be START,END"));
    run(&["compute", "revenue", "--compare", "last_week"])
        .stderr(predicate::str::contains("previous_period, previous_year"));
    run(&["compute", "revenue", "--week-start", "friday"])
        .stderr(predicate::str::contains("monday, sunday, saturday"));
    run(&["compute", "revenue", "--format", "xml"]).stderr(predicate::str::contains("long-table"));
    run(&["compute", "revenue", "--wait", "soon"])
        .stderr(predicate::str::contains("not a number of seconds"));
    // `sql` writes no result: it has no output options.
    run(&["sql", "revenue", "--format", "csv"])
        .stderr(predicate::str::contains("unexpected argument '--format'"));
}

#[test]
fn partial_results_need_allow_partial() {
    // `known_users` reads the user dimension, which has no `device_type`.
    let mut cmd = aitaem();
    cmd.args([
        "compute",
        "events",
        "known_users",
        "--slice",
        "device",
        "--specs",
    ])
    .arg(example());
    let out = cmd.assert().code(3).get_output().clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("warning: QueryExecutionError: computing `known_users` on duckdb://data/dim_users.csv failed"), "{stderr}");
    assert!(
        String::from_utf8(out.stdout).unwrap().contains(",events,"),
        "the successful part is written"
    );
    aitaem()
        .args([
            "compute",
            "events",
            "known_users",
            "--slice",
            "device",
            "--allow-partial",
            "--specs",
        ])
        .arg(example())
        .assert()
        .success();
}

#[test]
fn sql_prints_one_statement_per_source() {
    let out = stdout(
        aitaem()
            .args([
                "sql",
                "revenue",
                "unique_users",
                "known_users",
                "--slice",
                "country",
                "--specs",
            ])
            .arg(example()),
    );
    assert_eq!(out.matches("-- source: ").count(), 2, "{out}");
    assert!(
        out.contains(
            "-- source: duckdb://data/events.csv | metrics: revenue, unique_users | plan: one pass"
        ),
        "{out}"
    );
    assert!(out.contains("WITH "), "{out}");
    let explained = stdout(
        aitaem()
            .args(["sql", "revenue", "--explain", "--specs"])
            .arg(example()),
    );
    assert!(
        explained.contains("-- plan of the statement for duckdb://data/events.csv"),
        "{explained}"
    );
    assert!(explained.to_uppercase().contains("READ_CSV"), "{explained}");
}

#[test]
fn scan_prints_the_matrix() {
    let out = stdout(aitaem().args(["scan", "--specs"]).arg(example()));
    let row = |first: &str, after: usize| -> Vec<String> {
        out.lines()
            .skip(after)
            .find(|l| l.split_whitespace().next() == Some(first))
            .unwrap_or_else(|| panic!("no row {first}:\n{out}"))
            .split_whitespace()
            .skip(1)
            .map(str::to_string)
            .collect()
    };
    let segments_at = out
        .lines()
        .position(|l| l.starts_with("metric \\ segments"))
        .unwrap();
    // known_users reads the user dimension: no slice column is there, but the user
    // segments' join key `user_id` is.
    assert_eq!(row("known_users", 0), ["no"; 7], "{out}");
    assert_eq!(row("ctr", 0), ["yes"; 7], "{out}");
    assert_eq!(
        row("known_users", segments_at),
        ["no", "yes", "yes"],
        "{out}"
    );
    assert_eq!(row("ctr", segments_at), ["yes", "yes", "yes"], "{out}");
    let reasons: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("  known_users x "))
        .collect();
    assert_eq!(reasons.len(), 8, "{out}");
    assert!(
        reasons.contains(&"  known_users x device (slice): the metric's table `duckdb://data/dim_users.csv` lacks `device_type`"),
        "{out}"
    );
}

#[test]
fn load_csv_tables_and_describe() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ads.duckdb");
    aitaem()
        .arg("load-csv")
        .arg(example().join("data"))
        .arg(&db)
        .assert()
        .success()
        .stdout(predicate::str::contains("3 table(s)"))
        .stderr(predicate::str::contains("loaded 3000 rows into events"));
    aitaem()
        .arg("load-csv")
        .arg(example().join("data/events.csv"))
        .arg(&db)
        .assert()
        .code(1)
        .stderr(
            predicate::str::starts_with("LoadError:").and(predicate::str::contains("--replace")),
        );
    aitaem()
        .arg("load-csv")
        .arg(example().join("data/events.csv"))
        .arg(&db)
        .arg("--replace")
        .assert()
        .success();
    std::fs::write(
        dir.path().join("connections.yaml"),
        "duckdb:\n  path: ads.duckdb\n  read_only: true\n",
    )
    .unwrap();
    let tables = stdout(
        aitaem()
            .arg("tables")
            .arg("--connections")
            .arg(dir.path().join("connections.yaml")),
    );
    assert_eq!(
        tables.lines().collect::<Vec<_>>(),
        [
            "duckdb://ads.duckdb/dim_platforms",
            "duckdb://ads.duckdb/dim_users",
            "duckdb://ads.duckdb/events"
        ]
    );
    let described = stdout(
        aitaem()
            .args([
                "describe",
                "duckdb://ads.duckdb/dim_platforms",
                "--connections",
            ])
            .arg(dir.path().join("connections.yaml")),
    );
    assert!(described.contains("platform_group  VARCHAR"), "{described}");
    assert!(described.contains("is_paid         BOOLEAN"), "{described}");
}

#[test]
fn environment_variables_and_working_directory_rules() {
    // The benchmark layout: run from the data directory, specs elsewhere.
    let data = tempfile::tempdir().unwrap();
    let conn = duckdb::Connection::open(data.path().join("big.duckdb")).unwrap();
    conn.execute_batch("CREATE TABLE events (x INTEGER); INSERT INTO events VALUES (2), (3);")
        .unwrap();
    drop(conn);
    std::fs::write(
        data.path().join("connections.yaml"),
        "duckdb:\n  path: ${DB_NAME}.duckdb\n",
    )
    .unwrap();
    let specs = tempfile::tempdir().unwrap();
    std::fs::create_dir(specs.path().join("metrics")).unwrap();
    std::fs::write(
        specs.path().join("metrics/x.yaml"),
        "metric:\n  name: x\n  source: duckdb://big.duckdb/events\n  numerator: SUM(x)\n",
    )
    .unwrap();
    let out = stdout(
        aitaem()
            .current_dir(data.path())
            .env("DB_NAME", "big")
            .args([
                "compute",
                "x",
                "--connections",
                "connections.yaml",
                "--specs",
            ])
            .arg(specs.path()),
    );
    assert!(
        out.trim_end().ends_with(",x,,none,all,none,all,5.0"),
        "{out}"
    );
    aitaem()
        .current_dir(data.path())
        .env_remove("DB_NAME")
        .args(["compute", "x", "--connections", "connections.yaml", "--specs"])
        .arg(specs.path())
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "ConfigurationError: connections.yaml:2:9: duckdb.path: environment variable `DB_NAME` is not set",
        ));
}

/// The test PostgreSQL server's URL (`scripts/test.sh` starts one), or `None` after saying the
/// test is skipped; under `CI=true` a missing server fails the test.
#[test]
fn the_example_project_on_postgres_through_the_cli() {
    let Some(server) = postgres("the example project on PostgreSQL") else {
        return;
    };
    let name = format!("cli_example_{}", std::process::id());
    psql(&server, &["-c", &format!("CREATE DATABASE {name}")]);
    let url = format!("{}/{name}", server.rsplit_once('/').unwrap().0);
    psql(&url, &["-f", "examples/ads-postgres/load.sql"]);
    let dir = tempfile::tempdir().unwrap();
    let connections = dir.path().join("connections.yaml");
    std::fs::write(&connections, format!("postgres:\n  url: {url}\n")).unwrap();
    let project = example().join("../ads-postgres");

    let tables = stdout(
        aitaem()
            .arg("tables")
            .arg("--connections")
            .arg(&connections),
    );
    assert_eq!(
        tables.lines().collect::<Vec<_>>(),
        [
            "postgres://ads/dim_platforms",
            "postgres://ads/dim_users",
            "postgres://ads/events"
        ]
    );
    let columns = stdout(
        aitaem()
            .args(["describe", "postgres://ads/dim_users", "--connections"])
            .arg(&connections),
    );
    assert_eq!(
        columns
            .lines()
            .map(str::split_whitespace)
            .map(Iterator::collect::<Vec<_>>)
            .collect::<Vec<_>>(),
        [
            ["column", "type"],
            ["user_id", "text"],
            ["tier", "text"],
            ["region", "text"]
        ]
    );

    // The README's request gives the same CSV on PostgreSQL as on DuckDB.
    let request = [
        "compute",
        "revenue",
        "ctr",
        "unique_users",
        "--slice",
        "campaign_type",
        "--slice",
        "spend_band",
        "--segment",
        "platform_group",
        "--time-window",
        "2024-01-01,2025-01-01",
        "--format",
        "csv",
        "--sort",
    ];
    let on_duckdb = csv_rows(&stdout(
        aitaem().args(request).arg("--specs").arg(example()),
    ));
    let on_postgres = csv_rows(&stdout(
        aitaem()
            .args(request)
            .arg("--specs")
            .arg(&project)
            .arg("--connections")
            .arg(&connections),
    ));
    assert_eq!(on_duckdb.len(), on_postgres.len());
    assert!(on_duckdb.len() > 30);
    for (a, b) in on_duckdb.iter().zip(&on_postgres) {
        assert_eq!(a[..10], b[..10]);
        let (x, y): (f64, f64) = (a[10].parse().unwrap(), b[10].parse().unwrap());
        assert!((x - y).abs() <= 1e-9 * x.abs().max(y.abs()), "{a:?} {b:?}");
    }

    // A wrong password: the kind, the server and SQLSTATE, and never the password.
    let (user, rest) = url.split_once('@').unwrap();
    let wrong = format!(
        "{}:not-the-password@{rest}",
        user.rsplit_once(':').unwrap().0
    );
    std::fs::write(&connections, format!("postgres:\n  url: {wrong}\n")).unwrap();
    let out = aitaem()
        .arg("tables")
        .arg("--connections")
        .arg(&connections)
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(
        err.starts_with("ConnectionError: postgres: cannot connect to PostgreSQL at"),
        "{err}"
    );
    assert!(err.contains("SQLSTATE 28P01"), "{err}");
    assert!(!err.contains("not-the-password"), "{err}");
    psql(
        &server,
        &["-c", &format!("DROP DATABASE {name} WITH (FORCE)")],
    );
}

#[test]
fn sql_prints_the_same_statement_whatever_the_output_format() {
    let plan = |format: &[&str]| {
        stdout(
            aitaem()
                .args(["sql", "revenue", "--slice", "country", "--specs"])
                .arg(example())
                .args(format),
        )
    };
    let plain = plan(&[]);
    assert!(
        plain.starts_with("-- source: duckdb://data/events.csv | metrics: revenue"),
        "{plain}"
    );
    assert!(!plain.contains("ORDER BY"), "{plain}");
    assert!(plan(&["--sort"]).contains("ORDER BY"));
    assert!(
        plan(&["--estimate"]).ends_with(
            "\n-- duckdb://data/events.csv: no byte estimate (duckdb does not bill by bytes read)\n"
        ),
        "{}",
        plan(&["--estimate"])
    );
}

#[test]
fn bigquery_emulator_host_is_read_from_the_environment() {
    let Ok(endpoint) = std::env::var("AITAEM_TEST_BIGQUERY") else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("AITAEM_TEST_BIGQUERY is not set; run the tests with scripts/test.sh");
        }
        eprintln!("skipped bigquery_emulator_host_is_read_from_the_environment: no emulator");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let connections = dir.path().join("connections.yaml");
    std::fs::write(&connections, "bigquery:\n  project_id: aitaem-test\n").unwrap();
    let host = endpoint.trim_start_matches("http://");
    let tables = stdout(
        aitaem()
            .env("BIGQUERY_EMULATOR_HOST", host)
            .arg("tables")
            .arg("--connections")
            .arg(&connections),
    );
    assert!(
        tables
            .lines()
            .all(|l| l.starts_with("bigquery://aitaem-test.")),
        "{tables}"
    );
    aitaem()
        .env("BIGQUERY_EMULATOR_HOST", host)
        .args([
            "describe",
            "bigquery://aitaem-test.no_such_dataset.t",
            "--connections",
        ])
        .arg(&connections)
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "TableNotFoundError: bigquery://aitaem-test.no_such_dataset.t",
        ));
}

/// A project with `events.csv` and a DuckDB database `main.duckdb` (table `events`), a metric on
/// each, and a connections file that opens the database read-write.
fn data_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("events.csv"), "clicks\n1\n2\n").unwrap();
    let conn = duckdb::Connection::open(dir.path().join("main.duckdb")).unwrap();
    conn.execute_batch("CREATE TABLE events AS SELECT 3 AS clicks UNION ALL SELECT 4")
        .unwrap();
    drop(conn);
    std::fs::write(
        dir.path().join("connections.yaml"),
        "duckdb:\n  path: main.duckdb\n  read_only: false\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("metrics")).unwrap();
    for (name, source) in [
        ("from_csv", "duckdb://events.csv"),
        ("from_db", "duckdb://main.duckdb/events"),
        ("broken", "duckdb://main.duckdb/events"),
    ] {
        let numerator = if name == "broken" {
            "SUM(nope)"
        } else {
            "SUM(clicks)"
        };
        std::fs::write(
            dir.path().join(format!("metrics/{name}.yaml")),
            format!("metric:\n  name: {name}\n  source: {source}\n  numerator: {numerator}\n"),
        )
        .unwrap();
    }
    dir
}

/// A column the backend does not know is shown in the spec that names it.
#[test]
fn a_rejected_name_is_shown_in_its_spec() {
    let dir = data_project();
    let out = aitaem()
        .current_dir(dir.path())
        .args(["compute", "broken"])
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let stderr = String::from_utf8(out).unwrap();
    assert!(
        stderr.starts_with(
            "QueryExecutionError: computing `broken` on duckdb://main.duckdb/events failed: "
        ),
        "{stderr}"
    );
    // `  numerator: SUM(nope)`: line 4, column 18, with the line and a caret.
    assert!(stderr.contains("metrics/broken.yaml:4:18]"), "{stderr}");
    assert!(stderr.contains("4 │   numerator: SUM(nope)"), "{stderr}");
    assert!(
        stderr.contains("check the names and types against the table's columns"),
        "{stderr}"
    );

    // A type error points where DuckDB's caret does: at the second `SUM`.
    std::fs::write(
        dir.path().join("metrics/broken.yaml"),
        "metric:\n  name: broken\n  source: duckdb://events.csv\n  numerator: SUM(clicks) + SUM(CAST(clicks AS VARCHAR))\n",
    )
    .unwrap();
    let out = aitaem()
        .current_dir(dir.path())
        .args(["compute", "broken"])
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let stderr = String::from_utf8(out).unwrap();
    assert!(stderr.contains("metrics/broken.yaml:4:28]"), "{stderr}");
}

#[test]
fn compute_refuses_to_write_over_what_it_reads() {
    let dir = data_project();
    let p = dir.path();
    std::os::unix::fs::symlink(p.join("main.duckdb"), p.join("link.csv")).unwrap();
    std::fs::create_dir(p.join("sub")).unwrap();
    let before = std::fs::read(p.join("main.duckdb")).unwrap();
    for (metric, output) in [
        ("from_db", "main.duckdb"),
        ("from_db", "sub/../main.duckdb"),
        ("from_db", "link.csv"),
        ("from_csv", "events.csv"),
        // The connections' database, also when the request does not read it.
        ("from_csv", "main.duckdb"),
        ("from_csv", "connections.yaml"),
    ] {
        aitaem()
            .current_dir(p)
            .args(["compute", metric, "--output", output])
            .assert()
            .code(1)
            .stderr(predicate::str::starts_with(
                "OutputError: writing the result failed: refusing to write the result to",
            ));
    }
    assert_eq!(std::fs::read(p.join("main.duckdb")).unwrap(), before);
    assert_eq!(
        std::fs::read_to_string(p.join("events.csv")).unwrap(),
        "clicks\n1\n2\n"
    );
    // A glob source protects the files it matches.
    std::fs::create_dir(p.join("logs")).unwrap();
    std::fs::write(p.join("logs/a.csv"), "clicks\n5\n").unwrap();
    std::fs::write(
        p.join("metrics/logs.yaml"),
        "metric:\n  name: logs\n  source: duckdb://logs/*.csv\n  numerator: SUM(clicks)\n",
    )
    .unwrap();
    aitaem()
        .current_dir(p)
        .args(["compute", "logs", "--output", "logs/new.csv"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("logs/*.csv"));
    aitaem()
        .current_dir(p)
        .args(["compute", "logs", "--output", "result.csv"])
        .assert()
        .success();
}

#[test]
fn output_files_are_written_whole_or_not_at_all() {
    let dir = data_project();
    let p = dir.path();
    std::fs::write(p.join("out.csv"), "keep me").unwrap();
    aitaem()
        .current_dir(p)
        .args(["compute", "broken", "--output", "out.csv"])
        .assert()
        .code(1);
    assert_eq!(
        std::fs::read_to_string(p.join("out.csv")).unwrap(),
        "keep me"
    );
    aitaem()
        .current_dir(p)
        .args(["compute", "from_db", "--output", "out.csv"])
        .assert()
        .success();
    let written = std::fs::read_to_string(p.join("out.csv")).unwrap();
    assert!(written.ends_with(",7.0\n"), "{written}");
    use std::os::unix::fs::PermissionsExt;
    aitaem()
        .current_dir(p)
        .args(["compute", "from_db", "--output", "new.csv"])
        .assert()
        .success();
    let mode = std::fs::metadata(p.join("new.csv"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    let leftovers: Vec<_> = std::fs::read_dir(p)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// An output that is not a regular file (a named pipe, `/dev/null`) is written in place, never
/// replaced by a file.
#[test]
fn special_outputs_are_written_in_place() {
    let dir = data_project();
    let p = dir.path();
    let fifo = p.join("pipe.csv");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    aitaem()
        .current_dir(p)
        .args(["compute", "from_db", "--output", "pipe.csv"])
        .assert()
        .success();
    assert!(reader.join().unwrap().ends_with(",7.0\n"));
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

#[test]
fn computes_run_side_by_side_and_wait_for_a_writer() {
    let dir = data_project();
    let p = dir.path().to_path_buf();
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let p = p.clone();
            std::thread::spawn(move || {
                aitaem()
                    .current_dir(&p)
                    .args(["compute", "from_db", "--format", "csv"])
                    .output()
                    .unwrap()
            })
        })
        .collect();
    for run in runs {
        let out = run.join().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A writer holds the database: a short wait ends with a message in words...
    let writer = duckdb::Connection::open(p.join("main.duckdb")).unwrap();
    aitaem()
        .current_dir(&p)
        .args(["compute", "from_db", "--wait", "0.3"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "main.duckdb` is being written by another process",
        ));
    // ...and a compute that waits long enough gets its result once the writer is done. (Passes
    // in either order of events: when the compute starts after the writer is gone, it has
    // nothing to wait for.)
    let mut waiting = std::process::Command::new(assert_cmd::cargo::cargo_bin("aitaem"))
        .current_dir(&p)
        .args(["compute", "from_db", "--wait", "120", "--format", "csv"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert!(
        waiting.try_wait().unwrap().is_none(),
        "the compute ended while the writer held the database"
    );
    drop(writer);
    let out = waiting.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn loads_clean_up_after_failing_and_check_their_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    // A failed load into a new database leaves no database behind.
    std::fs::create_dir(p.join("bad")).unwrap();
    std::fs::write(p.join("bad/a.csv"), "x\n1\n").unwrap();
    std::fs::write(p.join("bad/b.csv"), b"x,y\n\xff\xfe,1\n".as_slice()).unwrap();
    aitaem()
        .current_dir(p)
        .args(["load-csv", "bad", "new.duckdb"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("LoadError: bad/b.csv:"));
    assert!(!p.join("new.duckdb").exists());
    assert!(!p.join("new.duckdb.wal").exists());
    // An empty file is an error naming it; a header alone is an empty table.
    std::fs::write(p.join("empty.csv"), "").unwrap();
    aitaem()
        .current_dir(p)
        .args(["load-csv", "empty.csv", "db.duckdb"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("empty.csv")
                .and(predicate::str::contains("the file is empty")),
        );
    std::fs::write(p.join("header.csv"), "day,clicks\n").unwrap();
    aitaem()
        .current_dir(p)
        .args(["load-csv", "header.csv", "db.duckdb"])
        .assert()
        .success();
    let conn = duckdb::Connection::open(p.join("db.duckdb")).unwrap();
    let columns: Vec<String> = conn
        .prepare("SELECT column_name FROM duckdb_columns() WHERE table_name = 'header' ORDER BY column_index")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(columns, ["day", "clicks"]);
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM header", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0);
    drop(conn);
    // A file name that is not valid UTF-8.
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.csv");
    std::fs::write(p.join(name), "clicks\n2\n3\n").unwrap();
    aitaem()
        .current_dir(p)
        .arg("load-csv")
        .arg(name)
        .arg("db.duckdb")
        .assert()
        .success();
    let conn = duckdb::Connection::open(p.join("db.duckdb")).unwrap();
    let total: i64 = conn
        .query_row("SELECT SUM(clicks) FROM caf_", [], |r| r.get(0))
        .unwrap();
    assert_eq!(total, 5);
}

#[test]
fn very_long_lines_and_very_large_specs() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("metrics")).unwrap();
    std::fs::create_dir_all(p.join("slices")).unwrap();
    // One minified line with the error past column 65,535: reported, not a crash.
    std::fs::write(
        p.join("metrics/wide.yaml"),
        format!(
            "{{metric: {{name: wide, source: duckdb://e.csv, numerator: SUM(x), description: \"{}\", bogus: 1}}}}\n",
            "d".repeat(70_000)
        ),
    )
    .unwrap();
    aitaem()
        .current_dir(p)
        .args(["validate"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("unknown field `bogus`")
                .and(predicate::str::contains("line 1, characters")),
        );
    std::fs::remove_file(p.join("metrics/wide.yaml")).unwrap();
    // The same in a connections file.
    std::fs::write(
        p.join("wide_connections.yaml"),
        format!(
            "{{duckdb: {{path: \"{}.duckdb\", bogus: 1}}}}\n",
            "p".repeat(70_000)
        ),
    )
    .unwrap();
    aitaem()
        .current_dir(p)
        .args(["tables", "--connections", "wide_connections.yaml"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("unknown field `bogus`")
                .and(predicate::str::contains("line 1, characters")),
        );
    // 70,000 values in one slice (about 2.5 MB): accepted.
    let mut big = String::from("slice:\n  name: big\n  values:\n");
    for i in 0..70_000 {
        big.push_str(&format!("    - {{name: v{i}, where: \"x = {i}\"}}\n"));
    }
    std::fs::write(p.join("slices/big.yaml"), big).unwrap();
    aitaem()
        .current_dir(p)
        .args(["validate"])
        .assert()
        .success()
        .stdout(predicate::str::contains("1 slices: big"));
}

/// A project laid out like the original library's example (specs under `examples/`, the database
/// under `examples/data/`, specs naming only the database's file name) runs unchanged from its
/// root.
#[test]
fn a_project_laid_out_like_the_originals_example() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/original-example"),
        root,
    );
    let ctr_by_type = |db: &str| {
        aitaem()
            .current_dir(root)
            .args(["load-csv", "examples/data", db])
            .assert()
            .success();
        let out = aitaem()
            .current_dir(root)
            .args([
                "compute",
                "ctr",
                "--specs",
                "examples",
                "--slice",
                "campaign_type",
            ])
            .args(["--time-window", "2024-01-01,2024-04-01", "--format", "csv"])
            .assert()
            .success()
            .get_output()
            .clone();
        let rows = csv_rows(&String::from_utf8(out.stdout).unwrap());
        let search: f64 = rows
            .iter()
            .find(|r| r[7] == "Search")
            .map(|r| r[10].parse().unwrap())
            .unwrap();
        (search, String::from_utf8(out.stderr).unwrap())
    };
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let expected: f64 = conn
        .query_row(
            &format!(
                "SELECT SUM(clicks) / SUM(impressions) FROM read_csv_auto('{}') \
                 WHERE campaign_type = 'Search' AND date >= '2024-01-01' AND date < '2024-04-01'",
                root.join("examples/data/ad_campaigns.csv").display()
            ),
            [],
            |r| r.get(0),
        )
        .unwrap();

    let (search, stderr) = ctr_by_type("examples/data/ad_campaigns.duckdb");
    assert!((search - expected).abs() < 1e-12, "{search} vs {expected}");
    assert!(!stderr.contains("warning"), "{stderr}");

    // The database under another file name: still the configured one, with a warning.
    std::fs::remove_file(root.join("examples/data/ad_campaigns.duckdb")).unwrap();
    std::fs::write(
        root.join("examples/connections.yaml"),
        "duckdb:\n  path: examples/data/campaigns_2024.duckdb\n",
    )
    .unwrap();
    let (search, stderr) = ctr_by_type("examples/data/campaigns_2024.duckdb");
    assert!((search - expected).abs() < 1e-12, "{search} vs {expected}");
    assert!(
        stderr.contains("warning: `duckdb://ad_campaigns.duckdb/ad_campaigns`: there is no database file `ad_campaigns.duckdb`; reading the configured DuckDB database `examples/data/campaigns_2024.duckdb` instead"),
        "{stderr}"
    );
}
