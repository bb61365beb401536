"""aitaem.specs.metric - MetricSpec."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from aitaem.specs import _io
from aitaem.utils.validation import ValidationResult


@dataclass(frozen=True)
class MetricSpec:
    """A metric: an aggregate over a source table, optionally divided by a second aggregate
    and restricted to the rows a filter holds for; or a derived metric, arithmetic over other
    metrics (``expression``, without any of the table's fields).

    Attributes:
        name: Unique name (letters, digits and ``_``, not starting with a digit).
        source: The fact table's URI, e.g. ``duckdb://ads.duckdb/events``,
            ``postgres://public/events`` or ``bigquery://project.dataset.events``
            (``None`` for a derived metric).
        numerator: A SQL aggregate, e.g. ``SUM(clicks)`` (``None`` for a derived metric).
        timestamp_col: The column time windows and periods use (needed by any compute with a
            window or period).
        description: Free text.
        denominator: A second aggregate; its presence makes the metric a ratio.
        entities: Columns the metric may be computed per (``by_entity``).
        format: ``percentage``, ``absolute``, ``ratio``, ``currency`` or ``currency:XXX``.
        filter: A SQL predicate over the source's rows: only rows it holds for count, in the
            numerator and the denominator.
        expression: For a derived metric: ``+ - * /``, parentheses and numbers over other
            metrics' names, e.g. ``revenue / unique_users``.

    Example:
        >>> from aitaem import MetricSpec
        >>> spec = MetricSpec.from_yaml('''
        ... metric:
        ...   name: ctr
        ...   source: duckdb://ads.duckdb/events
        ...   numerator: SUM(clicks)
        ...   denominator: SUM(impressions)
        ...   timestamp_col: event_ts
        ... ''')
        >>> spec.denominator
        'SUM(impressions)'
        >>> spec.validate().referenced_columns["numerator"]
        ['clicks']
        >>> rpc = MetricSpec.from_yaml('''
        ... metric:
        ...   name: revenue_per_click
        ...   expression: revenue / clicks
        ... ''')
        >>> (rpc.expression, rpc.source)
        ('revenue / clicks', None)
    """

    name: str
    source: Optional[str] = None
    numerator: Optional[str] = None
    timestamp_col: Optional[str] = None
    description: str = ""
    denominator: Optional[str] = None
    entities: Optional[List[str]] = None
    format: Optional[str] = None
    filter: Optional[str] = None
    expression: Optional[str] = None

    @classmethod
    def from_yaml(cls, yaml_input: Union[str, Path]) -> "MetricSpec":
        """Loads and validates a metric from a YAML file (a :class:`~pathlib.Path`, or a string
        naming an existing file) or from YAML text with a top-level ``metric:`` key.

        Raises:
            SpecValidationError: if the spec is invalid (every problem, with line and column).
            FileNotFoundError: if a :class:`~pathlib.Path` is given and does not exist.
        """
        return cls._from_fields(_io.parse(yaml_input, "metric"))

    @classmethod
    def _from_fields(cls, fields: Dict[str, Any]) -> "MetricSpec":
        return cls(**fields)

    def validate(self) -> ValidationResult:
        """Validates the fields and returns a :class:`ValidationResult` (does not raise)."""
        return _io.validate("metric", self._document())

    def _document(self) -> Dict[str, Any]:
        doc: Dict[str, Any] = {"name": self.name}
        if self.source is not None:
            doc["source"] = self.source
        if self.numerator is not None:
            doc["numerator"] = self.numerator
        if self.expression is not None:
            doc["expression"] = self.expression
        if self.filter is not None:
            doc["filter"] = self.filter
        if self.denominator is not None:
            doc["denominator"] = self.denominator
        if self.timestamp_col is not None:
            doc["timestamp_col"] = self.timestamp_col
        if self.entities is not None:
            doc["entities"] = list(self.entities)
        if self.format is not None:
            doc["format"] = self.format
        if self.description:
            doc["description"] = self.description
        return doc
