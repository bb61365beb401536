#!/usr/bin/env python3
"""Benchmark: what an option costs, against the same request without it, warm, with the release
build, at 10M rows by default.

  time-options     W2 (6 metrics, monthly over 2024, 2 slices) against W2t, the same request with
                   --fill-gaps --compare previous_year, which also reads 2023 for the comparisons
                   (the generated data starts in November 2023); budget 1.3x
  derived-metrics  W1 against W1d, W1 and three derived metrics over its metrics (computed from
                   W1's results, no other statement); budget 1.05x
  active-users     W4 (daily distinct users over 2024, 2 slices) against W4r, the same request with
                   --rolling 28 (users active on any of the last 28 days); budget 4x, and W4r
                   within 1.5x of a hand-written statement giving the same rows (anchor.py)

    python3 bench/overhead.py                           # all; their sections of RESULTS.md
    python3 bench/overhead.py derived-metrics --sizes 1m --runs 3 --results -

Both requests of a comparison run warm (the median of --runs runs in one process, after a first
run) on the same spec set, and their shared metrics' rows are compared: they must be equal.
"""
import argparse
import datetime
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import compare  # noqa: E402
import report  # noqa: E402
import run  # noqa: E402

# name: (base workload, workload with the option, budget, RESULTS.md section, what is compared,
#        budget against the hand-written statement of the option's workload, or None)
COMPARISONS = {
    "time-options": (
        "W2", "W2t", 1.3, "## Time options",
        "W2 and W2t (W2 with `--fill-gaps --compare previous_year`, whose scan also reads 2023; the data "
        "starts in November 2023, so November and December have comparisons)",
        None,
    ),
    "derived-metrics": (
        "W1", "W1d", 1.05, "## Derived metrics",
        "W1 and W1d (W1 and three derived metrics over its metrics: `revenue_total / event_count`, "
        "`ctr * 100`, `revenue_avg / max_revenue`)",
        None,
    ),
    "active-users": (
        "W4", "W4r", 4.0, "## Active users",
        "W4 and W4r (`COUNT(DISTINCT user_id)` per day over 2024 by `campaign_type` and `device_type`, "
        "and W4r with `--rolling 28`: each day's users active on any of the last 28 days), and W4r "
        "against the hand-written statement of `anchor.py --workload W4r` (each user's active days "
        "as +1/-1 changes at day numbers, `LEAD` for the next active day, a running `SUM`)",
        1.5,
    ),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("comparisons", nargs="*", metavar="COMPARISON",
                    help=f"{', '.join(COMPARISONS)} (default: all)")
    ap.add_argument("--sizes", default="10m")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--data", default=os.environ.get("AITAEM_BENCH_DATA", os.path.join("/tmp", "aitaem-bench")))
    ap.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"), help="markdown output ('-': stdout only)")
    args = ap.parse_args()
    with open(os.path.join(HERE, "workloads.json")) as f:
        workloads = json.load(f)
    bins = run.build("release")
    commit = run.commit()
    over = []
    unknown = [c for c in args.comparisons if c not in COMPARISONS]
    if unknown:
        ap.error(f"unknown comparison {', '.join(unknown)}; use {' or '.join(COMPARISONS)}")
    for key in args.comparisons or list(COMPARISONS):
        base_name, option_name, budget, section, described, anchor_budget = COMPARISONS[key]
        rows = []
        for size in args.sizes.split(","):
            data = run.ensure_data(bins, args.data, size)
            out = os.path.join(data, "out")
            os.makedirs(out, exist_ok=True)
            times = {}
            for name in (base_name, option_name):
                # The base runs on the option's spec set, so the two differ only by the option.
                workload = dict(workloads[name], extra_metrics=workloads[option_name].get("extra_metrics"))
                times[name] = run.time_warm(bins, data, workload, args.runs, os.path.join(out, f"warm_{name}.csv"))
            verdict = compare.compare_subset(os.path.join(out, f"warm_{base_name}.csv"),
                                             os.path.join(out, f"warm_{option_name}.csv"))
            if verdict != "SAME":
                raise SystemExit(f"{size}: {base_name} and {option_name} disagree on {base_name}'s metrics: {verdict}")
            base, option = times[base_name]["median_s"], times[option_name]["median_s"]
            ratio = option / base
            print(f"{size}: {base_name} {base:.3f}s, {option_name} {option:.3f}s ({ratio:.2f}x)", file=sys.stderr)
            row = f"| {size} | {base:.3f} | {option:.3f} | {ratio:.2f}x |"
            if ratio > budget:
                over.append(f"{key} {size}: {ratio:.2f}x (budget {budget}x)")
            if anchor_budget:
                hand_csv = os.path.join(out, f"hand_{option_name}.csv")
                hand = run.time_sql(bins, data, option_name, "grouping-sets", args.runs, hand_csv)["median_s"]
                verdict = compare.compare(os.path.join(out, f"warm_{option_name}.csv"), hand_csv)
                if verdict != "SAME":
                    raise SystemExit(f"{size}: {option_name} and the hand-written statement disagree: {verdict}")
                print(f"{size}: hand-written {option_name} {hand:.3f}s ({option / hand:.2f}x)", file=sys.stderr)
                row += f" {hand:.3f} | {option / hand:.2f}x |"
                if option / hand > anchor_budget:
                    over.append(f"{key} {size}: {option / hand:.2f}x the hand-written statement "
                                f"(budget {anchor_budget}x)")
            rows.append(row)
        text = "\n".join([
            section,
            "",
            f"Measured {datetime.date.today()} at commit {commit} with `python3 bench/overhead.py {key} "
            f"--sizes {args.sizes} --runs {args.runs}`: {described}, warm medians of {args.runs} runs. "
            f"Budget: {budget}x" + (f"; {anchor_budget}x the hand-written statement." if anchor_budget else "."),
            "",
            f"| rows | {base_name} warm (s) | {option_name} warm (s) | {option_name} / {base_name} |"
            + (f" hand-written {option_name} warm (s) | {option_name} / hand-written |" if anchor_budget else ""),
            "|---|---|---|---|" + ("---|---|" if anchor_budget else ""),
            *rows,
        ])
        if args.results == "-":
            print(text + "\n")
        else:
            report.write_part(args.results, section, text)
    if over:
        raise SystemExit(f"over budget: {', '.join(over)}")


if __name__ == "__main__":
    main()
