//! Stopping one compute's statements from another thread (a server whose client went away, a
//! request past its time).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What stops one running statement.
type Stop = Arc<dyn Fn() + Send + Sync>;

/// A handle that stops the statements of the computes it is given to
/// ([`MetricCompute::compute_cancellable`](crate::MetricCompute::compute_cancellable)): those
/// running when [`Cancel::cancel`] is called, and those that would start after. They fail as
/// cancelled (DuckDB, PostgreSQL and Spark stop at once; a BigQuery job is left to finish).
///
/// ```
/// let cancel = aitaem::Cancel::new();
/// let other = cancel.clone();
/// assert!(!cancel.is_cancelled());
/// other.cancel();
/// assert!(cancel.is_cancelled());
/// ```
#[derive(Clone, Default)]
pub struct Cancel {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    stops: Mutex<Vec<(u64, Stop)>>,
    next: AtomicU64,
}

impl std::fmt::Debug for Cancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cancel")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl Cancel {
    /// A handle not cancelled yet.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Stops the statements running now, and makes those that would start fail at once.
    pub fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::SeqCst);
        let stops: Vec<Stop> = self
            .inner
            .stops
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(_, stop)| stop.clone())
            .collect();
        for stop in stops {
            stop();
        }
    }

    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// Runs `stop` if the handle is cancelled while the returned guard lives (at once when it
    /// already is).
    pub(crate) fn watch(&self, stop: impl Fn() + Send + Sync + 'static) -> Watch {
        let id = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let stop: Stop = Arc::new(stop);
        self.inner
            .stops
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, stop.clone()));
        if self.is_cancelled() {
            stop();
        }
        Watch {
            cancel: self.clone(),
            id,
        }
    }
}

/// Watches a statement until dropped (see [`Cancel::watch`]).
pub(crate) struct Watch {
    cancel: Cancel,
    id: u64,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.cancel
            .inner
            .stops
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(id, _)| *id != self.id);
    }
}
