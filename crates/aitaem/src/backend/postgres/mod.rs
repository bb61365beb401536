//! PostgreSQL: the native client on the shared runtime, TLS by rustls, results read from the
//! binary COPY protocol straight into Arrow. The client (`client`, `copy`, `tls`) needs the
//! `postgres` feature.
//!
//! Source URIs: `postgres://SCHEMA/TABLE`, or `postgres:///TABLE` for the server's search path.
//!
//! ```yaml
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
//! ```

#[cfg(feature = "postgres")]
mod client;
#[cfg(feature = "postgres")]
mod copy;
mod dialect;
#[cfg(feature = "postgres")]
mod tls;

use std::any::Any;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{Backend, BackendKind, Driver, Opening};
use crate::config::paths::PathResolver;
use crate::config::values::{parse_duration, parse_port, split_host_port};
use crate::config::{BackendConfig, Settings, SettingsReader};
use crate::error::Result;
use crate::source::{Source, TableName};
use crate::sql::Dialect;

impl BackendKind {
    /// PostgreSQL.
    pub const POSTGRES: BackendKind = BackendKind(&PostgresDriver);
}

/// PostgreSQL connection settings.
///
/// The password never appears in `Debug` output or in error messages.
///
/// ```
/// use aitaem::backend::postgres::{PostgresConfig, SslMode};
/// let config = PostgresConfig::new("sales", "ana", "secret").with_host("db.example.com").with_sslmode(SslMode::VerifyFull);
/// assert_eq!((config.host(), config.port(), config.sslmode()), ("db.example.com", 5432, SslMode::VerifyFull));
/// assert!(!format!("{config:?}").contains("secret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    host: String,
    port: u16,
    database: String,
    user: String,
    password: String,
    sslmode: SslMode,
    sslrootcert: Option<PathBuf>,
    connect_timeout: Duration,
    statement_timeout: Option<Duration>,
    application_name: String,
    timezone: String,
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
    /// use aitaem::backend::postgres::{PostgresConfig, SslMode};
    /// let config = PostgresConfig::from_url("postgres://ana:p%40ss@db.example.com:6543/sales?sslmode=verify-full").unwrap();
    /// assert_eq!((config.host(), config.port(), config.database()), ("db.example.com", 6543, "sales"));
    /// assert_eq!((config.user(), config.password()), ("ana", "p@ss"));
    /// assert_eq!(config.sslmode(), SslMode::VerifyFull);
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
        let (host, port) = split_host_port(address)?;
        if let Some(port) = port {
            config.port = parse_port(port)?;
        }
        if !host.is_empty() {
            config.host = decode(host)?;
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

    /// The same settings with another server host (a path starting with `/` is the directory
    /// of the server's Unix socket).
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// The same settings with another server port.
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The same settings with another `sslmode`.
    pub fn with_sslmode(mut self, mode: SslMode) -> Self {
        self.sslmode = mode;
        self
    }

    /// Server host (default `localhost`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Server port (default 5432).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Database name.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// User name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Password (empty when the server needs none).
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Whether and how the connection is encrypted (default `prefer`).
    pub fn sslmode(&self) -> SslMode {
        self.sslmode
    }

    /// A file of trusted root certificates (PEM) for `verify-ca` and `verify-full`, instead of
    /// the system's.
    pub fn sslrootcert(&self) -> Option<&std::path::Path> {
        self.sslrootcert.as_deref()
    }

    /// How long connecting may take (default 10 s).
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// How long one statement may run on the server (default: no limit).
    pub fn statement_timeout(&self) -> Option<Duration> {
        self.statement_timeout
    }

    /// The name the server shows for the connection (default `aitaem`).
    pub fn application_name(&self) -> &str {
        &self.application_name
    }

    /// The session's time zone, in which `timestamptz` columns are truncated to periods
    /// (default `UTC`).
    pub fn timezone(&self) -> &str {
        &self.timezone
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
                    "unknown URL parameter `{other}`; use {}",
                    TUNING.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// The settings that say where to connect, instead of `url`.
const CONNECTION: [&str; 5] = ["host", "port", "database", "user", "password"];

/// The settings that tune a connection, in `connections.yaml` and as URL parameters.
const TUNING: [&str; 6] = [
    "sslmode",
    "sslrootcert",
    "connect_timeout",
    "statement_timeout",
    "application_name",
    "timezone",
];

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

impl Settings for PostgresConfig {
    fn backend(&self) -> BackendKind {
        BackendKind::POSTGRES
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn same(&self, other: &dyn Settings) -> bool {
        other.as_any().downcast_ref() == Some(self)
    }
}

impl From<PostgresConfig> for BackendConfig {
    fn from(config: PostgresConfig) -> Self {
        BackendConfig::new(config)
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
    const ALL: [SslMode; 5] = [
        SslMode::Disable,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ];

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
        SslMode::ALL
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

struct PostgresDriver;

impl Driver for PostgresDriver {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["postgresql"]
    }

    fn title(&self) -> &'static str {
        "PostgreSQL"
    }

    fn parse_source(&self, rest: &str) -> std::result::Result<Source, String> {
        let Some((schema, table)) = rest.split_once('/') else {
            return Err(
                "write `postgres://schema/table`, or `postgres:///table` for the server's default schema"
                    .into(),
            );
        };
        if schema.contains('@') || schema.contains(':') {
            return Err(
                "this looks like a connection URL; a source names a table (`postgres://schema/table`), and the server is configured in connections.yaml"
                    .into(),
            );
        }
        // The table's name as written: it is quoted in statements, so it may hold any
        // character but `/` (`postgres://public/my.weird.table` is the table `my.weird.table`).
        if table.is_empty() || table.contains('/') {
            return Err(format!(
                "`{table}` is not a table name: write `postgres://schema/table` or `postgres:///table`"
            ));
        }
        let schema = (!schema.is_empty()).then(|| schema.to_string());
        Ok(Source::Table(TableName::new(None, schema, table)))
    }

    fn database_and_table(&self, source: &Source) -> (String, String) {
        match source {
            Source::Table(table) => (
                table.schema().unwrap_or_default().to_string(),
                table.name().to_string(),
            ),
            other => (String::new(), format!("{other:?}")),
        }
    }

    fn settings(&self, block: &mut SettingsReader) -> Option<BackendConfig> {
        let allowed: Vec<&str> = CONNECTION
            .iter()
            .chain(&TUNING)
            .chain(&["url"])
            .copied()
            .collect();
        if !block.fields(&allowed, &[]) {
            return None;
        }
        let mut config = if block.has("url") {
            let given: Vec<String> = CONNECTION
                .iter()
                .filter(|f| block.has(f))
                .map(|f| format!("`{f}`"))
                .collect();
            if !given.is_empty() {
                block.issue(
                    "url",
                    format!("`url` and {} both say where to connect", given.join(", ")),
                    Some(
                        "give either `url`, or `host`, `port`, `database`, `user` and `password`"
                            .into(),
                    ),
                );
            }
            // The URL itself is not repeated in a message: it may hold a password.
            block.parse("url", PostgresConfig::from_url)?
        } else {
            for name in ["database", "user", "password"] {
                if !block.has(name) {
                    block.issue(
                        name,
                        format!("missing required field `{name}`"),
                        Some("or give the whole connection as `url: postgres://user:password@host:port/database`".into()),
                    );
                }
            }
            let host = block.text("host");
            let port = block.parse("port", parse_port);
            let database = block.text("database");
            let user = block.text("user");
            let password = block.text("password");
            let mut config = PostgresConfig::new(database?, user?, password?);
            if let Some(host) = host {
                config.host = host;
            }
            if let Some(port) = port {
                config.port = port;
            }
            config
        };
        for name in TUNING {
            block.parse(name, |value| config.set(name, value));
        }
        Some(config.into())
    }

    fn how_to_configure(&self) -> &'static str {
        "add `postgres:` with `database`, `user` and `password` to connections.yaml"
    }

    fn dialect(&self) -> &'static dyn Dialect {
        &dialect::PostgresDialect
    }

    fn open(
        &self,
        config: &BackendConfig,
        paths: &PathResolver,
        opening: Opening,
    ) -> Result<Arc<dyn Backend>> {
        let settings: &PostgresConfig = config.get().expect("PostgreSQL settings");
        let _ = opening;
        #[cfg(feature = "postgres")]
        return Ok(Arc::new(client::Postgres::open(settings, paths)?));
        #[cfg(not(feature = "postgres"))]
        {
            let _ = (settings, paths);
            Err(super::not_built(BackendKind::POSTGRES))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceUri;

    #[test]
    fn uri_forms() {
        let parse = |uri: &str| SourceUri::parse(uri).unwrap().source().clone();
        assert_eq!(
            parse("postgres://public/events"),
            Source::Table(TableName::new(None, Some("public".into()), "events"))
        );
        assert_eq!(
            parse("postgresql:///events"),
            Source::Table(TableName::new(None, None, "events"))
        );
        assert_eq!(
            parse("postgres://public/my.weird.table"),
            Source::Table(TableName::new(
                None,
                Some("public".into()),
                "my.weird.table"
            ))
        );
        for (uri, fragment) in [
            ("postgres://events", "postgres://schema/table"),
            ("postgres://u:pw@host:5432/db", "connection URL"),
            ("postgres://public/a/b", "not a table name"),
        ] {
            let err = SourceUri::parse(uri).unwrap_err().to_string();
            assert!(err.contains(fragment), "{uri}: {err}");
        }
    }
}
