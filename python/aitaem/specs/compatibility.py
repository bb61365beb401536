"""aitaem.specs.compatibility - the results of :meth:`aitaem.MetricCompute.scan`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Literal, Optional, Tuple


@dataclass(frozen=True)
class CompatibilityResult:
    """Whether one metric and one slice or segment can be computed together.

    Attributes:
        metric_name: The metric.
        spec_name: The slice or segment.
        spec_type: ``"slice"`` or ``"segment"``.
        compatible: Whether they fit: every column the slice reads is in the metric's table,
            or at least one of the segment's join keys is.
        valid_join_keys: Segments: the join keys present in the metric's table.
        missing_columns: Columns (slices) or join keys (segments) the metric's table lacks.
        reason: Why not, in words; ``None`` when compatible.
    """

    metric_name: str
    spec_name: str
    spec_type: Literal["slice", "segment"]
    compatible: bool
    valid_join_keys: List[str]
    missing_columns: List[str]
    reason: Optional[str]


@dataclass(frozen=True)
class ScanResult:
    """The compatibility of every loaded metric with every loaded slice and segment."""

    results: Tuple[CompatibilityResult, ...]

    def compatible_slices(self, metric_name: str) -> List[str]:
        """The slices that fit ``metric_name``."""
        return [
            r.spec_name
            for r in self.results
            if r.metric_name == metric_name and r.spec_type == "slice" and r.compatible
        ]

    def compatible_segments(self, metric_name: str) -> List[str]:
        """The segments that fit ``metric_name``."""
        return [
            r.spec_name
            for r in self.results
            if r.metric_name == metric_name and r.spec_type == "segment" and r.compatible
        ]

    def compatible_metrics(self, spec_name: str) -> List[str]:
        """The metrics that fit the slice or segment ``spec_name``."""
        return [r.metric_name for r in self.results if r.spec_name == spec_name and r.compatible]

    def for_metric(self, metric_name: str) -> List[CompatibilityResult]:
        """Every result of ``metric_name``."""
        return [r for r in self.results if r.metric_name == metric_name]

    def for_spec(self, spec_name: str) -> List[CompatibilityResult]:
        """Every result of the slice or segment ``spec_name``."""
        return [r for r in self.results if r.spec_name == spec_name]
