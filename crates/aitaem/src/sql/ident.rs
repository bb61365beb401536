//! Column names written in specs (`timestamp_col`, `entities`, `entity_id`, `join_keys`,
//! wildcard `where`).
//!
//! A name is either bare (`event_ts`: letters, digits and `_`, not starting with a digit) or
//! double-quoted (`"Event Time"`, with `""` for a quote inside) for names with spaces or other
//! characters. Names are always quoted when rendered into SQL, so nothing can be injected
//! through them and reserved words work as column names.

use std::fmt;

/// A column name from a spec.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ident {
    /// The name without quotes.
    pub name: String,
    /// Whether it was written in double quotes (then it is matched exactly; bare names are
    /// matched the way the backend matches unquoted names).
    pub quoted: bool,
}

impl Ident {
    /// A bare (unquoted) name; `name` must be a valid bare identifier.
    pub fn bare(name: impl Into<String>) -> Self {
        Ident {
            name: name.into(),
            quoted: false,
        }
    }

    /// Parses one name, bare or double-quoted.
    ///
    /// ```
    /// use aitaem::sql::Ident;
    /// assert_eq!(Ident::parse("event_ts").unwrap(), Ident::bare("event_ts"));
    /// assert_eq!(Ident::parse("\"Event Time\"").unwrap().name, "Event Time");
    /// assert!(Ident::parse("ts; DROP TABLE x").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Ident, String> {
        let parts = Ident::parse_qualified(text)?;
        if parts.len() > 1 {
            return Err(format!(
                "`{text}` is qualified; write the column name alone (`{}`)",
                parts[parts.len() - 1]
            ));
        }
        Ok(parts.into_iter().next().expect("at least one part"))
    }

    /// Parses a possibly dot-qualified name such as `events.country`, returning its parts.
    pub fn parse_qualified(text: &str) -> Result<Vec<Ident>, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("a column name must not be empty".into());
        }
        let mut parts = Vec::new();
        let mut rest = text;
        loop {
            let (part, after) = parse_part(rest).map_err(|why| {
                format!("`{text}` is not a column name: {why}; use letters, digits and `_`, or double quotes for other names")
            })?;
            parts.push(part);
            if after.is_empty() {
                return Ok(parts);
            }
            match after.strip_prefix('.') {
                Some(next) => rest = next,
                None => {
                    return Err(format!(
                        "`{text}` is not a column name: unexpected `{}`; a column name is one identifier, not an expression",
                        after.chars().next().unwrap_or(' ')
                    ));
                }
            }
        }
    }

    /// Whether this name refers to the column called `column` in a table, comparing bare
    /// names case-insensitively (as DuckDB, BigQuery and PostgreSQL's folding do).
    pub fn matches(&self, column: &str) -> bool {
        if self.quoted {
            self.name == column
        } else {
            self.name.eq_ignore_ascii_case(column)
        }
    }
}

fn parse_part(text: &str) -> Result<(Ident, &str), String> {
    if let Some(inner) = text.strip_prefix('"') {
        let mut name = String::new();
        let mut chars = inner.char_indices();
        while let Some((i, c)) = chars.next() {
            if c == '"' {
                if inner[i + 1..].starts_with('"') {
                    name.push('"');
                    chars.next();
                    continue;
                }
                if name.is_empty() {
                    return Err("empty quoted name".into());
                }
                return Ok((Ident { name, quoted: true }, &inner[i + 1..]));
            }
            if c.is_control() {
                return Err("control characters are not allowed".into());
            }
            name.push(c);
        }
        return Err("missing closing `\"`".into());
    }
    let end = text
        .char_indices()
        .find(|&(_, c)| !(c.is_alphanumeric() || c == '_'))
        .map(|(i, _)| i)
        .unwrap_or(text.len());
    let name = &text[..end];
    match name.chars().next() {
        None => Err(match text.chars().next() {
            Some(c) => format!("unexpected `{c}`"),
            None => "a name is missing after `.`".into(),
        }),
        Some(c) if c.is_numeric() => Err("it starts with a digit".into()),
        Some(_) => Ok((Ident::bare(name), &text[end..])),
    }
}

impl fmt::Display for Ident {
    /// The name as it would be written in a spec.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.quoted {
            write!(f, "\"{}\"", self.name.replace('"', "\"\""))
        } else {
            f.write_str(&self.name)
        }
    }
}

/// Whether `name` is a valid spec name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bare_quoted_and_qualified_names() {
        assert_eq!(Ident::parse("user_id").unwrap(), Ident::bare("user_id"));
        assert_eq!(Ident::parse("  país ").unwrap(), Ident::bare("país"));
        let q = Ident::parse(r#""say ""hi""""#).unwrap();
        assert_eq!((q.name.as_str(), q.quoted), (r#"say "hi""#, true));
        let parts = Ident::parse_qualified("events.\"Country Code\"").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1].name, "Country Code");
    }

    #[test]
    fn rejects_expressions_and_injection() {
        for bad in [
            "", "a b", "1abc", "a;drop", "a)", "\"open", "a.", ".a", "\"\"", "lower(a)", "a--",
        ] {
            assert!(Ident::parse_qualified(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Ident::parse("events.country").is_err());
    }

    #[test]
    fn matching_follows_quoting() {
        assert!(Ident::bare("Country").matches("country"));
        assert!(!Ident::parse("\"Country\"").unwrap().matches("country"));
    }

    #[test]
    fn spec_names() {
        assert!(is_valid_name("ctr_7d"));
        assert!(is_valid_name("_x"));
        assert!(!is_valid_name("7d"));
        assert!(!is_valid_name("click-rate"));
        assert!(!is_valid_name(""));
    }
}
