//! `scan`: which slices and segments fit which metrics.
//!
//! A slice fits a metric when every column it references (all components' columns for a cross
//! product) exists in the metric's source table. A segment fits when at least one of its join-key
//! candidates (`join_keys`, or `entity_id` when that list is empty) is a column of the metric's
//! table; the dimension table's columns are not checked.

use std::collections::HashMap;

use crate::catalog::{Catalog, Column};
use crate::error::Result;
use crate::spec::{MetricSpec, SliceKind, SliceSpec, Spec, SpecCache, SpecKind};

/// Whether one metric and one slice or segment fit together.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScanEntry {
    /// The metric.
    pub metric_name: String,
    /// The slice or segment.
    pub spec_name: String,
    /// `Slice` or `Segment`.
    pub spec_type: SpecKind,
    /// Whether they can be computed together.
    pub compatible: bool,
    /// Columns the slice needs that the metric's table lacks.
    pub missing_columns: Vec<String>,
    /// Segment join keys present in the metric's table.
    pub valid_join_keys: Vec<String>,
    /// Why not, in words; `None` when they fit (as the original library's
    /// `CompatibilityResult.reason`).
    pub reason: Option<String>,
}

/// The compatibility of every metric with every slice and segment.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ScanResult {
    /// One entry per metric × slice and metric × segment, metrics in name order.
    pub entries: Vec<ScanEntry>,
}

impl ScanResult {
    /// The slices that fit a metric.
    pub fn compatible_slices(&self, metric: &str) -> Vec<&str> {
        self.compatible(metric, SpecKind::Slice)
    }

    /// The segments that fit a metric.
    pub fn compatible_segments(&self, metric: &str) -> Vec<&str> {
        self.compatible(metric, SpecKind::Segment)
    }

    /// The entries of one slice or segment.
    pub fn for_spec(&self, name: &str) -> Vec<&ScanEntry> {
        self.entries
            .iter()
            .filter(|e| e.spec_name == name)
            .collect()
    }

    /// The entries of one metric.
    pub fn for_metric(&self, metric: &str) -> Vec<&ScanEntry> {
        self.entries
            .iter()
            .filter(|e| e.metric_name == metric)
            .collect()
    }

    fn compatible(&self, metric: &str, kind: SpecKind) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|e| e.metric_name == metric && e.spec_type == kind && e.compatible)
            .map(|e| e.spec_name.as_str())
            .collect()
    }
}

fn has_column(columns: &[Column], name: &str) -> bool {
    columns.iter().any(|c| c.name.eq_ignore_ascii_case(name))
}

/// The columns a slice references: its own, or its components' for a cross product.
fn slice_columns(slice: &SliceSpec, specs: &SpecCache) -> Vec<String> {
    let own = |s: &SliceSpec| -> Vec<String> {
        Spec::Slice(s.clone())
            .referenced_columns()
            .into_values()
            .flatten()
            .collect()
    };
    let mut out: Vec<String> = match &slice.kind {
        SliceKind::CrossProduct(parts) => parts
            .iter()
            .filter_map(|p| specs.slice(p).ok())
            .flat_map(own)
            .collect(),
        _ => own(slice),
    };
    let mut seen = std::collections::HashSet::new();
    out.retain(|c| seen.insert(c.to_lowercase()));
    out
}

pub(crate) fn scan(specs: &SpecCache, catalog: &dyn Catalog) -> Result<ScanResult> {
    let mut tables: HashMap<String, std::result::Result<Vec<Column>, String>> = HashMap::new();
    let mut entries = Vec::new();
    for metric in specs.metrics() {
        let columns = tables
            .entry(metric.source.to_string())
            .or_insert_with(|| describe(metric, catalog))
            .clone();
        for slice in specs.slices() {
            entries.push(match &columns {
                Err(why) => unreadable(metric, &slice.name, SpecKind::Slice, why),
                Ok(columns) => {
                    let missing: Vec<String> = slice_columns(slice, specs)
                        .into_iter()
                        .filter(|c| !has_column(columns, c))
                        .collect();
                    let reason = (!missing.is_empty()).then(|| {
                        format!(
                            "the metric's table `{}` lacks {}",
                            metric.source,
                            missing
                                .iter()
                                .map(|c| format!("`{c}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    });
                    ScanEntry {
                        metric_name: metric.name.clone(),
                        spec_name: slice.name.clone(),
                        spec_type: SpecKind::Slice,
                        compatible: missing.is_empty(),
                        missing_columns: missing,
                        valid_join_keys: Vec::new(),
                        reason,
                    }
                }
            });
        }
        for segment in specs.segments() {
            entries.push(match &columns {
                Err(why) => unreadable(metric, &segment.name, SpecKind::Segment, why),
                Ok(columns) => {
                    let candidates = segment.join_key_candidates();
                    let valid: Vec<String> = candidates
                        .iter()
                        .filter(|k| has_column(columns, &k.name))
                        .map(|k| k.name.clone())
                        .collect();
                    let names: Vec<String> =
                        candidates.iter().map(|k| format!("`{}`", k.name)).collect();
                    let reason = valid.is_empty().then(|| {
                        format!(
                            "none of the join keys {} is a column of `{}`",
                            names.join(", "),
                            metric.source
                        )
                    });
                    ScanEntry {
                        metric_name: metric.name.clone(),
                        spec_name: segment.name.clone(),
                        spec_type: SpecKind::Segment,
                        compatible: !valid.is_empty(),
                        missing_columns: if valid.is_empty() {
                            candidates.iter().map(|k| k.name.clone()).collect()
                        } else {
                            Vec::new()
                        },
                        valid_join_keys: valid,
                        reason,
                    }
                }
            });
        }
    }
    Ok(ScanResult { entries })
}

fn describe(
    metric: &MetricSpec,
    catalog: &dyn Catalog,
) -> std::result::Result<Vec<Column>, String> {
    catalog.columns(&metric.source).map_err(|e| e.to_string())
}

fn unreadable(metric: &MetricSpec, name: &str, kind: SpecKind, why: &str) -> ScanEntry {
    ScanEntry {
        metric_name: metric.name.clone(),
        spec_name: name.to_string(),
        spec_type: kind,
        compatible: false,
        missing_columns: Vec::new(),
        valid_join_keys: Vec::new(),
        reason: Some(format!("cannot read the metric's table: {why}")),
    }
}
