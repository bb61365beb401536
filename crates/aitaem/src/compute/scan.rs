//! `scan`: which slices and segments fit which metrics.
//!
//! A slice fits a metric when every column it references (all components' columns for a cross
//! product) exists in the metric's source table. A segment fits when at least one of its join-key
//! candidates (`join_keys`, or `entity_id` when that list is empty) is a column of the metric's
//! table; the dimension table's columns are not checked. A derived metric fits a slice when every
//! aggregate metric it reads does, and a segment when one join key fits them all.

use std::collections::HashMap;

use crate::catalog::{Catalog, Column};
use crate::error::Result;
use crate::source::SourceUri;
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
    let mut by_metric: HashMap<&str, Vec<ScanEntry>> = HashMap::new();
    for metric in specs.metrics() {
        let Some(def) = metric.aggregate() else {
            continue;
        };
        let columns = tables
            .entry(def.source.to_string())
            .or_insert_with(|| catalog.columns(&def.source).map_err(|e| e.to_string()))
            .clone();
        by_metric.insert(
            &metric.name,
            aggregate_entries(metric, &def.source, &columns, specs),
        );
    }
    let mut entries = Vec::new();
    for metric in specs.metrics() {
        match by_metric.get(metric.name.as_str()) {
            Some(own) => entries.extend(own.iter().cloned()),
            None => entries.extend(derived_entries(metric, specs, &by_metric)),
        }
    }
    Ok(ScanResult { entries })
}

/// An aggregate metric's entries: against its table's columns.
fn aggregate_entries(
    metric: &MetricSpec,
    source: &SourceUri,
    columns: &std::result::Result<Vec<Column>, String>,
    specs: &SpecCache,
) -> Vec<ScanEntry> {
    let mut entries = Vec::new();
    for slice in specs.slices() {
        entries.push(match columns {
            Err(why) => unreadable(metric, &slice.name, SpecKind::Slice, why),
            Ok(columns) => {
                let missing: Vec<String> = slice_columns(slice, specs)
                    .into_iter()
                    .filter(|c| !has_column(columns, c))
                    .collect();
                let reason = (!missing.is_empty()).then(|| {
                    format!(
                        "the metric's table `{source}` lacks {}",
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
        entries.push(match columns {
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
                        "none of the join keys {} is a column of `{source}`",
                        names.join(", "),
                    )
                });
                ScanEntry {
                    metric_name: metric.name.clone(),
                    spec_name: segment.name.clone(),
                    spec_type: SpecKind::Segment,
                    compatible: !valid.is_empty(),
                    missing_columns: candidates
                        .iter()
                        .filter(|k| !has_column(columns, &k.name))
                        .map(|k| k.name.clone())
                        .collect(),
                    valid_join_keys: valid,
                    reason,
                }
            }
        });
    }
    entries
}

/// A derived metric's entries: a slice fits when it fits every aggregate metric it reads
/// (through other derived metrics too); a segment when a join key fits them all.
fn derived_entries(
    metric: &MetricSpec,
    specs: &SpecCache,
    by_metric: &HashMap<&str, Vec<ScanEntry>>,
) -> Vec<ScanEntry> {
    let leaves = leaf_inputs(metric, specs);
    let mut entries = Vec::new();
    let others = specs
        .slices()
        .map(|s| (&s.name, SpecKind::Slice))
        .chain(specs.segments().map(|s| (&s.name, SpecKind::Segment)));
    for (name, kind) in others {
        let inputs: Vec<(&str, &ScanEntry)> = leaves
            .iter()
            .filter_map(|leaf| {
                let entry = by_metric
                    .get(leaf)?
                    .iter()
                    .find(|e| e.spec_type == kind && &e.spec_name == name)?;
                Some((*leaf, entry))
            })
            .collect();
        let mut missing: Vec<String> = Vec::new();
        for (_, entry) in &inputs {
            for column in &entry.missing_columns {
                if !missing.contains(column) {
                    missing.push(column.clone());
                }
            }
        }
        let mut reasons: Vec<String> = inputs
            .iter()
            .filter_map(|(leaf, e)| e.reason.as_ref().map(|r| format!("input `{leaf}`: {r}")))
            .collect();
        let valid_join_keys: Vec<String> = match inputs.split_first() {
            Some(((_, first), rest)) if kind == SpecKind::Segment => first
                .valid_join_keys
                .iter()
                .filter(|k| rest.iter().all(|(_, e)| e.valid_join_keys.contains(k)))
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        if kind == SpecKind::Segment && reasons.is_empty() && valid_join_keys.is_empty() {
            reasons.push("no join key is a column of every input's table".into());
        }
        entries.push(ScanEntry {
            metric_name: metric.name.clone(),
            spec_name: name.clone(),
            spec_type: kind,
            compatible: reasons.is_empty(),
            missing_columns: missing,
            valid_join_keys,
            reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
        });
    }
    entries
}

/// The aggregate metrics a derived metric reads, directly or through other derived metrics.
fn leaf_inputs<'s>(metric: &'s MetricSpec, specs: &'s SpecCache) -> Vec<&'s str> {
    fn walk<'s>(
        metric: &'s MetricSpec,
        specs: &'s SpecCache,
        out: &mut Vec<&'s str>,
        depth: usize,
    ) {
        let Some(expression) = metric.expression() else {
            if !out.contains(&metric.name.as_str()) {
                out.push(&metric.name);
            }
            return;
        };
        // The cache refuses cycles; the depth only bounds a walk over a cache built otherwise.
        if depth > 64 {
            return;
        }
        for input in expression.inputs() {
            if let Ok(input) = specs.metric(input) {
                walk(input, specs, out, depth + 1);
            }
        }
    }
    let mut out = Vec::new();
    walk(metric, specs, &mut out, 0);
    out
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
