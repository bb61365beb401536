//! `--plot FILE.svg|FILE.png`: a chart per metric. Period results get a line per slice and
//! segment value (dated x axis, values in the metric's format); all-time results a horizontal
//! bar per value. Drawn in pure Rust with an embedded font: nothing is needed at run time.

use std::collections::BTreeMap;
use std::path::Path;

use aitaem::Error;
use aitaem::arrow::record_batch::RecordBatch;
use aitaem::result::readable::{ALL, Pivot, RowLabels, format_value};
use plotters::coord::Shift;
use plotters::prelude::*;

/// DejaVu Sans (see assets/DejaVuSans-LICENSE.txt).
const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Pixels per chart.
const WIDTH: u32 = 1000;
const CHART_HEIGHT: u32 = 420;

/// At most this many lines or bars per chart: the largest by total, the rest left out (and
/// said so in the caption).
const MAX_SERIES: usize = 12;

/// One metric's values: by series label, by period (`None` for all time).
struct MetricData {
    name: String,
    format: Option<String>,
    series: Vec<(String, BTreeMap<Option<String>, f64>)>,
}

/// The charts' data: for every metric with values, its series (a slice and segment value, and
/// entity) with their values by period; and whether the result has periods.
fn collect(batches: &[RecordBatch]) -> (Vec<MetricData>, bool) {
    let pivot = Pivot::of(batches);
    let metrics = pivot
        .metrics
        .iter()
        .enumerate()
        .map(|(m, (name, format))| {
            let mut series: Vec<(String, BTreeMap<Option<String>, f64>)> = Vec::new();
            for (row, labels) in pivot.rows.iter().enumerate() {
                let Some(value) = pivot.value(row, m, 0) else {
                    continue;
                };
                let label = series_label(labels);
                let index = match series.iter().position(|(l, _)| *l == label) {
                    Some(i) => i,
                    None => {
                        series.push((label, BTreeMap::new()));
                        series.len() - 1
                    }
                };
                series[index].1.insert(labels.period.clone(), value);
            }
            MetricData {
                name: name.clone(),
                format: format.clone(),
                series,
            }
        })
        .filter(|m| !m.series.is_empty())
        .collect();
    (metrics, pivot.period_type != "all_time")
}

/// A series' name in the legend: its slice and segment values and entity, or `all`.
fn series_label(labels: &RowLabels) -> String {
    let parts: Vec<&str> = [labels.slice.as_str(), labels.segment.as_str()]
        .into_iter()
        .filter(|l| *l != ALL)
        .chain(labels.entity.as_deref())
        .collect();
    if parts.is_empty() {
        "all".to_string()
    } else {
        parts.join(", ")
    }
}

fn plot_error(e: impl std::fmt::Display) -> Error {
    Error::Output {
        message: format!("drawing the chart failed: {e}"),
    }
}

/// Draws the charts of a result into `path` (`.svg` or `.png`).
pub fn plot(batches: &[RecordBatch], path: &Path) -> Result<(), Error> {
    let (metrics, periodic) = collect(batches);
    if metrics.is_empty() {
        return Err(Error::Output {
            message: "nothing to plot: the result has no values".into(),
        });
    }
    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| plot_error("the embedded font cannot be read"))?;
    let size = (WIDTH, CHART_HEIGHT * metrics.len() as u32);
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("svg") => draw(
            SVGBackend::new(path, size).into_drawing_area(),
            &metrics,
            periodic,
        ),
        Some("png") => draw(
            BitMapBackend::new(path, size).into_drawing_area(),
            &metrics,
            periodic,
        ),
        _ => Err(Error::Output {
            message: format!(
                "--plot {}: give a file ending in .svg or .png",
                path.display()
            ),
        }),
    }
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    metrics: &[MetricData],
    periodic: bool,
) -> Result<(), Error>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(plot_error)?;
    // A series has the same colour in every chart.
    let mut labels: Vec<&str> = Vec::new();
    for (label, _) in metrics.iter().flat_map(|m| &m.series) {
        if !labels.contains(&label.as_str()) {
            labels.push(label);
        }
    }
    let colour = |label: &str| {
        let i = labels.iter().position(|l| *l == label).unwrap_or(0);
        Palette99::pick(i).to_rgba()
    };
    let areas = root.split_evenly((metrics.len(), 1));
    for (area, metric) in areas.iter().zip(metrics) {
        // The largest series by total first.
        let mut series: Vec<&(String, BTreeMap<Option<String>, f64>)> =
            metric.series.iter().collect();
        let total = |s: &(String, BTreeMap<Option<String>, f64>)| {
            s.1.values().map(|v| v.abs()).sum::<f64>()
        };
        series.sort_by(|a, b| total(b).total_cmp(&total(a)));
        let left_out = series.len().saturating_sub(MAX_SERIES);
        series.truncate(MAX_SERIES);
        let mut caption = metric.name.clone();
        if left_out > 0 {
            caption.push_str(&format!(
                " (the {MAX_SERIES} largest; {left_out} more left out)"
            ));
        }
        if periodic {
            line_chart(area, metric, &series, &caption, &colour)?;
        } else {
            bar_chart(area, metric, &series, &caption, &colour)?;
        }
    }
    root.present().map_err(plot_error)
}

/// A value range with some room, including 0 for bars.
fn range(values: impl Iterator<Item = f64>, with_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if with_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let room = if hi > lo {
        (hi - lo) * 0.08
    } else {
        hi.abs().max(1.0) * 0.1
    };
    (
        if with_zero && lo >= 0.0 {
            0.0
        } else {
            lo - room
        },
        hi + room,
    )
}

fn line_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    metric: &MetricData,
    series: &[&(String, BTreeMap<Option<String>, f64>)],
    caption: &str,
    colour: &dyn Fn(&str) -> RGBAColor,
) -> Result<(), Error>
where
    DB::ErrorType: 'static,
{
    let periods: Vec<String> = {
        let mut all: Vec<String> = series
            .iter()
            .flat_map(|s| s.1.keys().flatten().cloned())
            .collect();
        all.sort();
        all.dedup();
        all
    };
    let (lo, hi) = range(series.iter().flat_map(|s| s.1.values().copied()), false);
    let last = (periods.len().max(2) - 1) as f64;
    // Room for the first and last dates' labels.
    let pad = last * 0.04;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(100)
        .build_cartesian_2d(-pad..last + pad, lo..hi)
        .map_err(plot_error)?;
    let format = metric.format.as_deref();
    chart
        .configure_mesh()
        .x_labels(periods.len().clamp(2, 8))
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                periods.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| format_value(Some(*y), format))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(plot_error)?;
    for (label, values) in series.iter().map(|s| (&s.0, &s.1)) {
        let colour = colour(label);
        let points: Vec<(f64, f64)> = periods
            .iter()
            .enumerate()
            .filter_map(|(x, p)| values.get(&Some(p.clone())).map(|v| (x as f64, *v)))
            .collect();
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))
            .map_err(plot_error)?
            .label(label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(plot_error)
}

fn bar_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    metric: &MetricData,
    series: &[&(String, BTreeMap<Option<String>, f64>)],
    caption: &str,
    colour: &dyn Fn(&str) -> RGBAColor,
) -> Result<(), Error>
where
    DB::ErrorType: 'static,
{
    let bars: Vec<(&str, f64)> = series
        .iter()
        .filter_map(|s| s.1.values().next().map(|v| (s.0.as_str(), *v)))
        .collect();
    let (lo, hi) = range(bars.iter().map(|b| b.1), true);
    let n = bars.len() as i32;
    let label_width = bars
        .iter()
        .map(|b| b.0.chars().count() as u32 * 8 + 16)
        .max()
        .unwrap_or(60)
        .min(WIDTH / 2);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(label_width)
        // A segmented range of 0..k holds k + 1 segments.
        .build_cartesian_2d(lo..hi, (0..(n - 1).max(1)).into_segmented())
        .map_err(plot_error)?;
    let format = metric.format.as_deref();
    chart
        .configure_mesh()
        .y_labels(bars.len())
        .y_label_formatter(&|y| match y {
            SegmentValue::CenterOf(i) => bars
                .get((n - 1 - *i) as usize)
                .map(|b| b.0.to_string())
                .unwrap_or_default(),
            _ => String::new(),
        })
        .x_label_formatter(&|x| format_value(Some(*x), format))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(plot_error)?;
    // The first bar at the top.
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (label, v))| {
            let row = n - 1 - i as i32;
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(row)),
                    (*v, SegmentValue::Exact(row + 1)),
                ],
                colour(label).filled(),
            );
            bar.set_margin(4, 4, 0, 0);
            bar
        }))
        .map_err(plot_error)?;
    Ok(())
}
