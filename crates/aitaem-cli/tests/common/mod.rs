//! What the CLI's test files share: the binary, the example project, and an independent oracle.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The binary, as a command.
pub fn aitaem() -> Command {
    Command::cargo_bin("aitaem").unwrap()
}

/// The example project.
pub fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ads")
}

/// One number from a hand-written query over the example's CSV files (`EVENTS` names the
/// events file).
pub fn oracle(sql: &str) -> f64 {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let data = example().join("data");
    let sql = sql.replace(
        "EVENTS",
        &format!("read_csv_auto('{}/events.csv')", data.display()),
    );
    conn.query_row(&sql, [], |r| r.get(0)).unwrap()
}

/// A successful command's standard output.
pub fn stdout(cmd: &mut Command) -> String {
    let out = cmd.assert().success().get_output().stdout.clone();
    String::from_utf8(out).unwrap()
}

/// The test PostgreSQL server's URL (`AITAEM_TEST_POSTGRES`); `None`, saying the test was
/// skipped, without one, and a failure under `CI=true`.
pub fn postgres(test: &str) -> Option<String> {
    match std::env::var("AITAEM_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{test}: AITAEM_TEST_POSTGRES is not set; run the tests with scripts/test.sh")
        }
        _ => {
            eprintln!("skipped {test}: no PostgreSQL server (scripts/test.sh starts one)");
            None
        }
    }
}

/// Runs `psql` on `url` from the repository's root.
pub fn psql(url: &str, args: &[&str]) {
    let out = std::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", url])
        .args(args)
        .current_dir(example().join("../.."))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Copies a directory tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
