"""aitaem.connectors.connection - ConnectionManager."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from aitaem import _native
from aitaem.connectors.ibis_connector import IbisConnector, _settings
from aitaem.utils.exceptions import ConfigurationError, ConnectionNotFoundError, InvalidURIError


class ConnectionManager:
    """The connections to the backends, one per backend type, and which one reads a source.

    Connections are opened when a computation first needs them, so a configured but
    unreachable server does not stand in the way of computing on the others. Computing never
    writes: DuckDB database files are opened read-only, and any number of processes can read
    one file at once.

    Example:
        >>> from aitaem import ConnectionManager
        >>> manager = ConnectionManager()
        >>> manager.add_connection("duckdb", path=":memory:")
        >>> manager.backend_types
        ['duckdb']
        >>> ConnectionManager.parse_source_uri("postgres://public/events")
        ('postgres', 'public', 'events')
    """

    def __init__(self, tmp_dir: Optional[str] = "/tmp") -> None:
        """A manager with no connections.

        Args:
            tmp_dir: Accepted for compatibility and not used: results are held in memory as
                Arrow data, so a computation over several backends needs no scratch database.
        """
        # The engine's connections, and a connector per backend, in the order they were added.
        self._native = _native.Connections()
        self._connections: Dict[str, IbisConnector] = {}
        self._tmp_dir = tmp_dir

    @classmethod
    def from_yaml(cls, yaml_path: Union[str, Path], tmp_dir: Optional[str] = "/tmp") -> "ConnectionManager":
        """The connections of a ``connections.yaml`` file: a ``duckdb``, ``postgres`` and/or
        ``bigquery`` block each. ``${VAR}`` is replaced by the environment variable ``VAR``;
        relative paths are looked up next to the file first, then in the working directory.

        Raises:
            FileNotFoundError: if the file does not exist.
            ConfigurationError: for invalid content (with line and column) or an unset
                variable (named).
        """
        if not Path(yaml_path).exists():
            raise FileNotFoundError(
                f"Connection configuration file not found: {yaml_path}\n\n"
                "Check that the file path is correct and the file exists."
            )
        manager = cls(tmp_dir=tmp_dir)
        try:
            manager._native = _native.Connections.from_yaml(str(yaml_path))
        except ConfigurationError as e:
            if "invalid YAML" not in str(e):
                raise
            # In the original's words too: code written for it matches on them.
            raise ConfigurationError(f"Invalid YAML syntax: {e}") from None
        for backend_type in manager._native.backends():
            manager._connections[backend_type] = IbisConnector._of(backend_type, manager._native)
        return manager

    def add_connection(
        self, backend_type: str, connector: Optional[IbisConnector] = None, **config: Any
    ) -> None:
        """Adds the connection of one backend.

        Args:
            backend_type: ``duckdb``, ``postgres``, ``bigquery`` or ``spark``.
            connector: A connector (for example from
                :func:`aitaem.helpers.load_csvs_to_duckdb`) whose connection to use.
            **config: Otherwise, the settings, with the keys of a ``connections.yaml`` block:
                DuckDB ``path`` (and ``read_only``); PostgreSQL ``host``, ``port``,
                ``database``, ``user``, ``password`` or ``url``, and optional settings;
                BigQuery ``project_id`` (and ``dataset_id`` and optional settings); Spark
                ``url`` (``sc://host:15002``, and optional settings).

        Raises:
            ConfigurationError: if a connection of ``backend_type`` exists already, or the
                settings are invalid.
            UnsupportedBackendError: for an unknown backend.
        """
        if backend_type in self._connections or self._native.has(backend_type):
            raise ConfigurationError(
                f"A connection for backend '{backend_type}' already exists.\n\n"
                "Close the existing connections before adding a new one:\n"
                "  manager.close_all()"
            )
        if connector is not None:
            if connector.backend_type != backend_type:
                raise ConfigurationError(
                    f"The connector is a {connector.backend_type} connector, not {backend_type}"
                )
            self._native.adopt(connector._require(), backend_type)
            self._connections[backend_type] = connector
            return
        self._native.add(backend_type, _settings(config))
        self._connections[backend_type] = IbisConnector._of(backend_type, self._native)

    def get_connection(self, backend_type: str) -> IbisConnector:
        """The connector of ``backend_type``.

        Raises:
            ConnectionNotFoundError: if no such connection is configured.
        """
        if backend_type not in self._connections:
            raise ConnectionNotFoundError(
                f"No connection configured for backend '{backend_type}'\n\n"
                "Add the connection to your connections.yaml:\n"
                f"  {backend_type}:\n"
                "    # backend-specific config\n\n"
                "Or call add_connection():\n"
                f"  manager.add_connection('{backend_type}', ...)"
            )
        return self._connections[backend_type]

    def get_connection_for_source(self, source_uri: str) -> IbisConnector:
        """The connector that reads ``source_uri``.

        Raises:
            InvalidURIError: if the URI is malformed.
            ConnectionNotFoundError: if its backend has no connection.
        """
        backend_type, _, _ = self.parse_source_uri(source_uri)
        return self.get_connection(backend_type)

    def describe_table(self, source_uri: str) -> List[Tuple[str, str]]:
        """The columns of a source as ``(name, type)`` pairs, in the backend's type names.

        Raises:
            TableNotFoundError: if the table or file does not exist.
        """
        return self._native.describe(source_uri)

    @staticmethod
    def parse_source_uri(uri: str) -> Tuple[str, str, str]:
        """Splits a source URI into ``(backend, database, table)``.

        ``database`` is the DuckDB database path, the PostgreSQL schema or the BigQuery
        project, and empty when the URI leaves it to the connection; ``table`` is
        ``dataset.table`` on BigQuery, and a file's path for DuckDB file sources.

        Raises:
            InvalidURIError: if the URI is malformed.
            UnsupportedBackendError: for an unknown backend.
        """
        try:
            backend, database, table = _native.parse_source_uri(uri)
        except InvalidURIError as e:
            raise InvalidURIError(_in_original_words(uri, str(e))) from None
        if backend == "duckdb" and not database and uri.startswith("duckdb://:memory:/"):
            database = ":memory:"
        return backend, database, table

    @staticmethod
    def resolve_table_reference(source_uri: str) -> Tuple[str, Optional[str]]:
        """``(table, database)`` for a source: BigQuery ``(table, "project.dataset")``,
        PostgreSQL ``(table, schema)`` (``None`` for the search path), DuckDB
        ``(table, None)``."""
        backend, database, table = _native.parse_source_uri(source_uri)
        if backend == "bigquery":
            dataset, bare = table.split(".", 1)
            return bare, f"{database}.{dataset}" if database else dataset
        if backend == "postgres":
            return table, database or None
        return table, None

    def close_all(self) -> None:
        """Closes every connection and forgets them."""
        self._native.close()
        for connector in self._connections.values():
            connector._closed = True
        self._connections.clear()

    def set_store(
        self,
        path: Optional[Union[str, Path]],
        lookback_hours: Optional[float] = None,
        source_lookback_hours: Optional[Dict[str, float]] = None,
    ) -> None:
        """Computes with a result store (see docs/store.md): what a computation reads from a
        source is kept under ``path`` as partial aggregates per day, and later requests that
        those answer exactly are computed from the store, without reading the source again.
        A ``store:`` block in ``connections.yaml`` does the same.

        Args:
            path: The store's directory (created when missing); ``None`` computes without one.
            lookback_hours: How far before each entry's latest stored period
                ``MetricCompute.refresh_store`` reads again, for rows that arrive late
                (default 24).
            source_lookback_hours: The lookback of single sources, by source as the specs
                write it (``{"postgres://public/orders": 72}``); the others use
                ``lookback_hours``.

        Example:
            >>> import tempfile
            >>> manager = ConnectionManager()
            >>> manager.set_store(tempfile.mkdtemp())
            >>> manager.store_path is not None
            True
        """
        seconds = None if lookback_hours is None else float(lookback_hours) * 3600.0
        by_source = [(str(source), float(hours) * 3600.0) for source, hours in (source_lookback_hours or {}).items()]
        self._native.set_store(None if path is None else str(path), seconds, by_source)

    @property
    def store_path(self) -> Optional[str]:
        """The result store's directory, or ``None`` without one."""
        path = self._native.store_path()
        return None if path is None else str(path)

    @property
    def backend_types(self) -> List[str]:
        """The backends with a connection, in the order they were added, e.g.
        ``['duckdb', 'postgres']``."""
        return list(self._connections)

    @property
    def requires_compute_lock(self) -> bool:
        """Whether the original library needed computes on this manager to run one at a time:
        when DuckDB is a backend, or when there are several backends.

        This engine can run computes at once on any backend (the GIL is released while they
        run), so callers need no lock; the value is the original's, for code that decides on
        it.
        """
        return "duckdb" in self._connections or len(self._connections) > 1

    def __repr__(self) -> str:
        return f"ConnectionManager(backends={self.backend_types})"


def _in_original_words(uri: str, message: str) -> str:
    """An invalid URI's message, led by the original library's words for the problem where
    they apply (code written for it matches on them)."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        problem = "Missing backend type"
    elif "/" not in rest:
        problem = "Missing table separator '/'"
    elif rest.endswith("/"):
        problem = "Empty table name"
    else:
        return message
    detail = message.split(": ", 1)[-1]
    return f"{problem} in URI '{uri}': {detail}"
