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


#: The interpreter's options that take an argument (attached, ``-Wall``, or the next one).
_OPTIONS_WITH_ARGUMENT = frozenset("WX")
#: Its long options that take the next argument.
_LONG_OPTIONS_WITH_ARGUMENT = frozenset({"--check-hash-based-pycs"})


def _module_option(argv: list[str]) -> str | None:
    """The module ``python -m MODULE`` runs, from the interpreter's own options only (those
    before the script, ``-c`` or ``-m``): a ``-m kmapsim`` among a script's or module's own
    arguments (``python s.py -m kmapsim``, ``python -m pytest -m kmapsim``) is not it."""
    args = iter(argv[1:])
    for arg in args:
        if arg == "--" or arg == "-" or not arg.startswith("-"):
            return None  # the script (or stdin): options end here
        if arg.startswith("--"):
            if arg in _LONG_OPTIONS_WITH_ARGUMENT:
                next(args, None)
            continue
        for i, flag in enumerate(arg[1:], start=1):
            rest = arg[i + 1 :]
            if flag == "m":
                return rest or next(args, None)
            if flag == "c":
                return None
            if flag in _OPTIONS_WITH_ARGUMENT:
                if not rest:
                    next(args, None)
                break
    return None


def _is_command_line() -> bool:
    """Whether this process is ``kmapsim ...`` or ``python -m kmapsim ...``."""
    main = sys.modules.get("__main__")
    script = os.path.basename(getattr(main, "__file__", None) or "")
    if script in _SCRIPT_NAMES:
        return True
    return _module_option(list(getattr(sys, "orig_argv", []))) == "kmapsim"


def guard_startup() -> None:
    """Install the quiet handler if this is the command line and Ctrl-C has Python's default
    handler (a SIGINT the parent ignores stays ignored)."""
    if _is_command_line() and _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
        _signal.signal(_signal.SIGINT, _quiet_exit)


def release() -> None:
    """Python's handler back (KeyboardInterrupt), if `guard_startup` installed ours."""
    if _signal.getsignal(_signal.SIGINT) is _quiet_exit:
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)
