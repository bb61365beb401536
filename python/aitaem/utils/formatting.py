"""aitaem.utils.formatting - the standard output table's columns."""

from __future__ import annotations

from typing import List

STANDARD_COLUMNS: List[str] = [
    "period_type",
    "period_start_date",
    "period_end_date",
    "entity_id",
    "metric_name",
    "metric_format",
    "slice_type",
    "slice_value",
    "segment_name",
    "segment_value",
    "metric_value",
]
"""The 11 columns of every compute result, in order: ten text columns and ``metric_value``
(a float)."""

__all__ = ["STANDARD_COLUMNS"]
