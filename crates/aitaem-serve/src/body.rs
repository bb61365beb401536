//! Request bodies: the JSON form of the request the command line and Python take.

use std::str::FromStr;

use aitaem::{Comparison, ComputeRequest, PeriodType, WeekStart};
use serde::Deserialize;

use crate::error::ApiError;

/// One name or a list of names.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Names {
    One(String),
    Many(Vec<String>),
}

impl Names {
    fn into_vec(self) -> Vec<String> {
        match self {
            Names::One(name) => vec![name],
            Names::Many(names) => names,
        }
    }
}

/// A segment: its name, or its name and the fact-table column to join it on.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Segment {
    Name(String),
    Joined {
        name: String,
        join_key: Option<String>,
    },
}

/// One segment or a list of them (at most one: a request has one segment).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Segments {
    One(Segment),
    Many(Vec<Segment>),
}

/// `POST /v1/compute` and `POST /v1/sql`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ComputeBody {
    pub metrics: Names,
    #[serde(default)]
    pub slices: Option<Names>,
    #[serde(default)]
    pub segments: Option<Segments>,
    #[serde(default, rename = "where")]
    pub filters: Option<Names>,
    #[serde(default)]
    pub time_window: Option<(String, String)>,
    #[serde(default)]
    pub period: Option<String>,
    #[serde(default)]
    pub by_entity: Option<String>,
    #[serde(default)]
    pub week_start: Option<String>,
    #[serde(default)]
    pub fill_gaps: bool,
    #[serde(default)]
    pub compare: Option<String>,
    #[serde(default)]
    pub share: bool,
    #[serde(default)]
    pub cumulative: bool,
    #[serde(default)]
    pub rolling: Option<u32>,
    #[serde(default)]
    pub sort: bool,
    /// `POST /v1/sql` only: also the backend's plan of each statement.
    #[serde(default)]
    pub explain: bool,
    /// `POST /v1/sql` only: also the bytes each statement would read, where the backend bills
    /// by bytes.
    #[serde(default)]
    pub estimate: bool,
}

impl ComputeBody {
    /// Reads a body: 400 with serde's message (which says where) when it is not one.
    pub fn parse(bytes: &[u8]) -> Result<ComputeBody, ApiError> {
        serde_json::from_slice(bytes).map_err(|e| {
            ApiError::bad_request(format!("the request body is not a compute request: {e}"))
        })
    }

    /// Reads a body given as a JSON value (an MCP tool's arguments).
    pub fn from_value(value: serde_json::Value) -> Result<ComputeBody, ApiError> {
        serde_json::from_value(value)
            .map_err(|e| ApiError::bad_request(format!("not a compute request: {e}")))
    }

    /// The request it describes.
    pub fn request(self) -> Result<ComputeRequest, ApiError> {
        let metrics = self.metrics.into_vec();
        if metrics.is_empty() {
            return Err(ApiError::bad_request("`metrics` names no metric"));
        }
        let mut request = ComputeRequest::new(metrics)
            .slices(self.slices.map(Names::into_vec).unwrap_or_default())
            .fill_gaps(self.fill_gaps)
            .share(self.share)
            .cumulative(self.cumulative)
            .sorted(self.sort);
        let segments = match self.segments {
            None => Vec::new(),
            Some(Segments::One(segment)) => vec![segment],
            Some(Segments::Many(segments)) => segments,
        };
        match <[Segment; 1]>::try_from(segments) {
            Ok([Segment::Name(name)]) => request = request.segment(name),
            Ok([Segment::Joined { name, join_key }]) => {
                request = request.segment(name);
                if let Some(key) = join_key {
                    request = request.join_key(key);
                }
            }
            Err(segments) if segments.is_empty() => {}
            Err(segments) => {
                return Err(ApiError::bad_request(format!(
                    "a request takes one segment, but {} were given",
                    segments.len()
                )));
            }
        }
        for filter in self.filters.map(Names::into_vec).unwrap_or_default() {
            request = request.filter(filter);
        }
        if let Some((start, end)) = self.time_window {
            request = request.time_window(start, end);
        }
        if let Some(period) = self.period {
            request = request.period(parse::<PeriodType>("period", &period)?);
        }
        if let Some(entity) = self.by_entity {
            request = request.by_entity(entity);
        }
        if let Some(day) = self.week_start {
            request = request.week_start(parse::<WeekStart>("week_start", &day)?);
        }
        if let Some(comparison) = self.compare {
            request = request.compare(parse::<Comparison>("compare", &comparison)?);
        }
        if let Some(n) = self.rolling {
            request = request.rolling(n);
        }
        Ok(request)
    }
}

/// A field's value read by the engine's own parser, whose message lists what it can take.
fn parse<T: FromStr<Err = aitaem::Error>>(field: &str, text: &str) -> Result<T, ApiError> {
    T::from_str(text).map_err(|e| ApiError::bad_request(format!("`{field}`: {e}")))
}
