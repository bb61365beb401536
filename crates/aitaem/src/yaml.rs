//! YAML (specs and `connections.yaml`) as a tree of values that remember where they were written.
//!
//! Specs are decoded by hand from this tree rather than by `serde` derive, so that one pass
//! reports every problem in a spec (each unknown field, each wrong type, each missing field),
//! each with its own line and column, instead of stopping at the first.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::error::SpecIssue;

/// A position in a YAML file (1-based line and character column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, or `None` for specs loaded from strings.
    pub file: Option<Arc<Path>>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub column: u32,
}

impl Location {
    /// A location without a line (the whole file, e.g. when it cannot be read).
    pub fn file(file: Option<Arc<Path>>) -> Self {
        Location {
            file,
            line: 0,
            column: 0,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match &self.file {
            Some(path) => path.display().to_string(),
            None => "<string>".to_string(),
        };
        if self.line == 0 {
            write!(f, "{name}")
        } else {
            write!(f, "{name}:{}:{}", self.line, self.column)
        }
    }
}

/// A YAML value with its position.
pub(crate) type Node = Spanned<Value>;

/// A YAML value.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// What the value is, for "expected X, found Y" messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "a number",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The value as text, for scalars (numbers and booleans are written back as text; see
    /// [`Decoder::raw_text`] for their text exactly as written).
    pub(crate) fn scalar_text(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        i128::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom("integer too large"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

/// The most YAML values (scalars, lists and mappings) one file may hold: about a million slice
/// values. The parser's other limits stay at its defaults (nesting 64 deep, 50,000 aliases, and
/// aliases not more than ten times the anchors, which stops "billion laughs" documents).
pub(crate) const MAX_NODES: usize = 5_000_000;

/// Parses one YAML document. Syntax errors and duplicate keys come back as one issue.
pub(crate) fn parse(text: &str, file: &Option<Arc<Path>>) -> Result<Node, SpecIssue> {
    // YAML 1.2 booleans only, so a value named `NO` (Norway) or `on` stays text. Duplicate keys
    // are errors (the library's default).
    let options = serde_saphyr::options! {
        strict_booleans: true,
        budget: serde_saphyr::budget! {
            max_nodes: MAX_NODES,
            max_events: 4 * MAX_NODES,
        },
    };
    serde_saphyr::from_str_with_options::<Node>(text, options).map_err(|err| {
        let (line, column) = err
            .location()
            .map(|l| (l.line() as u32, l.column() as u32))
            .unwrap_or((0, 0));
        SpecIssue {
            location: Location {
                file: file.clone(),
                line,
                column,
            },
            field: String::new(),
            message: yaml_message(&err),
            help: None,
        }
    })
}

/// The parser's message without its own rendering of the position and snippet.
fn yaml_message(err: &serde_saphyr::Error) -> String {
    if let serde_saphyr::Error::Budget { breach, .. } = err {
        return format!(
            "the file is larger or more deeply nested than a spec file may be ({breach:?}; at most {MAX_NODES} values, nested at most 64 deep); split it into several files"
        );
    }
    let text = err.without_snippet().to_string();
    // The crate appends " at line X column Y"; our diagnostics carry the position already.
    let text = match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    format!("invalid YAML: {}", text.trim())
}

/// Collects issues while decoding one file.
pub(crate) struct Decoder {
    pub(crate) file: Option<Arc<Path>>,
    /// The document's text, for scalars as written.
    text: Arc<str>,
    pub(crate) issues: Vec<SpecIssue>,
}

/// The fields of a mapping, after checking for unknown and missing ones.
pub(crate) struct Fields<'a> {
    entries: Vec<(&'a str, &'a Node)>,
    /// Position of the mapping itself.
    pub(crate) at: Location,
}

impl<'a> Fields<'a> {
    pub(crate) fn get(&self, name: &str) -> Option<&'a Node> {
        self.entries
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, node)| *node)
    }
}

impl Decoder {
    pub(crate) fn new(file: Option<Arc<Path>>, text: &str) -> Self {
        Decoder {
            file,
            text: text.into(),
            issues: Vec::new(),
        }
    }

    /// A scalar exactly as written in the document (`1.50` stays `1.50`, not `1.5`).
    pub(crate) fn raw_text(&self, node: &Node) -> Option<String> {
        let span = node.referenced.span();
        let start = span.byte_offset()? as usize;
        let len = span.byte_len()? as usize;
        let raw = self.text.get(start..start + len)?;
        // Only plain scalars are taken as written; anything else falls back to the value.
        (!raw.is_empty() && !raw.starts_with(['"', '\'', '|', '>'])).then(|| raw.to_string())
    }

    /// The document's text.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn location(&self, node: &Node) -> Location {
        Location {
            file: self.file.clone(),
            line: node.referenced.line() as u32,
            column: node.referenced.column() as u32,
        }
    }

    pub(crate) fn issue(
        &mut self,
        at: Location,
        field: &str,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        self.issues.push(SpecIssue {
            location: at,
            field: field.to_string(),
            message: message.into(),
            help,
        });
    }

    /// Reads a mapping, reporting unknown fields (with the closest known one) and missing
    /// required fields. `path` prefixes field names in messages (e.g. `values[2]`).
    pub(crate) fn fields<'a>(
        &mut self,
        node: &'a Node,
        path: &str,
        allowed: &[&str],
        required: &[&str],
    ) -> Option<Fields<'a>> {
        let at = self.location(node);
        let Value::Map(entries) = &node.value else {
            self.issue(
                at,
                path,
                format!("expected a mapping, found {}", node.value.type_name()),
                Some(format!(
                    "write `{}` as `key: value` lines",
                    display_path(path)
                )),
            );
            return None;
        };
        let mut fields = Vec::new();
        for (key, value) in entries {
            let Value::Str(name) = &key.value else {
                let at = self.location(key);
                self.issue(
                    at,
                    path,
                    format!(
                        "field names must be strings, found {}",
                        key.value.type_name()
                    ),
                    None,
                );
                continue;
            };
            if !allowed.contains(&name.as_str()) {
                let at = self.location(key);
                let close = crate::error::close_names(name, allowed.iter().copied());
                let help = match close.first() {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!("allowed fields: {}", allowed.join(", ")),
                };
                self.issue(
                    at,
                    &join_path(path, name),
                    format!("unknown field `{name}`"),
                    Some(help),
                );
                continue;
            }
            fields.push((name.as_str(), value));
        }
        for name in required {
            if !fields.iter().any(|(key, _)| key == name) {
                self.issue(
                    at.clone(),
                    &join_path(path, name),
                    format!("missing required field `{name}`"),
                    None,
                );
            }
        }
        Some(Fields {
            entries: fields,
            at,
        })
    }

    /// A non-empty string (numbers and booleans are accepted and read as text when
    /// `allow_scalars`).
    pub(crate) fn string(
        &mut self,
        node: &Node,
        field: &str,
        allow_scalars: bool,
    ) -> Option<(String, Location)> {
        let at = self.location(node);
        let text = match &node.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(_) | Value::Float(_) | Value::Bool(_) if allow_scalars => {
                self.raw_text(node).or_else(|| node.value.scalar_text())
            }
            _ => None,
        };
        match text {
            Some(text) if !text.trim().is_empty() => Some((text, at)),
            Some(_) => {
                self.issue(at, field, "must be a non-empty string", None);
                None
            }
            None => {
                self.issue(
                    at,
                    field,
                    format!("expected a string, found {}", node.value.type_name()),
                    None,
                );
                None
            }
        }
    }

    /// A non-empty list.
    pub(crate) fn list<'a>(&mut self, node: &'a Node, field: &str) -> Option<&'a [Node]> {
        let at = self.location(node);
        match &node.value {
            Value::Seq(items) if !items.is_empty() => Some(items),
            Value::Seq(_) => {
                self.issue(at, field, "must be a non-empty list", None);
                None
            }
            other => {
                self.issue(
                    at,
                    field,
                    format!("expected a list, found {}", other.type_name()),
                    Some(format!("write `{field}: [a, b]` or one `- item` per line")),
                );
                None
            }
        }
    }
}

pub(crate) fn join_path(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() { "the spec" } else { path }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_of_nested_values() {
        let node = parse("metric:\n  name: ctr\n  entities: [a, b]\n", &None).unwrap();
        let Value::Map(top) = &node.value else {
            panic!()
        };
        let Value::Map(fields) = &top[0].1.value else {
            panic!()
        };
        let (key, value) = &fields[1];
        assert!(matches!(&key.value, Value::Str(k) if k == "entities"));
        assert_eq!(
            (value.referenced.line(), value.referenced.column()),
            (3, 13)
        );
        let Value::Seq(items) = &value.value else {
            panic!()
        };
        assert_eq!(items[1].referenced.column(), 17);
    }

    #[test]
    fn duplicate_keys_are_errors_at_the_duplicate() {
        let err = parse("metric:\n  name: a\n  name: b\n", &None).unwrap_err();
        assert_eq!(err.location.line, 3, "{err}");
        assert!(err.message.contains("duplicate"), "{err}");
    }

    #[test]
    fn scalars_keep_their_types() {
        let node = parse("a: 12\nb: 1.5\nc: true\nd: NO\ne: ~\n", &None).unwrap();
        let Value::Map(m) = &node.value else { panic!() };
        let kinds: Vec<&str> = m.iter().map(|(_, v)| v.value.type_name()).collect();
        assert_eq!(
            kinds,
            [
                "a number",
                "a number",
                "a boolean",
                "a string",
                "nothing (null)"
            ]
        );
        let node = parse("a: 1.50\n", &None).unwrap();
        let Value::Map(m) = &node.value else { panic!() };
        let d = Decoder::new(None, "a: 1.50\n");
        assert_eq!(d.raw_text(&m[0].1).as_deref(), Some("1.50"));
    }
}
