#!/usr/bin/env python3
"""compare.py A.csv B.csv -- are two standard results the same rows?

Rows are compared as a multiset: text columns exactly (empty == NULL; period dates compared
after normalising 'YYYY-MM-DD' to 'YYYY-MM-DD 00:00:00'), metric_value and the derived columns
(rolling_value, ...) with a relative tolerance of 1e-9. Prints SAME or the first differences.
"""
import csv
import math
import sys


def norm_date(v):
    v = v.replace("T", " ")
    return v + " 00:00:00" if len(v) == 10 else v


VALUES = ("metric_value", "comparison_value", "delta", "delta_pct", "share_of_total",
          "cumulative_value", "rolling_value")


def load(path, values=None):
    """Sorted (key, values) pairs: the text columns, and the float columns (`values`, default:
    those of VALUES the file has)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns = values or [c for c in VALUES if c in reader.fieldnames]
        rows = list(reader)
    out = []
    for r in rows:
        key = tuple(
            norm_date(r[c]) if c in ("period_start_date", "period_end_date") else r[c]
            for c in r if c not in VALUES
        )
        out.append((key, tuple(None if r[c] == "" else float(r[c]) for c in columns)))
    return sorted(out, key=lambda x: (x[0], [-math.inf if v is None else v for v in x[1]]))


def close(a, b):
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x is None or y is None:
            if not (x is None and y is None):
                return False
        elif not (x == y or abs(x - y) <= 1e-9 * max(abs(x), abs(y))):
            return False
    return True


def compare(path_a, path_b):
    """'SAME', or a description of the first difference."""
    return compare_rows(load(path_a), load(path_b))


def compare_subset(path_a, path_b):
    """'SAME' when B's rows of A's metrics are A's rows (B may have other metrics and columns:
    the metric values are compared)."""
    a = load(path_a, ["metric_value"])
    metrics = {key[4] for key, _ in a}
    return compare_rows(a, [row for row in load(path_b, ["metric_value"]) if row[0][4] in metrics])


def compare_rows(a, b):
    if len(a) != len(b):
        return f"DIFFERENT: {len(a)} rows vs {len(b)} rows"
    diffs = [(x, y) for x, y in zip(a, b) if x[0] != y[0] or not close(x[1], y[1])]
    if diffs:
        return f"DIFFERENT: {len(diffs)} rows differ, first: {diffs[0]}"
    return "SAME"


if __name__ == "__main__":
    print(compare(sys.argv[1], sys.argv[2]))
