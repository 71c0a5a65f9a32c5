"""Ctrl-C during a sweep: it stops promptly, and every run that finished is in the store."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

CODE = """
import sys, kmapsim
print("started", flush=True)
kmapsim.sweep(kmapsim.Scenario(cpus=64), grid={"cpus": [8, 16, 32, 64]}, seeds=8,
              cycles=int(sys.argv[2]), store=sys.argv[1], progress=False)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigint_stops_a_parallel_sweep_and_keeps_finished_runs(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    p = subprocess.Popen(
        [sys.executable, "-c", CODE, str(db), str(2_000_000_000)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None and p.stdout.readline().strip() == "started"
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline:
        time.sleep(0.1)
        try:
            with sqlite3.connect(db, timeout=1) as con:
                done = con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        except sqlite3.OperationalError:
            continue
        if done >= 1:
            break
    assert done >= 1, "no run finished in time"
    sent = time.monotonic()
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    elapsed = time.monotonic() - sent
    assert "KeyboardInterrupt" in err
    assert elapsed < 5, f"took {elapsed:.1f} s to stop"
    with sqlite3.connect(db) as con:
        kept = con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    assert done <= kept < 32
