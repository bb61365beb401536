"""aitaem.specs.slice - SliceSpec and SliceValue."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Tuple, Union

from aitaem.specs import _io
from aitaem.utils.validation import ValidationResult


@dataclass(frozen=True)
class SliceValue:
    """One value of a slice: rows for which ``where`` is true belong to ``name``."""

    name: str
    where: str


@dataclass(frozen=True)
class SliceSpec:
    """A slice: a breakdown of a metric's rows. Exactly one of three kinds:

    - **values**: named predicates (a row counts in every value it satisfies);
    - **column** (``where: country`` in YAML): each distinct value of the column;
    - **cross_product**: every combination of the values of two or more other slices.

    Example:
        >>> from aitaem import SliceSpec
        >>> SliceSpec.from_yaml("slice:\\n  name: country\\n  where: country\\n").is_wildcard
        True
    """

    name: str
    values: Tuple[SliceValue, ...] = ()
    cross_product: Tuple[str, ...] = ()
    column: str = ""
    description: str = ""

    @property
    def is_composite(self) -> bool:
        """Whether this is a cross product of other slices."""
        return bool(self.cross_product)

    @property
    def is_wildcard(self) -> bool:
        """Whether the values are a column's distinct values."""
        return bool(self.column)

    @classmethod
    def from_yaml(cls, yaml_input: Union[str, Path]) -> "SliceSpec":
        """Loads and validates a slice from a YAML file or YAML text with a top-level
        ``slice:`` key (see :meth:`aitaem.MetricSpec.from_yaml`).

        Raises:
            SpecValidationError: if the spec is invalid.
            FileNotFoundError: if a :class:`~pathlib.Path` is given and does not exist.
        """
        return cls._from_fields(_io.parse(yaml_input, "slice"))

    @classmethod
    def _from_fields(cls, fields: Dict[str, Any]) -> "SliceSpec":
        return cls(
            name=fields["name"],
            values=tuple(SliceValue(name, where) for name, where in fields["values"]),
            cross_product=tuple(fields["cross_product"]),
            column=fields["column"],
            description=fields["description"],
        )

    def validate(self) -> ValidationResult:
        """Validates the fields and returns a :class:`ValidationResult` (does not raise)."""
        return _io.validate("slice", self._document())

    def _document(self) -> Dict[str, Any]:
        doc: Dict[str, Any] = {"name": self.name}
        if self.is_composite:
            doc["cross_product"] = list(self.cross_product)
        elif self.is_wildcard:
            doc["where"] = self.column
        else:
            doc["values"] = _io.named_values(self.values)
        if self.description:
            doc["description"] = self.description
        return doc
