"""Running the `kmapsim` command line as a user does: a separate process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def kmapsim_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m kmapsim ARGS``, with its exit code, stdout and stderr."""
    return subprocess.run(
        [sys.executable, "-m", "kmapsim", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
    )
