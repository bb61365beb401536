"""aitaem.connectors.ibis_connector - a connection to one backend.

The name is the original library's, kept so that code written for it runs unchanged; the
connection itself is the native engine's (no ibis involved).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

from aitaem import _native
from aitaem.utils.exceptions import (
    AitaemConnectionError,
    TableNotFoundError,
    UnsupportedBackendError,
)


def _settings(config: Dict[str, Any]) -> Dict[str, Any]:
    """Connection settings for the native engine: paths as text, unset values left out."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in config.items() if v is not None}


class IbisConnector:
    """A connection to one backend (``duckdb``, ``postgres``, ``bigquery`` or ``spark``).

    What :func:`aitaem.helpers.load_csvs_to_duckdb` returns and
    :meth:`aitaem.ConnectionManager.get_connection` gives back; pass it to
    :meth:`aitaem.ConnectionManager.add_connection` with ``connector=``.

    Example:
        >>> from aitaem import IbisConnector
        >>> connector = IbisConnector("duckdb")
        >>> connector.connect(":memory:")
        >>> connector.list_tables()
        []
    """

    #: The engine's backends.
    SUPPORTED_BACKENDS = set(_native.backends())

    def __init__(self, backend_type: str) -> None:
        """A connector for ``backend_type``, not yet connected.

        Raises:
            UnsupportedBackendError: for a backend other than duckdb, postgres, bigquery and
                spark.
        """
        if backend_type not in self.SUPPORTED_BACKENDS:
            raise UnsupportedBackendError(
                f"Backend type '{backend_type}' not supported\n\n"
                f"Supported backends: {', '.join(sorted(self.SUPPORTED_BACKENDS))}"
            )
        self.backend_type = backend_type
        self._connections: Optional[Any] = None
        self._closed = False
        # The settings given to connect(), for build_source_uri() and get_table().
        self._settings: Dict[str, Any] = {}
        # An ibis connection of get_table(), opened when first asked for.
        self._ibis: Optional[Any] = None

    @classmethod
    def _of(cls, backend_type: str, connections: Any) -> "IbisConnector":
        """The connector of ``backend_type`` within a manager's connections."""
        connector = cls(backend_type)
        connector._connections = connections
        return connector

    def connect(self, connection_string: Optional[str] = None, **kwargs: Any) -> None:
        """Configures and opens the connection.

        Args:
            connection_string: DuckDB: the database file, or ``:memory:`` (the default).
                Not used by the other backends.
            **kwargs: The backend's settings, as in ``connections.yaml``: DuckDB
                ``read_only``; PostgreSQL ``host``, ``port``, ``database``, ``user``,
                ``password`` (or ``url``) and the optional settings; BigQuery ``project_id``,
                ``dataset_id`` and the optional settings.

        Raises:
            ConfigurationError: for missing or invalid settings.
            AitaemConnectionError: if the connection cannot be opened.
        """
        config = dict(kwargs)
        if self.backend_type == "duckdb":
            config["path"] = connection_string if connection_string is not None else ":memory:"
        connections = _native.Connections()
        connections.add(self.backend_type, _settings(config))
        connections.open(self.backend_type)
        self._connections = connections
        self._closed = False
        self._settings = config

    def _require(self) -> Any:
        if self._connections is None:
            raise AitaemConnectionError(
                f"Not connected to {self.backend_type}. Call connect() first."
            )
        return self._connections

    def list_tables(self) -> List[str]:
        """The names of the tables and views of the connection (``schema.table`` outside the
        default schema; ``dataset.table`` on BigQuery).

        Raises:
            AitaemConnectionError: if not connected.
        """
        uris = self._require().list_tables(self.backend_type)
        self._closed = False
        return [_native.parse_source_uri(uri)[2] for uri in uris]

    def source_uris(self) -> List[str]:
        """The tables and views of the connection as source URIs, ready to use in specs."""
        uris: List[str] = self._require().list_tables(self.backend_type)
        self._closed = False
        return uris

    def build_source_uri(self, table_name: str) -> Optional[str]:
        """A source URI for a table of this connection, as :meth:`list_tables` names it; ``None``
        when the connection cannot say where the table is (not connected with
        :meth:`connect`, or a PostgreSQL or BigQuery connection without a schema or dataset
        of its own: use :meth:`source_uris` then).

        Example:
            >>> connector = IbisConnector("duckdb")
            >>> connector.connect(":memory:")
            >>> connector.build_source_uri("events")
            'duckdb://:memory:/events'
        """
        if self._connections is None or not self._settings:
            return None
        if self.backend_type == "duckdb":
            return f"duckdb://{self._settings['path']}/{table_name}"
        if self.backend_type == "postgres" and self._settings.get("schema"):
            return f"postgres://{self._settings['schema']}/{table_name}"
        if self.backend_type == "bigquery" and self._settings.get("dataset_id"):
            project = self._settings.get("project_id")
            return f"bigquery://{project}.{self._settings['dataset_id']}.{table_name}"
        return None

    def get_table(self, table_name: str, database: Optional[str] = None) -> Any:
        """An ibis table of a table of this connection's DuckDB database file, read-only, for
        code that explores data in ibis (needs ``ibis-framework[duckdb]``).

        Metrics are computed by :class:`aitaem.MetricCompute`, not through this table. Other
        connections (PostgreSQL, BigQuery, an in-memory DuckDB, a manager's connectors) raise
        :class:`NotImplementedError`: use :meth:`aitaem.ConnectionManager.describe_table` for a
        table's columns, or ``to_ibis()`` on a result.

        Raises:
            AitaemConnectionError: if not connected.
            TableNotFoundError: if the database has no such table.
        """
        self._require()
        path = self._settings.get("path") if self.backend_type == "duckdb" else None
        if not path or path == ":memory:":
            raise NotImplementedError(
                "get_table() reads DuckDB database files only: aitaem computes in its own "
                "engine. Use ConnectionManager.describe_table(uri) for a table's columns, or "
                "MetricCompute.compute(...).to_ibis() for an ibis table of a result."
            )
        if self._ibis is None:
            import ibis

            self._ibis = ibis.duckdb.connect(path, read_only=True)
        if table_name not in self._ibis.list_tables(database=database):
            raise TableNotFoundError(
                f"Table '{table_name}' not found in DuckDB database {path}"
                + (f" (schema {database})" if database else "")
            )
        return self._ibis.table(table_name, database=database)

    def execute(self, expr: Any, output_format: str = "pandas") -> Any:
        """Runs an ibis expression (from :meth:`get_table`) and returns a pandas DataFrame
        (``output_format="pandas"``) or a polars DataFrame (``"polars"``).

        Raises:
            AitaemConnectionError: if not connected.
            ValueError: for another output format.
        """
        self._require()
        if output_format == "pandas":
            return expr.execute()
        if output_format == "polars":
            return expr.to_polars()
        raise ValueError(
            f"Invalid output_format: {output_format!r}; use 'pandas' or 'polars'"
        )

    def close(self) -> None:
        """Closes the connection (releasing a DuckDB database file). A manager that holds the
        connector opens it again when it next needs it."""
        if self._connections is not None:
            self._connections.close(self.backend_type)
        if self._ibis is not None:
            self._ibis.disconnect()
            self._ibis = None
        self._closed = True

    @property
    def is_connected(self) -> bool:
        """Whether the connector is configured and not closed."""
        return self._connections is not None and not self._closed

    @property
    def connection(self) -> Any:
        """The native connection handle (opaque), or ``None`` before :meth:`connect`."""
        return self._connections

    def __repr__(self) -> str:
        status = "connected" if self.is_connected else "disconnected"
        return f"IbisConnector(backend='{self.backend_type}', status='{status}')"
