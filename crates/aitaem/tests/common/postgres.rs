//! A schema of its own on the test PostgreSQL server (`scripts/test.sh` starts one and sets
//! `AITAEM_TEST_POSTGRES`), set up and inspected with `psql`, independently of aitaem.

use std::io::Write;
use std::process::{Command, Stdio};

/// The server's URL, or `None` after saying that the test is skipped (a failure under
/// `CI=true`).
pub fn url(test: &str) -> Option<String> {
    super::server("AITAEM_TEST_POSTGRES", test, "PostgreSQL server")
}

/// A schema for one test, dropped at the end.
pub struct Pg {
    pub url: String,
    pub schema: String,
}

impl Pg {
    /// A fresh schema on the test server, or `None` (skipped) without one.
    pub fn new(test: &str) -> Option<Pg> {
        let url = url(test)?;
        let schema = super::unique_name(test);
        let pg = Pg { url, schema };
        pg.psql(&format!(
            "DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0};",
            pg.schema
        ));
        Some(pg)
    }

    /// Runs SQL with the schema first on the search path; panics on an error.
    pub fn sql(&self, sql: &str) -> String {
        self.psql(&format!(
            "SET search_path TO {}, public;\n{sql}",
            self.schema
        ))
    }

    /// One value, as text.
    pub fn scalar(&self, sql: &str) -> String {
        self.sql(sql).trim().to_string()
    }

    fn psql(&self, sql: &str) -> String {
        let mut child = Command::new("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", &self.url])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("psql runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(sql.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "psql failed: {}\n{sql}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A `postgres:` block of connections.yaml for the server, with extra settings.
    pub fn connections_yaml(&self, extra: &str) -> String {
        format!("postgres:\n  url: {}\n{extra}", self.url)
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-X", "-q", &self.url, "-c"])
            .arg(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
            .output();
    }
}

/// A database of its own on the test server (for scripts that name their schema), dropped at
/// the end.
pub struct Database {
    pub url: String,
    server: String,
    name: String,
}

impl Database {
    /// A fresh database, or `None` (skipped) without a server.
    pub fn new(test: &str) -> Option<Database> {
        let server = url(test)?;
        let name = super::unique_name("db");
        run(&server, &format!("CREATE DATABASE {name}"));
        let (base, _) = server.rsplit_once('/').expect("the URL names a database");
        Some(Database {
            url: format!("{base}/{name}"),
            server,
            name,
        })
    }

    /// Runs a psql script file from a working directory.
    pub fn script(&self, file: &std::path::Path, cwd: &std::path::Path) {
        let out = Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &self.url, "-f"])
            .arg(file)
            .current_dir(cwd)
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-X", "-q", &self.server, "-c"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .output();
    }
}

fn run(url: &str, sql: &str) {
    let out = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
