"""benches/report.py refuses bad arguments with one clear line, before it measures anything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "benches" / "report.py"


def report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPORT), "--smoke", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"KMAPSIM_BENCH_SMOKE": "1", "PATH": "/usr/bin:/bin"},
    )


def refused(out: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert out.returncode != 0, out.stdout
    assert "Traceback" not in out.stderr, out.stderr
    assert out.stdout == "", "it measured before refusing"
    for needle in needles:
        assert needle in out.stderr, out.stderr


def figures() -> dict:
    """The smallest file --before accepts: every key the summary rows read."""
    scaling = {
        "cpus": 64,
        "cycles": 10,
        "events": 20,
        "kmaps": 2,
        "engine_s": 1.0,
        "ns_per_event": 1.0,
        "events_per_s": 1.0,
        "cpu_cycles_per_s": 1.0,
    }
    task = {"tasks": 64, "cycles": 10, "kmaps": 1, "sleeps": 0, "engine_s": 1.0}
    task |= {"ns_per_kmap": 1.0, "ns_per_event": 1.0}
    rss = {"cpus": 64, "cycles": 10, "peak_mib": 1.0, "floor_mib": 1.0}
    return {
        "step": {"cycles": 1, "step_engine_s": 1.0, "skip_engine_s": 1.0}
        | {"ratio_engine": 1.0, "ratio_call": 1.0},
        "speed": {"cycles": 1, "simpy_s": 1.0, "kmapsim_call_s": 1.0}
        | {"kmapsim_engine_s": 1.0, "ratio_call": 1.0, "ratio_engine": 1.0},
        "agree": {"seeds": 1, "cpus": 8, "cycles": 1, "worst_abs_diff": 0.0},
        "scaling": [scaling],
        "sweep": {"workers": 2, "runs": 1, "cpus": 8, "cycles": 1, "serial_s": 1.0}
        | {"parallel_s": 1.0, "speedup": 1.0},
        "memory": [rss | {"engine_only": False}, rss | {"engine_only": True}],
        "tasks": [task, task],
        "check": {"pages": 2, "states": 1, "bfs_states_per_s": 1.0, "dfs_states_per_s": 1.0},
        "meta": {"git": "x", "date": "d", "seconds": 1, "load_before": 0, "load_after": 0},
    }


@pytest.mark.parametrize("flag", ["--json", "--out", "--before"])
def test_an_empty_path_is_refused(flag: str) -> None:
    refused(report(flag, ""), flag, "an empty path")


@pytest.mark.parametrize("flag", ["--json", "--out"])
def test_a_folder_or_a_missing_folder_is_refused(flag: str, tmp_path: Path) -> None:
    refused(report(flag, str(tmp_path)), flag, "a folder")
    refused(report(flag, str(tmp_path / "no" / "x")), flag, "no folder")


@pytest.mark.parametrize("label", ["", "   ", "a\nb"])
def test_a_blank_or_unprintable_label_is_refused(label: str) -> None:
    refused(report("--label", label), "--label", "printable")


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("{", "JSONDecodeError"),
        ("[1]", "not an object"),
        ("[" * 100_000 + "]" * 100_000, "RecursionError"),
        (json.dumps({k: v for k, v in figures().items() if k != "meta"}), "no 'meta'"),
        (json.dumps(figures() | {"meta": None}), "TypeError"),
        (json.dumps(figures() | {"meta": figures()["meta"] | {"seconds": "x"}}), "ValueError"),
        (
            json.dumps(figures() | {"scaling": [figures()["scaling"][0] | {"kmaps": 0}]}),
            "ZeroDivisionError",
        ),
    ],
)
def test_a_before_file_not_written_by_json_is_refused(
    content: str, why: str, tmp_path: Path
) -> None:
    path = tmp_path / "before.json"
    path.write_text(content)
    refused(report("--before", str(path)), "not a report.py --json file", why)


def test_a_missing_before_file_is_refused(tmp_path: Path) -> None:
    refused(report("--before", str(tmp_path / "none.json")), "cannot read it")
