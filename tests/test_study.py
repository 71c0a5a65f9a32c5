"""The study answers both halves of the seed mail: its table, verdicts and plots, on small runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kmapsim.study import (
    LATENCY_SWEEP,
    REGIMES,
    Study,
    all_strategies,
    answer_table,
    pkmap_pool,
    run_study,
    verdicts,
)

pytest.importorskip("matplotlib")

import matplotlib.image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNGS = [
    "scaling.png",
    "breakdown.png",
    "lock_wait.png",
    "cycles_preset.png",
    "cycles_flush-bound.png",
    "cycles_safety.png",
    "stale.png",
]


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    out = tmp_path_factory.mktemp("study")
    return run_study(
        out, cpus=[8, 64], seeds=2, cycles=4_000_000, latencies=[300, 3000], progress=False
    )


def test_the_table_has_both_regimes_at_8_and_64_cpus(study: Study) -> None:
    text = study.summary()
    assert "8 CPUs" in text and "64 CPUs" in text
    for regime in ("preset", "flush-bound", "safety"):
        assert any(line.startswith(regime) for line in text.splitlines()), regime
    # The flush-bound regime states its fields and where it comes from.
    assert "work_cycles=2000" in text and "irq_hold_cycles=30000" in text
    assert "docs/scripts/scaling.py" in text and "last_pkmap=8 per CPU" in text
    assert "vs sync" in text and "stale accesses" in text
    for category in ("flush_scan", "ipi_wait", "kmap_spin"):
        assert category in text


def test_stale_reads_async_only_in_the_safety_regime(study: Study) -> None:
    f = study.regime("safety")
    stale = f.groupby(["strategy", "cpus"])["stale_accesses"].sum()
    assert stale[("async", 8)] > 0
    assert (stale.drop("async", level="strategy") == 0).all()
    # The printed row says the same.
    row = next(line for line in study.summary().splitlines() if line.startswith("safety"))
    assert row.split()[1] == "sync" and row.split()[-2:] == ["0", "0"]
    lines = study.summary().splitlines()
    i = lines.index(row)
    async_row = lines[i + 1].split()
    assert async_row[0] == "async" and int(async_row[-2].replace(",", "")) > 0


def test_the_verdicts_are_computed(study: Study) -> None:
    lines = study.summary().splitlines()
    a = next(line for line in lines if line.startswith("(a)"))
    b = next(line for line in lines if line.startswith("(b)"))
    total = int(study.result.frame.query("strategy == 'async'")["stale_accesses"].sum())
    assert a.split("?  ")[1].startswith("NO: async read stale TLB entries")
    assert f"{total:,} in all" in a
    assert (
        "sync, guarded, lazy, targeted, local, broadcast, concurrent, early-ack, ranged, defer and"
        in a
    )
    assert a.endswith("read none in any of their runs")
    assert "flush-bound" in b and "preset" in b
    f = study.result.frame.query("regime == 'flush-bound' and cpus == 8")
    means = f.groupby("strategy")["throughput"].mean()
    assert f"{means['async'] / means['sync'] - 1:+.1%}" in b


def test_the_flush_bound_pool_grows_with_the_cpus(study: Study) -> None:
    f = study.regime("flush-bound")
    pools = dict(zip(f["cpus"], f["last_pkmap"], strict=True))
    assert pools == {8: 64, 64: 512}  # the corner at 8 CPUs, the PAE LAST_PKMAP at 64
    assert pkmap_pool(3, 8) == 32 and pkmap_pool(1, 1) == 2
    assert [r.name for r in REGIMES] == ["preset", "flush-bound", "safety"]


def test_the_latency_sweep_and_the_store(study: Study) -> None:
    lat = study.regime(LATENCY_SWEEP)
    assert set(lat["ipi_latency"]) == {300}  # 3000 is the safety regime's own: not run twice
    assert set(lat["cpus"]) == {8, 64}
    # 3 regimes x 2 CPU counts x every strategy x 2 seeds, plus the latency sweep at 8 and 64.
    n = len(all_strategies())
    assert study.runs == len(study.result.frame) == 3 * 2 * n * 2 + 2 * n * 2
    again = run_study(
        study.outdir, cpus=[8, 64], seeds=2, cycles=4_000_000, latencies=[300, 3000],
        progress=False, plots=False,
    )  # fmt: skip
    assert again.result.reused == again.runs == study.runs


def test_every_png_is_written_and_valid(study: Study) -> None:
    assert [p.name for p in study.plots] == PNGS
    for p in study.plots:
        assert p.read_bytes()[:8] == PNG_SIGNATURE
        image = matplotlib.image.imread(p)
        assert image.shape[0] >= 300 and image.shape[1] >= 300
        assert float(np.std(image)) > 0.01


def test_a_subset_of_regimes_and_no_sync(tmp_path: Path) -> None:
    s = run_study(
        tmp_path, cpus=[2], strategies=["lazy"], seeds=1, cycles=200_000, regimes=["preset"],
        progress=False, plots=False,
    )  # fmt: skip
    assert set(s.result.frame["regime"]) == {"preset"}
    assert "not answered: the study ran no async and sync" in s.summary()
    with pytest.raises(ValueError, match="regimes"):
        run_study(tmp_path, regimes=["fast"], plots=False, progress=False)


def test_a_study_shows_itself_as_html_in_a_notebook(study: Study) -> None:
    page = study._repr_html_()
    assert page.startswith("<div><p><b>Study</b>") and "<table" in page
    assert f"{study.runs:,} runs" in page and "<script" not in page
    assert study == study and study.regimes[0] in {study.regimes[0]}


def _frame_with_latency_sweep() -> pd.DataFrame:
    """sync and async at 8 CPUs in two regimes, stale reads only in the IPI latency sweep and
    at a CPU count no table shows."""
    rows = []
    for regime, cpus, stale in (
        ("preset", 8, 0),
        ("safety", 8, 0),
        ("safety", 2, 3),
        (LATENCY_SWEEP, 8, 17),
    ):
        for strategy in ("sync", "async"):
            rows.append(
                dict(regime=regime, strategy=strategy, cpus=cpus, seed=0, cycles=1000,
                     throughput=100.0, stale_accesses=stale if strategy == "async" else 0,
                     share_flush_scan=0.1, share_ipi_wait=0.1, share_kmap_spin=0.2)
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_stale_reads_are_placed_where_they_were_read() -> None:
    (a, *_) = verdicts(_frame_with_latency_sweep(), [8], ["preset", "safety"])
    assert "3 at the other CPU counts of the regimes" in a
    assert "17 in the safety regime's IPI latency sweep, in no table" in a
    assert "20 in all" in a


def test_the_summary_names_the_strategies_a_partial_study_ran(tmp_path: Path) -> None:
    s = run_study(
        tmp_path / "s",
        cpus=[2],
        strategies=["sync", "async"],
        seeds=1,
        cycles=20_000,
        plots=False,
        progress=False,
        regimes=["preset"],
    )
    text = s.summary()
    assert "The strategies sync and async at 2 CPUs" in text
    assert "Every strategy" not in text


def test_without_sync_a_is_answered_and_no_table_promises_a_change_from_sync() -> None:
    frame = _frame_with_latency_sweep()
    frame = frame[frame["strategy"] != "sync"]
    a, b, alt = verdicts(frame, [8], ["preset", "safety"])
    assert a.startswith("(a) is an asynchronous flush safe?  NO: async read stale TLB entries")
    assert "20 in all" in a and "17 in the safety regime's IPI latency sweep" in a
    assert "not answered: the study ran no sync" in b
    assert "ran no sync" in alt
    table = answer_table(frame, [8])
    assert not any(str(c).startswith("vs ") for _, c in table.columns)


def test_the_summary_without_sync_answers_a(tmp_path: Path) -> None:
    s = run_study(
        tmp_path / "s", cpus=[2], strategies=["guarded", "async"], seeds=1, cycles=20_000,
        plots=False, progress=False, regimes=["preset"], latencies=[],
    )  # fmt: skip
    text = s.summary()
    assert "its change from sync" not in text and "vs sync" not in text
    assert "(a) is an asynchronous flush safe?  not answered" not in text
    assert "(b) does it fix kmap_lock contention?  not answered: the study ran no sync" in text
