"""A long compute releases the GIL, and Ctrl-C stops it cleanly, and only it."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import textwrap

import duckdb

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    import aitaem

    # Ctrl-C raises KeyboardInterrupt even when this process started with SIGINT ignored (as
    # the commands of a shell's background job do).
    signal.signal(signal.SIGINT, signal.default_int_handler)

    db = sys.argv[1]
    manager = aitaem.ConnectionManager()
    manager.add_connection("duckdb", path=db)
    specs = aitaem.SpecCache.from_string([
        "metric:\\n  name: endless\\n  source: duckdb://huge\\n  numerator: SUM(i * i % 7)\\n",
        "metric:\\n  name: small\\n  source: duckdb://small\\n  numerator: SUM(i)\\n",
        "metric:\\n  name: medium\\n  source: duckdb://medium\\n  numerator: SUM(i % 3)\\n",
    ])
    compute = aitaem.MetricCompute(specs, manager)

    # A compute in another thread on the same connections, running when Ctrl-C comes: it is
    # not this Ctrl-C's, so it finishes.
    meanwhile = []
    other = threading.Thread(
        target=lambda: meanwhile.append(compute.compute("medium").to_pyarrow()["metric_value"].to_pylist())
    )
    other.start()

    # Another Python thread counts while the compute runs, and sends Ctrl-C after 20 counts:
    # it gets that far only if the compute released the GIL.
    ticks = 0
    computing = threading.Event()
    def tick():
        global ticks
        computing.wait()
        while ticks < 20:
            ticks += 1
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)
    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        computing.set()
        compute.compute("endless")
        print("finished without interruption")
        sys.exit(1)
    except KeyboardInterrupt:
        pass
    ticker.join()
    other.join()
    # The connection still works after the interruption.
    value = compute.compute("small").to_pyarrow()["metric_value"].to_pylist()
    print(f"interrupted after {ticks} ticks; then {value}; meanwhile {meanwhile}")
    """
)


def test_ctrl_c_interrupts_a_long_compute(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "big.duckdb"
    con = duckdb.connect(str(db))
    # A view over ten billion generated rows: minutes of work, no storage.
    con.execute("CREATE VIEW huge AS SELECT range AS i FROM range(10000000000)")
    con.execute("CREATE TABLE small AS SELECT range AS i FROM range(5)")
    # Three hundred million rows: a few seconds, still running when Ctrl-C comes.
    con.execute("CREATE VIEW medium AS SELECT range AS i FROM range(300000000)")
    con.close()
    script = tmp_path / "interrupt.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), str(db)], capture_output=True, text=True, timeout=120
    )
    # A compute that kept the GIL would run for minutes, past the timeout above, with the
    # counting thread stuck; one that ignored Ctrl-C would print "finished without interruption".
    assert done.returncode == 0, done.stdout + done.stderr
    # The other thread's compute, over 0, 1, 2, 0, 1, 2, ..., ends with its whole sum.
    assert done.stdout.strip() == (
        "interrupted after 20 ticks; then [10.0]; meanwhile [[300000000.0]]"
    ), done.stdout
