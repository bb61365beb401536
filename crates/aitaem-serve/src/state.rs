//! What every request shares, whatever its protocol: the loaded project, the options, the
//! gate of running and queued computes, and the counters.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use aitaem::{Cancel, Project};
use axum::http::StatusCode;

use crate::error::ApiError;
use crate::gate::Gate;
use crate::reload::Fingerprint;
use crate::telemetry::{Telemetry, log_event};
use crate::{Loaded, ServeOptions};

/// What every request shares.
pub(crate) struct State {
    /// The project's files, to reload.
    project: Project,
    /// The specs and connections requests use; a request keeps the set it started with.
    loaded: RwLock<Arc<Loaded>>,
    /// The files the loaded set came from, and why the last reload failed (if it did).
    reloads: Mutex<(Fingerprint, Option<String>)>,
    pub options: ServeOptions,
    pub gate: Gate,
    pub telemetry: Telemetry,
    /// Cancelled when the server stops: ends the MCP sessions' open streams.
    pub stopping: tokio_util::sync::CancellationToken,
}

impl State {
    /// Loads the project.
    pub fn load(project: Project, options: ServeOptions) -> Result<State, aitaem::Error> {
        let fingerprint = Fingerprint::of(&project);
        let (specs, connections) = project.load()?;
        Ok(State {
            project,
            loaded: RwLock::new(Arc::new(Loaded {
                specs,
                connections: Arc::new(connections),
            })),
            reloads: Mutex::new((fingerprint, None)),
            gate: Gate::new(options.max_concurrent, options.max_queued),
            options,
            telemetry: Telemetry::default(),
            stopping: tokio_util::sync::CancellationToken::new(),
        })
    }

    /// The specs and connections to answer with now.
    pub fn loaded(&self) -> Arc<Loaded> {
        self.loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Why the last reload failed, if it did (the previous set still answers).
    pub fn reload_error(&self) -> Option<String> {
        self.reloads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .clone()
    }

    /// Loads the project again when its files changed (or always, when `forced`): the specs,
    /// and the connections when their file changed. Requests in flight finish on the set they
    /// started with; a project that no longer loads leaves the last good set in place, and the
    /// reason is logged and kept for `/healthz`.
    pub fn reload(&self, forced: bool) {
        let mut reloads = self.reloads.lock().unwrap_or_else(|e| e.into_inner());
        let fingerprint = Fingerprint::of(&self.project);
        if !forced && fingerprint == reloads.0 {
            return;
        }
        let current = self.loaded();
        let connections = if fingerprint.connections == reloads.0.connections {
            Ok(current.connections.clone())
        } else {
            self.project.connections().map(Arc::new)
        };
        let loaded = connections.and_then(|connections| {
            Ok(Loaded {
                specs: self.project.specs()?,
                connections,
            })
        });
        match loaded {
            Ok(loaded) => {
                *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(loaded);
                *reloads = (fingerprint, None);
                log_event("reloaded the project");
            }
            Err(err) => {
                let reason = format!("{}: {err}", err.kind().name());
                log_event(&format!(
                    "the project did not reload; the previous specs still answer: {reason}"
                ));
                *reloads = (fingerprint, Some(reason));
            }
        }
    }
}

impl State {
    /// Interrupts the statements still running and waits up to `patience` for their computes
    /// to end.
    pub fn stop_computes(&self, patience: std::time::Duration) {
        let deadline = Instant::now() + patience;
        while self.gate.running(self.options.max_concurrent) > 0 && Instant::now() < deadline {
            self.loaded().connections.interrupt();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Runs `work` on a thread of its own when the gate gives it a turn, within the request's
/// timeout (waiting included). When the request ends without its answer (past the timeout, or
/// its client went away and the request's future was dropped), `work`'s statements are
/// cancelled, and its turn goes to the next compute as soon as they stop.
pub(crate) async fn blocking<T: Send + 'static>(
    state: &Arc<State>,
    work: impl FnOnce(&Loaded, &Cancel) -> T + Send + 'static,
) -> Result<T, ApiError> {
    let mut guard = CancelOnDrop {
        cancel: Cancel::new(),
        answered: false,
    };
    let cancel = guard.cancel.clone();
    let run = async {
        let turn = state.gate.enter().await?;
        let loaded = state.loaded();
        let (done, answer) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("aitaem-compute".into())
            .spawn(move || {
                let _turn = turn;
                let _ = done.send(work(&loaded, &cancel));
            })
            .map_err(|e| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Unavailable",
                    format!("cannot start a compute: {e}"),
                )
            })?;
        answer.await.map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "the compute stopped without an answer",
            )
        })
    };
    let answer = tokio::time::timeout(state.options.timeout, run).await;
    guard.answered = matches!(answer, Ok(Ok(_)));
    match answer {
        Ok(answer) => answer,
        Err(_) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "Timeout",
            format!(
                "no answer within {} s (the server's --timeout); its statements were cancelled",
                state.options.timeout.as_secs_f64()
            ),
        )),
    }
}

/// Whether a secret given by a caller is the token, compared in constant time.
pub(crate) fn same_secret(given: &str, token: &str) -> bool {
    let (a, b) = (given.as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Cancels a compute's statements when its request ends without the answer.
struct CancelOnDrop {
    cancel: Cancel,
    answered: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.answered {
            self.cancel.cancel();
        }
    }
}
