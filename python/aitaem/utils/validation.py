"""aitaem.utils.validation - the results of validating a spec."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Optional

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


__all__ = ["METRIC_FORMAT_VALUES", "ValidationError", "ValidationResult"]
