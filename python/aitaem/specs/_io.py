"""Reading spec YAML and writing specs back as YAML text for the native engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

from aitaem import _native
from aitaem.utils.validation import ValidationResult


def read_input(yaml_input: Union[str, Path]) -> Tuple[str, Optional[str]]:
    """The YAML text of ``yaml_input`` and the file it came from.

    A :class:`~pathlib.Path` is always a file (:class:`FileNotFoundError` if missing); a string
    naming an existing file is read as that file, and any other string is YAML text.
    """
    if isinstance(yaml_input, Path):
        if not yaml_input.exists():
            raise FileNotFoundError(f"Spec file not found: {yaml_input}")
        return yaml_input.read_text(encoding="utf-8"), str(yaml_input)
    text = str(yaml_input)
    try:
        is_file = "\n" not in text and Path(text).is_file()
    except (OSError, ValueError):  # longer than a path can be, or a NUL byte
        is_file = False
    if is_file:
        return Path(text).read_text(encoding="utf-8"), text
    return text, None


def parse(yaml_input: Union[str, Path], kind: str) -> Dict[str, Any]:
    """The fields of the spec of ``kind`` in ``yaml_input`` (see :func:`read_input`), validated."""
    text, path = read_input(yaml_input)
    return _native.parse_spec(text, kind, path)


def to_yaml(kind: str, document: Dict[str, Any]) -> str:
    """A spec as YAML text (JSON, which YAML reads)."""
    return json.dumps({kind: document}, ensure_ascii=False)


def validate(kind: str, document: Dict[str, Any]) -> ValidationResult:
    """Validates a spec's fields without raising."""
    errors, columns = _native.validate_spec(to_yaml(kind, document), kind)
    return ValidationResult(valid=not errors, errors=list(errors), referenced_columns=columns)


def named_values(values: Any) -> list:
    """``values`` as YAML: a list of ``{name, where}`` mappings."""
    return [{"name": v.name, "where": v.where} for v in values]
