"""Runs Spark SQL statements on a Spark Connect server with PySpark's own client, independently
of aitaem: `python spark_sql.py sc://host:port < statements`. Statements are separated by a line
holding only `;`. Prints one JSON line per statement: its rows, each value as text (NULL: null).
"""

import json
import signal
import sys
import warnings

warnings.simplefilter("ignore")

from pyspark.sql import SparkSession  # noqa: E402

# Never a hang: a test's setup that takes ten minutes has failed.
signal.alarm(600)
spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
for statement in sys.stdin.read().split("\n;\n"):
    if statement.strip():
        rows = spark.sql(statement).collect()
        print(json.dumps([[None if v is None else str(v) for v in row] for row in rows]))
spark.stop()
