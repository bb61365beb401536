//! Loading CSV files into a DuckDB database.
//!
//! Each file becomes a table named after its file name without the extension, made a valid
//! identifier (`2024 Sales-EU.csv` becomes `_2024_Sales_EU`). Column types are inferred as by
//! DuckDB's `read_csv_auto`. All files load in one transaction: if any fails, the database is
//! left exactly as it was, and a database file the load created is removed. An existing table is
//! never replaced or added to unless asked ([`Existing`]). An empty file (not even a header) is an error; a file with only a
//! header gives an empty table with its columns.

use std::path::{Path, PathBuf};

use ::duckdb::Connection;
use ::duckdb::progress::ProgressHandle;

use std::time::Duration;

use super::client::{open_file, settings};
use crate::config::AccessMode;
use crate::error::{Error, Result};
use crate::sql::Dialect;

const D: &super::dialect::DuckDbDialect = super::DIALECT;

/// How to load.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct LoadOptions {
    /// What to do with tables that already exist (default: refuse).
    pub existing: Existing,
    /// How long to wait while another process uses the database (default 5 s).
    pub lock_wait: Duration,
}

/// What a load does with a table that already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Existing {
    /// Refuse to load anything (checked before anything is loaded).
    #[default]
    Refuse,
    /// Replace the table.
    Replace,
    /// Add the file's rows to the table (its columns must fit).
    Append,
}

impl LoadOptions {
    /// The same options, doing this with tables that exist already.
    pub fn with_existing(mut self, existing: Existing) -> Self {
        self.existing = existing;
        self
    }

    /// The same options, waiting this long while another process uses the database.
    pub fn with_lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            existing: Existing::Refuse,
            lock_wait: crate::connect::DEFAULT_LOCK_WAIT,
        }
    }
}

/// Progress of a load, for a progress display.
#[non_exhaustive]
pub enum LoadEvent<'a> {
    /// A file starts loading.
    Started {
        /// The CSV file.
        file: &'a Path,
        /// The table it goes to.
        table: &'a str,
        /// The file's size.
        bytes: u64,
        /// DuckDB's estimate of the running load's progress; poll it from another thread.
        progress: ProgressHandle,
    },
    /// A file finished loading.
    Finished {
        /// The table.
        table: &'a str,
        /// Rows loaded.
        rows: u64,
    },
}

/// A table created by a load.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadedTable {
    /// The CSV file.
    pub file: PathBuf,
    /// The table name.
    pub table: String,
    /// Rows loaded.
    pub rows: u64,
}

/// Loads one CSV file, or every `*.csv` file of a directory, into the DuckDB database at
/// `db_path` (created if missing; `:memory:` for an in-memory database), and returns the open
/// connection, ready for [`ConnectionManager::add_duckdb_connection`].
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("events.csv"), "day,clicks\n2024-01-01,3\n2024-01-02,4\n").unwrap();
/// let db = dir.path().join("ads.duckdb");
/// let connection = aitaem::duckdb::load_csvs_to_duckdb(dir.path(), &db).unwrap();
/// let total: i64 = connection.query_row("SELECT SUM(clicks) FROM events", [], |r| r.get(0)).unwrap();
/// assert_eq!(total, 7);
/// ```
///
/// [`ConnectionManager::add_duckdb_connection`]: crate::ConnectionManager::add_duckdb_connection
pub fn load_csvs_to_duckdb(
    path: impl AsRef<Path>,
    db_path: impl AsRef<Path>,
) -> Result<Connection> {
    load_csvs(path, db_path, LoadOptions::default(), |_| {}).map(|(conn, _)| conn)
}

/// [`load_csvs_to_duckdb`] with options and progress events; also returns what was loaded.
pub fn load_csvs(
    path: impl AsRef<Path>,
    db_path: impl AsRef<Path>,
    options: LoadOptions,
    on_event: impl FnMut(LoadEvent),
) -> Result<(Connection, Vec<LoadedTable>)> {
    load_csv_files(&csv_files(path.as_ref())?, db_path, options, on_event)
}

/// Loads the given CSV files, each into the table named after it, like [`load_csvs`]. With no
/// files, the database is only opened (and created if missing).
pub fn load_csv_files(
    files: &[PathBuf],
    db_path: impl AsRef<Path>,
    options: LoadOptions,
    mut on_event: impl FnMut(LoadEvent),
) -> Result<(Connection, Vec<LoadedTable>)> {
    let db_path = db_path.as_ref();
    let tables = table_names(files)?;
    for file in files {
        check_not_empty(file)?;
    }
    let failed = |message: String| Error::Load {
        path: db_path.to_path_buf(),
        message,
    };
    let in_memory = db_path == Path::new(":memory:");
    let created = !in_memory && !db_path.exists();
    let conn = if in_memory {
        let config = settings(AccessMode::ReadWrite).map_err(|e| failed(e.to_string()))?;
        Connection::open_in_memory_with_flags(config)
            .map_err(|e| failed(format!("cannot open the database: {e}")))?
    } else {
        open_file(db_path, AccessMode::ReadWrite, options.lock_wait)
            .map_err(|e| failed(e.message().to_string()))?
    };
    if files.is_empty() {
        return Ok((conn, Vec::new()));
    }
    match load_into(&conn, files, &tables, options, &mut on_event) {
        Ok(loaded) => Ok((conn, loaded)),
        Err(err) => {
            drop(conn);
            if created {
                // Nothing of the failed load stays behind.
                let _ = std::fs::remove_file(db_path);
                let mut wal = db_path.as_os_str().to_owned();
                wal.push(".wal");
                let _ = std::fs::remove_file(wal);
            }
            Err(err)
        }
    }
}

/// Loads the files into their tables, in one transaction.
fn load_into(
    conn: &Connection,
    files: &[PathBuf],
    tables: &[String],
    options: LoadOptions,
    on_event: &mut impl FnMut(LoadEvent),
) -> Result<Vec<LoadedTable>> {
    let failed = |message: String| Error::Load {
        path: files[0].clone(),
        message,
    };
    let existing = existing_tables(conn).map_err(|e| failed(e.to_string()))?;
    if options.existing == Existing::Refuse {
        let clashes: Vec<String> = tables
            .iter()
            .filter(|t| existing.iter().any(|e| e.eq_ignore_ascii_case(t)))
            .map(|t| format!("`{t}`"))
            .collect();
        if !clashes.is_empty() {
            return Err(failed(format!(
                "table(s) {} already exist; nothing was loaded (use --replace to replace them)",
                clashes.join(", ")
            )));
        }
    }

    let _ = conn.set_query_progress_tracking(true);
    conn.execute_batch("BEGIN TRANSACTION")
        .map_err(|e| failed(e.to_string()))?;
    let mut loaded = Vec::new();
    for (file, table) in files.iter().zip(tables) {
        on_event(LoadEvent::Started {
            file,
            table,
            bytes: std::fs::metadata(file).map(|m| m.len()).unwrap_or(0),
            progress: conn.progress_handle(),
        });
        let append = options.existing == Existing::Append
            && existing.iter().any(|e| e.eq_ignore_ascii_case(table));
        match load_one(conn, file, table, append) {
            Ok(rows) => {
                on_event(LoadEvent::Finished { table, rows });
                loaded.push(LoadedTable {
                    file: file.clone(),
                    table: table.clone(),
                    rows,
                });
            }
            Err(message) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(Error::Load {
                    path: file.clone(),
                    message: format!("{message}; nothing was loaded"),
                });
            }
        }
    }
    conn.execute_batch("COMMIT")
        .map_err(|e| failed(e.to_string()))?;
    Ok(loaded)
}

/// How many lines a CSV file has, as far as loading cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lines {
    /// None but blanks: no columns to make a table of.
    None,
    /// One: the header alone.
    One,
    /// More.
    Many,
}

/// Reads only as far as the second line that is not blank.
fn lines(file: &Path) -> Result<Lines> {
    use std::io::BufRead;
    let io_error = |e| Error::Io {
        path: file.to_path_buf(),
        source: e,
    };
    let mut reader = std::io::BufReader::new(std::fs::File::open(file).map_err(io_error)?);
    let mut seen = 0;
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(io_error)? == 0 {
            return Ok(if seen == 0 { Lines::None } else { Lines::One });
        }
        if !line.iter().all(u8::is_ascii_whitespace) {
            seen += 1;
            if seen == 2 {
                return Ok(Lines::Many);
            }
        }
    }
}

/// A file with not even a header has no columns to make a table of.
fn check_not_empty(file: &Path) -> Result<()> {
    if lines(file)? == Lines::None {
        return Err(Error::Load {
            path: file.to_path_buf(),
            message: "the file is empty: a CSV file needs at least a header line naming its columns; nothing was loaded".into(),
        });
    }
    Ok(())
}

/// Loads one file into a new table (replacing one of the same name), or appends its rows to the
/// table. Returns the rows loaded.
fn load_one(
    conn: &Connection,
    file: &Path,
    table: &str,
    append: bool,
) -> std::result::Result<u64, String> {
    // A path DuckDB's SQL can name: the file's own, or, for a name that is not valid UTF-8, a
    // link to it with a name that is.
    let link;
    let readable = match file.to_str() {
        Some(_) => file.to_path_buf(),
        None => {
            link = utf8_link(file)?;
            link.path().join("data.csv")
        }
    };
    // A lone line is the header: the table is empty, with those columns (detection alone would
    // take it for a row of data).
    let header = match lines(file).map_err(|e| e.to_string())? {
        Lines::One => ", header = true",
        _ => "",
    };
    let read = format!(
        "SELECT * FROM read_csv_auto({}{header})",
        D.string(&readable.display().to_string())
    );
    let statement = if append {
        format!("INSERT INTO {} BY NAME {read}", D.quote(table))
    } else {
        format!("CREATE OR REPLACE TABLE {} AS {read}", D.quote(table))
    };
    conn.execute(&statement, [])
        .map(|rows| rows as u64)
        .map_err(|e| e.to_string())
}

/// A temporary directory holding `data.csv`, a link to `file`.
#[cfg(unix)]
fn utf8_link(file: &Path) -> std::result::Result<tempfile::TempDir, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let target = crate::config::paths::absolute(file);
    std::os::unix::fs::symlink(&target, dir.path().join("data.csv")).map_err(|e| e.to_string())?;
    Ok(dir)
}

#[cfg(not(unix))]
fn utf8_link(file: &Path) -> std::result::Result<tempfile::TempDir, String> {
    Err(format!(
        "the file name `{}` is not valid Unicode; rename the file",
        file.display()
    ))
}

fn existing_tables(conn: &Connection) -> std::result::Result<Vec<String>, ::duckdb::Error> {
    let mut stmt = conn.prepare(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' \
         UNION ALL SELECT view_name FROM duckdb_views() WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal",
    )?;
    let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
    rows.collect()
}

/// The CSV files to load: the file itself, or the `*.csv` files of a directory, sorted.
fn csv_files(path: &Path) -> Result<Vec<PathBuf>> {
    let failed = |message: String| Error::Load {
        path: path.to_path_buf(),
        message,
    };
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if !path.is_dir() {
        return Err(failed("no such file or directory".into()));
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|e| failed(e.to_string()))? {
        let file = entry.map_err(|e| failed(e.to_string()))?.path();
        let is_csv = file
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        if is_csv && file.is_file() {
            files.push(file);
        }
    }
    if files.is_empty() {
        return Err(failed("the directory has no .csv files".into()));
    }
    files.sort();
    Ok(files)
}

/// A file's table name: its stem, with every character other than a letter, digit or `_`
/// replaced by `_`, and `_` in front when it starts with a digit.
pub fn table_name(file: &Path) -> String {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name: String = stem
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_numeric()) {
        name.insert(0, '_');
    }
    name
}

/// Table names for the files; two files that would give the same table are an error.
fn table_names(files: &[PathBuf]) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let name = table_name(file);
        if let Some(j) = names.iter().position(|n| n.eq_ignore_ascii_case(&name)) {
            return Err(Error::Load {
                path: file.clone(),
                message: format!(
                    "`{}` and `{}` would both load into table `{name}`; rename one of them",
                    files[j].display(),
                    files[i].display()
                ),
            });
        }
        names.push(name);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_identifiers() {
        assert_eq!(
            table_name(Path::new("a/2024 Sales-EU.csv")),
            "_2024_Sales_EU"
        );
        assert_eq!(table_name(Path::new("events.csv")), "events");
        assert_eq!(table_name(Path::new("país.csv")), "país");
    }
}
