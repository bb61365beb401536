//! Specs: metrics, slices and segments, loaded from YAML and validated.
//!
//! Each YAML file holds one spec under a top-level `metric:`, `slice:` or `segment:` key. See
//! `docs/specs.md` for every field and rule.

mod cache;
mod decode;
mod formula;
mod model;

pub use cache::SpecCache;
pub use formula::{Formula, FormulaError};
pub use model::{
    AggregateMetric, DerivedMetric, MetricFormat, MetricKind, MetricSpec, NamedPredicate,
    SegmentKind, SegmentSpec, SliceKind, SliceSpec, Spec, SpecKind, SqlFragment,
};
