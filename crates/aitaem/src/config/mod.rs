//! `connections.yaml`: one block per backend, each with exactly the fields its backend
//! documents.
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
//! Each backend reads its own block (its settings types are in its module of
//! [`crate::backend`]). `${VAR}` in any string value is replaced by the environment variable
//! `VAR` (and `${VAR:-default}` by `default` when `VAR` is unset or empty). Substitution happens
//! after the YAML is parsed, so a variable's value can never change the file's structure. An
//! unset variable without a default is an error naming the variable and where it is used.

use std::any::Any;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) mod paths;
mod reader;
pub(crate) mod values;

pub(crate) use reader::SettingsReader;

use crate::backend::{self, BackendKind};
use crate::error::{Error, Result, SpecIssue};
use crate::yaml::{self, Decoder, Location, Node, Value};

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

/// What every backend's settings type is to the rest of the library.
pub(crate) trait Settings: fmt::Debug + Send + Sync + 'static {
    /// The backend the settings are for.
    fn backend(&self) -> BackendKind;

    /// The local database file the settings name, as written (`None` for servers and
    /// in-memory databases).
    fn local_file(&self) -> Option<&str> {
        None
    }

    fn as_any(&self) -> &dyn Any;

    /// Whether `other` is the same backend with the same settings.
    fn same(&self, other: &dyn Settings) -> bool;
}

/// The settings of one backend's connection: a [`DuckDbConfig`](crate::backend::duckdb::DuckDbConfig),
/// [`PostgresConfig`](crate::backend::postgres::PostgresConfig) or
/// [`BigQueryConfig`](crate::backend::bigquery::BigQueryConfig), which convert into it.
///
/// ```
/// use aitaem::backend::{BackendKind, duckdb::DuckDbConfig};
/// use aitaem::config::BackendConfig;
/// let config = BackendConfig::from(DuckDbConfig::new("analytics.db"));
/// assert_eq!(config.backend(), BackendKind::DUCKDB);
/// assert_eq!(config.get::<DuckDbConfig>().unwrap().path(), "analytics.db");
/// ```
#[derive(Clone)]
pub struct BackendConfig(Arc<dyn Settings>);

impl BackendConfig {
    pub(crate) fn new(settings: impl Settings) -> Self {
        BackendConfig(Arc::new(settings))
    }

    /// The backend these settings are for.
    pub fn backend(&self) -> BackendKind {
        self.0.backend()
    }

    /// The settings as their backend's own type, when they are of type `T`.
    pub fn get<T: 'static>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref()
    }

    /// The local database file the settings name, as written (`None` for servers and
    /// in-memory databases).
    pub fn local_file(&self) -> Option<&str> {
        self.0.local_file()
    }

    /// The settings of a backend from name–value pairs: the fields of its block of
    /// `connections.yaml`, with `${VAR}` substituted by `env`. For programs that take settings
    /// from elsewhere (the Python package's `add_connection(**settings)`).
    ///
    /// ```
    /// use aitaem::backend::postgres::PostgresConfig;
    /// use aitaem::config::{BackendConfig, SettingValue};
    /// let config = BackendConfig::from_settings(
    ///     "postgres",
    ///     [("database", SettingValue::from("sales")), ("user", "ana".into()), ("password", "${PW}".into()), ("port", 6543.into())],
    ///     |name| (name == "PW").then(|| "secret".to_string()),
    /// )
    /// .unwrap();
    /// let postgres = config.get::<PostgresConfig>().unwrap();
    /// assert_eq!((postgres.database(), postgres.port(), postgres.password()), ("sales", 6543, "secret"));
    /// let settings = [("database", SettingValue::from("sales")), ("user", "ana".into()), ("password", "pw".into()), ("port", 0.into())];
    /// let err = BackendConfig::from_settings("postgres", settings, |_| None).unwrap_err();
    /// assert!(err.to_string().starts_with("postgres connection: postgres.port: `0` is not a port number"), "{err}");
    /// ```
    pub fn from_settings<K: Into<String>>(
        backend: &str,
        settings: impl IntoIterator<Item = (K, SettingValue)>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<BackendConfig> {
        let Some(kind) = BackendKind::from_name(backend) else {
            return Err(unsupported(backend));
        };
        let block = unplaced(Value::Map(
            settings
                .into_iter()
                .map(|(name, value)| (unplaced(Value::Str(name.into())), unplaced(value.into())))
                .collect(),
        ));
        let mut d = Decoder::new(None, "");
        let config = SettingsReader::new(&mut d, &env, &block, kind.name()).read(kind);
        if !d.issues.is_empty() {
            // The positions would point into text nobody wrote.
            let message = issue_text(&d.issues, false);
            return Err(Error::config(
                None,
                format!("{backend} connection: {message}"),
            ));
        }
        config.ok_or_else(|| Error::config(None, format!("{backend} connection: invalid settings")))
    }
}

impl fmt::Debug for BackendConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialEq for BackendConfig {
    fn eq(&self, other: &Self) -> bool {
        self.0.same(other.0.as_ref())
    }
}

/// A setting's value given by a program (see [`BackendConfig::from_settings`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SettingValue {
    /// No value (as `~` in YAML).
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A number.
    Float(f64),
    /// Text.
    Text(String),
}

impl From<&str> for SettingValue {
    fn from(text: &str) -> Self {
        SettingValue::Text(text.to_string())
    }
}

impl From<String> for SettingValue {
    fn from(text: String) -> Self {
        SettingValue::Text(text)
    }
}

impl From<bool> for SettingValue {
    fn from(value: bool) -> Self {
        SettingValue::Bool(value)
    }
}

impl From<i64> for SettingValue {
    fn from(value: i64) -> Self {
        SettingValue::Int(value)
    }
}

impl From<i32> for SettingValue {
    fn from(value: i32) -> Self {
        SettingValue::Int(value.into())
    }
}

impl From<f64> for SettingValue {
    fn from(value: f64) -> Self {
        SettingValue::Float(value)
    }
}

impl From<SettingValue> for Value {
    fn from(value: SettingValue) -> Value {
        match value {
            SettingValue::Null => Value::Null,
            SettingValue::Bool(b) => Value::Bool(b),
            SettingValue::Int(i) => Value::Int(i.into()),
            SettingValue::Float(f) => Value::Float(f),
            SettingValue::Text(t) => Value::Str(t),
        }
    }
}

/// A value written nowhere.
fn unplaced(value: Value) -> Node {
    let nowhere = serde_saphyr::Location::UNKNOWN;
    Node::new(value, nowhere, nowhere)
}

/// A parsed `connections.yaml`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConnectionsConfig {
    backends: Vec<BackendConfig>,
    file: Option<PathBuf>,
    store: Option<StoreSettings>,
}

/// The `store:` block: a result store for every compute with these connections (see
/// [`crate::Store`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoreSettings {
    /// Its directory, as written (relative to the connections file).
    pub path: String,
    /// How far before an entry's latest period a refresh reads again.
    pub lookback: Option<std::time::Duration>,
    /// The lookbacks of single sources (`source_lookback:`), by source as the specs write it.
    pub source_lookback: Vec<(String, std::time::Duration)>,
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
        ConnectionsConfig::from_str_with(&text, Some(path.into()), |name| std::env::var(name).ok())
    }

    /// Parses connections YAML, looking variables up with `env` (for tests and embedding).
    /// `file` is where the text was read from: messages name it, and relative paths resolve
    /// next to it.
    ///
    /// ```
    /// use aitaem::backend::duckdb::DuckDbConfig;
    /// use aitaem::config::ConnectionsConfig;
    /// let config = ConnectionsConfig::from_str_with(
    ///     "duckdb:\n  path: db_${ENV}.duckdb\n",
    ///     None,
    ///     |name| (name == "ENV").then(|| "prod".to_string()),
    /// )
    /// .unwrap();
    /// assert_eq!(config.backends()[0].get::<DuckDbConfig>().unwrap().path(), "db_prod.duckdb");
    /// ```
    pub fn from_str_with(
        text: &str,
        file: Option<Arc<Path>>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ConnectionsConfig> {
        let root = yaml::parse(text, &file).map_err(|issue| issue_error(vec![issue], None))?;
        let path = file.as_deref().map(Path::to_path_buf);
        let mut d = Decoder::new(file, text);
        let mut unknown = None;
        let mut store = None;
        let backends = document(&mut d, &env, &root, &mut unknown, &mut store);
        if !d.issues.is_empty() {
            return Err(issue_error(d.issues, unknown));
        }
        Ok(ConnectionsConfig {
            backends,
            file: path,
            store,
        })
    }

    /// The `store:` block, when there is one:
    ///
    /// ```
    /// use aitaem::config::ConnectionsConfig;
    /// let config = ConnectionsConfig::from_str_with("store:\n  path: .aitaem-store\n  lookback: 48h\n", None, |_| None).unwrap();
    /// let store = config.store().unwrap();
    /// assert_eq!((store.path.as_str(), store.lookback.unwrap().as_secs()), (".aitaem-store", 48 * 3600));
    /// let short = ConnectionsConfig::from_str_with("store: .aitaem-store\n", None, |_| None).unwrap();
    /// assert_eq!(short.store().unwrap().path, ".aitaem-store");
    /// ```
    pub fn store(&self) -> Option<&StoreSettings> {
        self.store.as_ref()
    }

    /// The backends configured, in file order.
    pub fn backends(&self) -> &[BackendConfig] {
        &self.backends
    }

    /// The file it was read from.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    pub(crate) fn into_parts(self) -> (Vec<BackendConfig>, Option<PathBuf>, Option<StoreSettings>) {
        (self.backends, self.file, self.store)
    }
}

/// Reads the document: a block per backend. The first unknown backend's name goes to `unknown`.
fn document(
    d: &mut Decoder,
    env: &dyn Fn(&str) -> Option<String>,
    root: &Node,
    unknown: &mut Option<String>,
    store: &mut Option<StoreSettings>,
) -> Vec<BackendConfig> {
    let names: Vec<&str> = backend::backends().map(BackendKind::name).collect();
    let entries = match &root.value {
        Value::Null => return Vec::new(),
        Value::Map(entries) => entries,
        other => {
            let at = d.location(root);
            let blocks: Vec<String> = names.iter().map(|n| format!("`{n}:`")).collect();
            d.issue(
                at,
                "",
                format!(
                    "expected a mapping of backends, found {}",
                    other.type_name()
                ),
                Some(format!("write {} blocks", blocks.join(", "))),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (key, body) in entries {
        let name = key.value.scalar_text().unwrap_or_default();
        if name == "store" {
            *store = store_settings(d, env, body);
            continue;
        }
        match backend::backends().find(|b| b.name() == name) {
            Some(kind) => out.extend(SettingsReader::new(d, env, body, kind.name()).read(kind)),
            None => {
                let at = d.location(key);
                let close = crate::error::close_names(&name, names.iter().copied());
                let help = match close.first() {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!("the backends are {}", backend::names()),
                };
                d.issue(at, "", format!("unknown backend `{name}`"), Some(help));
                unknown.get_or_insert(name);
            }
        }
    }
    out
}

/// The `store:` block: a directory, or a mapping with `path`, `lookback` and
/// `source_lookback`.
fn store_settings(
    d: &mut Decoder,
    env: &dyn Fn(&str) -> Option<String>,
    body: &Node,
) -> Option<StoreSettings> {
    if !matches!(body.value, Value::Map(_)) {
        let (raw, at) = d.string(body, "store", true)?;
        return match substitute(&raw, env) {
            Ok(path) => Some(StoreSettings {
                path,
                lookback: None,
                source_lookback: Vec::new(),
            }),
            Err(message) => {
                d.issue(at, "store", message, None);
                None
            }
        };
    }
    let mut reader = SettingsReader::new(d, env, body, "store");
    if !reader.fields(&["path", "lookback", "source_lookback"], &["path"]) {
        return None;
    }
    let path = reader.text("path");
    let lookback = reader.parse("lookback", values::parse_duration);
    let mut source_lookback = Vec::new();
    for (source, text) in reader.mapping("source_lookback").unwrap_or_default() {
        match values::parse_duration(&text) {
            Ok(lookback) => source_lookback.push((source, lookback)),
            Err(message) => reader.issue("source_lookback", format!("{source}: {message}"), None),
        }
    }
    Some(StoreSettings {
        path: path?,
        lookback,
        source_lookback,
    })
    .filter(|_| reader.ok())
}

/// The issues as one message: the first without its location (the error carries it), the
/// others with theirs (when `placed`).
fn issue_text(issues: &[SpecIssue], placed: bool) -> String {
    issues
        .iter()
        .enumerate()
        .map(|(i, issue)| {
            let mut line = String::new();
            if i > 0 && placed {
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
        .join("\n")
}

/// The error for a connections file's issues: an `UnsupportedBackend` error when a block names
/// an unknown backend, a `Configuration` error otherwise.
fn issue_error(issues: Vec<SpecIssue>, unknown: Option<String>) -> Error {
    let location = issues.first().map(|i| i.location.clone());
    let message = issue_text(&issues, true);
    match unknown {
        Some(backend) => Error::UnsupportedBackend {
            backend,
            message: match &location {
                Some(at) => format!("{at}: {message}"),
                None => message,
            },
        },
        None => Error::Configuration { location, message },
    }
}

/// The error for a backend name no backend has.
fn unsupported(backend: &str) -> Error {
    Error::UnsupportedBackend {
        backend: backend.to_string(),
        message: format!(
            "unsupported backend `{backend}`; supported backends are {}",
            backend::names()
        ),
    }
}

/// Replaces `${VAR}` and `${VAR:-default}` in `text`. `$$` stands for a literal `$`.
pub(crate) fn substitute(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> std::result::Result<String, String> {
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
    use crate::backend::bigquery::BigQueryConfig;
    use crate::backend::duckdb::DuckDbConfig;
    use crate::backend::postgres::PostgresConfig;

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
            config.backends(),
            [
                BackendConfig::from(DuckDbConfig::new("data/db_prod.duckdb")),
                BackendConfig::from(PostgresConfig::new("analytics", "me", "s3cr:et\nx: y")),
                BackendConfig::from(BigQueryConfig::new("p-prod")),
            ]
        );
        assert!(!format!("{:?}", config.backends()[1]).contains("s3cr"));
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
    fn unknown_fields_and_bad_values_are_errors() {
        let err =
            parse("duckdb:\n  path: x.db\n  readonly: true\npostgres:\n  port: 99999\n  user: u\n")
                .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Configuration);
        let err = err.to_string();
        for fragment in [
            "unknown field `readonly` (did you mean `read_only`?)",
            "not a port number",
            "missing required field `database`",
            "missing required field `password`",
        ] {
            assert!(err.contains(fragment), "{fragment} not in:\n{err}");
        }
        assert!(parse("duckdb:\n  read_only: maybe\n  path: a\n").is_err());
        assert!(parse("").unwrap().backends().is_empty());
    }

    #[test]
    fn the_store_block_and_its_mistakes() {
        let config = parse("store:\n  path: ${DIR}/store\n  lookback: 2d\n").unwrap_err();
        assert!(config.to_string().contains("DIR"), "{config}");
        let err =
            parse("duckdb:\n  path: x.db\nstore:\n  path: s\n  lookbak: 1h\n  lookback: soon\n")
                .unwrap_err()
                .to_string();
        for fragment in [
            "5:3: store.lookbak: unknown field `lookbak`",
            "6:13: store.lookback: `soon` is not a duration",
        ] {
            assert!(err.contains(fragment), "{fragment} not in:\n{err}");
        }
        let config = parse("store:\n  path: s\n  lookback: 2d\n").unwrap();
        assert_eq!(
            config.store().unwrap().lookback,
            Some(std::time::Duration::from_secs(2 * 86400))
        );
        assert!(config.backends().is_empty());

        let config =
            parse("store:\n  path: s\n  source_lookback:\n    postgres://public/orders: 3d\n")
                .unwrap();
        assert_eq!(
            config.store().unwrap().source_lookback,
            [(
                "postgres://public/orders".to_string(),
                std::time::Duration::from_secs(3 * 86400)
            )]
        );
        let err = parse("store:\n  path: s\n  source_lookback:\n    duckdb://events: later\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("store.source_lookback: duckdb://events: `later` is not a duration"),
            "{err}"
        );
    }

    /// As the original library, which raises `UnsupportedBackendError` for such a file.
    #[test]
    fn an_unknown_backend_is_an_unsupported_backend_error() {
        let err = parse("duckdb:\n  path: x.db\nduckd:\n  path: y\n").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::UnsupportedBackend);
        assert_eq!(
            err.to_string(),
            "connections.yaml:3:1: unknown backend `duckd` (did you mean `duckdb`?)"
        );
        let err = BackendConfig::from_settings("mysql", [("a", SettingValue::Null)], |_| None)
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::UnsupportedBackend);
    }
}
