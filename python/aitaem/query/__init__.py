"""aitaem.query - period types."""

from aitaem.query.builder import VALID_PERIOD_TYPES, PeriodType

__all__ = ["PeriodType", "VALID_PERIOD_TYPES"]
