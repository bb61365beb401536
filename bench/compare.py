#!/usr/bin/env python3
"""compare.py A.csv B.csv -- are two standard 11-column results the same rows?

Rows are compared as a multiset: text columns exactly (empty == NULL; period dates compared
after normalising 'YYYY-MM-DD' to 'YYYY-MM-DD 00:00:00'), metric_value with a relative
tolerance of 1e-9. Prints SAME or the first differences.
"""
import csv
import math
import sys


def norm_date(v):
    v = v.replace("T", " ")
    return v + " 00:00:00" if len(v) == 10 else v


def load(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        key = tuple(
            norm_date(r[c]) if c in ("period_start_date", "period_end_date") else r[c]
            for c in r if c != "metric_value"
        )
        v = r["metric_value"]
        out.append((key, None if v == "" else float(v)))
    return sorted(out, key=lambda x: (x[0], -math.inf if x[1] is None else x[1]))


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def compare(path_a, path_b):
    """'SAME', or a description of the first difference."""
    return compare_rows(load(path_a), load(path_b))


def compare_subset(path_a, path_b):
    """'SAME' when B's rows of A's metrics are A's rows (B may have other metrics)."""
    a = load(path_a)
    metrics = {key[4] for key, _ in a}
    return compare_rows(a, [row for row in load(path_b) if row[0][4] in metrics])


def compare_rows(a, b):
    if len(a) != len(b):
        return f"DIFFERENT: {len(a)} rows vs {len(b)} rows"
    diffs = [(x, y) for x, y in zip(a, b) if x[0] != y[0] or not close(x[1], y[1])]
    if diffs:
        return f"DIFFERENT: {len(diffs)} rows differ, first: {diffs[0]}"
    return "SAME"


if __name__ == "__main__":
    print(compare(sys.argv[1], sys.argv[2]))
