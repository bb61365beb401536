//! Arrow Flight SQL, for BI tools and ADBC/JDBC clients: the standard result is the table
//! `aitaem.main.metrics`, and a query's predicates on the request's columns are the compute it
//! runs (see [`query`]); the rest of the query runs over that result ([`table`]).
//!
//! A statement's `GetFlightInfo` reads the query and checks the request against the specs
//! (nothing runs yet); its `DoGet` computes and answers. Prepared statements are the same
//! with the query as their handle. Catalog calls list the one table with its schema. With a
//! token, every call carries `authorization: Bearer TOKEN`, or basic credentials whose password
//! is the token (a handshake with them answers the bearer header).

mod query;
mod table;

use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use aitaem::MetricCompute;
use aitaem::arrow::datatypes::SchemaRef;
use aitaem::arrow::record_batch::RecordBatch;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::flight_service_server::{FlightService, FlightServiceServer};
use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::server::FlightSqlService;
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, CommandGetCatalogs, CommandGetDbSchemas,
    CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables, CommandPreparedStatementQuery,
    CommandStatementQuery, ProstMessageExt, SqlInfo, TicketStatementQuery,
};
use arrow_flight::{
    Action, FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse,
    IpcMessage, SchemaAsIpc, Ticket,
};
use axum::http::StatusCode;
use futures_util::{Stream, TryStreamExt};
use prost::Message;
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status, Streaming};

use crate::error::{ApiError, ServeError};
use crate::state::{State, blocking, same_secret};
use crate::telemetry::Served;
use query::{CATALOG, SCHEMA, TABLE};

/// Serves Flight SQL on `listener` until `stop` completes.
pub(crate) async fn serve(
    state: Arc<State>,
    listener: tokio::net::TcpListener,
    tls: Option<tonic::transport::ServerTlsConfig>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let token = state.options.token.clone();
    let service = FlightServiceServer::with_interceptor(Metrics { state }, move |request| {
        authorize(request, token.as_deref())
    });
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder
            .tls_config(tls)
            .map_err(|e| ServeError::Tls(e.to_string()))?;
    }
    builder
        .add_service(service)
        .serve_with_incoming_shutdown(tonic::transport::server::TcpIncoming::from(listener), stop)
        .await
        .map_err(|e| ServeError::Runtime(std::io::Error::other(e)))
}

/// TLS for Flight SQL from the same certificate chain and key as HTTPS.
pub(crate) fn tls(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<tonic::transport::ServerTlsConfig, ServeError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| ServeError::Tls(format!("{}: {e}", path.display())))
    };
    let identity = tonic::transport::Identity::from_pem(read(cert)?, read(key)?);
    Ok(tonic::transport::ServerTlsConfig::new().identity(identity))
}

/// Lets a call through when the server has no token, or when the call carries it.
fn authorize(request: Request<()>, token: Option<&str>) -> Result<Request<()>, Status> {
    let Some(token) = token else {
        return Ok(request);
    };
    let given = request
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let carried = if let Some(bearer) = given.strip_prefix("Bearer ") {
        same_secret(bearer, token)
    } else if let Some(basic) = given.strip_prefix("Basic ") {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .ok()
            .and_then(|decoded| String::from_utf8(decoded).ok())
            .and_then(|pair| pair.split_once(':').map(|(_, p)| same_secret(p, token)))
            .unwrap_or(false)
    } else {
        false
    };
    if carried {
        Ok(request)
    } else {
        Err(Status::unauthenticated(
            "this server needs `authorization: Bearer TOKEN` (or basic credentials with the token as the password)",
        ))
    }
}

impl From<ApiError> for Status {
    fn from(err: ApiError) -> Status {
        let message = match &err.location {
            Some(location) => format!("{}: {} (at {location})", err.kind, err.message),
            None => format!("{}: {}", err.kind, err.message),
        };
        match err.status {
            StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE => {
                Status::invalid_argument(message)
            }
            StatusCode::NOT_FOUND => Status::not_found(message),
            StatusCode::TOO_MANY_REQUESTS => Status::resource_exhausted(message),
            StatusCode::GATEWAY_TIMEOUT => Status::deadline_exceeded(message),
            StatusCode::UNAUTHORIZED => Status::unauthenticated(message),
            StatusCode::SERVICE_UNAVAILABLE => Status::unavailable(message),
            _ => Status::internal(message),
        }
    }
}

/// The server's description of itself, for `GetSqlInfo`.
static SQL_INFO: LazyLock<SqlInfoData> = LazyLock::new(|| {
    let mut info = SqlInfoDataBuilder::new();
    info.append(SqlInfo::FlightSqlServerName, "aitaem");
    info.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
    info.append(SqlInfo::FlightSqlServerArrowVersion, "1.3");
    info.append(SqlInfo::FlightSqlServerReadOnly, true);
    info.append(SqlInfo::FlightSqlServerSql, true);
    info.append(SqlInfo::FlightSqlServerSubstrait, false);
    info.append(SqlInfo::FlightSqlServerTransaction, 0i32);
    info.append(SqlInfo::FlightSqlServerCancel, false);
    info.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
    info.append(SqlInfo::SqlDdlCatalog, false);
    info.append(SqlInfo::SqlDdlSchema, false);
    info.append(SqlInfo::SqlDdlTable, false);
    info.build().expect("a valid SqlInfo listing")
});

type DataStream = <Metrics as FlightService>::DoGetStream;

/// The Flight SQL service over the server's shared state.
pub(crate) struct Metrics {
    state: Arc<State>,
}

impl Metrics {
    /// Reads a query and checks its request against the specs; its schema comes from running
    /// it over an empty table.
    async fn prepare(&self, sql: &str) -> Result<SchemaRef, ApiError> {
        let sql = sql.to_string();
        blocking(&self.state, move |loaded, cancel| {
            let query = query::parse(&sql, &loaded.specs)?;
            MetricCompute::new(&loaded.specs, &loaded.connections)
                .plan(&query.request)
                .map_err(|e| ApiError::engine(&e))?;
            Ok(table::run(&query.sql, &[], cancel)?.0)
        })
        .await?
    }

    /// Computes a query's request and runs the query over the result.
    async fn answer(&self, sql: Vec<u8>) -> Result<Response<DataStream>, Status> {
        let started = Instant::now();
        let sql = String::from_utf8(sql)
            .map_err(|_| Status::invalid_argument("the statement handle is not UTF-8 text"))?;
        let answered = blocking(&self.state, move |loaded, cancel| {
            let query = query::parse(&sql, &loaded.specs)?;
            let metrics = query.request.metrics().to_vec();
            let result = MetricCompute::new(&loaded.specs, &loaded.connections)
                .compute_cancellable(&query.request, cancel)
                .map_err(|e| ApiError::engine(&e))?;
            let (schema, batches) = table::run(&query.sql, result.batches(), cancel)?;
            Ok::<_, ApiError>((schema, batches, metrics))
        })
        .await
        .and_then(|answer| answer);
        let (status, metrics) = match &answered {
            Ok((_, _, metrics)) => (200, Some(metrics.as_slice())),
            Err(err) => (err.status.as_u16(), None),
        };
        self.state.telemetry.served(&Served {
            method: "FLIGHT",
            endpoint: "flight:DoGet",
            status,
            took: started.elapsed(),
            bytes: answered.as_ref().ok().map(|(_, batches, _)| {
                batches
                    .iter()
                    .map(|b| b.get_array_memory_size() as u64)
                    .sum()
            }),
            metrics,
        });
        let (schema, batches, _) = answered?;
        Ok(Response::new(stream(schema, batches)))
    }
}

/// A `FlightInfo` whose one endpoint's ticket is `ticket`.
fn info(
    schema: &aitaem::arrow::datatypes::Schema,
    ticket: impl ProstMessageExt,
    descriptor: FlightDescriptor,
) -> Result<Response<FlightInfo>, Status> {
    let endpoint = FlightEndpoint::new().with_ticket(Ticket::new(ticket.as_any().encode_to_vec()));
    let info = FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|e| Status::internal(format!("cannot encode the schema: {e}")))?
        .with_endpoint(endpoint)
        .with_descriptor(descriptor);
    Ok(Response::new(info))
}

/// Batches as a Flight data stream (the schema first, also without rows).
fn stream(schema: SchemaRef, batches: Vec<RecordBatch>) -> DataStream {
    let data = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(futures_util::stream::iter(batches.into_iter().map(Ok)))
        .map_err(Status::from);
    Box::pin(data)
}

/// One batch, as catalog calls build it.
fn one(
    batch: Result<RecordBatch, arrow_flight::error::FlightError>,
) -> Result<Response<DataStream>, Status> {
    let batch = batch.map_err(Status::from)?;
    Ok(Response::new(stream(batch.schema(), vec![batch])))
}

#[tonic::async_trait]
impl FlightSqlService for Metrics {
    type FlightService = Metrics;

    async fn do_handshake(
        &self,
        _request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<
        Response<Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>>,
        Status,
    > {
        // The interceptor has checked the credentials: answer the bearer header to use.
        let answer = HandshakeResponse {
            protocol_version: 0,
            payload: Default::default(),
        };
        let mut response: Response<Pin<Box<dyn Stream<Item = _> + Send>>> =
            Response::new(Box::pin(futures_util::stream::iter([Ok(answer)])));
        if let Some(token) = &self.state.options.token {
            let bearer = MetadataValue::try_from(format!("Bearer {token}"))
                .map_err(|_| Status::internal("the token is not a valid header value"))?;
            response.metadata_mut().insert("authorization", bearer);
        }
        Ok(response)
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = self.prepare(&query.query).await?;
        let ticket = TicketStatementQuery {
            statement_handle: query.query.into_bytes().into(),
        };
        info(&schema, ticket, request.into_inner())
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        _request: Request<Ticket>,
    ) -> Result<Response<DataStream>, Status> {
        self.answer(ticket.statement_handle.to_vec()).await
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        _request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let schema = self.prepare(&query.query).await?;
        let IpcMessage(dataset_schema) = SchemaAsIpc::new(&schema, &Default::default())
            .try_into()
            .map_err(|e: aitaem::arrow::error::ArrowError| Status::internal(e.to_string()))?;
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: query.query.into_bytes().into(),
            dataset_schema,
            parameter_schema: Default::default(),
        })
    }

    async fn do_action_close_prepared_statement(
        &self,
        _query: ActionClosePreparedStatementRequest,
        _request: Request<Action>,
    ) -> Result<(), Status> {
        // A handle is its query: nothing is kept.
        Ok(())
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let sql = std::str::from_utf8(&query.prepared_statement_handle)
            .map_err(|_| Status::invalid_argument("the statement handle is not UTF-8 text"))?;
        let schema = self.prepare(sql).await?;
        info(&schema, query, request.into_inner())
    }

    async fn do_get_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        _request: Request<Ticket>,
    ) -> Result<Response<DataStream>, Status> {
        self.answer(query.prepared_statement_handle.to_vec()).await
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        info(&schema, query, request.into_inner())
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        _request: Request<Ticket>,
    ) -> Result<Response<DataStream>, Status> {
        let mut builder = query.into_builder();
        builder.append(CATALOG);
        one(builder.build())
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        info(&schema, query, request.into_inner())
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        _request: Request<Ticket>,
    ) -> Result<Response<DataStream>, Status> {
        let mut builder = query.into_builder();
        builder.append(CATALOG, SCHEMA);
        one(builder.build())
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        info(&schema, query, request.into_inner())
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        _request: Request<Ticket>,
    ) -> Result<Response<DataStream>, Status> {
        let schema = table::schema()?;
        let mut builder = query.into_builder();
        builder
            .append(CATALOG, SCHEMA, TABLE, "TABLE", &schema)
            .map_err(|e| Status::internal(e.to_string()))?;
        one(builder.build())
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        info(&schema, query, request.into_inner())
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        _request: Request<Ticket>,
    ) -> Result<Response<DataStream>, Status> {
        let mut builder = query.into_builder();
        builder.append("TABLE");
        one(builder.build())
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder(&SQL_INFO).schema();
        info(&schema, query, request.into_inner())
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        _request: Request<Ticket>,
    ) -> Result<Response<DataStream>, Status> {
        one(query.into_builder(&SQL_INFO).build())
    }
}
