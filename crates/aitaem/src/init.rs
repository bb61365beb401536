//! A ready-to-run project from CSV files: the data in a DuckDB file, `connections.yaml`, and
//! starter specs inferred from the columns.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ::duckdb::Connection;

use crate::backend::duckdb::DIALECT as D;
use crate::backend::duckdb::load::{LoadEvent, LoadOptions, LoadedTable, load_csv_files};
use crate::error::{Error, Result};
use crate::project::Project;
use crate::sql::{Dialect, is_valid_name};

/// The database file of a new project.
pub const DATABASE: &str = "data.duckdb";

/// Wildcard slices are made for text columns with at most this many distinct values.
const MAX_SLICE_VALUES: u64 = 50;

/// What [`init_project`] made.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InitSummary {
    /// The project directory.
    pub dir: PathBuf,
    /// The tables loaded into the project's database.
    pub tables: Vec<LoadedTable>,
    /// The metric specs written, by name.
    pub metrics: Vec<String>,
    /// The slice specs written, by name.
    pub slices: Vec<String>,
    /// The first time column found: `(table, column, first day, day after the last)`.
    pub time: Option<(String, String, String, String)>,
}

/// One column of a loaded table, as DuckDB's `SUMMARIZE` describes it.
struct ColumnInfo {
    name: String,
    data_type: String,
    distinct: u64,
}

impl ColumnInfo {
    fn is_numeric(&self) -> bool {
        let t = self.data_type.to_ascii_uppercase();
        [
            "TINYINT",
            "SMALLINT",
            "INTEGER",
            "BIGINT",
            "HUGEINT",
            "UTINYINT",
            "USMALLINT",
            "UINTEGER",
            "UBIGINT",
            "FLOAT",
            "DOUBLE",
            "REAL",
            "DECIMAL",
        ]
        .iter()
        .any(|n| t.starts_with(n))
    }

    fn is_time(&self) -> bool {
        let t = self.data_type.to_ascii_uppercase();
        t == "DATE" || t.starts_with("TIMESTAMP")
    }

    fn is_label(&self) -> bool {
        let t = self.data_type.to_ascii_uppercase();
        t == "VARCHAR" || t == "BOOLEAN"
    }

    /// `id`, `user_id`, `userId`: an identifier, counted distinct rather than summed.
    fn is_id(&self) -> bool {
        let lower = self.name.to_ascii_lowercase();
        lower == "id" || lower.ends_with("_id") || self.name.ends_with("Id")
    }
}

/// Creates a project in `dir` (created if missing) from CSV files: their data in
/// `data.duckdb` (a table per file, named after it), `connections.yaml`, and starter specs:
/// per table a row count, the sum and average of every numeric column, a distinct count of every
/// identifier column (`id`, `*_id`), the first date or timestamp column as `timestamp_col`, and
/// a wildcard slice for every text column with 2 to 50 distinct values. Refuses a directory
/// that already has a project (specs, connections or the database).
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// let csv = dir.path().join("sales.csv");
/// std::fs::write(&csv, "day,region,amount,order_id\n2024-01-01,north,3.5,1\n2024-01-02,south,4,2\n").unwrap();
/// let project = dir.path().join("shop");
/// let made = aitaem::duckdb::init_project(&project, &[csv], |_| {}).unwrap();
/// assert_eq!(made.metrics, ["sales_rows", "amount_total", "amount_avg", "unique_order_id"]);
/// assert_eq!(made.slices, ["region"]);
/// assert!(aitaem::duckdb::init_project(&project, &[], |_| {}).is_err(), "a project is not overwritten");
/// ```
pub fn init_project(
    dir: &Path,
    csvs: &[PathBuf],
    on_event: impl FnMut(LoadEvent),
) -> Result<InitSummary> {
    let refuse = |what: &str| Error::Load {
        path: dir.to_path_buf(),
        message: format!(
            "refusing to create a project here: it already has {what}; choose a new directory"
        ),
    };
    for (entry, what) in [
        ("connections.yaml", "a connections.yaml"),
        ("metrics", "a metrics/ directory"),
        ("slices", "a slices/ directory"),
        ("segments", "a segments/ directory"),
        (DATABASE, DATABASE),
    ] {
        if dir.join(entry).exists() {
            return Err(refuse(what));
        }
    }
    if csvs.is_empty() {
        return Err(Error::Load {
            path: dir.to_path_buf(),
            message: "no CSV files given; name at least one with --from-csv".into(),
        });
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let db = dir.join(DATABASE);
    let (conn, tables) = match load_csv_files(csvs, &db, LoadOptions::default(), on_event) {
        Ok(loaded) => loaded,
        Err(err) => {
            let _ = std::fs::remove_file(&db);
            return Err(err);
        }
    };

    let prefixed = tables.len() > 1;
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    let mut metrics = Vec::new();
    let mut slices: Vec<String> = Vec::new();
    let mut time = None;
    for table in &tables {
        let columns = summarize(&conn, &table.table, &db)?;
        let stem = name(&table.table);
        let source = format!("duckdb://{DATABASE}/{}", table.table);
        let timestamp = columns.iter().find(|c| c.is_time());
        if let (None, Some(ts)) = (&time, timestamp) {
            time = time_range(&conn, &table.table, &ts.name, &db)?
                .map(|(from, to)| (table.table.clone(), ts.name.clone(), from, to));
        }
        let ids: Vec<&ColumnInfo> = columns.iter().filter(|c| c.is_id()).collect();
        let mut metric = |metric: String, description: String, numerator: String| {
            let mut yaml = format!(
                "metric:\n  name: {metric}\n  description: {}\n  source: {}\n  numerator: {}\n  format: absolute\n",
                quoted(&description),
                quoted(&source),
                quoted(&numerator)
            );
            if let Some(ts) = timestamp {
                writeln!(yaml, "  timestamp_col: {}", quoted(&ts.name)).expect("a string");
            }
            if !ids.is_empty() {
                let names: Vec<String> = ids.iter().map(|c| quoted(&c.name)).collect();
                writeln!(yaml, "  entities: [{}]", names.join(", ")).expect("a string");
            }
            files.push((dir.join("metrics").join(format!("{metric}.yaml")), yaml));
            metrics.push(metric);
        };
        metric(
            format!("{stem}_rows"),
            format!("Number of rows of {}", table.table),
            "COUNT(*)".into(),
        );
        let prefix = |column: &str| match prefixed {
            true => format!("{stem}_{}", name(column)),
            false => name(column),
        };
        for column in &columns {
            let sql = sql_name(&column.name);
            if column.is_numeric() && !column.is_id() {
                metric(
                    format!("{}_total", prefix(&column.name)),
                    format!("Sum of {}", column.name),
                    format!("SUM({sql})"),
                );
                metric(
                    format!("{}_avg", prefix(&column.name)),
                    format!("Average of {}", column.name),
                    format!("AVG({sql})"),
                );
            } else if column.is_id() {
                metric(
                    format!("unique_{}", prefix(&column.name)),
                    format!("Distinct values of {}", column.name),
                    format!("COUNT(DISTINCT {sql})"),
                );
            }
        }
        for column in columns
            .iter()
            .filter(|c| c.is_label() && !c.is_id() && (2..=MAX_SLICE_VALUES).contains(&c.distinct))
        {
            let slice = name(&column.name);
            if slices.contains(&slice) {
                continue;
            }
            files.push((
                dir.join("slices").join(format!("{slice}.yaml")),
                format!(
                    "slice:\n  name: {slice}\n  description: {}\n  where: {}\n",
                    quoted(&format!("One row per value of {}", column.name)),
                    quoted(&sql_name(&column.name))
                ),
            ));
            slices.push(slice);
        }
    }
    files.push((
        dir.join("connections.yaml"),
        format!("duckdb:\n  path: {DATABASE}\n"),
    ));
    drop(conn);
    for (path, text) in &files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(path, text).map_err(io(path))?;
    }
    // What was written must load.
    Project::open(dir).specs()?;
    Ok(InitSummary {
        dir: dir.to_path_buf(),
        tables,
        metrics,
        slices,
        time,
    })
}

fn query_error(db: &Path, e: ::duckdb::Error) -> Error {
    Error::Load {
        path: db.to_path_buf(),
        message: e.to_string(),
    }
}

/// The columns of a table with their types and estimated distinct counts.
fn summarize(conn: &Connection, table: &str, db: &Path) -> Result<Vec<ColumnInfo>> {
    let sql = format!(
        "SELECT column_name, column_type, approx_unique FROM (SUMMARIZE {})",
        D.quote(table)
    );
    let mut statement = conn.prepare(&sql).map_err(|e| query_error(db, e))?;
    let rows = statement
        .query_map([], |r| {
            Ok(ColumnInfo {
                name: r.get(0)?,
                data_type: r.get(1)?,
                distinct: r.get::<_, Option<i64>>(2)?.unwrap_or(0).max(0) as u64,
            })
        })
        .map_err(|e| query_error(db, e))?;
    rows.collect::<std::result::Result<_, _>>()
        .map_err(|e| query_error(db, e))
}

/// The first day and the day after the last of a time column, as `YYYY-MM-DD`.
fn time_range(
    conn: &Connection,
    table: &str,
    column: &str,
    db: &Path,
) -> Result<Option<(String, String)>> {
    let d = D;
    let sql = format!(
        "SELECT strftime(MIN(CAST({c} AS DATE)), '%Y-%m-%d'), strftime(MAX(CAST({c} AS DATE)) + 1, '%Y-%m-%d') FROM {t}",
        c = d.quote(column),
        t = d.quote(table)
    );
    let range: (Option<String>, Option<String>) = conn
        .query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(|e| query_error(db, e))?;
    Ok(range.0.zip(range.1))
}

/// A spec name from a column or table name: lower case, `_` for anything else than letters
/// and digits, starting with a letter.
fn name(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_string();
    if out.starts_with(|c: char| c.is_ascii_alphabetic()) && is_valid_name(&out) {
        out
    } else {
        format!("c_{out}")
    }
}

/// A column as a spec's SQL names it: bare when it can be, quoted otherwise.
fn sql_name(column: &str) -> String {
    let keyword = sqlparser::keywords::ALL_KEYWORDS
        .binary_search(&column.to_ascii_uppercase().as_str())
        .is_ok();
    let bare = !keyword
        && column.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && column
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if bare {
        column.to_string()
    } else {
        D.quote(column)
    }
}

/// A YAML double-quoted string (JSON's string syntax is valid YAML).
fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_spec_names() {
        assert_eq!(name("Order Total ($)"), "order_total");
        assert_eq!(name("2024 sales"), "c_2024_sales");
        assert_eq!(sql_name("amount"), "amount");
        assert_eq!(sql_name("Order Total"), "\"Order Total\"");
        assert_eq!(sql_name("order"), "\"order\"");
        assert_eq!(quoted("say \"hi\""), r#""say \"hi\"""#);
    }
}
