//! `connections.yaml`: one block per backend, with exactly the documented fields.
//!
//! ```yaml
//! duckdb:
//!   path: data/analytics.db      # required: a file, or ":memory:"
//!   read_only: false             # default false
//! postgres:
//!   host: localhost              # default localhost
//!   port: 5432                   # default 5432
//!   database: mydb               # required
//!   user: analyst                # required
//!   password: ${PGPASSWORD}      # required
//! bigquery:
//!   project_id: my-project       # required
//!   dataset_id: analytics        # optional
//! ```
//!
//! `${VAR}` in any string value is replaced by the environment variable `VAR` (and
//! `${VAR:-default}` by `default` when `VAR` is unset or empty). Substitution happens after the
//! YAML is parsed, so a variable's value can never change the file's structure. An unset
//! variable without a default is an error naming the variable and where it is used.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Location, Result, SpecIssue};
use crate::source::BackendKind;
use crate::yaml::{self, Decoder, Fields, Node, Value};

/// DuckDB connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuckDbConfig {
    /// A database file, or `:memory:`. Relative paths resolve as described in
    /// [`ConnectionManager`](crate::ConnectionManager).
    pub path: String,
    /// Open the database read-only.
    pub read_only: bool,
}

/// PostgreSQL connection settings.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// Server host (default `localhost`).
    pub host: String,
    /// Server port (default 5432).
    pub port: u16,
    /// Database name.
    pub database: String,
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// BigQuery connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BigQueryConfig {
    /// The default project (a source URI's project overrides it).
    pub project_id: String,
    /// The default dataset.
    pub dataset_id: Option<String>,
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
            read_only: read_only?,
        })
    }

    fn postgres(&mut self, node: &Node) -> Option<PostgresConfig> {
        let fields = self.d.fields(
            node,
            "postgres",
            &["host", "port", "database", "user", "password"],
            &["database", "user", "password"],
        )?;
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
        Some(PostgresConfig {
            host: host?,
            port: port?,
            database: database?,
            user: user?,
            password: password?,
        })
    }

    fn bigquery(&mut self, node: &Node) -> Option<BigQueryConfig> {
        let fields = self.d.fields(
            node,
            "bigquery",
            &["project_id", "dataset_id"],
            &["project_id"],
        )?;
        let project_id = self.string(&fields, "bigquery", "project_id");
        let dataset_id = match fields.get("dataset_id") {
            Some(n) if matches!(n.value, Value::Null) => Some(None),
            Some(_) => self.string(&fields, "bigquery", "dataset_id").map(Some),
            None => Some(None),
        };
        Some(BigQueryConfig {
            project_id: project_id?,
            dataset_id: dataset_id?,
        })
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
                BackendConfig::DuckDb(DuckDbConfig {
                    path: "data/db_prod.duckdb".into(),
                    read_only: false
                }),
                BackendConfig::Postgres(PostgresConfig {
                    host: "localhost".into(),
                    port: 5432,
                    database: "analytics".into(),
                    user: "me".into(),
                    password: "s3cr:et\nx: y".into(),
                }),
                BackendConfig::BigQuery(BigQueryConfig {
                    project_id: "p-prod".into(),
                    dataset_id: None
                }),
            ]
        );
        assert!(!format!("{:?}", config.backends[1]).contains("s3cr"));
    }

    #[test]
    fn unset_variables_name_the_variable_and_line() {
        let err = parse("duckdb:\n  path: ${NOPE}/x.db\n").unwrap_err();
        let text = err.to_string();
        assert_eq!(err.kind(), "ConfigurationError");
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
