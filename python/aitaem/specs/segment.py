"""aitaem.specs.segment - SegmentSpec and SegmentValue."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Tuple, Union

from aitaem.specs import _io
from aitaem.utils.validation import ValidationResult


@dataclass(frozen=True)
class SegmentValue:
    """One value of a segment: entities whose dimension row satisfies ``where``."""

    name: str
    where: str


@dataclass(frozen=True)
class SegmentSpec:
    """A segment: a classification of entities, joined from a dimension table.

    Attributes:
        name: Unique name.
        source: The dimension table's URI.
        entity_id: The dimension table's key column.
        values: Named predicates over the dimension table's columns, or
        column: one or more dimension columns whose distinct values (joined with ``|``) are the
            segment values (``where:`` in YAML).
        description: Free text.
        join_keys: The fact-table columns allowed as join keys (empty: ``entity_id``'s name).

    Example:
        >>> from aitaem import SegmentSpec
        >>> seg = SegmentSpec.from_yaml('''
        ... segment:
        ...   name: platform_group
        ...   source: duckdb://ads.duckdb/dim_platforms
        ...   entity_id: platform
        ...   where: [platform_family, os]
        ... ''')
        >>> seg.column
        ('platform_family', 'os')
    """

    name: str
    source: str
    entity_id: str
    values: Tuple[SegmentValue, ...] = ()
    column: Tuple[str, ...] = ()
    description: str = ""
    join_keys: Tuple[str, ...] = ()

    @property
    def is_wildcard(self) -> bool:
        """Whether the values are the distinct values of one or more columns."""
        return bool(self.column)

    @classmethod
    def from_yaml(cls, yaml_input: Union[str, Path]) -> "SegmentSpec":
        """Loads and validates a segment from a YAML file or YAML text with a top-level
        ``segment:`` key (see :meth:`aitaem.MetricSpec.from_yaml`).

        Raises:
            SpecValidationError: if the spec is invalid.
            FileNotFoundError: if a :class:`~pathlib.Path` is given and does not exist.
        """
        return cls._from_fields(_io.parse(yaml_input, "segment"))

    @classmethod
    def _from_fields(cls, fields: Dict[str, Any]) -> "SegmentSpec":
        return cls(
            name=fields["name"],
            source=fields["source"],
            entity_id=fields["entity_id"],
            values=tuple(SegmentValue(name, where) for name, where in fields["values"]),
            column=tuple(fields["column"]),
            description=fields["description"],
            join_keys=tuple(fields["join_keys"]),
        )

    def validate(self) -> ValidationResult:
        """Validates the fields and returns a :class:`ValidationResult` (does not raise)."""
        return _io.validate("segment", self._document())

    def _document(self) -> Dict[str, Any]:
        doc: Dict[str, Any] = {
            "name": self.name,
            "source": self.source,
            "entity_id": self.entity_id,
        }
        if self.is_wildcard:
            doc["where"] = self.column[0] if len(self.column) == 1 else list(self.column)
        else:
            doc["values"] = _io.named_values(self.values)
        if self.join_keys:
            doc["join_keys"] = list(self.join_keys)
        if self.description:
            doc["description"] = self.description
        return doc
