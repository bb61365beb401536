"""aitaem.connectors.backend_specs - the required and optional settings of each backend.

Each backend's settings as a dataclass, as ``connections.yaml`` and
:meth:`aitaem.ConnectionManager.add_connection` take them. :func:`validate_backend_config`
checks that a configuration has what its backend requires; the engine checks every setting
(including the optional ones listed in the connections documentation) when it connects.

Example:
    >>> from aitaem.connectors.backend_specs import validate_backend_config
    >>> validate_backend_config("postgres", {"database": "shop", "user": "me", "password": "pw"})
    PostgresConfig(database='shop', user='me', password='pw', host='localhost', port=5432)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, Optional, Type, Union
from urllib.parse import unquote, urlparse

from aitaem.utils.exceptions import ConfigurationError, UnsupportedBackendError


@dataclass
class DuckDBConfig:
    """DuckDB: the database file (or ``:memory:``), and whether to open it read-only."""

    path: str
    read_only: bool = False


@dataclass
class BigQueryConfig:
    """BigQuery: the project jobs run in, and the default dataset of bare table names."""

    project_id: str
    dataset_id: Optional[str] = None


@dataclass
class PostgresConfig:
    """PostgreSQL: the database and credentials, and where the server is."""

    database: str
    user: str
    password: str
    host: str = "localhost"
    port: int = 5432


@dataclass
class SparkConfig:
    """Spark (and Databricks) through Spark Connect: the server's ``sc://`` URL."""

    url: str


BackendConfig = Union[DuckDBConfig, BigQueryConfig, PostgresConfig, SparkConfig]

#: The configuration class of each backend.
BACKEND_SPECS: Dict[str, Type[Any]] = {
    "duckdb": DuckDBConfig,
    "bigquery": BigQueryConfig,
    "postgres": PostgresConfig,
    "spark": SparkConfig,
}

_EXAMPLES = {
    "duckdb": "duckdb:\n  path: analytics.db",
    "bigquery": "bigquery:\n  project_id: my-project\n  dataset_id: analytics  # optional",
    "postgres": (
        "postgres:\n  host: localhost\n  port: 5432\n  database: analytics\n  user: analyst\n"
        "  password: ${POSTGRES_PASSWORD}"
    ),
    "spark": "spark:\n  url: sc://localhost:15002",
}


def _from_url(url: str) -> Dict[str, Any]:
    """A PostgreSQL ``url`` setting as the separate fields."""
    parts = urlparse(url)
    fields: Dict[str, Any] = {
        "database": unquote(parts.path.lstrip("/")) or None,
        "user": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "host": parts.hostname,
        "port": parts.port,
    }
    return {k: v for k, v in fields.items() if v is not None}


def validate_backend_config(backend_type: str, config: Dict[str, Any]) -> BackendConfig:
    """The configuration of ``backend_type`` as its dataclass. Keys the dataclass does not have
    (the optional settings) are left to the engine; a PostgreSQL ``url`` supplies the fields it
    contains.

    Raises:
        UnsupportedBackendError: for a backend other than duckdb, postgres, bigquery and spark.
        ConfigurationError: when a required field is missing (named, with an example).
    """
    spec = BACKEND_SPECS.get(backend_type)
    if spec is None:
        raise UnsupportedBackendError(
            f"Backend type '{backend_type}' not supported\n\n"
            f"Supported backends: {', '.join(sorted(BACKEND_SPECS))}"
        )
    given = dict(config)
    if backend_type == "postgres" and given.get("url"):
        given = {**_from_url(str(given["url"])), **{k: v for k, v in given.items() if k != "url"}}
    names = {f.name for f in dataclasses.fields(spec)}
    required = [
        f.name
        for f in dataclasses.fields(spec)
        if f.default is dataclasses.MISSING and given.get(f.name) is None
    ]
    if required:
        raise ConfigurationError(
            f"Invalid configuration for '{backend_type}' backend: missing required "
            f"field{'s' if len(required) > 1 else ''} {', '.join(required)}\n\n"
            f"Expected configuration:\n{_EXAMPLES[backend_type]}"
        )
    return spec(**{k: v for k, v in given.items() if k in names and v is not None})


__all__ = [
    "BACKEND_SPECS",
    "BackendConfig",
    "BigQueryConfig",
    "DuckDBConfig",
    "PostgresConfig",
    "SparkConfig",
    "validate_backend_config",
]
