//! The table for people: one row per period × slice value × segment value (× entity), one
//! column per metric (and per derived column), values formatted by their `metric_format`.
//!
//! ```text
//! period      slice           revenue        ctr
//! 2024-01-01  device: mobile  USD 6,207.10   3.84%
//! 2024-01-01  (all)           USD 11,640.45  3.65%
//! ```
//!
//! Columns that carry nothing for the request are left out (the period without periods or
//! window, the entity without `by_entity`, the slice without slices, the segment without a
//! segment); a period that every row shares (a window with `all_time`) becomes a caption line.
//! NULL is `–`. Dates of periods of a day or longer have no time part.

use std::collections::HashMap;

use arrow::array::{Array, AsArray, Float64Array, StringArray};
use arrow::record_batch::RecordBatch;
use unicode_width::UnicodeWidthStr;

use super::{COLUMNS, DerivedColumn};
use crate::spec::MetricFormat;

/// How NULL is shown.
pub const NULL: &str = "–";

/// A value as a person reads it, by the metric's format (`percentage`, `currency[:XXX]`,
/// `absolute`, `ratio`, or none).
///
/// ```
/// use aitaem::result::readable::format_value;
/// assert_eq!(format_value(Some(0.03559382375417781), Some("percentage")), "3.56%");
/// assert_eq!(format_value(Some(15304.150000000003), Some("currency:USD")), "USD 15,304.15");
/// assert_eq!(format_value(Some(1234567.0), Some("absolute")), "1,234,567");
/// assert_eq!(format_value(Some(0.0012346), None), "0.001235");
/// assert_eq!(format_value(None, Some("percentage")), "–");
/// ```
pub fn format_value(value: Option<f64>, format: Option<&str>) -> String {
    let Some(v) = value else {
        return NULL.to_string();
    };
    match format.and_then(MetricFormat::parse) {
        Some(MetricFormat::Percentage) => percent(v, false),
        Some(MetricFormat::Currency(code)) => {
            let amount = grouped(v, 2);
            match code {
                Some(code) => format!("{code} {amount}"),
                None => amount,
            }
        }
        _ => number(v),
    }
}

/// A derived column's value: comparisons and totals in the metric's format, changes with a sign,
/// shares and relative changes as percentages.
fn format_derived(column: DerivedColumn, value: Option<f64>, format: Option<&str>) -> String {
    match (column, value) {
        (_, None) => NULL.to_string(),
        (DerivedColumn::DeltaPct, Some(v)) => percent(v, true),
        (DerivedColumn::ShareOfTotal, Some(v)) => percent(v, false),
        (DerivedColumn::Delta, Some(v)) => {
            let text = format_value(Some(v), format);
            if v > 0.0 { format!("+{text}") } else { text }
        }
        (_, v) => format_value(v, format),
    }
}

fn percent(v: f64, signed: bool) -> String {
    let text = format!("{}%", grouped(v * 100.0, 2));
    if signed && v > 0.0 {
        format!("+{text}")
    } else {
        text
    }
}

/// A plain number: integers without decimals, others with two, small ones with four
/// significant digits.
fn number(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return grouped(v, 0);
    }
    if v.abs() >= 1.0 {
        return grouped(v, 2);
    }
    let decimals = (3 - v.abs().log10().floor() as i32).clamp(2, 12) as usize;
    let text = format!("{v:.decimals$}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `v` with `decimals` decimals and a comma between thousands.
fn grouped(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let text = format!("{:.decimals$}", v.abs());
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text.as_str(), None),
    };
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(frac) = frac {
        out.push('.');
        out.push_str(frac);
    }
    // No "-0.00".
    if v < 0.0 && out.chars().any(|c| c.is_ascii_digit() && c != '0') {
        out.insert(0, '-');
    }
    out
}

/// The labels of a row of the table: one label combination of the result.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RowLabels {
    /// The period's start (no time part for periods of a day or longer), or the window's start
    /// for `all_time`.
    pub period: Option<String>,
    /// The entity.
    pub entity: Option<String>,
    /// `device: mobile`, or `(all)` for the baseline.
    pub slice: String,
    /// `platform_group: search`, or `(all)` for the baseline.
    pub segment: String,
}

/// A standard result pivoted: a row per label combination, in the order they first appear,
/// with each metric's value and derived values.
pub struct Pivot {
    /// `all_time`, `monthly`, ...
    pub period_type: String,
    /// The rows' labels.
    pub rows: Vec<RowLabels>,
    /// The metrics, in the order they first appear, with their formats.
    pub metrics: Vec<(String, Option<String>)>,
    /// The derived columns of the result.
    pub derived: Vec<DerivedColumn>,
    /// (row, metric) -> the value, then the derived values.
    cells: HashMap<(usize, usize), Vec<Option<f64>>>,
    /// The end of the first row's period (the window's end for `all_time`).
    first_end: Option<String>,
}

impl Pivot {
    /// Pivots standard-result batches (with derived columns, if any).
    pub fn of(batches: &[RecordBatch]) -> Pivot {
        let mut pivot = Pivot {
            period_type: String::new(),
            rows: Vec::new(),
            metrics: Vec::new(),
            derived: Vec::new(),
            cells: HashMap::new(),
            first_end: None,
        };
        let mut index: HashMap<RowLabels, usize> = HashMap::new();
        for batch in batches.iter().filter(|b| b.num_rows() > 0) {
            pivot.derived = super::derived_columns(&batch.schema()).unwrap_or_default();
            let text = |i: usize| batch.column(i).as_string::<i32>();
            let opt = |column: &StringArray, row: usize| {
                (!column.is_null(row)).then(|| column.value(row).to_string())
            };
            let float = |i: usize, row: usize| {
                let column: &Float64Array = batch.column(i).as_primitive();
                (!column.is_null(row)).then(|| column.value(row))
            };
            if pivot.first_end.is_none() {
                pivot.first_end = opt(text(2), 0);
            }
            for row in 0..batch.num_rows() {
                pivot.period_type = text(0).value(row).to_string();
                let labels = RowLabels {
                    period: opt(text(1), row).map(|p| period_label(&p, &pivot.period_type)),
                    entity: opt(text(3), row),
                    slice: label(text(6).value(row), text(7).value(row)),
                    segment: label(text(8).value(row), text(9).value(row)),
                };
                let at = *index.entry(labels.clone()).or_insert_with(|| {
                    pivot.rows.push(labels);
                    pivot.rows.len() - 1
                });
                let name = text(4).value(row);
                let metric = match pivot.metrics.iter().position(|(m, _)| m == name) {
                    Some(i) => i,
                    None => {
                        pivot.metrics.push((name.to_string(), opt(text(5), row)));
                        pivot.metrics.len() - 1
                    }
                };
                let mut values = vec![float(10, row)];
                values.extend((0..pivot.derived.len()).map(|i| float(COLUMNS.len() + i, row)));
                pivot.cells.insert((at, metric), values);
            }
        }
        pivot
    }

    /// A row's value of a metric (`column` 0), or of its derived column `column - 1`.
    pub fn value(&self, row: usize, metric: usize, column: usize) -> Option<f64> {
        self.cells
            .get(&(row, metric))
            .and_then(|v| v.get(column).copied().flatten())
    }
}

/// A label column of the rendered table.
struct LabelColumn {
    header: &'static str,
    pick: fn(&RowLabels) -> String,
}

/// A rendered table: its caption, header and rows of cells (numbers right-aligned).
pub struct Readable {
    /// A line above the table, when every row has the same period (e.g. the window).
    pub caption: Option<String>,
    /// Column names.
    pub header: Vec<String>,
    /// Whether each column holds numbers (right-aligned).
    pub numeric: Vec<bool>,
    /// The cells.
    pub rows: Vec<Vec<String>>,
}

impl Readable {
    /// The table of standard-result batches (with derived columns, if any): one row per label
    /// combination, in the order the rows first appear, one column per metric and derived
    /// column.
    pub fn of(batches: &[RecordBatch]) -> Readable {
        Readable::from_pivot(&Pivot::of(batches))
    }

    /// The table of a pivoted result.
    pub fn from_pivot(pivot: &Pivot) -> Readable {
        let keys = &pivot.rows;
        let all = |f: fn(&RowLabels) -> bool| keys.iter().all(f);
        let mut labels: Vec<LabelColumn> = Vec::new();
        let one_period = keys.first().map(|k| k.period.clone()).filter(|p| {
            p.is_some() && keys.iter().all(|k| &k.period == p) && pivot.period_type == "all_time"
        });
        let caption = one_period.flatten();
        if caption.is_none() && !all(|k| k.period.is_none()) {
            labels.push(LabelColumn {
                header: "period",
                pick: |k| k.period.clone().unwrap_or_else(|| NULL.into()),
            });
        }
        if !all(|k| k.entity.is_none()) {
            labels.push(LabelColumn {
                header: "entity",
                pick: |k| k.entity.clone().unwrap_or_else(|| NULL.into()),
            });
        }
        if !all(|k| k.slice == ALL) {
            labels.push(LabelColumn {
                header: "slice",
                pick: |k| k.slice.clone(),
            });
        }
        if !all(|k| k.segment == ALL) {
            labels.push(LabelColumn {
                header: "segment",
                pick: |k| k.segment.clone(),
            });
        }

        let mut header: Vec<String> = labels.iter().map(|l| l.header.to_string()).collect();
        let mut numeric = vec![false; labels.len()];
        for (name, _) in &pivot.metrics {
            header.push(name.clone());
            header.extend(
                pivot
                    .derived
                    .iter()
                    .map(|c| format!("{name} {}", short(*c))),
            );
            numeric.extend(std::iter::repeat_n(true, 1 + pivot.derived.len()));
        }
        let rows = keys
            .iter()
            .enumerate()
            .map(|(at, key)| {
                let mut row: Vec<String> = labels.iter().map(|l| (l.pick)(key)).collect();
                for (m, (_, format)) in pivot.metrics.iter().enumerate() {
                    row.push(format_value(pivot.value(at, m, 0), format.as_deref()));
                    for (i, column) in pivot.derived.iter().enumerate() {
                        let value = pivot.value(at, m, i + 1);
                        row.push(format_derived(*column, value, format.as_deref()));
                    }
                }
                row
            })
            .collect();
        Readable {
            // The window's end is the same for every row too.
            caption: caption.map(|start| match &pivot.first_end {
                Some(end) => format!("{start} to {end} (end exclusive)"),
                None => start,
            }),
            header,
            numeric,
            rows,
        }
    }

    /// The table as text: columns padded to their widest cell (numbers right-aligned), the
    /// header bold and NULLs dimmed when `colour` is set.
    pub fn render(&self, colour: bool) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| r[i].width())
                    .chain([self.header[i].width()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String], style: fn(&str) -> String| {
            let padded: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, cell)| {
                    let pad = " ".repeat(widths[i] - cell.width());
                    let text = if colour { style(cell) } else { cell.clone() };
                    if self.numeric[i] {
                        format!("{pad}{text}")
                    } else {
                        format!("{text}{pad}")
                    }
                })
                .collect();
            padded.join("  ").trim_end().to_string()
        };
        let mut out = String::new();
        if let Some(caption) = &self.caption {
            out.push_str(caption);
            out.push('\n');
        }
        out.push_str(&line(&self.header, |c| format!("\x1b[1m{c}\x1b[0m")));
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row, |c| {
                if c == NULL {
                    format!("\x1b[2m{c}\x1b[0m")
                } else {
                    c.to_string()
                }
            }));
            out.push('\n');
        }
        if self.rows.is_empty() {
            out.push_str("(no rows)\n");
        }
        out
    }
}

/// The label of a slice or segment baseline.
pub const ALL: &str = "(all)";

/// `device: mobile`, or `(all)` for the baseline.
fn label(kind: &str, value: &str) -> String {
    if kind == "none" {
        ALL.to_string()
    } else {
        format!("{kind}: {value}")
    }
}

/// A period start without a midnight time part for periods of a day or longer.
fn period_label(start: &str, period_type: &str) -> String {
    match period_type {
        "hourly" => start.strip_suffix(":00").unwrap_or(start).to_string(),
        _ => start.strip_suffix(" 00:00:00").unwrap_or(start).to_string(),
    }
}

/// A derived column's header next to its metric's name.
fn short(column: DerivedColumn) -> &'static str {
    match column {
        DerivedColumn::ComparisonValue => "before",
        DerivedColumn::Delta => "Δ",
        DerivedColumn::DeltaPct => "Δ%",
        DerivedColumn::ShareOfTotal => "share",
        DerivedColumn::CumulativeValue => "cumulative",
        DerivedColumn::RollingValue => "rolling",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_and_rounded_by_format() {
        assert_eq!(grouped(-1234.5, 2), "-1,234.50");
        assert_eq!(grouped(-0.001, 2), "0.00");
        assert_eq!(grouped(999.999, 2), "1,000.00");
        assert_eq!(number(12.0), "12");
        assert_eq!(number(-15304.150000000003), "-15,304.15");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(format_value(Some(2.5), Some("currency")), "2.50");
        assert_eq!(format_value(Some(3.456), Some("ratio")), "3.46");
        assert_eq!(
            format_derived(DerivedColumn::Delta, Some(12.0), Some("currency:EUR")),
            "+EUR 12.00"
        );
        assert_eq!(
            format_derived(DerivedColumn::DeltaPct, Some(-0.0801), None),
            "-8.01%"
        );
        assert_eq!(
            format_derived(DerivedColumn::ShareOfTotal, Some(0.5), Some("currency")),
            "50.00%"
        );
        assert_eq!(period_label("2024-01-01 00:00:00", "monthly"), "2024-01-01");
        assert_eq!(
            period_label("2024-01-01 13:00:00", "hourly"),
            "2024-01-01 13:00"
        );
    }
}
