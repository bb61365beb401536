//! Files of a store: written under a temporary name and renamed into place.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A name no other writer uses: the time and the process.
pub(crate) fn unique_name(extension: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{nanos:x}-{:x}.{extension}", std::process::id())
}

/// Writes `bytes` to `path` under a temporary name, then renames it into place.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let temporary = dir.join(unique_name("tmp"));
    let mut file = fs::File::create(&temporary).map_err(io(&temporary))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io(&temporary))?;
    fs::rename(&temporary, path).map_err(io(path))
}

/// Writes batches as a Parquet file in `dir`, renamed into place once complete; returns its
/// name, rows and bytes.
pub(crate) fn write_parquet(dir: &Path, batches: &[RecordBatch]) -> Result<(String, u64, u64)> {
    let name = unique_name("parquet");
    let (rows, bytes) = write_parquet_at(&dir.join(&name), batches)?;
    Ok((name, rows, bytes))
}

/// Writes batches as the Parquet file `path`, renamed into place once complete; returns its
/// rows and bytes.
pub(crate) fn write_parquet_at(path: &Path, batches: &[RecordBatch]) -> Result<(u64, u64)> {
    let Some(first) = batches.first() else {
        return Err(Error::internal("no rows to store"));
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io(dir))?;
    let temporary: PathBuf = dir.join(unique_name("tmp"));
    let failed = |e: parquet::errors::ParquetError| Error::Output {
        message: format!("{}: {e}", temporary.display()),
    };
    let file = fs::File::create(&temporary).map_err(io(&temporary))?;
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(file, first.schema(), None).map_err(failed)?;
    let mut rows = 0;
    for batch in batches {
        writer.write(batch).map_err(failed)?;
        rows += batch.num_rows() as u64;
    }
    let file = writer.into_inner().map_err(failed)?;
    file.sync_all().map_err(io(&temporary))?;
    let bytes = file.metadata().map(|m| m.len()).unwrap_or_default();
    fs::rename(&temporary, path).map_err(io(&temporary))?;
    Ok((rows, bytes))
}

/// The batches of a Parquet file; `None` when it cannot be read.
pub(crate) fn read_parquet(path: &Path) -> Option<Vec<RecordBatch>> {
    let file = fs::File::open(path).ok()?;
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .ok()?
        .build()
        .ok()?
        .collect::<std::result::Result<Vec<_>, _>>()
        .ok()
}

/// Deletes a file that is no longer read (best effort: a reader may still have it open).
pub(crate) fn remove_file(path: &Path) {
    let _ = fs::remove_file(path);
}

/// Deletes an entry's directory.
pub(crate) fn remove_dir(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(dir)(e)),
        _ => Ok(()),
    }
}
