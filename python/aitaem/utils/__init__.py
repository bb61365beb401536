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

from aitaem.utils import exceptions as _exceptions

__all__ = list(_exceptions.__all__)
