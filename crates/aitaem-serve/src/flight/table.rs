//! A query run over a compute's result: the result is the table `metrics` of an in-memory
//! DuckDB that can read nothing else (no files, no extensions, no settings changed).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aitaem::Cancel;
use aitaem::arrow::datatypes::{DataType, SchemaRef};
use aitaem::arrow::record_batch::RecordBatch;
use duckdb::{Config, Connection};

use super::query::TABLE;
use crate::error::ApiError;

/// What the query answers over these rows of the standard result (none: its schema only).
/// Interrupted when `cancel` is.
pub(crate) fn run(
    sql: &str,
    rows: &[RecordBatch],
    cancel: &Cancel,
) -> Result<(SchemaRef, Vec<RecordBatch>), ApiError> {
    let conn = table(rows).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            format!("cannot hold the result for the query: {e}"),
        )
    })?;
    let interrupt = conn.interrupt_handle();
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        // Interrupts until the query ends: one that starts after an interrupt clears it.
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                if cancel.is_cancelled() {
                    interrupt.interrupt();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let answer = query(&conn, sql);
        done.store(true, Ordering::Relaxed);
        answer
    })
    .map_err(|e| ApiError::bad_request(format!("the query failed over the result: {e}")))
}

fn query(conn: &Connection, sql: &str) -> duckdb::Result<(SchemaRef, Vec<RecordBatch>)> {
    let mut statement = conn.prepare(sql)?;
    let arrow = statement.query_arrow([])?;
    let schema = arrow.get_schema();
    Ok((schema, arrow.collect()))
}

/// The table's columns: the standard result's, with the period dates as timestamps (so that
/// `period_start_date <= '2024-05-01'` compares instants, not text).
fn columns() -> Vec<(String, &'static str)> {
    aitaem::result::schema()
        .fields()
        .iter()
        .map(|f| {
            let ty = match (f.name().as_str(), f.data_type()) {
                ("period_start_date" | "period_end_date", _) => "TIMESTAMP",
                (_, DataType::Float64) => "DOUBLE",
                _ => "VARCHAR",
            };
            (f.name().clone(), ty)
        })
        .collect()
}

/// The table as clients see it, for catalog calls.
pub(crate) fn schema() -> Result<SchemaRef, ApiError> {
    Ok(run(&format!("SELECT * FROM {TABLE}"), &[], &Cancel::new())?.0)
}

/// An in-memory DuckDB holding `rows` as the table `metrics`.
fn table(rows: &[RecordBatch]) -> duckdb::Result<Connection> {
    let config = Config::default()
        .enable_external_access(false)?
        .enable_autoload_extension(false)?
        .threads(1)?
        .max_memory("1GB")?;
    let conn = Connection::open_in_memory_with_flags(config)?;
    let columns = columns();
    let text: Vec<String> = columns
        .iter()
        .map(|(name, ty)| {
            let ty = if *ty == "TIMESTAMP" { "VARCHAR" } else { ty };
            format!("{name} {ty}")
        })
        .collect();
    conn.execute_batch(&format!("CREATE TEMP TABLE result ({})", text.join(", ")))?;
    let mut appender = conn.appender("result")?;
    for batch in rows {
        appender.append_record_batch(batch.clone())?;
    }
    appender.flush()?;
    drop(appender);
    let typed: Vec<String> = columns
        .iter()
        .map(|(name, ty)| format!("CAST({name} AS {ty}) AS {name}"))
        .collect();
    conn.execute_batch(&format!(
        "CREATE TABLE {TABLE} AS SELECT {} FROM result; DROP TABLE result; \
         SET lock_configuration = true;",
        typed.join(", ")
    ))?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use aitaem::arrow::array::{ArrayRef, cast::AsArray};
    use aitaem::arrow::array::{Float64Array, StringArray};

    use super::*;

    /// Three rows of the standard result: monthly revenue for two devices and ctr overall.
    fn rows() -> Vec<RecordBatch> {
        let text = |v: [Option<&str>; 3]| Arc::new(StringArray::from(v.to_vec())) as ArrayRef;
        let columns = vec![
            text([Some("monthly"), Some("monthly"), Some("all_time")]),
            text([
                Some("2024-05-01 00:00:00"),
                Some("2024-04-01 00:00:00"),
                None,
            ]),
            text([
                Some("2024-06-01 00:00:00"),
                Some("2024-05-01 00:00:00"),
                None,
            ]),
            text([None; 3]),
            text([Some("revenue"), Some("revenue"), Some("ctr")]),
            text([None; 3]),
            text([Some("device"), Some("device"), Some("none")]),
            text([Some("mobile"), Some("desktop"), Some("all")]),
            text([Some("none"); 3]),
            text([Some("all"); 3]),
            Arc::new(Float64Array::from(vec![Some(10.0), Some(32.0), None])) as ArrayRef,
        ];
        vec![RecordBatch::try_new(aitaem::result::schema(), columns).unwrap()]
    }

    #[test]
    fn the_query_runs_over_the_rows() {
        let (schema, batches) = run(
            "SELECT slice_value, metric_value * 2 AS twice FROM metrics \
             WHERE slice_type = 'device' ORDER BY metric_value DESC",
            &rows(),
            &Cancel::new(),
        )
        .unwrap();
        assert_eq!(schema.field(0).name(), "slice_value");
        assert_eq!(schema.field(1).name(), "twice");
        let batch = aitaem::arrow::compute::concat_batches(&schema, &batches).unwrap();
        let values = batch
            .column(1)
            .as_primitive::<aitaem::arrow::datatypes::Float64Type>();
        assert_eq!(values.values().to_vec(), vec![64.0, 20.0]);
        assert_eq!(batch.column(0).as_string::<i32>().value(0), "desktop");
    }

    #[test]
    fn period_dates_compare_as_instants() {
        let (schema, batches) = run(
            "SELECT slice_value FROM metrics WHERE period_start_date <= '2024-05-01' \
             AND period_end_date > DATE '2024-05-01'",
            &rows(),
            &Cancel::new(),
        )
        .unwrap();
        let batch = aitaem::arrow::compute::concat_batches(&schema, &batches).unwrap();
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(batch.column(0).as_string::<i32>().value(0), "mobile");
        let table = super::schema().unwrap();
        assert_eq!(table.fields().len(), 11);
        assert!(matches!(
            table
                .field_with_name("period_start_date")
                .unwrap()
                .data_type(),
            DataType::Timestamp(_, None)
        ));
    }

    #[test]
    fn an_empty_table_gives_the_schema() {
        let (schema, batches) = run(
            "SELECT metric_name, SUM(metric_value) AS s FROM metrics GROUP BY 1",
            &[],
            &Cancel::new(),
        )
        .unwrap();
        assert_eq!(schema.fields().len(), 2);
        assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 0);
    }

    #[test]
    fn nothing_else_can_be_read_or_changed() {
        for sql in [
            "SELECT * FROM read_csv('/etc/passwd')",
            "SELECT * FROM metrics, read_text('/etc/hostname')",
            "SET enable_external_access = true",
            "COPY metrics TO '/tmp/aitaem-flight-escape.csv'",
            "ATTACH '/tmp/aitaem-flight-escape.duckdb'",
            "INSTALL httpfs",
        ] {
            let err = run(sql, &rows(), &Cancel::new()).unwrap_err();
            assert_eq!(err.kind, "BadRequest", "{sql}");
        }
        assert!(!std::path::Path::new("/tmp/aitaem-flight-escape.csv").exists());
    }

    #[test]
    fn a_cancelled_query_stops() {
        let cancel = Cancel::new();
        cancel.cancel();
        let err = run(
            "SELECT count(*) FROM range(100000000000) a, metrics",
            &rows(),
            &cancel,
        )
        .unwrap_err();
        assert!(
            err.message.contains("INTERRUPT") || err.message.contains("nterrupt"),
            "{}",
            err.message
        );
    }
}
