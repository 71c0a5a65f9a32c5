"""Ctrl-C during a sweep: it stops promptly, and every run that finished is in the store."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
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


USER_POOL = """
import concurrent.futures as cf, os, sys, kmapsim
Pool = cf.ThreadPoolExecutor if sys.argv[1] == "threads" else cf.ProcessPoolExecutor
with Pool(2) as ex:
    if sys.argv[1] == "processes":
        ex.submit(int).result()  # the workers exist
        print(*ex._processes, flush=True)
    print("started", flush=True)
    kmapsim.sweep(kmapsim.Scenario(), grid={"cpus": [64, 128]}, seeds=4, cycles=int(sys.argv[2]),
                  mode="step", executor=ex, progress=False)
"""


def _user_pool(kind: str, cycles: int, tmp: Path) -> tuple[subprocess.Popen[str], list[int]]:
    p = subprocess.Popen(
        [sys.executable, "-c", USER_POOL, kind, str(cycles)],
        env={**os.environ, "TMPDIR": str(tmp)},  # a killed sweep leaves its stop directory
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None
    line = p.stdout.readline().split()
    workers = [int(w) for w in line] if kind == "processes" else []
    if workers:
        assert p.stdout.readline().strip() == "started"
    time.sleep(1)
    return p, workers


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_sigint_stops_the_runs_of_a_user_pool(tmp_path: Path, kind: str) -> None:
    p, _ = _user_pool(kind, 2**40, tmp_path)
    p.send_signal(signal.SIGINT)
    # The pool's `with` waits for its threads or workers' points: it ends only if the sweep
    # stopped them.
    _, err = p.communicate(timeout=10)
    assert "KeyboardInterrupt" in err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_workers_of_a_killed_sweep_exit(tmp_path: Path) -> None:
    p, workers = _user_pool("processes", 2**40, tmp_path)
    p.kill()
    p.wait()  # not communicate(): orphans would hold its pipes open
    for pipe in (p.stdout, p.stderr):
        assert pipe is not None
        pipe.close()
    deadline = time.monotonic() + 5
    alive = workers
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [w for w in workers if _running(w)]
    for w in alive:  # the test's own processes
        os.kill(w, signal.SIGKILL)
    assert not alive, "the workers run on as orphans"


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_an_error_of_one_point_stops_the_others_of_a_user_pool(kind: str) -> None:
    import concurrent.futures as cf

    import kmapsim

    ex = cf.ThreadPoolExecutor(2) if kind == "threads" else cf.ProcessPoolExecutor(2)
    try:
        with pytest.raises(kmapsim.DeadlockError):
            kmapsim.sweep(
                kmapsim.Scenario(),
                grid={"kmap_irqs_off_prob": [1.0, 0.0]},  # one deadlocks, one runs on
                seeds=1,
                cycles=2**40,
                mode="step",
                executor=ex,
                progress=False,
            )
        # The pool shuts down only once the other point's endless run has stopped.
        closing = threading.Thread(target=ex.shutdown)
        closing.start()
        closing.join(3)
        assert not closing.is_alive(), "the other point runs on"
    finally:  # should the test fail, no run outlives it
        kmapsim._core.cancel_running()
        for worker in list(getattr(ex, "_processes", None) or {}):
            os.kill(worker, signal.SIGKILL)
        ex.shutdown()


ORPHANED = """
import concurrent.futures as cf, multiprocessing as mp, os, sys, time, kmapsim

class Inline(cf.Executor):
    def submit(self, fn, /, *args, **kwargs):
        f = cf.Future()
        f.set_result(fn(*args, **kwargs))
        return f

def child(kind, marker):
    executor = {"serial": "serial", "threads": None, "inline": Inline()}[kind]
    sc = kmapsim.Scenario()
    kmapsim.sweep(sc, grid={"cpus": [2]}, cycles=1000, executor=executor, progress=False)
    time.sleep(1.5)  # its parent has exited meanwhile
    open(marker, "w").close()

if __name__ == "__main__":
    mp.set_start_method("fork")
    p = mp.Process(target=child, args=sys.argv[1:])
    p.start()
    time.sleep(0.5)  # the child's sweep has run
    os._exit(0)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
@pytest.mark.parametrize("kind", ["serial", "threads", "inline"])
def test_a_users_process_running_a_sweep_outlives_its_parent(tmp_path: Path, kind: str) -> None:
    """Only a sweep's worker processes exit with their parent: a user's own process running a
    serial, threaded or in-process sweep is not killed when its parent exits."""
    marker = tmp_path / "done"
    subprocess.run([sys.executable, "-c", ORPHANED, kind, str(marker)], check=True, timeout=60)
    deadline = time.monotonic() + 20
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), "the process was killed when its parent exited"


def test_no_watcher_thread_is_left_after_an_in_process_sweep() -> None:
    """A sweep on an in-process executor that is not a thread pool (stopped by its stop file)
    leaves no thread polling once its points are done."""
    import concurrent.futures as cf

    import kmapsim

    class Inline(cf.Executor):
        def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
            f: cf.Future[object] = cf.Future()
            f.set_result(fn(*args, **kwargs))
            return f

    kmapsim.sweep(
        kmapsim.Scenario(), grid={"cpus": [2, 4]}, cycles=1000, executor=Inline(), progress=False
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        watching = [t for t in threading.enumerate() if t.name == "kmapsim-sweep-watch"]
        if not watching:
            break
        time.sleep(0.05)
    assert not watching
