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
