//! A schema of its own on the test Spark Connect server (`scripts/test.sh` starts one and sets
//! `AITAEM_TEST_SPARK`), set up and inspected with PySpark's own client (`spark_sql.py`, run by
//! the Python in `AITAEM_TEST_SPARK_PYTHON`), independently of aitaem.

use std::io::Write;
use std::process::{Command, Stdio};

/// The server's URL (`sc://127.0.0.1:PORT`), or `None` after saying that the test is skipped (a
/// failure under `CI=true`).
pub fn url(test: &str) -> Option<String> {
    super::server("AITAEM_TEST_SPARK", test, "Spark Connect server")
}

/// A schema for one test, dropped at the end.
pub struct Spark {
    pub url: String,
    pub schema: String,
}

impl Spark {
    /// A fresh schema on the test server, or `None` (skipped) without one.
    pub fn new(test: &str) -> Option<Spark> {
        let url = url(test)?;
        let schema = super::unique_name(test);
        let spark = Spark { url, schema };
        spark.sql(&[&format!("CREATE SCHEMA IF NOT EXISTS {}", spark.schema)]);
        Some(spark)
    }

    /// Runs statements (tables named with their schema); returns each one's rows as text
    /// (NULL: None). Panics on an error.
    pub fn sql(&self, statements: &[&str]) -> Vec<Vec<Vec<Option<String>>>> {
        let mut child = self
            .client()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spark_sql.py runs: {e}"));
        let input = statements.join("\n;\n");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "spark_sql.py failed: {}\n{input}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// PySpark's client on the server (`spark_sql.py`, run by the Python in
    /// `AITAEM_TEST_SPARK_PYTHON`).
    fn client(&self) -> Command {
        let python = std::env::var("AITAEM_TEST_SPARK_PYTHON").unwrap_or_else(|_| "python3".into());
        let mut command = Command::new(python);
        command.args([
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/common/spark_sql.py"),
            &self.url,
        ]);
        command
    }

    /// One value, as text.
    pub fn scalar(&self, sql: &str) -> Option<String> {
        self.sql(&[sql])[0][0][0].clone()
    }

    /// A `spark:` block of connections.yaml for the server, with extra settings.
    pub fn connections_yaml(&self, extra: &str) -> String {
        format!("spark:\n  url: {}\n{extra}", self.url)
    }
}

impl Drop for Spark {
    fn drop(&mut self) {
        if let Ok(mut child) = self
            .client()
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            let drop = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
            let _ = child.stdin.take().unwrap().write_all(drop.as_bytes());
            let _ = child.wait();
        }
    }
}
