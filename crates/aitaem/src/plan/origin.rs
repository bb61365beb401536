//! Where a statement's SQL comes from in the specs: when a backend rejects a statement, what it
//! points at (a name it does not know, or the place in the statement: every backend fills both
//! in its error, in its own folder) is looked up in the fragments and columns of the statement's
//! metrics, slices and segment, and the error points at it in the spec file.

use std::path::Path;
use std::sync::Arc;

use crate::error::BackendError;
use crate::request::{Aggregated, CheckedRequest};
use crate::spec::{SegmentKind, SliceKind};
use crate::yaml::Location;

/// SQL text a spec wrote, and where.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    /// Where the text starts (a fragment), or the spec (a column name).
    pub location: Location,
    /// The fragment, or the column names.
    pub text: String,
}

/// The origins of a statement's SQL: its metrics' numerators, denominators and filters, then
/// the request's slices and segment.
pub(crate) fn origins(metrics: &[Aggregated], request: &CheckedRequest) -> Vec<Origin> {
    let fragment = |f: &crate::spec::SqlFragment| Origin {
        location: f.location.clone(),
        text: f.text.clone(),
    };
    let mut out: Vec<Origin> = Vec::new();
    for metric in metrics {
        out.extend(
            std::iter::once(&metric.def.numerator)
                .chain(&metric.def.denominator)
                .chain(&metric.def.filter)
                .map(fragment),
        );
    }
    for slice in request.slices.iter().flat_map(|(_, leaves)| leaves) {
        match &slice.kind {
            SliceKind::Values(values) => out.extend(values.iter().map(|v| fragment(&v.predicate))),
            SliceKind::Column { written, .. } => out.push(Origin {
                location: slice.location.clone(),
                text: written.clone(),
            }),
            SliceKind::CrossProduct(_) => {}
        }
    }
    if let Some(segment) = &request.segment {
        let spec = segment.spec;
        match &spec.kind {
            SegmentKind::Values(values) => {
                out.extend(values.iter().map(|v| fragment(&v.predicate)))
            }
            SegmentKind::Columns(columns) => out.push(Origin {
                location: spec.location.clone(),
                text: columns
                    .iter()
                    .map(|c| c.name.clone())
                    .collect::<Vec<_>>()
                    .join(" "),
            }),
        }
        out.push(Origin {
            location: spec.location.clone(),
            text: format!("{} {}", spec.entity_id.name, segment.join_key.name),
        });
    }
    out
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Where `word` is (case-insensitively, not inside a longer word) in `text`, as a char index.
fn find_word(text: &str, word: &str) -> Option<usize> {
    let chars: Vec<char> = text.chars().collect();
    let target: Vec<char> = word.chars().flat_map(char::to_lowercase).collect();
    let lower: Vec<char> = chars
        .iter()
        .map(|c| c.to_lowercase().next().unwrap_or(*c))
        .collect();
    let (first, last) = (target.first()?, target.last()?);
    (0..chars.len()).find(|&i| {
        lower[i..].starts_with(&target)
            && (i == 0 || !is_word(chars[i - 1]) || !is_word(*first))
            && chars
                .get(i + target.len())
                .is_none_or(|c| !is_word(*c) || !is_word(*last))
    })
}

/// The location of `word` in the spec file, at or after `from`; `None` when the file cannot be
/// read or does not have it there.
fn in_file(from: &Location, word: &str) -> Option<Location> {
    let file: &Arc<Path> = from.file.as_ref()?;
    let text = std::fs::read_to_string(file).ok()?;
    let first = (from.line.max(1) - 1) as usize;
    text.lines().enumerate().skip(first).find_map(|(n, line)| {
        let skip = if n == first {
            from.column.max(1) as usize - 1
        } else {
            0
        };
        let rest: String = line.chars().skip(skip).collect();
        find_word(&rest, word).map(|i| Location {
            file: from.file.clone(),
            line: n as u32 + 1,
            column: (skip + i) as u32 + 1,
        })
    })
}

/// The location of `word` in an origin's own text (specs loaded from strings): on its first
/// line, or the origin's start.
fn in_text(origin: &Origin, word: &str) -> Location {
    let first = origin.text.lines().next().unwrap_or_default();
    match find_word(first, word) {
        Some(i) if origin.location.line > 0 => Location {
            column: origin.location.column + i as u32,
            ..origin.location.clone()
        },
        _ => origin.location.clone(),
    }
}

/// Where in `origins` a backend's error about `sql` points: a name it says it does not know,
/// or the name or call at the place in the statement it gives.
pub(crate) fn locate(origins: &[Origin], sql: &str, error: &BackendError) -> Option<Location> {
    let by_name = |name: &str| {
        let origin = origins
            .iter()
            .find(|o| find_word(&o.text, name).is_some())?;
        Some(in_file(&origin.location, name).unwrap_or_else(|| in_text(origin, name)))
    };
    if let Some(found) = error.unknown_name().and_then(by_name) {
        return Some(found);
    }
    let position = error.position()?.checked_sub(1)? as usize;
    let offset = sql.char_indices().nth(position).map(|(i, _)| i)?;
    match token_at(sql, offset)? {
        Token::Name(name) => by_name(&name),
        Token::Call { name, text } => {
            let call = normalized(&text);
            let origin = origins
                .iter()
                .find(|o| normalized(&o.text).contains(&call))?;
            // The call as written, else its function's name.
            in_file(&origin.location, &text)
                .or_else(|| in_file(&origin.location, &name))
                .or_else(|| Some(in_text(origin, &name)))
        }
    }
}

/// Lower case, without white space or quotes: to find a rendered call in a spec's text.
fn normalized(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '"' | '`'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// What an error position shows in a statement.
enum Token {
    /// A name: a column or alias.
    Name(String),
    /// A function call: its name and its text up to the closing parenthesis.
    Call { name: String, text: String },
}

/// The name or call at a byte offset of `sql`.
fn token_at(sql: &str, offset: usize) -> Option<Token> {
    let rest = sql.get(offset..)?;
    let first = rest.chars().next()?;
    if first == '"' || first == '`' {
        let name: String = rest[1..].chars().take_while(|c| *c != first).collect();
        return Some(Token::Name(name));
    }
    let name: String = rest
        .chars()
        .take_while(|c| is_word(*c) || *c == '.')
        .collect();
    if name.is_empty() {
        return None;
    }
    let after = rest[name.len()..].trim_start();
    if !after.starts_with('(') {
        return Some(Token::Name(name.rsplit('.').next()?.to_string()));
    }
    let mut depth = 0usize;
    let start = rest.len() - after.len();
    for (i, c) in after.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(Token::Call {
                        name,
                        text: rest[..start + i + 1].to_string(),
                    });
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::BackendErrorKind::Rejected;

    #[test]
    fn words_are_found_whole() {
        assert_eq!(find_word("SUM(revenue) / SUM(rev)", "REV"), Some(19));
        assert_eq!(find_word("SUM(revenue)", "rev"), None);
    }

    #[test]
    fn a_position_names_a_call_or_a_column_of_an_origin() {
        let sql =
            "WITH x AS (\n    SELECT SUM(a) + SUM(b) AS __m0,\n        \"country\" AS __s0\n)";
        let origins = [
            Origin {
                location: Location {
                    file: None,
                    line: 4,
                    column: 14,
                },
                text: "SUM(a) + SUM(b)".into(),
            },
            Origin {
                location: Location {
                    file: None,
                    line: 9,
                    column: 3,
                },
                text: "country".into(),
            },
        ];
        let at = |error: BackendError| locate(&origins, sql, &error).map(|l| (l.line, l.column));
        assert_eq!(
            at(BackendError::new(Rejected, "x").with_position(33)),
            Some((4, 14))
        );
        assert_eq!(
            at(BackendError::new(Rejected, "x").with_position(57)),
            Some((9, 3))
        );
        assert_eq!(
            at(BackendError::new(Rejected, "x").with_unknown_name("COUNTRY")),
            Some((9, 3))
        );
        assert_eq!(at(BackendError::new(Rejected, "x")), None);
    }
}
