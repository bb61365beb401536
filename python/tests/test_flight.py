"""Arrow Flight SQL on ``aitaem serve --flight``, through the ADBC Flight SQL driver from PyPI as a
BI tool or notebook uses it: queries over the table ``metrics`` checked against hand-written SQL
and ``aitaem compute``, catalog calls, pandas, tokens and errors; on DuckDB, PostgreSQL and the
BigQuery emulator."""

from __future__ import annotations

import csv
import io
import os
import pathlib
import subprocess
from typing import Any, Callable, Iterator, List

import adbc_driver_flightsql
import adbc_driver_flightsql.dbapi as flight_sql
import adbc_driver_manager
import pytest

from conftest import aitaem_cli, needs_server
from test_backends import METRICS, SLICE, bigquery_events, by_hand, postgres_events

TOKEN = "flight-test-token"
MONTHLY_BY_DEVICE = (
    "SELECT metric_name, period_start_date, slice_value, metric_value FROM metrics "
    "WHERE metric_name IN ('revenue', 'ctr') AND slice_type = 'device' AND period_type = 'monthly' "
    "AND period_start_date >= '2024-01-01' AND period_start_date < '2025-01-01' "
    "ORDER BY metric_name, period_start_date, slice_value"
)


class Served:
    """``aitaem serve --flight`` on free ports, stopped at the end."""

    def __init__(self, project: pathlib.Path, token_file: pathlib.Path, *more: str) -> None:
        self.process = subprocess.Popen(
            [aitaem_cli(), "serve", "--specs", str(project), "--listen", "127.0.0.1:0",
             "--flight", "127.0.0.1:0", "--token-file", str(token_file), *more],
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stderr is not None
        first = self.process.stderr.readline()
        assert first.startswith("aitaem: listening on "), first
        second = self.process.stderr.readline()
        assert second.startswith("aitaem: Flight SQL on grpc"), second
        self.uri = second.strip().removeprefix("aitaem: Flight SQL on ")

    def connect(self, **db_kwargs: str) -> Any:
        kwargs = db_kwargs or {
            adbc_driver_flightsql.DatabaseOptions.AUTHORIZATION_HEADER.value: f"Bearer {TOKEN}"
        }
        return flight_sql.connect(self.uri, db_kwargs=kwargs, autocommit=True)

    def stop(self) -> None:
        self.process.terminate()
        assert self.process.wait(timeout=60) == 0


@pytest.fixture
def served(ads: pathlib.Path, tmp_path: pathlib.Path) -> Iterator[Served]:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    server = Served(ads, token)
    try:
        yield server
    finally:
        server.stop()


def query(server: Served, sql: str) -> List[tuple]:
    with server.connect() as conn, conn.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def cli_rows(project: pathlib.Path, *args: str) -> List[dict]:
    """``aitaem compute ARGS --format csv`` on the project, as dictionaries."""
    out = subprocess.run(
        [aitaem_cli(), "compute", *args, "--format", "csv", "--specs", str(project)],
        check=True, capture_output=True, text=True,
    ).stdout
    return list(csv.DictReader(io.StringIO(out)))


def number(text: str) -> Any:
    return float(text) if text != "" else None


def test_a_query_is_one_compute_and_the_rest_runs_over_it(
    served: Served, ads: pathlib.Path, oracle: Callable[[str], List[Any]]
) -> None:
    # The period dates are timestamps in this table (text in the CSV).
    got = [(m, f"{p:%Y-%m-%d %H:%M:%S}", s, v) for m, p, s, v in query(served, MONTHLY_BY_DEVICE)]
    # The same rows as `aitaem compute` for the request the predicates name...
    expected = sorted(
        (r["metric_name"], r["period_start_date"], r["slice_value"], number(r["metric_value"]))
        for r in cli_rows(ads, "revenue", "ctr", "--slice", "device", "--period", "monthly",
                          "--time-window", "2024-01-01,2025-01-01")
        if r["slice_type"] == "device"
    )
    assert len(got) == len(expected) > 24
    for row, want in zip(got, expected):
        assert row[:3] == want[:3]
        assert row[3] == (pytest.approx(want[3]) if want[3] is not None else None)
    # ...and as hand-written SQL over the example's data.
    by_hand = {
        (f"{month} 00:00:00", device): value
        for month, device, value in oracle(
            "SELECT strftime(date_trunc('month', event_ts), '%Y-%m-%d'), device_type, SUM(revenue) "
            "FROM events WHERE event_ts >= '2024-01-01' AND event_ts < '2025-01-01' "
            "AND device_type IS NOT NULL GROUP BY ALL"
        )
    }
    revenue = {(r[1], r[2]): r[3] for r in got if r[0] == "revenue"}
    assert revenue.keys() == by_hand.keys()
    for key, value in by_hand.items():
        assert revenue[key] == pytest.approx(value), key

    # Aggregation, other predicates and ordering run over the computed rows.
    [(total,)] = oracle(
        "SELECT SUM(revenue) FROM events WHERE event_ts >= '2024-03-01' AND event_ts < '2024-06-01' "
        "AND device_type IN ('mobile', 'tablet')"
    )
    [(summed, months)] = query(
        served,
        "SELECT SUM(metric_value), COUNT(DISTINCT period_start_date) FROM aitaem.main.metrics "
        "WHERE metric_name = 'revenue' AND slice_type = 'device' AND period_type = 'monthly' "
        "AND period_start_date BETWEEN '2024-03-01' AND '2024-05-01' "
        "AND slice_value <> 'desktop'",
    )
    assert summed == pytest.approx(total)
    assert months == 3
    # Without predicates: every metric, all time, the overall rows.
    [(events,)] = oracle("SELECT COUNT(*) FROM events")
    [(value, slice_type)] = query(
        served, "SELECT metric_value, slice_type FROM metrics WHERE metric_name = 'events'"
    )
    assert (value, slice_type) == (events, "none")


def test_pandas_catalog_calls_and_prepared_statements(served: Served) -> None:
    with served.connect() as conn:
        with conn.cursor() as cursor:
            cursor.execute(MONTHLY_BY_DEVICE)
            frame = cursor.fetch_df()
        assert list(frame.columns) == ["metric_name", "period_start_date", "slice_value", "metric_value"]
        assert set(frame["metric_name"]) == {"revenue", "ctr"}
        # The table, as a BI tool finds it.
        assert conn.adbc_get_table_types() == ["TABLE"]
        objects = conn.adbc_get_objects().read_all().to_pylist()
        assert [c["catalog_name"] for c in objects] == ["aitaem"]
        [schema] = objects[0]["catalog_db_schemas"]
        assert schema["db_schema_name"] == "main"
        assert [t["table_name"] for t in schema["db_schema_tables"]] == ["metrics"]
        table = conn.adbc_get_table_schema("metrics", catalog_filter="aitaem", db_schema_filter="main")
        assert table.names == [
            "period_type", "period_start_date", "period_end_date", "entity_id", "metric_name",
            "metric_format", "slice_type", "slice_value", "segment_name", "segment_value",
            "metric_value",
        ]
        info = conn.adbc_get_info()
        assert info["vendor_name"] == "aitaem"
        # A prepared statement's schema comes before its rows.
        with conn.cursor() as cursor:
            cursor.adbc_prepare("SELECT slice_value, metric_value FROM metrics WHERE metric_name = 'revenue'")
            cursor.execute("SELECT slice_value, metric_value FROM metrics WHERE metric_name = 'revenue'")
            assert [d[0] for d in cursor.description] == ["slice_value", "metric_value"]
            assert cursor.fetchall()[0][0] == "all"


def test_tokens_and_errors(served: Served) -> None:
    # Basic credentials with the token as the password also work (a handshake answers the
    # bearer header), as JDBC clients send them.
    basic = served.connect(username="anyone", password=TOKEN)
    with basic, basic.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM metrics WHERE metric_name = 'revenue'")
        assert cursor.fetchall() == [(1,)]
    wrong = served.connect(
        **{adbc_driver_flightsql.DatabaseOptions.AUTHORIZATION_HEADER.value: "Bearer wrong"}
    )
    with wrong, wrong.cursor() as cursor, pytest.raises(adbc_driver_manager.Error) as caught:
        cursor.execute("SELECT * FROM metrics")
    assert "UNAUTHENTICATED" in str(caught.value) or "Unauthenticated" in str(caught.value)
    assert "wrong" not in str(caught.value)

    for sql, words in [
        ("SELECT * FROM metrics WHERE metric_name = 'revenu'", ["SpecNotFoundError", "revenue"]),
        ("SELECT * FROM sales", ["no table sales"]),
        ("DROP TABLE metrics", ["only queries"]),
        ("SELECT nope FROM metrics WHERE metric_name = 'revenue'", ["nope"]),
        ("SELECT * FROM metrics WHERE period_type = 'monthly'", ["window"]),
        ("SELECT * FROM metrics, read_text('/etc/hostname')", ["read_text"]),
    ]:
        with served.connect() as conn, conn.cursor() as cursor:
            with pytest.raises(adbc_driver_manager.Error) as caught:
                cursor.execute(sql)
                cursor.fetchall()
            for word in words:
                assert word in str(caught.value), (sql, str(caught.value))


def test_tls(ads: pathlib.Path, tmp_path: pathlib.Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    token = tmp_path / "token"
    token.write_text(TOKEN)
    server = Served(ads, token, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        assert server.uri.startswith("grpc+tls://127.0.0.1:")
        trusted = server.connect(**{
            adbc_driver_flightsql.DatabaseOptions.AUTHORIZATION_HEADER.value: f"Bearer {TOKEN}",
            adbc_driver_flightsql.DatabaseOptions.TLS_ROOT_CERTS.value: cert.read_text(),
        })
        with trusted, trusted.cursor() as cursor:
            cursor.execute("SELECT metric_value FROM metrics WHERE metric_name = 'events'")
            assert cursor.fetchall()[0][0] > 0
        # A client that does not trust the certificate gets nothing.
        untrusted = server.connect(
            **{adbc_driver_flightsql.DatabaseOptions.AUTHORIZATION_HEADER.value: f"Bearer {TOKEN}"}
        )
        with untrusted, untrusted.cursor() as cursor, pytest.raises(adbc_driver_manager.Error):
            cursor.execute("SELECT * FROM metrics WHERE metric_name = 'events'")
    finally:
        server.stop()


def same_as_by_hand(project: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """The backends' project (ctr and clicks by channel, daily) over Flight SQL: the numbers
    computed by hand in test_backends, and those of ``aitaem compute``."""
    token = tmp_path / "token"
    token.write_text(TOKEN)
    server = Served(project, token)
    try:
        got = {
            (m, f"{p:%Y-%m-%d %H:%M:%S}", s): v
            for m, p, s, v in query(
                server,
                "SELECT metric_name, period_start_date, slice_value, metric_value FROM metrics "
                "WHERE metric_name IN ('ctr', 'clicks') AND slice_type IN ('channel', 'none') "
                "AND period_type = 'daily' AND period_start_date >= '2024-01-01' "
                "AND period_start_date < '2024-01-04'",
            )
        }
    finally:
        server.stop()
    expected = by_hand()
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == (pytest.approx(value) if value is not None else None), key
    cli = {
        (r["metric_name"], r["period_start_date"], r["slice_value"]): number(r["metric_value"])
        for r in cli_rows(project, "ctr", "clicks", "--slice", "channel", "--period", "daily",
                          "--time-window", "2024-01-01,2024-01-04")
    }
    assert cli.keys() == got.keys()
    for key, value in cli.items():
        assert got[key] == (pytest.approx(value) if value is not None else None), key


def backend_project(tmp_path: pathlib.Path, source: str, connections: str) -> pathlib.Path:
    project = tmp_path / "project"
    (project / "metrics").mkdir(parents=True)
    (project / "slices").mkdir()
    for i, text in enumerate(METRICS.format(source=source).split("---")):
        (project / "metrics" / f"m{i}.yaml").write_text(text)
    (project / "slices" / "channel.yaml").write_text(SLICE)
    (project / "connections.yaml").write_text(connections)
    return project


def test_postgres(tmp_path: pathlib.Path) -> None:
    url = needs_server("AITAEM_TEST_POSTGRES", "PostgreSQL")
    schema = f"flight_{os.getpid()}"
    with postgres_events(url, schema):
        connections = f"postgres:\n  url: {url}\n"
        if os.environ.get("AITAEM_TEST_POSTGRES_CA"):
            connections += (
                f"  sslmode: verify-full\n  sslrootcert: {os.environ['AITAEM_TEST_POSTGRES_CA']}\n"
            )
        project = backend_project(tmp_path, f"postgres://{schema}/events", connections)
        same_as_by_hand(project, tmp_path)


def test_bigquery(tmp_path: pathlib.Path) -> None:
    endpoint = needs_server("AITAEM_TEST_BIGQUERY", "BigQuery")
    project_id = os.environ.get("AITAEM_TEST_BIGQUERY_PROJECT", "aitaem-test")
    dataset = f"flight_{os.getpid()}"
    with bigquery_events(endpoint, project_id, dataset):
        project = backend_project(
            tmp_path,
            f"bigquery://{project_id}.{dataset}.events",
            f"bigquery:\n  project_id: {project_id}\n  endpoint: {endpoint}\n",
        )
        same_as_by_hand(project, tmp_path)
