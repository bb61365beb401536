"""The result store from Python: what it answers equals hand-written SQL over the source, it
answers without reading the source, and a refresh reads what is new."""

import pathlib
import shutil
import subprocess
from typing import Any, Callable, List

import aitaem
import pytest
from aitaem import MetricCompute

from conftest import aitaem_cli

Oracle = Callable[[str], List[Any]]


def quarterly_revenue(compute: MetricCompute) -> aitaem.ComputeResult:
    return compute.compute(
        metrics=["revenue"],
        slices=["device"],
        time_window=("2024-01-01", "2025-01-01"),
        period_type="quarterly",
    )


def by_key(result: aitaem.ComputeResult) -> dict:
    return {
        (r["period_start_date"], r["slice_value"]): r["metric_value"]
        for r in result.to_pyarrow().to_pylist()
    }


def expected(oracle: Oracle) -> dict:
    rows = oracle(
        """SELECT strftime(date_trunc('quarter', event_ts), '%Y-%m-%d %H:%M:%S'), device_type, SUM(revenue)
           FROM events WHERE event_ts >= '2024-01-01' AND event_ts < '2025-01-01' AND device_type IS NOT NULL
           GROUP BY ALL
           UNION ALL
           SELECT strftime(date_trunc('quarter', event_ts), '%Y-%m-%d %H:%M:%S'), 'all', SUM(revenue)
           FROM events WHERE event_ts >= '2024-01-01' AND event_ts < '2025-01-01'
           GROUP BY ALL"""
    )
    return {(start, device): value for start, device, value in rows}


def same(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-9), key


def test_a_store_answers_what_it_kept(
    ads: pathlib.Path,
    ads_specs: aitaem.SpecCache,
    ads_connections: aitaem.ConnectionManager,
    oracle: Oracle,
    tmp_path: pathlib.Path,
) -> None:
    store = tmp_path / "store"
    ads_connections.set_store(store, lookback_hours=24)
    assert ads_connections.store_path == str(store)
    compute = MetricCompute(ads_specs, ads_connections)
    first = quarterly_revenue(compute)
    assert any("kept in the result store" in n for n in first.notices), first.notices
    same(by_key(first), expected(oracle))

    # Answered from the store, without reading the source: with the source's rows gone (its
    # header kept), the numbers are the same.
    events = ads / "data" / "events.csv"
    shutil.copy(events, tmp_path / "events.csv")
    events.write_text(events.read_text().splitlines()[0] + "\n")
    again = quarterly_revenue(compute)
    assert any("answered from the result store" in n for n in again.notices), again.notices
    same(by_key(again), by_key(first))
    shutil.copy(tmp_path / "events.csv", events)

    # A refresh reads from the latest stored day less a day, to the end of the window.
    ((read_from,),) = oracle(
        "SELECT strftime(CAST(MAX(event_ts) AS DATE) - 1, '%Y-%m-%d 00:00:00') FROM events "
        "WHERE event_ts >= '2024-01-01' AND event_ts < '2025-01-01'"
    )
    refreshed = compute.refresh_store()
    assert [(r["outcome"], r["metrics"], r["read_from"], r["read_to"]) for r in refreshed] == [
        ("read", ["revenue"], read_from, "2025-01-01 00:00:00")
    ]
    same(by_key(quarterly_revenue(compute)), expected(oracle))

    # The CLI reads the same store.
    listing = subprocess.run(
        [aitaem_cli(), "store", "status", "--store", str(store)], capture_output=True, text=True, check=True
    ).stdout
    assert "revenue" in listing and "day" in listing

    ads_connections.set_store(None)
    assert ads_connections.store_path is None
    cold = quarterly_revenue(MetricCompute(ads_specs, ads_connections))
    assert not any("result store" in n for n in cold.notices)


def test_all_time_is_kept_and_a_source_has_its_own_lookback(
    ads_specs: aitaem.SpecCache,
    ads_connections: aitaem.ConnectionManager,
    oracle: Oracle,
    tmp_path: pathlib.Path,
) -> None:
    source = ads_specs.get_metric("revenue").source
    ads_connections.set_store(tmp_path / "store", lookback_hours=1, source_lookback_hours={source: 72})
    compute = MetricCompute(ads_specs, ads_connections)
    by_device = lambda: compute.compute(metrics=["revenue"], slices=["device"])  # noqa: E731
    first = by_device()
    assert any("kept in the result store" in n for n in first.notices), first.notices
    again = by_device()
    assert any("answered from the result store" in n for n in again.notices), again.notices
    want = {
        device: value
        for device, value in oracle(
            "SELECT device_type, SUM(revenue) FROM events WHERE device_type IS NOT NULL GROUP BY ALL "
            "UNION ALL SELECT 'all', SUM(revenue) FROM events"
        )
    }
    for result in (first, again):
        same({r["slice_value"]: r["metric_value"] for r in result.to_pyarrow().to_pylist()}, want)

    # An all-time entry reads on from its latest day less the source's three days.
    ((read_from,),) = oracle("SELECT strftime(CAST(MAX(event_ts) AS DATE) - 3, '%Y-%m-%d 00:00:00') FROM events")
    refreshed = compute.refresh_store()
    assert [(r["outcome"], r["read_from"], r["read_to"]) for r in refreshed] == [("read", read_from, None)]


def test_store_commands_use_the_store_block_of_connections_yaml(
    ads: pathlib.Path, oracle: Oracle, tmp_path: pathlib.Path
) -> None:
    # connections.yaml names a store and a lookback of three days; --store points elsewhere and
    # keeps the lookback.
    with open(ads / "connections.yaml", "a") as f:
        f.write("store:\n  path: yaml-store\n  lookback: 3d\n")
    store = tmp_path / "elsewhere"

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([aitaem_cli(), *args, "--specs", str(ads), "--store", str(store)],
                              capture_output=True, text=True, check=True)

    kept = cli("compute", "revenue", "--slice", "device", "--time-window", "2024-01-01,2025-01-01",
               "--period", "quarterly", "--format", "csv")
    assert "kept in the result store" in kept.stderr, kept.stderr
    assert not (ads / "yaml-store").exists()
    ((read_from,),) = oracle(
        "SELECT strftime(CAST(MAX(event_ts) AS DATE) - 3, '%Y-%m-%d 00:00:00') FROM events "
        "WHERE event_ts >= '2024-01-01' AND event_ts < '2025-01-01'"
    )
    refreshed = cli("store", "refresh").stderr
    assert f"read {read_from} to 2025-01-01 00:00:00" in refreshed, refreshed
    # --lookback, in hours, wins over the file's.
    ((read_from,),) = oracle(
        "SELECT strftime(CAST(MAX(event_ts) AS DATE) - 1, '%Y-%m-%d 00:00:00') FROM events "
        "WHERE event_ts >= '2024-01-01' AND event_ts < '2025-01-01'"
    )
    refreshed = cli("store", "refresh", "--lookback", "24").stderr
    assert f"read {read_from} to 2025-01-01 00:00:00" in refreshed, refreshed

    # Without --store, every store command uses the block's store, next to connections.yaml.
    def project(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([aitaem_cli(), *args, "--specs", str(ads)], capture_output=True, text=True, check=True)

    kept = project("compute", "revenue", "--time-window", "2024-01-01,2025-01-01", "--period", "monthly",
                   "--format", "csv")
    assert "kept in the result store" in kept.stderr, kept.stderr
    assert (ads / "yaml-store").is_dir()
    assert "revenue" in project("store", "status").stdout
    ((read_from,),) = oracle(
        "SELECT strftime(CAST(MAX(event_ts) AS DATE) - 3, '%Y-%m-%d 00:00:00') FROM events "
        "WHERE event_ts >= '2024-01-01' AND event_ts < '2025-01-01'"
    )
    refreshed = project("store", "refresh").stderr
    assert f"read {read_from} to 2025-01-01 00:00:00" in refreshed, refreshed
    assert project("store", "clear").stdout == "cleared 1 stored entry\n"
    assert "empty" in project("store", "status").stdout
