#!/usr/bin/env python3
"""The hand-written reference statements: each benchmark workload as ONE statement.

    python3 anchor.py --workload W1 [--variant grouping-sets|rollup] [--dialect duckdb|postgres|spark]

Labels per row (CASE for value lists, CAST(col AS VARCHAR) for wildcards, a LEFT JOIN to the
labelled dimension table for the segment), all slice x segment combinations from GROUP BY
GROUPING SETS, groups whose label is NULL discarded via GROUPING(), and the metric columns
unpivoted into the standard 11 columns. The `rollup` variant first aggregates the scan to the
finest label combination and forms the grouping sets from that intermediate (valid because every
benchmark metric is decomposable). run.py executes the SQL with the same DuckDB build as aitaem
(examples/run_sql.rs); postgres.py runs the PostgreSQL version (`DOUBLE PRECISION` for `DOUBLE`)
with psql; spark.py the Spark SQL version (`STRING` for `VARCHAR`, `INTERVAL 1 MONTH`) with PySpark.

The SQL mirrors the specs in specs/ by hand; if those change, change this too.
"""
import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
COLUMNS = [
    "period_type", "period_start_date", "period_end_date", "entity_id", "metric_name",
    "metric_format", "slice_type", "slice_value", "segment_name", "segment_value", "metric_value",
]

# metric name -> (format, aggregate SQL); same definitions as specs/metrics
METRICS = {
    "revenue_total": ("currency:USD", "SUM(revenue)"),
    "revenue_avg": ("currency", "AVG(revenue)"),
    "event_count": ("absolute", "COUNT(*)"),
    "ctr": ("percentage", "CAST(SUM(clicks) AS DOUBLE) / NULLIF(SUM(impressions), 0)"),
    "roas": ("ratio", "SUM(revenue) / NULLIF(SUM(ad_spend), 0)"),
    "max_revenue": ("currency:USD", "MAX(revenue)"),
    "active_users": ("absolute", "COUNT(DISTINCT user_id)"),
}

# rollup variant: metric -> (partials needed, final expression over the partials)
PARTIALS = {
    "p_sum_rev": "SUM(revenue)", "p_cnt_rev": "COUNT(revenue)", "p_cnt": "COUNT(*)",
    "p_sum_clicks": "SUM(clicks)", "p_sum_imp": "SUM(impressions)", "p_sum_spend": "SUM(ad_spend)",
    "p_max_rev": "MAX(revenue)",
}
ROLLUP = {
    "revenue_total": (["p_sum_rev"], "SUM(p_sum_rev)"),
    "revenue_avg": (["p_sum_rev", "p_cnt_rev"], "SUM(p_sum_rev) / NULLIF(SUM(p_cnt_rev), 0)"),
    "event_count": (["p_cnt"], "SUM(p_cnt)"),
    "ctr": (["p_sum_clicks", "p_sum_imp"], "CAST(SUM(p_sum_clicks) AS DOUBLE) / NULLIF(SUM(p_sum_imp), 0)"),
    "roas": (["p_sum_rev", "p_sum_spend"], "SUM(p_sum_rev) / NULLIF(SUM(p_sum_spend), 0)"),
    "max_revenue": (["p_max_rev"], "MAX(p_max_rev)"),
}

# slice label columns, computed once per fact row; same definitions as specs/slices
LABELS = {
    "campaign_type": "CASE WHEN campaign_type = 'Search' THEN 'Search' WHEN campaign_type = 'Display' THEN 'Display' "
                     "WHEN campaign_type = 'Video' THEN 'Video' WHEN campaign_type = 'Shopping' THEN 'Shopping' END",
    "channel_group": "CASE WHEN channel IN ('cpc', 'cpm') THEN 'paid' WHEN channel = 'organic' THEN 'organic' "
                     "WHEN channel = 'affiliate' OR channel IS NULL THEN 'other' END",
    "spend_band": "CASE WHEN ad_spend = 0 THEN 'zero' WHEN ad_spend > 0 AND ad_spend < 50 THEN 'low' "
                  "WHEN ad_spend >= 50 THEN 'high' END",
    "country": "CAST(country AS VARCHAR)",
    "device_type": "CAST(device_type AS VARCHAR)",
    "category": "CAST(category AS VARCHAR)",
    "platform": "CAST(e.platform AS VARCHAR)",
    "quantity_band": "CASE WHEN quantity = 0 THEN 'zero' WHEN quantity BETWEEN 1 AND 2 THEN 'few' "
                     "WHEN quantity >= 3 THEN 'many' END",
}
SEGMENT_DIM = ("SELECT platform, CASE WHEN platform_group = 'search' THEN 'search' "
               "WHEN platform_group = 'social' THEN 'social' END AS seg FROM dim_platforms")


def grouped_query(*, metrics, slice_sets, segment, window, period, entity, rollup=False):
    """slice_sets: list of tuples of LABELS keys (() = baseline); segment: name or None;
    period: None (all_time) or a date_trunc unit; entity: fact column or None.
    rollup=True: first aggregate the rows to the finest label combination (one GROUP BY over
    the scan), then form the grouping sets from that small intermediate (all bench metrics
    are decomposable: sums, counts, max)."""
    labels = sorted({c for s in slice_sets for c in s})
    fact_cols = ["revenue", "clicks", "impressions", "ad_spend"]
    sel = [f"e.{c}" for c in fact_cols]
    sel += [f"{LABELS[c]} AS s_{c}" for c in labels]
    keys = []  # always-grouped keys
    if period:
        sel.append(f"date_trunc('{period}', e.event_ts) AS p")
        keys.append("p")
    if entity:
        sel.append(f"e.{entity} AS ent")
        keys.append("ent")
    join = ""
    if segment:
        sel.append("d.seg AS seg")
        join = f"LEFT JOIN ({SEGMENT_DIM}) d ON e.platform = d.platform"
    where = f"e.event_ts >= TIMESTAMP '{window[0]}' AND e.event_ts < TIMESTAMP '{window[1]}'"
    sets = []
    for s in slice_sets:
        cols = keys + [f"s_{c}" for c in s]
        sets.append(cols)
        if segment:
            sets.append(cols + ["seg"])
    grouping_cols = [f"s_{c}" for c in labels] + (["seg"] if segment else [])
    gflags = [f"GROUPING({c}) AS g_{c}" for c in grouping_cols]
    if rollup:
        parts = sorted({p for name in metrics for p in ROLLUP[name][0]})
        aggs = [f"CAST({ROLLUP[name][1]} AS DOUBLE) AS m_{name}" for name in METRICS if name in metrics]
        all_keys = keys + grouping_cols
        pre_cte = (f"pre AS (SELECT {', '.join(all_keys) + ', ' if all_keys else ''}"
                   f"{', '.join(f'{PARTIALS[p]} AS {p}' for p in parts)} FROM f"
                   f"{' GROUP BY ' + ', '.join(all_keys) if all_keys else ''}), ")
        src = "pre"
    else:
        aggs = [f"CAST({sql} AS DOUBLE) AS m_{name}" for name, (_, sql) in METRICS.items() if name in metrics]
        pre_cte, src = "", "f"
    gs = ", ".join("(" + ", ".join(s) + ")" for s in sets)
    drop_null_groups = " OR ".join(f"(g_{c} = 0 AND {c} IS NULL)" for c in grouping_cols) or "FALSE"

    # slice_type / slice_value per grouping set (component names joined by '|', as the peer does)
    st_cases, sv_cases = [], []
    for s in sorted(slice_sets, key=len, reverse=True):
        if not s:
            continue
        on = " AND ".join(f"g_s_{c} = 0" for c in s)
        off = [c for c in labels if c not in s]
        cond = on + "".join(f" AND g_s_{c} = 1" for c in off)
        st_cases.append(f"WHEN {cond} THEN '{'|'.join(s)}'")
        sv_cases.append(f"WHEN {cond} THEN " + " || '|' || ".join(f"s_{c}" for c in s))
    slice_type = f"CASE {' '.join(st_cases)} ELSE 'none' END" if st_cases else "'none'"
    slice_value = f"CASE {' '.join(sv_cases)} ELSE 'all' END" if sv_cases else "'all'"
    seg_name = f"CASE WHEN g_seg = 0 THEN '{segment}' ELSE 'none' END" if segment else "'none'"
    seg_value = "CASE WHEN g_seg = 0 THEN seg ELSE 'all' END" if segment else "'all'"
    if period:
        step = {"month": "1 month", "day": "1 day", "week": "7 days", "year": "1 year", "hour": "1 hour"}[period]
        p_start, p_end = "CAST(p AS VARCHAR)", f"CAST(p + INTERVAL '{step}' AS VARCHAR)"
        ptype = {"month": "monthly", "day": "daily", "week": "weekly", "year": "yearly", "hour": "hourly"}[period]
    else:
        p_start, p_end, ptype = f"'{window[0]}'", f"'{window[1]}'", "all_time"
    ent = "CAST(ent AS VARCHAR)" if entity else "CAST(NULL AS VARCHAR)"
    value_case = " ".join(f"WHEN '{n}' THEN l.m_{n}" for n in metrics)
    metric_rows = ", ".join(f"('{n}', '{METRICS[n][0]}')" for n in metrics)
    flag_list = (", " + ", ".join(gflags)) if gflags else ""
    group_by = f"GROUP BY GROUPING SETS ({gs})" if len(sets) > 1 or sets[0] != keys else (
        f"GROUP BY {', '.join(keys)}" if keys else "")
    if not gflags:
        drop_null_groups = "FALSE"
    return f"""
WITH f AS (
  SELECT {', '.join(sel)}
  FROM events e {join}
  WHERE {where}
), {pre_cte}g AS (
  SELECT {', '.join(keys + grouping_cols) + ', ' if keys + grouping_cols else ''}{', '.join(aggs)}{flag_list}
  FROM {src}
  {group_by}
), labelled AS (
  SELECT '{ptype}' AS period_type, {p_start} AS period_start_date, {p_end} AS period_end_date,
         {ent} AS entity_id, {slice_type} AS slice_type, {slice_value} AS slice_value,
         {seg_name} AS segment_name, {seg_value} AS segment_value,
         {', '.join(f'm_{n}' for n in metrics)}
  FROM g
  WHERE NOT ({drop_null_groups})
)
SELECT l.period_type, l.period_start_date, l.period_end_date, l.entity_id,
       m.metric_name, m.metric_format, l.slice_type, l.slice_value, l.segment_name, l.segment_value,
       CASE m.metric_name {value_case} END AS metric_value
FROM labelled l CROSS JOIN (VALUES {metric_rows}) AS m(metric_name, metric_format)
"""


def rolling_distinct_query(*, metric, slices, window, rolling):
    """Daily distinct counts of user_id and their values over the last `rolling` days, per slice
    value, as one statement. A user is in the range ending on day t when they were active on a
    day of [t - rolling + 1, t]: each of their active days d adds 1 at d and takes it away at
    d + rolling or at their next active day, whichever comes first, and the range's count is the
    running sum of these changes (the usual way to write active users without expanding every
    active day into `rolling` rows)."""
    start, end = window
    labels = ", ".join(f"{LABELS[c]} AS s_{c}" for c in slices)
    sets = ", ".join(["(day, user_id)"] + [f"(day, user_id, s_{c})" for c in slices])
    slice_type = " ".join(f"WHEN GROUPING(s_{c}) = 0 THEN '{c}'" for c in slices)
    slice_value = " ".join(f"WHEN GROUPING(s_{c}) = 0 THEN s_{c}" for c in slices)
    null_label = " OR ".join(f"(GROUPING(s_{c}) = 0 AND s_{c} IS NULL)" for c in slices)
    return f"""
WITH f AS (
  SELECT CAST(event_ts AS DATE) AS day, user_id, {labels}
  FROM events
  WHERE event_ts >= TIMESTAMP '{start}' - INTERVAL {rolling - 1} DAY AND event_ts < TIMESTAMP '{end}'
    AND user_id IS NOT NULL
), user_days AS (
  SELECT CASE {slice_type} ELSE 'none' END AS slice_type, CASE {slice_value} ELSE 'all' END AS slice_value,
         day, user_id
  FROM f
  GROUP BY GROUPING SETS ({sets})
  HAVING NOT ({null_label})
), daily AS (
  SELECT slice_type, slice_value, day, COUNT(*) AS users
  FROM user_days
  WHERE day >= DATE '{start}'
  GROUP BY ALL
), changes AS (
  SELECT slice_type, slice_value, day AS change_day, 1 AS change FROM user_days
  UNION ALL
  SELECT slice_type, slice_value, LEAST(day + {rolling}, COALESCE(next_day, day + {rolling})) AS change_day, -1 AS change
  FROM (SELECT *, LEAD(day) OVER (PARTITION BY slice_type, slice_value, user_id ORDER BY day) AS next_day
        FROM user_days)
), ranges AS (
  SELECT slice_type, slice_value, change_day AS day,
         SUM(SUM(change)) OVER (PARTITION BY slice_type, slice_value ORDER BY change_day) AS users
  FROM changes
  GROUP BY slice_type, slice_value, change_day
)
SELECT 'daily' AS period_type, CAST(CAST(d.day AS TIMESTAMP) AS VARCHAR) AS period_start_date,
       CAST(CAST(d.day AS TIMESTAMP) + INTERVAL 1 DAY AS VARCHAR) AS period_end_date,
       CAST(NULL AS VARCHAR) AS entity_id, '{metric}' AS metric_name, '{METRICS[metric][0]}' AS metric_format,
       d.slice_type, d.slice_value, 'none' AS segment_name, 'all' AS segment_value,
       CAST(d.users AS DOUBLE) AS metric_value, CAST(r.users AS DOUBLE) AS rolling_value
FROM daily d JOIN ranges r USING (slice_type, slice_value, day)
"""


def workload_sql(name: str, rollup: bool = False, dialect: str = "duckdb") -> str:
    with open(os.path.join(HERE, "workloads.json")) as f:
        wl = json.load(f)[name]
    if wl.get("rolling"):
        [metric] = wl["metrics"]
        return rolling_distinct_query(metric=metric, slices=wl["slices"], window=wl["time_window"],
                                      rolling=wl["rolling"])
    composite = {"ctype_x_device": ("campaign_type", "device_type"),
                 "device_x_country": ("device_type", "country")}
    slice_sets = [()]
    for s in wl["slices"] or []:
        slice_sets.append(composite.get(s, (s,)))
    period = {"all_time": None, "monthly": "month", "daily": "day", "yearly": "year", "hourly": "hour"}[
        wl["period_type"]]
    if wl["period_type"] == "weekly":
        raise SystemExit("weekly needs ISO-week truncation; not used by the bench workloads")
    sql = grouped_query(metrics=wl["metrics"], slice_sets=slice_sets, segment=wl["segments"],
                        window=wl["time_window"], period=period, entity=wl["by_entity"], rollup=rollup)
    if dialect == "postgres":
        return sql.replace(" AS DOUBLE)", " AS DOUBLE PRECISION)")
    if dialect == "spark":
        return re.sub(r"INTERVAL '(\d+) (\w+)'", r"INTERVAL \1 \2", sql.replace(" AS VARCHAR)", " AS STRING)"))
    return sql



def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", required=True)
    ap.add_argument("--variant", choices=["grouping-sets", "rollup"], default="grouping-sets")
    ap.add_argument("--dialect", choices=["duckdb", "postgres", "spark"], default="duckdb")
    args = ap.parse_args()
    print(workload_sql(args.workload, rollup=args.variant == "rollup", dialect=args.dialect))
    return 0


if __name__ == "__main__":
    sys.exit(main())
