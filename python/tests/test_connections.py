"""Connections: from YAML and in code, errors, URIs, listing and closing."""

from __future__ import annotations

import pathlib

import pytest

from aitaem import (
    ConfigurationError,
    ConnectionManager,
    ConnectionNotFoundError,
    IbisConnector,
    InvalidURIError,
    UnsupportedBackendError,
)
from aitaem.helpers import load_csvs_to_duckdb


def test_from_yaml_errors(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        ConnectionManager.from_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("duckdb:\n  path: a.db\n  colour: blue\n")
    with pytest.raises(ConfigurationError, match=r"bad.yaml:3:3.*colour"):
        ConnectionManager.from_yaml(bad)
    env = tmp_path / "env.yaml"
    env.write_text("postgres:\n  database: d\n  user: u\n  password: ${AITAEM_TEST_UNSET_SECRET}\n")
    monkeypatch.delenv("AITAEM_TEST_UNSET_SECRET", raising=False)
    with pytest.raises(ConfigurationError, match="AITAEM_TEST_UNSET_SECRET"):
        ConnectionManager.from_yaml(env)
    # As the original: an unknown backend is UnsupportedBackendError, with where it is.
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("duckdb:\n  path: a.db\nclickhouse:\n  host: x\n")
    with pytest.raises(UnsupportedBackendError, match=r"unknown.yaml:3:1.*clickhouse"):
        ConnectionManager.from_yaml(unknown)
    monkeypatch.setenv("AITAEM_TEST_UNSET_SECRET", "s3cret")
    manager = ConnectionManager.from_yaml(env)
    assert manager.backend_types == ["postgres"]
    assert "s3cret" not in repr(manager)


def test_add_connection_in_code() -> None:
    manager = ConnectionManager()
    manager.add_connection("duckdb", path=":memory:")
    manager.add_connection("bigquery", project_id="p", dataset_id="d")
    assert manager.backend_types == ["duckdb", "bigquery"]
    with pytest.raises(ConfigurationError, match="already exists"):
        manager.add_connection("duckdb", path=":memory:")
    with pytest.raises(UnsupportedBackendError, match="clickhouse"):
        manager.add_connection("clickhouse", host="x")
    with pytest.raises(ConfigurationError, match="password"):
        ConnectionManager().add_connection("postgres", database="d", user="u")
    with pytest.raises(ConfigurationError, match="port"):
        ConnectionManager().add_connection("postgres", database="d", user="u", password="p", port="http")
    with pytest.raises(ConnectionNotFoundError, match="postgres"):
        manager.get_connection("postgres")
    assert manager.get_connection("duckdb").backend_type == "duckdb"
    assert manager.get_connection_for_source("duckdb://t").backend_type == "duckdb"
    manager.close_all()
    assert manager.backend_types == []
    with pytest.raises(UnsupportedBackendError):
        IbisConnector("mysql")


def test_parse_source_uri() -> None:
    parse = ConnectionManager.parse_source_uri
    assert parse("duckdb://analytics.db/events") == ("duckdb", "analytics.db", "events")
    assert parse("duckdb:///abs/path/db.duckdb/events") == ("duckdb", "/abs/path/db.duckdb", "events")
    assert parse("bigquery://project/dataset.table") == ("bigquery", "project", "dataset.table")
    assert parse("bigquery://my-project.dataset.table") == ("bigquery", "my-project", "dataset.table")
    # The forms the original's documentation also gives.
    assert parse("bigquery://project/dataset/table") == ("bigquery", "project", "dataset.table")
    assert parse("bigquery://project.dataset/table") == ("bigquery", "project", "dataset.table")
    assert parse("postgres://public/events") == ("postgres", "public", "events")
    assert parse("postgres:///events") == ("postgres", "", "events")
    assert ConnectionManager.resolve_table_reference("bigquery://p/ds.t") == ("t", "p.ds")
    assert ConnectionManager.resolve_table_reference("postgres://public/events") == ("events", "public")
    assert ConnectionManager.resolve_table_reference("postgres:///events") == ("events", None)
    assert ConnectionManager.resolve_table_reference("duckdb://a.db/events") == ("events", None)
    with pytest.raises(InvalidURIError):
        parse("events")
    with pytest.raises(InvalidURIError):
        parse("bigquery://events")
    with pytest.raises(UnsupportedBackendError):
        parse("mysql://db/t")


def test_connectors_list_close_and_describe(tmp_path: pathlib.Path) -> None:
    (tmp_path / "events.csv").write_text("day,clicks\n2024-01-01,3\n")
    (tmp_path / "users.csv").write_text("user_id,tier\nu1,pro\n")
    connector = load_csvs_to_duckdb(tmp_path, tmp_path / "ads.duckdb")
    assert connector.is_connected
    assert connector.list_tables() == ["events", "users"]
    manager = ConnectionManager()
    manager.add_connection("duckdb", connector=connector)
    assert manager.get_connection("duckdb") is connector
    assert manager.describe_table("duckdb://ads.duckdb/events") == [
        ("day", "DATE"),
        ("clicks", "BIGINT"),
    ]
    assert manager.get_connection("duckdb").list_tables() == ["events", "users"]
    connector.close()
    assert not connector.is_connected
    assert "disconnected" in repr(connector)
    with pytest.raises(ConfigurationError, match="not duckdb"):
        ConnectionManager().add_connection("duckdb", connector=IbisConnector("postgres"))
    # get_table() reads database files (see test_load.py); not an in-memory database.
    memory = IbisConnector("duckdb")
    memory.connect(":memory:")
    with pytest.raises(NotImplementedError):
        memory.get_table("events")
