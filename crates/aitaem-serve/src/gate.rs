//! How many computes run at once, and how many may wait.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::StatusCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// At most `running` computes at a time; up to `queued` more wait for a turn.
pub(crate) struct Gate {
    turns: Arc<Semaphore>,
    waiting: AtomicUsize,
    queued: usize,
}

/// A turn to run: the next waiting compute runs when it is dropped.
pub(crate) type Turn = OwnedSemaphorePermit;

impl Gate {
    pub fn new(running: usize, queued: usize) -> Gate {
        Gate {
            turns: Arc::new(Semaphore::new(running.max(1))),
            waiting: AtomicUsize::new(0),
            queued,
        }
    }

    /// A turn, at once or after the computes ahead; 429 when the queue is full.
    pub async fn enter(&self) -> Result<Turn, ApiError> {
        if let Ok(turn) = self.turns.clone().try_acquire_owned() {
            return Ok(turn);
        }
        let ahead = self.waiting.fetch_add(1, Ordering::SeqCst);
        let _leave = Leave(&self.waiting);
        if ahead >= self.queued {
            let mut busy = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "ResourceExhausted",
                format!("the server is busy: {ahead} computes are waiting; try again shortly"),
            );
            busy.retry_after = Some(1);
            return Err(busy);
        }
        self.turns.clone().acquire_owned().await.map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                "the server is stopping",
            )
        })
    }

    /// The computes waiting for a turn.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// The computes running.
    pub fn running(&self, of: usize) -> usize {
        of.max(1) - self.turns.available_permits()
    }
}

/// Leaves the queue when dropped (a turn was given, or the caller went away).
struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
