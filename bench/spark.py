#!/usr/bin/env python3
"""Benchmark on Spark (Spark Connect): aitaem and the hand-written statements.

    python3 bench/spark.py                                   # 1M rows, W1-W3; a local Spark
    python3 bench/spark.py --sizes 1m,10m --runs 5
    python3 bench/spark.py --url sc://host:15002             # an existing server

Without --url, starts a local Spark Connect server (`local[2]`, UTC, 4 GB of driver memory) from
PyPI's pyspark in ~/.cache/aitaem/spark-venv (which scripts/test.sh installs) on a free port, and
stops it afterwards. For each size it loads the benchmark's tables (the same rows as the DuckDB
benchmark, written as CSV by examples/generate_events.rs and read by the server) into the schema
`bench_<size>` as Parquet tables, then runs every workload with:

  aitaem warm     MetricCompute::compute in one process (examples/compute_warm.rs)
  aitaem CLI      one process per run, writing the CSV
  two-stage SQL   the hand-written statement that aggregates to the finest label combination
                  first (anchor.py --variant rollup --dialect spark), run by PySpark's Spark
                  Connect client to Arrow (`spark.sql(...).toArrow()`), in the same process after
                  a first run
  grouping sets   the hand-written GROUPING SETS statement, the same way

The original library has no Spark backend. Rows of every statement are compared with aitaem's
before any time is reported. The report replaces the "On Spark" section of bench/RESULTS.md
(--results - prints it only).
"""
import argparse
import datetime
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import anchor  # noqa: E402
import compare  # noqa: E402
import report as report_file  # noqa: E402
import run as duck  # noqa: E402

TYPES = {"BIGINT": "BIGINT", "INTEGER": "INT", "VARCHAR": "STRING", "DOUBLE": "DOUBLE",
         "TIMESTAMP": "TIMESTAMP_NTZ", "DATE": "DATE", "BOOLEAN": "BOOLEAN"}
TABLES = ["events", "dim_platforms", "dim_users"]
SECTION = "## On Spark"
VENV = os.path.expanduser("~/.cache/aitaem/spark-venv")
PYTHON = os.path.join(VENV, "bin", "python")

# Runs in the virtualenv's Python: statements from a JSON file, each timed `runs` times after a
# first run that writes its result as CSV; prints the times as JSON.
CLIENT = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
import pyarrow.csv
from pyspark.sql import SparkSession
url, jobs = sys.argv[1], json.load(open(sys.argv[2]))
spark = SparkSession.builder.remote(url).getOrCreate()
out = {}
for job in jobs:
    for statement in job.get("setup", []):
        spark.sql(statement).collect()
    if "sql" not in job:
        continue
    table = spark.sql(job["sql"]).toArrow()
    if job.get("out"):
        pyarrow.csv.write_csv(table, job["out"])
    times = []
    for _ in range(job["runs"]):
        start = time.perf_counter()
        spark.sql(job["sql"]).toArrow()
        times.append(time.perf_counter() - start)
    out[job["name"]] = times
print(json.dumps(out))
"""


def client(url, jobs):
    """Runs `jobs` (see CLIENT) with PySpark's client; returns each timed job's times."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(jobs, f)
    try:
        out = subprocess.run([PYTHON, "-c", CLIENT, url, f.name], check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"the Spark client failed:\n{e.stderr[-3000:]}")
    finally:
        os.unlink(f.name)
    return json.loads(out.stdout.strip().splitlines()[-1])


class Server:
    """A local Spark Connect server, as scripts/test.sh starts one."""

    def __init__(self):
        if not os.path.exists(PYTHON):
            raise SystemExit(f"no Spark in {VENV}: run scripts/test.sh once, or "
                             f"python3 -m venv {VENV} && {VENV}/bin/pip install 'pyspark[connect]==4.3.0'")
        home = subprocess.run([PYTHON, "-c", "import os, pyspark; print(os.path.dirname(pyspark.__file__))"],
                              check=True, capture_output=True, text=True).stdout.strip()
        self.root = tempfile.mkdtemp(prefix="aitaem-bench-spark-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = dict(os.environ, SPARK_HOME=home, SPARK_CONF_DIR=self.root, SPARK_LOG_DIR=self.root,
                   SPARK_PID_DIR=self.root)
        self.log = open(os.path.join(self.root, "server.log"), "w")
        self.process = subprocess.Popen(
            [f"{home}/sbin/start-connect-server.sh", "--wait", "--master", "local[2]",
             "--conf", f"spark.connect.grpc.binding.port={self.port}",
             "--conf", "spark.sql.session.timeZone=UTC", "--conf", "spark.driver.memory=4g",
             "--conf", "spark.ui.enabled=false", "--conf", f"spark.sql.warehouse.dir={self.root}/warehouse",
             "--conf", "spark.driver.extraJavaOptions=-Duser.timezone=UTC"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                break
            except OSError:
                if self.process.poll() is not None:
                    raise SystemExit(open(self.log.name).read()[-3000:])
                time.sleep(1)
        self.url = f"sc://127.0.0.1:{self.port}"

    def stop(self):
        import signal
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)


def load(bins, url, data, size):
    """Loads the size's tables into schema bench_<size> (the server reads the CSV files)."""
    schema = f"bench_{size}"
    csv_dir = os.path.join(data, "csv")
    if not os.path.exists(os.path.join(csv_dir, "events.csv")):
        subprocess.run([bins["generate"], "--rows", str(duck.SIZES[size]), "--csv", "--out", csv_dir], check=True)
    setup = [f"DROP SCHEMA IF EXISTS {schema} CASCADE", f"CREATE SCHEMA {schema}"]
    for table in TABLES:
        described = subprocess.run([bins["aitaem"], "describe", f"duckdb://{csv_dir}/{table}.csv"],
                                   capture_output=True, text=True, check=True).stdout.splitlines()[1:]
        columns = ", ".join(f"`{name}` {TYPES[kind.strip()]}" for name, kind in
                            (line.split(None, 1) for line in described))
        setup += [
            f"CREATE OR REPLACE TEMPORARY VIEW csv_{table} ({columns}) USING csv "
            f"OPTIONS (path '{csv_dir}/{table}.csv', header 'true', escape '\"', multiLine 'true')",
            f"CREATE TABLE {schema}.{table} USING parquet AS SELECT * FROM csv_{table}",
        ]
    print(f"loading {size} rows into Spark ({schema}) ...", file=sys.stderr)
    client(url, [{"name": "load", "setup": setup}])
    return schema


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("AITAEM_BENCH_SPARK"))
    ap.add_argument("--sizes", default="1m")
    ap.add_argument("--workloads", default="W1,W2,W3")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--profile", choices=["release", "dev"], default="release")
    ap.add_argument("--data", default=os.environ.get("AITAEM_BENCH_DATA",
                                                      os.path.join(tempfile.gettempdir(), "aitaem-bench")))
    ap.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"))
    args = ap.parse_args()

    with open(os.path.join(HERE, "workloads.json")) as f:
        workloads = json.load(f)
    bins = duck.build(args.profile)
    server = None if args.url else Server()
    url = args.url or server.url
    rows = []
    try:
        version = subprocess.run([PYTHON, "-c", "import pyspark; print(pyspark.__version__)"],
                                 capture_output=True, text=True).stdout.strip()
        for size in args.sizes.split(","):
            data = duck.ensure_data(bins, args.data, size)
            schema = load(bins, url, data, size)
            work = tempfile.mkdtemp(prefix=f"aitaem-bench-spark-{size}-")
            specs = duck.specs_on(f"spark://{schema}.", os.path.join(work, "specs"))
            with open(os.path.join(work, "connections.yaml"), "w") as f:
                f.write(f"spark:\n  url: {url}\n")
            for name in args.workloads.split(","):
                wl = workloads[name]
                out = lambda engine: os.path.join(work, f"{engine}_{name}.csv")  # noqa: E731
                cli, warm = duck.time_on_server(bins, wl, specs, work, args.runs, out("aitaem"), out("warm"))
                use = f"USE {schema}"
                jobs = [{"name": "grouping_sets", "setup": [use], "runs": args.runs, "out": out("grouping_sets"),
                         "sql": anchor.workload_sql(name, dialect="spark")}]
                if name != "W3":  # by entity, every row is its own group: no roll-up to do
                    jobs.append({"name": "two_stage", "runs": args.runs, "out": out("two_stage"),
                                 "sql": anchor.workload_sql(name, rollup=True, dialect="spark")})
                hand = {k: statistics.median(v) for k, v in client(url, jobs).items()}
                for engine in ["warm", *hand]:
                    verdict = compare.compare(out("aitaem"), out(engine))
                    if verdict != "SAME":
                        raise SystemExit(f"{size} {name}: aitaem and {engine} disagree: {verdict}")
                r = {"cli": cli, "warm": warm, **hand}
                r["rows"] = len(compare.load(out("aitaem")))
                print(f"{size} {name}: " + ", ".join(f"{k} {v:.3f}s" for k, v in r.items() if k != "rows"),
                      file=sys.stderr)
                fmt = duck.fmt
                reference = r.get("two_stage", r["grouping_sets"])
                rows.append(f"| {size} | {name} | {r['rows']} | {fmt(r['warm'])} | {fmt(r['cli'])} | "
                            f"{fmt(r.get('two_stage'))} | {fmt(r['grouping_sets'])} | "
                            f"{fmt(r['warm'] / reference, 2)}x |")
            shutil.rmtree(work, ignore_errors=True)
    finally:
        if server:
            server.stop()

    commit = duck.commit()
    cpu = duck.cpu()
    report = f"""{SECTION}

Measured {datetime.date.today()} at commit {commit} with `python3 bench/spark.py --sizes {args.sizes} --runs {args.runs}`
on {os.cpu_count()} x {cpu}; Spark {version} (Spark Connect){' local[2] on the same machine, 4 GB of driver memory' if server else ''};
aitaem {args.profile} build. The original has no Spark backend.
Every statement's rows were checked equal to aitaem's before timing was reported.

"Warm" is the median of {args.runs} runs in a running process (`MetricCompute::compute` to Arrow, after a first
run); "CLI" is aitaem's whole process writing the CSV. The hand-written statements (anchor.py, Spark dialect)
are run by PySpark's own Spark Connect client to Arrow (`spark.sql(...).toArrow()`), in one process, after a
first run. The last column compares aitaem with the two-stage statement (W3, by entity, has only the
grouping-sets one).

| rows | workload | result rows | aitaem warm (s) | aitaem CLI (s) | two-stage SQL (s) | grouping-sets SQL (s) | aitaem / hand-written |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}
"""
    print(report)
    if args.results != "-":
        report_file.write_part(args.results, SECTION, report)


if __name__ == "__main__":
    main()
