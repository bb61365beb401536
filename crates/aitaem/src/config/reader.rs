//! Reading one backend's block of settings: the fields a backend's driver asks for, each with
//! `${VAR}` substituted, and every problem recorded with its position.

use crate::backend::BackendKind;
use crate::config::{BackendConfig, substitute};
use crate::yaml::{Decoder, Fields, Location, Node, Value};

/// One backend's block of settings, as its driver reads it (see
/// [`Driver::settings`](crate::backend::Driver::settings)).
///
/// Every problem is recorded where it is, with the field's name (`postgres.port`); a driver
/// reads all fields before it gives up, so that one pass reports every problem.
pub(crate) struct SettingsReader<'r> {
    d: &'r mut Decoder,
    env: &'r dyn Fn(&str) -> Option<String>,
    node: &'r Node,
    /// The block's name, prefixing field names in messages.
    block: &'static str,
    fields: Option<Fields<'r>>,
    issues_before: usize,
}

impl<'r> SettingsReader<'r> {
    pub(crate) fn new(
        d: &'r mut Decoder,
        env: &'r dyn Fn(&str) -> Option<String>,
        node: &'r Node,
        block: &'static str,
    ) -> Self {
        let issues_before = d.issues.len();
        SettingsReader {
            d,
            env,
            node,
            block,
            fields: None,
            issues_before,
        }
    }

    /// The settings the backend's driver reads from the block.
    pub(crate) fn read(mut self, backend: BackendKind) -> Option<BackendConfig> {
        let config = backend.driver().settings(&mut self);
        config.filter(|_| self.ok())
    }

    /// Checks the block's fields: a mapping, with only `allowed` fields and every `required`
    /// one. Returns false when the block is not a mapping (nothing else can be read then).
    pub(crate) fn fields(&mut self, allowed: &[&str], required: &[&str]) -> bool {
        self.fields = self.d.fields(self.node, self.block, allowed, required);
        self.fields.is_some()
    }

    /// Whether the block has a field (null counts as absent).
    pub(crate) fn has(&self, name: &str) -> bool {
        self.node(name).is_some()
    }

    fn node(&self, name: &str) -> Option<&'r Node> {
        self.fields
            .as_ref()?
            .get(name)
            .filter(|n| !matches!(n.value, Value::Null))
    }

    /// `block.name`, as messages name a field.
    pub(crate) fn path(&self, name: &str) -> String {
        format!("{}.{name}", self.block)
    }

    /// Where a field is written, or where the block is when it has no such field.
    pub(crate) fn location(&self, name: &str) -> Location {
        match self.node(name) {
            Some(node) => self.d.location(node),
            None => self
                .fields
                .as_ref()
                .map(|f| f.at.clone())
                .unwrap_or_else(|| self.d.location(self.node)),
        }
    }

    /// A field's text (numbers and booleans read as written), with variables substituted;
    /// `None` when the field is absent, or invalid (which is recorded).
    pub(crate) fn text(&mut self, name: &str) -> Option<String> {
        let node = self.node(name)?;
        let field = self.path(name);
        let (raw, at) = self.d.string(node, &field, true)?;
        let value = match substitute(&raw, self.env) {
            Ok(value) => value,
            Err(message) => {
                self.d.issue(at, &field, message, None);
                return None;
            }
        };
        if value.is_empty() {
            self.d.issue(
                at,
                &field,
                format!("`{raw}` is empty after substituting variables"),
                None,
            );
            return None;
        }
        Some(value)
    }

    /// A field's text read by `parse`; `None` when absent, or invalid (recorded with what
    /// `parse` says).
    pub(crate) fn parse<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let text = self.text(name)?;
        match parse(&text) {
            Ok(value) => Some(value),
            Err(message) => {
                self.issue(name, message, None);
                None
            }
        }
    }

    /// A boolean field (`true`, `false`, or their text).
    pub(crate) fn boolean(&mut self, name: &str) -> Option<bool> {
        if let Some(Value::Bool(b)) = self.node(name).map(|n| &n.value) {
            return Some(*b);
        }
        self.parse(name, |text| match text.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("expected true or false, found `{text}`")),
        })
    }

    /// A field that is a mapping of names to scalar values (`key: value` lines), each value's
    /// text with variables substituted; `None` when the field is absent, or invalid (recorded).
    pub(crate) fn mapping(&mut self, name: &str) -> Option<Vec<(String, String)>> {
        let node = self.node(name)?;
        let field = self.path(name);
        let Value::Map(entries) = &node.value else {
            let at = self.d.location(node);
            let found = node.value.type_name();
            self.d.issue(
                at,
                &field,
                format!("expected a mapping, found {found}"),
                Some(format!("write `{name}` as `key: value` lines")),
            );
            return None;
        };
        let mut out = Vec::new();
        for (key, value) in entries {
            let key = self.d.string(key, &field, true)?.0;
            let entry = format!("{field}.{key}");
            let (raw, at) = self.d.string(value, &entry, true)?;
            match substitute(&raw, self.env) {
                Ok(value) => out.push((key, value)),
                Err(message) => {
                    self.d.issue(at, &entry, message, None);
                    return None;
                }
            }
        }
        Some(out)
    }

    /// Records a problem with a field (or with the block, when it has no such field).
    pub(crate) fn issue(&mut self, name: &str, message: impl Into<String>, help: Option<String>) {
        let at = self.location(name);
        let field = self.path(name);
        self.d.issue(at, &field, message, help);
    }

    /// Whether no problem was recorded in this block.
    pub(crate) fn ok(&self) -> bool {
        self.d.issues.len() == self.issues_before
    }
}
