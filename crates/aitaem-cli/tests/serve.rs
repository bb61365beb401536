//! `aitaem serve`, run as a process and asked through a real HTTP client.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{copy_tree, example, oracle};
use serde_json::{Value, json};

/// A running server, stopped when dropped.
struct Server {
    child: Child,
    base: String,
    log: mpsc::Receiver<String>,
}

impl Server {
    /// `aitaem serve ARGS --listen 127.0.0.1:0`, once it listens.
    fn start(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("aitaem"));
        command
            .arg("serve")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .env_remove("AITAEM_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (lines, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let first = log
            .recv_timeout(Duration::from_secs(60))
            .expect("the server says where it listens");
        let base = first
            .strip_prefix("aitaem: listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_string();
        Server { child, base, log }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The log lines written so far.
    fn log_lines(&self) -> Vec<String> {
        self.log.try_iter().collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that returns every status as a response.
fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// POSTs `body` (JSON) and returns the status and the JSON answer.
fn post(server: &Server, path: &str, body: &Value) -> (u16, Value) {
    let mut response = client().post(&server.url(path)).send_json(body).unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().read_json().unwrap())
}

fn get(server: &Server, path: &str) -> (u16, Value) {
    let mut response = client().get(&server.url(path)).call().unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().read_json().unwrap())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// Two CSV results with the same header and rows: text fields equal, numbers to 1e-9.
fn same_csv(a: &str, b: &str) {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    assert_eq!(a.len(), b.len());
    assert_eq!(a[0], b[0]);
    for (x, y) in a.iter().zip(&b) {
        for (u, v) in x.split(',').zip(y.split(',')) {
            match (u.parse::<f64>(), v.parse::<f64>()) {
                (Ok(u), Ok(v)) => assert!(close(u, v), "{x}\n{y}"),
                _ => assert_eq!(u, v, "{x}\n{y}"),
            }
        }
    }
}

fn example_args() -> Vec<String> {
    vec!["--specs".into(), example().display().to_string()]
}

fn start_example(extra: &[&str]) -> Server {
    let args = example_args();
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    all.extend(extra);
    Server::start(&all, &[])
}

/// JSON, CSV and Arrow answers of one compute hold the values of hand-written SQL, and the CSV
/// is the command line's, byte for byte.
#[test]
fn computes_answer_in_json_csv_and_arrow() {
    let server = start_example(&[]);
    let body = json!({
        "metrics": ["revenue", "ctr"],
        "slices": ["device"],
        "time_window": ["2024-01-01", "2024-07-01"],
        "period": "monthly",
        "share": true,
        "sort": true,
    });
    let (status, answer) = post(&server, "/v1/compute", &body);
    assert_eq!(status, 200, "{answer}");
    let columns: Vec<&str> = answer["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(columns.len(), 12);
    assert_eq!(columns[10], "metric_value");
    assert_eq!(columns[11], "share_of_total");
    let rows = answer["rows"].as_array().unwrap();
    let find = |metric: &str, slice: &str, month: &str| -> &Vec<Value> {
        let found: Vec<&Vec<Value>> = rows
            .iter()
            .map(|r| r.as_array().unwrap())
            .filter(|r| {
                r[4] == metric && r[7] == slice && r[1].as_str().unwrap().starts_with(month)
            })
            .collect();
        assert_eq!(found.len(), 1, "{metric} {slice} {month}");
        found[0]
    };
    let march = "event_ts >= '2024-03-01' AND event_ts < '2024-04-01'";
    let mobile = oracle(&format!(
        "SELECT SUM(revenue) FROM EVENTS WHERE {march} AND device_type = 'mobile'"
    ));
    let all = oracle(&format!("SELECT SUM(revenue) FROM EVENTS WHERE {march}"));
    let row = find("revenue", "mobile", "2024-03");
    assert!(close(row[10].as_f64().unwrap(), mobile), "{row:?}");
    assert!(close(row[11].as_f64().unwrap(), mobile / all), "{row:?}");
    let ctr = oracle(&format!(
        "SELECT SUM(clicks)::DOUBLE / SUM(impressions) FROM EVENTS WHERE {march}"
    ));
    let row = find("ctr", "all", "2024-03");
    assert!(close(row[10].as_f64().unwrap(), ctr));
    // A ratio's share cannot be computed: NULL, and a notice says why.
    assert_eq!(row[11], Value::Null);
    assert!(
        answer["notices"].to_string().contains("`ctr`"),
        "{}",
        answer["notices"]
    );

    // CSV: the command line's for the same request (sums may differ in the last bit: DuckDB
    // adds in parallel).
    let mut response = client()
        .post(&server.url("/v1/compute"))
        .header("Accept", "text/csv")
        .send_json(&body)
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = response.body_mut().read_to_string().unwrap();
    let cli = Command::new(assert_cmd::cargo::cargo_bin("aitaem"))
        .args(["compute", "revenue", "ctr", "--slice", "device"])
        .args([
            "--time-window",
            "2024-01-01,2024-07-01",
            "--period",
            "monthly",
        ])
        .args(["--share", "--sort", "--format", "csv", "--specs"])
        .arg(example())
        .output()
        .unwrap();
    assert!(cli.status.success());
    same_csv(&csv, &String::from_utf8(cli.stdout).unwrap());

    // Arrow IPC: the same rows.
    let mut response = client()
        .post(&server.url("/v1/compute"))
        .header("Accept", "application/vnd.apache.arrow.stream")
        .send_json(&body)
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let bytes = response.body_mut().read_to_vec().unwrap();
    let reader =
        arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
    let schema = reader.schema();
    assert_eq!(schema.fields().len(), 12);
    let batches: Vec<_> = reader.map(Result::unwrap).collect();
    let arrow_rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(arrow_rows, rows.len());
    let values = aitaem::result::rows(&batches).unwrap();
    let mobile_row = values
        .iter()
        .find(|r| {
            r.metric_name == "revenue"
                && r.slice_value == "mobile"
                && r.period_start_date
                    .as_deref()
                    .unwrap_or("")
                    .starts_with("2024-03")
        })
        .unwrap();
    assert!(close(mobile_row.metric_value.unwrap(), mobile));
}

/// The listings say what the specs declare; scan and sql answer as the command line does.
#[test]
fn listings_scan_and_sql() {
    let server = start_example(&[]);
    let (status, health) = get(&server, "/healthz");
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    let (_, metrics) = get(&server, "/v1/metrics");
    let metrics = metrics["metrics"].as_array().unwrap();
    let revenue = metrics.iter().find(|m| m["name"] == "revenue").unwrap();
    assert_eq!(revenue["kind"], "aggregate");
    assert_eq!(revenue["numerator"], "SUM(revenue)");
    assert_eq!(revenue["format"], "currency:USD");
    assert!(revenue["source"].as_str().unwrap().starts_with("duckdb://"));
    let derived = metrics
        .iter()
        .find(|m| m["name"] == "revenue_per_user")
        .unwrap();
    assert_eq!(derived["kind"], "derived");
    assert_eq!(derived["expression"], "revenue / unique_users");
    let (_, slices) = get(&server, "/v1/slices");
    let device = slices["slices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "device")
        .unwrap()
        .clone();
    assert!(
        device["kind"] == "values" || device["kind"] == "column",
        "{device}"
    );
    let (_, segments) = get(&server, "/v1/segments");
    assert!(
        segments["segments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "platform_group")
    );
    let (status, scan) = post(&server, "/v1/scan", &json!({}));
    assert_eq!(status, 200, "{scan}");
    let misfit = scan["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"] == "known_users" && r["spec"] == "device")
        .unwrap()
        .clone();
    assert_eq!(misfit["compatible"], false);
    assert_eq!(misfit["missing_columns"], json!(["device_type"]));
    let (status, sql) = post(
        &server,
        "/v1/sql",
        &json!({"metrics": ["revenue", "revenue_per_user"], "slices": "device"}),
    );
    assert_eq!(status, 200, "{sql}");
    let statements = sql["statements"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "one statement per source");
    let cli = Command::new(assert_cmd::cargo::cargo_bin("aitaem"))
        .args([
            "sql",
            "revenue",
            "revenue_per_user",
            "--slice",
            "device",
            "--specs",
        ])
        .arg(example())
        .output()
        .unwrap();
    let cli = String::from_utf8(cli.stdout).unwrap();
    assert!(
        cli.contains(statements[0]["sql"].as_str().unwrap()),
        "{cli}"
    );
    assert_eq!(
        sql["derived_metrics"],
        json!([{"name": "revenue_per_user", "expression": "revenue / unique_users"}])
    );
    // With `explain`, DuckDB's own plan of the statement (it reads the events file).
    let (status, explained) = post(
        &server,
        "/v1/sql",
        &json!({"metrics": ["revenue"], "explain": true}),
    );
    assert_eq!(status, 200, "{explained}");
    let plan = explained["statements"][0]["explain"].as_str().unwrap();
    assert!(
        plan.contains("events.csv") || plan.contains("READ_CSV"),
        "{plan}"
    );
    assert!(explained["statements"][0].get("estimated_bytes").is_none());
    let (status, document) = get(&server, "/v1/openapi.json");
    assert_eq!(status, 200);
    assert_eq!(document["openapi"], "3.0.3");
    for path in [
        "/healthz",
        "/v1/metrics",
        "/v1/slices",
        "/v1/segments",
        "/v1/scan",
        "/v1/compute",
        "/v1/sql",
        "/metrics",
    ] {
        assert!(document["paths"].get(path).is_some(), "{path}");
    }
}

/// What the caller got wrong is a 4xx with a JSON error naming its kind.
#[test]
fn errors_are_json_with_their_kind() {
    let server = start_example(&["--max-body", "1000"]);
    let cases = [
        (
            json!({"metrics": ["revenu"]}),
            404,
            "SpecNotFoundError",
            "did you mean `revenue`",
        ),
        (
            json!({"metrics": ["revenue"], "period": "fortnightly"}),
            400,
            "BadRequest",
            "fortnightly",
        ),
        (
            json!({"metric": ["revenue"]}),
            400,
            "BadRequest",
            "unknown field `metric`",
        ),
        (json!({"metrics": []}), 400, "BadRequest", "no metric"),
        (
            json!({"metrics": ["revenue"], "segments": ["platform_group", "user_tier"]}),
            400,
            "BadRequest",
            "one segment",
        ),
        (
            json!({"metrics": ["revenue"], "where": "clicks > (SELECT 1)"}),
            400,
            "QueryBuildError",
            "subqueries are not allowed",
        ),
        (
            json!({"metrics": ["revenue"], "period": "monthly", "rolling": 3}),
            400,
            "QueryBuildError",
            "window",
        ),
    ];
    for (body, want_status, kind, says) in cases {
        let (status, answer) = post(&server, "/v1/compute", &body);
        assert_eq!(status, want_status, "{body}: {answer}");
        assert_eq!(answer["error"]["kind"], kind, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
    let mut response = client()
        .post(&server.url("/v1/compute"))
        .header("Content-Type", "application/json")
        .send("{not json")
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let answer: Value = response.body_mut().read_json().unwrap();
    assert_eq!(answer["error"]["kind"], "BadRequest");
    // A body beyond the limit (the server's --max-body, 1000 bytes here).
    let huge = format!("{{\"metrics\": [\"{}\"]}}", "x".repeat(2000));
    let mut response = client()
        .post(&server.url("/v1/compute"))
        .send(huge)
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let answer: Value = response.body_mut().read_json().unwrap();
    assert_eq!(answer["error"]["kind"], "PayloadTooLarge");
    let (status, answer) = get(&server, "/v2/nothing");
    assert_eq!(status, 404);
    assert_eq!(answer["error"]["kind"], "NotFound");
    // Every request is logged as a JSON line with its status.
    let mut logged: Vec<Value> = Vec::new();
    eventually("the 413 is logged", || {
        logged.extend(
            server
                .log_lines()
                .iter()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok()),
        );
        logged
            .iter()
            .any(|l| l["path"] == "/v1/compute" && l["status"] == 413)
    });
}

/// With a token, every endpoint but /healthz and the explorer's files needs it; listening beyond
/// loopback needs one.
#[test]
fn tokens() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cret-token\n").unwrap();
    let args = example_args();
    let token_arg = token_file.display().to_string();
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    all.extend(["--token-file", token_arg.as_str()]);
    let server = Server::start(&all, &[]);
    let (status, _) = get(&server, "/healthz");
    assert_eq!(status, 200);
    // The explorer's page and files hold no data: they open without the token, and the page
    // may run nothing but its own script.
    for (path, media) in [
        ("/", "text/html"),
        ("/explorer.js", "text/javascript"),
        ("/explorer.css", "text/css"),
    ] {
        let mut response = client().get(&server.url(path)).call().unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let header = |name: &str| response.headers()[name].to_str().unwrap().to_string();
        assert!(header("content-type").starts_with(media), "{path}");
        assert!(header("content-security-policy").contains("default-src 'self'"));
        let text = response.body_mut().read_to_string().unwrap();
        assert!(!text.is_empty() && !text.contains("s3cret"), "{path}");
    }
    let (status, answer) = get(&server, "/v1/metrics");
    assert_eq!(status, 401);
    assert_eq!(answer["error"]["kind"], "Unauthorized");
    let mut response = client()
        .get(&server.url("/v1/metrics"))
        .header("Authorization", "Bearer wrong-token!")
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let text = response.body_mut().read_to_string().unwrap();
    assert!(!text.contains("s3cret"), "{text}");
    let response = client()
        .get(&server.url("/v1/metrics"))
        .header("Authorization", "Bearer s3cret-token")
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    drop(server);

    // The token may come from the environment.
    let server = Server::start(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &[("AITAEM_TOKEN", "from-env")],
    );
    let (status, _) = get(&server, "/v1/metrics");
    assert_eq!(status, 401);
    drop(server);

    // Anything but loopback without a token: refused before listening.
    let out = Command::new(assert_cmd::cargo::cargo_bin("aitaem"))
        .args(["serve", "--listen", "0.0.0.0:0", "--specs"])
        .arg(example())
        .env_remove("AITAEM_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("needs a token"), "{stderr}");
}

/// A project whose `endless` metric reads ten billion generated rows (minutes of work).
fn endless_project(dir: &Path) {
    let db = dir.join("big.duckdb");
    let conn = duckdb::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE VIEW huge AS SELECT range AS i FROM range(10000000000);
         CREATE TABLE small AS SELECT range AS i FROM range(5);",
    )
    .unwrap();
    drop(conn);
    std::fs::write(
        dir.join("connections.yaml"),
        "duckdb:\n  path: big.duckdb\n",
    )
    .unwrap();
    std::fs::create_dir(dir.join("metrics")).unwrap();
    for (name, table) in [("endless", "huge"), ("small", "small")] {
        std::fs::write(
            dir.join("metrics").join(format!("{name}.yaml")),
            format!(
                "metric:\n  name: {name}\n  source: duckdb://big.duckdb/{table}\n  numerator: SUM(i * i % 7)\n"
            ),
        )
        .unwrap();
    }
}

/// Beyond the computes running and waiting, a request gets 429 with a hint to retry; a compute
/// past its timeout gets 504; a client that goes away cancels its compute; the counters say so;
/// SIGTERM stops the server. (No step depends on how fast the machine is: each waits for the
/// state it needs.)
#[test]
fn a_busy_server_says_so_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    endless_project(dir.path());
    let specs = dir.path().display().to_string();
    let mut server = Server::start(
        &[
            "--specs",
            &specs,
            "--max-concurrent",
            "1",
            "--max-queued",
            "0",
            "--timeout",
            "600",
        ],
        &[],
    );
    // An endless compute from a client that stays until it is dropped holds the only turn...
    let holder = hold_open(&server, &json!({"metrics": ["endless"]}));
    eventually("the endless compute runs", || {
        let mut response = client().get(&server.url("/metrics")).call().unwrap();
        let text = response.body_mut().read_to_string().unwrap();
        text.contains("aitaem_computes_running 1")
    });
    // ...so another compute is turned away...
    let mut response = client()
        .post(&server.url("/v1/compute"))
        .send_json(json!({"metrics": ["small"]}))
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let retry = response.headers().get("retry-after").cloned();
    let answer = response.body_mut().read_json::<Value>().unwrap();
    assert_eq!(retry.unwrap().to_str().unwrap(), "1");
    assert_eq!(answer["error"]["kind"], "ResourceExhausted");
    // ...until that client goes away: its statement is cancelled and the turn is free again.
    drop(holder);
    eventually("the abandoned compute gives its turn back", || {
        post(&server, "/v1/compute", &json!({"metrics": ["small"]})).0 == 200
    });

    // A compute past the timeout gets 504, and its statement is cancelled too.
    let hasty = Server::start(
        &["--specs", &specs, "--max-concurrent", "1", "--timeout", "2"],
        &[],
    );
    let (status, answer) = post(&hasty, "/v1/compute", &json!({"metrics": ["endless"]}));
    assert_eq!(status, 504, "{answer}");
    assert_eq!(answer["error"]["kind"], "Timeout");
    eventually("the timed-out compute gives its turn back", || {
        post(&hasty, "/v1/compute", &json!({"metrics": ["small"]})).0 == 200
    });
    let metrics = |server: &Server| {
        let mut response = client().get(&server.url("/metrics")).call().unwrap();
        response.body_mut().read_to_string().unwrap()
    };
    let text = metrics(&hasty);
    assert!(
        text.contains("aitaem_requests_total{endpoint=\"/v1/compute\",status=\"504\"}"),
        "{text}"
    );
    drop(hasty);
    let text = metrics(&server);
    assert!(
        text.contains("aitaem_requests_total{endpoint=\"/v1/compute\",status=\"429\"}"),
        "{text}"
    );
    assert!(text.contains("aitaem_request_duration_seconds_bucket{le=\"+Inf\"}"));

    #[cfg(unix)]
    {
        // SAFETY: signalling a child process this test started.
        let pid = server.child.id() as i32;
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let mut stopped = None;
        eventually("the server stops on SIGTERM", || {
            stopped = server.child.try_wait().unwrap();
            stopped.is_some()
        });
        let status = stopped.unwrap();
        assert!(status.success(), "{status:?}");
    }
}

/// Sends a compute request over a connection of its own and leaves it waiting for the answer;
/// dropping the connection is a client going away.
fn hold_open(server: &Server, body: &Value) -> std::net::TcpStream {
    use std::io::Write;
    let address = server.base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    let body = body.to_string();
    write!(
        stream,
        "POST /v1/compute HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    stream.flush().unwrap();
    stream
}

/// The server's CSV and the command line's for the same request and project.
fn same_as_the_command_line(
    server: &Server,
    body: &Value,
    cli_args: &[&str],
    env: &[(&str, &str)],
) {
    let mut response = client()
        .post(&server.url("/v1/compute"))
        .header("Accept", "text/csv")
        .send_json(body)
        .unwrap();
    let status = response.status().as_u16();
    let csv = response.body_mut().read_to_string().unwrap();
    assert_eq!(status, 200, "{csv}");
    let expected = command_line(cli_args, env);
    assert!(expected.lines().count() > 2, "{expected}");
    same_csv(&csv, &expected);
}

/// On PostgreSQL, the example project through the server gives the command line's answer.
#[test]
fn the_same_answers_as_the_command_line_on_postgres() {
    let Some(server_url) = common::postgres("serve on PostgreSQL") else {
        return;
    };
    let name = format!("serve_example_{}", std::process::id());
    common::psql(&server_url, &["-c", &format!("CREATE DATABASE {name}")]);
    let url = format!("{}/{name}", server_url.rsplit_once('/').unwrap().0);
    common::psql(&url, &["-f", "examples/ads-postgres/load.sql"]);
    let dir = tempfile::tempdir().unwrap();
    let connections = dir.path().join("connections.yaml");
    std::fs::write(&connections, format!("postgres:\n  url: {url}\n")).unwrap();
    let project = example().join("../ads-postgres").display().to_string();
    let connections = connections.display().to_string();
    let server = Server::start(&["--specs", &project, "--connections", &connections], &[]);
    let body = json!({
        "metrics": ["revenue", "ctr", "unique_users", "median_revenue"],
        "slices": ["campaign_type"],
        "segments": ["platform_group"],
        "time_window": ["2024-01-01", "2025-01-01"],
        "period": "quarterly",
        "compare": "previous_period",
        "sort": true,
    });
    same_as_the_command_line(
        &server,
        &body,
        &[
            "compute",
            "revenue",
            "ctr",
            "unique_users",
            "median_revenue",
            "--slice",
            "campaign_type",
            "--segment",
            "platform_group",
            "--time-window",
            "2024-01-01,2025-01-01",
            "--period",
            "quarterly",
            "--compare",
            "previous_period",
            "--sort",
            "--format",
            "csv",
            "--specs",
            &project,
            "--connections",
            &connections,
        ],
        &[],
    );
    drop(server);
    common::psql(
        &server_url,
        &["-c", &format!("DROP DATABASE {name} WITH (FORCE)")],
    );
}

/// On the BigQuery emulator: a small table, computed through the server, gives the command
/// line's answer and the values worked out by hand.
#[test]
fn the_same_answers_as_the_command_line_on_bigquery() {
    let endpoint = match std::env::var("AITAEM_TEST_BIGQUERY") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("AITAEM_TEST_BIGQUERY is not set; run the tests with scripts/test.sh")
        }
        _ => {
            eprintln!("skipped serve on BigQuery: no emulator (scripts/test.sh starts one)");
            return;
        }
    };
    let project =
        std::env::var("AITAEM_TEST_BIGQUERY_PROJECT").unwrap_or_else(|_| "aitaem-test".into());
    let dataset = format!("serve_{}", std::process::id());
    let api = format!("{endpoint}/bigquery/v2/projects/{project}");
    let call = |path: &str, body: Value| {
        let mut response = client()
            .post(&format!("{api}{path}"))
            .send_json(&body)
            .unwrap();
        let answer: Value = response.body_mut().read_json().unwrap();
        assert!(answer.get("error").is_none(), "{answer}");
    };
    call(
        "/datasets",
        json!({"datasetReference": {"projectId": project, "datasetId": dataset}}),
    );
    let query = |sql: String| call("/queries", json!({"query": sql, "useLegacySql": false}));
    query(format!(
        "CREATE TABLE {dataset}.orders (ts DATETIME, device STRING, amount INT64)"
    ));
    query(format!(
        "INSERT INTO {dataset}.orders VALUES \
         (DATETIME '2024-01-05 10:00:00', 'mobile', 10), (DATETIME '2024-01-20 10:00:00', 'desktop', 30), \
         (DATETIME '2024-02-02 10:00:00', 'mobile', 5), (DATETIME '2024-02-03 10:00:00', 'mobile', 7)"
    ));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("connections.yaml"),
        format!("bigquery:\n  project_id: {project}\n"),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("metrics")).unwrap();
    std::fs::create_dir(dir.path().join("slices")).unwrap();
    std::fs::write(
        dir.path().join("metrics/sales.yaml"),
        format!(
            "metric:\n  name: sales\n  source: bigquery://{project}.{dataset}.orders\n  numerator: SUM(amount)\n  timestamp_col: ts\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("slices/device.yaml"),
        "slice:\n  name: device\n  where: device\n",
    )
    .unwrap();
    let specs = dir.path().display().to_string();
    let host = endpoint.trim_start_matches("http://").to_string();
    let env = [("BIGQUERY_EMULATOR_HOST", host.as_str())];
    let server = Server::start(&["--specs", &specs], &env);
    let body = json!({
        "metrics": "sales", "slices": "device", "time_window": ["2024-01-01", "2024-03-01"],
        "period": "monthly", "share": true, "sort": true,
    });
    let (status, answer) = post(&server, "/v1/compute", &body);
    assert_eq!(status, 200, "{answer}");
    let values: Vec<(String, String, f64, f64)> = answer["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[1].as_str().unwrap()[..7].to_string(),
                r[7].as_str().unwrap().to_string(),
                r[10].as_f64().unwrap(),
                r[11].as_f64().unwrap(),
            )
        })
        .collect();
    let want = [
        ("2024-01", "desktop", 30.0, 0.75),
        ("2024-01", "mobile", 10.0, 0.25),
        ("2024-02", "mobile", 12.0, 1.0),
        ("2024-01", "all", 40.0, 1.0),
        ("2024-02", "all", 12.0, 1.0),
    ];
    let mut got = values.clone();
    got.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mut want: Vec<(String, String, f64, f64)> = want
        .iter()
        .map(|(m, d, v, s)| (m.to_string(), d.to_string(), *v, *s))
        .collect();
    want.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(got, want);
    same_as_the_command_line(
        &server,
        &body,
        &[
            "compute",
            "sales",
            "--slice",
            "device",
            "--time-window",
            "2024-01-01,2024-03-01",
            "--period",
            "monthly",
            "--share",
            "--sort",
            "--format",
            "csv",
            "--specs",
            &specs,
        ],
        &env,
    );
    // The bytes the statement would process, as the service estimates them (a dry run): the
    // same number as `aitaem sql --estimate`.
    let (status, answer) = post(
        &server,
        "/v1/sql",
        &json!({"metrics": "sales", "estimate": true}),
    );
    assert_eq!(status, 200, "{answer}");
    let bytes = answer["statements"][0]["estimated_bytes"]
        .as_u64()
        .unwrap_or_else(|| panic!("no estimate: {answer}"));
    let text = command_line(&["sql", "sales", "--estimate", "--specs", &specs], &env);
    assert!(
        text.contains(&format!("would process {bytes} bytes")),
        "{bytes} not in: {text}"
    );
}

/// The standard output of a successful `aitaem ARGS` run with these environment variables.
fn command_line(args: &[&str], env: &[(&str, &str)]) -> String {
    common::stdout(
        common::aitaem()
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, *v))),
    )
}

/// Polls `check` every 100 ms until it holds; panics only on a hang (nothing after 120 s).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..1200 {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not happen within 120 s");
}

/// A spec file added, broken or fixed while the server runs: the server answers with the new
/// set, keeps the last good one while a file is broken (saying why on /healthz), and reloads on
/// SIGHUP as well.
#[test]
fn specs_reload_when_their_files_change() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("ads");
    copy_tree(&example(), &project);
    let specs = project.display().to_string();
    let server = Server::start(&["--specs", &specs], &[]);
    let ask = json!({"metrics": ["clicks_total"]});
    let (status, _) = post(&server, "/v1/compute", &ask);
    assert_eq!(status, 404);

    std::fs::write(
        project.join("metrics/clicks_total.yaml"),
        "metric:\n  name: clicks_total\n  source: duckdb://data/events.csv\n  numerator: SUM(clicks)\n",
    )
    .unwrap();
    eventually("the new metric is listed", || {
        get(&server, "/v1/metrics").1["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "clicks_total")
    });
    let (status, answer) = post(&server, "/v1/compute", &ask);
    assert_eq!(status, 200, "{answer}");
    let clicks = oracle("SELECT SUM(clicks)::DOUBLE FROM EVENTS");
    assert!(close(answer["rows"][0][10].as_f64().unwrap(), clicks));

    // A broken file: the last good set still answers, and /healthz says why.
    let broken = project.join("metrics/broken.yaml");
    std::fs::write(&broken, "metric:\n  name: broken\n").unwrap();
    eventually("the failed reload is reported", || {
        get(&server, "/healthz").1["reload_error"].is_string()
    });
    let (_, health) = get(&server, "/healthz");
    let reason = health["reload_error"].as_str().unwrap();
    assert!(reason.starts_with("SpecValidationError"), "{reason}");
    assert!(reason.contains("broken.yaml"), "{reason}");
    let (status, _) = post(&server, "/v1/compute", &ask);
    assert_eq!(status, 200);
    assert!(
        server
            .log_lines()
            .iter()
            .any(|l| l.contains("the project did not reload")),
    );

    // Fixed, and reloaded on SIGHUP (as well as by the file check).
    std::fs::remove_file(&broken).unwrap();
    #[cfg(unix)]
    {
        // SAFETY: signalling a child process this test started.
        assert_eq!(
            unsafe { libc::kill(server.child.id() as i32, libc::SIGHUP) },
            0
        );
    }
    eventually("the fixed project reloads", || {
        get(&server, "/healthz").1["reload_error"].is_null()
    });
}

/// HTTPS with a certificate and key: a client that trusts the certificate gets its answers over
/// TLS; plain HTTP gets none; a key that is not one stops the server before it listens.
#[test]
fn https_with_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let args = example_args();
    let (cert_arg, key_arg) = (cert.display().to_string(), key.display().to_string());
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    all.extend(["--tls-cert", &cert_arg, "--tls-key", &key_arg]);
    let server = Server::start(&all, &[]);
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );
    let curl = |extra: &[&str], url: &str| {
        Command::new("curl")
            .args(["-s", "--max-time", "60", "--cacert", &cert_arg])
            .args(extra)
            .arg(url)
            .output()
            .unwrap()
    };
    let out = curl(&[], &server.url("/healthz"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let health: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(health["status"], "ok");
    let out = curl(
        &[
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"metrics": "revenue"}"#,
        ],
        &server.url("/v1/compute"),
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    let total = oracle("SELECT SUM(revenue) FROM EVENTS");
    assert!(
        close(answer["rows"][0][10].as_f64().unwrap(), total),
        "{answer}"
    );
    // Plain HTTP to the TLS port: no answer.
    let plain = server.url("/healthz").replace("https://", "http://");
    let out = curl(&[], &plain);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("\"ok\""));
    drop(server);

    // A key file that holds no key: refused at start, naming the file.
    std::fs::write(&key, "not a key\n").unwrap();
    let out = Command::new(assert_cmd::cargo::cargo_bin("aitaem"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &cert_arg,
            "--tls-key",
            &key_arg,
        ])
        .arg("--specs")
        .arg(example())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("key.pem"), "{stderr}");
}

/// With `--store`, the server's second compute of a window inside the first is answered from
/// the store, with the numbers the command line computes from the source.
#[test]
fn a_server_with_a_result_store_answers_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let server = start_example(&["--store", store.to_str().unwrap()]);
    let notices = |answer: &Value| answer["notices"].to_string();
    let first = json!({
        "metrics": ["revenue", "ctr"], "slices": ["device"],
        "time_window": ["2024-01-01", "2025-01-01"], "period": "monthly",
    });
    let (status, answer) = post(&server, "/v1/compute", &first);
    assert_eq!(status, 200, "{answer}");
    assert!(
        notices(&answer).contains("kept in the result store"),
        "{answer}"
    );
    let quarters = json!({
        "metrics": ["revenue"], "slices": ["device"],
        "time_window": ["2024-01-01", "2024-07-01"], "period": "quarterly", "sort": true,
    });
    let (status, answer) = post(&server, "/v1/compute", &quarters);
    assert_eq!(status, 200, "{answer}");
    assert!(
        notices(&answer).contains("answered from the result store"),
        "{answer}"
    );
    let cli = command_line(
        &[
            "compute",
            "revenue",
            "--specs",
            example().to_str().unwrap(),
            "--slice",
            "device",
            "--time-window",
            "2024-01-01,2024-07-01",
            "--period",
            "quarterly",
            "--format",
            "json",
        ],
        &[],
    );
    let cli: Vec<Value> = serde_json::from_str(&cli).unwrap();
    let rows = answer["rows"].as_array().unwrap();
    assert_eq!(rows.len(), cli.len());
    for expected in &cli {
        let found = rows.iter().any(|r| {
            r[1] == expected["period_start_date"]
                && r[7] == expected["slice_value"]
                && close(
                    r[10].as_f64().unwrap(),
                    expected["metric_value"].as_f64().unwrap(),
                )
        });
        assert!(found, "{expected} not in {answer}");
    }
}
