//! The BigQuery client: Google's (`google-cloud-bigquery`) on the shared runtime.
//!
//! Queries run as jobs in the connection's project (which is billed), with the settings'
//! location, byte limit and job timeout; results are paged and converted to Arrow by their
//! schema (`convert`). Tables are listed and described through the REST API's table service.
//! Transient failures (rate limits, 5xx, refused connections) are retried by the clients with
//! exponential backoff, at most 5 attempts within 30 s.

use std::time::Duration;

use arrow::record_batch::RecordBatch;
use google_cloud_bigquery::builder::bigquery::Query;
use google_cloud_bigquery::client::BigQuery as Client;
use google_cloud_bigquery::error::{QueryError, RowError};
use google_cloud_bigquery::query::retry_policy::RetryableErrors;
use google_cloud_bigquery_v2::client::{DatasetService, TableService};
use google_cloud_bigquery_v2::model::DatasetReference;
use google_cloud_gax::exponential_backoff::ExponentialBackoffBuilder;
use google_cloud_gax::retry_policy::{Aip194Strict, RetryPolicyExt};

use super::BigQueryConfig;
use super::dialect::BigQueryDialect as D;
use super::{auth, convert};
use crate::backend::runtime::block_on;
use crate::backend::{Backend, BackendKind, char_position};
use crate::cancel::Cancel;
use crate::catalog::{Column, Table};
use crate::config::paths::PathResolver;
use crate::error::{BackendError, BackendErrorKind, Error, Result, close_names};
use crate::source::{Source, SourceUri};
use crate::sql::Dialect;

/// Rows per page of results.
const PAGE_ROWS: u32 = 50_000;

/// At most this many attempts for a request that failed transiently, within this time.
const ATTEMPTS: u32 = 5;
const RETRY_TIME: Duration = Duration::from_secs(30);

/// A BigQuery project (or an emulator) and the clients that reach it.
pub(crate) struct BigQuery {
    client: Client,
    tables: TableService,
    datasets: DatasetService,
    settings: BigQueryConfig,
    /// Where requests go, for messages.
    place: String,
}

/// The emulator or private endpoint to use: the settings', or `BIGQUERY_EMULATOR_HOST`, as a
/// base URL (`host:port` gets `http://`).
fn endpoint(settings: &BigQueryConfig) -> Option<String> {
    let given = settings
        .endpoint
        .clone()
        .or_else(|| std::env::var("BIGQUERY_EMULATOR_HOST").ok())
        .filter(|e| !e.trim().is_empty())?;
    let given = given.trim().trim_end_matches('/').to_string();
    Some(if given.contains("://") {
        given
    } else {
        format!("http://{given}")
    })
}

impl BigQuery {
    /// Builds the clients (no request is sent until the first query or listing).
    pub(crate) fn open(settings: &BigQueryConfig, paths: &PathResolver) -> Result<BigQuery> {
        // The clients use rustls; this build gives it ring (a provider installed first wins).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let endpoint = endpoint(settings);
        let place = match &endpoint {
            Some(url) => format!("BigQuery at {url} (project `{}`)", settings.project_id),
            None => format!("BigQuery (project `{}`)", settings.project_id),
        };
        let backoff = || {
            ExponentialBackoffBuilder::new()
                .with_initial_delay(Duration::from_millis(500))
                .with_maximum_delay(Duration::from_secs(8))
                .build()
                .expect("a valid backoff")
        };
        let retry = || {
            Aip194Strict
                .with_attempt_limit(ATTEMPTS)
                .with_time_limit(RETRY_TIME)
        };
        let unusable = |message: String| {
            Error::connection(
                BackendKind::BIGQUERY,
                BackendError::new(
                    BackendErrorKind::Connection,
                    format!("cannot set up the client for {place}: {message}"),
                ),
            )
        };
        // Credentials keep their tokens fresh on the runtime, so they are made there.
        let built = block_on(async {
            let credentials = auth::credentials(settings, paths, endpoint.is_some())?;
            let mut client = Client::builder()
                .with_project_id(&settings.project_id)
                .with_credentials(credentials.clone())
                .with_retry_policy(
                    RetryableErrors
                        .with_attempt_limit(ATTEMPTS)
                        .with_time_limit(RETRY_TIME),
                )
                .with_backoff_policy(backoff());
            let mut tables = TableService::builder()
                .with_credentials(credentials.clone())
                .with_retry_policy(retry())
                .with_backoff_policy(backoff());
            let mut datasets = DatasetService::builder()
                .with_credentials(credentials)
                .with_retry_policy(retry())
                .with_backoff_policy(backoff());
            if let Some(url) = &endpoint {
                client = client.with_endpoint(url);
                tables = tables.with_endpoint(url);
                datasets = datasets.with_endpoint(url);
            }
            Ok::<_, Error>((
                client.build().await.map_err(|e| unusable(e.to_string()))?,
                tables.build().await.map_err(|e| unusable(e.to_string()))?,
                datasets
                    .build()
                    .await
                    .map_err(|e| unusable(e.to_string()))?,
            ))
        })
        .map_err(|e| Error::connection(BackendKind::BIGQUERY, e))??;
        Ok(BigQuery {
            client: built.0,
            tables: built.1,
            datasets: built.2,
            settings: settings.clone(),
            place,
        })
    }

    /// The project, dataset and table of a source (the connection's project when it names
    /// none).
    fn parts<'s>(&'s self, source: &'s SourceUri) -> Result<(&'s str, &'s str, &'s str)> {
        match source.source() {
            Source::Table(name) => Ok((
                name.catalog().unwrap_or(&self.settings.project_id),
                name.schema().unwrap_or_default(),
                name.name(),
            )),
            _ => Err(Error::internal(format!(
                "`{source}` is not a BigQuery table"
            ))),
        }
    }

    /// The columns of a table, as the service describes it; `None` when it does not exist.
    fn schema(&self, project: &str, dataset: &str, table: &str) -> Result<Option<Vec<Column>>> {
        let request = self
            .tables
            .get_table()
            .set_project_id(project)
            .set_dataset_id(dataset)
            .set_table_id(table);
        match block_on(request.send()).map_err(|e| Error::connection(BackendKind::BIGQUERY, e))? {
            Ok(found) => Ok(Some(
                found
                    .schema
                    .map(|s| s.fields)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|f| Column {
                        data_type: if f.mode == "REPEATED" {
                            format!("ARRAY<{}>", f.r#type)
                        } else {
                            f.r#type
                        },
                        name: f.name,
                    })
                    .collect(),
            )),
            Err(err) if err.http_status_code() == Some(404) => Ok(None),
            Err(err) => Err(Error::connection(
                BackendKind::BIGQUERY,
                self.context(rpc_error(&err)),
            )),
        }
    }

    /// The table names of a dataset.
    fn table_names(
        &self,
        project: &str,
        dataset: &str,
    ) -> std::result::Result<Vec<String>, BackendError> {
        let mut names = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = block_on(
                self.tables
                    .list_tables()
                    .set_project_id(project)
                    .set_dataset_id(dataset)
                    .set_page_token(&page_token)
                    .send(),
            )?
            .map_err(|e| rpc_error(&e))?;
            names.extend(
                page.tables
                    .into_iter()
                    .filter_map(|t| t.table_reference.map(|r| r.table_id)),
            );
            if page.next_page_token.is_empty() {
                return Ok(names);
            }
            page_token = page.next_page_token;
        }
    }

    /// Says where a failure happened.
    fn context(&self, error: BackendError) -> BackendError {
        let message = format!("{}: {}", self.place, error.message());
        error.reworded(message)
    }

    /// A query job with the connection's settings.
    fn job(&self, sql: &str) -> Query {
        let mut query = self
            .client
            .query(sql)
            .set_job_timeout_ms(self.settings.job_timeout.as_millis() as i64);
        if let Some(location) = &self.settings.location {
            query = query.set_location(location);
        }
        if let Some(limit) = self.settings.maximum_bytes_billed {
            query = query.set_maximum_bytes_billed(limit as i64);
        }
        if let Some(dataset) = &self.settings.dataset_id {
            query = query.set_default_dataset(
                DatasetReference::new()
                    .set_project_id(&self.settings.project_id)
                    .set_dataset_id(dataset),
            );
        }
        query
    }

    /// The bytes a statement would process, from a dry run (nothing is billed).
    fn dry_run(&self, sql: &str) -> std::result::Result<u64, BackendError> {
        let handle = block_on(self.job(sql).set_dry_run(true).send())?
            .map_err(|e| self.context(located(query_error(e), sql)))?;
        Ok(handle
            .metadata()
            .total_bytes_processed
            .map(|b| b.max(0) as u64)
            .unwrap_or(0))
    }
}

impl Backend for BigQuery {
    fn table(&self, source: &SourceUri) -> Result<Table> {
        let (project, dataset, table) = self.parts(source)?;
        let Some(columns) = self.schema(project, dataset, table)? else {
            let known = self.table_names(project, dataset).unwrap_or_default();
            let hint = match close_names(table, known.iter().map(String::as_str)).first() {
                Some(best) => format!("; did you mean `{best}`?"),
                None if known.is_empty() => {
                    format!(" (dataset `{project}.{dataset}` has no tables, or does not exist)")
                }
                None => String::new(),
            };
            return Err(Error::TableNotFound {
                source_uri: source.to_string(),
                message: format!(
                    "no table `{project}.{dataset}.{table}` in {}{hint}",
                    self.place
                ),
            });
        };
        Ok(Table::new(
            BackendKind::BIGQUERY,
            D.quote(&format!("{project}.{dataset}.{table}")),
        )
        .with_columns(columns))
    }

    /// A BigQuery job is left to finish when `cancel` is cancelled (the service bills it
    /// whatever happens to the client).
    fn query(
        &self,
        sql: &str,
        _cancel: &Cancel,
    ) -> std::result::Result<Vec<RecordBatch>, BackendError> {
        // The service ends the job at its timeout; the client gives up a little later.
        let limit = self.settings.job_timeout + Duration::from_secs(30);
        block_on(async {
            let run = async {
                let done = self
                    .job(sql)
                    .until_done()
                    .await
                    .map_err(|e| located(query_error(e), sql))?;
                let fields = done
                    .metadata()
                    .schema
                    .as_ref()
                    .map(|s| s.fields.clone())
                    .unwrap_or_default();
                let mut reader = convert::Reader::new(&fields)
                    .map_err(|m| BackendError::new(BackendErrorKind::Rejected, m))?;
                let mut rows = done.read().set_page_size(PAGE_ROWS);
                while let Some(row) = rows.next().await {
                    let row = row.map_err(row_error)?;
                    reader
                        .push(&row)
                        .map_err(|m| BackendError::new(BackendErrorKind::Other, m))?;
                }
                reader
                    .finish()
                    .map_err(|m| BackendError::new(BackendErrorKind::Other, m))
            };
            match tokio::time::timeout(limit, run).await {
                Ok(result) => result,
                Err(_) => Err(BackendError::new(
                    BackendErrorKind::Timeout,
                    format!(
                        "no result after {} s (job_timeout is {} s)",
                        limit.as_secs(),
                        self.settings.job_timeout.as_secs()
                    ),
                )),
            }
        })?
        .map_err(|e| self.context(e))
    }

    fn explain(&self, sql: &str) -> std::result::Result<String, BackendError> {
        let bytes = self.dry_run(sql)?;
        Ok(format!(
            "BigQuery shows no plan before running; a dry run says the statement would process {bytes} bytes"
        ))
    }

    fn estimate(&self, sql: &str) -> Option<std::result::Result<u64, BackendError>> {
        Some(self.dry_run(sql))
    }

    fn list_tables(&self) -> Result<Vec<String>> {
        let project = &self.settings.project_id;
        let datasets: Vec<String> = match &self.settings.dataset_id {
            Some(dataset) => vec![dataset.clone()],
            None => {
                let mut ids = Vec::new();
                let mut page_token = String::new();
                loop {
                    let page = block_on(
                        self.datasets
                            .list_datasets()
                            .set_project_id(project)
                            .set_page_token(&page_token)
                            .send(),
                    )
                    .map_err(|e| Error::connection(BackendKind::BIGQUERY, e))?
                    .map_err(|e| {
                        Error::connection(BackendKind::BIGQUERY, self.context(rpc_error(&e)))
                    })?;
                    ids.extend(
                        page.datasets
                            .into_iter()
                            .filter_map(|d| d.dataset_reference.map(|r| r.dataset_id)),
                    );
                    if page.next_page_token.is_empty() {
                        break ids;
                    }
                    page_token = page.next_page_token;
                }
            }
        };
        let mut out = Vec::new();
        for dataset in datasets {
            let names = self
                .table_names(project, &dataset)
                .map_err(|e| Error::connection(BackendKind::BIGQUERY, self.context(e)))?;
            out.extend(
                names
                    .into_iter()
                    .map(|t| format!("bigquery://{project}.{dataset}.{t}")),
            );
        }
        out.sort();
        Ok(out)
    }

    fn describe(&self, source: &SourceUri) -> Result<Vec<Column>> {
        let (project, dataset, table) = self.parts(source)?;
        match self.schema(project, dataset, table)? {
            Some(columns) => Ok(columns),
            None => self.table(source).map(|_| Vec::new()),
        }
    }
}

/// A failed request to the service as a backend error: its HTTP status decides the kind.
fn rpc_error(err: &google_cloud_gax::error::Error) -> BackendError {
    let status = err.http_status_code();
    let message = match err.status() {
        Some(status) if !status.message.is_empty() => status.message.clone(),
        _ => err.to_string(),
    };
    let (kind, retryable) = match status {
        Some(401 | 403) => (BackendErrorKind::Authentication, false),
        Some(404) => (BackendErrorKind::NotFound, false),
        Some(408) => (BackendErrorKind::Timeout, true),
        Some(429) => (BackendErrorKind::Quota, true),
        Some(code) if code >= 500 => (BackendErrorKind::Connection, true),
        Some(_) => (BackendErrorKind::Rejected, false),
        None if err.is_timeout() => (BackendErrorKind::Timeout, true),
        None if err.is_authentication() => (BackendErrorKind::Authentication, false),
        None => (BackendErrorKind::Connection, true),
    };
    let error = BackendError::new(kind, message).retryable(retryable);
    match status {
        Some(code) => error.with_reason(format!("HTTP {code}")),
        None => error,
    }
}

/// A failed query as a backend error: a job's first error reason decides the kind.
fn query_error(err: QueryError) -> BackendError {
    match &err {
        QueryError::JobFailed { errors, .. } => {
            let reason = errors.first().map(|e| e.reason.as_str()).unwrap_or("");
            let kind = match reason {
                "notFound" => BackendErrorKind::NotFound,
                "quotaExceeded" | "rateLimitExceeded" | "bytesBilledLimitExceeded" => {
                    BackendErrorKind::Quota
                }
                "accessDenied" => BackendErrorKind::Authentication,
                "timeout" => BackendErrorKind::Timeout,
                "backendError" | "internalError" => BackendErrorKind::Connection,
                _ => BackendErrorKind::Rejected,
            };
            let message = errors
                .iter()
                .map(|e| e.message.as_str())
                .filter(|m| !m.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            let message = if reason == "bytesBilledLimitExceeded" {
                format!("{message} (raise `maximum_bytes_billed` in connections.yaml to allow it)")
            } else {
                message
            };
            let mut error = BackendError::new(kind, message)
                .retryable(matches!(reason, "rateLimitExceeded" | "backendError"));
            if !reason.is_empty() {
                error = error.with_reason(reason);
            }
            error.with_source(err)
        }
        QueryError::Rpc { source, .. } => rpc_error(source).with_source(err),
        _ => BackendError::new(BackendErrorKind::Other, err.to_string()).with_source(err),
    }
}

/// A rejected statement's error with the place in `sql` it points at (GoogleSQL's
/// `[at line:column]`) and the name it does not know (`Unrecognized name: x`).
fn located(mut error: BackendError, sql: &str) -> BackendError {
    let message = error.message().to_string();
    // `at [2:7]` (the service) or `[at 2:7]` (emulators).
    let place = message.rfind('[').and_then(|open| {
        let inside = &message[open + 1..];
        let inside = inside.strip_prefix("at ").unwrap_or(inside);
        let (line, column) = inside[..inside.find(']')?].split_once(':')?;
        Some((line.trim().parse().ok()?, column.trim().parse().ok()?))
    });
    if let Some(position) = place.and_then(|(line, column)| char_position(sql, line, column)) {
        error = error.with_position(position);
    }
    // Emulators built on DuckDB say it in DuckDB's words.
    if let Some(at) = message.find("Referenced column \"") {
        let rest = &message[at + "Referenced column \"".len()..];
        if let Some(end) = rest.find('"') {
            error = error.with_unknown_name(&rest[..end]);
        }
    }
    if let Some(at) = message.find("Unrecognized name: ") {
        let name: String = message[at + "Unrecognized name: ".len()..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
            .collect();
        if let Some(name) = name.rsplit('.').next().filter(|n| !n.is_empty()) {
            error = error.with_unknown_name(name);
        }
    }
    error
}

/// A failure while reading result pages.
fn row_error(err: RowError) -> BackendError {
    match &err {
        RowError::Rpc { source, .. } => rpc_error(source).with_source(err),
        _ => BackendError::new(BackendErrorKind::Other, err.to_string()).with_source(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_statements_say_where_and_what() {
        let sql = "SELECT\n  SUM(revenu)\nFROM t";
        let error = located(
            BackendError::new(
                BackendErrorKind::Rejected,
                "Unrecognized name: revenu; Did you mean revenue? at [2:7]",
            ),
            sql,
        );
        // Line 2, column 7 is the 14th character: `r` of `revenu`.
        assert_eq!(error.position(), Some(14));
        assert_eq!(error.unknown_name(), Some("revenu"));
        let emulator =
            BackendError::new(BackendErrorKind::Rejected, "No matching signature [at 3:1]");
        assert_eq!(located(emulator, sql).position(), Some(22));
    }
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{
        DataType, Date32Type, Float64Type, Int64Type, TimeUnit as ArrowTimeUnit,
        TimestampMicrosecondType,
    };

    /// Every column type a result can have, read from the emulator's answers
    /// (`scripts/test.sh` starts it).
    #[test]
    fn result_types_become_arrow_arrays() {
        let Ok(endpoint) = std::env::var("AITAEM_TEST_BIGQUERY") else {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("AITAEM_TEST_BIGQUERY is not set; run the tests with scripts/test.sh");
            }
            eprintln!("skipped result_types_become_arrow_arrays: no BigQuery emulator");
            return;
        };
        let settings = BigQueryConfig::new("aitaem-test").with_endpoint(endpoint);
        let backend = BigQuery::open(&settings, &PathResolver::default()).unwrap();
        let batches = backend
            .query(
                "SELECT 3000000000 AS i, NUMERIC '12345678.9012' AS n, BIGNUMERIC '0.5' AS bn,
                        CAST(2.25 AS FLOAT64) AS f, TRUE AS b, 'ÿ x' AS s, DATE '2024-02-29' AS d,
                        DATETIME '1999-12-31 23:59:59.5' AS dt,
                        TIMESTAMP '2024-01-01 00:00:00+02' AS ts, CAST(NULL AS FLOAT64) AS z
                 UNION ALL
                 SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL",
                &Cancel::new(),
            )
            .unwrap();
        let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
        assert_eq!(batch.num_rows(), 2);
        let column = |name: &str| batch.column_by_name(name).unwrap();
        let first = |name: &str| {
            let c = column(name);
            if c.is_null(0) { 1 } else { 0 }
        };
        let row = if first("i") == 0 { 0 } else { 1 };
        assert_eq!(
            column("i").as_primitive::<Int64Type>().value(row),
            3_000_000_000
        );
        assert_eq!(
            column("n").as_primitive::<Float64Type>().value(row),
            12345678.9012
        );
        assert_eq!(column("bn").as_primitive::<Float64Type>().value(row), 0.5);
        assert_eq!(column("f").as_primitive::<Float64Type>().value(row), 2.25);
        assert!(column("b").as_boolean().value(row));
        assert_eq!(column("s").as_string::<i32>().value(row), "ÿ x");
        assert_eq!(column("d").as_primitive::<Date32Type>().value(row), 19_782);
        assert_eq!(
            column("dt")
                .as_primitive::<TimestampMicrosecondType>()
                .value(row),
            946_684_799_500_000
        );
        assert_eq!(
            column("ts").data_type(),
            &DataType::Timestamp(ArrowTimeUnit::Microsecond, Some("UTC".into()))
        );
        assert_eq!(
            column("ts")
                .as_primitive::<TimestampMicrosecondType>()
                .value(row),
            1_704_060_000_000_000
        );
        for name in ["i", "n", "bn", "f", "b", "s", "d", "dt", "ts", "z"] {
            assert!(column(name).is_null(1 - row), "{name}");
        }
        assert!(column("z").is_null(row));
    }
}
