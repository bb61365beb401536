"""Fixtures shared by the Python package's tests.

Expected numbers come from hand-written SQL run by the ``duckdb`` Python package (a separate
engine instance from the one inside aitaem) or from values computed by hand.
"""

from __future__ import annotations

import os
import pathlib
import shutil
from typing import Any, Callable, List

import duckdb
import pytest

import aitaem

REPO = pathlib.Path(__file__).resolve().parents[2]
ADS = REPO / "examples" / "ads"
ORIGINAL_EXAMPLE = REPO / "tests" / "fixtures" / "original-example"


def needs_server(variable: str, what: str) -> str:
    """The value of ``variable``, or a skip that says why; under ``CI=true`` a missing server
    fails instead."""
    value = os.environ.get(variable)
    if not value:
        message = f"{what} tests skipped: {variable} is not set (scripts/test.sh sets it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        print(message)
        pytest.skip(message)
    return value


def aitaem_cli() -> str:
    """The aitaem binary the tests built (``AITAEM_CLI``, or ``aitaem`` on the path)."""
    path = os.environ.get("AITAEM_CLI") or shutil.which("aitaem")
    if not path:
        pytest.fail("AITAEM_CLI is not set: scripts/test.sh points it at the built aitaem binary")
    return path


@pytest.fixture
def ads(tmp_path: pathlib.Path) -> pathlib.Path:
    """A copy of the bundled example project."""
    target = tmp_path / "ads"
    shutil.copytree(ADS, target)
    return target


@pytest.fixture
def ads_specs(ads: pathlib.Path) -> aitaem.SpecCache:
    return aitaem.SpecCache.from_yaml(ads / "metrics", ads / "slices", ads / "segments")


@pytest.fixture
def ads_connections(ads: pathlib.Path) -> aitaem.ConnectionManager:
    return aitaem.ConnectionManager.from_yaml(ads / "connections.yaml")


@pytest.fixture
def ads_compute(ads_specs: aitaem.SpecCache, ads_connections: aitaem.ConnectionManager) -> aitaem.MetricCompute:
    return aitaem.MetricCompute(ads_specs, ads_connections)


@pytest.fixture
def oracle(ads: pathlib.Path) -> Callable[[str], List[Any]]:
    """Runs hand-written SQL over the example's CSV files (tables ``events``,
    ``dim_platforms``, ``dim_users``)."""
    con = duckdb.connect()
    for table in ("events", "dim_platforms", "dim_users"):
        path = str(ads / "data" / f"{table}.csv").replace("'", "''")
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_csv_auto('{path}')")
    return lambda sql: con.execute(sql).fetchall()


def rows(result: aitaem.ComputeResult) -> List[dict]:
    """The result's rows as dictionaries."""
    return result.to_pyarrow().to_pylist()


def value(result: aitaem.ComputeResult, **where: Any) -> float:
    """The ``metric_value`` of the one row matching ``where``."""
    found = [r for r in rows(result) if all(r[k] == v for k, v in where.items())]
    assert len(found) == 1, f"{len(found)} rows match {where}"
    return found[0]["metric_value"]
