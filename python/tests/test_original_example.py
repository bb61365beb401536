"""A project laid out like the original library's example runs unchanged: the README's Python
quick start, run from the project's root."""

from __future__ import annotations

import logging
import pathlib
import re
import shutil
from typing import Dict, List

import duckdb
import pytest

import aitaem
from aitaem.helpers import load_csvs_to_duckdb

from conftest import ORIGINAL_EXAMPLE, REPO, rows


def readme_python_blocks() -> Dict[str, str]:
    """The README's Python code blocks, by the heading above each."""
    text = (REPO / "README.md").read_text()
    blocks = {}
    for heading, code in re.findall(r"### ([^\n]+)\n(?:(?!###).)*?```python\n(.*?)```", text, re.S):
        blocks[heading.strip()] = code
    return blocks


@pytest.fixture
def project(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    root = tmp_path / "project"
    shutil.copytree(ORIGINAL_EXAMPLE, root)
    monkeypatch.chdir(root)
    return root


def oracle(root: pathlib.Path, sql: str) -> List[tuple]:
    con = duckdb.connect()
    for table in ("ad_campaigns", "platforms"):
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_csv_auto('{root}/examples/data/{table}.csv')"
        )
    return con.execute(sql).fetchall()


CTR_BY_TYPE = (
    "SELECT campaign_type, SUM(clicks) / NULLIF(SUM(impressions), 0) FROM ad_campaigns "
    "WHERE date >= '2024-01-01' AND date < '2024-04-01' GROUP BY 1"
)


def test_the_readme_example_runs_verbatim(project: pathlib.Path, capsys: pytest.CaptureFixture) -> None:
    code = readme_python_blocks()["Example: Ad Campaigns Dataset"]
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    printed = capsys.readouterr().out
    table = scope["table"]
    got = {
        r["slice_value"]: r["metric_value"] for r in rows(table) if r["slice_type"] == "campaign_type"
    }
    assert got == pytest.approx(dict(oracle(project, CTR_BY_TYPE)))
    assert "Search" in printed and "slice_value" in printed


def test_the_three_step_api_with_a_database_file(project: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    load_csvs_to_duckdb("examples/data", "examples/data/ad_campaigns.duckdb")
    code = readme_python_blocks()["Three-Step API"]
    # The quick start's own suggestion: a path to the .duckdb file instead of :memory:.
    code = code.replace('path=":memory:"', 'path="examples/data/ad_campaigns.duckdb"')
    scope: dict = {}
    with caplog.at_level(logging.WARNING, logger="aitaem"):
        exec(compile(code, "README.md", "exec"), scope)
    # The specs name `ad_campaigns.duckdb`: the same file name as the configured database, so
    # no warning.
    assert "no database file" not in caplog.text
    expected = dict(
        oracle(
            project,
            "SELECT p.platform_group || '/' || c.campaign_type, SUM(clicks) / NULLIF(SUM(impressions), 0) "
            "FROM ad_campaigns c JOIN platforms p USING (platform) "
            "WHERE date >= '2024-01-01' AND date < '2024-04-01' GROUP BY 1",
        )
    )
    got = {
        f"{r['segment_value']}/{r['slice_value']}": r["metric_value"]
        for r in rows(scope["table"])
        if r["slice_type"] == "campaign_type" and r["segment_name"] == "platform"
    }
    assert got == pytest.approx(expected)


def test_connections_yaml_of_the_original_layout(project: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    load_csvs_to_duckdb("examples/data", "examples/data/ad_campaigns.duckdb")
    cache = aitaem.SpecCache.from_yaml(
        metric_paths="examples/metrics/",
        slice_paths="examples/slices/",
        segment_paths="examples/segments/",
    )
    conn = aitaem.ConnectionManager.from_yaml("examples/connections.yaml")
    table = aitaem.MetricCompute(cache, conn).compute(
        metrics="ctr", slices="campaign_type", time_window=("2024-01-01", "2024-04-01")
    )
    got = {r["slice_value"]: r["metric_value"] for r in rows(table) if r["slice_type"] == "campaign_type"}
    assert got == pytest.approx(dict(oracle(project, CTR_BY_TYPE)))

    # The database under another file name: still the configured one, with a warning.
    conn.close_all()
    shutil.move("examples/data/ad_campaigns.duckdb", "examples/data/campaigns_2024.duckdb")
    pathlib.Path("examples/connections.yaml").write_text(
        "duckdb:\n  path: examples/data/campaigns_2024.duckdb\n"
    )
    conn = aitaem.ConnectionManager.from_yaml("examples/connections.yaml")
    with caplog.at_level(logging.WARNING, logger="aitaem"):
        table = aitaem.MetricCompute(cache, conn).compute(
            metrics="ctr", slices="campaign_type", time_window=("2024-01-01", "2024-04-01")
        )
    assert "ad_campaigns.duckdb" in caplog.text and "campaigns_2024.duckdb" in caplog.text
    got = {r["slice_value"]: r["metric_value"] for r in rows(table) if r["slice_type"] == "campaign_type"}
    assert got == pytest.approx(dict(oracle(project, CTR_BY_TYPE)))
