//! What people see: the readable table, charts, a project from a CSV file, and the terminal's
//! behaviour (colour, paging, progress), driven as a user would, in a pseudo-terminal.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{aitaem, example, oracle};
use expectrl::Expect;

fn binary() -> PathBuf {
    assert_cmd::cargo::cargo_bin("aitaem")
}

/// The standard output of a successful command on the example project.
fn run(args: &[&str]) -> String {
    common::stdout(aitaem().args(args).arg("--specs").arg(example()))
}

#[test]
fn the_table_has_a_column_per_metric_with_formatted_values() {
    let table = run(&[
        "compute",
        "revenue",
        "ctr",
        "--slice",
        "device",
        "--time-window",
        "2024-01-01,2024-03-01",
        "--period",
        "monthly",
        "--format",
        "table",
    ]);
    let lines: Vec<&str> = table.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["period", "slice", "revenue", "ctr"], "{table}");
    // Two months × (three devices + the baseline).
    assert_eq!(lines.len(), 1 + 2 * 4, "{table}");
    let revenue = oracle(
        "SELECT SUM(revenue) FROM EVENTS WHERE device_type = 'mobile' AND event_ts >= '2024-01-01' AND event_ts < '2024-02-01'",
    );
    let clicks = oracle(
        "SELECT SUM(clicks) / SUM(impressions) FROM EVENTS WHERE device_type = 'mobile' AND event_ts >= '2024-01-01' AND event_ts < '2024-02-01'",
    );
    let row = lines
        .iter()
        .find(|l| l.starts_with("2024-01-01") && l.contains("device: mobile"))
        .unwrap_or_else(|| panic!("{table}"));
    let usd = format!("{revenue:.2}");
    let (int, frac) = usd.split_once('.').unwrap();
    let grouped = format!("{},{}.{frac}", &int[..int.len() - 3], &int[int.len() - 3..]);
    assert!(row.contains(&format!("USD {grouped}")), "{row} / {grouped}");
    assert!(row.contains(&format!("{:.2}%", clicks * 100.0)), "{row}");
    // Dates without a time part; no empty entity or segment columns; no escape codes in a pipe.
    assert!(
        !table.contains("00:00:00") && !table.contains('\x1b'),
        "{table}"
    );

    // All time over a window: the window is a caption; the long table is today's 11 columns.
    let table = run(&[
        "compute",
        "unique_users",
        "--time-window",
        "2024-01-01,2025-01-01",
        "--format",
        "table",
    ]);
    assert!(
        table.starts_with("2024-01-01 to 2025-01-01 (end exclusive)\nunique_users\n"),
        "{table}"
    );
    let long = run(&["compute", "unique_users", "--format", "long-table"]);
    assert!(
        long.contains("| period_type |") && long.contains("metric_value"),
        "{long}"
    );
}

#[test]
fn period_charts_have_a_line_per_value_and_all_time_charts_a_bar() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("chart.svg");
    aitaem()
        .args([
            "compute",
            "revenue",
            "ctr",
            "--slice",
            "device",
            "--time-window",
            "2024-01-01,2024-07-01",
            "--period",
            "monthly",
            "--format",
            "csv",
            "--plot",
        ])
        .arg(&svg)
        .arg("--specs")
        .arg(example())
        .assert()
        .success();
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("the SVG parses");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("width"), Some("1000"));
    // One chart per metric, one above the other.
    assert_eq!(root.attribute("height"), Some("840"));
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect();
    for label in [
        "revenue",
        "ctr",
        "device: mobile",
        "device: desktop",
        "device: tablet",
        "all",
        "2024-01-01",
        "2024-06-01",
    ] {
        assert!(
            texts.iter().any(|t| t == label),
            "no `{label}` in {texts:?}"
        );
    }
    // Values on the axis in the metric's format.
    assert!(texts.iter().any(|t| t.ends_with('%')), "{texts:?}");
    // A line per series (and its legend mark): 2 metrics × 4 series × 2.
    let lines = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke-width") == Some("2"))
        .count();
    assert_eq!(lines, 16);
    // Each line has a point per month.
    let points = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke-width") == Some("2"))
        .map(|n| n.attribute("points").unwrap().split_whitespace().count())
        .max();
    assert_eq!(points, Some(6));

    let png = dir.path().join("bars.png");
    aitaem()
        .args([
            "compute", "revenue", "--slice", "device", "--format", "csv", "--plot",
        ])
        .arg(&png)
        .arg("--specs")
        .arg(example())
        .assert()
        .success();
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().expect("the PNG decodes");
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((frame.width, frame.height), (1000, 420));
    // The four bars (three devices and the baseline) in the palette's first four colours.
    let bytes = &pixels[..frame.buffer_size()];
    let channels = frame.color_type.samples();
    for colour in [
        [0xE6, 0x19, 0x4B],
        [0x3C, 0xB4, 0x4B],
        [0xFF, 0xE1, 0x19],
        [0x00, 0x82, 0xC8],
    ] {
        let count = bytes.chunks(channels).filter(|p| p[..3] == colour).count();
        assert!(count > 1000, "{colour:?}: {count} pixels");
    }

    // Anything but .svg or .png is refused before computing.
    aitaem()
        .args(["compute", "revenue", "--plot", "chart.pdf", "--specs"])
        .arg(example())
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "give a file ending in .svg or .png",
        ));
}

#[test]
fn a_project_from_a_csv_file_computes_and_plots_in_two_commands() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("sales.csv");
    let mut text = String::from("order_date,Region,amount,order_id,note\n");
    for i in 0..90 {
        let region = ["north", "south", "east"][i % 3];
        text.push_str(&format!(
            "2024-{:02}-{:02},{region},{}.5,{i},n{i}\n",
            1 + i / 30,
            1 + i % 28,
            i % 7
        ));
    }
    std::fs::write(&csv, text).unwrap();
    let project = dir.path().join("shop");
    let out = aitaem()
        .arg("init")
        .arg(&project)
        .arg("--from-csv")
        .arg(&csv)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("table sales (90 rows)"), "{out}");
    assert!(
        out.contains("sales_rows, amount_total, amount_avg, unique_order_id"),
        "{out}"
    );
    // `note` has 90 values: no slice; `Region` 3.
    assert!(out.contains("slices/           region\n"), "{out}");
    // The command it suggests runs as it is.
    let next = out
        .lines()
        .find(|l| l.trim_start().starts_with("aitaem compute"))
        .unwrap()
        .trim();
    assert!(
        next.contains("--time-window 2024-01-01,2024-03-29"),
        "{next}"
    );
    let args: Vec<&str> = next.split_whitespace().skip(1).collect();
    let table = aitaem()
        .current_dir(dir.path())
        .args(&args)
        .args(["--format", "table"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let table = String::from_utf8(table).unwrap();
    // January: 30 orders of 0.5 .. 6.5 by i % 7.
    let january: f64 = (0..30).map(|i| (i % 7) as f64 + 0.5).sum();
    let row = table
        .lines()
        .find(|l| l.starts_with("2024-01-01") && l.contains("(all)"))
        .unwrap_or_else(|| panic!("{table}"));
    // Whole numbers are shown without decimals.
    assert_eq!(january, 100.0);
    assert!(row.ends_with(" 100"), "{row}");
    assert!(project.join("chart.png").is_file());
    // A project is never overwritten.
    aitaem()
        .arg("init")
        .arg(&project)
        .arg("--from-csv")
        .arg(&csv)
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "refusing to create a project here",
        ));
}

/// Runs the CLI in a pseudo-terminal (a terminal on both stdout and stderr) with extra
/// environment variables, and returns everything it printed.
fn in_terminal(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut command = std::process::Command::new(binary());
    command.args(args).arg("--specs").arg(example());
    command.env_remove("NO_COLOR").env_remove("PAGER");
    for (k, v) in env {
        command.env(k, v);
    }
    let mut session = expectrl::Session::spawn(command).expect("a pseudo-terminal");
    session.set_expect_timeout(Some(Duration::from_secs(60)));
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut session, &mut out).ok();
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn a_terminal_gets_colour_a_pager_and_progress() {
    let args = ["compute", "revenue", "--slice", "device"];
    // A table by default, through the pager, with a bold header.
    let paged = in_terminal(&args, &[("PAGER", "sed 's/^/PAGED /'")]);
    assert!(paged.contains("PAGED \x1b[1mslice"), "{paged:?}");
    assert!(paged.contains("PAGED device: mobile"), "{paged:?}");
    // NO_COLOR: no escape codes; PAGER=cat prints as it is.
    let plain = in_terminal(&args, &[("PAGER", "cat"), ("NO_COLOR", "1")]);
    assert!(
        !plain.contains('\x1b') && plain.contains("device: mobile"),
        "{plain:?}"
    );

    // A compute of more than a second shows a spinner with what runs, on the terminal only.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("slow.duckdb");
    let conn = duckdb::Connection::open(&db).unwrap();
    // Minutes of work: ten billion numbers summed. The compute is stopped once seen.
    conn.execute_batch("CREATE VIEW numbers AS SELECT range AS n FROM range(10000000000)")
        .unwrap();
    drop(conn);
    std::fs::write(
        dir.path().join("connections.yaml"),
        "duckdb:\n  path: slow.duckdb\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("metrics")).unwrap();
    std::fs::write(
        dir.path().join("metrics/total.yaml"),
        "metric:\n  name: total\n  source: duckdb://slow.duckdb/numbers\n  numerator: SUM(n)\n",
    )
    .unwrap();
    let mut command = std::process::Command::new(binary());
    command
        .args(["compute", "total", "--format", "csv", "--specs"])
        .arg(dir.path());
    let mut session = expectrl::Session::spawn(command).expect("a pseudo-terminal");
    session.set_expect_timeout(Some(Duration::from_secs(120)));
    session
        .expect("computing total on duckdb://slow.duckdb/numbers")
        .expect("a spinner on a terminal");
    // Dropping the session ends the compute.
    drop(session);
    // The same compute into a pipe prints no progress (it is stopped after twice the spinner's
    // delay; a machine too slow to get that far passes trivially).
    let mut piped = std::process::Command::new(binary())
        .args(["compute", "total", "--format", "csv", "--specs"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    piped.kill().unwrap();
    let piped = piped.wait_with_output().unwrap();
    assert!(
        piped.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
}
