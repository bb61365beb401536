#!/usr/bin/env python3
"""Benchmark on PostgreSQL: aitaem, the original Python aitaem and the hand-written statement.

    python3 bench/postgres.py                               # 1M rows, W1-W3; a throwaway server
    python3 bench/postgres.py --sizes 1m,10m --runs 5
    python3 bench/postgres.py --url postgres://u:p@host:5432/db   # an existing server

Without --url, starts a throwaway PostgreSQL cluster on a free local port (the server from
Debian's packages; shared_buffers 2GB, work_mem 256MB, fsync off) and removes it afterwards. For
each size it loads the benchmark's tables (the same rows as the DuckDB benchmark, written as CSV by
examples/generate_events.rs) into the schema `bench_<size>`, then runs every workload with:

  aitaem warm     MetricCompute::compute in one process (examples/compute_warm.rs)
  aitaem CLI      one process per run, writing the CSV
  hand-written    the workload's GROUPING SETS statement (anchor.py --dialect postgres), run by
                  psql as `COPY (...) TO STDOUT` with its output discarded; psql's \\timing
  original        the Python aitaem 2.1.0 with ibis' PostgreSQL backend, in
                  bench/.venv-peer-postgres (peer-postgres-requirements.txt), when present; at
                  the sizes of --peer-sizes (default 1m: at 10M one run takes minutes)

Rows of every engine are compared with aitaem's before any time is reported. The report replaces
the "On PostgreSQL" section of bench/RESULTS.md (--results - prints it only).
"""
import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import anchor  # noqa: E402
import compare  # noqa: E402
import report as report_file  # noqa: E402
import run as duck  # noqa: E402

TYPES = {"BIGINT": "bigint", "INTEGER": "integer", "VARCHAR": "text", "DOUBLE": "double precision",
         "TIMESTAMP": "timestamp", "DATE": "date", "BOOLEAN": "boolean"}
TABLES = ["events", "dim_platforms", "dim_users"]
# The heading of this benchmark's section in RESULTS.md (see report.py).
SECTION = "## On PostgreSQL"


class Server:
    """A throwaway cluster, as scripts/test.sh starts one (initdb refuses to run as root)."""

    def __init__(self):
        bins = sorted(d for d in os.listdir("/usr/lib/postgresql"))
        self.bin = f"/usr/lib/postgresql/{bins[-1]}/bin"
        self.root = tempfile.mkdtemp(prefix="aitaem-bench-pg-")
        os.chmod(self.root, 0o755)
        self.data = os.path.join(self.root, "data")
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        subprocess.run(["install", "-d", "-o", "postgres", "-g", "postgres", self.data], check=True)
        as_postgres = ["runuser", "-u", "postgres", "--"]
        subprocess.run(as_postgres + [f"{self.bin}/initdb", "-D", self.data, "-U", "postgres", "--auth-local=trust",
                                      "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"],
                       check=True, stdout=subprocess.DEVNULL)
        options = (f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c shared_buffers=2GB -c work_mem=256MB -c max_parallel_workers_per_gather=2")
        subprocess.run(as_postgres + [f"{self.bin}/pg_ctl", "-D", self.data, "-l", f"{self.data}/server.log", "-w",
                                      "-o", options, "start"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["psql", "-X", "-q", "-h", self.data, "-p", str(self.port), "-U", "postgres", "-d", "postgres",
                        "-c", "CREATE ROLE bench LOGIN PASSWORD 'bench' SUPERUSER",
                        "-c", "CREATE DATABASE bench OWNER bench"], check=True)
        self.url = f"postgres://bench:bench@127.0.0.1:{self.port}/bench"

    def stop(self):
        subprocess.run(["runuser", "-u", "postgres", "--", f"{self.bin}/pg_ctl", "-D", self.data, "-m", "fast",
                        "-w", "stop"], stdout=subprocess.DEVNULL)
        shutil.rmtree(self.root, ignore_errors=True)


def psql(url, *args, capture=False, cwd=None):
    out = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url, *args], cwd=cwd, check=True,
                         capture_output=capture, text=True)
    return out.stdout if capture else None


def load(bins, url, data, size):
    """Loads the size's tables into schema bench_<size>, unless they are there already."""
    schema = f"bench_{size}"
    count = psql(url, "-A", "-t", "-c", f"SELECT count(*) FROM information_schema.tables WHERE table_schema = '{schema}'",
                 capture=True).strip()
    if count == str(len(TABLES)):
        return schema
    csv_dir = os.path.join(data, "csv")
    if not os.path.exists(os.path.join(csv_dir, "events.csv")):
        subprocess.run([bins["generate"], "--rows", str(duck.SIZES[size]), "--csv", "--out", csv_dir], check=True)
    script = [f"DROP SCHEMA IF EXISTS {schema} CASCADE;", f"CREATE SCHEMA {schema};"]
    for table in TABLES:
        described = subprocess.run([bins["aitaem"], "describe", f"duckdb://{csv_dir}/{table}.csv"],
                                   capture_output=True, text=True, check=True).stdout.splitlines()[1:]
        columns = [line.split(None, 1) for line in described]
        script.append(f"CREATE TABLE {schema}.{table} ("
                      + ", ".join(f'"{name}" {TYPES[kind.strip()]}' for name, kind in columns) + ");")
        script.append(f"\\copy {schema}.{table} FROM '{csv_dir}/{table}.csv' WITH (FORMAT csv, HEADER)")
        script.append(f"ANALYZE {schema}.{table};")
    print(f"loading {size} rows into PostgreSQL ({schema}) ...", file=sys.stderr)
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as f:
        f.write("\n".join(script))
        f.flush()
        psql(url, "-f", f.name)
    return schema


def time_psql(url, schema, sql, runs, out_csv):
    """The hand-written statement: once to a CSV for the row check, then timed by psql."""
    query = " ".join(sql.split())
    search_path = f"SET search_path TO {schema}"
    psql(url, "-c", search_path, "-c", f"\\copy ({query}) TO '{out_csv}' WITH (FORMAT csv, HEADER)")
    script = f"{search_path};\n\\timing on\n" + "".join(f"COPY ({query}) TO STDOUT;\n" for _ in range(runs + 1))
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as f:
        f.write(script)
        f.flush()
        out = psql(url, "-o", "/dev/null", "-f", f.name, capture=True)
    times = [float(m) / 1000 for m in re.findall(r"Time: ([0-9.]+) ms", out)][1:]
    return {"median_s": statistics.median(times), "runs_s": times}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("AITAEM_BENCH_POSTGRES"))
    ap.add_argument("--sizes", default="1m")
    ap.add_argument("--workloads", default="W1,W2,W3")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--profile", choices=["release", "dev"], default="release")
    ap.add_argument("--no-peer", action="store_true", help="skip the original Python library")
    ap.add_argument("--peer-sizes", default="1m",
                    help="sizes at which to run the original (it takes minutes per run at 10M)")
    ap.add_argument("--data", default=os.environ.get("AITAEM_BENCH_DATA",
                                                      os.path.join(tempfile.gettempdir(), "aitaem-bench")))
    ap.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"))
    args = ap.parse_args()

    with open(os.path.join(HERE, "workloads.json")) as f:
        workloads = json.load(f)
    bins = duck.build(args.profile)
    peer = os.path.join(HERE, ".venv-peer-postgres", "bin", "python")
    if args.no_peer:
        peer = None
    elif not os.path.exists(peer):
        print("the original is not installed (python3 -m venv bench/.venv-peer-postgres && "
              "bench/.venv-peer-postgres/bin/pip install -r bench/peer-postgres-requirements.txt); skipping it",
              file=sys.stderr)
        peer = None
    server = None if args.url else Server()
    url = args.url or server.url
    rows = []
    try:
        version = psql(url, "-A", "-t", "-c", "SHOW server_version", capture=True).strip()
        for size in args.sizes.split(","):
            data = duck.ensure_data(bins, args.data, size)
            schema = load(bins, url, data, size)
            work = tempfile.mkdtemp(prefix=f"aitaem-bench-pg-{size}-")
            specs = duck.specs_on(f"postgres://{schema}/", os.path.join(work, "specs"))
            with open(os.path.join(work, "connections.yaml"), "w") as f:
                f.write(f"postgres:\n  url: {url}\n")
            # The original takes the documented fields, not a URL.
            m = re.match(r"postgres://([^:]+):([^@]+)@([^:/]+):(\d+)/(.+)", url)
            peer_dir = os.path.join(work, "peer")
            os.makedirs(peer_dir)
            with open(os.path.join(peer_dir, "connections.yaml"), "w") as f:
                f.write(f"postgres:\n  host: {m[3]}\n  port: {m[4]}\n  database: {m[5]}\n  user: {m[1]}\n"
                        f"  password: {m[2]}\n")
            for name in args.workloads.split(","):
                wl = workloads[name]
                out = lambda engine: os.path.join(work, f"{engine}_{name}.csv")  # noqa: E731
                cli, warm = duck.time_on_server(bins, wl, specs, work, args.runs, out("aitaem"), out("warm"))
                hand = time_psql(url, schema, anchor.workload_sql(name, dialect="postgres"), args.runs, out("hand"))
                r = {"cli": cli, "warm": warm, "hand": hand["median_s"]}
                engines = ["warm", "hand"]
                if peer and size in args.peer_sizes.split(","):
                    _, _, _ = duck.run([peer, os.path.join(HERE, "peer.py"), "--data", peer_dir, "--workload", name,
                                        "--specs", specs, "--runs", str(args.runs), "--out", out("original"),
                                        "--json", out("original") + ".json"])
                    with open(out("original") + ".json") as f:
                        stats = json.load(f)
                    r["original"], r["original_oneshot"] = stats["warm_median_s"], stats["oneshot_s"]
                    engines.append("original")
                for engine in engines:
                    verdict = compare.compare(out("aitaem"), out(engine))
                    if verdict != "SAME":
                        raise SystemExit(f"{size} {name}: aitaem and {engine} disagree: {verdict}")
                r["rows"] = len(compare.load(out("aitaem")))
                print(f"{size} {name}: " + ", ".join(f"{k} {v:.3f}s" for k, v in r.items() if k != "rows"),
                      file=sys.stderr)
                fmt = duck.fmt
                orig = r.get("original")
                rows.append(f"| {size} | {name} | {r['rows']} | {fmt(r['warm'])} | {fmt(r['cli'])} | {fmt(r['hand'])} | "
                            f"{fmt(orig)} | {fmt(r.get('original_oneshot'), 2)} | "
                            f"{fmt(orig / r['warm'], 1) + 'x' if orig else '-'} | {fmt(r['warm'] / r['hand'], 2)}x |")
            shutil.rmtree(work, ignore_errors=True)
    finally:
        if server:
            server.stop()

    commit = duck.commit()
    cpu = duck.cpu()
    report = f"""{SECTION}

Measured {datetime.date.today()} at commit {commit} with `python3 bench/postgres.py --sizes {args.sizes} --runs {args.runs}`
on {os.cpu_count()} x {cpu}; PostgreSQL {version} on the same machine{' (a throwaway cluster: shared_buffers 2GB, work_mem 256MB)' if server else ''};
aitaem {args.profile} build; {'the original with ibis 12.0.0 and sqlglot 30.17.0' if peer else 'the original was not run'}.
Every engine's rows were checked equal to aitaem's before timing was reported.

"Warm" is the median of {args.runs} runs in a running process (aitaem: `MetricCompute::compute` to Arrow; the
original: `compute(...).to_pyarrow()`); "CLI" is aitaem's whole process writing the CSV; the hand-written
statement is timed by psql (`\\timing`, `COPY (...) TO STDOUT` into /dev/null).

| rows | workload | result rows | aitaem warm (s) | aitaem CLI (s) | hand-written SQL (s) | original warm (s) | original one-shot (s) | original / aitaem, warm | aitaem / hand-written |
|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}
"""
    print(report)
    if args.results != "-":
        report_file.write_part(args.results, SECTION, report)


if __name__ == "__main__":
    main()
