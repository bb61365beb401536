"""aitaem.helpers.csv_to_duckdb - loading CSV files into a DuckDB database."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import List, Union

from aitaem import _native
from aitaem.connectors.ibis_connector import IbisConnector

logger = logging.getLogger(__name__)

_VALID_TABLE_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def load_csvs_to_duckdb(
    csv_path: Union[str, Path],
    db_path: Union[str, Path],
    overwrite: bool = True,
) -> IbisConnector:
    """Loads a CSV file, or every ``*.csv`` file directly in a directory, into a DuckDB
    database, each into a table named after the file (``events.csv`` → ``events``).

    Column types are inferred as by DuckDB's ``read_csv_auto``. All files load in one
    transaction: if one fails, the database is left as it was (and removed if the load created
    it).

    Args:
        csv_path: A CSV file or a directory of them.
        db_path: The database file (created if missing).
        overwrite: ``True`` (the default) replaces existing tables of the same names;
            ``False`` appends the rows to them (matching columns by name) and creates the
            tables that do not exist.

    Returns:
        A connector to the database, for ``ConnectionManager.add_connection("duckdb",
        connector=...)``.

    Raises:
        FileNotFoundError: if ``csv_path`` does not exist.
        ValueError: if ``csv_path`` is a file whose name is not a valid table name (letters,
            digits and ``_``, not starting with a digit). In a directory such files are
            skipped with a logged warning.
        QueryExecutionError: if a file cannot be loaded.

    Example:
        >>> import pathlib, tempfile
        >>> from aitaem.helpers import load_csvs_to_duckdb
        >>> tmp = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (tmp / "events.csv").write_text("day,clicks\\n2024-01-01,3\\n")
        >>> load_csvs_to_duckdb(tmp / "events.csv", tmp / "ads.duckdb").list_tables()
        ['events']
    """
    csv_path = Path(csv_path)
    db_path = Path(db_path)
    if not csv_path.exists():
        raise FileNotFoundError(f"CSV path not found: {csv_path}")
    files: List[Path] = []
    if csv_path.is_file():
        if not _VALID_TABLE_NAME.match(csv_path.stem):
            raise ValueError(
                f"Filename stem '{csv_path.stem}' is not a valid table name. "
                "Table names must start with a letter or underscore and "
                "contain only letters, digits, and underscores."
            )
        files.append(csv_path)
    else:
        for csv_file in sorted(csv_path.glob("*.csv")):
            if not _VALID_TABLE_NAME.match(csv_file.stem):
                logger.warning(
                    "Skipping '%s': filename stem '%s' is not a valid table name "
                    "(must start with a letter or underscore and contain only "
                    "letters, digits, and underscores).",
                    csv_file.name,
                    csv_file.stem,
                )
                continue
            files.append(csv_file)
    if not files:
        logger.warning("No valid CSV files found at '%s'.", csv_path)
    for file, table, rows in _native.load_csvs([str(f) for f in files], str(db_path), not overwrite):
        logger.debug("Loaded %d rows from '%s' into table '%s'.", rows, file, table)
    connector = IbisConnector("duckdb")
    connector.connect(str(db_path))
    return connector
