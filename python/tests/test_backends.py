"""PostgreSQL, BigQuery and Spark through the Python package: the same answers as DuckDB, and as
computed by hand. The servers are the ones scripts/test.sh starts (a test without its server
is skipped, and fails under CI=true)."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import subprocess
import urllib.request
from collections import defaultdict
from typing import Dict, Iterator, List, Tuple

import pytest

import aitaem

from conftest import aitaem_cli, needs_server, rows

# (day, channel, clicks, impressions)
DATA: List[Tuple[str, str, int, int]] = [
    ("2024-01-01", "search", 10, 100),
    ("2024-01-01", "social", 3, 300),
    ("2024-01-02", "search", 7, 70),
    ("2024-01-02", "search", 0, 0),
    ("2024-01-03", "social", 5, 50),
    ("2024-01-03", "video", 1, 0),
    ("2024-01-04", "search", 2, 40),
]

METRICS = """
metric:
  name: ctr
  source: {source}
  numerator: SUM(clicks)
  denominator: SUM(impressions)
  timestamp_col: day
---
metric:
  name: clicks
  source: {source}
  numerator: SUM(clicks)
  timestamp_col: day
"""
SLICE = "slice:\n  name: channel\n  where: channel\n"
WINDOW = ("2024-01-01", "2024-01-04")


def by_hand() -> Dict[Tuple[str, str, str, str], float]:
    """(metric, period start, slice value, ...) -> value, for the daily request below."""
    sums: Dict[Tuple[str, str], List[int]] = defaultdict(lambda: [0, 0])
    for day, channel, clicks, impressions in DATA:
        if WINDOW[0] <= day < WINDOW[1]:
            for key in [(day, channel), (day, "all")]:
                sums[key][0] += clicks
                sums[key][1] += impressions
    out = {}
    for (day, channel), (clicks, impressions) in sums.items():
        start = f"{day} 00:00:00"
        out[("clicks", start, channel)] = float(clicks)
        out[("ctr", start, channel)] = clicks / impressions if impressions else None
    return out


def compute(source: str, connections: aitaem.ConnectionManager) -> Dict[tuple, float]:
    specs = aitaem.SpecCache.from_string(
        [m for m in METRICS.format(source=source).split("---")], SLICE
    )
    result = aitaem.MetricCompute(specs, connections).compute(
        ["ctr", "clicks"], slices="channel", time_window=WINDOW, period_type="daily"
    )
    return {
        (r["metric_name"], r["period_start_date"], r["slice_value"]): r["metric_value"]
        for r in rows(result)
    }


def duckdb_answers(tmp_path: pathlib.Path) -> Dict[tuple, float]:
    csv = tmp_path / "events.csv"
    csv.write_text(
        "day,channel,clicks,impressions\n" + "".join(f"{d},{c},{k},{i}\n" for d, c, k, i in DATA)
    )
    return compute(f"duckdb://{csv}", aitaem.ConnectionManager())


def assert_same(got: Dict[tuple, float], expected: Dict[tuple, float]) -> None:
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == (pytest.approx(value) if value is not None else None), key


def values_sql() -> str:
    return ", ".join(f"(DATE '{d}', '{c}', {k}, {i})" for d, c, k, i in DATA)


@contextlib.contextmanager
def postgres_events(url: str, schema: str) -> Iterator[None]:
    """The table `SCHEMA.events` of DATA on the PostgreSQL server, dropped afterwards."""

    def psql(sql: str) -> None:
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True)

    psql(
        f"CREATE SCHEMA {schema}; "
        f"CREATE TABLE {schema}.events (day DATE, channel TEXT, clicks INT, impressions INT); "
        f"INSERT INTO {schema}.events VALUES {values_sql()}"
    )
    try:
        yield
    finally:
        psql(f"DROP SCHEMA {schema} CASCADE")


def test_postgres(tmp_path: pathlib.Path) -> None:
    url = needs_server("AITAEM_TEST_POSTGRES", "PostgreSQL")
    schema = f"py_{os.getpid()}"
    with postgres_events(url, schema):
        connections = aitaem.ConnectionManager()
        connections.add_connection(
            "postgres",
            url=url,
            sslmode="verify-full",
            sslrootcert=os.environ.get("AITAEM_TEST_POSTGRES_CA"),
        )
        got = compute(f"postgres://{schema}/events", connections)
        assert_same(got, by_hand())
        assert_same(got, duckdb_answers(tmp_path))
        assert connections.get_connection("postgres").list_tables() == ["events"] or (
            "events" in connections.get_connection("postgres").list_tables()
            or f"{schema}.events" in connections.get_connection("postgres").list_tables()
        )
        with pytest.raises(aitaem.TableNotFoundError):
            compute(f"postgres://{schema}/missing", connections)
        bad = aitaem.ConnectionManager()
        bad.add_connection("postgres", url=url.replace("aitaem-test", "wrong-password"))
        with pytest.raises(aitaem.AitaemConnectionError) as caught:
            compute(f"postgres://{schema}/events", bad)
        assert "wrong-password" not in str(caught.value)


def bigquery_request(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read() or b"{}")


@contextlib.contextmanager
def bigquery_events(endpoint: str, project: str, dataset: str) -> Iterator[None]:
    """The table `DATASET.events` of DATA on the BigQuery emulator, deleted afterwards."""
    base = f"{endpoint}/bigquery/v2/projects/{project}"
    bigquery_request(
        f"{base}/datasets", {"datasetReference": {"projectId": project, "datasetId": dataset}}
    )
    try:
        for sql in [
            f"CREATE TABLE {dataset}.events (day DATE, channel STRING, clicks INT64, impressions INT64)",
            f"INSERT INTO {dataset}.events VALUES {values_sql()}",
        ]:
            answer = bigquery_request(f"{base}/queries", {"query": sql, "useLegacySql": False})
            assert not answer.get("errors"), answer
        yield
    finally:
        urllib.request.urlopen(
            urllib.request.Request(f"{base}/datasets/{dataset}?deleteContents=true", method="DELETE"),
            timeout=60,
        )


def test_bigquery(tmp_path: pathlib.Path) -> None:
    endpoint = needs_server("AITAEM_TEST_BIGQUERY", "BigQuery")
    project = os.environ.get("AITAEM_TEST_BIGQUERY_PROJECT", "aitaem-test")
    dataset = f"py_{os.getpid()}"
    with bigquery_events(endpoint, project, dataset):
        connections = aitaem.ConnectionManager()
        connections.add_connection("bigquery", project_id=project, endpoint=endpoint)
        got = compute(f"bigquery://{project}.{dataset}.events", connections)
        assert_same(got, by_hand())
        assert_same(got, duckdb_answers(tmp_path))


@contextlib.contextmanager
def spark_events(url: str, schema: str) -> Iterator[None]:
    """The table `SCHEMA.events` of DATA on the Spark Connect server, made with PySpark's own
    client (the Python in AITAEM_TEST_SPARK_PYTHON), dropped afterwards."""
    python = os.environ.get("AITAEM_TEST_SPARK_PYTHON", "python3")
    script = pathlib.Path(__file__).parents[2] / "crates/aitaem/tests/common/spark_sql.py"

    def spark_sql(*statements: str) -> None:
        subprocess.run(
            [python, str(script), url], input="\n;\n".join(statements), text=True, check=True,
            capture_output=True, timeout=600,
        )

    spark_sql(
        f"CREATE SCHEMA {schema}",
        f"CREATE TABLE {schema}.events (day DATE, channel STRING, clicks INT, impressions INT)",
        f"INSERT INTO {schema}.events VALUES {values_sql()}",
    )
    try:
        yield
    finally:
        spark_sql(f"DROP SCHEMA {schema} CASCADE")


def test_spark(tmp_path: pathlib.Path) -> None:
    url = needs_server("AITAEM_TEST_SPARK", "Spark Connect")
    schema = f"py_{os.getpid()}"
    with spark_events(url, schema):
        connections = aitaem.ConnectionManager()
        connections.add_connection("spark", url=url)
        got = compute(f"spark://{schema}.events", connections)
        assert_same(got, by_hand())
        assert_same(got, duckdb_answers(tmp_path))
        assert f"{schema}.events" in connections.get_connection("spark").list_tables()
        with pytest.raises(aitaem.TableNotFoundError):
            compute(f"spark://{schema}.missing", connections)
        # The same numbers from the command line tool, with a connections.yaml.
        project = tmp_path / "project"
        (project / "metrics").mkdir(parents=True)
        (project / "slices").mkdir()
        for i, metric in enumerate(METRICS.format(source=f"spark://{schema}.events").split("---")):
            (project / "metrics" / f"m{i}.yaml").write_text(metric)
        (project / "slices" / "channel.yaml").write_text(SLICE)
        (project / "connections.yaml").write_text(f"spark:\n  url: {url}\n")
        out = subprocess.run(
            [aitaem_cli(), "compute", "ctr", "clicks", "--slice", "channel", "--period", "daily",
             "--time-window", ",".join(WINDOW), "--format", "json"],
            cwd=project, capture_output=True, text=True, check=True, timeout=600,
        ).stdout
        cli = {
            (r["metric_name"], r["period_start_date"], r["slice_value"]): r["metric_value"]
            for r in json.loads(out)
        }
        assert_same(cli, by_hand())
    down = aitaem.ConnectionManager()
    down.add_connection("spark", url="sc://127.0.0.1:1", connect_timeout="2s")
    with pytest.raises(aitaem.AitaemConnectionError) as caught:
        compute(f"spark://{schema}.events", down)
    assert "sc://127.0.0.1:1" in str(caught.value)
