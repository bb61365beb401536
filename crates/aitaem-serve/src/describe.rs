//! What the specs declare, as JSON: `GET /v1/metrics`, `/v1/slices` and `/v1/segments`.

use aitaem::SpecCache;
use aitaem::spec::{
    MetricKind, MetricSpec, NamedPredicate, SegmentKind, SegmentSpec, SliceKind, SliceSpec,
};
use serde_json::{Value, json};

fn names(idents: &[aitaem::sql::Ident]) -> Vec<&str> {
    idents.iter().map(|i| i.name.as_str()).collect()
}

/// Named values as `[{"name", "where"}]`.
fn named(values: &[NamedPredicate]) -> Value {
    values
        .iter()
        .map(|v| json!({"name": v.name, "where": v.predicate.text}))
        .collect()
}

/// A metric: name, description, format, and where its values come from (source, aggregates,
/// filter, timestamp and entities, or the expression of a derived metric).
pub(crate) fn metric(spec: &MetricSpec) -> Value {
    let mut out = json!({
        "name": spec.name,
        "description": spec.description,
        "format": spec.format.as_ref().map(ToString::to_string),
    });
    match &spec.kind {
        MetricKind::Aggregate(metric) => {
            out["kind"] = json!("aggregate");
            out["source"] = json!(metric.source.to_string());
            out["numerator"] = json!(metric.numerator.text);
            out["denominator"] = json!(metric.denominator.as_ref().map(|d| &d.text));
            out["filter"] = json!(metric.filter.as_ref().map(|f| &f.text));
            out["timestamp_col"] = json!(metric.timestamp_col.as_ref().map(|t| &t.name));
            out["entities"] = json!(metric.entities.as_deref().map(names));
        }
        _ => {
            out["kind"] = json!("derived");
            out["expression"] = json!(spec.expression().map(ToString::to_string));
        }
    }
    out
}

/// A slice: name, description, and its values (named predicates), column, or components.
pub(crate) fn slice(spec: &SliceSpec) -> Value {
    let mut out = json!({"name": spec.name, "description": spec.description});
    match &spec.kind {
        SliceKind::Values(values) => {
            out["kind"] = json!("values");
            out["values"] = named(values);
        }
        SliceKind::Column { column, .. } => {
            out["kind"] = json!("column");
            out["column"] = json!(column.name);
        }
        SliceKind::CrossProduct(components) => {
            out["kind"] = json!("cross_product");
            out["components"] = json!(components);
        }
        _ => {}
    }
    out
}

/// A segment: name, description, its dimension table, keys, and values or columns.
pub(crate) fn segment(spec: &SegmentSpec) -> Value {
    let mut out = json!({
        "name": spec.name,
        "description": spec.description,
        "source": spec.source.to_string(),
        "entity_id": spec.entity_id.name,
        "join_keys": names(&spec.join_keys),
    });
    match &spec.kind {
        SegmentKind::Values(values) => {
            out["kind"] = json!("values");
            out["values"] = named(values);
        }
        SegmentKind::Columns(columns) => {
            out["kind"] = json!("columns");
            out["columns"] = json!(names(columns));
        }
        _ => {}
    }
    out
}

/// Every spec of a kind, in name order.
pub(crate) fn all(specs: &SpecCache, kind: &str) -> Value {
    let mut list: Vec<(String, Value)> = match kind {
        "metrics" => specs
            .metrics()
            .map(|m| (m.name.clone(), metric(m)))
            .collect(),
        "slices" => specs.slices().map(|s| (s.name.clone(), slice(s))).collect(),
        _ => specs
            .segments()
            .map(|s| (s.name.clone(), segment(s)))
            .collect(),
    };
    list.sort_by(|a, b| a.0.cmp(&b.0));
    json!({ kind: list.into_iter().map(|(_, v)| v).collect::<Vec<_>>() })
}
