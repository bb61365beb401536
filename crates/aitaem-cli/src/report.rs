//! Printing errors: a first line `Kind: where: what` that scripts can match, then, when the
//! error points into a file, the lines around it and what to change (rendered by miette).

use std::fmt;
use std::io::IsTerminal;

use aitaem::Error;
use aitaem::Location;
use aitaem::error::SpecIssue;
use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode,
};

/// Prints an error to standard error.
pub fn error(err: &Error) {
    match err {
        Error::SpecValidation(e) => {
            for issue in &e.issues {
                spec_issue(err.kind().name(), issue);
            }
        }
        Error::Configuration {
            location: Some(location),
            message,
        } => {
            let mut lines = message.lines();
            let first = lines.next().unwrap_or_default();
            eprintln!("{}: {location}: {first}", err.kind());
            for line in lines {
                eprintln!("{}: {line}", err.kind());
            }
            eprint!("{}", snippet(location, None));
        }
        Error::QueryExecution {
            location: Some(location),
            ..
        } => {
            eprintln!("{}: {err}", err.kind());
            eprint!(
                "{}",
                snippet(
                    location,
                    Some(
                        "the backend rejected the statement here; check the names and types against the table's columns (`aitaem describe SOURCE`)"
                    )
                )
            );
        }
        other => eprintln!("{}: {other}", other.kind()),
    }
}

/// Prints a note on how a source was found.
pub fn notice(text: &str) {
    eprintln!("warning: {text}");
}

/// Prints a warning (a failed source in a partial result).
pub fn warning(err: &Error) {
    eprintln!("warning: {}: {err}", err.kind());
}

fn spec_issue(kind: &str, issue: &SpecIssue) {
    let frame = snippet(&issue.location, issue.help.as_deref());
    if frame.is_empty() {
        eprintln!("{kind}: {issue}");
        return;
    }
    // The frame shows the help; the header line says where and what.
    let field = if issue.field.is_empty() {
        String::new()
    } else {
        format!("{}: ", issue.field)
    };
    eprintln!("{kind}: {}: {field}{}", issue.location, issue.message);
    eprint!("{frame}");
}

/// The source lines around a location, with its help, or nothing when the file cannot be read.
fn snippet(location: &Location, help: Option<&str>) -> String {
    let (Some(file), true) = (&location.file, location.line > 0) else {
        return String::new();
    };
    let Ok(text) = std::fs::read_to_string(file) else {
        return String::new();
    };
    let Some(offset) = byte_offset(&text, location.line, location.column) else {
        return String::new();
    };
    let line_start = text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = text[offset..]
        .find('\n')
        .map(|i| offset + i)
        .unwrap_or(text.len());
    if text[line_start..line_end].chars().count() > LONG_LINE {
        return window(
            &text[line_start..line_end],
            offset - line_start,
            location,
            help,
        );
    }
    let rest = &text[offset..];
    let len = rest.find(['\n', '\r']).unwrap_or(rest.len()).clamp(1, 60);
    let diagnostic = Snippet {
        source: NamedSource::new(file.display().to_string(), text.clone()),
        span: (
            offset,
            len.min(rest.len()).max(usize::from(rest.is_empty())),
        ),
        help: help.map(str::to_string),
    };
    let theme = if std::io::stderr().is_terminal() {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let mut out = String::new();
    let rendered = GraphicalReportHandler::new_themed(theme)
        .with_context_lines(1)
        .render_report(&mut out, &diagnostic);
    if rendered.is_err() {
        return String::new();
    }
    // The first line is the (empty) message; the header line printed before replaces it.
    let mut lines = out.lines();
    lines.next();
    let mut body: String = lines.map(|l| format!("{l}\n")).collect();
    if !body.ends_with("\n\n") {
        body.push('\n');
    }
    body
}

/// Lines longer than this (in characters) are shown as a window around the column: a minified
/// file's one line can be megabytes long.
const LONG_LINE: usize = 300;

/// A window of a long line around a byte offset in it, with a caret under the offset.
fn window(line: &str, offset: usize, location: &Location, help: Option<&str>) -> String {
    const SIDE: usize = 60;
    let before: Vec<char> = line[..offset].chars().collect();
    let after: String = line[offset..].chars().take(SIDE).collect();
    let start = before.len().saturating_sub(SIDE);
    let shown_before: String = before[start..].iter().collect();
    let lead = if start > 0 { "…" } else { "" };
    let tail = if line[offset..].chars().count() > SIDE {
        "…"
    } else {
        ""
    };
    let column = lead.chars().count() + shown_before.chars().count();
    let mut out = format!(
        "  ┌─ line {}, characters {}-{} of {}\n  │ {lead}{shown_before}{after}{tail}\n  │ {}^ here\n",
        location.line,
        start + 1,
        before.len() + after.chars().count(),
        line.chars().count(),
        " ".repeat(column)
    );
    if let Some(help) = help {
        out.push_str(&format!("  help: {help}\n"));
    }
    out.push('\n');
    out
}

/// The byte offset of a 1-based line and character column.
fn byte_offset(text: &str, line: u32, column: u32) -> Option<usize> {
    let mut start = 0;
    for _ in 1..line {
        start += text[start..].find('\n')? + 1;
    }
    let line_text = &text[start..];
    let within = line_text
        .char_indices()
        .nth(column.saturating_sub(1) as usize)
        .map(|(i, _)| i)
        .unwrap_or(line_text.find('\n').unwrap_or(line_text.len()));
    Some(start + within)
}

#[derive(Debug)]
struct Snippet {
    source: NamedSource<String>,
    span: (usize, usize),
    help: Option<String>,
}

impl fmt::Display for Snippet {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }
}

impl std::error::Error for Snippet {}

impl Diagnostic for Snippet {
    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(LabeledSpan::new(
            Some("here".into()),
            self.span.0,
            self.span.1,
        ))))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h.clone()) as Box<dyn fmt::Display>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_show_a_window_around_the_column() {
        let line = format!("{{a: \"{}\", bogus: 1}}", "x".repeat(70_000));
        let column = line.find("bogus").unwrap();
        let location = Location {
            file: None,
            line: 1,
            column: column as u32 + 1,
        };
        let shown = window(&line, column, &location, Some("remove it"));
        let lines: Vec<&str> = shown.lines().collect();
        // `{a: "` is 5 characters and `", ` 3: `bogus` starts at character 70,009 of 70,017.
        assert_eq!(lines[0], "  ┌─ line 1, characters 69949-70017 of 70017");
        let caret = lines[2].chars().position(|c| c == '^').unwrap();
        assert_eq!(
            lines[1].chars().skip(caret).take(5).collect::<String>(),
            "bogus"
        );
        assert_eq!(lines[3], "  help: remove it");
    }

    #[test]
    fn offsets_count_characters() {
        let text = "a: 1\nbé: x\n";
        assert_eq!(byte_offset(text, 2, 1), Some(5));
        assert_eq!(&text[byte_offset(text, 2, 5).unwrap()..], "x\n");
        assert_eq!(byte_offset(text, 9, 1), None);
    }
}
