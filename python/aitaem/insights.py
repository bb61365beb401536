"""aitaem.insights - MetricCompute, the entry point for computing."""

from __future__ import annotations

import datetime
import logging
from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple, Union

from aitaem import _native
from aitaem.connectors.connection import ConnectionManager
from aitaem.query.builder import PeriodType
from aitaem.result import ComputeResult
from aitaem.specs.compatibility import CompatibilityResult, ScanResult
from aitaem.specs.loader import SpecCache
from aitaem.utils.exceptions import QueryBuildError

logger = logging.getLogger(__name__)

TimeBound = Union[str, datetime.date, datetime.datetime]
WeekStart = Literal["monday", "sunday", "saturday"]
Comparison = Literal["previous_period", "previous_year"]


def _bound(value: TimeBound) -> str:
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    raise QueryBuildError(
        f"time_window bounds must be dates or date strings such as '2024-01-01', got {value!r}"
    )


def _names(value: Union[str, Sequence[str], None]) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


class MetricCompute:
    """Computes metrics from a :class:`SpecCache` and a :class:`ConnectionManager`.

    Example:
        >>> import aitaem, pathlib, tempfile
        >>> tmp = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (tmp / "events.csv").write_text("day,clicks\\n2024-01-01,3\\n2024-01-02,4\\n")
        >>> specs = aitaem.SpecCache.from_string(metric_yaml=f'''
        ... metric:
        ...   name: clicks
        ...   source: duckdb://{tmp}/events.csv
        ...   numerator: SUM(clicks)
        ...   timestamp_col: day
        ... ''')
        >>> result = aitaem.MetricCompute(specs, aitaem.ConnectionManager()).compute("clicks")
        >>> result.to_pyarrow().column("metric_value").to_pylist()
        [7.0]
    """

    def __init__(self, spec_cache: SpecCache, connection_manager: ConnectionManager) -> None:
        self.spec_cache = spec_cache
        self.connection_manager = connection_manager

    def compute(
        self,
        metrics: Union[str, List[str]],
        slices: Union[str, List[str], None] = None,
        segments: Union[Dict[str, str], str, None] = None,
        time_window: Optional[Tuple[TimeBound, TimeBound]] = None,
        period_type: PeriodType = "all_time",
        by_entity: Optional[str] = None,
        *,
        week_start: WeekStart = "monday",
        fill_gaps: bool = False,
        compare: Optional[Comparison] = None,
        share: bool = False,
        cumulative: bool = False,
        rolling: Optional[int] = None,
        where: Union[str, List[str], None] = None,
    ) -> ComputeResult:
        """Computes metrics, optionally broken down by slices and a segment, over a time
        window, per period and per entity.

        The statements run while the GIL is released; Ctrl-C stops them and raises
        :class:`KeyboardInterrupt`. One statement runs per source table.

        Args:
            metrics: A metric name or a list of them.
            slices: A slice name or a list of them; each breaks the metrics down on its own
                (the result always includes the unsliced totals).
            segments: A segment name (joined on its ``entity_id``), or
                ``{segment_name: fact_column}`` to join on another column (one of the
                segment's ``join_keys`` when it has any). One segment per call.
            time_window: ``(start, end)``: rows with ``start <= timestamp_col < end``. Dates,
                datetimes, or strings such as ``"2024-01-01"`` or ``"2024-01-01 06:00:00"``.
            period_type: ``all_time`` or ``hourly``, ``daily``, ``weekly``, ``monthly``,
                ``quarterly``, ``yearly`` (these need ``time_window``).
            by_entity: A column every metric lists in ``entities``: one row per entity, its
                value (as text) in ``entity_id``.
            week_start: The day weekly periods start on: ``monday`` (ISO weeks), ``sunday`` or
                ``saturday``.
            fill_gaps: Give every period of the window a row for every metric, slice value and
                segment value (and entity) with rows in the window: 0 for a metric whose
                numerator is a single ``SUM``, ``COUNT`` or ``COUNT(DISTINCT)`` (without
                denominator), NULL for the others.
            compare: ``previous_period`` or ``previous_year``: adds ``comparison_value``,
                ``delta`` and ``delta_pct`` (NULL when the comparison is NULL or 0).
            share: Adds ``share_of_total``: the value over its slice's baseline row (a segment
                value's baseline over the overall one), for single ``SUM``/``COUNT`` metrics.
            cumulative: Adds ``cumulative_value``, the running total over the window.
            rolling: Adds ``rolling_value``, the total over the last ``rolling`` periods.
            where: A SQL predicate over the sources' rows, or a list of them (all must hold):
                only those rows count, for every metric. Every metric's source must have the
                columns a predicate reads (:class:`QueryBuildError` otherwise).

        Returns:
            A :class:`ComputeResult` with the 11 standard columns, followed by the columns the
            options add (in the order ``comparison_value``, ``delta``, ``delta_pct``,
            ``share_of_total``, ``cumulative_value``, ``rolling_value``).

        Raises:
            SpecNotFoundError: for an unknown metric, slice or segment.
            QueryBuildError: for arguments that cannot be satisfied (the message says why).
            ConnectionNotFoundError, TableNotFoundError, AitaemConnectionError: for a source
                that cannot be reached.
            QueryExecutionError: when every statement failed (when some did, the others'
                rows are returned and each failure is logged and listed in ``warnings``).
        """
        segment: Optional[str] = None
        join_key: Optional[str] = None
        if isinstance(segments, str):
            segment = segments
        elif segments is not None:
            if len(segments) != 1:
                raise QueryBuildError(
                    f"Only one segment per compute() call is supported, "
                    f"but {len(segments)} were provided: {list(segments.keys())}"
                )
            segment, join_key = next(iter(segments.items()))
        window: Optional[Tuple[str, str]] = None
        if time_window is not None:
            if isinstance(time_window, (str, bytes)) or len(time_window) != 2:
                raise QueryBuildError(
                    f"time_window must be a (start, end) pair, got {time_window!r}"
                )
            window = (_bound(time_window[0]), _bound(time_window[1]))
        request = _native.Request(_names(metrics)).slices(_names(slices)).period(period_type)
        request = request.filters(_names(where))
        if segment is not None:
            request = request.segment(segment, join_key)
        if window is not None:
            request = request.time_window(*window)
        if by_entity is not None:
            request = request.by_entity(by_entity)
        request = request.week_start(week_start).fill_gaps(fill_gaps).share(share)
        request = request.cumulative(cumulative)
        if compare is not None:
            request = request.compare(compare)
        if rolling is not None:
            request = request.rolling(rolling)
        table = _native.compute(
            self.spec_cache._store, self.connection_manager._native, request
        )
        for notice in table.notices:
            logger.warning("%s", notice)
        for warning in table.warnings:
            logger.warning("%s", warning)
        return ComputeResult(table)

    def refresh_store(self, source: Optional[str] = None) -> List[Dict[str, Any]]:
        """Refreshes the connection manager's result store (see
        ``ConnectionManager.set_store``): each entry (or each of ``source``'s, as the specs
        write it) reads its source again from its latest stored period less the lookback, and
        those periods' rows replace the stored ones; an entry whose specs changed is deleted.

        Returns:
            One dict per entry: ``source``, ``metrics``, ``outcome`` (``"read"``,
            ``"up_to_date"`` or ``"dropped: <reason>"``), ``read_from`` and ``read_to`` (the
            range read, or ``None``) and ``rows`` (the stored rows written). Empty without a
            store.
        """
        rows = _native.refresh_store(self.spec_cache._store, self.connection_manager._native, source)
        return [
            {"source": src, "metrics": list(metrics), "outcome": outcome, "read_from": start,
             "read_to": end, "rows": written}
            for src, metrics, outcome, start, end, written in rows
        ]

    def scan(self) -> ScanResult:
        """Which loaded slices and segments fit which loaded metrics, in the order the specs
        were loaded or added (per metric: its slices, then its segments).

        A slice fits a metric when every column it reads is in the metric's table; a segment
        fits when at least one of its join keys (``join_keys``, or ``entity_id``) is, and
        ``missing_columns`` lists the join keys that are not. A metric whose table cannot be
        read (no connection for its backend, no such table) is left out, with a logged
        warning.
        """
        rows = _native.scan(self.spec_cache._store, self.connection_manager._native)
        unreadable = {}
        for metric, _, _, _, _, _, reason in rows:
            if reason is not None and reason.startswith("cannot read the metric's table"):
                unreadable.setdefault(metric, reason)
        for metric, reason in unreadable.items():
            logger.warning("scan: metric '%s' is left out: %s", metric, reason)
        metrics = {name: i for i, name in enumerate(self.spec_cache.metrics)}
        specs = {
            (kind, name): i
            for kind, names in (("slice", self.spec_cache.slices), ("segment", self.spec_cache.segments))
            for i, name in enumerate(names)
        }
        kinds = {"slice": 0, "segment": 1}
        kept = sorted(
            (row for row in rows if row[0] not in unreadable),
            key=lambda r: (metrics.get(r[0], len(metrics)), kinds.get(r[2], 2), specs.get((r[2], r[1]), 0)),
        )
        return ScanResult(
            results=tuple(
                CompatibilityResult(
                    metric_name=metric,
                    spec_name=spec,
                    spec_type=kind,
                    compatible=compatible,
                    valid_join_keys=list(keys),
                    missing_columns=list(missing),
                    reason=reason,
                )
                for metric, spec, kind, compatible, keys, missing, reason in kept
            )
        )
