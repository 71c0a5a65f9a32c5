"""Ctrl-C stops a long run promptly: the engine polls for signals while it runs without the GIL."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CODE = """
import sys, time, kmapsim
from kmapsim.checker import check_machine
print("started", flush=True)
try:
    if sys.argv[1] == "witness":  # a timed-witness search of 2**32 - 1 tries, none found
        kmapsim.check(check_machine("async", ipi_latency=1), witness_tries=2**32 - 1)
    else:
        kmapsim.run(kmapsim.Scenario(cpus=64), cycles=2**49, seed=1, mode=sys.argv[1])
except KeyboardInterrupt:
    print(f"interrupted {time.time():.6f}", flush=True)
    raise
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("mode", ["skip", "step", "witness"])
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
    if mode == "witness":
        # The verdict the search had reached is not lost with its witness search.
        assert "the search had ended, stale access at depth" in err, err
    caught = float(out.split()[-1])
    # The KeyboardInterrupt reaches Python code within half a second of the signal.
    assert caught - sent < 0.5, f"took {caught - sent:.3f} s"


def _kmapsim_script() -> str:
    """The ``kmapsim`` console script next to this interpreter (the command a user types)."""
    script = Path(sys.executable).with_name("kmapsim")
    if not script.exists():
        pytest.skip("no kmapsim console script next to the interpreter")
    return str(script)


def _startup_seconds() -> float:
    """How long this machine takes to start Python itself, before any kmapsim code can run
    (no program can catch a signal then): the earliest moment worth testing."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import runpy"], check=True)
    return time.perf_counter() - start


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("delay", [0.05, 0.3, 1.5])
@pytest.mark.parametrize("how", ["script", "-m"])
def test_ctrl_c_at_any_moment_of_a_command_exits_quietly(how: str, delay: float) -> None:
    """While the command line imports numpy and pandas (0.05 s, 0.3 s) or runs (1.5 s), Ctrl-C
    ends it with status 130 and one line, never a traceback."""
    cmd = [_kmapsim_script()] if how == "script" else [sys.executable, "-m", "kmapsim"]
    subprocess.run([*cmd, "--version"], capture_output=True, check=True)  # warm the caches
    startup = _startup_seconds()
    p = subprocess.Popen(
        [*cmd, "run", "--cycles", "1_000_000_000_000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(max(delay, 1.5 * startup))
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert (p.returncode, err, out) == (130, "kmapsim: error: interrupted\n", "")


def test_a_library_import_leaves_ctrl_c_alone() -> None:
    """Only the command line swaps Python's SIGINT handler; ``import kmapsim`` does not."""
    code = "import signal, kmapsim; print(signal.getsignal(signal.SIGINT).__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "default_int_handler"


@pytest.mark.parametrize(
    ("argv", "module"),
    [
        (["python", "-m", "kmapsim", "run"], "kmapsim"),
        (["python", "-mkmapsim"], "kmapsim"),
        (["python", "-Im", "kmapsim"], "kmapsim"),
        (["python", "-u", "-W", "error", "-X", "dev", "-m", "kmapsim"], "kmapsim"),
        (["python", "-Wdefault", "-m", "kmapsim"], "kmapsim"),
        (["python", "-W", "-m", "-m", "pytest"], "pytest"),  # -W's argument is not -m
        (["python", "s.py", "-m", "kmapsim"], None),
        (["python", "-m", "pytest", "-m", "kmapsim"], "pytest"),
        (["python", "-c", "import kmapsim", "-m", "kmapsim"], None),
        (["python", "-cimport kmapsim", "-mkmapsim"], None),
        (["python", "-", "-m", "kmapsim"], None),
        (["python", "--", "s.py", "-m", "kmapsim"], None),
    ],
)
def test_only_the_interpreters_own_m_option_names_the_module(
    argv: list[str], module: str | None
) -> None:
    from kmapsim._interrupt import _module_option

    assert _module_option(argv) == module


@pytest.mark.parametrize("args", [["s.py", "-m", "kmapsim"], ["s.py", "-mkmapsim"]])
def test_a_script_given_m_kmapsim_as_its_own_arguments_keeps_ctrl_c(
    tmp_path: Path, args: list[str]
) -> None:
    """``python s.py -m kmapsim``: the script's arguments are not the interpreter's options, so
    its own KeyboardInterrupt handling stays."""
    (tmp_path / "s.py").write_text(
        "import signal, kmapsim; print(signal.getsignal(signal.SIGINT).__name__)"
    )
    out = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == "default_int_handler"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_during_pct_reports_the_runs_done() -> None:
    """As an interrupted exhaustive search reports the states explored, PCT reports its runs."""
    args = ["check", "--pct", "100000000", "--pct-steps", "200", "--strategy", "guarded"]
    p = subprocess.Popen(
        [_kmapsim_script(), *args, "--cpus", "3", "--slots", "4", "--pages", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(max(2.0, 3 * _startup_seconds()))
    p.send_signal(signal.SIGINT)
    _out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert err.startswith("kmapsim: error: interrupted (PCT runs done so far: "), err
    assert "of 100,000,000, none found a violation" in err


def test_the_time_limit_in_the_witness_search_keeps_the_verdict() -> None:
    """The search found its counterexample in milliseconds; the limit passing in the search for
    a timed witness after it ends that search, not the call: the verdict stands."""
    import kmapsim
    from kmapsim.checker import check_machine

    sc = check_machine("async", ipi_latency=1)
    r = kmapsim.check(sc, witness_tries=2**32 - 1, max_wall_seconds=0.5)
    assert r.verdict == "stale access" and r.counterexample is not None
    assert r.witness is None
    assert r.witness_note.startswith("the time limit passed in the timed-witness search, after ")
    assert r.witness_note.endswith(" of 4,294,967,295 tries"), r.witness_note


def test_a_cancel_in_the_witness_search_says_what_the_search_found() -> None:
    import threading

    import kmapsim
    from kmapsim.checker import check_machine

    token = kmapsim.CancelToken()
    threading.Timer(0.5, token.cancel).start()
    with pytest.raises(KeyboardInterrupt) as e:
        kmapsim.check(check_machine("async", ipi_latency=1), witness_tries=2**32 - 1, cancel=token)
    text = str(e.value)
    assert text.startswith("cancelled by its CancelToken at depth "), text
    assert "the search had ended, stale access at depth " in text and " states and " in text
