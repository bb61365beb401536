#!/usr/bin/env python3
"""Benchmark: `aitaem serve` under load, on loopback, with the release build.

    python3 bench/serve.py                       # its section of RESULTS.md
    python3 bench/serve.py --results -           # print only

What it measures:

  start-up     from starting `aitaem serve --specs examples/ads` to its first answered request
               (budget 100 ms), and to its first answered compute
  small        1,000 computes of one metric by one slice over a month on the example project,
               from 50 concurrent clients (keep-alive connections): every answer must be 200 and
               equal to the first; latency p50/p99 and throughput
  added cost   a small compute on 10k rows in DuckDB, one request at a time, p50, against an
               in-process `MetricCompute::compute` of it (examples/compute_warm.rs, warm median):
               what the server adds per request (budget 2 ms)
  mix          with W1 (6 metrics x 5 slices x a segment, all time) at 1M rows on the benchmark's
               data: 20 W1 computes among 180 small ones from 20 concurrent clients; no error

Every count and time is bounded: a client waits at most 120 s for an answer.
"""
import argparse
import datetime
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import report  # noqa: E402
import run  # noqa: E402

EXAMPLE = os.path.join(run.ROOT, "examples", "ads")
SMALL = {"metrics": ["revenue"], "slices": ["device"], "time_window": ["2024-06-01", "2024-07-01"]}
SMALL_BENCH = {"metrics": ["revenue_total"], "slices": ["campaign_type"],
               "time_window": ["2024-06-01", "2024-07-01"]}


class Server:
    """`aitaem serve ARGS --listen 127.0.0.1:0`, and the address it says it listens on."""

    def __init__(self, bins, args, cwd=None):
        self.started = time.perf_counter()
        self.process = subprocess.Popen([bins["aitaem"], "serve", *args, "--listen", "127.0.0.1:0"],
                                        cwd=cwd, stderr=subprocess.PIPE, text=True)
        first = self.process.stderr.readline()
        if not first.startswith("aitaem: listening on http://"):
            raise SystemExit(f"the server did not start: {first}{self.process.stderr.read()}")
        host, port = first.strip().removeprefix("aitaem: listening on http://").rsplit(":", 1)
        self.host, self.port = host, int(port)
        # Drain the request log so the server never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.process.stderr], daemon=True).start()

    def client(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=120)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=60)


def compute(connection, body):
    """POSTs a compute; returns (status, answer text, seconds)."""
    start = time.perf_counter()
    connection.request("POST", "/v1/compute", body=json.dumps(body),
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    text = response.read().decode()
    return response.status, text, time.perf_counter() - start


def rows(text):
    """The answer's rows, in a canonical order (sums may differ in the last bits between runs)."""
    return sorted((tuple(r[:10]), round(r[10], 6) if r[10] is not None else None)
                  for r in json.loads(text)["rows"])


def load(server, bodies, clients):
    """Sends `bodies` from `clients` concurrent keep-alive connections; returns the latencies,
    the wall time, and the failures (status or answer different from the first of its kind)."""
    queue = list(enumerate(bodies))
    lock = threading.Lock()
    latencies, failures, expected = [], [], {}

    def worker():
        connection = server.client()
        while True:
            with lock:
                if not queue:
                    break
                _, body = queue.pop()
            try:
                status, text, seconds = compute(connection, body)
            except Exception as e:  # noqa: BLE001 - every failure is counted and reported
                with lock:
                    failures.append(f"{type(e).__name__}: {e}")
                connection = server.client()
                continue
            key = json.dumps(body, sort_keys=True)
            with lock:
                latencies.append(seconds)
                if status != 200:
                    failures.append(f"status {status}: {text[:200]}")
                    continue
                got = rows(text)
                if expected.setdefault(key, got) != got:
                    failures.append(f"an answer differs for {key}")
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    wall = time.perf_counter() - started
    if len(latencies) + len([f for f in failures if not f.startswith("status")]) != len(bodies):
        failures.append(f"answers lost: {len(bodies)} sent, {len(latencies)} answered")
    return latencies, wall, failures


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--data", default=os.environ.get("AITAEM_BENCH_DATA", os.path.join("/tmp", "aitaem-bench")))
    ap.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"), help="markdown output ('-': stdout only)")
    args = ap.parse_args()
    bins = run.build("release")
    over = []

    # Start-up to the first answered request, and to the first compute (medians of 5 starts).
    startups, first_computes = [], []
    for _ in range(5):
        server = Server(bins, ["--specs", EXAMPLE])
        connection = server.client()
        connection.request("GET", "/healthz")
        healthy = connection.getresponse()
        healthy.read()
        startups.append(time.perf_counter() - server.started)
        status, _, _ = compute(connection, SMALL)
        first_computes.append(time.perf_counter() - server.started)
        server.stop()
        if healthy.status != 200 or status != 200:
            raise SystemExit(f"start-up requests answered {healthy.status} and {status}")
    startup, first_compute = statistics.median(startups), statistics.median(first_computes)
    print(f"start-up to the first answer: {startup * 1000:.0f} ms; to the first compute: "
          f"{first_compute * 1000:.0f} ms", file=sys.stderr)
    if startup > 0.1:
        over.append(f"start-up {startup * 1000:.0f} ms (budget 100 ms)")

    # One at a time, against the same compute in process, on a small DuckDB table (10k rows: a
    # few milliseconds a compute, so that the difference is not lost in the engine's variation).
    small_data = run.ensure_data(bins, args.data, "10k")
    server = Server(bins, ["--specs", os.path.join(HERE, "specs"), "--connections", "connections.yaml"],
                    cwd=small_data)
    try:
        connection = server.client()
        compute(connection, SMALL_BENCH)
        sequential = [compute(connection, SMALL_BENCH)[2] for _ in range(300)]
    finally:
        server.stop()
    workload = dict(SMALL_BENCH, segments=None, period_type="all_time", by_entity=None)
    _, _, out = run.run([bins["compute_warm"], "--specs", os.path.join(HERE, "specs"), "--connections",
                         "connections.yaml", "--workload", json.dumps(workload), "--runs", "301",
                         "--out", os.path.join(small_data, "serve_small.csv")], cwd=small_data, capture=True)
    in_process = json.loads(out)["warm_median_s"]
    p50_one = statistics.median(sequential)
    added = p50_one - in_process
    print(f"one at a time: p50 {p50_one * 1000:.2f} ms, in process {in_process * 1000:.2f} ms, "
          f"added {added * 1000:.2f} ms", file=sys.stderr)
    if added > 0.002:
        over.append(f"the server adds {added * 1000:.2f} ms per request at p50 (budget 2 ms)")

    server = Server(bins, ["--specs", EXAMPLE])
    try:
        latencies, wall, failures = load(server, [SMALL] * args.requests, args.clients)
        if failures:
            raise SystemExit(f"small load: {len(failures)} failures, first: {failures[0]}")
        small = (percentile(latencies, 0.5), percentile(latencies, 0.99), len(latencies) / wall)
        print(f"small x{args.requests}, {args.clients} clients: p50 {small[0] * 1000:.1f} ms, "
              f"p99 {small[1] * 1000:.1f} ms, {small[2]:.0f} requests/s", file=sys.stderr)
    finally:
        server.stop()

    # The mix, on the benchmark's 1M-row data.
    data = run.ensure_data(bins, args.data, "1m")
    with open(os.path.join(HERE, "workloads.json")) as f:
        w1 = json.load(f)["W1"]
    w1_body = {"metrics": w1["metrics"], "slices": w1["slices"], "segments": [w1["segments"]],
               "time_window": w1["time_window"]}
    small_1m = {"metrics": ["revenue_total"], "slices": ["campaign_type"],
                "time_window": ["2024-06-01", "2024-07-01"]}
    server = Server(bins, ["--specs", os.path.join(HERE, "specs"), "--connections", "connections.yaml"], cwd=data)
    try:
        bodies = [w1_body if i % 10 == 0 else small_1m for i in range(200)]
        latencies, wall, failures = load(server, bodies, 20)
        if failures:
            raise SystemExit(f"mix: {len(failures)} failures, first: {failures[0]}")
        mix = (percentile(latencies, 0.5), percentile(latencies, 0.99), len(latencies) / wall)
        print(f"mix: p50 {mix[0] * 1000:.1f} ms, p99 {mix[1] * 1000:.1f} ms, {mix[2]:.1f} requests/s",
              file=sys.stderr)
    finally:
        server.stop()

    commit = run.commit()
    lines = [
        "## Server",
        "",
        f"Measured {datetime.date.today()} at commit {commit} with `python3 bench/serve.py`: `aitaem serve` "
        "(release build) on loopback, Python `http.client` clients with keep-alive connections on the same "
        "2 cores. Every answer was 200 and equal to the first of its kind; none was lost. Budgets: start-up "
        "under 100 ms, added cost under 2 ms at p50. The example project's sources are CSV files, which "
        "DuckDB reads again for every compute (about 70 ms here); the mix's sources are DuckDB tables.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| start-up to the first answered request (`GET /healthz`; example project, median of 5) | {startup * 1000:.0f} ms |",
        f"| start-up to the first answered compute (it reads the example's CSV file) | {first_compute * 1000:.0f} ms |",
        f"| one compute at a time (revenue by campaign type, a month; 10k rows in DuckDB): p50 | {p50_one * 1000:.2f} ms |",
        f"| the same compute in process (`MetricCompute::compute`, warm median) | {in_process * 1000:.2f} ms |",
        f"| added by the server, p50 | {added * 1000:.2f} ms |",
        f"| {args.requests} computes of revenue by device over a month (example project) from {args.clients} clients: p50 / p99 | "
        f"{small[0] * 1000:.1f} ms / {small[1] * 1000:.1f} ms |",
        f"| their throughput | {small[2]:.0f} requests/s |",
        f"| mix at 1M rows (20 W1 among 200, 20 clients): p50 / p99 | {mix[0] * 1000:.1f} ms / {mix[1] * 1000:.1f} ms |",
        f"| the mix's throughput | {mix[2]:.1f} requests/s |",
    ]
    text = "\n".join(lines)
    if args.results == "-":
        print(text)
    else:
        report.write_part(args.results, "## Server", text)
    if over:
        raise SystemExit(f"over budget: {', '.join(over)}")


if __name__ == "__main__":
    main()
