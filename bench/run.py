#!/usr/bin/env python3
"""Benchmark: the aitaem CLI against the original Python aitaem and hand-written DuckDB statements.

    python3 bench/run.py                              # 1M and 10M rows, writes bench/RESULTS.md
    python3 bench/run.py --sizes 10k --runs 1 --profile dev --no-peer --results -   # CI smoke

For each size it generates the data if missing (examples/generate_events.rs, deterministic), then
runs every workload of workloads.json with:

  aitaem warm     MetricCompute::compute in one process (examples/compute_warm.rs): a first run,
                  then --runs timed runs, execution and fetch to Arrow, like the other engines
  aitaem CLI      the command, one process per run: start-up, spec loading, planning, execution
                  and writing the CSV included (what a user waits for); after one untimed run
  two-stage SQL   the hand-written statement that aggregates to the finest label combination
                  first (anchor.py --variant rollup), run by examples/run_sql.rs on the same DuckDB
  grouping SQL    the hand-written GROUPING SETS statement (anchor.py)
  original        the Python aitaem 2.1.0 in bench/.venv-peer (peer-requirements.txt), when present

Every engine's rows are compared with aitaem's (compare.py) before any time is reported; a
difference fails the run. Times are medians of the timed runs (the hand-written statements and the
original are timed in-process, after a warm-up, like aitaem's own runs but without process start);
peak RSS is the maximum resident set size of each engine's process (for aitaem, the CLI's).
"""
import argparse
import datetime
import json
import os
import platform
import shutil
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

SIZES = {"10k": 10_000, "1m": 1_000_000, "10m": 10_000_000, "100m": 100_000_000}
PEER_WORKLOADS = {"W1", "W2", "W3"}


def run(cmd, cwd=None, capture=False):
    """Runs a command; returns (seconds, the process's peak RSS in MiB, its stdout if captured).

    Peak RSS comes from GNU time: resource usage collected by this long-lived parent would carry
    the high-water mark of earlier children."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as rss:
        start = time.perf_counter()
        code = subprocess.call(["/usr/bin/time", "-f", "%M", "-o", rss.name, *cmd], cwd=cwd,
                               stdout=out if capture else subprocess.DEVNULL, stderr=err)
        elapsed = time.perf_counter() - start
        if code != 0:
            err.seek(0)
            raise SystemExit(f"command failed ({code}): {' '.join(cmd)}\n{err.read().decode()}")
        out.seek(0)
        kib = rss.read().strip().splitlines()[-1]
        return elapsed, int(kib) / 1024, out.read().decode() if capture else None


def build(profile):
    target_dir = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    args = ["cargo", "build", "--locked", "--bin", "aitaem", "--example", "generate_events", "--example", "run_sql",
            "--example", "compute_warm"]
    if profile == "release":
        args.append("--release")
    subprocess.run(args, cwd=ROOT, check=True)
    host = next(line.split()[1] for line in subprocess.run(
        ["rustc", "-vV"], capture_output=True, text=True, check=True).stdout.splitlines() if line.startswith("host:"))
    out = os.path.join(target_dir, host, "release" if profile == "release" else "debug")
    return {"aitaem": os.path.join(out, "aitaem"), "generate": os.path.join(out, "examples", "generate_events"),
            "run_sql": os.path.join(out, "examples", "run_sql"),
            "compute_warm": os.path.join(out, "examples", "compute_warm")}


def ensure_data(bins, data_root, size):
    d = os.path.join(data_root, size)
    if not os.path.exists(os.path.join(d, "big.duckdb")):
        print(f"generating {size} rows in {d} ...", file=sys.stderr)
        subprocess.run([bins["generate"], "--rows", str(SIZES[size]), "--out", d], check=True)
    return d


def specs_dir(workload):
    """The spec directory of a workload: bench/specs, or, for a workload with `extra_metrics`, a
    copy of it with the metric specs of that directory of bench/ added."""
    extra = workload.get("extra_metrics")
    if not extra:
        return os.path.join(HERE, "specs")
    specs = os.path.join(tempfile.gettempdir(), f"aitaem-bench-specs-{extra}")
    shutil.rmtree(specs, ignore_errors=True)
    shutil.copytree(os.path.join(HERE, "specs"), specs)
    for name in os.listdir(os.path.join(HERE, extra)):
        shutil.copy(os.path.join(HERE, extra, name), os.path.join(specs, "metrics", name))
    return specs


def specs_on(prefix, into):
    """A copy of the benchmark's specs in `into` with every source under `prefix`
    (`postgres://bench_1m/`) instead of the DuckDB database."""
    shutil.copytree(os.path.join(HERE, "specs"), into, dirs_exist_ok=True)
    for kind in ("metrics", "segments"):
        for name in os.listdir(os.path.join(into, kind)):
            path = os.path.join(into, kind, name)
            with open(path) as f:
                text = f.read()
            with open(path, "w") as f:
                f.write(text.replace("duckdb://big.duckdb/", prefix))
    return into


def aitaem_args(bins, workload):
    args = [bins["aitaem"], "compute", *workload["metrics"], "--specs", specs_dir(workload),
            "--connections", "connections.yaml", "--format", "csv"]
    for s in workload["slices"] or []:
        args += ["--slice", s]
    if workload["segments"]:
        args += ["--segment", workload["segments"]]
    if workload["time_window"]:
        args += ["--time-window", ",".join(workload["time_window"])]
    args += ["--period", workload["period_type"]]
    if workload["by_entity"]:
        args += ["--by-entity", workload["by_entity"]]
    return args


def time_aitaem(bins, data, name, workload, runs, out_csv):
    args = aitaem_args(bins, workload) + ["--output", out_csv]
    run(args, cwd=data)  # warm-up (file cache)
    times, rss = [], []
    for _ in range(runs):
        t, r, _ = run(args, cwd=data)
        times.append(t)
        rss.append(r)
    return {"median_s": statistics.median(times), "runs_s": times, "rss_mib": max(rss)}


def time_on_server(bins, workload, specs, work, runs, out_csv, warm_csv):
    """aitaem on a server backend, with `work/connections.yaml`: the CLI (one process per run,
    after one to write `out_csv`) and `MetricCompute::compute` warm in one process (writing
    `warm_csv`); their median times."""
    cli = [a if a != os.path.join(HERE, "specs") else specs for a in aitaem_args(bins, workload)]
    cli += ["--output", out_csv]
    run(cli, cwd=work)
    cli_times = [run(cli, cwd=work)[0] for _ in range(runs)]
    _, _, warm = run([bins["compute_warm"], "--specs", specs, "--connections", "connections.yaml",
                      "--workload", json.dumps(workload), "--runs", str(runs), "--out", warm_csv],
                     cwd=work, capture=True)
    return statistics.median(cli_times), json.loads(warm)["warm_median_s"]


def commit():
    """The checked-out commit, short."""
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip()


def cpu():
    """The machine's processor model."""
    with open("/proc/cpuinfo") as f:
        return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")


def time_warm(bins, data, workload, runs, out_csv):
    _, _, out = run([bins["compute_warm"], "--specs", specs_dir(workload), "--connections", "connections.yaml",
                     "--workload", json.dumps(workload), "--runs", str(runs), "--out", out_csv], cwd=data, capture=True)
    stats = json.loads(out)
    return {"median_s": stats["warm_median_s"], "runs_s": stats["warm_runs_s"], "write_s": stats["write_s"]}


def time_sql(bins, data, name, variant, runs, out_csv):
    sql_file = out_csv.replace(".csv", ".sql")
    with open(sql_file, "w") as f:
        f.write(anchor.workload_sql(name, rollup=variant == "rollup"))
    _, rss, out = run([bins["run_sql"], "--db", os.path.join(data, "big.duckdb"), "--sql", sql_file,
                       "--runs", str(runs), "--out", out_csv], capture=True)
    stats = json.loads(out)
    return {"median_s": stats["warm_median_s"], "runs_s": stats["warm_runs_s"], "rss_mib": rss,
            "oneshot_s": stats["oneshot_s"]}


def time_peer(python, data, name, runs, out_csv):
    stats_file = out_csv.replace(".csv", ".json")
    _, rss, _ = run([python, os.path.join(HERE, "peer.py"), "--data", data, "--workload", name,
                     "--runs", str(runs), "--out", out_csv, "--json", stats_file])
    with open(stats_file) as f:
        stats = json.load(f)
    return {"median_s": stats["warm_median_s"], "runs_s": stats["warm_runs_s"], "rss_mib": rss,
            "oneshot_s": stats["oneshot_s"], "recursion_error": stats.get("recursion_error_at_default_limit")}


def fmt(x, digits=3):
    return "-" if x is None else f"{x:.{digits}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1m,10m")
    ap.add_argument("--workloads", default="W1,W2,W3,W1x2")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--profile", choices=["release", "dev"], default="release")
    ap.add_argument("--no-peer", action="store_true", help="skip the original Python library")
    ap.add_argument("--data", default=os.environ.get("AITAEM_BENCH_DATA",
                                                      os.path.join(tempfile.gettempdir(), "aitaem-bench")))
    ap.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"), help="markdown output ('-': stdout only)")
    args = ap.parse_args()

    with open(os.path.join(HERE, "workloads.json")) as f:
        workloads = json.load(f)
    bins = build(args.profile)
    peer = os.path.join(HERE, ".venv-peer", "bin", "python")
    if args.no_peer:
        peer = None
    elif not os.path.exists(peer):
        print("the original is not installed (python3 -m venv bench/.venv-peer && "
              "bench/.venv-peer/bin/pip install -r bench/peer-requirements.txt); skipping it", file=sys.stderr)
        peer = None

    rows, checks = [], []
    for size in args.sizes.split(","):
        data = ensure_data(bins, args.data, size)
        out = os.path.join(data, "out")
        os.makedirs(out, exist_ok=True)
        results = {}
        for name in args.workloads.split(","):
            wl = workloads[name]
            r = {"aitaem": time_aitaem(bins, data, name, wl, args.runs, os.path.join(out, f"aitaem_{name}.csv")),
                 "warm": time_warm(bins, data, wl, args.runs, os.path.join(out, f"warm_{name}.csv"))}
            ours = os.path.join(out, f"aitaem_{name}.csv")
            r["grouping"] = time_sql(bins, data, name, "grouping-sets", args.runs, os.path.join(out, f"grouping_{name}.csv"))
            if name != "W3":
                r["two_stage"] = time_sql(bins, data, name, "rollup", args.runs, os.path.join(out, f"two_stage_{name}.csv"))
            if peer and name in PEER_WORKLOADS:
                r["original"] = time_peer(peer, data, name, args.runs, os.path.join(out, f"original_{name}.csv"))
            for engine in ("warm", "grouping", "two_stage", "original"):
                if engine in r:
                    verdict = compare.compare(ours, os.path.join(out, f"{engine}_{name}.csv"))
                    if verdict != "SAME":
                        raise SystemExit(f"{size} {name}: aitaem and {engine} disagree: {verdict}")
            r["rows_out"] = len(compare.load(ours))
            results[name] = r
            print(f"{size} {name}: " + ", ".join(f"{k} {v['median_s']:.3f}s" for k, v in r.items() if isinstance(v, dict)),
                  file=sys.stderr)

        for name, r in results.items():
            cli, warm = r["aitaem"]["median_s"], r["warm"]["median_s"]
            two, gs = (r.get(k, {}).get("median_s") for k in ("two_stage", "grouping"))
            orig, orig_cli = r.get("original", {}).get("median_s"), r.get("original", {}).get("oneshot_s")
            sql_rss = r.get("two_stage", r.get("grouping", {})).get("rss_mib")
            rows.append(
                f"| {size} | {name} | {r['rows_out']} | {fmt(warm)} | {fmt(cli)} | {fmt(r['warm']['write_s'])} | "
                f"{fmt(two)} | {fmt(gs)} | {fmt(orig)} | {fmt(orig_cli, 2)} | "
                f"{fmt(orig / warm, 1) + 'x' if orig else '-'} | {fmt(orig_cli / cli, 1) + 'x' if orig_cli else '-'} | "
                f"{fmt(warm / two, 2) + 'x' if two else '-'} | "
                f"{fmt(r['aitaem']['rss_mib'], 0)} | {fmt(sql_rss, 0)} | {fmt(r.get('original', {}).get('rss_mib'), 0)} |")
        if "W1" in results and "W1x2" in results:
            ratio = results["W1x2"]["warm"]["median_s"] / results["W1"]["warm"]["median_s"]
            floor = results["W1x2"]["two_stage"]["median_s"] / results["W1"]["two_stage"]["median_s"]
            checks.append(f"- {size}: W1 with twice the slices (W1x2) takes {ratio:.2f}x W1's time (warm); "
                          f"the hand-written two-stage statement takes {floor:.2f}x")

    # Start-up: a small compute (10k rows) in one process, from start to written result.
    small_data = ensure_data(bins, args.data, "10k")
    small = [bins["aitaem"], "compute", "ctr", "--slice", "campaign_type", "--specs", os.path.join(HERE, "specs"),
             "--connections", "connections.yaml", "--format", "csv", "--time-window", "2024-01-01,2025-01-01"]
    run(small, cwd=small_data)
    startup = statistics.median(run(small, cwd=small_data)[0] for _ in range(max(args.runs, 7)))
    checks.insert(0, f"- start-up to first result of a small compute (10k rows, one slice; whole process): {startup * 1000:.0f} ms")

    mem = next((int(line.split()[1]) // 1024 // 1024 for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    table = "\n".join([
        "| rows | workload | result rows | aitaem warm (s) | aitaem CLI one-shot (s) | writing the CSV (s) "
        "| two-stage SQL warm (s) | grouping-sets SQL warm (s) | original warm (s) | original one-shot (s) "
        "| original / aitaem, warm | original / aitaem, one-shot | aitaem / two-stage SQL, warm "
        "| aitaem CLI peak RSS (MiB) | SQL peak RSS (MiB) | original peak RSS (MiB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
    ])
    original = ("the original ran on its pinned DuckDB 1.5.6" if peer
                else "the original was not run")
    report = f"""# Benchmark results

Measured {datetime.date.today()} at commit {commit()} with `python3 bench/run.py --sizes {args.sizes} --runs {args.runs}`
on {os.cpu_count()} x {cpu()}, {mem} GiB RAM, {platform.system()} {platform.release()}; DuckDB 2.0.0 (bundled,
{args.profile} build) for aitaem and the hand-written SQL; {original}.
Every engine's rows were checked equal to aitaem's before timing was reported.

"Warm" times are medians of {args.runs} runs in an already running process, after a first run:
execution and fetch of the result as Arrow (aitaem: `MetricCompute::compute`). "One-shot" is a
whole process: aitaem's CLI (start, load specs, plan, run, write the CSV; median of {args.runs} runs)
and the original's first result including Python start-up. "Writing the CSV" is aitaem's time to
write the result file.

{table}

{chr(10).join(checks)}
"""
    print(report)
    if args.results != "-":
        # The sections of postgres.py and python.py are kept as they are.
        report_file.write_part(args.results, None, report)


if __name__ == "__main__":
    main()
