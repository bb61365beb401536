//! `connections.yaml`: one block per backend, with exactly the documented fields.
//!
//! ```yaml
//! duckdb:
//!   path: data/analytics.db      # required: a file, or ":memory:"
//!   read_only: false             # default false
//! postgres:
//!   host: localhost              # default localhost (or a Unix socket directory)
//!   port: 5432                   # default 5432
//!   database: mydb               # required
//!   user: analyst                # required
//!   password: ${PGPASSWORD}      # required
//!   sslmode: verify-full         # disable, prefer (default), require, verify-ca, verify-full
//!   sslrootcert: certs/ca.pem    # trusted roots for verify-ca/verify-full (default: the system's)
//!   connect_timeout: 10          # seconds, or 500ms / 30s / 5min (default 10 s)
//!   statement_timeout: 5min      # default: no limit
//!   application_name: aitaem     # default aitaem
//!   timezone: UTC                # the session's, for timestamptz periods (default UTC)
//!   # or, instead of host, port, database, user and password:
//!   # url: postgres://analyst:${PGPASSWORD}@db.example.com:5432/mydb?sslmode=require
//! bigquery:
//!   project_id: my-project       # required: runs and pays for the queries
//!   dataset_id: analytics        # optional default dataset
//!   location: EU                 # optional job location
//!   maximum_bytes_billed: 10GB   # a query that would bill more fails (default: no limit)
//!   job_timeout: 10min           # default 10 min
//!   endpoint: http://127.0.0.1:9050  # an emulator or private endpoint (also BIGQUERY_EMULATOR_HOST)
//!   credentials_file: key.json   # instead of Application Default Credentials
//! ```
//!
//! `${VAR}` in any string value is replaced by the environment variable `VAR` (and
//! `${VAR:-default}` by `default` when `VAR` is unset or empty). Substitution happens after the
//! YAML is parsed, so a variable's value can never change the file's structure. An unset
//! variable without a default is an error naming the variable and where it is used.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub(crate) mod paths;

use crate::error::{Error, Result, SpecIssue};
use crate::source::BackendKind;
use crate::yaml::{self, Decoder, Fields, Location, Node, Value};

/// Whether a database may be changed through a connection.
///
/// `ReadOnly` is less than `ReadWrite`, so the mode a connection opens with is the smaller of
/// what its settings allow and what its user needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum AccessMode {
    /// Reading only; other processes may read the same database at the same time.
    ReadOnly,
    /// Reading and writing (the default in `connections.yaml`: `read_only: false`).
    #[default]
    ReadWrite,
}

/// DuckDB connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuckDbConfig {
    /// A database file, or `:memory:`. Relative paths resolve as described in
    /// [`ConnectionManager`](crate::ConnectionManager).
    pub path: String,
    /// How the database is opened (`read_only: true` in `connections.yaml` is
    /// [`AccessMode::ReadOnly`]).
    pub access: AccessMode,
}

impl DuckDbConfig {
    /// Settings for a database file (or `:memory:`), opened read-write.
    pub fn new(path: impl Into<String>) -> Self {
        DuckDbConfig {
            path: path.into(),
            access: AccessMode::ReadWrite,
        }
    }
}

/// PostgreSQL connection settings.
///
/// The password never appears in `Debug` output or in error messages.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// Server host (default `localhost`); a path starting with `/` is the directory of the
    /// server's Unix socket.
    pub host: String,
    /// Server port (default 5432).
    pub port: u16,
    /// Database name.
    pub database: String,
    /// User name.
    pub user: String,
    /// Password (empty when the server needs none).
    pub password: String,
    /// Whether and how the connection is encrypted (default `prefer`).
    pub sslmode: SslMode,
    /// A file of trusted root certificates (PEM) for `verify-ca` and `verify-full`, instead
    /// of the system's.
    pub sslrootcert: Option<PathBuf>,
    /// How long connecting may take (default 10 s).
    pub connect_timeout: Duration,
    /// How long one statement may run on the server (default: no limit).
    pub statement_timeout: Option<Duration>,
    /// The name the server shows for the connection (default `aitaem`).
    pub application_name: String,
    /// The session's time zone, in which `timestamptz` columns are truncated to periods
    /// (default `UTC`).
    pub timezone: String,
}

impl PostgresConfig {
    /// Settings with the defaults for everything but the database, user and password.
    pub fn new(
        database: impl Into<String>,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        PostgresConfig {
            host: "localhost".into(),
            port: 5432,
            database: database.into(),
            user: user.into(),
            password: password.into(),
            sslmode: SslMode::Prefer,
            sslrootcert: None,
            connect_timeout: Duration::from_secs(10),
            statement_timeout: None,
            application_name: "aitaem".into(),
            timezone: "UTC".into(),
        }
    }

    /// Settings from a connection URL,
    /// `postgres://user:password@host:port/database?sslmode=require&connect_timeout=5`.
    /// User, password and database may be percent-encoded; query parameters are `sslmode`,
    /// `sslrootcert`, `connect_timeout`, `statement_timeout`, `application_name` and `timezone`.
    ///
    /// ```
    /// use aitaem::config::{PostgresConfig, SslMode};
    /// let config = PostgresConfig::from_url("postgres://ana:p%40ss@db.example.com:6543/sales?sslmode=verify-full").unwrap();
    /// assert_eq!((config.host.as_str(), config.port, config.database.as_str()), ("db.example.com", 6543, "sales"));
    /// assert_eq!((config.user.as_str(), config.password.as_str()), ("ana", "p@ss"));
    /// assert_eq!(config.sslmode, SslMode::VerifyFull);
    /// ```
    pub fn from_url(url: &str) -> std::result::Result<PostgresConfig, String> {
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .ok_or("a PostgreSQL URL starts with `postgres://` or `postgresql://`")?;
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (rest, None),
        };
        let (authority, database) = match rest.split_once('/') {
            Some((authority, database)) => (authority, database),
            None => (rest, ""),
        };
        let (credentials, address) = match authority.rsplit_once('@') {
            Some((credentials, address)) => (Some(credentials), address),
            None => (None, authority),
        };
        let (user, password) = match credentials {
            Some(c) => match c.split_once(':') {
                Some((user, password)) => (decode(user)?, decode(password)?),
                None => (decode(c)?, String::new()),
            },
            None => (String::new(), String::new()),
        };
        let database = decode(database)?;
        if database.is_empty() || user.is_empty() {
            return Err(
                "the URL must name a user and a database: `postgres://user:password@host:port/database`"
                    .into(),
            );
        }
        let mut config = PostgresConfig::new(database, user, password);
        let (host, port) = match address.strip_prefix('[') {
            // An IPv6 address: `[::1]:5432`.
            Some(bracketed) => {
                let (host, rest) = bracketed
                    .split_once(']')
                    .ok_or("an IPv6 host must be written `[address]`")?;
                (host, rest.strip_prefix(':'))
            }
            None => match address.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (address, None),
            },
        };
        let port = match port {
            Some(port) => Some(
                port.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("`{port}` is not a port number (1-65535)"))?,
            ),
            None => None,
        };
        if !host.is_empty() {
            config.host = decode(host)?;
        }
        if let Some(port) = port {
            config.port = port;
        }
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode(value)?;
            config.set(key, &value)?;
        }
        Ok(config)
    }

    /// Sets one of the tuning settings by its name in `connections.yaml` and URLs.
    fn set(&mut self, key: &str, value: &str) -> std::result::Result<(), String> {
        match key {
            "sslmode" => self.sslmode = value.parse()?,
            "sslrootcert" => self.sslrootcert = Some(PathBuf::from(value)),
            "connect_timeout" => self.connect_timeout = parse_duration(value)?,
            "statement_timeout" => self.statement_timeout = Some(parse_duration(value)?),
            "application_name" => self.application_name = value.to_string(),
            "timezone" => self.timezone = value.to_string(),
            other => {
                return Err(format!(
                    "unknown URL parameter `{other}`; use sslmode, sslrootcert, connect_timeout, statement_timeout, application_name or timezone"
                ));
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .field("sslmode", &self.sslmode)
            .field("sslrootcert", &self.sslrootcert)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("application_name", &self.application_name)
            .field("timezone", &self.timezone)
            .finish()
    }
}

/// Whether and how a PostgreSQL connection is encrypted, as libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SslMode {
    /// Never encrypt.
    Disable,
    /// Encrypt when the server supports it, without checking its certificate.
    Prefer,
    /// Always encrypt, without checking the certificate (unless `sslrootcert` is given, then
    /// as `VerifyCa`).
    Require,
    /// Always encrypt, and check that a trusted authority signed the certificate.
    VerifyCa,
    /// As `VerifyCa`, and check that the certificate names the host.
    VerifyFull,
}

impl SslMode {
    /// The name used in `connections.yaml` and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl std::str::FromStr for SslMode {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<SslMode, String> {
        [
            SslMode::Disable,
            SslMode::Prefer,
            SslMode::Require,
            SslMode::VerifyCa,
            SslMode::VerifyFull,
        ]
        .into_iter()
        .find(|mode| mode.as_str() == text)
        .ok_or_else(|| {
            format!(
                "`{text}` is not an sslmode; use disable, prefer, require, verify-ca or verify-full"
            )
        })
    }
}

/// Percent-decoding of URL parts.
fn decode(text: &str) -> std::result::Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("a `%` in the URL must be followed by two hex digits")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the URL decodes to invalid UTF-8".to_string())
}

/// A number of bytes: `1000000000`, or with a unit (`10GB`, `500MB`, `1TB`, `2GiB`).
fn parse_bytes(text: &str) -> std::result::Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let factor: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KIB" => 1 << 10,
        "MIB" => 1 << 20,
        "GIB" => 1 << 30,
        "TIB" => 1 << 40,
        _ => 0,
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            format!("`{text}` is not a number of bytes; write `1000000000`, `10GB` or `1TiB`")
        })
}

/// A duration: a number of seconds (`10`, `2.5`), or a number with a unit (`500ms`, `30s`,
/// `5min`, `1h`).
fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let seconds = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "min" => 60.0,
        "h" => 3600.0,
        _ => f64::NAN,
    };
    match number.parse::<f64>() {
        Ok(n) if seconds.is_finite() && n > 0.0 && (n * seconds) < 1e9 => {
            Ok(Duration::from_secs_f64(n * seconds))
        }
        _ => Err(format!(
            "`{text}` is not a duration; write seconds (`10`) or a number with ms, s, min or h (`500ms`, `5min`)"
        )),
    }
}

/// BigQuery connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BigQueryConfig {
    /// The project that runs (and is billed for) the queries, and the default project of
    /// sources that name none.
    pub project_id: String,
    /// The default dataset.
    pub dataset_id: Option<String>,
    /// Where jobs run (`US`, `EU`, `europe-west1`, ...); by default where the data is.
    pub location: Option<String>,
    /// A query that would bill more bytes fails instead of running (default: no limit).
    pub maximum_bytes_billed: Option<u64>,
    /// How long one query job may run (default 10 min).
    pub job_timeout: Duration,
    /// A base URL (`http://127.0.0.1:9050`) or `host:port` to send requests to instead of
    /// Google's, for emulators and private endpoints; credentials are then anonymous unless
    /// `credentials_file` is given. `BIGQUERY_EMULATOR_HOST` sets it too.
    pub endpoint: Option<String>,
    /// A service-account or authorized-user JSON key file, instead of Application Default
    /// Credentials.
    pub credentials_file: Option<PathBuf>,
}

impl BigQueryConfig {
    /// Settings for a project, with the defaults for everything else.
    pub fn new(project_id: impl Into<String>) -> Self {
        BigQueryConfig {
            project_id: project_id.into(),
            dataset_id: None,
            location: None,
            maximum_bytes_billed: None,
            job_timeout: Duration::from_secs(600),
            endpoint: None,
            credentials_file: None,
        }
    }
}

/// The settings of one backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendConfig {
    /// DuckDB.
    DuckDb(DuckDbConfig),
    /// PostgreSQL.
    Postgres(PostgresConfig),
    /// BigQuery.
    BigQuery(BigQueryConfig),
}

impl BackendConfig {
    /// The backend these settings are for.
    pub fn backend(&self) -> BackendKind {
        match self {
            BackendConfig::DuckDb(_) => BackendKind::DuckDb,
            BackendConfig::Postgres(_) => BackendKind::Postgres,
            BackendConfig::BigQuery(_) => BackendKind::BigQuery,
        }
    }
}

impl BackendConfig {
    /// The local database file the settings name, as written (`None` for servers and
    /// in-memory databases).
    pub fn local_file(&self) -> Option<&str> {
        match self {
            BackendConfig::DuckDb(duck) if duck.path != ":memory:" => Some(&duck.path),
            _ => None,
        }
    }
}

/// What to add to `connections.yaml` for a backend, for errors about a missing connection.
pub(crate) fn how_to_configure(backend: BackendKind) -> &'static str {
    match backend {
        BackendKind::DuckDb => "add `duckdb:` with a `path:` to connections.yaml",
        BackendKind::Postgres => {
            "add `postgres:` with `database`, `user` and `password` to connections.yaml"
        }
        BackendKind::BigQuery => "add `bigquery:` with a `project_id` to connections.yaml",
    }
}

/// A parsed `connections.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectionsConfig {
    /// The backends configured, in file order.
    pub backends: Vec<BackendConfig>,
    /// The file it was read from.
    pub file: Option<PathBuf>,
}

impl ConnectionsConfig {
    /// Reads and validates a connections file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<ConnectionsConfig> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|err| {
            Error::config(
                Some(Location::file(Some(path.into()))),
                format!("cannot read the connections file: {err}"),
            )
        })?;
        let mut config = ConnectionsConfig::from_str_with(&text, Some(path.into()), |name| {
            std::env::var(name).ok()
        })?;
        config.file = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses connections YAML, looking variables up with `env` (for tests and embedding).
    ///
    /// ```
    /// use aitaem::config::{ConnectionsConfig, BackendConfig};
    /// let config = ConnectionsConfig::from_str_with(
    ///     "duckdb:\n  path: db_${ENV}.duckdb\n",
    ///     None,
    ///     |name| (name == "ENV").then(|| "prod".to_string()),
    /// )
    /// .unwrap();
    /// assert!(matches!(&config.backends[0], BackendConfig::DuckDb(d) if d.path == "db_prod.duckdb"));
    /// ```
    pub fn from_str_with(
        text: &str,
        file: Option<Arc<Path>>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ConnectionsConfig> {
        let root = yaml::parse(text, &file).map_err(|issue| issue_error(vec![issue]))?;
        let mut d = ConfigDecoder {
            d: Decoder::new(file, text),
            env: &env,
        };
        let backends = d.document(&root);
        if !d.d.issues.is_empty() {
            return Err(issue_error(d.d.issues));
        }
        Ok(ConnectionsConfig {
            backends,
            file: None,
        })
    }
}

fn issue_error(issues: Vec<SpecIssue>) -> Error {
    let location = issues.first().map(|i| i.location.clone());
    let message = issues
        .iter()
        .enumerate()
        .map(|(i, issue)| {
            let mut line = String::new();
            if i > 0 {
                line.push_str(&format!("{}: ", issue.location));
            }
            if !issue.field.is_empty() {
                line.push_str(&format!("{}: ", issue.field));
            }
            line.push_str(&issue.message);
            if let Some(help) = &issue.help {
                line.push_str(&format!(" ({help})"));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n");
    Error::Configuration { location, message }
}

struct ConfigDecoder<'e> {
    d: Decoder,
    env: &'e dyn Fn(&str) -> Option<String>,
}

impl ConfigDecoder<'_> {
    fn document(&mut self, root: &Node) -> Vec<BackendConfig> {
        let entries = match &root.value {
            Value::Null => return Vec::new(),
            Value::Map(entries) => entries,
            other => {
                let at = self.d.location(root);
                self.d.issue(
                    at,
                    "",
                    format!(
                        "expected a mapping of backends, found {}",
                        other.type_name()
                    ),
                    Some("write `duckdb:`, `postgres:` or `bigquery:` blocks".into()),
                );
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (key, body) in entries {
            let name = key.value.scalar_text().unwrap_or_default();
            let backend = match name.as_str() {
                "duckdb" => self.duckdb(body).map(BackendConfig::DuckDb),
                "postgres" => self.postgres(body).map(BackendConfig::Postgres),
                "bigquery" => self.bigquery(body).map(BackendConfig::BigQuery),
                _ => {
                    let at = self.d.location(key);
                    let close =
                        crate::error::close_names(&name, ["duckdb", "postgres", "bigquery"]);
                    let help = match close.first() {
                        Some(best) => format!("did you mean `{best}`?"),
                        None => "the backends are duckdb, postgres and bigquery".into(),
                    };
                    self.d
                        .issue(at, "", format!("unknown backend `{name}`"), Some(help));
                    None
                }
            };
            out.extend(backend);
        }
        out
    }

    fn duckdb(&mut self, node: &Node) -> Option<DuckDbConfig> {
        let fields = self
            .d
            .fields(node, "duckdb", &["path", "read_only"], &["path"])?;
        let path = self.string(&fields, "duckdb", "path");
        let read_only = match fields.get("read_only") {
            Some(n) => self.boolean(n, "duckdb.read_only"),
            None => Some(false),
        };
        Some(DuckDbConfig {
            path: path?,
            access: if read_only? {
                AccessMode::ReadOnly
            } else {
                AccessMode::ReadWrite
            },
        })
    }

    fn postgres(&mut self, node: &Node) -> Option<PostgresConfig> {
        const CONNECTION: [&str; 5] = ["host", "port", "database", "user", "password"];
        const TUNING: [&str; 6] = [
            "sslmode",
            "sslrootcert",
            "connect_timeout",
            "statement_timeout",
            "application_name",
            "timezone",
        ];
        let allowed: Vec<&str> = CONNECTION
            .iter()
            .chain(&TUNING)
            .chain(&["url"])
            .copied()
            .collect();
        let fields = self.d.fields(node, "postgres", &allowed, &[])?;
        let mut config = match fields.get("url") {
            Some(url_node) => {
                let given: Vec<&str> = CONNECTION
                    .iter()
                    .copied()
                    .filter(|f| fields.get(f).is_some())
                    .collect();
                let at = self.d.location(url_node);
                if !given.is_empty() {
                    self.d.issue(
                        at.clone(),
                        "postgres.url",
                        format!(
                            "`url` and {} both say where to connect",
                            given
                                .iter()
                                .map(|f| format!("`{f}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        Some("give either `url`, or `host`, `port`, `database`, `user` and `password`".into()),
                    );
                }
                let url = self.text(url_node, "postgres.url")?;
                match PostgresConfig::from_url(&url) {
                    // The URL itself is not repeated: it may hold a password.
                    Ok(config) => config,
                    Err(message) => {
                        self.d.issue(at, "postgres.url", message, None);
                        return None;
                    }
                }
            }
            None => {
                for name in ["database", "user", "password"] {
                    if fields.get(name).is_none() {
                        self.d.issue(
                            fields.at.clone(),
                            &format!("postgres.{name}"),
                            format!("missing required field `{name}`"),
                            Some("or give the whole connection as `url: postgres://user:password@host:port/database`".into()),
                        );
                    }
                }
                let host = match fields.get("host") {
                    Some(_) => self.string(&fields, "postgres", "host"),
                    None => Some("localhost".to_string()),
                };
                let port = match fields.get("port") {
                    Some(n) => self.port(n),
                    None => Some(5432),
                };
                let database = self.string(&fields, "postgres", "database");
                let user = self.string(&fields, "postgres", "user");
                let password = self.string(&fields, "postgres", "password");
                let mut config = PostgresConfig::new(database?, user?, password?);
                config.host = host?;
                config.port = port?;
                config
            }
        };
        let mut ok = true;
        for name in TUNING {
            let Some(node) = fields.get(name) else {
                continue;
            };
            let field = format!("postgres.{name}");
            let at = self.d.location(node);
            let Some(value) = self.text(node, &field) else {
                ok = false;
                continue;
            };
            if let Err(message) = config.set(name, &value) {
                self.d.issue(at, &field, message, None);
                ok = false;
            }
        }
        ok.then_some(config)
    }

    fn bigquery(&mut self, node: &Node) -> Option<BigQueryConfig> {
        let fields = self.d.fields(
            node,
            "bigquery",
            &[
                "project_id",
                "dataset_id",
                "location",
                "maximum_bytes_billed",
                "job_timeout",
                "endpoint",
                "credentials_file",
            ],
            &["project_id"],
        )?;
        let mut config = BigQueryConfig::new(self.string(&fields, "bigquery", "project_id")?);
        let mut ok = true;
        let mut optional = |name: &str| -> Option<(String, Location)> {
            let node = fields.get(name)?;
            if matches!(node.value, Value::Null) {
                return None;
            }
            let at = self.d.location(node);
            match self.text(node, &format!("bigquery.{name}")) {
                Some(text) => Some((text, at)),
                None => {
                    ok = false;
                    None
                }
            }
        };
        config.dataset_id = optional("dataset_id").map(|(t, _)| t);
        config.location = optional("location").map(|(t, _)| t);
        config.endpoint = optional("endpoint").map(|(t, _)| t);
        config.credentials_file = optional("credentials_file").map(|(t, _)| PathBuf::from(t));
        let limit = optional("maximum_bytes_billed");
        let timeout = optional("job_timeout");
        if let Some((text, at)) = limit {
            match parse_bytes(&text) {
                Ok(bytes) => config.maximum_bytes_billed = Some(bytes),
                Err(message) => {
                    self.d
                        .issue(at, "bigquery.maximum_bytes_billed", message, None);
                    ok = false;
                }
            }
        }
        if let Some((text, at)) = timeout {
            match parse_duration(&text) {
                Ok(duration) => config.job_timeout = duration,
                Err(message) => {
                    self.d.issue(at, "bigquery.job_timeout", message, None);
                    ok = false;
                }
            }
        }
        ok.then_some(config)
    }

    /// A required or present string field, with `${VAR}` substituted.
    fn string(&mut self, fields: &Fields, block: &str, name: &str) -> Option<String> {
        let node = fields.get(name)?;
        self.text(node, &format!("{block}.{name}"))
    }

    /// A scalar's text with variables substituted; must not be empty.
    fn text(&mut self, node: &Node, field: &str) -> Option<String> {
        let (raw, at) = self.d.string(node, field, true)?;
        let value = match substitute(&raw, self.env) {
            Ok(value) => value,
            Err(message) => {
                self.d.issue(at, field, message, None);
                return None;
            }
        };
        if value.is_empty() {
            self.d.issue(
                at,
                field,
                format!("`{raw}` is empty after substituting variables"),
                None,
            );
            return None;
        }
        Some(value)
    }

    fn boolean(&mut self, node: &Node, field: &str) -> Option<bool> {
        if let Value::Bool(b) = node.value {
            return Some(b);
        }
        let at = self.d.location(node);
        let text = self.text(node, field)?;
        match text.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                self.d.issue(
                    at,
                    field,
                    format!("expected true or false, found `{text}`"),
                    None,
                );
                None
            }
        }
    }

    fn port(&mut self, node: &Node) -> Option<u16> {
        let at = self.d.location(node);
        let text = self.text(node, "postgres.port")?;
        match text.parse::<u16>() {
            Ok(port) if port > 0 => Some(port),
            _ => {
                self.d.issue(
                    at,
                    "postgres.port",
                    format!("`{text}` is not a port number (1-65535)"),
                    None,
                );
                None
            }
        }
    }
}

/// Replaces `${VAR}` and `${VAR:-default}` in `text`. `$$` stands for a literal `$`.
fn substitute(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let Some(body_and_tail) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let Some(end) = body_and_tail.find('}') else {
            return Err(format!(
                "`${{` without a closing `}}` in `{text}`; write `${{NAME}}`, or `$$` for a literal `$`"
            ));
        };
        let body = &body_and_tail[..end];
        let (name, default) = match body.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (body, None),
        };
        let valid_name = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err(format!(
                "`${{{body}}}` is not a variable reference; names are letters, digits and `_`"
            ));
        }
        match (env(name).filter(|v| !v.is_empty()), default) {
            (Some(value), _) => out.push_str(&value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => {
                return Err(format!(
                    "environment variable `{name}` is not set; set it, or write `${{{name}:-default}}` to give a default"
                ));
            }
        }
        rest = &body_and_tail[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "ENV" => Some("prod".into()),
            "PGPASSWORD" => Some("s3cr:et\nx: y".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn parse(text: &str) -> Result<ConnectionsConfig> {
        ConnectionsConfig::from_str_with(text, Some(Path::new("connections.yaml").into()), env)
    }

    #[test]
    fn defaults_and_substitution() {
        let config = parse(
            "duckdb:\n  path: data/db_${ENV}.duckdb\npostgres:\n  database: ${MISSING:-analytics}\n  user: me\n  password: ${PGPASSWORD}\nbigquery:\n  project_id: p-${ENV}\n",
        )
        .unwrap();
        assert_eq!(
            config.backends,
            vec![
                BackendConfig::DuckDb(DuckDbConfig::new("data/db_prod.duckdb")),
                BackendConfig::Postgres(PostgresConfig::new("analytics", "me", "s3cr:et\nx: y")),
                BackendConfig::BigQuery(BigQueryConfig::new("p-prod")),
            ]
        );
        assert!(!format!("{:?}", config.backends[1]).contains("s3cr"));
    }

    #[test]
    fn unset_variables_name_the_variable_and_line() {
        let err = parse("duckdb:\n  path: ${NOPE}/x.db\n").unwrap_err();
        let text = err.to_string();
        assert_eq!(err.kind(), crate::ErrorKind::Configuration);
        assert!(
            text.starts_with("connections.yaml:2:9: duckdb.path:"),
            "{text}"
        );
        assert!(text.contains("`NOPE` is not set"), "{text}");
        assert!(
            parse("duckdb:\n  path: ${EMPTY}\n")
                .unwrap_err()
                .to_string()
                .contains("`EMPTY`")
        );
        assert!(parse("duckdb:\n  path: ${ENV\n").is_err());
        assert_eq!(substitute("a$$b$x", &env).unwrap(), "a$b$x");
    }

    #[test]
    fn unknown_backends_fields_and_bad_values_are_errors() {
        let err = parse("duckdb:\n  path: x.db\n  readonly: true\nduckd:\n  path: y\npostgres:\n  port: 99999\n  user: u\n")
            .unwrap_err()
            .to_string();
        for fragment in [
            "unknown field `readonly` (did you mean `read_only`?)",
            "unknown backend `duckd` (did you mean `duckdb`?)",
            "not a port number",
            "missing required field `database`",
            "missing required field `password`",
        ] {
            assert!(err.contains(fragment), "{fragment} not in:\n{err}");
        }
        assert!(parse("duckdb:\n  read_only: maybe\n  path: a\n").is_err());
        assert!(parse("").unwrap().backends.is_empty());
    }
}
