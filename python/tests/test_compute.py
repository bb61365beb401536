"""Computing with every option, checked against hand-written SQL; every error class."""

from __future__ import annotations

import datetime
import logging
import pathlib
from typing import Any, Callable, List

import pytest

import aitaem
from aitaem import (
    ConnectionManager,
    ConnectionNotFoundError,
    MetricCompute,
    QueryBuildError,
    QueryExecutionError,
    SpecCache,
    SpecNotFoundError,
    TableNotFoundError,
)

from conftest import aitaem_cli, rows, value

Oracle = Callable[[str], List[Any]]


def test_baseline_metrics(ads_compute: MetricCompute, oracle: Oracle) -> None:
    result = ads_compute.compute(["revenue", "ctr", "unique_users", "known_users"])
    ((revenue, ctr, users),) = oracle(
        "SELECT SUM(revenue), SUM(clicks) / NULLIF(SUM(impressions), 0), COUNT(DISTINCT user_id) FROM events"
    )
    ((known,),) = oracle("SELECT COUNT(*) FROM dim_users")
    assert len(result) == 4
    for r in rows(result):
        assert (r["period_type"], r["period_start_date"], r["period_end_date"]) == ("all_time", None, None)
        assert (r["slice_type"], r["slice_value"], r["segment_name"], r["segment_value"]) == (
            "none",
            "all",
            "none",
            "all",
        )
        assert r["entity_id"] is None
    assert value(result, metric_name="revenue") == pytest.approx(revenue)
    assert value(result, metric_name="ctr") == pytest.approx(ctr)
    assert value(result, metric_name="unique_users") == users
    assert value(result, metric_name="known_users") == known
    assert value(result, metric_name="revenue") is not None
    formats = {r["metric_name"]: r["metric_format"] for r in rows(result)}
    assert formats == {
        "revenue": "currency:USD",
        "ctr": "percentage",
        "unique_users": "absolute",
        "known_users": "absolute",
    }


def test_value_column_and_cross_product_slices(ads_compute: MetricCompute, oracle: Oracle) -> None:
    result = ads_compute.compute("events", slices=["spend_band", "device", "campaign_x_device"])
    for name, predicate in [
        ("no_spend", "ad_spend = 0"),
        ("any_spend", "ad_spend > 0"),
        ("high_spend", "ad_spend >= 50"),
    ]:
        ((expected,),) = oracle(f"SELECT COUNT(*) FROM events WHERE {predicate}")
        assert value(result, slice_type="spend_band", slice_value=name) == expected
    devices = dict(
        oracle("SELECT device_type, COUNT(*) FROM events WHERE device_type IS NOT NULL GROUP BY 1")
    )
    got = {r["slice_value"]: r["metric_value"] for r in rows(result) if r["slice_type"] == "device"}
    assert got == devices
    crossed = {
        f"{c}|{d}": n
        for c, d, n in oracle(
            "SELECT campaign_type, device_type, COUNT(*) FROM events "
            "WHERE campaign_type IN ('Search', 'Display', 'Video', 'Shopping') "
            "AND device_type IS NOT NULL GROUP BY 1, 2"
        )
    }
    got = {
        r["slice_value"]: r["metric_value"]
        for r in rows(result)
        if r["slice_type"] == "campaign_type|device"
    }
    assert got == crossed
    ((total,),) = oracle("SELECT COUNT(*) FROM events")
    assert value(result, slice_type="none") == total


def test_segments_by_name_and_join_key(ads_compute: MetricCompute, oracle: Oracle) -> None:
    result = ads_compute.compute("revenue", segments="platform_group")
    expected = dict(
        oracle(
            "SELECT d.platform_group, SUM(e.revenue) FROM events e JOIN dim_platforms d "
            "ON e.platform = d.platform WHERE d.platform_group IN ('search', 'social') GROUP BY 1"
        )
    )
    got = {
        r["segment_value"]: r["metric_value"]
        for r in rows(result)
        if r["segment_name"] == "platform_group"
    }
    assert got == pytest.approx(expected)
    result = ads_compute.compute("events", segments={"tier_region": "user_id"})
    expected = dict(
        oracle(
            "SELECT d.tier || '|' || d.region, COUNT(*) FROM events e JOIN dim_users d "
            "ON e.user_id = d.user_id WHERE d.tier IS NOT NULL AND d.region IS NOT NULL GROUP BY 1"
        )
    )
    got = {
        r["segment_value"]: r["metric_value"]
        for r in rows(result)
        if r["segment_name"] == "tier_region"
    }
    assert got == expected
    with pytest.raises(QueryBuildError, match="buyer_id"):
        ads_compute.compute("events", segments={"tier_region": "buyer_id"})
    with pytest.raises(QueryBuildError, match="Only one segment"):
        ads_compute.compute("events", segments={"tier_region": "user_id", "user_tier": "user_id"})


def test_time_window_and_periods(ads_compute: MetricCompute, oracle: Oracle) -> None:
    window = ("2024-01-01", "2024-04-01")
    result = ads_compute.compute("revenue", time_window=window)
    ((expected,),) = oracle(
        "SELECT SUM(revenue) FROM events WHERE event_ts >= '2024-01-01' AND event_ts < '2024-04-01'"
    )
    (row,) = rows(result)
    assert (row["period_start_date"], row["period_end_date"]) == window
    assert row["metric_value"] == pytest.approx(expected)

    for bounds in [window, (datetime.date(2024, 1, 1), datetime.date(2024, 4, 1))]:
        monthly = ads_compute.compute(["revenue"], time_window=bounds, period_type="monthly")
        expected_months = {
            str(month): total
            for month, total in oracle(
                "SELECT date_trunc('month', event_ts), SUM(revenue) FROM events "
                "WHERE event_ts >= '2024-01-01' AND event_ts < '2024-04-01' GROUP BY 1"
            )
        }
        got = {r["period_start_date"]: r["metric_value"] for r in rows(monthly)}
        assert got == pytest.approx(expected_months)
        assert {r["period_end_date"] for r in rows(monthly)} == {
            "2024-02-01 00:00:00",
            "2024-03-01 00:00:00",
            "2024-04-01 00:00:00",
        }
        assert {r["period_type"] for r in rows(monthly)} == {"monthly"}

    hourly = ads_compute.compute(
        "events",
        time_window=(datetime.datetime(2024, 1, 21, 12), "2024-01-21 18:00:00"),
        period_type="hourly",
    )
    expected_hours = {
        str(hour): n
        for hour, n in oracle(
            "SELECT date_trunc('hour', event_ts), COUNT(*) FROM events "
            "WHERE event_ts >= '2024-01-21 12:00:00' AND event_ts < '2024-01-21 18:00:00' GROUP BY 1"
        )
    }
    assert {r["period_start_date"]: r["metric_value"] for r in rows(hourly)} == expected_hours


def test_by_entity(ads_compute: MetricCompute, oracle: Oracle) -> None:
    result = ads_compute.compute(["events", "revenue"], by_entity="platform", slices="device")
    expected = dict(oracle("SELECT platform, COUNT(*) FROM events GROUP BY 1"))
    got = {
        r["entity_id"]: r["metric_value"]
        for r in rows(result)
        if r["metric_name"] == "events" and r["slice_type"] == "none"
    }
    assert got == expected
    with pytest.raises(QueryBuildError, match="entities"):
        ads_compute.compute("ctr", by_entity="platform")


def test_request_errors(ads_compute: MetricCompute) -> None:
    with pytest.raises(SpecNotFoundError, match="did you mean `revenue`"):
        ads_compute.compute("revenu")
    with pytest.raises(SpecNotFoundError):
        ads_compute.compute("revenue", slices="nope")
    with pytest.raises(SpecNotFoundError):
        ads_compute.compute("revenue", segments="nope")
    with pytest.raises(QueryBuildError, match="biweekly"):
        ads_compute.compute("revenue", time_window=("2024-01-01", "2024-02-01"), period_type="biweekly")  # type: ignore[arg-type]
    with pytest.raises(QueryBuildError, match="requires time_window"):
        ads_compute.compute("revenue", period_type="daily")
    with pytest.raises(QueryBuildError, match="timestamp_col"):
        ads_compute.compute("known_users", time_window=("2024-01-01", "2024-02-01"))
    with pytest.raises(QueryBuildError):
        ads_compute.compute("revenue", time_window=("2024-02-01", "2024-01-01"))
    with pytest.raises(QueryBuildError, match="pair"):
        ads_compute.compute("revenue", time_window="2024-01-01")  # type: ignore[arg-type]


def test_source_errors(ads: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    metric = "metric:\n  name: {name}\n  source: {source}\n  numerator: {numerator}\n"
    specs = SpecCache.from_string(
        [
            metric.format(name="missing", source="duckdb://data/missing.csv", numerator="COUNT(*)"),
            metric.format(name="remote", source="postgres://public/events", numerator="COUNT(*)"),
            metric.format(
                name="broken",
                source="duckdb://data/dim_users.csv",
                numerator="SUM(CAST(tier AS INTEGER))",
            ),
            metric.format(name="fine", source="duckdb://data/events.csv", numerator="COUNT(*)"),
        ]
    )
    compute = MetricCompute(specs, ConnectionManager.from_yaml(ads / "connections.yaml"))
    with pytest.raises(TableNotFoundError, match="missing.csv"):
        compute.compute("missing")
    with pytest.raises(ConnectionNotFoundError, match="postgres"):
        compute.compute("remote")
    with pytest.raises(QueryExecutionError, match="broken") as caught:
        compute.compute("broken")
    assert "dim_users.csv" in str(caught.value)
    # One source failing while another succeeds: the rows that could be computed, and a warning.
    with caplog.at_level(logging.WARNING, logger="aitaem"):
        result = compute.compute(["broken", "fine"])
    assert [r["metric_name"] for r in rows(result)] == ["fine"]
    assert len(result.warnings) == 1 and "broken" in result.warnings[0]
    assert "broken" in caplog.text


def test_the_same_answers_as_the_command_line(ads: pathlib.Path, ads_compute: MetricCompute) -> None:
    """The Python package and the CLI compute the same table."""
    import subprocess

    import pyarrow.csv

    cli = aitaem_cli()
    out = ads / "cli.csv"
    subprocess.run(
        [cli, "compute", "ctr", "revenue", "--specs", str(ads), "--slice", "device",
         "--segment", "user_tier", "--time-window", "2024-01-01,2024-07-01",
         "--period", "monthly", "--output", str(out)],
        check=True,
    )
    from_cli = pyarrow.csv.read_csv(out).to_pylist()
    from_python = rows(
        ads_compute.compute(
            ["ctr", "revenue"], slices="device", segments="user_tier",
            time_window=("2024-01-01", "2024-07-01"), period_type="monthly",
        )
    )
    key = lambda r: (r["metric_name"], r["slice_value"], r["segment_value"], str(r["period_start_date"]))  # noqa: E731
    assert len(from_cli) == len(from_python) > 0
    for a, b in zip(sorted(from_cli, key=key), sorted(from_python, key=key)):
        assert a["metric_value"] == pytest.approx(b["metric_value"])


def test_errors_say_what_the_cli_says(ads: pathlib.Path, ads_compute: MetricCompute) -> None:
    import subprocess

    for call, args in [
        (lambda: ads_compute.compute("revenu"), ["revenu"]),
        (lambda: ads_compute.compute("ctr", by_entity="platform"), ["ctr", "--by-entity", "platform"]),
    ]:
        with pytest.raises(aitaem.AitaemError) as caught:
            call()
        cli = subprocess.run(
            [aitaem_cli(), "compute", *args, "--specs", str(ads)], capture_output=True, text=True
        )
        assert cli.returncode != 0
        assert f"{type(caught.value).__name__}: {caught.value}" in cli.stderr, cli.stderr


def test_time_options(ads: pathlib.Path, ads_compute: MetricCompute, oracle: Oracle) -> None:
    """Comparisons, shares, running and rolling totals, against monthly sums from SQL; the
    command line gives the same table."""
    months = ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05"]
    sums = {
        ("all" if baseline else device, str(month)[:7]): total
        for device, baseline, month, total in oracle(
            "SELECT device_type, GROUPING(device_type), date_trunc('month', event_ts) AS m, SUM(revenue) "
            "FROM events WHERE event_ts >= '2024-01-01' AND event_ts < '2024-06-01' "
            "GROUP BY GROUPING SETS ((device_type, m), (m))"
        )
        if baseline or device is not None
    }
    kwargs = dict(
        slices="device", time_window=("2024-02-01", "2024-06-01"), period_type="monthly",
        compare="previous_period", share=True, cumulative=True, rolling=2,
    )
    result = ads_compute.compute("revenue", **kwargs)  # type: ignore[arg-type]
    derived = ("comparison_value", "delta", "delta_pct", "share_of_total", "cumulative_value", "rolling_value")
    assert result.columns == tuple(aitaem.STANDARD_COLUMNS) + derived
    got = rows(result)
    assert len(got) == 4 * 4  # three devices and the baseline, four months
    for r in got:
        device, i = r["slice_value"], months.index(r["period_start_date"][:7])
        value, before = sums[(device, months[i])], sums[(device, months[i - 1])]
        assert r["metric_value"] == pytest.approx(value)
        assert r["comparison_value"] == pytest.approx(before)
        assert r["delta"] == pytest.approx(value - before)
        assert r["delta_pct"] == pytest.approx((value - before) / before)
        assert r["share_of_total"] == pytest.approx(value / sums[("all", months[i])])
        assert r["cumulative_value"] == pytest.approx(sum(sums[(device, m)] for m in months[1 : i + 1]))
        assert r["rolling_value"] == pytest.approx(value + before)

    import subprocess

    import pyarrow.csv

    out = ads / "options.csv"
    subprocess.run(
        [aitaem_cli(), "compute", "revenue", "--specs", str(ads), "--slice", "device",
         "--time-window", "2024-02-01,2024-06-01", "--period", "monthly",
         "--compare", "previous_period", "--share", "--cumulative", "--rolling", "2",
         "--output", str(out)],
        check=True,
    )
    from_cli = pyarrow.csv.read_csv(out).to_pylist()
    key = lambda r: (r["slice_value"], str(r["period_start_date"]))  # noqa: E731
    assert len(from_cli) == len(got)
    for a, b in zip(sorted(from_cli, key=key), sorted(got, key=key)):
        for column in ("metric_value",) + derived:
            assert a[column] == pytest.approx(b[column]), column

    with pytest.raises(QueryBuildError, match="fill_gaps needs a period"):
        ads_compute.compute("revenue", time_window=("2024-01-01", "2024-02-01"), fill_gaps=True)
    with pytest.raises(QueryBuildError, match="invalid week start"):
        ads_compute.compute(
            "revenue", time_window=("2024-01-01", "2024-02-01"), period_type="weekly",
            week_start="friday",  # type: ignore[arg-type]
        )
    with pytest.raises(QueryBuildError, match="rolling needs"):
        ads_compute.compute(
            "revenue", time_window=("2024-01-01", "2024-02-01"), period_type="daily", rolling=-1
        )
    filled = ads_compute.compute(
        "revenue", time_window=("2024-01-01", "2024-02-01"), period_type="daily", fill_gaps=True,
        week_start="monday",
    )
    assert len(filled) == 31 and filled.columns == tuple(aitaem.STANDARD_COLUMNS)


def test_active_users_and_medians_over_ranges(
    ads: pathlib.Path, ads_compute: MetricCompute, oracle: Oracle
) -> None:
    """Weekly active users (a 7-day rolling distinct count) by device and the running median,
    against SQL over each range's rows; the command line gives the same values."""
    days = ["2024-06-01", "2024-06-02", "2024-06-03"]
    expected = {}
    for day in days:
        for device, baseline, users in oracle(
            "SELECT device_type, GROUPING(device_type), COUNT(DISTINCT user_id) FROM events "
            f"WHERE event_ts >= DATE '{day}' - INTERVAL 6 DAY AND event_ts < DATE '{day}' + INTERVAL 1 DAY "
            "GROUP BY ROLLUP (device_type)"
        ):
            if baseline or device is not None:
                expected[("all" if baseline else device, day)] = users
    result = ads_compute.compute(
        "unique_users", slices="device", time_window=(days[0], "2024-06-04"),
        period_type="daily", rolling=7, cumulative=True,
    )
    got = rows(result)
    assert got
    for r in got:
        day = r["period_start_date"][:10]
        assert r["rolling_value"] == expected[(r["slice_value"], day)], r
    medians = rows(ads_compute.compute(
        "median_revenue", time_window=(days[0], "2024-06-04"), period_type="daily", cumulative=True,
    ))
    for r in medians:
        day = r["period_start_date"][:10]
        [(median,)] = oracle(
            "SELECT MEDIAN(revenue) FROM events "
            f"WHERE event_ts >= DATE '{days[0]}' AND event_ts < DATE '{day}' + INTERVAL 1 DAY"
        )
        assert r["cumulative_value"] == pytest.approx(median)
    # A share of a median cannot be computed: the NULL column says why.
    shared = ads_compute.compute(["unique_users", "median_revenue"], slices="device", share=True)
    assert [n for n in shared.notices if "median_revenue" in n] == [
        "`share_of_total` is NULL for `median_revenue` (neither a single SUM or COUNT nor a "
        "distinct count): shares are computed for totals (a single SUM or COUNT) and distinct "
        "counts only"
    ]
    assert not [n for n in shared.notices if "unique_users" in n]

    import subprocess

    import pyarrow.csv

    out = ads / "active.csv"
    subprocess.run(
        [aitaem_cli(), "compute", "unique_users", "--specs", str(ads), "--slice", "device",
         "--time-window", f"{days[0]},2024-06-04", "--period", "daily", "--rolling", "7",
         "--cumulative", "--output", str(out)],
        check=True,
    )
    from_cli = pyarrow.csv.read_csv(out).to_pylist()
    assert len(from_cli) == len(got)
    for r in from_cli:
        day = str(r["period_start_date"])[:10]
        assert r["rolling_value"] == expected[(r["slice_value"], day)], r


def test_scan_gives_reasons_only_against(ads_compute: MetricCompute) -> None:
    scan = ads_compute.scan()
    assert "platform_group" in scan.compatible_segments("revenue")
    fits = [r for r in scan.for_metric("revenue") if r.spec_name == "platform_group"]
    assert fits[0].compatible and fits[0].reason is None, fits
    # `known_users` reads the user dimension, which has no `device_type`.
    misfit = [r for r in scan.for_metric("known_users") if r.spec_name == "device"][0]
    assert not misfit.compatible and misfit.missing_columns == ["device_type"]
    assert "lacks `device_type`" in (misfit.reason or ""), misfit


def test_scan_follows_the_original_contract(tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    """Results in the order the specs came in (per metric: slices, then segments); `reason` is
    None where a pair fits; a segment's `missing_columns` lists its join keys the table lacks;
    a metric whose backend has no connection is left out with a warning."""
    csv = tmp_path / "orders.csv"
    csv.write_text("buyer_id,country,amount\n1,FR,10\n")
    specs = aitaem.SpecCache.from_string(
        metric_yaml=[
            f"metric:\n  name: zz_amount\n  source: duckdb://{csv}\n  numerator: SUM(amount)\n",
            "metric:\n  name: aa_remote\n  source: postgres://public/orders\n  numerator: SUM(amount)\n",
            f"metric:\n  name: mm_orders\n  source: duckdb://{csv}\n  numerator: COUNT(*)\n",
        ],
        slice_yaml=[
            "slice:\n  name: z_country\n  where: country\n",
            "slice:\n  name: a_region\n  where: region\n",
        ],
        segment_yaml=(
            "segment:\n  name: buyers\n  source: duckdb://dim.csv\n  entity_id: id\n"
            "  join_keys: [buyer_id, seller_id]\n  where: tier\n"
        ),
    )
    with caplog.at_level(logging.WARNING, logger="aitaem"):
        scan = MetricCompute(specs, aitaem.ConnectionManager()).scan()
    assert [(r.metric_name, r.spec_name) for r in scan.results] == [
        ("zz_amount", "z_country"),
        ("zz_amount", "a_region"),
        ("zz_amount", "buyers"),
        ("mm_orders", "z_country"),
        ("mm_orders", "a_region"),
        ("mm_orders", "buyers"),
    ]
    country, region, buyers = scan.results[:3]
    assert country.compatible and country.reason is None and country.missing_columns == []
    assert not region.compatible and region.missing_columns == ["region"] and region.reason
    assert buyers.compatible and buyers.reason is None
    assert buyers.valid_join_keys == ["buyer_id"] and buyers.missing_columns == ["seller_id"]
    assert any("aa_remote" in r.getMessage() for r in caplog.records)


def test_filters_and_derived_metrics(ads_compute: MetricCompute, oracle: Oracle) -> None:
    # `mobile_revenue` counts only mobile rows; `where=` filters every metric (a string or a
    # list, all must hold); `revenue_per_user` is revenue over unique users, row by row.
    filters = ["country <> 'México'", "clicks > 0"]
    result = ads_compute.compute(
        ["mobile_revenue", "revenue_per_user"], slices="device", where=filters
    )
    where = " AND ".join(filters)
    ((mobile,),) = oracle(f"SELECT SUM(revenue) FROM events WHERE {where} AND device_type = 'mobile'")
    assert value(result, metric_name="mobile_revenue", slice_type="none") == pytest.approx(mobile)
    assert not [r for r in rows(result) if r["metric_name"] == "mobile_revenue" and r["slice_value"] == "tablet"]
    per_device = dict(
        oracle(
            f"SELECT device_type, SUM(revenue) / COUNT(DISTINCT user_id) FROM events WHERE {where} "
            "AND device_type IS NOT NULL GROUP BY 1"
        )
    )
    got = {
        r["slice_value"]: r["metric_value"]
        for r in rows(result)
        if r["metric_name"] == "revenue_per_user" and r["slice_type"] == "device"
    }
    assert got == pytest.approx(per_device)
    assert {r["metric_name"] for r in rows(result)} == {"mobile_revenue", "revenue_per_user"}
    assert {r["metric_format"] for r in rows(result)} == {"currency:USD"}

    one = ads_compute.compute("revenue", where="clicks > 0")
    ((positive,),) = oracle("SELECT SUM(revenue) FROM events WHERE clicks > 0")
    assert value(one, metric_name="revenue") == pytest.approx(positive)
    with pytest.raises(QueryBuildError, match="no_such_column"):
        ads_compute.compute("revenue", where="no_such_column = 1")
    with pytest.raises(QueryBuildError, match="subqueries"):
        ads_compute.compute("revenue", where=["clicks > (SELECT 1)"])


def test_derived_metric_specs_load_and_fail_like_any_spec() -> None:
    cache = SpecCache.from_string(
        metric_yaml=[
            "metric:\n  name: revenue\n  source: duckdb://x.duckdb/t\n  numerator: SUM(r)\n"
            "  filter: \"status = 'done'\"\n",
            "metric:\n  name: double\n  expression: revenue * 2\n  format: currency\n",
        ]
    )
    double = cache.get_metric("double")
    assert (double.expression, double.source, double.numerator, double.format) == (
        "revenue * 2",
        None,
        None,
        "currency",
    )
    assert cache.get_metric("revenue").filter == "status = 'done'"
    with pytest.raises(aitaem.SpecValidationError, match="`nothing`, which is not defined"):
        SpecCache.from_string(metric_yaml="metric:\n  name: d\n  expression: nothing + 1\n")
