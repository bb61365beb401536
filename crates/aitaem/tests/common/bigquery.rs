//! A dataset of its own on the BigQuery emulator (`scripts/test.sh` starts one and sets
//! `AITAEM_TEST_BIGQUERY`), set up and inspected through the service's REST API with `curl`,
//! independently of aitaem.

use std::process::Command;

use serde_json::{Value, json};

/// The emulator's base URL and project, or `None` after saying that the test is skipped (a
/// failure under `CI=true`).
pub fn emulator(test: &str) -> Option<(String, String)> {
    let url = super::server("AITAEM_TEST_BIGQUERY", test, "BigQuery emulator")?;
    let project =
        std::env::var("AITAEM_TEST_BIGQUERY_PROJECT").unwrap_or_else(|_| "aitaem-test".into());
    Some((url, project))
}

/// A dataset for one test, deleted at the end.
pub struct Bq {
    pub endpoint: String,
    pub project: String,
    pub dataset: String,
}

fn request(method: &str, url: &str, body: Option<&Value>) -> Value {
    let mut command = Command::new("curl");
    command.args([
        "-s",
        "-X",
        method,
        url,
        "-H",
        "content-type: application/json",
    ]);
    if body.is_some() {
        command.args(["--data-binary", "@-"]);
    }
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("curl runs");
    if let Some(body) = body {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(body.to_string().as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        return Value::Null;
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}: {text}"))
}

impl Bq {
    /// A fresh dataset on the emulator, or `None` (skipped) without one.
    pub fn new(test: &str) -> Option<Bq> {
        let (endpoint, project) = emulator(test)?;
        Some(Bq::create(test, endpoint, project))
    }

    /// A fresh dataset in another project of the emulator.
    pub fn in_project(test: &str, project: &str) -> Option<Bq> {
        let (endpoint, _) = emulator(test)?;
        Some(Bq::create(test, endpoint, project.to_string()))
    }

    fn create(test: &str, endpoint: String, project: String) -> Bq {
        let dataset = super::unique_name(test);
        let bq = Bq {
            endpoint,
            project,
            dataset,
        };
        let created = request(
            "POST",
            &format!("{}/datasets", bq.base()),
            Some(&json!({"datasetReference": {"projectId": bq.project, "datasetId": bq.dataset}})),
        );
        assert!(created.get("error").is_none(), "{created}");
        bq
    }

    fn base(&self) -> String {
        format!("{}/bigquery/v2/projects/{}", self.endpoint, self.project)
    }

    /// Runs GoogleSQL (tables named with their dataset: the emulator has no default dataset);
    /// returns the rows as text (NULL: None). Panics on an error.
    pub fn sql(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        run(&self.endpoint, &self.project, sql)
    }

    /// One value, as text.
    pub fn scalar(&self, sql: &str) -> Option<String> {
        self.sql(sql)[0][0].clone()
    }

    /// A `bigquery:` block of connections.yaml for the emulator, with extra settings.
    pub fn connections_yaml(&self, extra: &str) -> String {
        format!(
            "bigquery:\n  project_id: {}\n  endpoint: {}\n{extra}",
            self.project, self.endpoint
        )
    }
}

/// The SQL of every query job the emulator has run in `project`.
pub fn job_queries(endpoint: &str, project: &str) -> Vec<String> {
    let answer = request(
        "GET",
        &format!("{endpoint}/bigquery/v2/projects/{project}/jobs?maxResults=1000000"),
        None,
    );
    answer["jobs"]
        .as_array()
        .map(|jobs| {
            jobs.iter()
                .filter_map(|job| job["configuration"]["query"]["query"].as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Runs GoogleSQL in `project` of the emulator at `endpoint` (see [`Bq::sql`]).
pub fn run(endpoint: &str, project: &str, sql: &str) -> Vec<Vec<Option<String>>> {
    let answer = request(
        "POST",
        &format!("{endpoint}/bigquery/v2/projects/{project}/queries"),
        Some(&json!({
            "query": sql,
            "useLegacySql": false,
            "maxResults": 100000,
        })),
    );
    let failed = answer.get("error").or_else(|| answer.get("errors"));
    assert!(
        failed.is_none_or(|e| e.as_array().is_some_and(|a| a.is_empty())),
        "{sql}: {answer}"
    );
    answer
        .get("rows")
        .and_then(Value::as_array)
        .map(|rows| {
            rows.iter()
                .map(|row| {
                    row["f"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|cell| cell["v"].as_str().map(str::to_string))
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Drop for Bq {
    fn drop(&mut self) {
        let _ = Command::new("curl")
            .args(["-s", "-X", "DELETE"])
            .arg(format!(
                "{}/datasets/{}?deleteContents=true",
                self.base(),
                self.dataset
            ))
            .output();
    }
}
