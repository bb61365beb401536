"""aitaem.utils.validation - the results of validating a spec."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, List, Optional

METRIC_FORMAT_VALUES: FrozenSet[str] = frozenset({"percentage", "absolute", "ratio", "currency"})
"""The values of a metric's ``format`` (also ``currency:XXX`` with an ISO 4217 code)."""


@dataclass
class ValidationError:
    """One problem with a spec.

    Attributes:
        field: The field, e.g. ``numerator`` or ``values[1].where`` (``yaml`` for the document
            itself).
        message: What is wrong.
        suggestion: What to change, when there is something specific to say.
        location: Where: ``file:line:column`` (``<string>`` for specs given as text).
    """

    field: str
    message: str
    suggestion: Optional[str] = None
    location: Optional[str] = None


@dataclass
class ValidationResult:
    """The outcome of ``validate()`` on a spec.

    Attributes:
        valid: Whether the spec is valid.
        errors: Every problem found (empty when valid).
        referenced_columns: When valid, the unqualified column names each field reads, e.g.
            ``{"numerator": ["clicks"], "timestamp_col": ["event_ts"]}``; ``None`` when invalid.
    """

    valid: bool
    errors: List[ValidationError]
    referenced_columns: Optional[Dict[str, List[str]]] = None


def validate_metric_spec(spec_dict: Dict[str, Any]) -> ValidationResult:
    """Validates a metric spec's fields (the mapping under ``metric:``) without raising.

    Example:
        >>> validate_metric_spec({"name": "revenue-2024", "source": "duckdb://db/t",
        ...                       "numerator": "SUM(x)"}).errors[0].message
        '`revenue-2024` is not a valid SQL identifier'
    """
    return _validate("metric", spec_dict)


def validate_slice_spec(spec_dict: Dict[str, Any]) -> ValidationResult:
    """Validates a slice spec's fields (the mapping under ``slice:``) without raising."""
    return _validate("slice", spec_dict)


def validate_segment_spec(spec_dict: Dict[str, Any]) -> ValidationResult:
    """Validates a segment spec's fields (the mapping under ``segment:``) without raising."""
    return _validate("segment", spec_dict)


def _validate(kind: str, spec_dict: Dict[str, Any]) -> ValidationResult:
    from aitaem.specs import _io

    return _io.validate(kind, spec_dict)


__all__ = [
    "METRIC_FORMAT_VALUES",
    "ValidationError",
    "ValidationResult",
    "validate_metric_spec",
    "validate_segment_spec",
    "validate_slice_spec",
]
