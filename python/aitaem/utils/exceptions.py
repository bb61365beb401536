"""aitaem.utils.exceptions - the exception classes.

Every error aitaem raises on purpose is an :class:`AitaemError`; its ten subclasses say what
kind of error it is. Missing spec, connection and CSV paths raise the built-in
:class:`FileNotFoundError`, and :func:`aitaem.helpers.load_csvs_to_duckdb` raises
:class:`ValueError` for a file name that is not a valid table name.

Messages say what went wrong and, where they can, what to change; for specs they give the file,
line and column.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence


class AitaemError(Exception):
    """Base class of every aitaem error."""


class AitaemConnectionError(AitaemError):
    """A connection could not be opened or used (unreachable server, failed authentication,
    a database file that cannot be opened)."""


class ConnectionNotFoundError(AitaemError):
    """No connection is configured for the backend a source needs."""


class TableNotFoundError(AitaemError):
    """A source's table (or file) does not exist."""


class ConfigurationError(AitaemError):
    """Invalid connection settings: bad YAML, a missing or unknown field, an unset ``${VAR}``."""


class InvalidURIError(AitaemError):
    """A malformed source URI."""


class UnsupportedBackendError(AitaemError):
    """A backend other than ``duckdb``, ``postgres`` and ``bigquery``."""


class QueryBuildError(AitaemError):
    """A compute request that cannot be satisfied as asked (an invalid period type, a time
    window on a metric without ``timestamp_col``, an entity a metric does not declare, ...)."""


class QueryExecutionError(AitaemError):
    """A statement failed on its backend. The message names the metrics, the source and what
    the server said."""


class SpecValidationError(AitaemError):
    """One or more specs are invalid.

    Attributes:
        spec_type: ``"metric"``, ``"slice"`` or ``"segment"`` (``"spec"`` when a load of
            several kinds failed).
        name: The spec's name, when known.
        errors: The problems, as :class:`aitaem.utils.validation.ValidationError` objects
            (``field``, ``message``, ``suggestion`` and ``location``).
    """

    def __init__(
        self,
        spec_type: str,
        name: Optional[str],
        errors: Sequence[Any],
        message: Optional[str] = None,
    ) -> None:
        self.spec_type = spec_type
        self.name = name
        self.errors = list(errors)
        if message is None:
            name_str = f"'{name}'" if name else "(unknown name)"
            lines = "\n".join(
                f"  - Field '{e.field}': {e.message}"
                + (f" (suggestion: {e.suggestion})" if e.suggestion else "")
                for e in self.errors
            )
            message = f"Invalid {spec_type} spec {name_str}:\n{lines}"
        super().__init__(message)


class SpecNotFoundError(AitaemError):
    """A metric, slice or segment name that is not loaded.

    Attributes:
        spec_type: ``"metric"``, ``"slice"`` or ``"segment"``.
        name: The name asked for.
        searched_paths: Kept for compatibility; always empty (specs are loaded eagerly).
    """

    def __init__(
        self,
        spec_type: str,
        name: str,
        searched_paths: Sequence[str] = (),
        message: Optional[str] = None,
    ) -> None:
        self.spec_type = spec_type
        self.name = name
        self.searched_paths = list(searched_paths)
        if message is None:
            message = f"no {spec_type} named `{name}`"
        super().__init__(message)


__all__ = [
    "AitaemError",
    "AitaemConnectionError",
    "ConnectionNotFoundError",
    "TableNotFoundError",
    "ConfigurationError",
    "InvalidURIError",
    "UnsupportedBackendError",
    "QueryBuildError",
    "QueryExecutionError",
    "SpecValidationError",
    "SpecNotFoundError",
]
