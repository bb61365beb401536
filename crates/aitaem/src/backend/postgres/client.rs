//! The PostgreSQL client: `tokio-postgres` on the shared runtime, TLS by rustls (`tls`), and
//! results read from the binary COPY protocol straight into Arrow (`copy`).
//!
//! Every session is read-only (`default_transaction_read_only`), and every statement runs in a
//! `READ ONLY` transaction that is rolled back. Sessions use the `TimeZone` of the settings
//! (UTC by default), so `timestamptz` columns are truncated to periods in that zone.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use tokio_postgres::error::ErrorPosition;
use tokio_postgres::{CancelToken, Client, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::copy::CopyReader;
use super::dialect::PostgresDialect as D;
use super::tls;
use super::{PostgresConfig, SslMode};
use crate::backend::runtime::{block_on, spawn};
use crate::backend::{Backend, BackendKind};
use crate::cancel::Cancel;
use crate::catalog::{Column, Table};
use crate::config::paths::PathResolver;
use crate::error::{BackendError, BackendErrorKind, Error, Result, close_names};
use crate::source::{Source, SourceUri};
use crate::sql::Dialect;

/// Idle connections kept for the next statement.
const IDLE_CONNECTIONS: usize = 4;

/// A PostgreSQL server and a few open sessions to it.
pub(crate) struct Postgres {
    config: tokio_postgres::Config,
    tls: Option<MakeRustlsConnect>,
    /// Where the server is, for messages: `host:port`, database and user (never the password).
    server: String,
    idle: Mutex<Vec<Client>>,
    /// How to stop each statement running now, by a number of its own.
    running: Mutex<Vec<(u64, CancelToken)>>,
    next: AtomicU64,
}

impl Postgres {
    /// Connects to the server (the first session is kept for the first statement).
    pub(crate) fn open(settings: &PostgresConfig, paths: &PathResolver) -> Result<Postgres> {
        let tls = tls::connector(settings, paths)?;
        let mut config = tokio_postgres::Config::new();
        if settings.host.starts_with('/') {
            config.host_path(&settings.host);
        } else {
            config.host(&settings.host);
        }
        config
            .port(settings.port)
            .dbname(&settings.database)
            .user(&settings.user)
            .application_name(&settings.application_name)
            .connect_timeout(settings.connect_timeout)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .keepalives_interval(Duration::from_secs(10))
            .keepalives_retries(3)
            .ssl_mode(match settings.sslmode {
                SslMode::Disable => tokio_postgres::config::SslMode::Disable,
                SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
                _ => tokio_postgres::config::SslMode::Require,
            });
        if !settings.password.is_empty() {
            config.password(&settings.password);
        }
        // One statement per table is long: LLVM's inlining and optimization of it take about a
        // second, which is most of a compute on a few million rows; JIT compilation stays on.
        let mut options = format!(
            "-c default_transaction_read_only=on -c TimeZone={} \
             -c jit_inline_above_cost=-1 -c jit_optimize_above_cost=-1",
            settings.timezone.replace('\\', "\\\\").replace(' ', "\\ ")
        );
        if let Some(limit) = settings.statement_timeout {
            options.push_str(&format!(" -c statement_timeout={}", limit.as_millis()));
        }
        config.options(options);
        let backend = Postgres {
            config,
            tls,
            server: format!(
                "PostgreSQL at {}:{} (database `{}`, user `{}`)",
                settings.host, settings.port, settings.database, settings.user
            ),
            idle: Mutex::new(Vec::new()),
            running: Mutex::new(Vec::new()),
            next: AtomicU64::new(0),
        };
        let client = block_on(backend.connect())
            .and_then(|c| c)
            .map_err(|e| backend.connection_error(e))?;
        backend.release(client);
        Ok(backend)
    }

    fn connection_error(&self, error: BackendError) -> Error {
        let message = format!("cannot connect to {}: {}", self.server, error.message());
        Error::connection(BackendKind::POSTGRES, error.reworded(message))
    }

    /// A new session.
    async fn connect(&self) -> std::result::Result<Client, BackendError> {
        let client = match &self.tls {
            None => {
                let (client, connection) =
                    self.config.connect(NoTls).await.map_err(backend_error)?;
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                client
            }
            Some(tls) => {
                let (client, connection) = self
                    .config
                    .connect(tls.clone())
                    .await
                    .map_err(backend_error)?;
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                client
            }
        };
        Ok(client)
    }

    /// An idle session, or a new one.
    async fn session(&self) -> std::result::Result<Client, BackendError> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match idle {
                Some(client) if !client.is_closed() => return Ok(client),
                Some(_) => continue,
                None => return self.connect().await,
            }
        }
    }

    fn release(&self, client: Client) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if !client.is_closed() && idle.len() < IDLE_CONNECTIONS {
            idle.push(client);
        }
    }

    /// Runs `work` on a session, and keeps the session for the next call.
    fn with_session<T: Send>(
        &self,
        work: impl for<'c> FnOnce(&'c Client) -> BoxFuture<'c, std::result::Result<T, BackendError>>
        + Send,
    ) -> std::result::Result<T, BackendError> {
        block_on(async {
            let client = self.session().await?;
            let id = self.next.fetch_add(1, Ordering::Relaxed);
            self.running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((id, client.cancel_token()));
            let result = work(&client).await;
            self.running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|(running, _)| *running != id);
            self.release(client);
            result
        })?
    }

    /// [`Postgres::with_session`] for calls that report a connection error.
    fn catalog<T: Send>(
        &self,
        work: impl for<'c> FnOnce(&'c Client) -> BoxFuture<'c, std::result::Result<T, BackendError>>
        + Send,
    ) -> Result<T> {
        self.with_session(work)
            .map_err(|e| Error::connection(BackendKind::POSTGRES, e))
    }

    /// The quoted relation of a source, and its schema and table as written.
    fn relation(source: &SourceUri) -> Result<(String, Option<String>, String)> {
        let Source::Table(name) = source.source() else {
            return Err(Error::internal(format!(
                "`{source}` is not a PostgreSQL table"
            )));
        };
        let relation = match name.schema() {
            Some(schema) => format!("{}.{}", D.quote(schema), D.quote(name.name())),
            None => D.quote(name.name()),
        };
        Ok((
            relation,
            name.schema().map(str::to_string),
            name.name().to_string(),
        ))
    }

    /// The error for a table that does not exist, with the closest existing names.
    fn missing_table(&self, source: &SourceUri, schema: Option<&str>, table: &str) -> Error {
        let wanted = match schema {
            Some(s) => format!("{s}.{table}"),
            None => table.to_string(),
        };
        let schema = schema.map(str::to_string);
        let known = self
            .catalog(move |client| {
                Box::pin(async move {
                    let rows = match &schema {
                        Some(schema) => {
                            client
                                .query(
                                    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
                                    &[schema],
                                )
                                .await
                        }
                        None => {
                            client
                                .query(
                                    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = ANY (current_schemas(false)) ORDER BY 1",
                                    &[],
                                )
                                .await
                        }
                    }
                    .map_err(backend_error)?;
                    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>())
                })
            })
            .unwrap_or_default();
        let hint = match close_names(table, known.iter().map(String::as_str)).first() {
            Some(best) => format!("; did you mean `{best}`?"),
            None if known.is_empty() => " (and no table in that schema)".into(),
            None => String::new(),
        };
        Error::TableNotFound {
            source_uri: source.to_string(),
            message: format!("no table or view `{wanted}` in {}{hint}", self.server),
        }
    }
}

/// Asks the server, on a connection of its own, to stop the statement running on a session
/// (nothing happens when it has ended).
async fn cancel_query(token: CancelToken, tls: Option<MakeRustlsConnect>) {
    let _ = match tls {
        Some(tls) => token.cancel_query(tls).await,
        None => token.cancel_query(NoTls).await,
    };
}

impl Backend for Postgres {
    fn interrupt(&self) {
        let tokens: Vec<CancelToken> = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(_, token)| token.clone())
            .collect();
        let tls = self.tls.clone();
        let _ = block_on(async move {
            for token in tokens {
                cancel_query(token, tls.clone()).await;
            }
        });
    }

    fn table(&self, source: &SourceUri) -> Result<Table> {
        let (relation, schema, table) = Postgres::relation(source)?;
        let name = relation.clone();
        let exists = self.catalog(move |client| {
            Box::pin(async move {
                let row = client
                    .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
                    .await
                    .map_err(backend_error)?;
                Ok(row.get::<_, bool>(0))
            })
        })?;
        if !exists {
            return Err(self.missing_table(source, schema.as_deref(), &table));
        }
        Ok(Table::new(BackendKind::POSTGRES, relation))
    }

    fn query(
        &self,
        sql: &str,
        cancel: &Cancel,
    ) -> std::result::Result<Vec<RecordBatch>, BackendError> {
        let sql = sql.to_string();
        let tls = self.tls.clone();
        let cancel = cancel.clone();
        self.with_session(move |client| {
            // The server stops the statement when asked on a connection of its own.
            let token = client.cancel_token();
            let watch = cancel.watch(move || {
                spawn(cancel_query(token.clone(), tls.clone()));
            });
            Box::pin(async move {
                let _watch = watch;
                if cancel.is_cancelled() {
                    return Err(BackendError::new(
                        BackendErrorKind::Cancelled,
                        "canceling statement due to user request",
                    ));
                }
                client
                    .batch_execute("BEGIN READ ONLY")
                    .await
                    .map_err(backend_error)?;
                let result = read(client, &sql).await;
                // Nothing a statement did is kept (and a failed one leaves no open transaction).
                let _ = client.batch_execute("ROLLBACK").await;
                result
            })
        })
    }

    fn explain(&self, sql: &str) -> std::result::Result<String, BackendError> {
        let sql = format!("EXPLAIN {sql}");
        self.with_session(move |client| {
            Box::pin(async move {
                let rows = client.query(&sql, &[]).await.map_err(backend_error)?;
                Ok(rows
                    .iter()
                    .map(|r| r.get::<_, String>(0))
                    .collect::<Vec<_>>()
                    .join("\n"))
            })
        })
    }

    fn list_tables(&self) -> Result<Vec<String>> {
        let tables = self.catalog(|client| {
            Box::pin(async move {
                let rows = client
                    .query(
                        "SELECT table_schema::text, table_name::text FROM information_schema.tables \
                         WHERE table_schema NOT IN ('pg_catalog', 'information_schema') \
                         AND table_schema NOT LIKE 'pg\\_%' ORDER BY 1, 2",
                        &[],
                    )
                    .await
                    .map_err(backend_error)?;
                Ok(rows
                    .iter()
                    .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
                    .collect::<Vec<_>>())
            })
        })?;
        Ok(tables
            .into_iter()
            .map(|(schema, table)| format!("postgres://{schema}/{table}"))
            .collect())
    }

    fn describe(&self, source: &SourceUri) -> Result<Vec<Column>> {
        let relation = self.table(source)?.relation().to_string();
        self.catalog(move |client| {
            Box::pin(async move {
                let rows = client
                    .query(
                        "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute \
                         WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                        &[&relation],
                    )
                    .await
                    .map_err(backend_error)?;
                Ok(rows
                    .iter()
                    .map(|r| Column {
                        name: r.get(0),
                        data_type: r.get(1),
                    })
                    .collect())
            })
        })
    }
}

/// Runs a statement and reads its rows through `COPY ... TO STDOUT (FORMAT binary)`. Preparing
/// it first gives the column types (and reports errors with their position in the statement).
async fn read(client: &Client, sql: &str) -> std::result::Result<Vec<RecordBatch>, BackendError> {
    let statement = client.prepare(sql).await.map_err(backend_error)?;
    let columns: Vec<(String, tokio_postgres::types::Type)> = statement
        .columns()
        .iter()
        .map(|c| (c.name().to_string(), c.type_().clone()))
        .collect();
    drop(statement);
    let mut reader =
        CopyReader::new(&columns).map_err(|m| BackendError::new(BackendErrorKind::Rejected, m))?;
    let stream = client
        .copy_out(&format!("COPY ({sql}) TO STDOUT (FORMAT binary)"))
        .await
        .map_err(backend_error)?;
    let mut stream = std::pin::pin!(stream);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(backend_error)?;
        reader
            .read(&chunk)
            .map_err(|m| BackendError::new(BackendErrorKind::Other, m))?;
    }
    reader
        .finish()
        .map_err(|m| BackendError::new(BackendErrorKind::Connection, m))
}

/// A client error as a backend error: the server's SQLSTATE decides the kind.
fn backend_error(err: tokio_postgres::Error) -> BackendError {
    if let Some(db) = err.as_db_error() {
        let code = db.code().code();
        let class = &code[..2];
        let kind = match (class, code) {
            ("28", _) => BackendErrorKind::Authentication,
            (_, "3D000" | "3F000" | "42P01") => BackendErrorKind::NotFound,
            (_, "57014") if db.message().contains("user request") => BackendErrorKind::Cancelled,
            (_, "57014") => BackendErrorKind::Timeout,
            ("08", _) | (_, "57P01" | "57P02" | "57P03") => BackendErrorKind::Connection,
            ("53", _) => BackendErrorKind::Quota,
            _ => BackendErrorKind::Rejected,
        };
        let retryable = matches!(class, "08" | "40") || matches!(code, "53300" | "57P03");
        let mut message = db.message().to_string();
        if let Some(detail) = db.detail() {
            message.push_str(&format!("; {detail}"));
        }
        if let Some(hint) = db.hint() {
            message.push_str(&format!(" (hint: {hint})"));
        }
        let mut error = BackendError::new(kind, message)
            .with_sqlstate(code)
            .retryable(retryable);
        if let Some(ErrorPosition::Original(position)) = db.position() {
            error = error.with_position(*position);
        }
        // `column "x" does not exist` (undefined_column).
        if code == "42703"
            && let Some(name) = quoted_after(db.message(), "column \"")
        {
            error = error.with_unknown_name(name);
        }
        return error.with_source(err);
    }
    // Not the server's answer: the connection (refused, unreachable, timed out, TLS) broke.
    let mut message = err.to_string();
    let mut timed_out = false;
    let mut cause = std::error::Error::source(&err);
    while let Some(inner) = cause {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            timed_out |= io.kind() == std::io::ErrorKind::TimedOut;
        }
        message.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    let kind = if timed_out {
        BackendErrorKind::Timeout
    } else {
        BackendErrorKind::Connection
    };
    BackendError::new(kind, message)
        .retryable(true)
        .with_source(err)
}

/// The text between `start` and the next `"` in `message`.
fn quoted_after(message: &str, start: &str) -> Option<String> {
    let rest = &message[message.find(start)? + start.len()..];
    Some(rest[..rest.find('"')?].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{
        DataType, Date32Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
        TimeUnit as ArrowTimeUnit, TimestampMicrosecondType,
    };

    /// Every column type a result can have, through the binary COPY reader, on the test server
    /// (`scripts/test.sh` starts one).
    #[test]
    fn result_types_become_arrow_arrays() {
        let Ok(url) = std::env::var("AITAEM_TEST_POSTGRES") else {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("AITAEM_TEST_POSTGRES is not set; run the tests with scripts/test.sh");
            }
            eprintln!("skipped result_types_become_arrow_arrays: no PostgreSQL server");
            return;
        };
        let settings = PostgresConfig::from_url(&url).unwrap();
        let backend = Postgres::open(&settings, &PathResolver::default()).unwrap();
        let batches = backend
            .query(
                "SELECT 1::int2 AS a, 2::int4 AS b, 3000000000::int8 AS c, 1.5::float4 AS d,
                        2.25::float8 AS e, 12345678.9012::numeric(14, 4) AS f, true AS g,
                        'x'::text AS h, 'ÿ'::varchar AS i, 'z'::char(2) AS j,
                        DATE '2024-02-29' AS k, TIMESTAMP '1999-12-31 23:59:59.5' AS l,
                        TIMESTAMPTZ '2024-01-01 00:00:00+02' AS m, NULL::float8 AS n
                 UNION ALL
                 SELECT NULL, NULL, NULL, NULL, NULL, -0.0001, NULL, NULL, NULL, NULL, NULL, NULL,
                        NULL, NULL",
                &Cancel::new(),
            )
            .unwrap();
        let batch = &batches[0];
        assert_eq!(batch.num_rows(), 2);
        let column = |name: &str| batch.column_by_name(name).unwrap();
        assert_eq!(column("a").as_primitive::<Int16Type>().value(0), 1);
        assert_eq!(column("b").as_primitive::<Int32Type>().value(0), 2);
        assert_eq!(
            column("c").as_primitive::<Int64Type>().value(0),
            3_000_000_000
        );
        assert_eq!(column("d").as_primitive::<Float32Type>().value(0), 1.5);
        assert_eq!(column("e").as_primitive::<Float64Type>().value(0), 2.25);
        let numeric = column("f").as_primitive::<Float64Type>();
        assert_eq!(
            (numeric.value(0), numeric.value(1)),
            (12345678.9012, -0.0001)
        );
        assert!(column("g").as_boolean().value(0));
        let text: Vec<Option<&str>> = ["h", "i", "j"]
            .iter()
            .map(|c| column(c).as_string::<i32>().iter().next().unwrap())
            .collect();
        assert_eq!(text, [Some("x"), Some("ÿ"), Some("z ")]);
        // 2024-02-29 is day 19782 after 1970-01-01.
        assert_eq!(column("k").as_primitive::<Date32Type>().value(0), 19_782);
        assert_eq!(
            column("l")
                .as_primitive::<TimestampMicrosecondType>()
                .value(0),
            946_684_799_500_000
        );
        assert_eq!(
            column("m").data_type(),
            &DataType::Timestamp(ArrowTimeUnit::Microsecond, Some("UTC".into()))
        );
        // Midnight at +02:00 is 22:00 UTC the day before: 2023-12-31 22:00:00.
        assert_eq!(
            column("m")
                .as_primitive::<TimestampMicrosecondType>()
                .value(0),
            1_704_060_000_000_000
        );
        for name in ["a", "b", "c", "d", "e", "g", "h", "k", "l", "m"] {
            assert!(column(name).is_null(1), "{name}");
        }
        assert!(column("n").is_null(0));
        let err = backend
            .query("SELECT point(1, 2) AS p", &Cancel::new())
            .unwrap_err();
        assert!(err.message().contains("column `p` has type point"), "{err}");
    }
}
