//! What the server tells about itself: a JSON log line per request (on stderr), and counters in
//! the Prometheus text format (`GET /metrics`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

/// The upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Request counts by endpoint and status, latencies, and backend errors.
#[derive(Default)]
pub(crate) struct Telemetry {
    inner: Mutex<Counters>,
}

#[derive(Default)]
struct Counters {
    requests: BTreeMap<(String, u16), u64>,
    /// Per bucket of [`BUCKETS`] (and one for the rest): requests that took at most that long.
    latency: [u64; BUCKETS.len() + 1],
    latency_sum: f64,
    backend_errors: u64,
}

/// What is logged about a request.
pub(crate) struct Served<'a> {
    pub method: &'a str,
    pub endpoint: &'a str,
    pub status: u16,
    pub took: Duration,
    pub bytes: Option<u64>,
    pub metrics: Option<&'a [String]>,
}

impl Telemetry {
    /// Counts a request and logs it.
    pub fn served(&self, served: &Served) {
        let seconds = served.took.as_secs_f64();
        {
            let mut counters = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            *counters
                .requests
                .entry((served.endpoint.to_string(), served.status))
                .or_default() += 1;
            let bucket = BUCKETS
                .iter()
                .position(|&b| seconds <= b)
                .unwrap_or(BUCKETS.len());
            counters.latency[bucket] += 1;
            counters.latency_sum += seconds;
            if served.status == 502 {
                counters.backend_errors += 1;
            }
        }
        let line = json!({
            "time": unix_seconds(),
            "method": served.method,
            "path": served.endpoint,
            "status": served.status,
            "duration_ms": (seconds * 1e6).round() / 1e3,
            "bytes": served.bytes,
            "metrics": served.metrics,
        });
        eprintln!("{line}");
    }

    /// The counters in the Prometheus text format, with the queue's depth and the computes
    /// running.
    pub fn prometheus(&self, waiting: usize, running: usize) -> String {
        let counters = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        out.push_str("# HELP aitaem_requests_total Requests answered, by endpoint and status.\n");
        out.push_str("# TYPE aitaem_requests_total counter\n");
        for ((endpoint, status), n) in &counters.requests {
            let _ = writeln!(
                out,
                "aitaem_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP aitaem_request_duration_seconds Time to answer a request.\n");
        out.push_str("# TYPE aitaem_request_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(&counters.latency) {
            cumulative += n;
            let _ = writeln!(
                out,
                "aitaem_request_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        cumulative += counters.latency[BUCKETS.len()];
        let _ = writeln!(
            out,
            "aitaem_request_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let _ = writeln!(
            out,
            "aitaem_request_duration_seconds_sum {}",
            counters.latency_sum
        );
        let _ = writeln!(out, "aitaem_request_duration_seconds_count {cumulative}");
        out.push_str("# HELP aitaem_queue_depth Computes waiting for a turn.\n");
        out.push_str("# TYPE aitaem_queue_depth gauge\n");
        let _ = writeln!(out, "aitaem_queue_depth {waiting}");
        out.push_str("# HELP aitaem_computes_running Computes running.\n");
        out.push_str("# TYPE aitaem_computes_running gauge\n");
        let _ = writeln!(out, "aitaem_computes_running {running}");
        out.push_str("# HELP aitaem_backend_errors_total Requests a backend failed (502).\n");
        out.push_str("# TYPE aitaem_backend_errors_total counter\n");
        let _ = writeln!(
            out,
            "aitaem_backend_errors_total {}",
            counters.backend_errors
        );
        out
    }
}

fn unix_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| (d.as_millis() as f64) / 1e3)
}

/// Logs an event of the server's (start, stop) as a JSON line.
pub(crate) fn log_event(message: &str) {
    eprintln!("{}", json!({"time": unix_seconds(), "event": message}));
}
