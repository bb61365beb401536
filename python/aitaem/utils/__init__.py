"""aitaem.utils - exceptions, validation results and the standard columns."""

from aitaem.utils.exceptions import (
    AitaemConnectionError,
    AitaemError,
    ConfigurationError,
    ConnectionNotFoundError,
    InvalidURIError,
    QueryBuildError,
    QueryExecutionError,
    SpecNotFoundError,
    SpecValidationError,
    TableNotFoundError,
    UnsupportedBackendError,
)

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
