"""aitaem.helpers - conveniences for users."""

from aitaem.helpers.csv_to_duckdb import load_csvs_to_duckdb

__all__ = ["load_csvs_to_duckdb"]
