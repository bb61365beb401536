"""The result object: every conversion, the Arrow PyCapsule interface, no copies."""

from __future__ import annotations

import pyarrow as pa
import pytest

import aitaem
from aitaem import MetricCompute


@pytest.fixture
def result(ads_compute: MetricCompute) -> aitaem.ComputeResult:
    return ads_compute.compute(["revenue", "ctr"], slices="device", by_entity=None)


def test_shape_and_types(result: aitaem.ComputeResult, oracle) -> None:
    ((devices,),) = oracle("SELECT COUNT(DISTINCT device_type) FROM events")
    assert len(result) == 2 * (devices + 1)
    assert result.columns == tuple(aitaem.STANDARD_COLUMNS)
    schema = result.schema
    assert schema.names == aitaem.STANDARD_COLUMNS
    assert all(schema.field(c).type == pa.string() for c in aitaem.STANDARD_COLUMNS[:-1])
    assert schema.field("metric_value").type == pa.float64()
    assert "rows" in repr(result)


def test_conversions_agree(result: aitaem.ComputeResult) -> None:
    table = result.to_pyarrow()
    expected = sorted(zip(table["metric_name"].to_pylist(), table["slice_value"].to_pylist(), table["metric_value"].to_pylist()))

    frame = result.to_pandas()
    assert list(frame.columns) == aitaem.STANDARD_COLUMNS
    assert sorted(zip(frame["metric_name"], frame["slice_value"], frame["metric_value"])) == expected
    assert result.execute().equals(frame)

    polars = pytest.importorskip("polars")
    pl_frame = result.to_polars()
    assert isinstance(pl_frame, polars.DataFrame)
    assert sorted(pl_frame.select(["metric_name", "slice_value", "metric_value"]).rows()) == expected
    assert polars.DataFrame(result).shape == (len(result), 11)

    ibis = pytest.importorskip("ibis")
    expr = result.to_ibis()
    assert isinstance(expr, ibis.expr.types.Table)
    assert expr.filter(expr.metric_name == "ctr").count().execute() == len(result) // 2

    batches = result.to_pyarrow_batches()
    assert sum(b.num_rows for b in batches) == len(result)


def test_arrow_stream_is_read_without_copying(result: aitaem.ComputeResult) -> None:
    first = pa.table(result)
    second = pa.RecordBatchReader.from_stream(result).read_all()
    assert first.equals(result.to_pyarrow())
    # Both imports point at the same buffers: the data was not copied.
    address = lambda t: t.column("metric_value").chunk(0).buffers()[1].address  # noqa: E731
    assert address(first) == address(second)
    duckdb = pytest.importorskip("duckdb")
    ((count,),) = duckdb.sql("SELECT COUNT(*) FROM result").fetchall()
    assert count == len(result)
    assert pa.schema(result).names == aitaem.STANDARD_COLUMNS


def test_empty_results_keep_the_schema(ads_compute: MetricCompute) -> None:
    empty = ads_compute.compute("revenue", time_window=("1990-01-01", "1990-02-01"), period_type="daily")
    assert len(empty) == 0
    assert empty.to_pyarrow().schema.names == aitaem.STANDARD_COLUMNS
    assert list(empty.to_pandas().columns) == aitaem.STANDARD_COLUMNS
