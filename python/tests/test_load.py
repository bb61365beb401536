"""load_csvs_to_duckdb with the original's semantics."""

from __future__ import annotations

import logging
import pathlib

import duckdb
import pytest

import aitaem
from aitaem.helpers import load_csvs_to_duckdb


def table(db: pathlib.Path, sql: str) -> list:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_replace_by_default_append_when_asked(tmp_path: pathlib.Path) -> None:
    csv = tmp_path / "events.csv"
    db = tmp_path / "ads.duckdb"
    csv.write_text("day,clicks\n2024-01-01,3\n2024-01-02,4\n")
    load_csvs_to_duckdb(csv, db)
    load_csvs_to_duckdb(csv, db)
    assert table(db, "SELECT COUNT(*), SUM(clicks) FROM events") == [(2, 7)]
    csv.write_text("clicks,day\n10,2024-01-03\n")
    load_csvs_to_duckdb(csv, db, overwrite=False)
    assert table(db, "SELECT COUNT(*), SUM(clicks) FROM events") == [(3, 17)]
    load_csvs_to_duckdb(csv, db, overwrite=True)
    assert table(db, "SELECT COUNT(*), SUM(clicks) FROM events") == [(1, 10)]


def test_directories_skip_invalid_names(tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "events.csv").write_text("day,clicks\n2024-01-01,3\n")
    (data / "2024 sales.csv").write_text("a\n1\n")
    (data / "notes.txt").write_text("not a csv")
    with caplog.at_level(logging.WARNING, logger="aitaem"):
        connector = load_csvs_to_duckdb(data, tmp_path / "ads.duckdb")
    assert "2024 sales.csv" in caplog.text
    assert connector.list_tables() == ["events"]
    with pytest.raises(ValueError, match="not a valid table name"):
        load_csvs_to_duckdb(data / "2024 sales.csv", tmp_path / "other.duckdb")
    with pytest.raises(FileNotFoundError):
        load_csvs_to_duckdb(tmp_path / "missing.csv", tmp_path / "other.duckdb")


def test_the_connector_computes(tmp_path: pathlib.Path) -> None:
    (tmp_path / "events.csv").write_text("day,clicks\n2024-01-01,3\n2024-01-02,4\n")
    connector = load_csvs_to_duckdb(tmp_path / "events.csv", tmp_path / "ads.duckdb")
    manager = aitaem.ConnectionManager()
    manager.add_connection("duckdb", connector=connector)
    specs = aitaem.SpecCache.from_string(
        "metric:\n  name: clicks\n  source: duckdb://ads.duckdb/events\n  numerator: SUM(clicks)\n  timestamp_col: day\n"
    )
    result = aitaem.MetricCompute(specs, manager).compute("clicks", time_window=("2024-01-02", "2024-01-03"))
    assert result.to_pyarrow()["metric_value"].to_pylist() == [4.0]


def test_a_bad_file_loads_nothing(tmp_path: pathlib.Path) -> None:
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "b.csv").write_text("")
    with pytest.raises(aitaem.AitaemError, match="empty"):
        load_csvs_to_duckdb(tmp_path, tmp_path / "ads.duckdb")
    assert not (tmp_path / "ads.duckdb").exists()


def test_files_open_in_duckdb_1(tmp_path: pathlib.Path) -> None:
    """Files this package (and `aitaem load-csv`, `aitaem init`) write open in DuckDB 1.x (1.4
    and later), the release other tools and the original's users have: the test environment
    pins a 1.x `duckdb`, and the table reads back in it and in ibis over it."""
    assert duckdb.__version__.startswith("1."), duckdb.__version__
    csv = tmp_path / "events.csv"
    db = tmp_path / "ads.duckdb"
    csv.write_text("day,clicks\n2024-01-01,3\n2024-01-02,4\n")
    connector = load_csvs_to_duckdb(csv, db)
    connector.close()
    assert table(db, "SELECT COUNT(*), SUM(clicks) FROM events") == [(2, 7)]
    # get_table() gives an ibis table of the file, as the original's did.
    connector = aitaem.IbisConnector("duckdb")
    connector.connect(str(db))
    frame = connector.execute(connector.get_table("events"))
    assert list(frame["clicks"]) == [3, 4]
    with pytest.raises(aitaem.TableNotFoundError):
        connector.get_table("missing")
    connector.close()
