"""aitaem.query.builder - the period types a compute accepts.

The statements themselves are planned by the native engine; this module keeps the original
import path of the period type names.
"""

from __future__ import annotations

from typing import FrozenSet

from typing import Literal, get_args

PeriodType = Literal["all_time", "daily", "weekly", "monthly", "yearly", "hourly", "quarterly"]
"""``period_type`` values: ``all_time`` (one row per group) or one row per hour, day, week
(starting Monday unless ``week_start`` says otherwise), month, quarter or year."""

VALID_PERIOD_TYPES: FrozenSet[str] = frozenset(get_args(PeriodType))

__all__ = ["PeriodType", "VALID_PERIOD_TYPES"]
