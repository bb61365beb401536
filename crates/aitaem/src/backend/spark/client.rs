//! The Spark Connect client: gRPC by tonic on the shared runtime, with the code generated from
//! Spark's protocol definitions (`protocol/`).
//!
//! A connection is one Spark session (a new session ID), opened with the settings' time zone and
//! session settings. A statement is an `ExecutePlan` of a SQL relation whose result streams back
//! as Arrow IPC batches, read as they are; it is interrupted by its operation ID when cancelled
//! or past `statement_timeout`. Tables are listed and described with `SHOW` and `DESCRIBE`, plans
//! shown by `AnalyzePlan`. Every call has a time limit; the session is released when the
//! connection is dropped.

use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use tonic::metadata::{AsciiMetadataValue, MetadataKey, MetadataMap};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Status};

use super::SparkConfig;
use super::dialect::SparkDialect as D;
use super::protocol::spark_connect_service_client::SparkConnectServiceClient;
use super::protocol::{self as pb, analyze_plan_request, execute_plan_response, plan, relation};
use crate::backend::runtime::{block_on, spawn};
use crate::backend::{Backend, BackendKind, char_position};
use crate::cancel::Cancel;
use crate::catalog::{Column, Table};
use crate::error::{BackendError, BackendErrorKind, Error, Result, close_names};
use crate::source::{Source, SourceUri};
use crate::sql::Dialect;

/// The largest message accepted from the server (a result batch; Spark sends at most 4 MiB of
/// Arrow per message by default).
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// What calls share: the channel, the session and what every call carries.
struct Session {
    client: SparkConnectServiceClient<Channel>,
    session_id: String,
    user: pb::UserContext,
    headers: MetadataMap,
    settings: SparkConfig,
    /// Where requests go, for messages.
    place: String,
}

/// A Spark Connect session.
pub(crate) struct Spark {
    session: Arc<Session>,
}

impl Session {
    /// A request with the headers every call carries.
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        *request.metadata_mut() = self.headers.clone();
        request
    }

    fn client_type(&self) -> Option<String> {
        Some(format!("aitaem/{}", env!("CARGO_PKG_VERSION")))
    }

    /// Says where a failure happened.
    fn context(&self, error: BackendError) -> BackendError {
        let message = format!("{}: {}", self.place, error.message());
        error.reworded(message)
    }

    /// Runs `call` within the connect timeout (catalog calls, settings, plans).
    async fn quick<T>(
        &self,
        call: impl Future<Output = std::result::Result<T, BackendError>>,
    ) -> std::result::Result<T, BackendError> {
        let limit = self.settings.connect_timeout.max(Duration::from_secs(30));
        match tokio::time::timeout(limit, call).await {
            Ok(result) => result,
            Err(_) => Err(BackendError::new(
                BackendErrorKind::Timeout,
                format!("no answer after {} s", limit.as_secs()),
            )
            .retryable(true)),
        }
    }

    /// Sets the session's time zone and settings (the first call: it also proves that the
    /// server answers and takes the credentials).
    async fn configure(&self) -> std::result::Result<(), BackendError> {
        let mut pairs = vec![pb::KeyValue {
            key: "spark.sql.session.timeZone".into(),
            value: Some(self.settings.time_zone.clone()),
        }];
        pairs.extend(self.settings.conf.iter().map(|(key, value)| pb::KeyValue {
            key: key.clone(),
            value: Some(value.clone()),
        }));
        let request = pb::ConfigRequest {
            session_id: self.session_id.clone(),
            user_context: Some(self.user.clone()),
            client_type: self.client_type(),
            operation: Some(pb::config_request::Operation {
                op_type: Some(pb::config_request::operation::OpType::Set(
                    pb::config_request::Set {
                        pairs,
                        silent: None,
                    },
                )),
            }),
            ..Default::default()
        };
        self.client
            .clone()
            .config(self.request(request))
            .await
            .map(|_| ())
            .map_err(status_error)
    }

    /// A plan that runs `sql`.
    fn sql_plan(sql: &str) -> pb::Plan {
        pb::Plan {
            op_type: Some(plan::OpType::Root(pb::Relation {
                common: None,
                rel_type: Some(relation::RelType::Sql(pb::Sql {
                    query: sql.to_string(),
                    ..Default::default()
                })),
            })),
        }
    }

    /// Runs `sql` as operation `operation` and reads its result.
    async fn execute(
        &self,
        sql: &str,
        operation: &str,
    ) -> std::result::Result<Vec<RecordBatch>, BackendError> {
        let request = pb::ExecutePlanRequest {
            session_id: self.session_id.clone(),
            user_context: Some(self.user.clone()),
            operation_id: Some(operation.to_string()),
            plan: Some(Session::sql_plan(sql)),
            client_type: self.client_type(),
            ..Default::default()
        };
        let mut stream = self
            .client
            .clone()
            .execute_plan(self.request(request))
            .await
            .map_err(status_error)?
            .into_inner();
        let mut batches = Vec::new();
        while let Some(response) = stream.message().await.map_err(status_error)? {
            match response.response_type {
                Some(execute_plan_response::ResponseType::ArrowBatch(batch)) => {
                    let reader =
                        arrow_ipc::reader::StreamReader::try_new(Cursor::new(batch.data), None)
                            .map_err(arrow_error)?;
                    for batch in reader {
                        batches.push(batch.map_err(arrow_error)?);
                    }
                }
                Some(execute_plan_response::ResponseType::ResultComplete(_)) => break,
                _ => {}
            }
        }
        // Empty batches only carry the schema: one is kept for an empty result.
        if batches.iter().any(|b| b.num_rows() > 0) {
            batches.retain(|b| b.num_rows() > 0);
        } else {
            batches.truncate(1);
        }
        Ok(batches)
    }

    /// Interrupts one operation, or all of the session's (`None`).
    async fn interrupt(&self, operation: Option<String>) {
        let (kind, interrupt) = match operation {
            Some(id) => (
                pb::interrupt_request::InterruptType::OperationId,
                Some(pb::interrupt_request::Interrupt::OperationId(id)),
            ),
            None => (pb::interrupt_request::InterruptType::All, None),
        };
        let request = pb::InterruptRequest {
            session_id: self.session_id.clone(),
            user_context: Some(self.user.clone()),
            client_type: self.client_type(),
            interrupt_type: kind as i32,
            interrupt,
            ..Default::default()
        };
        let mut client = self.client.clone();
        let call = client.interrupt(self.request(request));
        let _ = tokio::time::timeout(self.settings.connect_timeout, call).await;
    }

    /// Runs a catalog statement (`SHOW`, `DESCRIBE`) and reads its text columns.
    fn rows(&self, sql: &str) -> std::result::Result<Vec<Vec<Option<String>>>, BackendError> {
        let operation = uuid::Uuid::new_v4().to_string();
        let batches = block_on(self.quick(self.execute(sql, &operation)))??;
        let mut rows = Vec::new();
        for batch in &batches {
            let columns: Vec<_> = batch
                .columns()
                .iter()
                .map(|c| arrow::compute::cast(c, &DataType::Utf8).map_err(arrow_error))
                .collect::<std::result::Result<_, _>>()?;
            for i in 0..batch.num_rows() {
                rows.push(
                    columns
                        .iter()
                        .map(|c| {
                            let c = c.as_string::<i32>();
                            (!c.is_null(i)).then(|| c.value(i).to_string())
                        })
                        .collect(),
                );
            }
        }
        Ok(rows)
    }
}

impl Drop for Session {
    /// Frees the session's state on the server (without waiting).
    fn drop(&mut self) {
        let request = pb::ReleaseSessionRequest {
            session_id: self.session_id.clone(),
            user_context: Some(self.user.clone()),
            client_type: self.client_type(),
            ..Default::default()
        };
        let request = self.request(request);
        let mut client = self.client.clone();
        let limit = self.settings.connect_timeout;
        spawn(async move {
            let _ = tokio::time::timeout(limit, client.release_session(request)).await;
        });
    }
}

impl Spark {
    /// Connects and opens a session with the settings' time zone and session settings.
    pub(crate) fn open(settings: &SparkConfig) -> Result<Spark> {
        let place = format!("Spark Connect at {}", settings.address());
        let failed = |error: BackendError| {
            let message = format!("{place}: {}", error.message());
            Error::connection(BackendKind::SPARK, error.reworded(message))
        };
        let scheme = if settings.use_ssl { "https" } else { "http" };
        let url = format!("{scheme}://{}", settings.authority());
        let invalid =
            |message: String| failed(BackendError::new(BackendErrorKind::Connection, message));
        let mut endpoint = Endpoint::from_shared(url)
            .map_err(|e| invalid(format!("not a valid address: {e}")))?
            .connect_timeout(settings.connect_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(20))
            .keep_alive_while_idle(true)
            .user_agent(format!("aitaem/{}", env!("CARGO_PKG_VERSION")))
            .map_err(|e| invalid(e.to_string()))?;
        if settings.use_ssl {
            let tls = ClientTlsConfig::new()
                .with_native_roots()
                .domain_name(settings.host.clone());
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| invalid(format!("cannot set up TLS: {e}")))?;
        }
        let mut headers = MetadataMap::new();
        if let Some(token) = &settings.token {
            let mut value = AsciiMetadataValue::try_from(format!("Bearer {token}").as_str())
                .map_err(|_| {
                    invalid("the token is not valid in a header (visible ASCII only)".into())
                })?;
            value.set_sensitive(true);
            headers.insert("authorization", value);
        }
        for (key, value) in &settings.headers {
            let name = MetadataKey::from_bytes(key.as_bytes())
                .map_err(|_| invalid(format!("`{key}` is not a valid header name")))?;
            let value = AsciiMetadataValue::try_from(value.as_str()).map_err(|_| {
                invalid(format!(
                    "the value of `{key}` is not valid in a header (visible ASCII only)"
                ))
            })?;
            headers.insert(name, value);
        }
        let user = settings
            .user_id
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "aitaem".into());
        let session = block_on(async {
            // The channel connects on first use, within the connect timeout.
            let channel = endpoint.connect_lazy();
            let session = Session {
                client: SparkConnectServiceClient::new(channel)
                    .max_decoding_message_size(MAX_MESSAGE),
                session_id: uuid::Uuid::new_v4().to_string(),
                user: pb::UserContext {
                    user_id: user.clone(),
                    user_name: user,
                    ..Default::default()
                },
                headers,
                settings: settings.clone(),
                place: place.clone(),
            };
            session.quick(session.configure()).await?;
            Ok::<_, BackendError>(session)
        })
        .and_then(|r| r)
        .map_err(failed)?;
        Ok(Spark {
            session: Arc::new(session),
        })
    }

    /// The relation of a source, quoted part by part; the relation of its schema (when it names
    /// one); the table's own name.
    fn relation(source: &SourceUri) -> Result<(String, Option<String>, String)> {
        match source.source() {
            Source::Table(name) => {
                let mut parts: Vec<String> = [name.catalog(), name.schema(), Some(name.name())]
                    .into_iter()
                    .flatten()
                    .map(|p| D.quote(p))
                    .collect();
                let relation = parts.join(".");
                parts.pop();
                let schema = (!parts.is_empty()).then(|| parts.join("."));
                Ok((relation, schema, name.name().to_string()))
            }
            _ => Err(Error::internal(format!("`{source}` is not a Spark table"))),
        }
    }

    /// The columns of a table, or `None` when Spark says it does not exist.
    fn columns(&self, relation: &str) -> Result<Option<Vec<Column>>> {
        match self.session.rows(&format!("DESCRIBE TABLE {relation}")) {
            Ok(rows) => Ok(Some(
                rows.into_iter()
                    .map_while(|row| {
                        let name = row.first().cloned().flatten()?;
                        (!name.is_empty() && !name.starts_with('#')).then(|| Column {
                            name,
                            data_type: row.get(1).cloned().flatten().unwrap_or_default(),
                        })
                    })
                    .collect(),
            )),
            Err(err) if err.kind() == BackendErrorKind::NotFound => Ok(None),
            Err(err) => Err(Error::connection(
                BackendKind::SPARK,
                self.session.context(err),
            )),
        }
    }
}

impl Backend for Spark {
    fn table(&self, source: &SourceUri) -> Result<Table> {
        let (relation, schema, table) = Spark::relation(source)?;
        let Some(columns) = self.columns(&relation)? else {
            let listing = match &schema {
                Some(schema) => format!("SHOW TABLES IN {schema}"),
                None => "SHOW TABLES".to_string(),
            };
            let known: Vec<String> = self
                .session
                .rows(&listing)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|row| row.get(1).cloned().flatten())
                .collect();
            let hint = match close_names(&table, known.iter().map(String::as_str)).first() {
                Some(best) => format!("; did you mean `{best}`?"),
                None => String::new(),
            };
            return Err(Error::TableNotFound {
                source_uri: source.to_string(),
                message: format!("no table {relation} in {}{hint}", self.session.place),
            });
        };
        Ok(Table::new(BackendKind::SPARK, relation).with_columns(columns))
    }

    fn query(
        &self,
        sql: &str,
        cancel: &Cancel,
    ) -> std::result::Result<Vec<RecordBatch>, BackendError> {
        let operation = uuid::Uuid::new_v4().to_string();
        let session = self.session.clone();
        let id = operation.clone();
        let _watch = cancel.watch(move || {
            let session = session.clone();
            let id = id.clone();
            spawn(async move { session.interrupt(Some(id)).await });
        });
        if cancel.is_cancelled() {
            return Err(BackendError::new(
                BackendErrorKind::Cancelled,
                "the statement was cancelled",
            ));
        }
        let limit = self.session.settings.statement_timeout;
        let session = &self.session;
        block_on(async {
            match tokio::time::timeout(limit, session.execute(sql, &operation)).await {
                Ok(result) => result.map_err(|e| located(e, sql)),
                Err(_) => {
                    session.interrupt(Some(operation.clone())).await;
                    Err(BackendError::new(
                        BackendErrorKind::Timeout,
                        format!(
                            "the statement ran longer than statement_timeout ({} s) and was interrupted",
                            limit.as_secs()
                        ),
                    ))
                }
            }
        })?
        .map_err(|e| session.context(e))
    }

    fn explain(&self, sql: &str) -> std::result::Result<String, BackendError> {
        let session = &self.session;
        let request = pb::AnalyzePlanRequest {
            session_id: session.session_id.clone(),
            user_context: Some(session.user.clone()),
            client_type: session.client_type(),
            analyze: Some(analyze_plan_request::Analyze::Explain(
                analyze_plan_request::Explain {
                    plan: Some(Session::sql_plan(sql)),
                    explain_mode: analyze_plan_request::explain::ExplainMode::Formatted as i32,
                },
            )),
            ..Default::default()
        };
        let call = async {
            session
                .client
                .clone()
                .analyze_plan(session.request(request))
                .await
                .map_err(status_error)
        };
        let response =
            block_on(session.quick(call))?.map_err(|e| session.context(located(e, sql)))?;
        match response.into_inner().result {
            Some(pb::analyze_plan_response::Result::Explain(explain)) => {
                Ok(explain.explain_string.trim_end().to_string())
            }
            _ => Err(session.context(BackendError::new(
                BackendErrorKind::Other,
                "the server answered the plan request with something else",
            ))),
        }
    }

    fn interrupt(&self) {
        let session = self.session.clone();
        let _ = block_on(async move { session.interrupt(None).await });
    }

    fn list_tables(&self) -> Result<Vec<String>> {
        let failed = |e| Error::connection(BackendKind::SPARK, self.session.context(e));
        let namespaces = self.session.rows("SHOW NAMESPACES").map_err(failed)?;
        let mut out = Vec::new();
        for namespace in namespaces
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
        {
            let tables = match self
                .session
                .rows(&format!("SHOW TABLES IN {}", D.quote(&namespace)))
            {
                Ok(tables) => tables,
                // Dropped since it was listed.
                Err(err) if err.kind() == BackendErrorKind::NotFound => continue,
                Err(err) => return Err(failed(err)),
            };
            for row in tables {
                // namespace, tableName, isTemporary: temporary views belong to no schema.
                if let (Some(name), Some("false")) = (
                    row.get(1).cloned().flatten(),
                    row.get(2).cloned().flatten().as_deref(),
                ) {
                    out.push(super::uri(&crate::source::TableName::new(
                        None,
                        Some(namespace.clone()),
                        name,
                    )));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn describe(&self, source: &SourceUri) -> Result<Vec<Column>> {
        let (relation, ..) = Spark::relation(source)?;
        match self.columns(&relation)? {
            Some(columns) => Ok(columns),
            None => self.table(source).map(|_| Vec::new()),
        }
    }
}

/// A failed call as a backend error: the gRPC status, and for Spark's own errors their class
/// (`[TABLE_OR_VIEW_NOT_FOUND]`), decide the kind; the message is the error's first line.
fn status_error(status: Status) -> BackendError {
    let text = status.message().trim();
    let class = text
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .map(|(class, _)| class.to_string());
    let message = first_lines(text);
    let (kind, retryable) = match status.code() {
        Code::Unavailable => (BackendErrorKind::Connection, true),
        Code::Unauthenticated | Code::PermissionDenied => (BackendErrorKind::Authentication, false),
        Code::DeadlineExceeded => (BackendErrorKind::Timeout, true),
        Code::Cancelled => (BackendErrorKind::Cancelled, false),
        Code::ResourceExhausted => (BackendErrorKind::Quota, true),
        _ => match class.as_deref().map(|c| c.split('.').next().unwrap_or(c)) {
            Some(
                "TABLE_OR_VIEW_NOT_FOUND"
                | "SCHEMA_NOT_FOUND"
                | "CATALOG_NOT_FOUND"
                | "PATH_NOT_FOUND",
            ) => (BackendErrorKind::NotFound, false),
            Some("OPERATION_CANCELED") => (BackendErrorKind::Cancelled, false),
            Some(_) => (BackendErrorKind::Rejected, false),
            None if status.code() == Code::Unknown && text.contains("cancel") => {
                (BackendErrorKind::Cancelled, false)
            }
            None => (BackendErrorKind::Other, false),
        },
    };
    let message = match (status.code(), message.is_empty()) {
        (Code::Unavailable, _) => format!("cannot reach the server: {message}"),
        (_, true) => format!("the call failed ({:?})", status.code()),
        _ => message,
    };
    let mut error = BackendError::new(kind, message).retryable(retryable);
    if let Some(state) = sqlstate(text) {
        error = error.with_sqlstate(state);
    } else if let Some(class) = class {
        error = error.with_reason(class);
    }
    error.with_source(status)
}

/// A Spark message without the plan and statement it may carry after its first lines.
fn first_lines(text: &str) -> String {
    let head = text.split("\n\n").next().unwrap_or(text);
    let head = head.split("\n==").next().unwrap_or(head);
    let first = head.lines().next().unwrap_or(head).trim();
    let first = first.split("; line ").next().unwrap_or(first);
    let first = first.split(" SQLSTATE:").next().unwrap_or(first);
    first.trim_end_matches([';', '.', ' ']).to_string() + "."
}

/// The SQLSTATE a Spark message ends its first part with (`SQLSTATE: 42703`).
fn sqlstate(text: &str) -> Option<String> {
    let at = text.find("SQLSTATE: ")?;
    let code: String = text[at + "SQLSTATE: ".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    (code.len() == 5).then_some(code)
}

/// A rejected statement's error with the place in `sql` it points at (`line 1 pos 7`, or
/// `(line 1, pos 7)` for syntax errors; the position counts from 0) and the name it does not know
/// (``with name `x` cannot be resolved``).
fn located(mut error: BackendError, sql: &str) -> BackendError {
    // The whole message of the server, of which the error's own is the first line.
    let message = std::error::Error::source(&error)
        .and_then(|source| source.downcast_ref::<Status>())
        .map(|status| status.message().to_string())
        .unwrap_or_else(|| error.message().to_string());
    let place = message.find("line ").and_then(|at| {
        let rest = &message[at + "line ".len()..];
        let line: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let rest = &rest[line.len()..];
        let rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
        let rest = rest.strip_prefix("pos ")?;
        let pos: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some((line.parse::<usize>().ok()?, pos.parse::<usize>().ok()?))
    });
    if let Some(position) = place.and_then(|(line, pos)| char_position(sql, line, pos + 1)) {
        error = error.with_position(position);
    }
    if let Some(at) = message.find("with name `") {
        let rest = &message[at + "with name ".len()..];
        let name: String = rest
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        if let Some(last) = name.rsplit('.').next() {
            let last = last.trim_matches('`');
            if !last.is_empty() {
                error = error.with_unknown_name(last);
            }
        }
    }
    error
}

fn arrow_error(err: arrow::error::ArrowError) -> BackendError {
    BackendError::new(
        BackendErrorKind::Other,
        format!("cannot read a result batch: {err}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_errors_say_what_and_where() {
        let sql = "SELECT\n  SUM(revenu)\nFROM t";
        let status = Status::internal(
            "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name `revenu` cannot be resolved. Did you mean one of the following? [`revenue`]. SQLSTATE: 42703; line 2 pos 6;\n'Aggregate [unresolvedalias('SUM('revenu))]\n+- SubqueryAlias t",
        );
        let error = located(status_error(status), sql);
        assert_eq!(error.kind(), BackendErrorKind::Rejected);
        assert_eq!(error.code(), Some("42703"));
        // Line 2, position 6 (from 0) is the 14th character: `r` of `revenu`.
        assert_eq!(error.position(), Some(14));
        assert_eq!(error.unknown_name(), Some("revenu"));
        assert_eq!(
            error.message(),
            "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name `revenu` cannot be resolved. Did you mean one of the following? [`revenue`]."
        );
        let syntax = Status::internal(
            "\n[PARSE_SYNTAX_ERROR] Syntax error at or near 'FROM'. SQLSTATE: 42601 (line 3, pos 0)\n\n== SQL ==\nSELECT",
        );
        assert_eq!(located(status_error(syntax), sql).position(), Some(22));
        let missing = status_error(Status::internal(
            "[TABLE_OR_VIEW_NOT_FOUND] The table or view `x` cannot be found. SQLSTATE: 42P01",
        ));
        assert_eq!(missing.kind(), BackendErrorKind::NotFound);
        let down = status_error(Status::unavailable("tcp connect error"));
        assert_eq!(down.kind(), BackendErrorKind::Connection);
        assert!(down.message().starts_with("cannot reach the server"));
    }
}
