"""``kmapsim study`` and ``kmapsim sweep``, run as users run them (a subprocess each)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from cli_process import kmapsim_cli
from test_study import PNGS

from kmapsim.study import Study, run_study

SMALL = ["--cpus", "1,2", "--strategies", "sync,lazy", "--seeds", "2", "--cycles", "200000"]
#: What a study writes: the tables, then the PNGs tests/test_study.py lists.
STUDY_FILES = ["study.sqlite", "study.parquet", "study.csv", *PNGS]
REGIMES = {"preset", "flush-bound", "safety", "safety-latency"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_one_line_error(p: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kmapsim: error: "), p.stderr
    for needle in needles:
        assert needle in lines[0]


def test_study_writes_everything_then_reuses_the_store(tmp_path: Path) -> None:
    out = tmp_path / "study"
    p = kmapsim_cli("study", *SMALL, "--out", str(out))
    assert p.returncode == 0, p.stderr
    for name in STUDY_FILES:
        assert (out / name).stat().st_size > 0, name
    for name in (n for n in STUDY_FILES if n.endswith(".png")):
        assert (out / name).read_bytes()[:8] == PNG_SIGNATURE
    frame = pd.read_parquet(out / "study.parquet")
    assert set(frame["regime"]) == REGIMES and set(frame["strategy"]) == {"sync", "lazy"}
    # Every regime: 2 CPU counts x 2 strategies x 2 seeds; the latency sweep adds 5 latencies
    # (its 3000-cycle point is the safety regime's own runs) at both CPU counts.
    sizes = frame.groupby("regime").size().to_dict()
    assert sizes == {"preset": 8, "flush-bound": 8, "safety": 8, "safety-latency": 40}
    runs = len(frame)
    assert len(pd.read_csv(out / "study.csv")) == runs

    text = p.stdout
    assert f"kmapsim study: preset pIII-8way-2001, {runs} runs (2 seeds x 200,000 cycles)" in text
    assert "(a) is an asynchronous flush safe?" in text
    assert "(b) does it fix kmap_lock contention?" in text
    preset = frame[(frame.regime == "preset") & (frame.cpus == 2) & (frame.strategy == "lazy")]
    row = next(line.split() for line in text.splitlines() if line.split()[:2] == ["preset", "sync"])
    assert row[0] == "preset"
    assert f"{preset['throughput'].mean():,.1f}" in text
    assert "stale accesses" in text and "kmap_spin" in text
    assert f"reused 0 of {runs} runs" in text
    assert "kmapsim study" in p.stderr  # the progress bar

    again = kmapsim_cli("study", *SMALL, "--out", str(out), "--no-progress")
    assert again.returncode == 0, again.stderr
    assert f"reused {runs} of {runs} runs, ran 0" in again.stdout
    assert again.stderr == ""
    pd.testing.assert_frame_equal(pd.read_parquet(out / "study.parquet"), frame)


def test_study_from_python(tmp_path: Path) -> None:
    study = run_study(
        tmp_path, cpus=[1, 2], strategies=["sync", "local"], seeds=[3, 4], cycles=100_000,
        executor="serial", progress=False, plots=False,
    )  # fmt: skip
    assert isinstance(study, Study)
    assert [p.name for p in study.paths] == STUDY_FILES[:3]
    assert study.result.seeds == [3, 4]
    assert len(study.regime("preset")) == 8 and study.runs == len(study.result.frame)
    assert "local" in study.summary()


def test_study_bad_input_exits_2(tmp_path: Path) -> None:
    p = kmapsim_cli("study", "--strategies", "sync,fast", "--out", str(tmp_path / "x"))
    assert_one_line_error(p, "--strategies", "fast")
    p = kmapsim_cli("study", "--cpus", "1,0", "--out", str(tmp_path / "x"))
    assert_one_line_error(p, "cpus")
    assert kmapsim_cli("study", "--cpus", "1,two").returncode == 2


def test_study_without_matplotlib_writes_the_tables_and_says_why(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from kmapsim.cli import main\n"
        "raise SystemExit(main(sys.argv[1:]))\n"
    )
    out = tmp_path / "study"
    p = subprocess.run(
        [sys.executable, "-c", code, "study", *SMALL, "--out", str(out), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    assert "pip install 'kmapsim[plot]'" in p.stderr
    assert (out / "study.parquet").exists() and not (out / "scaling.png").exists()


def test_sweep_with_flags(tmp_path: Path) -> None:
    p = kmapsim_cli(
        "sweep",
        "--grid", "cpus=1,2",
        "--grid", "irq_hold_cycles=1_000,3000",
        "--set", "strategy=lazy",
        "--seeds", "2",
        "--cycles", "200_000",
        "--store", str(tmp_path / "s.sqlite"),
        "--out", str(tmp_path / "t.parquet"),
        "--plots", str(tmp_path / "plots"),
        "--no-progress",
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    frame = pd.read_parquet(tmp_path / "t.parquet")
    assert len(frame) == 8 and set(frame["strategy"]) == {"lazy"}
    assert sorted(set(frame["irq_hold_cycles"])) == [1000, 3000]
    for name in ("scaling.png", "breakdown.png", "lock_wait.png"):  # a sweep's own plots
        assert (tmp_path / "plots" / name).read_bytes()[:8] == PNG_SIGNATURE
    lines = p.stdout.splitlines()
    header = next(line for line in lines if line.startswith("cpus"))
    assert header.split() == [
        *("cpus", "irq_hold_cycles", "mean", "std", "min", "max", "stale", "accesses")
    ]
    body = [line.split() for line in lines[lines.index(header) + 1 :][:4]]
    assert [(r[0], r[1]) for r in body] == [
        ("1", "1000"),
        ("1", "3000"),
        ("2", "1000"),
        ("2", "3000"),
    ]
    summary = frame.groupby(["cpus", "irq_hold_cycles"])["throughput"].agg(["mean", "std"])
    assert body[3][2:4] == [f"{summary['mean'].iloc[3]:,.1f}", f"{summary['std'].iloc[3]:,.1f}"]
    assert "strategy='lazy'" in p.stdout
    assert "reused 0 of 8 runs" in p.stdout

    again = kmapsim_cli(
        "sweep", "--grid", "cpus=1,2", "--grid", "irq_hold_cycles=1000,3000",
        "--set", "strategy=lazy", "--seeds", "2", "--cycles", "200000",
        "--store", str(tmp_path / "s.sqlite"), "--no-progress",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "reused 8 of 8 runs" in again.stdout


GRID_FILE = """
[base]
preset = "pIII-8way-2001"
irq_hold_cycles = 1000

[grid]
cpus = [1, 2]
strategy = ["sync", "async"]

[run]
seeds = 2
cycles = 200_000
"""


def test_sweep_with_a_grid_file(tmp_path: Path) -> None:
    toml = tmp_path / "grid.toml"
    toml.write_text(GRID_FILE)
    p = kmapsim_cli(
        "sweep", "--grid-file", str(toml), "--out", str(tmp_path / "t.csv"), "--no-progress"
    )
    assert p.returncode == 0, p.stderr
    frame = pd.read_csv(tmp_path / "t.csv")
    assert len(frame) == 2 * 2 * 2
    assert set(frame["irq_hold_cycles"]) == {1000} and set(frame["cycles"]) == {200_000}
    assert "irq_hold_cycles=1000" in p.stdout
    header = next(line for line in p.stdout.splitlines() if line.startswith("cpus"))
    assert header.split()[:2] == ["cpus", "strategy"]

    # The command line wins over the file.
    p = kmapsim_cli(
        "sweep", "--grid-file", str(toml), "--seeds", "1", "--grid", "strategy=local",
        "--out", str(tmp_path / "u.csv"), "--no-progress",
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    frame = pd.read_csv(tmp_path / "u.csv")
    assert len(frame) == 2 and set(frame["strategy"]) == {"local"}
    assert "std" in p.stdout and " - " in p.stdout + " "  # one seed: no std


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--grid", "cpuz=1,2"], ["cpuz", "did you mean 'cpus'"]),
        (["--grid", "cpus=1,0"], ["cpus"]),
        (["--grid", "strategy=sync,fast"], ["strategy", "fast"]),
        (["--grid", "cpus"], ["--grid", "field=v1,v2"]),
        (["--grid", "cpus=1", "--grid", "cpus=2"], ["cpus", "twice"]),
        (["--set", "cpuz=1"], ["cpuz"]),
        (["--out", "table.xlsx"], ["--out", ".parquet or .csv"]),
        (["--preset", "nope"], ["preset"]),
        (["--grid-file", "/nonexistent/grid.toml"], ["--grid-file", "cannot read"]),
    ],
)
def test_sweep_bad_input_exits_2(args: list[str], needles: list[str]) -> None:
    p = kmapsim_cli("sweep", "--cycles", "1000", "--no-progress", *args)
    assert_one_line_error(p, *needles)
    assert p.stdout == ""


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("[grid]\ncpuz = [1, 2]\n", ["cpuz", "[grid]", "did you mean 'cpus'"]),
        ("[base]\nirq_hold = 5\n", ["irq_hold", "[base]"]),
        ("[run]\nseed = 2\n", ["seed", "[run]", "did you mean 'seeds'"]),
        ("[bases]\ncpus = 2\n", ["bases", "top level", "[base]"]),
        ("[grid]\ncpus = 4\n", ["cpus", "non-empty list"]),
        ("[grid\ncpus = [1]\n", ["--grid-file", "not valid TOML"]),
        ('[base]\npreset = "pIII-8way-2010"\n', ["did you mean 'pIII-8way-2001'"]),
    ],
)
def test_bad_grid_files_exit_2_naming_the_key(
    tmp_path: Path, text: str, needles: list[str]
) -> None:
    toml = tmp_path / "grid.toml"
    toml.write_text(text)
    p = kmapsim_cli("sweep", "--grid-file", str(toml), "--cycles", "1000", "--no-progress")
    assert_one_line_error(p, *needles)


def test_a_foreign_store_is_bad_input(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database" * 200)
    p = kmapsim_cli("sweep", "--cycles", "1000", "--store", str(junk), "--no-progress")
    assert_one_line_error(p, "junk.sqlite")
