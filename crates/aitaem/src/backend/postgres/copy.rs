//! Results in PostgreSQL's binary COPY format, read straight into Arrow arrays: no row objects
//! and no text parsing on the way (see the format in PostgreSQL's documentation of `COPY`).

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float32Builder, Float64Builder, Int16Builder,
    Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use tokio_postgres::types::Type;

/// Rows per record batch.
const BATCH_ROWS: usize = 64 * 1024;

/// The 11-byte signature that starts a binary COPY stream.
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// Microseconds and days from 1970-01-01 (Arrow's epoch) to 2000-01-01 (PostgreSQL's).
const EPOCH_MICROS: i64 = 946_684_800_000_000;
const EPOCH_DAYS: i32 = 10_957;

/// How one column's values are read.
enum Column {
    Bool(BooleanBuilder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    /// NUMERIC, as a float64 (the standard table's type).
    Numeric(Float64Builder),
    Text(StringBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    TimestampTz(TimestampMicrosecondBuilder),
}

impl Column {
    /// The reader and Arrow type for a PostgreSQL type, or `None` when it has none.
    fn for_type(ty: &Type) -> Option<(Column, DataType)> {
        let micros =
            |tz: Option<&str>| DataType::Timestamp(TimeUnit::Microsecond, tz.map(Into::into));
        Some(match *ty {
            Type::BOOL => (Column::Bool(BooleanBuilder::new()), DataType::Boolean),
            Type::INT2 => (Column::Int16(Int16Builder::new()), DataType::Int16),
            Type::INT4 => (Column::Int32(Int32Builder::new()), DataType::Int32),
            Type::INT8 => (Column::Int64(Int64Builder::new()), DataType::Int64),
            Type::FLOAT4 => (Column::Float32(Float32Builder::new()), DataType::Float32),
            Type::FLOAT8 => (Column::Float64(Float64Builder::new()), DataType::Float64),
            Type::NUMERIC => (Column::Numeric(Float64Builder::new()), DataType::Float64),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                (Column::Text(StringBuilder::new()), DataType::Utf8)
            }
            Type::DATE => (Column::Date(Date32Builder::new()), DataType::Date32),
            Type::TIMESTAMP => (
                Column::Timestamp(TimestampMicrosecondBuilder::new()),
                micros(None),
            ),
            Type::TIMESTAMPTZ => (
                Column::TimestampTz(TimestampMicrosecondBuilder::new().with_timezone("UTC")),
                micros(Some("UTC")),
            ),
            _ => return None,
        })
    }

    /// Appends one value (`None` for NULL) in PostgreSQL's binary representation.
    fn push(&mut self, value: Option<&[u8]>) -> Result<(), String> {
        fn fixed<const N: usize>(bytes: &[u8]) -> Result<[u8; N], String> {
            bytes
                .try_into()
                .map_err(|_| format!("a value of {} bytes where {N} were expected", bytes.len()))
        }
        match (self, value) {
            (Column::Bool(b), v) => b.append_option(v.map(|v| v.first() == Some(&1))),
            (Column::Int16(b), Some(v)) => b.append_value(i16::from_be_bytes(fixed(v)?)),
            (Column::Int32(b), Some(v)) => b.append_value(i32::from_be_bytes(fixed(v)?)),
            (Column::Int64(b), Some(v)) => b.append_value(i64::from_be_bytes(fixed(v)?)),
            (Column::Float32(b), Some(v)) => b.append_value(f32::from_be_bytes(fixed(v)?)),
            (Column::Float64(b), Some(v)) => b.append_value(f64::from_be_bytes(fixed(v)?)),
            (Column::Numeric(b), Some(v)) => b.append_option(numeric(v)?),
            (Column::Text(b), Some(v)) => b.append_value(
                std::str::from_utf8(v)
                    .map_err(|_| "a text value is not valid UTF-8".to_string())?,
            ),
            (Column::Date(b), Some(v)) => {
                b.append_value(i32::from_be_bytes(fixed(v)?).saturating_add(EPOCH_DAYS))
            }
            (Column::Timestamp(b) | Column::TimestampTz(b), Some(v)) => {
                b.append_value(i64::from_be_bytes(fixed(v)?).saturating_add(EPOCH_MICROS))
            }
            (Column::Int16(b), None) => b.append_null(),
            (Column::Int32(b), None) => b.append_null(),
            (Column::Int64(b), None) => b.append_null(),
            (Column::Float32(b), None) => b.append_null(),
            (Column::Float64(b) | Column::Numeric(b), None) => b.append_null(),
            (Column::Text(b), None) => b.append_null(),
            (Column::Date(b), None) => b.append_null(),
            (Column::Timestamp(b) | Column::TimestampTz(b), None) => b.append_null(),
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Bool(b) => Arc::new(b.finish()),
            Column::Int16(b) => Arc::new(b.finish()),
            Column::Int32(b) => Arc::new(b.finish()),
            Column::Int64(b) => Arc::new(b.finish()),
            Column::Float32(b) => Arc::new(b.finish()),
            Column::Float64(b) | Column::Numeric(b) => Arc::new(b.finish()),
            Column::Text(b) => Arc::new(b.finish()),
            Column::Date(b) => Arc::new(b.finish()),
            Column::Timestamp(b) | Column::TimestampTz(b) => Arc::new(b.finish()),
        }
    }
}

/// A NUMERIC value as the nearest float64: its base-10000 digits written out as decimal text
/// and parsed, which rounds correctly. NaN and infinities keep their meaning.
fn numeric(bytes: &[u8]) -> Result<Option<f64>, String> {
    let word = |i: usize| -> Result<i16, String> {
        bytes
            .get(2 * i..2 * i + 2)
            .map(|b| i16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "a truncated NUMERIC value".to_string())
    };
    let ndigits = word(0)?.max(0) as usize;
    let weight = word(1)? as i64;
    let sign = word(2)? as u16;
    match sign {
        0xC000 => return Ok(Some(f64::NAN)),
        0xD000 => return Ok(Some(f64::INFINITY)),
        0xF000 => return Ok(Some(f64::NEG_INFINITY)),
        _ => {}
    }
    if ndigits == 0 {
        return Ok(Some(0.0));
    }
    let mut text = String::with_capacity(4 * ndigits + 8);
    if sign == 0x4000 {
        text.push('-');
    }
    if weight < 0 {
        text.push_str("0.");
        for _ in 0..(-weight - 1) {
            text.push_str("0000");
        }
    }
    for i in 0..ndigits {
        let digit = word(4 + i)?;
        text.push_str(&format!("{digit:04}"));
        if weight >= 0 && i as i64 == weight && i + 1 < ndigits {
            text.push('.');
        }
    }
    for _ in ndigits as i64..=weight {
        text.push_str("0000");
    }
    text.parse::<f64>()
        .map(Some)
        .map_err(|_| format!("cannot read the NUMERIC value {text}"))
}

/// Reads a binary COPY stream, chunk by chunk, into record batches.
pub(super) struct CopyReader {
    schema: SchemaRef,
    columns: Vec<Column>,
    rows: usize,
    batches: Vec<RecordBatch>,
    header_read: bool,
    finished: bool,
    /// Bytes of a row that continues in the next chunk.
    pending: Vec<u8>,
}

impl CopyReader {
    /// A reader for the result columns `(name, type)`; an error names a column whose type has
    /// no Arrow counterpart here.
    pub(super) fn new(columns: &[(String, Type)]) -> Result<CopyReader, String> {
        let mut fields = Vec::new();
        let mut readers = Vec::new();
        for (name, ty) in columns {
            let (reader, data_type) = Column::for_type(ty).ok_or_else(|| {
                format!(
                    "column `{name}` has type {ty}, which aitaem cannot read; cast it to text or a number"
                )
            })?;
            fields.push(Field::new(name, data_type, true));
            readers.push(reader);
        }
        Ok(CopyReader {
            schema: Arc::new(Schema::new(fields)),
            columns: readers,
            rows: 0,
            batches: Vec::new(),
            header_read: false,
            finished: false,
            pending: Vec::new(),
        })
    }

    /// Reads one chunk of the stream.
    pub(super) fn read(&mut self, chunk: &[u8]) -> Result<(), String> {
        if self.pending.is_empty() {
            let used = self.rows_in(chunk)?;
            self.pending.extend_from_slice(&chunk[used..]);
        } else {
            let mut data = std::mem::take(&mut self.pending);
            data.extend_from_slice(chunk);
            let used = self.rows_in(&data)?;
            data.drain(..used);
            self.pending = data;
        }
        Ok(())
    }

    /// The batches, once the stream has ended.
    pub(super) fn finish(mut self) -> Result<Vec<RecordBatch>, String> {
        if !self.finished || !self.pending.is_empty() {
            return Err("the result stream ended early".into());
        }
        self.flush()?;
        Ok(self.batches)
    }

    /// Reads the complete rows at the start of `data`; returns the bytes used.
    fn rows_in(&mut self, data: &[u8]) -> Result<usize, String> {
        let mut pos = 0;
        if !self.header_read {
            if data.len() < SIGNATURE.len() + 8 {
                return Ok(0);
            }
            if &data[..SIGNATURE.len()] != SIGNATURE {
                return Err("the result is not in PostgreSQL's binary COPY format".into());
            }
            let extension = be_i32(data, SIGNATURE.len() + 4).max(0) as usize;
            pos = SIGNATURE.len() + 8 + extension;
            if data.len() < pos {
                return Ok(0);
            }
            self.header_read = true;
        }
        while !self.finished && data.len() >= pos + 2 {
            let fields = i16::from_be_bytes([data[pos], data[pos + 1]]);
            if fields == -1 {
                self.finished = true;
                pos += 2;
                break;
            }
            if fields as usize != self.columns.len() {
                return Err(format!(
                    "a row of {fields} columns where {} were expected",
                    self.columns.len()
                ));
            }
            // Only a complete row is read, so that a row split between chunks is read once.
            let mut end = pos + 2;
            for _ in 0..fields {
                if data.len() < end + 4 {
                    return Ok(pos);
                }
                end += 4 + be_i32(data, end).max(0) as usize;
                if data.len() < end {
                    return Ok(pos);
                }
            }
            let mut at = pos + 2;
            for column in &mut self.columns {
                let len = be_i32(data, at);
                at += 4;
                let value = (len >= 0).then(|| &data[at..at + len as usize]);
                column.push(value)?;
                at += len.max(0) as usize;
            }
            pos = end;
            self.rows += 1;
            if self.rows == BATCH_ROWS {
                self.flush()?;
            }
        }
        Ok(pos)
    }

    fn flush(&mut self) -> Result<(), String> {
        if self.rows == 0 && !self.batches.is_empty() {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self.columns.iter_mut().map(Column::finish).collect();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays).map_err(|e| e.to_string())?;
        self.batches.push(batch);
        self.rows = 0;
        Ok(())
    }
}

fn be_i32(data: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray, Float64Array};

    /// A NUMERIC in binary form from its parts.
    fn encode(weight: i16, sign: u16, digits: &[i16]) -> Vec<u8> {
        let mut out = Vec::new();
        for w in [digits.len() as i16, weight, sign as i16, 0] {
            out.extend_from_slice(&w.to_be_bytes());
        }
        for d in digits {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out
    }

    #[test]
    fn numerics_become_the_nearest_float() {
        let cases: [(i16, u16, &[i16], f64); 6] = [
            (0, 0, &[12], 12.0),
            (1, 0, &[12, 3456, 7800], 123456.78),
            (-1, 0x4000, &[50], -0.005),
            (-2, 0, &[1], 0.00000001),
            (2, 0, &[1], 100000000.0),
            (0, 0, &[], 0.0),
        ];
        for (weight, sign, digits, expected) in cases {
            let got = numeric(&encode(weight, sign, digits)).unwrap().unwrap();
            assert_eq!(got, expected, "{weight} {sign} {digits:?}");
        }
        assert!(numeric(&encode(0, 0xC000, &[])).unwrap().unwrap().is_nan());
        assert!(numeric(&[0, 1]).is_err());
    }

    /// A binary COPY stream of rows of (float8, text) values.
    fn stream(rows: &[(Option<f64>, Option<&str>)]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&0i32.to_be_bytes());
        for (number, text) in rows {
            out.extend_from_slice(&2i16.to_be_bytes());
            match number {
                Some(n) => {
                    out.extend_from_slice(&8i32.to_be_bytes());
                    out.extend_from_slice(&n.to_be_bytes());
                }
                None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            }
            match text {
                Some(t) => {
                    out.extend_from_slice(&(t.len() as i32).to_be_bytes());
                    out.extend_from_slice(t.as_bytes());
                }
                None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out
    }

    #[test]
    fn rows_split_anywhere_between_chunks_are_read_once() {
        let rows = [
            (Some(1.5), Some("a")),
            (None, Some("日本")),
            (Some(-2.0), None),
        ];
        let bytes = stream(&rows);
        for chunk in [1, 3, 7, 1000] {
            let mut reader = CopyReader::new(&[
                ("v".to_string(), Type::FLOAT8),
                ("t".to_string(), Type::TEXT),
            ])
            .unwrap();
            for piece in bytes.chunks(chunk) {
                reader.read(piece).unwrap();
            }
            let batches = reader.finish().unwrap();
            let batch = &batches[0];
            let values: &Float64Array = batch.column(0).as_primitive();
            assert_eq!(
                values.iter().collect::<Vec<_>>(),
                [Some(1.5), None, Some(-2.0)]
            );
            let texts: Vec<Option<&str>> = batch.column(1).as_string::<i32>().iter().collect();
            assert_eq!(texts, [Some("a"), Some("日本"), None], "chunks of {chunk}");
        }
    }

    #[test]
    fn a_truncated_stream_is_an_error() {
        let bytes = stream(&[(Some(1.0), Some("a"))]);
        let mut reader =
            CopyReader::new(&[("v".into(), Type::FLOAT8), ("t".into(), Type::TEXT)]).unwrap();
        reader.read(&bytes[..bytes.len() - 4]).unwrap();
        assert!(reader.finish().is_err());
        assert!(CopyReader::new(&[("p".into(), Type::POINT)]).is_err());
    }
}
