"""aitaem.utils.formatting - the standard output table's columns."""

from __future__ import annotations

from typing import List

from aitaem import _native

STANDARD_COLUMNS: List[str] = list(_native.STANDARD_COLUMNS)
"""The 11 columns of every compute result, in order: ten text columns and ``metric_value``
(a float)."""

__all__ = ["STANDARD_COLUMNS"]
