//! The standard result: an 11-column long table, and its writers.
//!
//! | column | type |
//! |---|---|
//! | `period_type` | utf8 |
//! | `period_start_date` | utf8, nullable (`YYYY-MM-DD HH:MM:SS`; the window's start as given for `all_time`) |
//! | `period_end_date` | utf8, nullable |
//! | `entity_id` | utf8, nullable (set with `by_entity`) |
//! | `metric_name` | utf8 |
//! | `metric_format` | utf8, nullable |
//! | `slice_type` | utf8 (`none`, a slice name, or `a|b` for a cross product) |
//! | `slice_value` | utf8 (`all`, a value name or column value; `x|y` for a cross product) |
//! | `segment_name` | utf8 (`none` or the segment's name) |
//! | `segment_value` | utf8 (`all` or the segment value) |
//! | `metric_value` | float64, nullable (NULL for a zero or NULL denominator) |
//!
//! Options of a request add float64 columns after these, in the order of [`DerivedColumn`]:
//! `comparison_value`, `delta`, `delta_pct`, `share_of_total`, `cumulative_value`,
//! `rolling_value`. Without them the result is exactly the 11 columns.

use std::io::Write;
use std::str::FromStr;
use std::sync::{Arc, LazyLock};

use arrow::array::Array;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};

pub mod readable;

/// The standard result's column names, in order.
pub const COLUMNS: [&str; 11] = [
    "period_type",
    "period_start_date",
    "period_end_date",
    "entity_id",
    "metric_name",
    "metric_format",
    "slice_type",
    "slice_value",
    "segment_name",
    "segment_value",
    "metric_value",
];

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let nullable = [
        "period_start_date",
        "period_end_date",
        "entity_id",
        "metric_format",
        "metric_value",
    ];
    Arc::new(Schema::new(
        COLUMNS
            .iter()
            .map(|name| {
                let ty = if *name == "metric_value" {
                    DataType::Float64
                } else {
                    DataType::Utf8
                };
                Field::new(*name, ty, nullable.contains(name))
            })
            .collect::<Vec<_>>(),
    ))
});

/// A column that an option of the request adds after the standard 11 (float64, nullable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DerivedColumn {
    /// The value of the period compared with (`compare`).
    ComparisonValue,
    /// `metric_value - comparison_value` (`compare`).
    Delta,
    /// `delta / comparison_value`, NULL when the comparison is NULL or 0 (`compare`).
    DeltaPct,
    /// The value divided by its total (`share`).
    ShareOfTotal,
    /// The running total over the window (`cumulative`).
    CumulativeValue,
    /// The total over the last N periods (`rolling`).
    RollingValue,
}

impl DerivedColumn {
    /// Every derived column, in result order.
    pub const ALL: [DerivedColumn; 6] = [
        DerivedColumn::ComparisonValue,
        DerivedColumn::Delta,
        DerivedColumn::DeltaPct,
        DerivedColumn::ShareOfTotal,
        DerivedColumn::CumulativeValue,
        DerivedColumn::RollingValue,
    ];

    /// The column's name.
    pub fn name(self) -> &'static str {
        match self {
            DerivedColumn::ComparisonValue => "comparison_value",
            DerivedColumn::Delta => "delta",
            DerivedColumn::DeltaPct => "delta_pct",
            DerivedColumn::ShareOfTotal => "share_of_total",
            DerivedColumn::CumulativeValue => "cumulative_value",
            DerivedColumn::RollingValue => "rolling_value",
        }
    }
}

/// The standard schema followed by derived columns.
///
/// ```
/// use aitaem::result::{DerivedColumn, schema_with};
/// let schema = schema_with(&[DerivedColumn::ShareOfTotal]);
/// assert_eq!(schema.fields().len(), 12);
/// assert_eq!(schema.field(11).name(), "share_of_total");
/// ```
pub fn schema_with(derived: &[DerivedColumn]) -> SchemaRef {
    if derived.is_empty() {
        return schema();
    }
    let mut fields: Vec<Field> = schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.extend(
        derived
            .iter()
            .map(|c| Field::new(c.name(), DataType::Float64, true)),
    );
    Arc::new(Schema::new(fields))
}

/// The standard result's Arrow schema.
///
/// ```
/// let schema = aitaem::result::schema();
/// assert_eq!(schema.fields().len(), 11);
/// assert_eq!(schema.field(10).name(), "metric_value");
/// ```
pub fn schema() -> SchemaRef {
    SCHEMA.clone()
}

/// An empty batch of the standard schema.
pub fn empty() -> RecordBatch {
    RecordBatch::new_empty(schema())
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutputFormat {
    /// A table for people: a row per period × slice value × segment value (× entity), a column
    /// per metric, values formatted by their `metric_format` ([`readable`]).
    Table,
    /// The standard columns as an aligned text table.
    LongTable,
    /// CSV with a header; NULL is an empty field.
    Csv,
    /// One JSON array of objects (NULLs included).
    Json,
    /// One JSON object per line.
    Jsonl,
    /// Parquet.
    Parquet,
}

impl FromStr for OutputFormat {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text {
            "table" => Ok(OutputFormat::Table),
            "long-table" => Ok(OutputFormat::LongTable),
            "csv" => Ok(OutputFormat::Csv),
            "json" => Ok(OutputFormat::Json),
            "jsonl" => Ok(OutputFormat::Jsonl),
            "parquet" => Ok(OutputFormat::Parquet),
            _ => Err(format!(
                "unknown format `{text}`; use table, long-table, csv, json, jsonl or parquet"
            )),
        }
    }
}

impl OutputFormat {
    /// The format a file name's extension suggests.
    pub fn from_extension(path: &std::path::Path) -> Option<OutputFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(OutputFormat::Csv),
            "json" => Some(OutputFormat::Json),
            "jsonl" | "ndjson" => Some(OutputFormat::Jsonl),
            "parquet" => Some(OutputFormat::Parquet),
            "txt" => Some(OutputFormat::Table),
            _ => None,
        }
    }
}

fn output_error(e: impl std::fmt::Display) -> Error {
    Error::Output {
        message: e.to_string(),
    }
}

/// Writes batches in a format.
///
/// ```
/// use aitaem::result::{write, empty, OutputFormat};
/// let mut out = Vec::new();
/// write(&[empty()], OutputFormat::Csv, &mut out).unwrap();
/// assert!(String::from_utf8(out).unwrap().starts_with("period_type,period_start_date,"));
/// ```
pub fn write<W: Write + Send>(
    batches: &[RecordBatch],
    format: OutputFormat,
    mut out: W,
) -> Result<()> {
    match format {
        OutputFormat::Table => {
            let table = readable::Readable::of(batches).render(false);
            out.write_all(table.as_bytes()).map_err(output_error)?;
        }
        OutputFormat::LongTable => {
            let table =
                arrow::util::pretty::pretty_format_batches(batches).map_err(output_error)?;
            writeln!(out, "{table}").map_err(output_error)?;
        }
        OutputFormat::Csv if batches.iter().all(is_standard) => csv::write(batches, &mut out)?,
        OutputFormat::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut out);
            for batch in batches {
                writer.write(batch).map_err(output_error)?;
            }
        }
        OutputFormat::Json => {
            let mut writer = arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow::json::writer::JsonArray>(&mut out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            writer.write_batches(&refs).map_err(output_error)?;
            writer.finish().map_err(output_error)?;
            writeln!(out).map_err(output_error)?;
        }
        OutputFormat::Jsonl => {
            let mut writer = arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow::json::writer::LineDelimited>(&mut out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            writer.write_batches(&refs).map_err(output_error)?;
            writer.finish().map_err(output_error)?;
        }
        OutputFormat::Parquet => {
            let schema = batches.first().map_or_else(schema, RecordBatch::schema);
            let mut writer = parquet::arrow::ArrowWriter::try_new(&mut out, schema, None)
                .map_err(output_error)?;
            for batch in batches {
                writer.write(batch).map_err(output_error)?;
            }
            writer.close().map_err(output_error)?;
        }
    }
    out.flush().map_err(output_error)
}

/// The derived columns after the standard ones; `None` when a column there is not one.
fn derived_columns(schema: &Schema) -> Option<Vec<DerivedColumn>> {
    schema.fields()[COLUMNS.len().min(schema.fields().len())..]
        .iter()
        .map(|f| {
            DerivedColumn::ALL
                .into_iter()
                .find(|c| c.name() == f.name())
        })
        .collect()
}

/// Whether a batch has the standard schema's column types, followed by any number of float64
/// columns (derived columns).
fn is_standard(batch: &RecordBatch) -> bool {
    let schema = batch.schema();
    let fields = schema.fields();
    fields.len() >= COLUMNS.len()
        && fields
            .iter()
            .zip(self::schema().fields())
            .all(|(a, b)| a.data_type() == b.data_type())
        && fields[COLUMNS.len()..]
            .iter()
            .all(|f| f.data_type() == &DataType::Float64)
}

/// CSV for the standard schema, written without a general-purpose CSV writer. Large results (by
/// entity) make this matter: pieces of rows are formatted on every core while the calling thread
/// writes the finished ones in order, so formatting and writing overlap and memory stays bounded.
mod csv {
    use std::collections::BTreeMap;
    use std::io::Write;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    use arrow::array::{Array, AsArray, Float64Array, StringArray};
    use arrow::record_batch::RecordBatch;

    use super::output_error;
    use crate::error::Result;

    /// Rows per formatted piece.
    const PIECE_ROWS: usize = 16 * 1024;

    /// A run of rows, as (batch, start, end) spans.
    type Piece<'a> = Vec<(&'a RecordBatch, usize, usize)>;

    pub(super) fn write<W: Write>(batches: &[RecordBatch], out: &mut W) -> Result<()> {
        let schema = batches
            .first()
            .map_or_else(super::schema, RecordBatch::schema);
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        out.write_all(names.join(",").as_bytes())
            .map_err(output_error)?;
        out.write_all(b"\n").map_err(output_error)?;
        let pieces = pieces(batches);
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(pieces.len());
        if workers <= 1 {
            let mut buf = Vec::new();
            for piece in &pieces {
                buf.clear();
                format_piece(piece, &mut buf);
                out.write_all(&buf).map_err(output_error)?;
            }
            return Ok(());
        }
        let next = AtomicUsize::new(0);
        // Written buffers go back to the workers, so pages are reused rather than faulted in.
        let spare: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            let (done, finished) = mpsc::sync_channel::<(usize, Vec<u8>)>(2 * workers);
            for _ in 0..workers {
                let done = done.clone();
                let (next, spare, pieces) = (&next, &spare, &pieces);
                scope.spawn(move || {
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(piece) = pieces.get(index) else {
                            break;
                        };
                        let mut buf = spare
                            .lock()
                            .ok()
                            .and_then(|mut s| s.pop())
                            .unwrap_or_default();
                        buf.clear();
                        format_piece(piece, &mut buf);
                        if done.send((index, buf)).is_err() {
                            // The writer stopped on an error.
                            break;
                        }
                    }
                });
            }
            drop(done);
            // Pieces arrive roughly in order; hold early arrivals until their turn.
            let mut waiting = BTreeMap::new();
            let mut turn = 0;
            for (index, buf) in finished {
                waiting.insert(index, buf);
                while let Some(buf) = waiting.remove(&turn) {
                    out.write_all(&buf).map_err(output_error)?;
                    if let Ok(mut s) = spare.lock() {
                        s.push(buf);
                    }
                    turn += 1;
                }
            }
            Ok(())
        })
    }

    /// The rows of all batches, cut into pieces of about `PIECE_ROWS` rows.
    fn pieces(batches: &[RecordBatch]) -> Vec<Piece<'_>> {
        let mut pieces: Vec<Piece> = vec![Vec::new()];
        let mut filled = 0;
        for batch in batches {
            let mut start = 0;
            while start < batch.num_rows() {
                if filled == PIECE_ROWS {
                    pieces.push(Vec::new());
                    filled = 0;
                }
                let end = (start + PIECE_ROWS - filled).min(batch.num_rows());
                pieces
                    .last_mut()
                    .expect("one piece")
                    .push((batch, start, end));
                filled += end - start;
                start = end;
            }
        }
        pieces
    }

    fn format_piece(piece: &Piece, buf: &mut Vec<u8>) {
        for &(batch, start, end) in piece {
            let text: Vec<&StringArray> = (0..10)
                .map(|i| batch.column(i).as_string::<i32>())
                .collect();
            let values: Vec<&Float64Array> = (10..batch.num_columns())
                .map(|i| batch.column(i).as_primitive())
                .collect();
            let mut floats = ryu::Buffer::new();
            for row in start..end {
                for column in &text {
                    if column.is_valid(row) {
                        field(buf, column.value(row));
                    }
                    buf.push(b',');
                }
                for (i, column) in values.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    if column.is_valid(row) {
                        buf.extend_from_slice(floats.format(column.value(row)).as_bytes());
                    }
                }
                buf.push(b'\n');
            }
        }
    }

    /// A text field, quoted (with quotes doubled) when it holds a comma, quote or line break.
    fn field(buf: &mut Vec<u8>, value: &str) {
        if value
            .bytes()
            .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
        {
            buf.push(b'"');
            for b in value.bytes() {
                if b == b'"' {
                    buf.push(b'"');
                }
                buf.push(b);
            }
            buf.push(b'"');
        } else {
            buf.extend_from_slice(value.as_bytes());
        }
    }
}

/// The number of rows in a set of batches.
pub fn num_rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

/// One row of the standard result, for code that works with rows rather than Arrow.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ResultRow {
    /// `all_time`, `hourly`, `daily`, `weekly`, `monthly` or `yearly`.
    pub period_type: String,
    /// The period's (or window's) start.
    pub period_start_date: Option<String>,
    /// The period's (or window's) end, exclusive.
    pub period_end_date: Option<String>,
    /// The entity, with `by_entity`.
    pub entity_id: Option<String>,
    /// The metric.
    pub metric_name: String,
    /// The metric's format.
    pub metric_format: Option<String>,
    /// The slice (`none` for the baseline).
    pub slice_type: String,
    /// The slice value (`all` for the baseline).
    pub slice_value: String,
    /// The segment (`none` for the baseline).
    pub segment_name: String,
    /// The segment value (`all` for the baseline).
    pub segment_value: String,
    /// The value.
    pub metric_value: Option<f64>,
    /// The derived columns the request asked for, in result order, with their values.
    pub derived: Vec<(DerivedColumn, Option<f64>)>,
}

impl ResultRow {
    /// The value of a derived column; `None` when it is NULL or was not asked for.
    pub fn derived(&self, column: DerivedColumn) -> Option<f64> {
        self.derived
            .iter()
            .find(|(c, _)| *c == column)
            .and_then(|(_, v)| *v)
    }
}

/// The rows of standard-schema batches (with derived columns, if any); an error for a batch of
/// another schema.
///
/// ```
/// let batch = arrow::record_batch::RecordBatch::try_from_iter([(
///     "x",
///     std::sync::Arc::new(arrow::array::Int32Array::from(vec![1])) as arrow::array::ArrayRef,
/// )])
/// .unwrap();
/// assert!(aitaem::result::rows(&[batch]).is_err());
/// assert!(aitaem::result::rows(&[aitaem::result::empty()]).unwrap().is_empty());
/// ```
pub fn rows(batches: &[RecordBatch]) -> Result<Vec<ResultRow>> {
    use arrow::array::{AsArray, Float64Array};
    let mut out = Vec::new();
    for batch in batches {
        let schema = batch.schema();
        let named = schema
            .fields()
            .iter()
            .zip(COLUMNS)
            .all(|(field, name)| field.name() == name);
        let derived = derived_columns(&schema);
        let (true, true, Some(derived)) = (is_standard(batch), named, derived) else {
            return Err(output_error(format!(
                "a batch with the columns {:?} is not a standard result ({})",
                batch
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| format!("{}: {}", f.name(), f.data_type()))
                    .collect::<Vec<_>>(),
                COLUMNS.join(", ")
            )));
        };
        let text = |i: usize| batch.column(i).as_string::<i32>();
        let opt = |i: usize, row: usize| {
            let column = text(i);
            (!column.is_null(row)).then(|| column.value(row).to_string())
        };
        let float = |i: usize, row: usize| {
            let column: &Float64Array = batch.column(i).as_primitive();
            (!column.is_null(row)).then(|| column.value(row))
        };
        for row in 0..batch.num_rows() {
            out.push(ResultRow {
                period_type: text(0).value(row).to_string(),
                period_start_date: opt(1, row),
                period_end_date: opt(2, row),
                entity_id: opt(3, row),
                metric_name: text(4).value(row).to_string(),
                metric_format: opt(5, row),
                slice_type: text(6).value(row).to_string(),
                slice_value: text(7).value(row).to_string(),
                segment_name: text(8).value(row).to_string(),
                segment_value: text(9).value(row).to_string(),
                metric_value: float(10, row),
                derived: derived
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (*c, float(COLUMNS.len() + i, row)))
                    .collect(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, StringArray};

    use super::*;

    /// The standard columns, all nullable, so the test can put NULLs anywhere.
    fn nullable() -> SchemaRef {
        let fields: Vec<Field> = schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect();
        Arc::new(Schema::new(fields))
    }

    fn batch(rows: usize) -> RecordBatch {
        let texts = [
            Some("plain"),
            None,
            Some("a,b"),
            Some("say \"hi\""),
            Some("line\nbreak\r"),
            Some("日本"),
            Some(""),
        ];
        let mut columns: Vec<ArrayRef> = (0..10)
            .map(|c| {
                let values: Vec<Option<&str>> =
                    (0..rows).map(|r| texts[(r + c) % texts.len()]).collect();
                Arc::new(StringArray::from(values)) as ArrayRef
            })
            .collect();
        let values: Vec<Option<f64>> = (0..rows)
            .map(|r| match r % 5 {
                0 => None,
                1 => Some(0.1 + r as f64),
                2 => Some(-1e-12),
                3 => Some(12345678901234567.0),
                _ => Some(r as f64),
            })
            .collect();
        columns.push(Arc::new(Float64Array::from(values)));
        RecordBatch::try_new(nullable(), columns).unwrap()
    }

    #[test]
    fn csv_round_trips_through_an_independent_reader() {
        // Enough rows for several formatting tasks.
        let batches = vec![batch(70_000), batch(3)];
        let mut out = Vec::new();
        write(&batches, OutputFormat::Csv, &mut out).unwrap();
        let reader = arrow::csv::ReaderBuilder::new(nullable())
            .with_header(true)
            .with_batch_size(100_000)
            .build(std::io::Cursor::new(out))
            .unwrap();
        let read: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        let expected = rows(&batches).unwrap();
        let got = rows(&read).unwrap();
        assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(&expected) {
            // CSV cannot tell an empty string from NULL; both read back as NULL.
            let norm = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
            assert_eq!(norm(&g.period_start_date), norm(&e.period_start_date));
            assert_eq!(norm(&g.entity_id), norm(&e.entity_id));
            assert_eq!(g.metric_value, e.metric_value);
        }
    }

    /// Accepts a few bytes, then fails like a full disk.
    struct FailingWriter(usize);

    impl Write for FailingWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.0 < buf.len() {
                return Err(std::io::Error::other("disk full"));
            }
            self.0 -= buf.len();
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_output_stops_the_csv_writer_with_an_error() {
        let batches = vec![batch(200_000)];
        let err = write(&batches, OutputFormat::Csv, FailingWriter(1_000_000)).unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
    }
}
