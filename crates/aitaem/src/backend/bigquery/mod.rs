//! BigQuery: Google's client on the shared runtime; also talks to emulators. The client
//! (`client`, `auth`, `convert`) needs the `bigquery` feature.
//!
//! Source URIs: `bigquery://PROJECT.DATASET.TABLE`, `bigquery://PROJECT/DATASET.TABLE`,
//! `bigquery://PROJECT/DATASET/TABLE`, `bigquery://PROJECT.DATASET/TABLE`, or
//! `bigquery://DATASET.TABLE` in the connection's project.
//!
//! ```yaml
//! bigquery:
//!   project_id: my-project       # required: runs and pays for the queries
//!   dataset_id: analytics        # optional default dataset
//!   location: EU                 # optional job location
//!   maximum_bytes_billed: 10GB   # a query that would bill more fails (default: no limit)
//!   job_timeout: 10min           # default 10 min
//!   endpoint: http://127.0.0.1:9050  # an emulator or private endpoint (also BIGQUERY_EMULATOR_HOST)
//!   credentials_file: key.json   # instead of Application Default Credentials
//! ```

#[cfg(feature = "bigquery")]
mod auth;
#[cfg(feature = "bigquery")]
mod client;
#[cfg(feature = "bigquery")]
mod convert;
mod dialect;

use std::any::Any;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{Backend, BackendKind, Driver, Opening};
use crate::config::paths::PathResolver;
use crate::config::values::{parse_bytes, parse_duration};
use crate::config::{BackendConfig, Settings, SettingsReader};
use crate::error::Result;
use crate::source::{Source, TableName};
use crate::sql::Dialect;

impl BackendKind {
    /// Google BigQuery.
    pub const BIGQUERY: BackendKind = BackendKind(&BigQueryDriver);
}

/// BigQuery connection settings.
///
/// ```
/// use aitaem::backend::bigquery::BigQueryConfig;
/// let config = BigQueryConfig::new("my-project").with_endpoint("http://127.0.0.1:9050");
/// assert_eq!((config.project_id(), config.endpoint()), ("my-project", Some("http://127.0.0.1:9050")));
/// assert_eq!(config.job_timeout().as_secs(), 600);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BigQueryConfig {
    project_id: String,
    dataset_id: Option<String>,
    location: Option<String>,
    maximum_bytes_billed: Option<u64>,
    job_timeout: Duration,
    endpoint: Option<String>,
    credentials_file: Option<PathBuf>,
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

    /// The same settings with a default dataset.
    pub fn with_dataset(mut self, dataset: impl Into<String>) -> Self {
        self.dataset_id = Some(dataset.into());
        self
    }

    /// The same settings, sending requests to an emulator or private endpoint.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The project that runs (and is billed for) the queries, and the default project of
    /// sources that name none.
    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// The default dataset.
    pub fn dataset_id(&self) -> Option<&str> {
        self.dataset_id.as_deref()
    }

    /// Where jobs run (`US`, `EU`, `europe-west1`, ...); by default where the data is.
    pub fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }

    /// A query that would bill more bytes fails instead of running (default: no limit).
    pub fn maximum_bytes_billed(&self) -> Option<u64> {
        self.maximum_bytes_billed
    }

    /// How long one query job may run (default 10 min).
    pub fn job_timeout(&self) -> Duration {
        self.job_timeout
    }

    /// A base URL (`http://127.0.0.1:9050`) or `host:port` to send requests to instead of
    /// Google's, for emulators and private endpoints; credentials are then anonymous unless
    /// `credentials_file` is given. `BIGQUERY_EMULATOR_HOST` sets it too.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// A service-account or authorized-user JSON key file, instead of Application Default
    /// Credentials.
    pub fn credentials_file(&self) -> Option<&std::path::Path> {
        self.credentials_file.as_deref()
    }
}

impl Settings for BigQueryConfig {
    fn backend(&self) -> BackendKind {
        BackendKind::BIGQUERY
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn same(&self, other: &dyn Settings) -> bool {
        other.as_any().downcast_ref() == Some(self)
    }
}

impl From<BigQueryConfig> for BackendConfig {
    fn from(config: BigQueryConfig) -> Self {
        BackendConfig::new(config)
    }
}

/// The accepted URI forms, for errors.
const FORMS: &str = "write `bigquery://project.dataset.table`, `bigquery://project/dataset.table`, `bigquery://project/dataset/table`, or `bigquery://dataset.table` for the connection's project";

/// The project, dataset and table a URI names.
fn parts(rest: &str) -> std::result::Result<(Option<String>, &str, &str), String> {
    fn dotted(text: &str) -> Vec<&str> {
        text.split('.').collect()
    }
    Ok(match rest.split('/').collect::<Vec<_>>().as_slice() {
        // project/dataset/table
        [project, dataset, table] => (Some(project.to_string()), *dataset, *table),
        // project/dataset.table, or project.dataset/table
        [left, right] => match (dotted(left).as_slice(), dotted(right).as_slice()) {
            (_, [dataset, table]) => (Some(left.to_string()), *dataset, *table),
            (parts, [table]) if parts.len() >= 2 => {
                let (dataset, project) = parts.split_last().expect("two or more");
                (Some(project.join(".")), *dataset, *table)
            }
            _ => return Err(format!("`{rest}` names no dataset and table; {FORMS}")),
        },
        // [project.]dataset.table
        [path] => {
            let parts = dotted(path);
            let n = parts.len();
            if n < 2 {
                return Err(format!(
                    "a BigQuery source names a dataset and a table, and optionally a project first; {FORMS}"
                ));
            }
            if n == 2 {
                (None, parts[0], parts[1])
            } else if parts[..n - 2].iter().any(|p| p.contains(':')) {
                // A domain-scoped project (`example.com:project`) holds dots itself.
                (Some(parts[..n - 2].join(".")), parts[n - 2], parts[n - 1])
            } else {
                // project.dataset.table, the rest of the dots in the table (as the original
                // library reads it).
                let mut split = path.splitn(3, '.');
                let (project, dataset) = (split.next(), split.next());
                let table = split.next().unwrap_or_default();
                (
                    project.map(String::from),
                    dataset.unwrap_or_default(),
                    table,
                )
            }
        }
        _ => return Err(format!("`{rest}` has too many `/`; {FORMS}")),
    })
}

struct BigQueryDriver;

impl Driver for BigQueryDriver {
    fn name(&self) -> &'static str {
        "bigquery"
    }

    fn title(&self) -> &'static str {
        "BigQuery"
    }

    fn parse_source(&self, rest: &str) -> std::result::Result<Source, String> {
        let (project, dataset, table) = parts(rest)?;
        if project.as_deref() == Some("") || dataset.is_empty() || table.is_empty() {
            return Err(format!("empty project, dataset or table; {FORMS}"));
        }
        if let Some(project) = &project
            && !project
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '_'))
        {
            return Err(format!(
                "`{project}` is not a project ID (letters, digits, `-`, and `.`/`:` for domain-scoped projects)"
            ));
        }
        if !dataset
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(format!(
                "`{dataset}` is not a dataset name (letters, digits and `_`)"
            ));
        }
        if table.contains('`') {
            return Err(format!("`{table}` is not a table name"));
        }
        Ok(Source::Table(TableName::new(
            project,
            Some(dataset.to_string()),
            table,
        )))
    }

    fn database_and_table(&self, source: &Source) -> (String, String) {
        match source {
            Source::Table(table) => (
                table.catalog().unwrap_or_default().to_string(),
                table.qualified(),
            ),
            other => (String::new(), format!("{other:?}")),
        }
    }

    fn settings(&self, block: &mut SettingsReader) -> Option<BackendConfig> {
        let fields = [
            "project_id",
            "dataset_id",
            "location",
            "maximum_bytes_billed",
            "job_timeout",
            "endpoint",
            "credentials_file",
        ];
        if !block.fields(&fields, &["project_id"]) {
            return None;
        }
        let mut config = BigQueryConfig::new(block.text("project_id")?);
        config.dataset_id = block.text("dataset_id");
        config.location = block.text("location");
        config.endpoint = block.text("endpoint");
        config.credentials_file = block.text("credentials_file").map(PathBuf::from);
        config.maximum_bytes_billed = block.parse("maximum_bytes_billed", parse_bytes);
        if let Some(timeout) = block.parse("job_timeout", parse_duration) {
            config.job_timeout = timeout;
        }
        Some(config.into())
    }

    fn how_to_configure(&self) -> &'static str {
        "add `bigquery:` with a `project_id` to connections.yaml"
    }

    fn dialect(&self) -> &'static dyn Dialect {
        &dialect::BigQueryDialect
    }

    fn open(
        &self,
        config: &BackendConfig,
        paths: &PathResolver,
        opening: Opening,
    ) -> Result<Arc<dyn Backend>> {
        let settings: &BigQueryConfig = config.get().expect("BigQuery settings");
        let _ = opening;
        #[cfg(feature = "bigquery")]
        return Ok(Arc::new(client::BigQuery::open(settings, paths)?));
        #[cfg(not(feature = "bigquery"))]
        {
            let _ = (settings, paths);
            Err(super::not_built(BackendKind::BIGQUERY))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceUri;

    fn parse(uri: &str) -> Source {
        SourceUri::parse(uri)
            .unwrap_or_else(|e| panic!("{uri}: {e}"))
            .source()
            .clone()
    }

    fn bq(project: &str, dataset: &str, table: &str) -> Source {
        Source::Table(TableName::new(
            (!project.is_empty()).then(|| project.to_string()),
            Some(dataset.to_string()),
            table,
        ))
    }

    /// Every form the original library's documentation gives, and ours.
    #[test]
    fn uri_forms() {
        for uri in [
            "bigquery://my-project.analytics.events",
            "bigquery://my-project/analytics.events",
            "bigquery://my-project/analytics/events",
            "bigquery://my-project.analytics/events",
        ] {
            assert_eq!(parse(uri), bq("my-project", "analytics", "events"), "{uri}");
        }
        assert_eq!(
            parse("bigquery://example.com:proj.analytics.events"),
            bq("example.com:proj", "analytics", "events")
        );
        assert_eq!(
            parse("bigquery://example.com:proj.analytics/events"),
            bq("example.com:proj", "analytics", "events")
        );
        assert_eq!(
            parse("bigquery://proj.ds.tbl.extra"),
            bq("proj", "ds", "tbl.extra")
        );
        assert_eq!(
            parse("bigquery://analytics.events"),
            bq("", "analytics", "events")
        );
    }

    #[test]
    fn malformed_uris_say_what_is_wrong() {
        for (uri, fragment) in [
            ("bigquery://table", "names a dataset and a table"),
            ("bigquery://p/d.t.x", "names no dataset"),
            ("bigquery://p/d/t/x", "too many"),
            ("bigquery://p..t", "empty"),
            ("bigquery:///d.t", "empty"),
            ("bigquery://p/d-x.t", "not a dataset"),
        ] {
            let err = SourceUri::parse(uri).unwrap_err().to_string();
            assert!(err.contains(fragment), "{uri}: {err}");
        }
    }
}
