//! The three spec kinds, as validated values.
//!
//! Specs are only created by decoding YAML (see [`Spec::from_yaml`] and [`SpecCache`]), so every
//! spec value in a program has passed validation.
//!
//! [`SpecCache`]: super::SpecCache

use std::collections::BTreeMap;
use std::fmt;

use sqlparser::ast::Expr;

use super::formula::Formula;
use crate::backend::BackendKind;
use crate::source::SourceUri;
use crate::sql::fragment::{self, ExprError};
use crate::sql::{Ident, inspect};
use crate::yaml::Location;

/// The three kinds of spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpecKind {
    /// A metric (`metric:`).
    Metric,
    /// A slice (`slice:`).
    Slice,
    /// A segment (`segment:`).
    Segment,
}

impl SpecKind {
    /// The YAML top-level key and the word users see: `metric`, `slice`, `segment`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpecKind::Metric => "metric",
            SpecKind::Slice => "slice",
            SpecKind::Segment => "segment",
        }
    }
}

impl fmt::Display for SpecKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SQL fragment from a spec (an aggregate or a predicate), parsed and checked.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SqlFragment {
    /// The text as written.
    pub text: String,
    /// Where it was written.
    pub location: Location,
    /// The backend whose dialect it was checked in (`None`: any backend, for slices).
    pub(crate) backend: Option<BackendKind>,
    pub(crate) expr: Box<Expr>,
}

impl SqlFragment {
    /// The columns the fragment reads, unqualified.
    pub fn columns(&self) -> Vec<String> {
        inspect::columns(&self.expr)
    }

    /// The parsed expression for a backend: reused when it was checked in that dialect,
    /// parsed again otherwise.
    pub(crate) fn expr_for(&self, backend: BackendKind) -> Result<Expr, ExprError> {
        if self.backend == Some(backend) {
            Ok((*self.expr).clone())
        } else {
            fragment::parse(&self.text, Some(backend.dialect()))
        }
    }
}

impl PartialEq for SqlFragment {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl fmt::Display for SqlFragment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// How a metric's values are meant to be displayed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetricFormat {
    /// A share, e.g. 0.031 shown as 3.1%.
    Percentage,
    /// A plain number.
    Absolute,
    /// A ratio of two quantities.
    Ratio,
    /// Money, optionally with an ISO 4217 code (`currency:USD`).
    Currency(Option<String>),
}

impl MetricFormat {
    /// Parses `percentage`, `absolute`, `ratio`, `currency` or `currency:XXX`.
    pub fn parse(text: &str) -> Option<MetricFormat> {
        match text {
            "percentage" => Some(MetricFormat::Percentage),
            "absolute" => Some(MetricFormat::Absolute),
            "ratio" => Some(MetricFormat::Ratio),
            "currency" => Some(MetricFormat::Currency(None)),
            _ => {
                let code = text.strip_prefix("currency:")?;
                (code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase()))
                    .then(|| MetricFormat::Currency(Some(code.to_string())))
            }
        }
    }
}

impl fmt::Display for MetricFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricFormat::Percentage => f.write_str("percentage"),
            MetricFormat::Absolute => f.write_str("absolute"),
            MetricFormat::Ratio => f.write_str("ratio"),
            MetricFormat::Currency(None) => f.write_str("currency"),
            MetricFormat::Currency(Some(code)) => write!(f, "currency:{code}"),
        }
    }
}

/// A metric: an aggregate over a source table ([`MetricKind::Aggregate`]), or arithmetic over
/// other metrics ([`MetricKind::Derived`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MetricSpec {
    /// Unique name (`[A-Za-z_][A-Za-z0-9_]*`).
    pub name: String,
    /// How its values are computed.
    pub kind: MetricKind,
    /// Display format.
    pub format: Option<MetricFormat>,
    /// Free text.
    pub description: Option<String>,
    /// Where the spec was written.
    pub location: Location,
}

/// How a metric's values are computed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MetricKind {
    /// An aggregate over a source table, optionally a ratio, optionally over filtered rows.
    Aggregate(Box<AggregateMetric>),
    /// Arithmetic over other metrics' values (`expression`).
    Derived(DerivedMetric),
}

/// An aggregate metric's definition.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AggregateMetric {
    /// The fact table.
    pub source: SourceUri,
    /// The aggregate (or the ratio's numerator).
    pub numerator: SqlFragment,
    /// The ratio's denominator; its presence makes the metric a ratio.
    pub denominator: Option<SqlFragment>,
    /// Only the source rows for which this predicate holds count, in the numerator and the
    /// denominator.
    pub filter: Option<SqlFragment>,
    /// The column that places rows in time windows and periods.
    pub timestamp_col: Option<Ident>,
    /// Columns the metric may be broken down by (`by_entity`).
    pub entities: Option<Vec<Ident>>,
}

/// A derived metric's definition: an expression over other metrics.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DerivedMetric {
    /// The expression.
    pub expression: Formula,
    /// Where the expression was written.
    pub location: Location,
}

impl MetricSpec {
    /// The definition of an aggregate metric; `None` for a derived one.
    pub fn aggregate(&self) -> Option<&AggregateMetric> {
        match &self.kind {
            MetricKind::Aggregate(a) => Some(a),
            MetricKind::Derived(_) => None,
        }
    }

    /// The expression of a derived metric; `None` for an aggregate one.
    pub fn expression(&self) -> Option<&Formula> {
        match &self.kind {
            MetricKind::Derived(d) => Some(&d.expression),
            MetricKind::Aggregate(_) => None,
        }
    }
}

/// A named predicate: one value of a value-list slice or segment.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NamedPredicate {
    /// The value's name, as it appears in results.
    pub name: String,
    /// Rows (or dimension rows) for which it is true belong to the value.
    pub predicate: SqlFragment,
}

/// What a slice breaks rows down by.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SliceKind {
    /// Named predicates; a row belongs to every value whose predicate it satisfies.
    Values(Vec<NamedPredicate>),
    /// A column; each distinct non-NULL value (as text) is a slice value.
    Column {
        /// The column (qualifiers dropped).
        column: Ident,
        /// As written, e.g. `events.country`.
        written: String,
    },
    /// The cross product of two or more leaf slices, by name.
    CrossProduct(Vec<String>),
}

/// A slice: a breakdown of a metric's rows.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SliceSpec {
    /// Unique name.
    pub name: String,
    /// The breakdown.
    pub kind: SliceKind,
    /// Free text.
    pub description: Option<String>,
    /// Where the spec was written.
    pub location: Location,
}

/// How a segment classifies the entities of its dimension table.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SegmentKind {
    /// Named predicates over dimension-table columns.
    Values(Vec<NamedPredicate>),
    /// One or more dimension-table columns; each distinct combination (values as text joined
    /// by `|`) is a segment value.
    Columns(Vec<Ident>),
}

/// A segment: a classification of entities, joined from a dimension table.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SegmentSpec {
    /// Unique name.
    pub name: String,
    /// The dimension table.
    pub source: SourceUri,
    /// The dimension table's key.
    pub entity_id: Ident,
    /// The fact-table columns allowed as join keys (empty: only `entity_id`'s name).
    pub join_keys: Vec<Ident>,
    /// The classification.
    pub kind: SegmentKind,
    /// Free text.
    pub description: Option<String>,
    /// Where the spec was written.
    pub location: Location,
}

/// Any spec.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Spec {
    /// A metric.
    Metric(MetricSpec),
    /// A slice.
    Slice(SliceSpec),
    /// A segment.
    Segment(SegmentSpec),
}

impl Spec {
    /// The spec's name.
    pub fn name(&self) -> &str {
        match self {
            Spec::Metric(m) => &m.name,
            Spec::Slice(s) => &s.name,
            Spec::Segment(s) => &s.name,
        }
    }

    /// The spec's kind.
    pub fn kind(&self) -> SpecKind {
        match self {
            Spec::Metric(_) => SpecKind::Metric,
            Spec::Slice(_) => SpecKind::Slice,
            Spec::Segment(_) => SpecKind::Segment,
        }
    }

    /// Where the spec was written.
    pub fn location(&self) -> &Location {
        match self {
            Spec::Metric(m) => &m.location,
            Spec::Slice(s) => &s.location,
            Spec::Segment(s) => &s.location,
        }
    }

    /// The columns each field references, unqualified (`t.revenue` gives `revenue`), keyed by
    /// field: `numerator`, `denominator`, `filter`, `timestamp_col`, `entities` for aggregate
    /// metrics (nothing for derived ones: their expression names metrics, not columns);
    /// `values[i].where` or `where` for slices (nothing for composites); `entity_id`,
    /// `join_keys`, `values[i].where` or `where` for segments.
    ///
    /// ```
    /// let spec = aitaem::spec::Spec::from_yaml(
    ///     "metric:\n  name: ctr\n  source: duckdb://ads.db/events\n  numerator: SUM(e.clicks)\n  denominator: SUM(impressions)\n",
    /// ).unwrap();
    /// let columns = spec.referenced_columns();
    /// assert_eq!(columns["numerator"], ["clicks"]);
    /// assert_eq!(columns["denominator"], ["impressions"]);
    /// ```
    pub fn referenced_columns(&self) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        let names = |idents: &[Ident]| idents.iter().map(|i| i.name.clone()).collect::<Vec<_>>();
        let values = |out: &mut BTreeMap<String, Vec<String>>, values: &[NamedPredicate]| {
            for (i, value) in values.iter().enumerate() {
                out.insert(format!("values[{i}].where"), value.predicate.columns());
            }
        };
        match self {
            Spec::Metric(m) => {
                if let Some(m) = m.aggregate() {
                    out.insert("numerator".into(), m.numerator.columns());
                    if let Some(d) = &m.denominator {
                        out.insert("denominator".into(), d.columns());
                    }
                    if let Some(f) = &m.filter {
                        out.insert("filter".into(), f.columns());
                    }
                    if let Some(ts) = &m.timestamp_col {
                        out.insert("timestamp_col".into(), vec![ts.name.clone()]);
                    }
                    if let Some(entities) = &m.entities {
                        out.insert("entities".into(), names(entities));
                    }
                }
            }
            Spec::Slice(s) => match &s.kind {
                SliceKind::Values(vs) => values(&mut out, vs),
                SliceKind::Column { column, .. } => {
                    out.insert("where".into(), vec![column.name.clone()]);
                }
                SliceKind::CrossProduct(_) => {}
            },
            Spec::Segment(s) => {
                out.insert("entity_id".into(), vec![s.entity_id.name.clone()]);
                if !s.join_keys.is_empty() {
                    out.insert("join_keys".into(), names(&s.join_keys));
                }
                match &s.kind {
                    SegmentKind::Values(vs) => values(&mut out, vs),
                    SegmentKind::Columns(cols) => {
                        out.insert("where".into(), names(cols));
                    }
                }
            }
        }
        out
    }
}

impl SliceSpec {
    /// Whether this is a composite (`cross_product`) slice.
    pub fn is_composite(&self) -> bool {
        matches!(self.kind, SliceKind::CrossProduct(_))
    }
}

impl SegmentSpec {
    /// The fact-table columns that may join this segment: `join_keys`, or `entity_id` when that
    /// list is empty.
    pub fn join_key_candidates(&self) -> Vec<Ident> {
        if self.join_keys.is_empty() {
            vec![self.entity_id.clone()]
        } else {
            self.join_keys.clone()
        }
    }
}
