//! # aitaem — all interesting things are essentially metrics
//!
//! Declare **metrics** (SQL aggregates over a source table, optionally a ratio), **slices**
//! (breakdowns) and **segments** (classifications joined from a dimension table) once, in YAML;
//! compute any combination of them over a time window, per period and per entity, and get one
//! standard 11-column table back.
//!
//! The data flows one way: [`spec`] (YAML → validated specs) → [`request`] (what to compute) →
//! [`plan`] (one SQL statement per source table, in the backend's dialect) → a backend runs it
//! → [`result`] (the standard table and its writers).
//!
//! ```
//! use aitaem::{ComputeRequest, MetricCompute, Project};
//! # let dir = tempfile::tempdir().unwrap();
//! # std::fs::create_dir(dir.path().join("metrics")).unwrap();
//! # std::fs::write(dir.path().join("events.csv"), "day,clicks\n2024-01-01,3\n2024-01-02,4\n").unwrap();
//! # std::fs::write(dir.path().join("metrics/clicks.yaml"),
//! #     "metric:\n  name: clicks\n  source: duckdb://events.csv\n  numerator: SUM(clicks)\n").unwrap();
//! # std::env::set_current_dir(dir.path()).unwrap();
//! let project = Project::open(".");
//! let (specs, connections) = (project.specs()?, project.connections()?);
//! let result = MetricCompute::new(&specs, &connections).compute(&ComputeRequest::new(["clicks"]))?;
//! assert_eq!(result.rows()?[0].metric_value, Some(7.0));
//! # Ok::<(), aitaem::Error>(())
//! ```
//!
//! ## Cargo features
//!
//! - `duckdb` (default): the embedded DuckDB backend, which also reads CSV, Parquet and JSON
//!   files, and loading CSV files into DuckDB.
//! - `postgres`: the PostgreSQL backend (native client, TLS by rustls).
//! - `bigquery`: the BigQuery backend (Google's client; also talks to emulators).
//!
//! The `aitaem` command line tool and the Python package have every backend.
//!
//! A build without a backend's feature still reads its settings in `connections.yaml`, and
//! says in words that it cannot run them.

#![warn(missing_docs)]
// A build with no backend at all (no default features) only parses and plans.
#![cfg_attr(
    not(any(feature = "duckdb", feature = "postgres", feature = "bigquery")),
    allow(dead_code)
)]

pub mod backend;
mod cancel;
pub mod catalog;
mod compute;
pub mod config;
mod connect;
pub mod error;
#[cfg(feature = "duckdb")]
mod init;
pub mod period;
pub mod plan;
mod project;
pub mod request;
pub mod result;
pub mod source;
pub mod spec;
pub mod sql;
mod store;
mod yaml;

/// The Arrow crate the results are made of, so that users need not pin its version.
pub use arrow;

/// DuckDB workflows: loading CSV files into a database, and a ready-to-run project from CSV
/// files (the `duckdb` feature).
#[cfg(feature = "duckdb")]
pub mod duckdb {
    pub use crate::backend::duckdb::load::{
        Existing, LoadEvent, LoadOptions, LoadedTable, load_csv_files, load_csvs,
        load_csvs_to_duckdb, table_name,
    };
    pub use crate::init::{DATABASE as INIT_DATABASE, InitSummary, init_project};
    /// A DuckDB connection, as [`ConnectionManager::add_duckdb_connection`](crate::ConnectionManager::add_duckdb_connection)
    /// takes it (DuckDB's own Rust crate's).
    pub use ::duckdb::Connection;
}

pub use backend::BackendKind;
pub use cancel::Cancel;
pub use catalog::Column;
pub use compute::scan::{self, ScanEntry, ScanResult};
pub use compute::{ComputeResult, MetricCompute};
pub use connect::ConnectionManager;
pub use error::{Error, ErrorKind, Result};
pub use period::{Comparison, PeriodType, TimeWindow, WeekStart};
pub use project::Project;
pub use request::ComputeRequest;
pub use spec::{SpecCache, SpecKind};
pub use store::{RefreshOutcome, Store, StoreRefresh, StoredEntry};
pub use yaml::Location;
