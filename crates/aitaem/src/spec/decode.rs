//! Decoding and validating one spec document.
//!
//! Every rule of a spec is checked here and every violation is reported, each at the line and
//! column of the offending value. Rules that involve other specs (duplicate names, composite
//! slices' components) are checked by the cache.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use super::formula::Formula;
use super::model::SpecKind;
use super::model::{
    AggregateMetric, DerivedMetric, MetricFormat, MetricKind, MetricSpec, NamedPredicate,
    SegmentKind, SegmentSpec, SliceKind, SliceSpec, Spec, SqlFragment,
};
use crate::backend::BackendKind;
use crate::error::SpecIssue;
use crate::source::SourceUri;
use crate::sql::fragment::{self as expr, ExprRole};
use crate::sql::{Ident, is_valid_name};
use crate::yaml::{self, Decoder, Fields, Location, Node, Value};

const METRIC_FIELDS: &[&str] = &[
    "name",
    "source",
    "numerator",
    "denominator",
    "filter",
    "timestamp_col",
    "entities",
    "expression",
    "format",
    "description",
];
/// The fields of an aggregate metric that a derived metric (one with `expression`) has not.
const AGGREGATE_ONLY_FIELDS: &[&str] = &[
    "source",
    "numerator",
    "denominator",
    "filter",
    "timestamp_col",
    "entities",
];
const SLICE_FIELDS: &[&str] = &["name", "values", "where", "cross_product", "description"];
const SEGMENT_FIELDS: &[&str] = &[
    "name",
    "source",
    "entity_id",
    "join_keys",
    "values",
    "where",
    "description",
];
const VALUE_FIELDS: &[&str] = &["name", "where"];

/// Decodes one YAML document holding one spec. `expected` is the kind the caller wants (a file
/// given as a metric path must hold a metric); `None` accepts any kind.
pub(crate) fn decode(
    text: &str,
    file: Option<Arc<Path>>,
    expected: Option<SpecKind>,
) -> Result<Spec, Vec<SpecIssue>> {
    let root = yaml::parse(text, &file).map_err(|issue| vec![issue])?;
    let mut d = SpecDecoder {
        d: Decoder::new(file, text),
    };
    let spec = d.document(&root, expected);
    match spec {
        Some(spec) if d.d.issues.is_empty() => Ok(spec),
        _ => {
            if d.d.issues.is_empty() {
                // Defensive: a decoder path returned nothing without saying why.
                let at = d.d.location(&root);
                d.d.issue(at, "", "the spec is invalid", None);
            }
            Err(d.d.issues)
        }
    }
}

struct SpecDecoder {
    d: Decoder,
}

impl SpecDecoder {
    fn document(&mut self, root: &Node, expected: Option<SpecKind>) -> Option<Spec> {
        let kinds = [SpecKind::Metric, SpecKind::Slice, SpecKind::Segment];
        let start =
            "a spec file holds one spec under a top-level `metric:`, `slice:` or `segment:` key";
        let entries = match &root.value {
            Value::Map(entries) if entries.len() == 1 => entries,
            Value::Null => {
                let at = Location::file(self.d.file.clone());
                self.d
                    .issue(at, "", "the file is empty", Some(start.into()));
                return None;
            }
            Value::Map(entries) if entries.len() > 1 => {
                let at = self.d.location(&entries[1].0);
                self.d.issue(
                    at,
                    "",
                    "more than one top-level key",
                    Some(format!("{start}; indent the spec's fields under it")),
                );
                return None;
            }
            other => {
                let at = self.d.location(root);
                self.d.issue(
                    at,
                    "",
                    format!("expected a mapping, found {}", other.type_name()),
                    Some(start.into()),
                );
                return None;
            }
        };
        let (key, body) = &entries[0];
        let key_text = key.value.scalar_text().unwrap_or_default();
        let Some(kind) = kinds.into_iter().find(|k| k.as_str() == key_text) else {
            let at = self.d.location(key);
            let close = crate::error::close_names(&key_text, kinds.map(|k| k.as_str()));
            let help = match close.first() {
                Some(best) => format!("did you mean `{best}`?"),
                None => start.to_string(),
            };
            self.d.issue(
                at,
                "",
                format!("unknown spec kind `{key_text}`"),
                Some(help),
            );
            return None;
        };
        if let Some(want) = expected
            && want != kind
        {
            let at = self.d.location(key);
            self.d.issue(
                at,
                "",
                format!("expected a {want} spec, found a {kind} spec"),
                Some(format!("move this file to the {kind}s, or load it as one")),
            );
            return None;
        }
        let location = self.d.location(key);
        match kind {
            SpecKind::Metric => self.metric(body, location).map(Spec::Metric),
            SpecKind::Slice => self.slice(body, location).map(Spec::Slice),
            SpecKind::Segment => self.segment(body, location).map(Spec::Segment),
        }
    }

    fn metric(&mut self, node: &Node, location: Location) -> Option<MetricSpec> {
        let derived = matches!(&node.value, Value::Map(entries)
            if entries.iter().any(|(k, _)| k.value.scalar_text().as_deref() == Some("expression")));
        let required: &[&str] = if derived {
            &["name", "expression"]
        } else {
            &["name", "source", "numerator"]
        };
        let fields = self.d.fields(node, "", METRIC_FIELDS, required)?;
        let name = self.name(&fields);
        let kind = if derived {
            self.derived(&fields).map(MetricKind::Derived)
        } else {
            self.aggregate(&fields)
                .map(|a| MetricKind::Aggregate(Box::new(a)))
        };
        let format = fields.get("format").map(|n| self.format(n));
        let description = self.description(&fields);
        Some(MetricSpec {
            name: name?,
            kind: kind?,
            format: valid(format)?,
            description,
            location,
        })
    }

    fn aggregate(&mut self, fields: &Fields) -> Option<AggregateMetric> {
        let source = self.source(fields);
        let dialect = Some(
            source
                .as_ref()
                .map_or(BackendKind::DUCKDB, SourceUri::backend),
        );
        let numerator = fields
            .get("numerator")
            .and_then(|n| self.fragment(n, "numerator", dialect, ExprRole::Aggregate));
        // Optional fields: `None` when absent, `Some(None)` when present but invalid.
        let denominator = fields
            .get("denominator")
            .map(|n| self.fragment(n, "denominator", dialect, ExprRole::Aggregate));
        let filter = fields
            .get("filter")
            .map(|n| self.fragment(n, "filter", dialect, ExprRole::Filter));
        let timestamp_col = fields
            .get("timestamp_col")
            .map(|n| self.ident(n, "timestamp_col"));
        let entities = fields
            .get("entities")
            .map(|n| self.ident_list(n, "entities"));
        Some(AggregateMetric {
            source: source?,
            numerator: numerator?,
            denominator: valid(denominator)?,
            filter: valid(filter)?,
            timestamp_col: valid(timestamp_col)?,
            entities: valid(entities)?,
        })
    }

    /// A derived metric: `expression`, and none of an aggregate metric's own fields.
    fn derived(&mut self, fields: &Fields) -> Option<DerivedMetric> {
        let mut ok = true;
        for &field in AGGREGATE_ONLY_FIELDS {
            if let Some(node) = fields.get(field) {
                let at = self.d.location(node);
                let help = match field {
                    "timestamp_col" | "entities" => {
                        "a derived metric is computed per period and entity from its inputs, which declare theirs"
                    }
                    "filter" => "put the filter on the input metrics",
                    _ => "a derived metric reads no table: its expression combines other metrics",
                };
                self.d.issue(
                    at,
                    field,
                    format!("a derived metric (one with `expression`) has no `{field}`"),
                    Some(help.into()),
                );
                ok = false;
            }
        }
        let node = fields.get("expression")?;
        let (text, at) = self.d.string(node, "expression", true)?;
        match Formula::parse(&text) {
            Ok(expression) => ok.then_some(DerivedMetric {
                expression,
                location: at,
            }),
            Err(err) => {
                let at = self.position_in(node, at, 1, err.column);
                self.d.issue(
                    at,
                    "expression",
                    err.message,
                    Some("e.g. `expression: revenue / unique_users`".into()),
                );
                None
            }
        }
    }

    fn slice(&mut self, node: &Node, location: Location) -> Option<SliceSpec> {
        let fields = self.d.fields(node, "", SLICE_FIELDS, &["name"])?;
        let name = self.name(&fields);
        let description = self.description(&fields);
        let kind = match (
            fields.get("values"),
            fields.get("where"),
            fields.get("cross_product"),
        ) {
            (Some(values), None, None) => SliceKind::Values(self.named_predicates(values, None)?),
            (None, Some(column), None) => {
                let (written, at) = self.d.string(column, "where", false)?;
                match Ident::parse_qualified(&written) {
                    Ok(mut parts) => SliceKind::Column {
                        column: parts.pop().expect("at least one part"),
                        written,
                    },
                    Err(why) => {
                        self.d.issue(at, "where", why, Some("a slice's `where` names one column, whose distinct values become the slice's values; to filter rows with predicates, use `values:` with a `name` and `where` each".into()));
                        return None;
                    }
                }
            }
            (None, None, Some(list)) => SliceKind::CrossProduct(self.cross_product(list)?),
            (None, None, None) => {
                self.d.issue(
                    fields.at.clone(),
                    "values",
                    "a slice needs one of `values`, `where` or `cross_product`",
                    Some("`values`: named predicates; `where`: a column whose values become slice values; `cross_product`: two or more slice names".into()),
                );
                return None;
            }
            (values, _, _) => {
                let second = if values.is_some() {
                    fields.get("where").or(fields.get("cross_product"))
                } else {
                    fields.get("cross_product")
                };
                let at = self
                    .d
                    .location(second.expect("two of the three are present"));
                let (help, field) = if values.is_some() && fields.get("where").is_some() {
                    (
                        "a value-list slice puts a `where` on each value, not on the slice",
                        "where",
                    )
                } else {
                    (
                        "a slice is either a value list, a column (`where`) or a cross product",
                        "cross_product",
                    )
                };
                self.d.issue(
                    at,
                    field,
                    "`values`, `where` and `cross_product` are mutually exclusive",
                    Some(help.into()),
                );
                return None;
            }
        };
        Some(SliceSpec {
            name: name?,
            kind,
            description,
            location,
        })
    }

    fn segment(&mut self, node: &Node, location: Location) -> Option<SegmentSpec> {
        let fields = self
            .d
            .fields(node, "", SEGMENT_FIELDS, &["name", "source", "entity_id"])?;
        let name = self.name(&fields);
        let source = self.source(&fields);
        let dialect = source.as_ref().map(SourceUri::backend);
        let entity_id = fields
            .get("entity_id")
            .and_then(|n| self.ident(n, "entity_id"));
        let join_keys = match fields.get("join_keys") {
            Some(n) if matches!(&n.value, Value::Seq(items) if items.is_empty()) => {
                let at = self.d.location(n);
                self.d.issue(
                    at,
                    "join_keys",
                    "`join_keys` is empty",
                    Some("list the fact-table columns this segment may join on, or leave `join_keys` out to join on the column named like `entity_id`".into()),
                );
                None
            }
            Some(n) => self.ident_list(n, "join_keys"),
            None => Some(Vec::new()),
        };
        let description = self.description(&fields);
        let kind = match (fields.get("values"), fields.get("where")) {
            (Some(values), None) => SegmentKind::Values(
                self.named_predicates(values, Some(dialect.unwrap_or(BackendKind::DUCKDB)))?,
            ),
            (None, Some(columns)) => {
                let keys: Vec<&Ident> =
                    entity_id.iter().chain(join_keys.iter().flatten()).collect();
                SegmentKind::Columns(self.segment_columns(columns, &keys)?)
            }
            (None, None) => {
                self.d.issue(
                    fields.at.clone(),
                    "values",
                    "a segment needs `values` (named predicates on the dimension table) or `where` (dimension columns whose values become segment values)",
                    None,
                );
                return None;
            }
            (Some(_), Some(w)) => {
                let at = self.d.location(w);
                self.d.issue(
                    at,
                    "where",
                    "`values` and `where` are mutually exclusive",
                    Some("a value-list segment puts a `where` on each value".into()),
                );
                return None;
            }
        };
        Some(SegmentSpec {
            name: name?,
            source: source?,
            entity_id: entity_id?,
            join_keys: join_keys?,
            kind,
            description,
            location,
        })
    }

    fn name(&mut self, fields: &Fields) -> Option<String> {
        let node = fields.get("name")?;
        let (name, at) = self.d.string(node, "name", false)?;
        if !is_valid_name(&name) {
            self.d.issue(
                at,
                "name",
                format!("`{name}` is not a valid SQL identifier"),
                Some(format!(
                    "try `{}`: names start with a letter or `_` and contain only letters, digits and `_`",
                    identifier_like(&name)
                )),
            );
            return None;
        }
        Some(name)
    }

    fn source(&mut self, fields: &Fields) -> Option<SourceUri> {
        let node = fields.get("source")?;
        let (text, at) = self.d.string(node, "source", false)?;
        match SourceUri::parse(&text) {
            Ok(uri) => Some(uri),
            Err(err) => {
                let message = match &err {
                    crate::Error::InvalidUri { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                self.d.issue(
                    at,
                    "source",
                    format!("invalid source URI `{text}`: {message}"),
                    None,
                );
                None
            }
        }
    }

    fn description(&mut self, fields: &Fields) -> Option<String> {
        let node = fields.get("description")?;
        match &node.value {
            Value::Null => None,
            other => match other.scalar_text() {
                Some(text) => Some(text),
                None => {
                    let at = self.d.location(node);
                    self.d.issue(
                        at,
                        "description",
                        format!("expected text, found {}", other.type_name()),
                        None,
                    );
                    None
                }
            },
        }
    }

    fn format(&mut self, node: &Node) -> Option<MetricFormat> {
        let (text, at) = self.d.string(node, "format", false)?;
        let format = MetricFormat::parse(&text);
        if format.is_none() {
            let help = if text.starts_with("currency") {
                "a currency code is three upper-case letters, e.g. `currency:USD`"
            } else {
                "use `percentage`, `absolute`, `ratio`, `currency` or `currency:XXX` (an ISO 4217 code)"
            };
            self.d.issue(
                at,
                "format",
                format!("unknown format `{text}`"),
                Some(help.into()),
            );
        }
        format
    }

    fn ident(&mut self, node: &Node, field: &str) -> Option<Ident> {
        let (text, at) = self.d.string(node, field, false)?;
        match Ident::parse(&text) {
            Ok(ident) => Some(ident),
            Err(why) => {
                self.d.issue(at, field, why, None);
                None
            }
        }
    }

    fn ident_list(&mut self, node: &Node, field: &str) -> Option<Vec<Ident>> {
        let items = self.d.list(node, field)?;
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.ident(item, &format!("{field}[{i}]")) {
                Some(ident) if out.contains(&ident) => {
                    let at = self.d.location(item);
                    self.d.issue(
                        at,
                        &format!("{field}[{i}]"),
                        format!("`{ident}` is listed twice"),
                        None,
                    );
                    ok = false;
                }
                Some(ident) => out.push(ident),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// A segment's `where` columns: plain (or `_dim.`-qualified) names, each once, none of
    /// them one of the `keys` that identify entities.
    fn segment_columns(&mut self, node: &Node, keys: &[&Ident]) -> Option<Vec<Ident>> {
        let single = [node.clone()];
        let items: &[Node] = match &node.value {
            Value::Seq(_) => self.d.list(node, "where")?,
            _ => &single,
        };
        let mut out = Vec::new();
        let mut ok = true;
        for item in items {
            let Some((text, at)) = self.d.string(item, "where", false) else {
                ok = false;
                continue;
            };
            match Ident::parse_qualified(&text) {
                Ok(mut parts) => {
                    let column = parts.pop().expect("at least one part");
                    if out.contains(&column) {
                        self.d.issue(
                            at,
                            "where",
                            format!("Duplicate column `{text}`"),
                            Some("list each column once".into()),
                        );
                        ok = false;
                    } else if keys.contains(&&column) {
                        self.d.issue(
                            at,
                            "where",
                            format!("column `{text}` overlaps with entity_id or join_keys"),
                            Some("a segment's `where` names the dimension columns whose values label entities, not the key that identifies them".into()),
                        );
                        ok = false;
                    } else {
                        out.push(column);
                    }
                }
                Err(why) => {
                    self.d.issue(
                        at,
                        "where",
                        format!("`{text}` is not a plain column identifier: {why}"),
                        Some("a segment's `where` names dimension-table columns; for predicates use `values:`".into()),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    fn cross_product(&mut self, node: &Node) -> Option<Vec<String>> {
        let items = self.d.list(node, "cross_product")?;
        let mut names: Vec<String> = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let field = format!("cross_product[{i}]");
            let Some((name, at)) = self.d.string(item, &field, false) else {
                ok = false;
                continue;
            };
            if !is_valid_name(&name) {
                self.d
                    .issue(at, &field, format!("`{name}` is not a slice name"), None);
                ok = false;
            } else if names.contains(&name) {
                self.d
                    .issue(at, &field, format!("slice `{name}` is listed twice"), None);
                ok = false;
            } else {
                names.push(name);
            }
        }
        if ok && names.len() < 2 {
            let at = self.d.location(node);
            self.d.issue(
                at,
                "cross_product",
                "a cross product needs at least two slices",
                Some("to break down by one slice, request that slice directly".into()),
            );
            return None;
        }
        ok.then_some(names)
    }

    fn named_predicates(
        &mut self,
        node: &Node,
        dialect: Option<BackendKind>,
    ) -> Option<Vec<NamedPredicate>> {
        let items = self.d.list(node, "values")?;
        let mut out: Vec<NamedPredicate> = Vec::new();
        let mut seen = HashSet::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let path = format!("values[{i}]");
            let Some(fields) = self.d.fields(item, &path, VALUE_FIELDS, VALUE_FIELDS) else {
                ok = false;
                continue;
            };
            let name = fields.get("name").and_then(|n| {
                let (name, at) = self.d.string(n, &format!("{path}.name"), true)?;
                if !seen.insert(name.clone()) {
                    self.d.issue(
                        at,
                        &format!("{path}.name"),
                        format!("duplicate value name `{name}`: it is used twice in this spec"),
                        Some("value names must be unique within a slice or segment".into()),
                    );
                    return None;
                }
                Some(name)
            });
            let predicate = fields.get("where").and_then(|n| {
                self.fragment(n, &format!("{path}.where"), dialect, ExprRole::Predicate)
            });
            match (name, predicate) {
                (Some(name), Some(predicate)) => out.push(NamedPredicate { name, predicate }),
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn fragment(
        &mut self,
        node: &Node,
        field: &str,
        dialect: Option<BackendKind>,
        role: ExprRole,
    ) -> Option<SqlFragment> {
        let (text, at) = self.d.string(node, field, true)?;
        let checked = expr::parse(&text, dialect.map(BackendKind::dialect))
            .and_then(|e| expr::check(&e, role).map(|()| e));
        match checked {
            Ok(expr) => Some(SqlFragment {
                text,
                location: at,
                backend: dialect,
                expr: Box::new(expr),
            }),
            Err(err) => {
                let at = self.position_in(node, at, err.line, err.column);
                self.d.issue(at, field, err.message, err.help);
                None
            }
        }
    }

    /// The YAML position of a position inside a fragment, when the fragment is written on one
    /// line (plain or quoted); otherwise the fragment's own position.
    fn position_in(&self, node: &Node, at: Location, line: u32, column: u32) -> Location {
        if line != 1 || column == 0 {
            return at;
        }
        let offset = node.referenced.span().byte_offset().map(|o| o as usize);
        let Some(rest) = offset.and_then(|o| self.d.text().get(o..)) else {
            return at;
        };
        let first_line = rest.lines().next().unwrap_or("");
        let quoted = first_line.starts_with('"') || first_line.starts_with('\'');
        if first_line.starts_with(['|', '>']) {
            return at;
        }
        Location {
            column: at.column + column - 1 + u32::from(quoted),
            ..at
        }
    }
}

/// `None` when absent, the value when valid; `None` from the outer `Option` when invalid.
fn valid<T>(field: Option<Option<T>>) -> Option<Option<T>> {
    match field {
        None => Some(None),
        Some(Some(value)) => Some(Some(value)),
        Some(None) => None,
    }
}

/// `name` made a valid name: other characters become `_`, and a leading digit gets a `_`.
fn identifier_like(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues(text: &str) -> Vec<SpecIssue> {
        decode(text, None, None).expect_err("should be invalid")
    }

    fn one_issue(text: &str) -> SpecIssue {
        let mut all = issues(text);
        assert_eq!(all.len(), 1, "{all:#?}");
        all.remove(0)
    }

    use super::super::model::MetricKind;

    #[test]
    fn decodes_a_full_metric() {
        let spec = decode(
            "metric:\n  name: ctr\n  source: duckdb://ads.db/events\n  numerator: SUM(clicks)\n  denominator: SUM(impressions)\n  timestamp_col: event_ts\n  entities: [user_id, '\"Device Id\"']\n  format: currency:EUR\n  description: Click-through rate\n",
            None,
            Some(SpecKind::Metric),
        )
        .unwrap();
        let Spec::Metric(m) = spec else { panic!() };
        assert_eq!(m.name, "ctr");
        assert_eq!(m.format, Some(MetricFormat::Currency(Some("EUR".into()))));
        assert_eq!(m.location.line, 1);
        let MetricKind::Aggregate(a) = m.kind else {
            panic!()
        };
        assert_eq!(a.denominator.unwrap().text, "SUM(impressions)");
        assert_eq!(a.entities.unwrap()[1].name, "Device Id");
        assert!(a.filter.is_none());
    }

    #[test]
    fn a_filter_is_a_row_predicate_checked_in_the_source_dialect() {
        let spec = decode(
            "metric:\n  name: done\n  source: postgres://public/orders\n  numerator: SUM(amount)\n  filter: \"status = 'done' AND amount::INT > 0\"\n",
            None,
            None,
        )
        .unwrap();
        let Spec::Metric(m) = spec else { panic!() };
        let filter = m.aggregate().unwrap().filter.clone().unwrap();
        assert_eq!(filter.columns(), ["status", "amount"]);
        assert_eq!((filter.location.line, filter.location.column), (5, 11));
        let issue = one_issue(
            "metric:\n  name: m\n  source: duckdb://db/t\n  numerator: SUM(x)\n  filter: SUM(x) > 1\n",
        );
        assert_eq!((issue.field.as_str(), issue.location.line), ("filter", 5));
        let issue = one_issue(
            "metric:\n  name: m\n  source: duckdb://db/t\n  numerator: SUM(x)\n  filter: x > (SELECT 1)\n",
        );
        assert_eq!(issue.field, "filter");
    }

    #[test]
    fn a_derived_metric_has_an_expression_and_nothing_of_a_table() {
        let spec = decode(
            "metric:\n  name: rpu\n  expression: revenue / unique_users\n  format: currency\n",
            None,
            None,
        )
        .unwrap();
        let Spec::Metric(m) = spec else { panic!() };
        assert_eq!(
            m.expression().unwrap().inputs(),
            ["revenue", "unique_users"]
        );
        assert!(m.aggregate().is_none());

        let all = issues(
            "metric:\n  name: rpu\n  expression: revenue / users\n  source: duckdb://db/t\n  timestamp_col: ts\n  filter: x > 1\n",
        );
        let mut fields: Vec<(&str, u32)> = all
            .iter()
            .map(|i| (i.field.as_str(), i.location.line))
            .collect();
        fields.sort_by_key(|f| f.1);
        assert_eq!(fields, [("source", 4), ("timestamp_col", 5), ("filter", 6)]);
        assert!(all[0].message.contains("has no `source`"), "{all:?}");

        // Errors point into the expression.
        let issue = one_issue("metric:\n  name: rpu\n  expression: revenue / * users\n");
        assert_eq!((issue.location.line, issue.location.column), (3, 25));
        let issue = one_issue("metric:\n  name: rpu\n  expression: \"SUM(revenue)\"\n");
        assert!(issue.message.contains("calls no functions"), "{issue:?}");
        // A metric with neither `expression` nor `numerator` asks for the aggregate's fields.
        let all = issues("metric:\n  name: rpu\n");
        assert!(
            all.iter().any(|i| i.message.contains("`source`")),
            "{all:?}"
        );
    }

    #[test]
    fn reports_every_problem_of_a_spec_with_positions() {
        let all = issues(
            "metric:\n  name: 1ctr\n  source: events\n  numerater: SUM(x)\n  format: currency:usd\n  entities: []\n",
        );
        let summary: Vec<(u32, u32, &str)> = all
            .iter()
            .map(|i| (i.location.line, i.location.column, i.message.as_str()))
            .collect();
        assert_eq!(summary.len(), 6, "{summary:#?}");
        assert!(summary.contains(&(4, 3, "unknown field `numerater`")));
        assert_eq!(
            all.iter()
                .find(|i| i.field == "numerater")
                .unwrap()
                .help
                .as_deref(),
            Some("did you mean `numerator`?")
        );
        assert!(summary.iter().any(|s| (s.0, s.1) == (2, 3) && s.2.contains("missing required field `numerator`")), "{summary:#?}");
        assert!(
            summary
                .iter()
                .any(|s| (s.0, s.1) == (2, 9) && s.2.contains("not a valid SQL identifier"))
        );
        assert!(
            summary
                .iter()
                .any(|s| (s.0, s.1) == (3, 11) && s.2.contains("invalid source URI"))
        );
        assert!(
            summary
                .iter()
                .any(|s| (s.0, s.1) == (5, 11) && s.2.contains("unknown format"))
        );
        assert!(
            summary
                .iter()
                .any(|s| (s.0, s.1) == (6, 13) && s.2.contains("non-empty list"))
        );
    }

    #[test]
    fn sql_errors_point_into_the_expression() {
        let issue = one_issue(
            "metric:\n  name: m\n  source: duckdb://db/t\n  numerator: \"SUM(x) FROM t\"\n",
        );
        // `FROM` is column 8 of the expression, which starts after the quote at column 14.
        assert_eq!(
            (issue.location.line, issue.location.column),
            (4, 22),
            "{issue}"
        );
        let issue =
            one_issue("metric:\n  name: m\n  source: duckdb://db/t\n  numerator: SUM(x);\n");
        assert_eq!(
            (issue.location.line, issue.location.column),
            (4, 20),
            "{issue}"
        );
        let issue = one_issue("metric:\n  name: m\n  source: duckdb://db/t\n  numerator: clicks\n");
        assert!(issue.message.contains("no aggregate"), "{issue}");
    }

    #[test]
    fn slice_rules() {
        let issue = one_issue(
            "slice:\n  name: s\n  values:\n    - {name: a, where: \"x = 1\"}\n  where: \"y = 2\"\n",
        );
        assert!(issue.message.contains("mutually exclusive"), "{issue}");
        assert_eq!(
            issue.help.as_deref(),
            Some("a value-list slice puts a `where` on each value, not on the slice")
        );
        let issue = one_issue(
            "slice:\n  name: s\n  values:\n    - {name: a, where: \"x = 1\"}\n    - {name: a, where: \"x = 2\"}\n",
        );
        assert!(issue.message.contains("used twice"), "{issue}");
        assert_eq!(issue.location.line, 5);
        let issue = one_issue("slice:\n  name: s\n  where: \"lower(country)\"\n");
        assert!(issue.help.unwrap().contains("values:"));
        let issue = one_issue("slice:\n  name: s\n  cross_product: [a]\n");
        assert!(issue.message.contains("at least two"), "{issue}");
        let issue =
            one_issue("slice:\n  name: s\n  values:\n    - {name: a, where: \"SUM(x) > 0\"}\n");
        assert!(issue.message.contains("aggregate"), "{issue}");
        let Spec::Slice(s) =
            decode("slice:\n  name: s\n  where: events.country\n", None, None).unwrap()
        else {
            panic!()
        };
        assert!(matches!(s.kind, SliceKind::Column { ref column, .. } if column.name == "country"));
        let Spec::Slice(s) = decode(
            "slice:\n  name: year\n  values:\n    - {name: 2024, where: \"y = 2024\"}\n",
            None,
            None,
        )
        .unwrap() else {
            panic!()
        };
        assert!(matches!(s.kind, SliceKind::Values(ref v) if v[0].name == "2024"));
    }

    #[test]
    fn segment_rules() {
        let Spec::Segment(s) = decode(
            "segment:\n  name: tier\n  source: duckdb://db/dim\n  entity_id: user_id\n  join_keys: [buyer_id, seller_id]\n  where: [country, _dim.tier]\n",
            None,
            None,
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(s.join_keys.len(), 2);
        assert!(matches!(s.kind, SegmentKind::Columns(ref c) if c[1].name == "tier"));
        let issue =
            one_issue("segment:\n  name: tier\n  source: duckdb://db/dim\n  entity_id: user_id\n");
        assert!(issue.message.contains("needs `values`"), "{issue}");
        let all = issues(
            "segment:\n  name: tier\n  source: duckdb://db/dim\n  join_keys: [a b]\n  values: [{name: x, where: \"t = 1\"}]\n",
        );
        assert_eq!(all.len(), 2, "{all:#?}");
    }

    #[test]
    fn document_shape_errors() {
        assert!(one_issue("").message.contains("empty"));
        assert!(
            one_issue("metrc:\n  name: x\n")
                .help
                .unwrap()
                .contains("`metric`")
        );
        assert!(
            one_issue("- a\n- b\n")
                .message
                .contains("expected a mapping")
        );
        let issue = decode(
            "slice:\n  name: s\n  where: c\n",
            None,
            Some(SpecKind::Metric),
        )
        .unwrap_err();
        assert!(issue[0].message.contains("expected a metric spec"));
    }
}
