//! # aitaem — all interesting things are essentially metrics
//!
//! Declare **metrics** (SQL aggregates over a source table, optionally a ratio), **slices**
//! (breakdowns) and **segments** (classifications joined from a dimension table) once, in YAML;
//! compute any combination of them over a time window, per period and per entity, and get one
//! standard 11-column table back.
//!
//! The data flows one way: [`spec`] (YAML → validated specs) → [`request`] (what to compute) →
//! [`plan`] (one SQL statement per source table) → execution on a backend → [`result`] (the
//! standard table and its writers).

mod assemble;
mod backend;
mod compute;
pub mod config;
mod connect;
pub mod error;
mod load;
mod paths;
pub mod plan;
pub mod request;
pub mod result;
pub mod scan;
pub mod source;
pub mod spec;
pub mod sql;
mod yaml;

pub use backend::Column;
pub use compute::{ComputeResult, MetricCompute};
pub use connect::{ConnectionManager, ResolvedSource};
pub use error::{Error, Result, SpecKind};
pub use load::{LoadEvent, LoadOptions, LoadedTable, load_csvs, load_csvs_to_duckdb, table_name};
pub use spec::SpecCache;
