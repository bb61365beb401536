//! The aitaem server: a project's metrics over HTTP, for dashboards, apps and tools.
//!
//! [`Server::bind`] loads a [`Project`] once (specs and connections, kept open), and
//! [`Server::run`] answers on a TCP address until asked to stop:
//!
//! | method and path | what |
//! |---|---|
//! | `GET /` | the metrics explorer, a page for people (its files are built in) |
//! | `GET /healthz` | whether the server is up, and the project's counts of specs |
//! | `GET /v1/metrics`, `/v1/slices`, `/v1/segments` | what the specs declare |
//! | `POST /v1/scan` | which slices and segments fit which metrics |
//! | `POST /v1/compute` | a compute: JSON (default), CSV (`Accept: text/csv`), an Arrow IPC stream (`Accept: application/vnd.apache.arrow.stream`), Parquet (`Accept: application/vnd.apache.parquet`) or the table for people (`Accept: application/vnd.aitaem.table+json`) |
//! | `POST /v1/sql` | the statements a compute would run (`explain`, `estimate`) |
//! | `GET /metrics` | the server's own counters, in the Prometheus text format |
//! | `GET /v1/openapi.json` | an OpenAPI 3 description of all of it |
//! | `/mcp` | the MCP tools (streamable HTTP), for AI assistants; also over stdio ([`mcp_stdio`]) |
//!
//! With [`ServeOptions::flight`], it also answers Arrow Flight SQL on a second address, for BI
//! tools and ADBC/JDBC clients: the standard result is the table `metrics`, and a query's
//! predicates on `metric_name`, `slice_type`, `segment_name`, `period_type` and the period
//! dates are the compute it runs.
//!
//! A compute's body is the request the command line and Python take, as JSON:
//!
//! ```json
//! {"metrics": ["revenue"], "slices": ["device"], "segments": ["platform_group"],
//!  "time_window": ["2024-01-01", "2025-01-01"], "period": "monthly", "compare": "previous_year"}
//! ```
//!
//! Errors are `{"error": {"kind": ..., "message": ..., "location": ...}}`, with a 4xx status for
//! what the caller got wrong and a 5xx status for faults of the server or a backend. Computes
//! run on their own threads, at most [`ServeOptions::max_concurrent`] at a time; up to
//! [`ServeOptions::max_queued`] more wait, and beyond that a request gets 429 at once.

mod api;
mod body;
mod describe;
mod error;
mod explorer;
mod flight;
mod gate;
mod mcp;
mod openapi;
mod ops;
mod reload;
mod response;
mod state;
mod telemetry;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aitaem::{ConnectionManager, Project, SpecCache};

pub use error::ServeError;

/// How the server listens and how much it takes on.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The address to listen on (port 0: any free port).
    pub listen: SocketAddr,
    /// The bearer token every request but `/healthz` must carry (`Authorization: Bearer
    /// TOKEN`); required when `listen` is not a loopback address.
    pub token: Option<String>,
    /// Computes that run at the same time.
    pub max_concurrent: usize,
    /// Computes that may wait for one of those; more get 429.
    pub max_queued: usize,
    /// How long a request may wait and run before it gets 504.
    pub timeout: Duration,
    /// The largest request body, in bytes.
    pub body_limit: usize,
    /// HTTPS with this certificate chain and private key (PEM files), instead of HTTP; Flight
    /// SQL then uses TLS too.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Also answer Arrow Flight SQL on this address (port 0: any free port).
    pub flight: Option<SocketAddr>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        ServeOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            token: None,
            max_concurrent: cores,
            max_queued: 64 * cores,
            timeout: Duration::from_secs(300),
            body_limit: 1 << 20,
            tls: None,
            flight: None,
        }
    }
}

/// The project the server answers from: its specs and open connections.
pub(crate) struct Loaded {
    pub specs: SpecCache,
    pub connections: Arc<ConnectionManager>,
}

/// A server bound to its address, with its project loaded.
pub struct Server {
    listener: std::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    flight: Option<(
        std::net::TcpListener,
        Option<tonic::transport::ServerTlsConfig>,
    )>,
    state: Arc<state::State>,
}

impl Server {
    /// Loads the project and binds the address. Fails on a project that does not load, on an
    /// address that cannot be bound, and on a non-loopback address without a token.
    pub fn bind(project: Project, options: ServeOptions) -> Result<Server, ServeError> {
        for address in std::iter::once(options.listen).chain(options.flight) {
            if !address.ip().is_loopback() && options.token.is_none() {
                return Err(ServeError::TokenRequired(address));
            }
        }
        let tls = match &options.tls {
            Some((cert, key)) => Some(tls::acceptor(cert, key)?),
            None => None,
        };
        let flight_tls = match (&options.tls, options.flight) {
            (Some((cert, key)), Some(_)) => Some(flight::tls(cert, key)?),
            _ => None,
        };
        let (listen, flight_address) = (options.listen, options.flight);
        let state = state::State::load(project, options)?;
        let listener = listen_on(listen)?;
        let flight = match flight_address {
            Some(address) => Some((listen_on(address)?, flight_tls)),
            None => None,
        };
        Ok(Server {
            listener,
            tls,
            flight,
            state: Arc::new(state),
        })
    }

    /// The address it listens on (with the port chosen when the options asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.state.options.listen)
    }

    /// The address Flight SQL listens on, when it does.
    pub fn flight_addr(&self) -> Option<SocketAddr> {
        self.flight.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// Its base URL: `http://` or `https://` and the address.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr())
    }

    /// Answers requests until Ctrl-C or SIGTERM; then stops accepting, lets the requests in
    /// flight finish, and returns.
    pub fn run(self) -> Result<(), ServeError> {
        let runtime = runtime("aitaem-serve")?;
        let state = self.state.clone();
        let served = runtime.block_on(async move {
            let listener =
                tokio::net::TcpListener::from_std(self.listener).map_err(ServeError::Runtime)?;
            let stopping = self.state.stopping.clone();
            let watcher = tokio::spawn(reload::watch(self.state.clone()));
            let flight = match self.flight {
                Some((listener, tls)) => {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).map_err(ServeError::Runtime)?;
                    let stopped = self.state.stopping.clone();
                    Some(tokio::spawn(flight::serve(
                        self.state.clone(),
                        listener,
                        tls,
                        async move { stopped.cancelled().await },
                    )))
                }
                None => None,
            };
            let router = api::router(self.state);
            let stop = async move {
                stop_signal().await;
                stopping.cancel();
            };
            let served = match self.tls {
                Some(acceptor) => {
                    let listener =
                        tls::TlsListener::new(listener, acceptor).map_err(ServeError::Runtime)?;
                    axum::serve(listener, router)
                        .with_graceful_shutdown(stop)
                        .await
                }
                None => {
                    axum::serve(listener, router)
                        .with_graceful_shutdown(stop)
                        .await
                }
            }
            .map_err(ServeError::Runtime);
            watcher.abort();
            let flight = match flight {
                Some(flight) => flight
                    .await
                    .unwrap_or_else(|e| Err(ServeError::Runtime(std::io::Error::other(e)))),
                None => Ok(()),
            };
            served.and(flight)
        });
        // Computes may still run (their requests were cut off as the server stopped): stop
        // their statements, and give them a moment to end before the backends close.
        state.stop_computes(Duration::from_secs(10));
        served
    }
}

/// Serves the project's MCP tools over stdin and stdout (`aitaem mcp`) until the client
/// closes them; logs go to stderr.
pub fn mcp_stdio(project: Project, options: ServeOptions) -> Result<(), ServeError> {
    use rmcp::ServiceExt;
    let state = Arc::new(state::State::load(project, options)?);
    let runtime = runtime("aitaem-mcp")?;
    let served = runtime.block_on(async {
        let watcher = tokio::spawn(reload::watch(state.clone()));
        let running = mcp::Metrics::new(state.clone())
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| ServeError::Mcp(e.to_string()))?;
        let ended = running
            .waiting()
            .await
            .map(|_| ())
            .map_err(|e| ServeError::Mcp(e.to_string()));
        watcher.abort();
        ended
    });
    state.stop_computes(Duration::from_secs(10));
    served
}

/// A listener on `address`, ready for the runtime.
fn listen_on(address: SocketAddr) -> Result<std::net::TcpListener, ServeError> {
    let bound = |source| ServeError::Bind { address, source };
    let listener = std::net::TcpListener::bind(address).map_err(bound)?;
    listener.set_nonblocking(true).map_err(bound)?;
    Ok(listener)
}

/// The asynchronous runtime that serves, its threads named `name`.
fn runtime(name: &str) -> Result<tokio::runtime::Runtime, ServeError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(name)
        .build()
        .map_err(ServeError::Runtime)
}

/// Ctrl-C, or SIGTERM on Unix.
async fn stop_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    futures_util::future::select(std::pin::pin!(interrupt), std::pin::pin!(terminate)).await;
    telemetry::log_event("stopping: no new requests; finishing those in flight");
}
