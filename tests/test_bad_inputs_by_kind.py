"""Bad input, by kind: plot arguments, the study's table helpers, flags, 0-D arrays as program
step values, and the replay CSV's number cells. Each case gets a ScenarioError naming the
argument and its allowed values, never a wrong result or an error from deep inside pandas."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import kmapsim
from kmapsim import Scenario, ScenarioError
from kmapsim.replay import read_ops
from kmapsim.study import answer_table, cycle_table, pkmap_pool, throughput_table, verdicts

SMALL = Scenario(cpus=2, last_pkmap=8, pages=64, hot_pages=4)


def _raises(call: Any, field: str, *needles: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        call()
    e = info.value
    assert e.field == field, str(e)
    for needle in needles:
        assert needle in str(e), str(e)
    return e


# -- flags: a bool or a numpy bool, nothing else -------------------------------------------------

NOT_FLAGS = [1, 0, "yes", None, 2.0, np.int64(1)]


@pytest.mark.parametrize("value", NOT_FLAGS, ids=repr)
def test_flags_of_run_check_and_sweep_refuse_what_is_no_bool(value: object) -> None:
    _raises(lambda: kmapsim.run(SMALL, cycles=10, record_ops=value), "record_ops", "True or False")
    _raises(lambda: kmapsim.run(SMALL, cycles=10, record_calls=value), "record_calls")
    if value is not None:  # check's symmetry=None is "not given": the default, True
        _raises(lambda: kmapsim.check(strategy="sync", symmetry=value), "symmetry", "True or False")
    _raises(lambda: kmapsim.sweep(SMALL, cycles=10, progress=value), "progress")


def test_flags_take_numpy_bools() -> None:
    r = kmapsim.run(SMALL, cycles=20_000, record_ops=np.True_)
    assert r.ops is not None and len(r.ops) > 0
    on = kmapsim.check(strategy="sync", pages=2, symmetry=np.True_)
    off = kmapsim.check(strategy="sync", pages=2, symmetry=np.False_)
    assert on.symmetric and not off.symmetric
    assert kmapsim.sweep(SMALL, cycles=10, progress=np.False_).frame.shape[0] == 1


def test_run_study_flags_are_checked_before_anything(tmp_path: Path) -> None:
    out = tmp_path / "s"
    _raises(lambda: kmapsim.study.run_study(out, plots="no"), "plots", "True or False")
    _raises(lambda: kmapsim.study.run_study(out, plots=False, progress=1), "progress")
    assert not out.exists()


# -- 0-D arrays as program step values: refused, as they are as scenario fields -----------------


def _program(value: object) -> list[dict[str, object]]:
    work = {"op": "work", "cycles": value}
    return [{"op": "kmap", "handle": "a"}, work, {"op": "kunmap", "handle": "a"}]


@pytest.mark.parametrize("value", [np.array(5), np.array(5.0), np.array(True), np.array([5])])
def test_numpy_arrays_are_no_program_step_values(value: object) -> None:
    e = _raises(lambda: Scenario(program=_program(value)), "program step 1: cycles", "numpy array")
    assert "item()" in str(e)
    # As a scenario field, the same value was refused already.
    with pytest.raises(ScenarioError, match="cpus"):
        Scenario(cpus=value)


def test_numpy_scalars_stay_program_step_values() -> None:
    sc = Scenario(program=_program(np.int64(5)))
    assert dict(sc.program[1])["cycles"] == 5  # type: ignore[index]


# -- the replay CSV's number cells: ASCII digits only, as in the call-list CSV --------------------


@pytest.mark.parametrize("cell", ["1_000", "+5", "\u0661\u0665", "\uff11", "nan"])
def test_replay_csv_refuses_numbers_python_int_would_take(tmp_path: Path, cell: str) -> None:
    path = tmp_path / "ops.csv"
    path.write_text(f"cpu,work,page\n0,5,1\n0,{cell},2\n", encoding="utf-8")
    _raises(lambda: read_ops(path), "replay", f"{path} line 3 (cpu 0): work {cell!r}")


def test_replay_csv_still_takes_plain_and_whole_numbers(tmp_path: Path) -> None:
    path = tmp_path / "ops.csv"
    path.write_text("cpu,work,page\n0, 5 ,1\n0,5.0,2\n0,1e3,3\n", encoding="utf-8")
    assert read_ops(path)["work"].tolist() == [5, 5, 1000]


# -- the study's table helpers ---------------------------------------------------------------------


def _study_frame(sync_8: float = 100.0) -> pd.DataFrame:
    """A study's frame in small: two regimes, sync and async at 8 and 64 CPUs, two seeds."""
    rows = []
    for regime in ("preset", "flush-bound"):
        for cpus in (8, 64):
            for strategy, tput in (("sync", sync_8 if cpus == 8 else 100.0), ("async", 130.0)):
                for seed in (0, 1):
                    rows.append(
                        dict(regime=regime, strategy=strategy, cpus=cpus, seed=seed,
                             cycles=1000, throughput=tput, stale_accesses=0,
                             share_flush_scan=0.1, share_ipi_wait=0.1, share_kmap_spin=0.2)
                    )  # fmt: skip
    return pd.DataFrame(rows)


BAD_FOCUS = [[True], [3], [2.7], ["8"], [], 8, "8", [8, None]]


@pytest.mark.parametrize("focus", BAD_FOCUS, ids=repr)
def test_table_helpers_refuse_focus_that_is_no_cpu_count_of_the_frame(focus: object) -> None:
    frame = _study_frame()
    for helper in (answer_table, cycle_table, verdicts):
        _raises(lambda h=helper: h(frame, focus), "focus", "CPU counts the frame holds: 8, 64")


def test_table_helpers_take_numpy_cpu_counts() -> None:
    table = answer_table(_study_frame(), [np.int64(64)])
    assert list(table.columns.get_level_values(0).unique()) == ["64 CPUs", "stale accesses"]


def test_a_regime_not_in_the_frame_is_refused_naming_those_it_has() -> None:
    frame = _study_frame()
    _raises(lambda: throughput_table(frame, "nope"), "regime", "one of preset, flush-bound")
    assert len(throughput_table(frame, "flush-bound")) == 2


def test_study_regime_is_refused_when_unknown(tmp_path: Path) -> None:
    study = kmapsim.study.run_study(
        tmp_path / "s", cpus=[2], strategies=["sync"], seeds=1, cycles=10_000,
        progress=False, plots=False, regimes=["preset"], latencies=[],
    )  # fmt: skip
    _raises(lambda: study.regime("nope"), "regime", "one of preset")
    assert len(study.regime("preset")) == 1


@pytest.mark.parametrize("args", [(True, 8), (8, True), (2.5, 8), (8, 0), (10**300, 8)], ids=repr)
def test_pkmap_pool_refuses_what_is_no_count(args: tuple[object, object]) -> None:
    with pytest.raises(ScenarioError, match=r"^(cpus|slots_per_cpu): "):
        pkmap_pool(*args)  # type: ignore[arg-type]
    assert pkmap_pool(8, 8) == 64 and pkmap_pool(np.int64(64), 8) == 512


def test_verdicts_show_n_a_where_sync_completed_no_kmap() -> None:
    lines = verdicts(_study_frame(sync_8=0.0), [8, 64])
    text = "\n".join(lines)
    assert "nan" not in text and "inf" not in text
    assert "n/a at 8 CPUs" in text and "completed no kmap in 1,000 cycles" in text
    assert "+30.0% at 64 CPUs" in text  # the measured change still counts
    table = answer_table(_study_frame(sync_8=0.0), [8])
    assert table.loc[("preset", "async"), ("8 CPUs", "vs sync")] is None


def test_study_cli_prints_no_nan_with_too_few_cycles(tmp_path: Path) -> None:
    from cli_process import kmapsim_cli

    args = ["study", "--out", str(tmp_path / "s"), "--cpus", "1,2", "--strategies"]
    p = kmapsim_cli(*args, "sync,async", "--seeds", "1", "--cycles", "1000", "--no-progress")
    assert p.returncode == 0, p.stderr
    assert "nan%" not in p.stdout and "RuntimeWarning" not in p.stderr
    assert "n/a" in p.stdout and "run more cycles" in p.stdout


# -- plots -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sweep_result() -> kmapsim.SweepResult:
    pytest.importorskip("matplotlib")
    return kmapsim.sweep(SMALL, grid={"cpus": [1, 2]}, seeds=2, cycles=50_000, progress=False)


@pytest.fixture(autouse=True)
def _close_figures() -> Any:
    yield
    if "matplotlib.pyplot" in __import__("sys").modules:
        import matplotlib.pyplot as plt

        plt.close("all")


@pytest.mark.parametrize("dpi", [True, 2.7, "150", 0, -5, 10**300, np.float64(100.0)], ids=repr)
def test_save_all_and_save_study_refuse_a_bad_dpi(
    sweep_result: kmapsim.SweepResult, tmp_path: Path, dpi: object
) -> None:
    from kmapsim import plots

    allowed = f"an integer in [{plots.MIN_DPI}, {plots.MAX_DPI}]"
    _raises(lambda: plots.save_all(sweep_result, tmp_path, dpi=dpi), "dpi", allowed)
    frame = sweep_result.frame.assign(regime="preset")
    _raises(lambda: plots.save_study(frame, tmp_path, regimes={"preset": ""}, dpi=dpi), "dpi")
    assert not list(tmp_path.iterdir()), "nothing is drawn before the check"


@pytest.mark.parametrize("share", [True, -1, math.nan, math.inf, 2, "0.1", 10**300], ids=repr)
def test_breakdowns_refuse_a_min_share_that_is_no_fraction(
    sweep_result: kmapsim.SweepResult, share: object
) -> None:
    from kmapsim import plots

    _raises(lambda: plots.breakdown(sweep_result, min_share=share), "min_share", "[0, 1]")
    _raises(lambda: plots.breakdown_scaling(sweep_result, min_share=share), "min_share")


def test_scaling_refuses_an_unknown_spread_and_flags_that_are_no_bool(
    sweep_result: kmapsim.SweepResult,
) -> None:
    from kmapsim import plots

    for spread in ("bars", None, ["band"]):
        _raises(lambda s=spread: plots.scaling(sweep_result, spread=s), "spread", "'errorbar'")
    for flag in (1, "no", 0.0):
        _raises(lambda f=flag: plots.scaling(sweep_result, ideal=f), "ideal", "True or False")
        _raises(lambda f=flag: plots.scaling(sweep_result, logy=f), "logy", "True or False")
    _raises(lambda: plots.lock_wait(sweep_result, kind="pdf"), "kind", "'cdf' or 'hist'")
    ax = plots.scaling(sweep_result, ideal=np.False_, logy=np.True_, spread="errorbar").axes[0]
    assert ax.get_yscale() == "log"


def test_gain_panel_leaves_out_and_names_runs_where_the_baseline_completed_no_kmap() -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from kmapsim.plots import _gain_panel

    frame = _study_frame(sync_8=0.0)
    frame = frame[frame["regime"] == "preset"]
    axes = Figure().subplots()
    _gain_panel(axes, frame, "sync")
    texts = [t.get_text() for t in axes.texts]
    assert texts == ["2 sync run(s) completed no kmap: no change shown there"]
    ys = np.concatenate([line.get_ydata() for line in axes.lines if len(line.get_xdata()) == 2])
    assert np.isnan(ys[0]) and ys[1] == pytest.approx(30.0)  # 8 CPUs left out, 64 shown
    assert not np.isinf(ys).any()


# -- values a user builds: Regime, Histogram.quantile, scenario fields -----------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        (dict(slots_per_cpu=True), "slots_per_cpu"),
        (dict(slots_per_cpu=2.5), "slots_per_cpu"),
        (dict(slots_per_cpu=0), "slots_per_cpu"),
        (dict(slots_per_cpu=10**300), "slots_per_cpu"),
        (dict(fields=[("cpus", 8)]), "fields"),
        (dict(fields={8: "cpus"}), "fields"),
        (dict(name=""), "name"),
        (dict(about=None), "about"),
    ],
    ids=repr,
)
def test_a_regime_is_checked_when_made(kwargs: dict[str, Any], field: str) -> None:
    from kmapsim.study import Regime

    args: dict[str, Any] = {"name": "mine", "about": "a test load", **kwargs}
    _raises(lambda: Regime(**args), field)
    assert Regime("mine", "a load", slots_per_cpu=np.int64(4)).slots_per_cpu == 4


@pytest.mark.parametrize("value", NOT_FLAGS, ids=repr)
def test_quantile_interpolate_is_a_bool(value: object) -> None:
    h = kmapsim.Histogram.from_values("x", [1, 2, 3, 100])
    e = _raises(lambda: h.quantile(0.5, interpolate=value), "interpolate", "True or False")
    assert isinstance(e, kmapsim.ScenarioTypeError)
    assert h.quantile(0.5, interpolate=np.True_) == h.quantile(0.5, interpolate=True)


def test_a_numpy_array_as_a_scenario_field_is_named_as_one() -> None:
    e = _raises(lambda: Scenario(cpus=np.array(5)), "cpus", "array array(5) of 0 dimensions")
    assert "value.item()" in str(e) and "a ndarray" not in str(e)


TIMES = [np.timedelta64(8), np.datetime64(8, "s")]


@pytest.mark.parametrize("value", TIMES, ids=repr)
def test_numpy_times_and_durations_are_no_numbers(value: object) -> None:
    # numpy counts them among its integers; a field, a grid and a run argument refuse them.
    _raises(lambda: Scenario(cpus=value), "cpus", "got a numpy")
    _raises(lambda: Scenario(cpu_mhz=value), "cpu_mhz", "got a numpy")
    grid = {"cpus": [value]}
    _raises(lambda: kmapsim.sweep(SMALL, grid=grid, cycles=100, progress=False), "cpus")
    arr = {"cpus": np.array([value, value])}
    _raises(lambda: kmapsim.sweep(SMALL, grid=arr, cycles=100, progress=False), "cpus")
    _raises(lambda: kmapsim.run(SMALL, cycles=100, max_wall_seconds=value), "max_wall_seconds")


@pytest.mark.parametrize("q", [True, math.nan, -0.1, 1.5, "0.5", 10**400], ids=repr)
def test_quantile_q_is_a_fraction(q: object) -> None:
    h = kmapsim.Histogram.from_values("x", [1, 2, 3, 100])
    _raises(lambda: h.quantile(q), "q", "a number in [0, 1]")
    assert h.quantile(np.float64(1.0)) == 100


# -- integer fields: an integer, never a float, even a whole one (docs/model.md, section 11) -----


def test_a_whole_float_is_no_integer_field_anywhere(tmp_path: Path) -> None:
    needles = ("got a float 8.0, not an integer", "an integer in [1, 4096]")
    _raises(lambda: Scenario(cpus=8.0), "cpus", *needles)
    _raises(lambda: Scenario.from_dict({"cpus": np.float64(8.0)}), "cpus", "not an integer")
    _raises(lambda: SMALL.replace(cpus=8.0), "cpus", *needles)
    toml = tmp_path / "s.toml"
    toml.write_text("cpus = 8.0\n")
    _raises(lambda: Scenario.from_file(toml), "cpus", str(toml), *needles)
    grid = {"cpus": [2, 8.0]}
    _raises(lambda: kmapsim.sweep(SMALL, grid=grid, cycles=10), "cpus", "not an integer")
    out = tmp_path / "study"
    _raises(lambda: kmapsim.study.run_study(out, cpus=[2.0], plots=False), "cpus", "integer")
    step = "program step 1 (work): cycles"
    _raises(lambda: Scenario(program="kmap; work cycles=500.0; kunmap"), step, "not an integer")
    _raises(
        lambda: Scenario(program=[{"op": "work", "cycles": 5.0}]), "program step 0 (work): cycles"
    )


# -- "did you mean": case compared last, the same everywhere ----------------------------------

#: A call list with a miscased op, and an ops table with a miscased column.
CALL_ROW = {"task": [0], "op": ["KUNMAP"], "page": [1], "work": [0]}
OPS_ROW = {"CPU": [0], "work": [1], "page": [1]}

SUGGESTED = [
    (lambda: Scenario(strategy="Async"), "strategy", "'async'"),
    (lambda: Scenario(strategy="LAZY"), "strategy", "'lazy'"),
    (lambda: Scenario(strategy="SYNC"), "strategy", "'sync'"),
    (lambda: Scenario(workload="DBENCH"), "workload", "'dbench'"),
    (lambda: Scenario(CPUS=2), "CPUS", "'cpus'"),
    (lambda: Scenario.preset("PIII-8WAY-2001"), "preset", "'pIII-8way-2001'"),
    (lambda: Scenario(program="KMAP; kunmap"), "program step 0: op", '"kmap"'),
    (lambda: Scenario(program="kmap PAGE=hot; kunmap"), "program step 0 (kmap): PAGE", '"page"'),
    (lambda: Scenario(program="kmap page=HOT; kunmap"), "program step 0 (kmap): page", '"hot"'),
    (lambda: Scenario(program="work dist=FIXED"), "program step 0 (work): dist", '"fixed"'),
    (lambda: kmapsim.run(SMALL, cycles=10, mode="SKIP"), "mode", "'skip'"),
    (lambda: kmapsim.study.run_study("unused", regimes=["SAFETY"]), "regimes", "'safety'"),
    (lambda: kmapsim.sweep(SMALL, cycles=10, mode="Step"), "mode", "'step'"),
    (lambda: kmapsim.sweep(SMALL, cycles=10, executor="Serial"), "executor", "'serial'"),  # type: ignore[arg-type]
    (
        lambda: kmapsim.run(SMALL, cycles=10, replay_calls={0: [{"op": "Kmap"}]}),
        "replay_calls",
        "'kmap'",
    ),
    (
        lambda: kmapsim.run(SMALL, cycles=10, replay_calls=pd.DataFrame(CALL_ROW)),
        "replay_calls",
        "'kunmap'",
    ),
    (lambda: kmapsim.run(SMALL, cycles=10, replay=pd.DataFrame(OPS_ROW)), "replay", "'cpu'"),
]


@pytest.mark.parametrize(("call", "field", "suggestion"), SUGGESTED)
def test_did_you_mean_compares_case_last(call: Any, field: str, suggestion: str) -> None:
    e = _raises(call, field, f"(did you mean {suggestion}?)")
    assert "did you mean" not in e.allowed  # the name itself stays case-sensitive


def test_did_you_mean_still_needs_a_near_name() -> None:
    e = _raises(lambda: Scenario(strategy="zzzzzz"), "strategy")
    assert "did you mean" not in str(e)


def test_sweep_refuses_a_base_program_that_no_point_runs() -> None:
    base = SMALL.replace(program="kmap; kunmap")
    grid = {"workload": ["dbench", "file-read"]}
    _raises(lambda: kmapsim.sweep(base, grid=grid, cycles=10), "program", "runs at no grid point")
    both = kmapsim.sweep(base, grid={"workload": ["custom", "dbench"]}, cycles=10, progress=False)
    assert list(both.frame["program"].notna()) == [True, False]


# -- writers: a path that cannot be written is a ScenarioFileError naming it, as on the CLI -------


@pytest.fixture(scope="module")
def traced() -> kmapsim.RunResult:
    return kmapsim.run(SMALL, cycles=20_000, trace=50, record_ops=True)


def _file_writers(
    traced: kmapsim.RunResult, swept: kmapsim.SweepResult
) -> dict[str, tuple[Any, str, str]]:
    """Writer name -> (write(path), field, a suffix it takes)."""
    return {
        "Scenario.to_file": (SMALL.to_file, "file", ".toml"),
        "perfetto.write": (lambda p: kmapsim.perfetto.write(traced, p), "path", ".json"),
        "replay.write_ops": (lambda p: kmapsim.replay.write_ops(traced.ops, p), "replay", ".csv"),
        "SweepResult.to_parquet": (swept.to_parquet, "path", ".parquet"),
        "SweepResult.to_csv": (swept.to_csv, "path", ".csv"),
    }


WRITERS = [
    "Scenario.to_file",
    "perfetto.write",
    "replay.write_ops",
    "SweepResult.to_parquet",
    "SweepResult.to_csv",
]


def _file_error(call: Any, field: str, path: Path, *needles: str) -> None:
    e = _raises(call, field, str(path), *needles)
    assert isinstance(e, kmapsim.ScenarioFileError) and e.path == str(path), repr(e)


@pytest.mark.parametrize("writer", WRITERS)
def test_writers_refuse_a_path_they_cannot_write(
    writer: str,
    tmp_path: Path,
    traced: kmapsim.RunResult,
    sweep_result: kmapsim.SweepResult,
) -> None:
    write, field, suffix = _file_writers(traced, sweep_result)[writer]
    missing = tmp_path / "no-such-dir" / f"out{suffix}"
    _file_error(lambda: write(missing), field, missing, "does not exist", "existing, writable")
    folder = tmp_path / f"folder{suffix}"
    folder.mkdir()
    _file_error(lambda: write(folder), field, folder, "is a directory")
    wrong = tmp_path / "out.txt"
    _file_error(lambda: write(wrong), field, wrong, "the suffix '.txt'", suffix)
    assert not wrong.exists() and not missing.parent.exists()
    assert write(tmp_path / f"good{suffix.upper()}") == tmp_path / f"good{suffix.upper()}"


def test_a_failed_write_is_a_file_error_caused_by_the_os_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sweep_result: kmapsim.SweepResult
) -> None:
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    out = tmp_path / "t.csv"
    e = _raises(lambda: sweep_result.to_csv(out), "path", str(out), "No space left")
    assert isinstance(e, kmapsim.ScenarioFileError) and isinstance(e.__cause__, OSError)


def test_plot_and_study_directories_are_checked_as_on_the_command_line(
    tmp_path: Path, sweep_result: kmapsim.SweepResult
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    _file_error(lambda: kmapsim.plots.save_all(sweep_result, a_file), "outdir", a_file, "not a dir")
    deep = tmp_path / "missing" / "plots"
    _file_error(lambda: kmapsim.plots.save_all(sweep_result, deep), "outdir", deep, "not exist")
    (tmp_path / "p" / "scaling.png").mkdir(parents=True)
    _raises(lambda: kmapsim.plots.save_all(sweep_result, tmp_path / "p"), "outdir", "scaling.png")
    _file_error(
        lambda: kmapsim.study.run_study(a_file, cpus=[1], cycles=10, plots=False, progress=False),
        "outdir",
        a_file,
        "not a directory",
    )
    assert not deep.parent.exists()


# -- no bare ValueError, TypeError or AttributeError: a wrong type is a ScenarioTypeError ------


def _typed(call: Any, field: str, *needles: str) -> None:
    """A wrong type: a ScenarioTypeError, both a TypeError and a ScenarioError."""
    e = _raises(call, field, *needles)
    assert isinstance(e, kmapsim.ScenarioTypeError) and isinstance(e, TypeError), repr(e)


def _valued(call: Any, field: str, *needles: str) -> None:
    """A wrong value of the right type: a ScenarioError, and no TypeError."""
    e = _raises(call, field, *needles)
    assert not isinstance(e, TypeError), repr(e)


def test_histogram_arguments_are_typed_errors() -> None:
    h = kmapsim.Histogram.from_values("x", [1, 2, 3])
    _valued(lambda: h.quantile(math.nan), "q", "a number in [0, 1]")
    _typed(lambda: h.quantile("0.5"), "q", "a number in [0, 1]")
    _valued(lambda: kmapsim.Histogram.from_values("x", []).quantile(0.5), "histogram", "empty")
    _typed(lambda: kmapsim.Histogram.from_values("x", [True]), "values[0]", "got bool True")
    _valued(lambda: kmapsim.Histogram.from_values("x", [-1]), "values[0]", "out of range")
    _typed(lambda: kmapsim.Histogram.from_values("x", 5), "values", "a list of integers")
    _typed(lambda: kmapsim.Histogram.from_raw("x", 5), "raw", "counts, count")  # type: ignore[arg-type]
    _valued(lambda: kmapsim.Histogram.from_raw("x", {"counts": []}), "raw", "no key count")
    _typed(lambda: kmapsim.histogram.bucket_of("5"), "value")  # type: ignore[arg-type]


def test_a_histogram_refuses_what_it_would_have_converted() -> None:
    """int("5") and a float count are no counts: they were converted silently."""
    zeros = np.zeros(65, dtype=np.int64)
    args: dict[str, Any] = {"name": "x", "counts": zeros, "count": 0, "sum": 0, "min": 0, "max": 0}
    _typed(lambda: kmapsim.Histogram(**{**args, "name": 5}), "name", "a string")
    _typed(lambda: kmapsim.Histogram(**{**args, "count": "5"}), "count")
    _typed(lambda: kmapsim.Histogram(**{**args, "counts": zeros + 0.5}), "counts", "float64")
    _valued(lambda: kmapsim.Histogram(**{**args, "counts": zeros[:64]}), "counts", "(64,)")
    _valued(lambda: kmapsim.Histogram(**{**args, "counts": zeros - 1}), "counts", "negative")


def test_top_categories_and_perfetto_refuse_with_typed_errors(
    tmp_path: Path, traced: kmapsim.RunResult
) -> None:
    _typed(lambda: traced.top_categories(True), "n", "an integer >= 0")  # type: ignore[arg-type]
    _valued(lambda: traced.top_categories(-1), "n", "an integer >= 0")
    untraced = kmapsim.run(SMALL, cycles=1_000)
    out = tmp_path / "t.json"
    _valued(lambda: kmapsim.perfetto.write(untraced, out), "result", "no trace events", "trace=N")
    _typed(lambda: kmapsim.perfetto.write(5, out), "result", "a RunResult")  # type: ignore[arg-type]
    _typed(lambda: kmapsim.perfetto.to_trace_events(None), "result")  # type: ignore[arg-type]
    assert not out.exists()


def test_the_scenario_argument_is_a_typed_error() -> None:
    _typed(lambda: kmapsim.run({"cpus": 2}, cycles=10), "scenario", "a kmapsim.Scenario")  # type: ignore[arg-type]
    _typed(lambda: kmapsim.Simulation(5), "scenario")  # type: ignore[arg-type]
    _typed(lambda: kmapsim.sweep(None, cycles=10), "base", "a kmapsim.Scenario")  # type: ignore[arg-type]
    _typed(lambda: kmapsim.check("sync"), "scenario")  # type: ignore[arg-type]


def test_store_refuses_keys_and_rows_of_the_wrong_type(tmp_path: Path) -> None:
    store = kmapsim.Store(tmp_path / "s.sqlite")
    try:
        _typed(lambda: store.get([5]), "keys[0]", "a run key")
        _typed(lambda: store.get("abc"), "keys", "an iterable of run keys")
        _typed(lambda: store.get(5), "keys")  # type: ignore[arg-type]
        _typed(lambda: store.put(5, 0, 10, {}), "key")  # type: ignore[arg-type]
        _typed(lambda: store.put("k", 0, 10, [1]), "row", "a mapping")  # type: ignore[arg-type]
        assert store.get(["k"]) == {} and len(store) == 0
    finally:
        store.close()


def test_plots_and_study_tables_refuse_arguments_of_the_wrong_type(
    sweep_result: kmapsim.SweepResult,
) -> None:
    plots, study = kmapsim.plots, kmapsim.study
    _typed(lambda: plots.scaling(5), "frame", "a SweepResult")  # type: ignore[arg-type]
    _typed(lambda: plots.scaling(sweep_result, hue=5), "hue", "column name")  # type: ignore[arg-type]
    _typed(lambda: plots.breakdown(sweep_result, by=b"strategy"), "by")  # type: ignore[arg-type]
    _typed(lambda: plots.lock_wait(sweep_result, by=["strategy", 5]), "by[1]")  # type: ignore[list-item]
    _typed(lambda: plots.scaling(sweep_result, title=5), "title", "a string")  # type: ignore[arg-type]
    _typed(lambda: plots.stale(sweep_result, x="cpus", marks=5), "marks")  # type: ignore[arg-type]
    _valued(lambda: plots.scaling(sweep_result.frame.iloc[:0]), "frame", "no rows")
    _valued(lambda: plots.breakdown(sweep_result.frame[["cpus", "strategy"]]), "frame", "share_")
    _valued(lambda: plots.breakdown(sweep_result, at={}, by="strategy"), "at", "differ in")
    _typed(lambda: study.throughput_table(5), "result", "a SweepResult")  # type: ignore[arg-type]
    _typed(lambda: study.at_largest(None), "result")  # type: ignore[arg-type]
    _valued(lambda: study.at_largest(sweep_result.frame[["cpus"]]), "result", "no column")


# -- call lists: every error names the file and line (or row, or task and call) and the limit ---

CALLS_SCENARIO = SMALL  # 2 tasks (one per CPU), pages = 64, irq_locks = 4


def _calls_csv(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "calls.csv"
    path.write_text("task,op,page,work\n# a comment line counts too\n" + "".join(rows))
    return path


def _calls_error(calls: object, *needles: str) -> None:
    run = lambda: kmapsim.run(CALLS_SCENARIO, cycles=1_000, replay_calls=calls)  # noqa: E731
    _raises(run, "replay_calls", *needles)


@pytest.mark.parametrize(
    ("rows", "needles"),
    [
        (["5,kmap,1,10\n"], ["line 3: task 5", "a task below 2"]),
        (["0,kmap,99,10\n"], ["line 3 (task 0, call 0, kmap): page 99", "pages = 64"]),
        (["0,kmap,1,0\n", "0,kunmap,2,0\n"], ["line 4 (task 0, call 1, kunmap): page 2"]),
        (["0,irq_section,9,10\n"], ["line 3 (task 0, call 0, irq_section)", "irq_locks = 4"]),
        (["0,kmap,1.0,10\n"], ["line 3: page '1.0'", "integers"]),
    ],
)
def test_call_list_errors_name_the_file_line_and_the_allowed_values(
    tmp_path: Path, rows: list[str], needles: list[str]
) -> None:
    path = _calls_csv(tmp_path, *rows)
    _calls_error(path, str(path), *needles)


def test_a_call_list_frame_and_mapping_name_their_rows_and_take_no_floats() -> None:
    frame = pd.DataFrame({"task": [0, 0], "op": ["kmap", "kunmap"], "page": [1, 2], "work": 0})
    _calls_error(frame, "row 1 (task 0, call 1, kunmap): page 2")
    _calls_error(frame.assign(page=[1.0, 1.0]), "row 0: page 1.0", "integers")
    _calls_error({1: [{"op": "kmap", "page": 64}]}, "task 1, call 0 (kmap): page 64", "pages = 64")
    # The same list with integer pages runs, in both forms.
    kmapsim.run(CALLS_SCENARIO, cycles=1_000, replay_calls=frame.assign(page=[1, 1]))


def test_a_witness_is_saved_into_a_directory_checked_as_on_the_command_line(tmp_path: Path) -> None:
    calls = pd.DataFrame({"task": [0], "op": ["kmap"], "page": [1], "work": [0]})
    w = kmapsim.checker.Witness(scenario=SMALL, calls=calls, seed=0, cycles=10, tries=1)
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    _file_error(lambda: w.save(a_file), "directory", a_file, "not a directory")
    deep = tmp_path / "missing" / "w"
    _file_error(lambda: w.save(deep), "directory", deep, "does not exist")
    _raises(lambda: w.save(""), "directory", "an empty path")
    scenario, saved = w.save(tmp_path / "w")
    assert Scenario.from_file(scenario) == SMALL and kmapsim.calls.read_calls(saved).equals(calls)


# -- check: each search's own arguments are refused with the other ------------------------------


@pytest.mark.parametrize(
    ("kw", "field", "needle"),
    [
        ({"pct_steps": 5}, "pct_steps", "without pct_runs"),
        ({"pct_depth": 2}, "pct_depth", "without pct_runs"),
        ({"seed": 1}, "seed", "without pct_runs"),
        ({"pct_runs": 5, "max_states": 10}, "max_states", "with pct_runs"),
        ({"pct_runs": 5, "max_depth": 10}, "max_depth", "with pct_runs"),
        ({"pct_runs": 5, "max_frontier": 10}, "max_frontier", "with pct_runs"),
        ({"pct_runs": 5, "max_ipis": 1}, "max_ipis", "with pct_runs"),
        ({"pct_runs": 5, "symmetry": True}, "symmetry", "with pct_runs"),
    ],
)
def test_check_refuses_an_argument_of_the_search_that_does_not_run(
    kw: dict[str, Any], field: str, needle: str
) -> None:
    _raises(lambda: kmapsim.check(strategy="sync", **kw), field, needle, "allowed: None")


def test_check_takes_each_searchs_arguments_with_it() -> None:
    r = kmapsim.check(strategy="sync", pct_runs=3, pct_steps=10, pct_depth=2, seed=4)
    assert r.pct is not None and (r.pct["steps"], r.pct["depth"], r.pct["seed"]) == (10, 2, 4)
    r = kmapsim.check(strategy="sync", pages=2, max_states=10, symmetry=False, max_depth=5)
    assert r.verdict == "bound reached" and r.symmetry == ()


# -- no file is written over a file the command reads or keeps ----------------------------------


def _refused(tmp_path: Path, capsys: Any, args: list[str], needle: str) -> None:
    from kmapsim import cli

    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert cli.main(args) == 2
    assert needle in capsys.readouterr().err
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_no_output_of_a_command_overwrites_one_of_its_inputs(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "pd").mkdir()
    png = tmp_path / "pd" / "scaling.png"
    png.write_bytes(b"a picture")
    grid = tmp_path / "g.toml"
    grid.write_text("[grid]\ncpus = [1, 2]\n")
    sc = tmp_path / "sc.json"
    sc.write_text('{"cpus": 2}')
    calls = tmp_path / "calls.csv"
    calls.write_text("task,op,page,work\n")
    sweep = ["sweep", "--cycles", "1000", "--no-progress"]
    st, t, w = (str(tmp_path / n) for n in ("st.sqlite", "t.csv", "w.json"))
    cases = [
        (
            [*sweep, "--grid", "cpus=1,2", "--store", str(png), "--plots", str(png.parent)],
            "--plots: " + str(png) + " is also the --store file",
        ),
        (
            [*sweep, "--grid-file", str(grid), "--store", str(grid)],
            "--store: " + str(grid) + " is also the --grid-file file",
        ),
        (
            [*sweep, "--scenario", str(sc), "--out", str(tmp_path / "x.csv"), "--store", str(sc)],
            "is also the --scenario file",
        ),
        (
            ["run", "--cycles", "1000", "--scenario", str(sc), "--save-scenario", str(sc)],
            "--save-scenario: ",
        ),
        (
            ["run", "--cycles", "1000", "--replay-calls", str(calls), "--record-calls", str(calls)],
            "--record-calls: ",
        ),
        (["trace", "--cycles", "1000", "--scenario", str(sc), "--out", str(sc)], "--out: "),
        (["check", "--scenario", str(sc), "--trace", str(sc)], "--trace: "),
        (  # the plots' directory would be the store file that the sweep makes
            [*sweep, "--grid", "cpus=2,4", "--store", st, "--plots", st],
            "--plots: "
            + str(tmp_path / "st.sqlite" / "scaling.png")
            + " would be inside "
            + str(tmp_path / "st.sqlite")
            + ", the --store file",
        ),
        (
            [*sweep, "--grid", "cpus=2,4", "--out", t, "--plots", t],
            "--plots: " + str(tmp_path / "t.csv" / "scaling.png") + " would be inside",
        ),
        (
            ["check", "--strategy", "sync", "--trace", w, "--witness", w],
            "--witness: " + str(tmp_path / "w.json" / "scenario.toml") + " would be inside",
        ),
    ]
    for args, needle in cases:
        _refused(tmp_path, capsys, args, needle)


def test_a_hard_link_is_the_same_file(tmp_path: Path, capsys: Any) -> None:
    sc = tmp_path / "sc.json"
    sc.write_text('{"cpus": 2}')
    (tmp_path / "link.json").hardlink_to(sc)
    args = ["run", "--cycles", "10", "--scenario", str(sc), "--save-scenario"]
    _refused(tmp_path, capsys, [*args, str(tmp_path / "link.json")], "--scenario file")


def test_run_study_writes_no_file_over_its_scenario(tmp_path: Path) -> None:
    from kmapsim.outputs import distinct

    # A study's files all have suffixes no scenario file has; the rule is checked all the same.
    sc = tmp_path / "study.parquet"
    _raises(lambda: distinct({"outdir": [sc]}, {"scenario": sc}), "outdir", "scenario file")


# -- an executor that takes no work --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_a_shut_down_executor_is_refused_before_the_store_is_made(
    tmp_path: Path, kind: str
) -> None:
    import concurrent.futures as cf

    ex = cf.ThreadPoolExecutor(1) if kind == "threads" else cf.ProcessPoolExecutor(1)
    ex.shutdown()
    store = tmp_path / "shut.sqlite"
    call = lambda: kmapsim.sweep(SMALL, cycles=10, executor=ex, store=store, progress=False)  # noqa: E731
    _raises(call, "executor", "shut down", "not shut down")
    assert not store.exists()


def test_an_executor_refusing_work_is_named(tmp_path: Path) -> None:
    import concurrent.futures as cf

    class Closed(cf.Executor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
            raise RuntimeError("cannot schedule new futures after shutdown")

    store = tmp_path / "new.sqlite"
    call = lambda: kmapsim.sweep(SMALL, cycles=10, executor=Closed(), store=store, progress=False)  # noqa: E731
    _raises(call, "executor", "refused the work", "cannot schedule")
    assert not store.exists(), "an empty store was left behind"


def test_a_closed_multiprocessing_pool_is_named(tmp_path: Path) -> None:
    import multiprocessing as mp

    pool = mp.Pool(1)
    pool.close()
    try:
        store = tmp_path / "pool.sqlite"
        ex = kmapsim.PoolExecutor(pool)
        call = lambda: kmapsim.sweep(SMALL, cycles=10, executor=ex, store=store, progress=False)  # noqa: E731
        _raises(call, "executor", "refused the work", "Pool not running")
        assert not store.exists(), "an empty store was left behind"
    finally:
        pool.join()


@pytest.mark.parametrize("pool", ["pool", None, 3, object()])
def test_a_pool_executor_of_no_pool_is_refused(pool: object) -> None:
    _raises(lambda: kmapsim.PoolExecutor(pool), "pool", "no apply_async", "multiprocessing.Pool")


# -- plots: every refusal typed, naming the argument ---------------------------------------------


def test_every_plot_refuses_an_empty_frame(
    sweep_result: kmapsim.SweepResult, tmp_path: Path
) -> None:
    from kmapsim import plots

    empty = sweep_result.frame.iloc[0:0]
    for name in ("scaling", "breakdown", "lock_wait", "breakdown_scaling"):
        _raises(lambda name=name: getattr(plots, name)(empty), "frame", "no rows")
    _raises(lambda: plots.save_all(empty, tmp_path / "p"), "frame", "no rows")


def test_scaling_refuses_rows_that_differ_in_a_field_not_shown() -> None:
    pytest.importorskip("matplotlib")
    from kmapsim import plots

    sw = kmapsim.sweep(
        SMALL, grid={"cpus": [1, 2], "strategy": ["sync", "async"]}, cycles=20_000, progress=False
    )
    _raises(lambda: plots.scaling(sw, x="strategy"), "at", "cpus", "hue/by")
    _raises(lambda: plots.scaling(sw, hue=None), "at", "strategy", "hue/by")


@pytest.mark.parametrize(
    ("plot", "arg"), [("breakdown", "categories"), ("breakdown_scaling", "first")]
)
def test_breakdowns_refuse_an_unknown_category(
    sweep_result: kmapsim.SweepResult, plot: str, arg: str
) -> None:
    from kmapsim import plots

    call = lambda: getattr(plots, plot)(sweep_result, **{arg: ["kmap_spn"]})  # noqa: E731
    _raises(call, arg, "'kmap_spn' is no cycle category", "did you mean 'kmap_spin'", "idle")
    with pytest.raises(kmapsim.ScenarioTypeError):
        getattr(plots, plot)(sweep_result, **{arg: [3]})


# -- a scenario field of the wrong type is a ScenarioTypeError, wherever it is given ------------

WRONG_TYPES = [("cpus", "x"), ("strategy", 5), ("cpus", 1.5), ("ipi_latency", None), ("cpus", True)]


@pytest.mark.parametrize(("field", "value"), WRONG_TYPES, ids=repr)
def test_a_field_of_the_wrong_type_is_a_scenario_type_error(field: str, value: object) -> None:
    from kmapsim import _core

    for call in (
        lambda: Scenario(**{field: value}),
        lambda: _core.validate({field: value}),  # the binding, as the engine sees it
        lambda: kmapsim.sweep(SMALL, grid={field: [value]}, cycles=10, progress=False),
    ):
        with pytest.raises(kmapsim.ScenarioTypeError) as e:
            call()
        assert e.value.field == field and isinstance(e.value, TypeError)


def test_a_wrong_value_of_the_right_type_stays_a_plain_scenario_error() -> None:
    from kmapsim import _core

    for call in (lambda: Scenario(cpus=0), lambda: _core.validate({"strategy": "synk"})):
        with pytest.raises(ScenarioError) as e:
            call()
        assert not isinstance(e.value, TypeError)


def test_files_give_the_same_class_naming_the_file(tmp_path: Path) -> None:
    sc = tmp_path / "s.toml"
    sc.write_text('cpus = "x"\n')
    with pytest.raises(kmapsim.ScenarioTypeError, match=r"s\.toml"):
        Scenario.from_file(sc)
    grid = tmp_path / "g.toml"
    grid.write_text("[base]\nstrategy = 5\n[grid]\ncpus = [1, 2]\n")
    from kmapsim.grid_file import read_grid_file

    with pytest.raises(kmapsim.ScenarioTypeError, match=r"g\.toml"):
        read_grid_file(grid)


def test_a_writers_error_names_the_callers_option(tmp_path: Path) -> None:
    """An output that fails while a command writes it (changed since it was checked) is told by
    the command's option, not by the writer's parameter name."""
    from kmapsim.errors import ScenarioFileError
    from kmapsim.outputs import output_dir, writing

    target = tmp_path / "plots"
    target.write_text("now a file")
    with pytest.raises(ScenarioFileError) as info, writing("--plots", target):
        output_dir("outdir", target, ())
    assert info.value.field == "--plots" and str(info.value).startswith("--plots: ")
    assert info.value.path == str(target)


def test_a_plots_unknown_column_suggests_the_nearest() -> None:
    from kmapsim import plots

    pytest.importorskip("matplotlib")
    frame = kmapsim.sweep(
        SMALL, grid={"cpus": [1, 2]}, cycles=1000, executor="serial", progress=False
    ).frame
    # The argument naming the column is the field.
    _raises(lambda: plots.scaling(frame, hue="Strategy"), "hue", "(did you mean 'strategy'?)")
    _raises(lambda: plots.scaling(frame, x="CPUs"), "x", "(did you mean 'cpus'?)")
    _raises(lambda: plots.scaling(frame, y="thruput"), "y", "no column 'thruput'")
    _raises(lambda: plots.breakdown(frame, by=["nope"]), "by", "no column 'nope'")
    with pytest.raises(kmapsim.ScenarioTypeError) as e:
        plots.save_all("x", "d/")
    assert e.value.field == "result", str(e.value)
    _raises(lambda: plots.scaling(frame, at={"Strategy": "sync"}), "at", "(did you mean")


# -- an empty path: never the current directory ----------------------------------------------

EMPTY_PATH_CALLS: dict[str, Any] = {
    "from_file": lambda: Scenario.from_file(""),
    "to_file": lambda: SMALL.to_file(""),
    "replay": lambda: kmapsim.run(SMALL, cycles=100, replay=""),
    "replay_calls": lambda: kmapsim.run(SMALL, cycles=100, replay_calls=""),
    "read_ops": lambda: read_ops(""),
    "Store": lambda: kmapsim.Store(""),
    "sweep store": lambda: kmapsim.sweep(SMALL, cycles=100, store="", progress=False),
}


@pytest.mark.parametrize("call", EMPTY_PATH_CALLS.values(), ids=EMPTY_PATH_CALLS.keys())
def test_an_empty_path_is_named_as_one(call: Any) -> None:
    """``Path("")`` is ".", which every reader would call a directory."""
    with pytest.raises((ScenarioError, kmapsim.StoreError)) as e:
        call()
    assert "an empty path" in str(e.value) and " . " not in f" {e.value} ", str(e.value)


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--replay", ""],
        ["run", "--scenario", ""],
        ["run", "--replay-calls", ""],
        ["run", "--record-calls", ""],
        ["sweep", "--store", "", "--cycles", "100"],
        ["sweep", "--grid-file", ""],
    ],
    ids=lambda a: a[1],
)
def test_an_empty_path_on_the_command_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from kmapsim.cli import main

    assert main([*argv, "--no-progress"] if argv[0] == "sweep" else argv) == 2
    err = capsys.readouterr().err
    assert "an empty path" in err and len(err.strip().splitlines()) == 1, err


# -- an output that is a directory holding an input: said to be a directory ----------------------


def test_an_output_directory_holding_an_input_is_said_to_be_a_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kmapsim.cli import main

    calls = tmp_path / "calls.csv"
    calls.write_text("task,op,page,work\n0,kmap,1,5\n0,kunmap,1,5\n", encoding="utf-8")
    grid = tmp_path / "g.toml"
    grid.write_text("[run]\ncycles = 1000\n", encoding="utf-8")
    for argv in (
        ["run", "--replay-calls", str(calls), "--record-calls", str(tmp_path), "--cycles", "1000"],
        ["sweep", "--grid-file", str(grid), "--store", str(tmp_path), "--no-progress"],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"{tmp_path} is a directory" in err and "holding" not in err, err


@pytest.mark.parametrize("trace", [-1, 1.5, True, "10"])
def test_a_bad_trace_count_quotes_the_largest_trace(trace: object) -> None:
    from kmapsim.runner import MAX_TRACE

    e = _raises(lambda: kmapsim.run(SMALL, cycles=100, trace=trace), "trace")
    assert e.allowed == f"an integer in [0, {MAX_TRACE}] (0: no trace)", str(e)


def test_a_built_in_workload_without_its_pages_says_what_the_scenario_needs() -> None:
    """Its steps are not the user's to change; the scenario is."""
    field = 'workload "file-read" step 1 (kmap): page'
    e = _raises(lambda: Scenario(workload="file-read", hot_pages=0), field)
    assert e.allowed == "a scenario with hot_pages >= 1, which this workload's step needs"
    program = "kmap handle=0 page=hot; kunmap handle=0"
    e = _raises(lambda: Scenario(program=program, hot_pages=0), "program step 0 (kmap): page")
    assert "one of mixed, hot, cold" in e.allowed


# -- the wrong kind of object is a TypeError too (docs/errors.md) --------------------------------

WRONG_KIND: dict[str, Any] = {
    "preset": lambda: Scenario.preset(5),
    "mode": lambda: kmapsim.run(SMALL, cycles=10, mode=5),
    "cycles": lambda: kmapsim.run(SMALL, cycles="1000"),
    "seed": lambda: kmapsim.run(SMALL, cycles=10, seed="1"),
    "seeds": lambda: kmapsim.sweep(SMALL, cycles=10, seeds="3", progress=False),
    "record_ops": lambda: kmapsim.run(SMALL, cycles=10, record_ops=1),
    "max_wall_seconds": lambda: kmapsim.run(SMALL, cycles=10, max_wall_seconds="x"),
    "cancel": lambda: kmapsim.run(SMALL, cycles=10, cancel=object()),
    "max_ipis": lambda: kmapsim.check(strategy="async", max_ipis="3"),
    "executor": lambda: kmapsim.sweep(SMALL, cycles=10, executor=5, progress=False),
    "pool": lambda: kmapsim.PoolExecutor(5),
    "name": lambda: kmapsim.study.Regime(name=5, about="x"),
    "scenario": lambda: Scenario.from_dict(5),
    "result": lambda: kmapsim.RunResult.from_dict(5),
    "grid": lambda: kmapsim.sweep(SMALL, grid=5, cycles=10, progress=False),
    "regimes": lambda: kmapsim.study.run_study("unused", regimes=5, cycles=10, progress=False),
}
WRONG_VALUE: dict[str, Any] = {
    "preset": lambda: Scenario.preset("pIII"),
    "mode": lambda: kmapsim.run(SMALL, cycles=10, mode="stp"),
    "cycles": lambda: kmapsim.run(SMALL, cycles=0),
    "seeds": lambda: kmapsim.sweep(SMALL, cycles=10, seeds=0, progress=False),
    "max_wall_seconds": lambda: kmapsim.run(SMALL, cycles=10, max_wall_seconds=-1.0),
    "max_ipis": lambda: kmapsim.check(strategy="async", max_ipis=0),
    "name": lambda: kmapsim.study.Regime(name="", about="x"),
}


@pytest.mark.parametrize(("field", "call"), WRONG_KIND.items(), ids=WRONG_KIND.keys())
def test_an_argument_of_the_wrong_kind_is_a_type_error(field: str, call: Any) -> None:
    # (kmapsim.presets.get_preset(5) is the "preset" case's path too.)
    with pytest.raises(TypeError) as e:
        call()
    assert type(e.value) is kmapsim.ScenarioTypeError and e.value.field == field, str(e.value)


@pytest.mark.parametrize(("field", "call"), WRONG_VALUE.items(), ids=WRONG_VALUE.keys())
def test_a_wrong_value_of_the_right_kind_is_a_plain_scenario_error(field: str, call: Any) -> None:
    e = _raises(call, field)
    assert type(e) is ScenarioError, str(e)


def test_a_handle_name_with_an_underscore_reads_back_from_the_one_line_form() -> None:
    """Digits grouped by underscores read as numbers; text keeps its underscores."""
    steps = [
        {"op": "kmap", "handle": "a1_2", "page": "hot"},
        {"op": "kmap", "handle": "a12", "page": "hot"},
        {"op": "kunmap", "handle": "a1_2"},
        {"op": "kunmap", "handle": "a12"},
    ]
    sc = Scenario(workload="custom", program=steps, hot_pages=4)
    again = Scenario(workload="custom", program=sc.program_text, hot_pages=4)
    assert again.program == sc.program, sc.program_text
    grouped = Scenario(program="work cycles=1_000; kmap handle=0; kunmap handle=0")
    assert grouped.program[0] == (("op", "work"), ("cycles", 1000))
