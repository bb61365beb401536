"""The public API has the original library's names, import paths, signatures, defaults,
exception hierarchy and constants (as listed in its documentation)."""

from __future__ import annotations

import inspect

import aitaem


def params(func) -> list:
    """``name=default`` for each parameter (``name`` when it has no default)."""
    out = []
    for p in inspect.signature(func).parameters.values():
        if p.name == "self":
            continue
        if p.kind is p.KEYWORD_ONLY and "*" not in out:
            out.append("*")
        if p.kind is p.VAR_KEYWORD:
            out.append(f"**{p.name}")
        elif p.default is inspect.Parameter.empty:
            out.append(p.name)
        else:
            out.append(f"{p.name}={p.default!r}")
    return out


def test_import_paths() -> None:
    from aitaem.connectors import ConnectionManager, IbisConnector  # noqa: F401
    from aitaem.helpers import load_csvs_to_duckdb  # noqa: F401
    from aitaem.insights import MetricCompute  # noqa: F401
    from aitaem.specs import (  # noqa: F401
        MetricSpec,
        SegmentSpec,
        SegmentValue,
        SliceSpec,
        SliceValue,
        SpecCache,
    )
    from aitaem.utils.exceptions import AitaemError  # noqa: F401

    for name in aitaem.__all__:
        assert hasattr(aitaem, name), name
    assert isinstance(aitaem.__version__, str)


def test_signatures() -> None:
    assert params(aitaem.SpecCache.from_yaml) == ["metric_paths=None", "slice_paths=None", "segment_paths=None"]
    assert params(aitaem.SpecCache.from_string) == ["metric_yaml=None", "slice_yaml=None", "segment_yaml=None"]
    assert params(aitaem.SpecCache.remove) == ["spec_type", "name"]
    assert params(aitaem.ConnectionManager) == ["tmp_dir='/tmp'"]
    assert params(aitaem.ConnectionManager.from_yaml) == ["yaml_path", "tmp_dir='/tmp'"]
    assert params(aitaem.ConnectionManager.add_connection) == ["backend_type", "connector=None", "**config"]
    assert params(aitaem.MetricCompute) == ["spec_cache", "connection_manager"]
    # The original's parameters, then keyword-only options it does not have.
    assert params(aitaem.MetricCompute.compute) == [
        "metrics",
        "slices=None",
        "segments=None",
        "time_window=None",
        "period_type='all_time'",
        "by_entity=None",
        "*",
        "week_start='monday'",
        "fill_gaps=False",
        "compare=None",
        "share=False",
        "cumulative=False",
        "rolling=None",
        "where=None",
    ]
    from aitaem.helpers import load_csvs_to_duckdb

    assert params(load_csvs_to_duckdb) == ["csv_path", "db_path", "overwrite=True"]
    assert params(aitaem.IbisConnector.get_table) == ["table_name", "database=None"]
    fields = lambda cls: [f for f in cls.__dataclass_fields__]  # noqa: E731
    # The original's fields, in its order, then the fields of filters and derived metrics.
    assert fields(aitaem.MetricSpec) == [
        "name", "source", "numerator", "timestamp_col", "description", "denominator", "entities", "format",
        "filter", "expression",
    ]
    assert fields(aitaem.SliceSpec) == ["name", "values", "cross_product", "column", "description"]
    assert fields(aitaem.SegmentSpec) == [
        "name", "source", "entity_id", "values", "column", "description", "join_keys",
    ]
    assert fields(aitaem.CompatibilityResult) == [
        "metric_name", "spec_name", "spec_type", "compatible", "valid_join_keys", "missing_columns", "reason",
    ]


def test_exception_hierarchy() -> None:
    from aitaem.utils import exceptions

    subclasses = [
        "AitaemConnectionError",
        "ConnectionNotFoundError",
        "TableNotFoundError",
        "ConfigurationError",
        "InvalidURIError",
        "UnsupportedBackendError",
        "QueryBuildError",
        "QueryExecutionError",
        "SpecValidationError",
        "SpecNotFoundError",
    ]
    assert aitaem.AitaemError.__bases__ == (Exception,)
    for name in subclasses:
        cls = getattr(exceptions, name)
        assert cls.__bases__ == (aitaem.AitaemError,), name
        assert getattr(aitaem, name) is cls
    err = aitaem.SpecValidationError("metric", "ctr", [])
    assert (err.spec_type, err.name, err.errors) == ("metric", "ctr", [])
    assert str(aitaem.SpecNotFoundError("slice", "x", [])) == "no slice named `x`"


def test_constants() -> None:
    assert aitaem.STANDARD_COLUMNS == [
        "period_type", "period_start_date", "period_end_date", "entity_id", "metric_name",
        "metric_format", "slice_type", "slice_value", "segment_name", "segment_value", "metric_value",
    ]
    # The original's period types, and quarters.
    assert aitaem.VALID_PERIOD_TYPES == frozenset(
        {"all_time", "hourly", "daily", "weekly", "monthly", "yearly", "quarterly"}
    )
    assert aitaem.METRIC_FORMAT_VALUES == frozenset({"percentage", "absolute", "ratio", "currency"})
