"""Loads the example project's data into the schema `ads` of a Spark Connect server.

    python examples/ads-spark/load.py sc://localhost:15002

Run from anywhere; it needs PySpark's Spark Connect client (`pip install "pyspark[connect]"`). The
CSV files of examples/ads/data are read here and sent to the server, so a remote cluster (or
Databricks, with its `sc://` URL) works as well as a local Spark. It creates the tables and refuses
to run when they already exist.
"""

import csv
import datetime
import pathlib
import sys

from pyspark.sql import SparkSession

DATA = pathlib.Path(__file__).resolve().parent.parent / "ads" / "data"

TABLES = {
    "events": (
        "event_id BIGINT, event_ts TIMESTAMP_NTZ, event_date DATE, user_id STRING, device_id STRING, "
        "buyer_id BIGINT, seller_id BIGINT, platform STRING, campaign_type STRING, channel STRING, "
        "device_type STRING, is_mobile BOOLEAN, country STRING, category STRING, impressions BIGINT, "
        "clicks BIGINT, conversions BIGINT, ad_spend DOUBLE, revenue DOUBLE, quantity BIGINT"
    ),
    "dim_users": "user_id STRING, tier STRING, region STRING",
    "dim_platforms": "platform STRING, platform_group STRING, is_paid BOOLEAN, owner STRING",
}

READ = {
    "BIGINT": int,
    "DOUBLE": float,
    "BOOLEAN": lambda v: v == "true",
    "DATE": datetime.date.fromisoformat,
    "TIMESTAMP_NTZ": datetime.datetime.fromisoformat,
    "STRING": str,
}


def rows(table: str, schema: str):
    """The CSV file's rows as Python values of the columns' types (an empty field is NULL)."""
    types = [READ[column.split()[1]] for column in schema.split(", ")]
    with open(DATA / f"{table}.csv", newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        for row in reader:
            yield tuple(None if v == "" else read(v) for read, v in zip(types, row))


def main() -> None:
    spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
    spark.sql("CREATE SCHEMA IF NOT EXISTS ads")
    for table, schema in TABLES.items():
        if spark.catalog.tableExists(f"ads.{table}"):
            sys.exit(f"ads.{table} exists already; drop it first to load it again")
        frame = spark.createDataFrame(list(rows(table, schema)), schema)
        frame.write.saveAsTable(f"ads.{table}")
        print(f"ads.{table}: {spark.table(f'ads.{table}').count()} rows")
    spark.stop()


if __name__ == "__main__":
    main()
