//! Where a statement's SQL comes from in the specs: when a backend rejects a statement because
//! of a name (a column it does not know), the name is looked up in the fragments and columns of
//! the statement's metrics, slices and segment, and the error points at it in the spec file.

use std::path::Path;
use std::sync::Arc;

use crate::request::CheckedRequest;
use crate::spec::{MetricSpec, SegmentKind, SliceKind};
use crate::yaml::Location;

/// SQL text a spec wrote, and where.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    /// Where the text starts (a fragment), or the spec (a column name).
    pub location: Location,
    /// The fragment, or the column names.
    pub text: String,
}

/// The origins of a statement's SQL: its metrics' numerators and denominators, then the
/// request's slices and segment.
pub(crate) fn origins(metrics: &[&MetricSpec], request: &CheckedRequest) -> Vec<Origin> {
    let fragment = |f: &crate::spec::SqlFragment| Origin {
        location: f.location.clone(),
        text: f.text.clone(),
    };
    let mut out: Vec<Origin> = Vec::new();
    for metric in metrics {
        out.extend(
            std::iter::once(&metric.numerator)
                .chain(&metric.denominator)
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

/// The names a backend's message says it does not know (DuckDB: `Referenced column "x" not
/// found`, PostgreSQL: `column "x" does not exist`, BigQuery: `Unrecognized name: x`), without
/// qualifiers.
fn unknown_names(message: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (start, end) in [
        ("column \"", '"'),
        ("column named \"", '"'),
        ("Unrecognized name: ", ' '),
    ] {
        for (at, _) in message.match_indices(start) {
            let rest = &message[at + start.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| *c != end && (end == '"' || is_word(*c) || *c == '.'))
                .collect();
            let name = name.rsplit('.').next().unwrap_or_default().to_string();
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Where `word` is (case-insensitively, as a whole word) in `text`, as a char index.
fn find_word(text: &str, word: &str) -> Option<usize> {
    let chars: Vec<char> = text.chars().collect();
    let target: Vec<char> = word.chars().flat_map(char::to_lowercase).collect();
    let lower: Vec<char> = chars
        .iter()
        .map(|c| c.to_lowercase().next().unwrap_or(*c))
        .collect();
    (0..chars.len()).find(|&i| {
        lower[i..].starts_with(&target)
            && (i == 0 || !is_word(chars[i - 1]))
            && chars.get(i + target.len()).is_none_or(|c| !is_word(*c))
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

/// Where in `origins` a backend's message points, if it names something they use.
pub(crate) fn locate(origins: &[Origin], message: &str) -> Option<Location> {
    unknown_names(message).iter().find_map(|name| {
        let origin = origins
            .iter()
            .find(|o| find_word(&o.text, name).is_some())?;
        Some(in_file(&origin.location, name).unwrap_or_else(|| in_text(origin, name)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_name_what_they_do_not_know() {
        assert_eq!(
            unknown_names("Binder Error: Referenced column \"nope_col\" not found in FROM clause!"),
            ["nope_col"]
        );
        assert_eq!(
            unknown_names("db error: ERROR: column __fact.\"Revenue\" does not exist"),
            Vec::<String>::new()
        );
        assert_eq!(
            unknown_names("ERROR: column \"revenu\" does not exist"),
            ["revenu"]
        );
        assert_eq!(
            unknown_names("Unrecognized name: revenu; Did you mean revenue? at [5:13]"),
            ["revenu"]
        );
        assert_eq!(find_word("SUM(revenue) / SUM(rev)", "REV"), Some(19));
        assert_eq!(find_word("SUM(revenue)", "rev"), None);
    }
}
