//! The one asynchronous runtime that network backends drive their clients on.
//!
//! The library's API is synchronous: a caller's thread blocks on a future here. The runtime is
//! created on first use, with two worker threads for the clients' connections.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime};

use crate::error::{BackendError, BackendErrorKind};

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

fn runtime() -> Result<&'static Runtime, BackendError> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("aitaem-io")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|message| {
            BackendError::new(
                BackendErrorKind::Other,
                format!("cannot start the network runtime: {message}"),
            )
        })
}

/// Starts a future on the shared runtime without waiting for it (nothing happens when the
/// runtime cannot start).
pub(crate) fn spawn<F>(future: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    if let Ok(runtime) = runtime() {
        runtime.spawn(future);
    }
}

/// Runs a future to completion on the shared runtime, from any thread (also from inside
/// another asynchronous runtime, by blocking a helper thread instead of the caller's worker).
pub(crate) fn block_on<F>(future: F) -> Result<F::Output, BackendError>
where
    F: Future + Send,
    F::Output: Send,
{
    let runtime = runtime()?;
    if Handle::try_current().is_ok() {
        std::thread::scope(|scope| {
            scope
                .spawn(|| runtime.block_on(future))
                .join()
                .map_err(|_| BackendError::new(BackendErrorKind::Other, "a network call panicked"))
        })
    } else {
        Ok(runtime.block_on(future))
    }
}
