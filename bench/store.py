#!/usr/bin/env python3
"""Benchmark of the result store: W1 cold, answered from the store, and after one more day of
rows, refreshed.

    python3 bench/store.py                      # 1M and 10M rows, writes the "Result store" section
    python3 bench/store.py --sizes 1m --runs 3 --results -

For each size, on a copy of the benchmark's DuckDB database (the same rows as run.py's, stored in
the order of their time, as an event table that rows are appended to is):

  cold        W1 without a store (aitaem's whole process writing the CSV; median of --runs)
  populate    W1 with an empty store: reads the source per day and keeps it (one run)
  answered    W1 again: answered from the store, which reads back the rows it answered W1 with
              (median of --runs)
  new request W1 per month, answered from the store by its serving statement over the stored
              rows (each run with the entry's kept answers deleted first; median of --runs)
  + one day   a copy of the last day's rows (30 December 2024) is appended as 31 December, inside
              W1's window, with the `duckdb` Python package of the test virtualenv
  refresh     `aitaem store refresh`: reads from the latest stored day less a day (median of
              --runs; each reads the same rows again)
  answered    W1 from the refreshed store, compared with a cold W1 over the appended rows

Every answer from the store is checked equal to the cold compute of the same rows (compare.py),
and to say it was answered from the store; the store's size is compared with the database's.
"""
import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare  # noqa: E402
import report as report_file  # noqa: E402
import run as duck  # noqa: E402

SECTION = "## Result store"
PYTHON = os.path.expanduser("~/.cache/aitaem/py-venv/bin/python")
# An event table gets its rows in the order of their time; the generated one is in random order.
IN_TIME_ORDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE OR REPLACE TABLE events AS SELECT * FROM events ORDER BY event_ts")
con.execute("CHECKPOINT")
"""
APPEND = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute(\"\"\"INSERT INTO events SELECT * REPLACE (event_ts + INTERVAL 1 DAY AS event_ts,
    CAST(event_ts + INTERVAL 1 DAY AS DATE) AS event_date, event_id + 1000000000 AS event_id)
    FROM events WHERE event_ts >= TIMESTAMP '2024-12-30' AND event_ts < TIMESTAMP '2024-12-31'\"\"\")
print(con.execute("SELECT COUNT(*) FROM events WHERE event_ts >= TIMESTAMP '2024-12-31'").fetchone()[0])
"""


def timed(cmd, cwd):
    """Runs a command; returns (seconds, stderr)."""
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"command failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr}")
    return elapsed, done.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1m,10m")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--profile", choices=["release", "dev"], default="release")
    ap.add_argument("--data", default=os.environ.get("AITAEM_BENCH_DATA",
                                                     os.path.join(tempfile.gettempdir(), "aitaem-bench")))
    ap.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"))
    args = ap.parse_args()
    if not os.path.exists(PYTHON):
        raise SystemExit(f"no {PYTHON}: run scripts/test.sh once (it makes the test virtualenv)")
    with open(os.path.join(HERE, "workloads.json")) as f:
        w1 = json.load(f)["W1"]
    bins = duck.build(args.profile)
    rows = []
    for size in args.sizes.split(","):
        data = duck.ensure_data(bins, args.data, size)
        work = tempfile.mkdtemp(prefix=f"aitaem-bench-store-{size}-")
        try:
            shutil.copy(os.path.join(data, "big.duckdb"), work)
            shutil.copy(os.path.join(data, "connections.yaml"), work)
            subprocess.run([PYTHON, "-c", IN_TIME_ORDER, os.path.join(work, "big.duckdb")], check=True)
            store = os.path.join(work, "store")
            out = lambda name: os.path.join(work, f"{name}.csv")  # noqa: E741,E731
            w1_args = duck.aitaem_args(bins, w1)
            cold_args = w1_args + ["--output", out("cold")]
            stored_args = lambda name: w1_args + ["--store", store, "--output", out(name)]  # noqa: E731

            timed(cold_args, work)  # file cache
            cold = statistics.median(timed(cold_args, work)[0] for _ in range(args.runs))
            populate, said = timed(stored_args("populate"), work)
            assert "kept in the result store" in said, said
            answered_times = []
            for _ in range(args.runs):
                t, said = timed(stored_args("answered"), work)
                assert "answered from the result store" in said, said
                answered_times.append(t)
            answered = statistics.median(answered_times)
            monthly_args = [a if a != "all_time" else "monthly" for a in w1_args]
            timed(monthly_args + ["--output", out("cold_monthly")], work)
            new_times = []
            for _ in range(args.runs):
                for entry in os.listdir(store):
                    shutil.rmtree(os.path.join(store, entry, "answers"), ignore_errors=True)
                t, said = timed(monthly_args + ["--store", store, "--output", out("monthly")], work)
                assert "answered from the result store" in said, said
                new_times.append(t)
            new_request = statistics.median(new_times)
            verdict = compare.compare(out("cold_monthly"), out("monthly"))
            if verdict != "SAME":
                raise SystemExit(f"{size}: the store's monthly W1 differs from the cold one: {verdict}")
            for name in ("populate", "answered"):
                verdict = compare.compare(out("cold"), out(name))
                if verdict != "SAME":
                    raise SystemExit(f"{size}: the store's W1 ({name}) differs from the cold one: {verdict}")
            store_bytes = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(store) for f in fs)
            # The generated database (the copy in time order is larger: rewritten in place).
            db_bytes = os.path.getsize(os.path.join(data, "big.duckdb"))

            appended = subprocess.run([PYTHON, "-c", APPEND, os.path.join(work, "big.duckdb")],
                                      capture_output=True, text=True, check=True).stdout.strip()
            refresh_args = [bins["aitaem"], "store", "refresh", "--store", store, "--specs",
                            duck.specs_dir(w1), "--connections", "connections.yaml"]
            refresh = statistics.median(timed(refresh_args, work)[0] for _ in range(args.runs))
            timed(w1_args + ["--output", out("cold_after")], work)
            t, said = timed(stored_args("answered_after"), work)
            assert "answered from the result store" in said, said
            verdict = compare.compare(out("cold_after"), out("answered_after"))
            if verdict != "SAME":
                raise SystemExit(f"{size}: the refreshed store's W1 differs from the cold one: {verdict}")
            if compare.compare(out("cold"), out("cold_after")) == "SAME":
                raise SystemExit(f"{size}: the appended day changed nothing in W1")
            r = {"cold": cold, "populate": populate, "answered": answered, "new": new_request,
                 "refresh": refresh,
                 "store_mb": store_bytes / 1e6, "db_mb": db_bytes / 1e6, "appended": int(appended)}
            print(f"{size}: " + ", ".join(f"{k} {v:.3f}" for k, v in r.items()), file=sys.stderr)
            fmt = duck.fmt
            rows.append(f"| {size} | {fmt(cold)} | {fmt(populate)} | {fmt(answered)} | "
                        f"{fmt(cold / answered, 0)}x | {fmt(new_request)} | {r['appended']:,} | {fmt(refresh)} | "
                        f"{100 * refresh / cold:.1f}% | {store_bytes / 1e6:.2f} MB | "
                        f"{100 * store_bytes / db_bytes:.2f}% |")
        finally:
            shutil.rmtree(work, ignore_errors=True)

    report = f"""{SECTION}

Measured {datetime.date.today()} at commit {duck.commit()} with `python3 bench/store.py --sizes {args.sizes} --runs {args.runs}`
on {os.cpu_count()} x {duck.cpu()}; aitaem {args.profile} build, DuckDB (a copy of the benchmark's database, its
events in the order of their time, as an event table that rows are appended to holds them).
Times are whole processes (`aitaem compute` writing W1's CSV, `aitaem store refresh`), medians of {args.runs} runs
except the populating one. Every answer from the store was checked equal to a cold compute of the same
rows, before and after one more day of rows was appended (a copy of 30 December 2024 as 31 December,
inside W1's window). "W1 again" reads back the rows the store answered W1 with; "W1 per month, new to the
store" runs its serving statement over the stored rows (the entry's kept answers deleted before each run).

| rows | W1 cold (s) | W1 populating the store (s) | W1 again, from the store (s) | cold / from the store | W1 per month, new to the store (s) | rows appended | refresh (s) | refresh / cold | store size | store / database |
|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}
"""
    print(report)
    if args.results != "-":
        report_file.write_part(args.results, SECTION, report)


if __name__ == "__main__":
    main()
