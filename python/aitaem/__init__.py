"""aitaem - All Interesting Things Are Essentially Metrics.

Declare metrics, slices and segments once, in YAML; compute any combination of them over a
time window, per period and per entity, on DuckDB, PostgreSQL, BigQuery or Spark, and get one
standard 11-column table back.

Example:
    >>> from aitaem import SpecCache, ConnectionManager, MetricCompute
    >>> specs = SpecCache.from_yaml(metric_paths="metrics/", slice_paths="slices/")  # doctest: +SKIP
    >>> connections = ConnectionManager.from_yaml("connections.yaml")  # doctest: +SKIP
    >>> df = MetricCompute(specs, connections).compute(
    ...     metrics=["ctr"], slices=["device_type"], time_window=("2024-01-01", "2024-02-01")
    ... ).to_pandas()  # doctest: +SKIP
"""

from aitaem._native import __version__
from aitaem.connectors.connection import ConnectionManager
from aitaem.connectors.ibis_connector import IbisConnector
from aitaem.insights import MetricCompute
from aitaem.query.builder import VALID_PERIOD_TYPES, PeriodType
from aitaem.result import ComputeResult
from aitaem.specs.compatibility import CompatibilityResult, ScanResult
from aitaem.specs.loader import SpecCache
from aitaem.specs.metric import MetricSpec
from aitaem.specs.segment import SegmentSpec, SegmentValue
from aitaem.specs.slice import SliceSpec, SliceValue
from aitaem.utils import exceptions as _exceptions
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
from aitaem.utils.formatting import STANDARD_COLUMNS
from aitaem.utils.validation import METRIC_FORMAT_VALUES

__all__ = [
    "SpecCache",
    "ConnectionManager",
    "MetricCompute",
    "IbisConnector",
    "ComputeResult",
    # spec types
    "MetricSpec",
    "SliceSpec",
    "SliceValue",
    "SegmentSpec",
    "SegmentValue",
    # constants and types
    "PeriodType",
    "VALID_PERIOD_TYPES",
    "STANDARD_COLUMNS",
    "METRIC_FORMAT_VALUES",
    "CompatibilityResult",
    "ScanResult",
    # exceptions
    *_exceptions.__all__,
]
