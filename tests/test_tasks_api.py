"""Tasks and workload programs from Python: the built-in workloads, a scenario's own program in
every form it is given in (a list, the one-line text, TOML and JSON files, the command line),
the errors that name a program's step and field, the deadlock of a pool held by sleeping tasks,
the per-task breakdown, sweeps over workload and tasks, and store keys that cover the program."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from cli_process import kmapsim_cli
from hypothesis import given
from hypothesis import strategies as st

import kmapsim
from kmapsim import (
    TASK_STATES,
    DeadlockError,
    KernelBug,
    RunResult,
    Scenario,
    ScenarioError,
    ScenarioFileError,
    _core,
)
from kmapsim.fileio import toml_dumps
from kmapsim.scenario import check_field
from kmapsim.store import run_key

CYCLES = 400_000
BUILT_IN = [name for name, _ in kmapsim.workloads() if name != "custom"]

#: A two-mapping copy with a short I/O sleep between the kmaps, in both of its forms.
TEXT = (
    "work cycles=3000; kmap handle=src page=private; block cycles=20000; "
    "kmap handle=dst page=hot; access handle=src; access handle=dst irqs_off=1; "
    "kunmap handle=dst; kunmap handle=src prob=1.0"
)
STEPS: list[dict[str, Any]] = [
    {"op": "work", "cycles": 3000},
    {"op": "kmap", "handle": "src", "page": "private"},
    {"op": "block", "cycles": 20000},
    {"op": "kmap", "page": "hot", "handle": "dst"},  # field order does not count
    {"op": "access", "handle": "src"},
    {"op": "access", "handle": "dst", "irqs_off": True},  # held as 1, as the text gives it
    {"op": "kunmap", "handle": "dst"},
    {"op": "kunmap", "handle": "src", "prob": 1.0},
]


def _same_run(a: RunResult, b: RunResult) -> None:
    """Two runs report the same (everything but the wall time)."""
    da, db = a.to_dict(), b.to_dict()
    da.pop("wall_seconds")
    db.pop("wall_seconds")
    assert da == db


# -- built-in workloads and the task breakdown --------------------------------------------------


def test_workloads_are_the_choices_of_the_workload_field() -> None:
    listed = kmapsim.workloads()
    spec = next(s for s in Scenario.fields() if s["name"] == "workload")
    assert [name for name, _ in listed] == spec["choices"]
    assert all(isinstance(doc, str) and len(doc) > 20 for _, doc in listed)
    assert listed == [tuple(w) for w in _core.WORKLOADS]
    assert "workloads" in kmapsim.__all__ and kmapsim.TASK_STATES == _core.TASK_STATES


@pytest.mark.parametrize("workload", BUILT_IN)
def test_every_built_in_workload_runs_more_tasks_than_cpus(workload: str) -> None:
    sc = Scenario(workload=workload, tasks=24, cpus=4)
    r = kmapsim.run(sc, cycles=CYCLES, seed=3)
    assert r.kmaps > 0, workload
    tb = r.task_breakdown
    assert tb.shape == (24, len(TASK_STATES))
    assert tb.index.name == "task" and list(tb.columns) == TASK_STATES == list(_core.TASK_STATES)
    assert (tb.dtypes == "int64").all()
    assert (tb.sum(axis=1) == r.cycles).all(), "every task's states sum to the run's cycles"
    # 24 tasks on 4 CPUs: at most 4 run at a time, so most task time is spent not running.
    assert tb["running"].sum() <= 4 * r.cycles
    assert tb["running"].sum() > 0
    assert r.task_shares().sum(axis=1).round(12).eq(1.0).all()
    assert f"24 tasks, workload {workload}" in repr(r)


def test_one_task_per_cpu_is_the_default_and_the_repr_is_unchanged() -> None:
    r = kmapsim.run(Scenario(cpus=3), cycles=CYCLES, seed=1)
    assert r.task_breakdown.shape == (3, 4)
    assert (r.task_breakdown.sum(axis=1) == CYCLES).all()
    assert "tasks" not in repr(r)


def test_blocking_workloads_block_and_switch_tasks() -> None:
    r = kmapsim.run(Scenario(workload="pte-highmem", tasks=32, cpus=4), cycles=2_000_000, seed=1)
    assert r.counters["blocks"] > 0 and r.counters["task_switches"] > 0
    assert r.task_breakdown["blocked"].sum() > r.task_breakdown["running"].sum()


def test_the_task_breakdown_survives_to_dict_and_from_dict() -> None:
    r = kmapsim.run(Scenario(workload="two-page-copy", tasks=12), cycles=CYCLES, seed=2)
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert [sum(row) for row in d["task_breakdown"]] == [CYCLES] * 12
    back = RunResult.from_dict(d)
    assert back.task_breakdown_rows == r.task_breakdown_rows
    pd.testing.assert_frame_equal(back.task_breakdown, r.task_breakdown)
    del d["task_breakdown"]  # a dict written before tasks existed
    old = RunResult.from_dict(d)
    assert old.task_breakdown_rows == [] and old.task_breakdown.shape == (0, 4)


# -- a custom program ---------------------------------------------------------------------------


def test_a_program_as_text_and_as_a_list_is_one_scenario() -> None:
    a = Scenario(program=TEXT, tasks=12)
    b = Scenario(program=STEPS, tasks=12)
    assert a == b and hash(a) == hash(b)
    assert a.workload == "custom", "a program with the workload left out implies custom"
    assert a.program_text == TEXT.replace("page=hot handle=dst", "handle=dst page=hot")
    assert a.to_dict()["program"][3] == {"op": "kmap", "handle": "dst", "page": "hot"}
    assert a.to_dict()["program"][5] == {"op": "access", "handle": "dst", "irqs_off": 1}
    assert Scenario.from_dict(a.to_dict()) == a
    assert Scenario(program=a.program, tasks=12) == a, "the held form is accepted back"
    assert a != Scenario(program=TEXT.replace("cycles=20000", "cycles=20001"), tasks=12)
    _same_run(kmapsim.run(a, cycles=CYCLES, seed=5), kmapsim.run(b, cycles=CYCLES, seed=5))


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_a_program_round_trips_through_files(suffix: str, tmp_path: Path) -> None:
    sc = Scenario.preset("opteron-32core-2009", program=STEPS, tasks=12)
    path = sc.to_file(tmp_path / f"sc{suffix}")
    text = path.read_text()
    if suffix == ".toml":
        assert text.count("\n[[program]]\n") == len(STEPS)
        # Every flat key comes before the first table, as TOML requires.
        assert text.index("kmap_irqs_off_prob =") < text.index("\n[[program]]\n")
    else:
        assert json.loads(text)["program"] == sc.to_dict()["program"]
    back = Scenario.from_file(path)
    assert back == sc and back.preset_name == "opteron-32core-2009"
    _same_run(kmapsim.run(back, cycles=CYCLES, seed=9), kmapsim.run(sc, cycles=CYCLES, seed=9))


def test_a_toml_file_may_give_the_program_as_one_line(tmp_path: Path) -> None:
    path = tmp_path / "one.toml"
    path.write_text(f"tasks = 12\nprogram = {json.dumps(TEXT)}\n")
    assert Scenario.from_file(path) == Scenario(program=STEPS, tasks=12)
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"tasks": 12, "program": TEXT}))
    assert Scenario.from_file(path) == Scenario(program=STEPS, tasks=12)


def test_a_bad_program_in_a_file_names_the_file_the_step_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[program]]\nop = "kmap"\n\n[[program]]\nop = "kmap"\npage = "warm"\n')
    with pytest.raises(ScenarioError) as e:
        Scenario.from_file(path)
    assert not isinstance(e.value, ScenarioFileError), "a bad value, not a bad file"
    assert e.value.field == "program step 1 (kmap): page"
    assert str(e.value).startswith(f"{path}: program step 1 (kmap): page")
    path.write_text('[program]\nop = "kmap"\n')  # one table, not an array of them
    with pytest.raises(ScenarioFileError) as f:
        Scenario.from_file(path)
    assert "[[program]]" in f.value.allowed and f.value.path == str(path)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"workload": "dbench", "program": STEPS}))
    with pytest.raises(ScenarioError) as g:
        Scenario.from_file(path)
    assert g.value.field == "program" and "dbench" in g.value.problem


def test_the_repr_evaluates_back_to_an_equal_scenario() -> None:
    sc = Scenario(program=TEXT, tasks=12, cpus=4)
    assert repr(sc) == f"Scenario(cpus=4, tasks=12, program={sc.program_text!r})"
    assert eval(repr(sc), {"Scenario": Scenario}) == sc
    # A handle name with a space has no one-line form: the repr falls back to the list.
    spaced = Scenario(program=[{"op": "kmap", "handle": "a b"}, {"op": "kunmap", "handle": "a b"}])
    assert "program=[{" in repr(spaced)
    assert eval(repr(spaced), {"Scenario": Scenario}) == spaced
    preset = Scenario.preset("modern-64core", program="kmap; kunmap")
    assert repr(preset) == "Scenario.preset('modern-64core', program='kmap; kunmap')"
    assert eval(repr(preset), {"Scenario": Scenario}) == preset


def test_pickling_and_copying_keep_the_program() -> None:
    sc = Scenario.preset("pIII-8way-2001", program=TEXT, tasks=12)
    for back in (pickle.loads(pickle.dumps(sc)), copy.copy(sc), copy.deepcopy(sc)):
        assert back == sc and back.program == sc.program
        assert back.preset_name == "pIII-8way-2001"


def test_replace_implies_custom_and_a_built_in_workload_drops_the_program() -> None:
    base = Scenario(workload="file-read", tasks=12)
    custom = base.replace(program=TEXT)
    assert custom.workload == "custom" and custom.program == Scenario(program=TEXT).program
    back = custom.replace(workload="file-read")
    assert back == base and back.program is None
    assert custom.replace(cpus=2).program == custom.program
    with pytest.raises(ScenarioError) as e:
        custom.replace(workload="dbench", program=TEXT)  # both given: the engine's rule
    assert e.value.field == "program"
    with pytest.raises(ScenarioError) as f:
        custom.replace(program=None)  # custom with no program
    assert f.value.field == "program" and "missing" in f.value.problem


@pytest.mark.parametrize(
    ("kwargs", "field", "problem"),
    [
        ({"program": "kmap; kmapp"}, "program step 1: op", 'did you mean "kmap"'),
        ({"program": [{"op": "kmapp"}]}, "program step 0: op", 'did you mean "kmap"'),
        ({"program": "kmap page=warm; kunmap"}, "program step 0 (kmap): page", '"warm"'),
        ({"program": "kmap; work cycles=0; kunmap"}, "program step 1 (work): cycles", "0"),
        ({"program": "kmap colour=red"}, "program step 0 (kmap): colour", "unknown field"),
        ({"program": "kmap handle"}, 'program step 0 ("kmap")', "not field=value"),
        ({"program": [[("op", "kmap"), ("op", "kunmap")]]}, "program step 0: op", "twice"),
        ({"program": ["kmap"]}, "program step 0", "not a dict"),
        ({"program": 7}, "program", "not a list"),
        ({"program": ""}, "program", "0 steps"),
        ({"program": "work; kunmap"}, "program", "no kmap"),
        ({"workload": "custom"}, "program", "missing"),
        ({"workload": "pte-highmem", "program": "kmap"}, "program", "pte-highmem"),
        ({"workload": "dbench", "program": "kmap"}, "program", "dbench"),
        # A bool is a flag (irqs_off) and nothing else: never handle 1 or one lookup.
        ({"program": [{"op": "kmap", "handle": True}]}, "program step 0 (kmap): handle", "bool"),
        ({"program": "kmap handle=true"}, "program step 0 (kmap): handle", "true (a bool)"),
        (
            {"program": [{"op": "kmap"}, {"op": "access", "lookups": True}]},
            "program step 1 (access): lookups",
            "bool",
        ),
        ({"program": "kmap prob=false"}, "program step 0 (kmap): prob", "false (a bool)"),
        (
            {"program": [{"op": "kmap"}, {"op": "repeat", "to": 0, "times": True}]},
            "program step 1 (repeat): times",
            "bool",
        ),
        (
            {"program": [{"op": "kmap", "handle": np.True_}]},
            "program step 0 (kmap): handle",
            "bool",
        ),
        # Huge numbers are shown short, as read, with the step's op and the field's range.
        (
            {"program": [{"op": "kmap"}, {"op": "work", "cycles": 10**40}]},
            "program step 1 (work): cycles",
            "1e40 is not",
        ),
        (
            {"program": [{"op": "kmap"}, {"op": "work", "cycles": -(10**400)}]},
            "program step 1 (work): cycles",
            "-inf (past the largest float)",
        ),
        ({"program": "kmap handle=1e300"}, "program step 0 (kmap): handle", "1e300 is not"),
        (
            {"program": [{"op": "kmap"}, {"op": "work", "cycles": 1e300}]},
            "program step 1 (work): cycles",
            "1e300 is not",
        ),
    ],
)
def test_program_errors_name_the_step_and_the_field(
    kwargs: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(ScenarioError) as e:
        Scenario(**kwargs)
    assert e.value.field == field
    assert problem in e.value.problem
    assert str(e.value).startswith(field + ": ")


def test_irqs_off_reads_the_same_however_it_is_written() -> None:
    forms = [True, np.True_, 1, "text"]
    scenarios = [
        Scenario(program="kmap; access irqs_off=true; kunmap")
        if form == "text"
        else Scenario(
            program=[{"op": "kmap"}, {"op": "access", "irqs_off": form}, {"op": "kunmap"}]
        )
        for form in forms
    ]
    assert len(set(scenarios)) == 1
    assert scenarios[1].to_dict()["program"][1] == {"op": "access", "irqs_off": 1}


def test_a_kunmap_of_a_handle_never_kmapped_is_a_kernel_bug_when_it_runs() -> None:
    sc = Scenario(program="kmap handle=a; kunmap handle=a; kunmap handle=b")  # builds fine
    with pytest.raises(KernelBug) as e:
        kmapsim.run(sc, cycles=CYCLES, seed=1)
    assert "kunmaps handle" in e.value.detail and "never kmapped" in e.value.detail
    with pytest.raises(KernelBug) as f:
        kmapsim.run(Scenario(program="kmap handle=a; kmap handle=a"), cycles=CYCLES, seed=1)
    assert "still maps" in f.value.detail


def test_check_field_refuses_the_program() -> None:
    with pytest.raises(ScenarioError) as e:
        check_field("program", TEXT)
    assert e.value.field == "program"


def test_the_toml_writer_puts_arrays_of_tables_after_the_flat_keys() -> None:
    text = toml_dumps({"program": [{"op": "kmap"}], "cpus": 4})
    assert text == 'cpus = 4\n\n[[program]]\nop = "kmap"\n'
    with pytest.raises(TypeError):
        toml_dumps({"program": []})  # no table to write: not a value the writer knows


# -- the two-kmap deadlock ----------------------------------------------------------------------


def test_two_page_copy_exhausts_a_pool_as_small_as_its_tasks() -> None:
    sc = Scenario(workload="two-page-copy", tasks=16, last_pkmap=16)
    with pytest.raises(DeadlockError) as e:
        kmapsim.run(sc, cycles=200_000_000, seed=1)
    err = e.value
    assert err.pool_exhausted is True and err.chain == [t for t, _ in err.sleepers]
    assert len(err.sleepers) == 16 and sorted(t for t, _ in err.sleepers) == list(range(16))
    slots = [slot for _, held in err.sleepers for slot, _ in held]
    assert sorted(slots) == list(range(16)), "the sleepers hold every slot of the pool"
    back = pickle.loads(pickle.dumps(err))
    assert (back.sleepers, back.pool_exhausted) == (err.sleepers, True)
    # Twice the slots: each task's second kmap finds one, and the workload runs.
    r = kmapsim.run(sc.replace(last_pkmap=32), cycles=200_000_000, seed=1)
    assert r.kmaps > 1000 and (r.task_breakdown.sum(axis=1) == r.cycles).all()


# -- the command line ---------------------------------------------------------------------------


def test_cli_lists_the_workloads() -> None:
    p = kmapsim_cli("workloads")
    assert p.returncode == 0, p.stderr
    firsts = [line.split()[0] for line in p.stdout.splitlines() if not line.startswith(" ")]
    assert firsts == [name for name, _ in kmapsim.workloads()]
    p = kmapsim_cli("workloads", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == dict(kmapsim.workloads())


def test_cli_runs_a_built_in_workload_with_many_tasks() -> None:
    p = kmapsim_cli(
        "run", "--set", "workload=pte-highmem", "--set", "tasks=256", "--cycles", "1_000_000"
    )
    assert p.returncode == 0, p.stderr
    assert "workload='pte-highmem', tasks=256" in p.stdout
    assert "tasks (mean share over 256 tasks on 8 CPUs)" in p.stdout
    for state in TASK_STATES:
        assert state in p.stdout
    assert "migrations" in p.stdout


def test_cli_default_run_has_no_task_table() -> None:
    p = kmapsim_cli("run", "--cycles", "200_000")
    assert p.returncode == 0, p.stderr
    assert "tasks (mean share" not in p.stdout and "pool_sleep" not in p.stdout


def test_cli_runs_a_program_and_saves_it(tmp_path: Path) -> None:
    saved = tmp_path / "ran.toml"
    args = ("run", "--program", TEXT, "--set", "tasks=12", "--cycles", str(CYCLES))
    p = kmapsim_cli(*args, "--save-scenario", str(saved))
    assert p.returncode == 0, p.stderr
    assert f"workload custom: {Scenario(program=TEXT).program_text}" in p.stdout
    assert Scenario.from_file(saved) == Scenario.preset("pIII-8way-2001", program=TEXT, tasks=12)
    p = kmapsim_cli(*args, "--seed", "4", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["scenario"]["program"] == Scenario(program=TEXT).to_dict()["program"]
    assert [sum(row) for row in d["task_breakdown"]] == [CYCLES] * 12
    mine = kmapsim.run(Scenario(program=STEPS, tasks=12), cycles=CYCLES, seed=4)
    assert d["counters"] == mine.counters


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("run", "--program", "work; kmapp"), 'program step 1: op: unknown op "kmapp"'),
        (("run", "--program", "kmap page=warm"), "program step 0 (kmap): page"),
        (("run", "--program", "kmap handle=true"), "program step 0 (kmap): handle: true"),
        (("run", "--program", "kmap", "--set", "workload=dbench"), "program: given with"),
        (("run", "--set", "workload=custom"), "program: missing"),
        (("run", "--program", "kmap", "--set", "program=kmap"), "given twice"),
        (("trace", "--program", "kmap handle", "-o", "t.json"), "field=value"),
        (("sweep", "--program", "kmap; kmapp", "--no-progress"), "program step 1: op"),
    ],
)
def test_cli_refuses_a_bad_program_in_one_line(
    args: tuple[str, ...], needle: str, tmp_path: Path
) -> None:
    p = kmapsim_cli(*args, "--cycles", "1000", cwd=tmp_path)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kmapsim: error: "), p.stderr
    assert needle in lines[0]
    assert not list(tmp_path.iterdir()), "nothing is written for a bad program"


def test_cli_kernel_bug_of_a_program_exits_3() -> None:
    p = kmapsim_cli("run", "--program", "kmap handle=a; kunmap handle=b", "--cycles", "100_000")
    assert p.returncode == 3 and "Traceback" not in p.stderr
    assert "kernel BUG" in p.stderr and "never kmapped" in p.stderr


# -- sweeps and the store -----------------------------------------------------------------------


def test_a_sweep_over_workload_and_tasks() -> None:
    grid = {"workload": ["dbench", "pte-highmem", "two-page-copy"], "tasks": [0, 16]}
    result = kmapsim.sweep(
        Scenario(cpus=4), grid=grid, seeds=2, cycles=CYCLES, executor="serial", progress=False
    )
    f = result.frame
    assert len(f) == 3 * 2 * 2
    assert list(f.groupby(["workload", "tasks"], sort=False).size().index) == [
        (w, t) for w in grid["workload"] for t in grid["tasks"]
    ]
    shares = f[[f"task_share_{s}" for s in TASK_STATES]].sum(axis=1)
    assert (shares.round(12) == 1.0).all()
    blocking = f[f["workload"] != "dbench"]
    assert (blocking["blocks"] > 0).all() and (f[f["workload"] == "dbench"]["blocks"] == 0).all()
    assert list(result.summary().index.names) == ["workload", "tasks"]
    assert "program" not in f.columns


def test_a_sweep_compares_a_program_with_built_in_workloads() -> None:
    base = Scenario(program=TEXT, tasks=12)
    grid = {"workload": ["dbench", "custom"]}
    f = kmapsim.sweep(base, grid=grid, cycles=CYCLES, executor="serial", progress=False).frame
    assert list(f["workload"]) == ["dbench", "custom"]
    assert f["program"].iloc[0] is None or pd.isna(f["program"].iloc[0])
    assert f["program"].iloc[1] == base.program_text
    over = kmapsim.sweep(
        Scenario(tasks=12),
        grid={"program": [TEXT, "kmap; kunmap"]},
        cycles=CYCLES,
        executor="serial",
        progress=False,
    )
    assert list(over.frame["program"]) == [base.program_text, "kmap; kunmap"]
    assert len(over.summary()) == 2


def test_store_keys_cover_every_step_of_the_program(tmp_path: Path) -> None:
    a = Scenario(program=TEXT, tasks=12)
    b = Scenario(program=TEXT.replace("block cycles=20000", "block cycles=20001"), tasks=12)
    reordered = Scenario(program=[dict(reversed(list(s.items()))) for s in STEPS], tasks=12)
    assert run_key(a, 1, CYCLES) != run_key(b, 1, CYCLES)
    assert run_key(a, 1, CYCLES) == run_key(reordered, 1, CYCLES) == run_key(a.to_dict(), 1, CYCLES)
    assert run_key(a, 1, CYCLES) != run_key(Scenario(tasks=12), 1, CYCLES)
    store = tmp_path / "s.sqlite"

    def swept(sc: Scenario) -> kmapsim.SweepResult:
        return kmapsim.sweep(
            sc, seeds=2, cycles=CYCLES, executor="serial", progress=False, store=store
        )

    assert swept(a).reused == 0
    again = swept(reordered)
    assert again.reused == 2, "the identical program is reused"
    other = swept(b)
    assert other.reused == 0, "a program that differs in one step is run"
    assert not other.frame.equals(again.frame)


# -- random well-formed programs ------------------------------------------------------------------

HANDLES = st.sampled_from(["src", "dst", "pte"])
PROB = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


def _with(op: str, **fields: Any) -> Any:
    """A step strategy: ``op`` and each of ``fields`` (a strategy) present or not."""
    return st.fixed_dictionaries({"op": st.just(op)}, optional=fields)


STEP = st.one_of(
    _with("work", cycles=st.integers(1, 10**6), dist=st.sampled_from(["exponential", "fixed"])),
    _with("work", prob=PROB),
    _with(
        "kmap",
        handle=HANDLES,
        page=st.one_of(st.sampled_from(_core.PAGE_SOURCES), st.integers(0, 65535)),
        irqs_off=PROB,
    ),
    _with("access", handle=HANDLES, cycles=st.integers(4, 10**5), irqs_off=st.booleans()),
    _with("kunmap", handle=HANDLES, irqs_off=PROB, prob=PROB),
    _with("block", cycles=st.integers(1, 10**7)),
    _with("yield"),
    _with("irq_disable"),
    _with("irq_enable"),
    _with("irq_section", lock=st.integers(0, 3), cycles=st.integers(1, 10**4)),
)


@given(st.lists(STEP, min_size=0, max_size=10), st.integers(0, 8))
def test_random_programs_round_trip(steps: list[dict[str, Any]], tasks: int) -> None:
    program = [{"op": "kmap", "handle": "src"}, *steps]
    sc = Scenario(program=program, tasks=tasks)
    assert sc.workload == "custom"
    assert Scenario.from_dict(sc.to_dict()) == sc
    assert Scenario.from_dict(json.loads(json.dumps(sc.to_dict()))) == sc
    assert sc.program_text is not None and Scenario(program=sc.program_text, tasks=tasks) == sc
    assert eval(repr(sc), {"Scenario": Scenario}) == sc
    assert pickle.loads(pickle.dumps(sc)) == sc
    again = Scenario(program=[dict(reversed(list(s.items()))) for s in program], tasks=tasks)
    assert again == sc and hash(again) == hash(sc)
    assert run_key(again, 0, 1000) == run_key(sc, 0, 1000)
