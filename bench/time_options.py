#!/usr/bin/env python3
"""Benchmark: what the time options cost. W2 (6 metrics, monthly over 2024, 2 slices) against
W2t, the same request with --fill-gaps --compare previous_year, which also reads 2023 for the
comparisons (the generated data starts in November 2023), at 10M rows by default.

    python3 bench/time_options.py                 # its section of RESULTS.md
    python3 bench/time_options.py --sizes 1m --runs 3 --results -

Both run warm (the median of --runs runs in one process, after a first run) with the release
build; the budget is 1.3x.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import report  # noqa: E402
import run  # noqa: E402

SECTION = "## Time options"
BUDGET = 1.3


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10m")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--data", default=os.environ.get("AITAEM_BENCH_DATA", os.path.join("/tmp", "aitaem-bench")))
    ap.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"), help="markdown output ('-': stdout only)")
    args = ap.parse_args()
    with open(os.path.join(HERE, "workloads.json")) as f:
        workloads = json.load(f)
    bins = run.build("release")
    rows, over = [], []
    for size in args.sizes.split(","):
        data = run.ensure_data(bins, args.data, size)
        out = os.path.join(data, "out")
        os.makedirs(out, exist_ok=True)
        times = {}
        for name in ("W2", "W2t"):
            times[name] = run.time_warm(bins, data, workloads[name], args.runs, os.path.join(out, f"warm_{name}.csv"))
        base, opts = times["W2"]["median_s"], times["W2t"]["median_s"]
        ratio = opts / base
        print(f"{size}: W2 {base:.3f}s, W2t {opts:.3f}s ({ratio:.2f}x)", file=sys.stderr)
        rows.append(f"| {size} | {base:.3f} | {opts:.3f} | {ratio:.2f}x |")
        if ratio > BUDGET:
            over.append(f"{size}: {ratio:.2f}x")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=run.ROOT, capture_output=True,
                            text=True).stdout.strip()
    text = "\n".join([
        SECTION,
        "",
        f"Measured {datetime.date.today()} at commit {commit} with `python3 bench/time_options.py --sizes {args.sizes} "
        f"--runs {args.runs}`: W2 and W2t (W2 with `--fill-gaps --compare previous_year`, whose scan also reads "
        f"2023; the data starts in November 2023, so November and December have comparisons), warm medians "
        f"of {args.runs} runs. Budget: {BUDGET}x.",
        "",
        "| rows | W2 warm (s) | W2t warm (s) | W2t / W2 |",
        "|---|---|---|---|",
        *rows,
    ])
    if args.results == "-":
        print(text)
    else:
        report.write_part(args.results, SECTION, text)
    if over:
        raise SystemExit(f"over the {BUDGET}x budget: {', '.join(over)}")


if __name__ == "__main__":
    main()
