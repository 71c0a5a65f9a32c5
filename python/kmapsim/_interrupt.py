"""Ctrl-C while the command line is still starting: a quiet exit with status 130.

The ``kmapsim`` command imports numpy, pandas and the engine before `kmapsim.cli.main` runs
(about half a second). A KeyboardInterrupt raised inside those imports would end the process
with a traceback, so `guard_startup` (called first thing by the package when the process is the
command line) replaces Python's SIGINT handler with one that prints the command line's one-line
message and exits at once; `release` puts Python's handler back once the command line can catch
KeyboardInterrupt itself. A library import (any other process) is left alone.
"""

from __future__ import annotations

# _signal, not signal: the wrapper builds its enums for milliseconds, the window this closes.
import _signal  # type: ignore[import-not-found]  # no stub: the C half of signal
import itertools
import os
import sys

__all__ = ["EXIT_INTERRUPTED", "MESSAGE", "guard_startup", "release"]

#: The exit status of an interrupted command (128 + SIGINT), as the shell reports Ctrl-C.
EXIT_INTERRUPTED = 130
#: What an interrupted command prints on stderr.
MESSAGE = "kmapsim: error: interrupted"

#: The names the console script may have (pip writes ``kmapsim``; ``.exe`` and ``-script.py``
#: on Windows).
_SCRIPT_NAMES = frozenset({"kmapsim", "kmapsim.exe", "kmapsim-script.py"})


def _quiet_exit(signum: int, frame: object) -> None:
    """Exit at once: the imports under way cannot be unwound into a clean state anyway."""
    os.write(2, (MESSAGE + "\n").encode())
    os._exit(EXIT_INTERRUPTED)


def _is_command_line() -> bool:
    """Whether this process is ``kmapsim ...`` or ``python -m kmapsim ...``."""
    main = sys.modules.get("__main__")
    script = os.path.basename(getattr(main, "__file__", None) or "")
    if script in _SCRIPT_NAMES:
        return True
    argv = getattr(sys, "orig_argv", [])
    pairs = itertools.pairwise(argv)
    return "-mkmapsim" in argv or any(a == "-m" and b == "kmapsim" for a, b in pairs)


def guard_startup() -> None:
    """Install the quiet handler if this is the command line and Ctrl-C has Python's default
    handler (a SIGINT the parent ignores stays ignored)."""
    if _is_command_line() and _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
        _signal.signal(_signal.SIGINT, _quiet_exit)


def release() -> None:
    """Python's handler back (KeyboardInterrupt), if `guard_startup` installed ours."""
    if _signal.getsignal(_signal.SIGINT) is _quiet_exit:
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)
