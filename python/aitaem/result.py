"""aitaem.result - the table a computation returns."""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

import pyarrow as pa



class ComputeResult:
    """The standard 11-column table of a computation, held in memory as Arrow data.

    It converts without copying where the target allows: :meth:`to_pyarrow`, :meth:`to_pandas`
    (also :meth:`execute`), :meth:`to_polars`, and :meth:`to_ibis` (an ibis memtable), and it
    implements the Arrow PyCapsule interface (``__arrow_c_stream__``), so that
    ``pyarrow.table(result)``, ``polars.DataFrame(result)`` and DuckDB's
    ``duckdb.sql("SELECT * FROM result")`` read it directly.

    Attributes:
        warnings: One message per source whose statement failed while others succeeded (also
            logged); empty when everything succeeded.
        notices: What else to know about the result (also logged): how a source was found, and
            each option that gives NULL for a metric, with the reason (``share_of_total`` of a
            ratio or a median).
    """

    def __init__(self, table: Any) -> None:
        self._table = table
        self.warnings: List[str] = list(table.warnings)
        self.notices: List[str] = list(table.notices)

    @property
    def columns(self) -> Tuple[str, ...]:
        """The column names, in order: :data:`aitaem.STANDARD_COLUMNS`, then the columns that
        ``compare``, ``share``, ``cumulative`` and ``rolling`` add."""
        return tuple(self.schema.names)

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema: ten string columns and a float64 ``metric_value`` (and float64
        derived columns)."""
        return pa.schema(self._table)

    def __len__(self) -> int:
        return int(self._table.num_rows)

    def __arrow_c_stream__(self, requested_schema: Optional[Any] = None) -> Any:
        """The table as an Arrow C stream (the Arrow PyCapsule interface)."""
        return self._table.__arrow_c_stream__(requested_schema)

    def __arrow_c_schema__(self) -> Any:
        """The table's Arrow C schema (the Arrow PyCapsule interface)."""
        return self._table.__arrow_c_schema__()

    def to_pyarrow(self) -> pa.Table:
        """The result as a :class:`pyarrow.Table` (no copy)."""
        return pa.RecordBatchReader.from_stream(self._table).read_all()

    def to_pyarrow_batches(self) -> pa.RecordBatchReader:
        """The result as a :class:`pyarrow.RecordBatchReader`."""
        return pa.RecordBatchReader.from_stream(self._table)

    def to_pandas(self) -> Any:
        """The result as a :class:`pandas.DataFrame` (needs pandas)."""
        _require("pandas", "to_pandas()")
        return self.to_pyarrow().to_pandas()

    def execute(self) -> Any:
        """The result as a :class:`pandas.DataFrame`, like :meth:`to_pandas`."""
        return self.to_pandas()

    def to_polars(self) -> Any:
        """The result as a :class:`polars.DataFrame` (needs polars)."""
        polars = _require("polars", "to_polars()")
        return polars.from_arrow(self.to_pyarrow())

    def to_ibis(self) -> Any:
        """The result as an ibis memtable, for chaining ibis expressions (needs ibis)."""
        ibis = _require("ibis", "to_ibis()", package="ibis-framework")
        return ibis.memtable(self.to_pyarrow())

    def __repr__(self) -> str:
        return f"<ComputeResult: {len(self)} rows x {len(self.columns)} columns>"

    def _repr_html_(self) -> Optional[str]:
        try:
            import pandas  # noqa: F401
        except ImportError:
            return None
        frame = self.to_pyarrow().slice(0, 50).to_pandas()
        return f"<p>{len(self)} rows</p>" + frame._repr_html_()


def _require(module: str, method: str, package: Optional[str] = None) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"{method} needs {module}: pip install {package or module}"
        ) from None
