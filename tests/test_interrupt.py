"""Ctrl-C stops a long run promptly: the engine polls for signals while it runs without the GIL."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

CODE = """
import sys, time, kmapsim
print("started", flush=True)
try:
    kmapsim.run(kmapsim.Scenario(cpus=64), cycles=2**49, seed=1, mode=sys.argv[1])
except KeyboardInterrupt:
    print(f"interrupted {time.time():.6f}", flush=True)
    raise
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("mode", ["skip", "step"])
def test_sigint_raises_keyboard_interrupt_within_half_a_second(mode: str) -> None:
    p = subprocess.Popen(
        [sys.executable, "-c", CODE, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None and p.stdout.readline().strip() == "started"
    time.sleep(0.5)  # well inside the run
    sent = time.time()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert "KeyboardInterrupt" in err
    assert p.returncode != 0
    caught = float(out.split()[-1])
    # The KeyboardInterrupt reaches Python code within half a second of the signal.
    assert caught - sent < 0.5, f"took {caught - sent:.3f} s"
