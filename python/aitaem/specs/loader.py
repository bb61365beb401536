"""aitaem.specs.loader - SpecCache and spec loading functions."""

from __future__ import annotations

import contextlib
import logging
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Type, Union

from aitaem import _native
from aitaem.specs import _io
from aitaem.specs.metric import MetricSpec
from aitaem.specs.segment import SegmentSpec
from aitaem.specs.slice import SliceSpec
from aitaem.utils.exceptions import SpecValidationError

logger = logging.getLogger(__name__)

AnySpec = Union[MetricSpec, SliceSpec, SegmentSpec]
SpecType = Union[Type[MetricSpec], Type[SliceSpec], Type[SegmentSpec]]
PathsArg = Union[str, Path, Sequence[Union[str, Path]], None]
TextsArg = Union[str, Sequence[str], None]

_CLASSES: Dict[str, Any] = {"metric": MetricSpec, "slice": SliceSpec, "segment": SegmentSpec}


def _kind_of(spec: Any) -> str:
    for kind, cls in _CLASSES.items():
        if isinstance(spec, cls):
            return kind
    raise TypeError(f"Unsupported spec type: {type(spec).__name__}")


def _kind_of_class(spec_type: SpecType) -> str:
    for kind, cls in _CLASSES.items():
        if spec_type is cls:
            return kind
    raise TypeError(f"Unsupported spec type: {spec_type!r}")


def _paths(paths: PathsArg) -> List[str]:
    if paths is None:
        return []
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out = []
    for path in paths:
        if not Path(path).exists():
            raise FileNotFoundError(f"Spec path not found: {path}")
        out.append(str(path))
    return out


def _texts(texts: TextsArg) -> List[str]:
    if texts is None:
        return []
    if isinstance(texts, str):
        return [texts]
    return list(texts)


def load_spec_from_file(path: Union[str, Path], spec_type: SpecType) -> AnySpec:
    """Loads one spec of ``spec_type`` (``MetricSpec``, ``SliceSpec`` or ``SegmentSpec``)
    from a YAML file.

    Raises:
        FileNotFoundError: if the file does not exist.
        SpecValidationError: if the spec is invalid.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Spec file not found: {path}")
    return spec_type.from_yaml(path)


def load_spec_from_string(yaml_string: str, spec_type: SpecType) -> AnySpec:
    """Loads one spec of ``spec_type`` from YAML text.

    Raises:
        SpecValidationError: if the spec is invalid.
    """
    kind = _kind_of_class(spec_type)
    return spec_type._from_fields(_native.parse_spec(yaml_string, kind, None))


def load_specs_from_directory(directory: Union[str, Path], spec_type: SpecType) -> Dict[str, AnySpec]:
    """Loads every ``*.yaml`` / ``*.yml`` file of a directory as a spec of ``spec_type``, by
    name. Unlike :meth:`SpecCache.from_yaml`, files that fail to load are skipped with a
    logged warning.

    Raises:
        ValueError: if ``directory`` does not exist or is not a directory.
    """
    directory = Path(directory)
    if not directory.exists():
        raise ValueError(f"Directory does not exist: {directory}")
    if not directory.is_dir():
        raise ValueError(f"Expected a directory, got a file: {directory}")
    specs: Dict[str, AnySpec] = {}
    for file_path in sorted(list(directory.glob("*.yaml")) + list(directory.glob("*.yml"))):
        try:
            spec = spec_type.from_yaml(file_path)
        except (SpecValidationError, OSError) as e:
            logger.warning("Skipping '%s': %s", file_path, e)
            continue
        if spec.name in specs:
            logger.warning(
                "Duplicate spec name '%s' found in '%s'. Overwriting previous definition.",
                spec.name,
                file_path,
            )
        specs[spec.name] = spec
    return specs


def _names_in_files(kind: str, paths: List[str]) -> List[str]:
    """The names of the specs of ``kind`` in these files and directories, in the order they are
    read: the paths as given, a directory's ``*.yaml`` and ``*.yml`` files sorted by path."""
    files: List[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(list(path.glob("*.yaml")) + list(path.glob("*.yml"))))
        else:
            files.append(path)
    names = []
    for file in files:
        try:
            names.append(_native.parse_spec(file.read_text(encoding="utf-8"), kind, str(file))["name"])
        except Exception:  # a file of several specs: those follow by name
            continue
    return names


@contextlib.contextmanager
def _named_duplicates() -> Iterator[None]:
    """A load that fails on a name defined twice says which name (``SpecValidationError.name``),
    as the original's loads do."""
    try:
        yield
    except SpecValidationError as e:
        if e.name is None:
            for error in e.errors:
                found = re.match(r"Duplicate \w+ name `([^`]+)`", error.message)
                if found:
                    e.name = found.group(1)
                    break
        raise


class SpecCache:
    """Every metric, slice and segment of a session, validated together.

    Loading is eager and all-or-nothing: every file is read and validated, names must be unique
    per kind, and composite slices must name existing, non-composite slices. One invalid spec
    fails the whole load with a :class:`SpecValidationError` that lists every problem with its
    file, line and column.

    Example:
        >>> from aitaem import SpecCache
        >>> cache = SpecCache.from_string(
        ...     metric_yaml="metric:\\n  name: clicks\\n  source: duckdb://ads.duckdb/events\\n"
        ...     "  numerator: SUM(clicks)\\n  timestamp_col: event_ts\\n",
        ...     slice_yaml="slice:\\n  name: country\\n  where: country\\n",
        ... )
        >>> cache.get_metric("clicks").numerator
        'SUM(clicks)'
        >>> sorted(cache.slices)
        ['country']
    """

    def __init__(self) -> None:
        """An empty cache; use :meth:`from_yaml` or :meth:`from_string` to load specs, or
        :meth:`add`."""
        # The engine's store validates every change; these hold the spec objects themselves,
        # in the order they came in, so that a spec added is the one given back.
        self._store = _native.SpecStore()
        self._metrics: Dict[str, MetricSpec] = {}
        self._slices: Dict[str, SliceSpec] = {}
        self._segments: Dict[str, SegmentSpec] = {}

    @classmethod
    def _wrap(cls, store: Any, order: Optional[Dict[str, List[str]]] = None) -> "SpecCache":
        """A cache over a loaded store; ``order`` lists each kind's names in declaration order
        (the rest follow by name)."""
        cache = cls()
        cache._store = store
        for kind, spec_class in _CLASSES.items():
            specs = {f["name"]: spec_class._from_fields(f) for f in store.specs(kind)}
            first = [n for n in (order or {}).get(kind, []) if n in specs]
            specs_of = cache._of(kind)
            for name in first + [n for n in specs if n not in first]:
                specs_of.setdefault(name, specs[name])
        return cache

    def _of(self, kind: str) -> Dict[str, Any]:
        return {"metric": self._metrics, "slice": self._slices, "segment": self._segments}[kind]

    @classmethod
    def from_yaml(
        cls,
        metric_paths: PathsArg = None,
        slice_paths: PathsArg = None,
        segment_paths: PathsArg = None,
    ) -> "SpecCache":
        """Loads specs from YAML files or directories (every ``*.yaml`` / ``*.yml`` file in a
        directory). Each argument is a path or a list of paths.

        Raises:
            FileNotFoundError: if a path does not exist.
            SpecValidationError: if any spec is invalid.
        """
        paths = {"metric": _paths(metric_paths), "slice": _paths(slice_paths),
                 "segment": _paths(segment_paths)}
        with _named_duplicates():
            store = _native.SpecStore.load(paths["metric"], paths["slice"], paths["segment"])
        return cls._wrap(store, {kind: _names_in_files(kind, p) for kind, p in paths.items()})

    @classmethod
    def from_string(
        cls,
        metric_yaml: TextsArg = None,
        slice_yaml: TextsArg = None,
        segment_yaml: TextsArg = None,
    ) -> "SpecCache":
        """Loads specs from YAML text: each argument is one spec's YAML or a list of them.

        Raises:
            SpecValidationError: if any spec is invalid.
        """
        texts = {kind: _texts(t) for kind, t in
                 (("metric", metric_yaml), ("slice", slice_yaml), ("segment", segment_yaml))}
        with _named_duplicates():
            store = _native.SpecStore.from_strings(
                texts["metric"], texts["slice"], texts["segment"]
            )
        order = {kind: [_native.parse_spec(t, kind, None)["name"] for t in ts]
                 for kind, ts in texts.items()}
        return cls._wrap(store, order)

    def add(self, spec: AnySpec) -> None:
        """Adds a spec. The cache is unchanged if it fails.

        Raises:
            SpecValidationError: if the spec is invalid, its name is taken, or (a composite
                slice) its components are missing or composite.
        """
        kind = _kind_of(spec)
        self._store.add(kind, _io.to_yaml(kind, spec._document()))
        self._of(kind)[spec.name] = spec

    def update(self, spec: AnySpec) -> None:
        """Replaces the spec of the same kind and name. The cache is unchanged if it fails.

        Raises:
            SpecNotFoundError: if there is no such spec.
            SpecValidationError: if the spec is invalid or breaks a composite slice.
        """
        kind = _kind_of(spec)
        self._store.update(kind, _io.to_yaml(kind, spec._document()))
        self._of(kind)[spec.name] = spec

    def remove(self, spec_type: str, name: str) -> None:
        """Removes the spec of ``spec_type`` (``"metric"``, ``"slice"`` or ``"segment"``)
        called ``name``.

        Raises:
            SpecNotFoundError: if there is no such spec.
            SpecValidationError: if a composite slice uses it (the cache is unchanged).
        """
        if spec_type not in _CLASSES:
            raise ValueError(f"Unknown spec_type: {spec_type!r}")
        self._store.remove(spec_type, name)
        self._of(spec_type).pop(name, None)

    def clear(self) -> None:
        """Removes every spec."""
        self._store.clear()
        for kind in _CLASSES:
            self._of(kind).clear()

    @property
    def version(self) -> int:
        """A counter that increases with every change (add, update, remove, clear)."""
        return self._store.version

    @property
    def metrics(self) -> Mapping[str, MetricSpec]:
        """Read-only mapping of metric name to :class:`MetricSpec`, in the order they came in."""
        return MappingProxyType(self._metrics)

    @property
    def slices(self) -> Mapping[str, SliceSpec]:
        """Read-only mapping of slice name to :class:`SliceSpec`, in the order they came in."""
        return MappingProxyType(self._slices)

    @property
    def segments(self) -> Mapping[str, SegmentSpec]:
        """Read-only mapping of segment name to :class:`SegmentSpec`, in the order they came in."""
        return MappingProxyType(self._segments)

    def _get(self, kind: str, name: str) -> Any:
        found = self._of(kind).get(name)
        if found is None:
            self._store.get(kind, name)  # raises SpecNotFoundError, with suggestions
        return found

    def get_metric(self, name: str) -> MetricSpec:
        """The metric called ``name`` (:class:`SpecNotFoundError` if none)."""
        return self._get("metric", name)

    def get_slice(self, name: str) -> SliceSpec:
        """The slice called ``name`` (:class:`SpecNotFoundError` if none)."""
        return self._get("slice", name)

    def get_segment(self, name: str) -> SegmentSpec:
        """The segment called ``name`` (:class:`SpecNotFoundError` if none)."""
        return self._get("segment", name)

    def __repr__(self) -> str:
        return (
            f"SpecCache(metrics={len(self.metrics)}, slices={len(self.slices)}, "
            f"segments={len(self.segments)})"
        )
