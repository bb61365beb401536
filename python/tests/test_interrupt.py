"""A long compute releases the GIL, and Ctrl-C stops it cleanly."""

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

    db = sys.argv[1]
    manager = aitaem.ConnectionManager()
    manager.add_connection("duckdb", path=db)
    specs = aitaem.SpecCache.from_string([
        "metric:\\n  name: endless\\n  source: duckdb://huge\\n  numerator: SUM(i * i % 7)\\n",
        "metric:\\n  name: small\\n  source: duckdb://small\\n  numerator: SUM(i)\\n",
    ])
    compute = aitaem.MetricCompute(specs, manager)

    ticks = 0
    running = True
    def tick():
        global ticks
        while running:
            ticks += 1
            time.sleep(0.01)
    ticker = threading.Thread(target=tick)
    ticker.start()
    threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    start = time.monotonic()
    try:
        compute.compute("endless")
        print("finished without interruption")
        sys.exit(1)
    except KeyboardInterrupt:
        elapsed = time.monotonic() - start
    running = False
    ticker.join()
    # The connection still works after the interruption.
    value = compute.compute("small").to_pyarrow()["metric_value"].to_pylist()
    print(f"interrupted after {elapsed:.2f} s; ticks {ticks}; then {value}")
    """
)


def test_ctrl_c_interrupts_a_long_compute(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "big.duckdb"
    con = duckdb.connect(str(db))
    # A view over ten billion generated rows: minutes of work, no storage.
    con.execute("CREATE VIEW huge AS SELECT range AS i FROM range(10000000000)")
    con.execute("CREATE TABLE small AS SELECT range AS i FROM range(5)")
    con.close()
    script = tmp_path / "interrupt.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), str(db)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    words = done.stdout.split()
    elapsed, ticks = float(words[2]), int(words[5].rstrip(";"))
    # Interrupted soon after the signal at 1.5 s, not at the end of the query.
    assert 1.4 < elapsed < 10, done.stdout
    # Another Python thread ran freely meanwhile (about 100 ticks a second): the GIL was released.
    assert ticks > 0.5 * 100 * 1.5, done.stdout
    assert done.stdout.strip().endswith("[10.0]"), done.stdout
