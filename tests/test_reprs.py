"""What users see of a value (reprs, notebook HTML, the sweep table) and the file-error rule.

- `Scenario`'s repr names the preset it was built from and the fields that differ from it;
- `RunResult`'s repr is a few lines, `SweepResult`'s a short summary, both with HTML for
  notebooks; every table that compares strategies shows stale accesses beside throughput;
- the rule of `kmapsim.fileio`, for every kind of file and every fault: a fault of the file
  as a file is a `ScenarioFileError` with ``.path``; a bad value in a well-formed file is the
  `ScenarioError` of that field, naming the file;
- `Histogram.quantile` says what it returns (the top of a power-of-two bucket), and
  ``interpolate=True`` estimates instead;
- ``kmapsim trace`` says what each of its numbers counts.
"""

from __future__ import annotations

import copy
import html
import json
import math
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import kmapsim
from kmapsim import (
    Histogram,
    RunResult,
    Scenario,
    ScenarioError,
    ScenarioFileError,
    ScenarioTypeError,
    cli,
    fileio,
)
from kmapsim import replay as replay_module

CYCLES = 300_000

#: A machine where ``async`` reads stale TLB entries within a short run.
RACY = dict(ipi_latency=50_000, tlb_evict_rate=0.0, last_pkmap=64, hot_pages=1000, pages=100_000)


@pytest.fixture(scope="module")
def result() -> RunResult:
    sc = Scenario.preset("opteron-32core-2009", cpus=8, strategy="lazy")
    return kmapsim.run(sc, cycles=CYCLES, seed=3)


@pytest.fixture(scope="module")
def swept() -> kmapsim.SweepResult:
    base = Scenario.preset("pIII-8way-2001", **RACY)
    return kmapsim.sweep(
        base,
        grid={"cpus": [4, 8], "strategy": ["sync", "async"]},
        seeds=2,
        cycles=2_000_000,
        executor="serial",
        progress=False,
    )


# -- Scenario: the repr names the preset -----------------------------------------------------------


@pytest.mark.parametrize("name", kmapsim.preset_names())
def test_a_preset_repr_names_the_preset(name: str) -> None:
    sc = Scenario.preset(name)
    assert repr(sc) == f"Scenario.preset({name!r})"
    assert sc.preset_name == name


def test_the_repr_lists_the_fields_that_differ_from_the_preset() -> None:
    sc = Scenario.preset("pIII-8way-2001", cpus=64, strategy="lazy")
    assert repr(sc) == "Scenario.preset('pIII-8way-2001', strategy='lazy', cpus=64)"
    other = Scenario.preset("modern-64core", cpus=8)
    assert repr(other) == "Scenario.preset('modern-64core', cpus=8)"
    for s in (sc, other):
        assert eval(repr(s), {"Scenario": Scenario}) == s


def test_the_preset_is_kept_through_replace_copies_and_pickling() -> None:
    sc = Scenario.preset("opteron-32core-2009").replace(cpus=4)
    assert repr(sc) == "Scenario.preset('opteron-32core-2009', cpus=4)"
    for again in (pickle.loads(pickle.dumps(sc)), copy.copy(sc), copy.deepcopy(sc)):
        assert again == sc and repr(again) == repr(sc)


def test_the_preset_is_no_field() -> None:
    by_preset = Scenario.preset("pIII-8way-2001", cpus=64)
    by_fields = Scenario(cpus=64)  # the defaults are that preset
    assert by_preset == by_fields and hash(by_preset) == hash(by_fields)
    assert repr(by_fields) == "Scenario(cpus=64)" and by_fields.preset_name is None
    assert "preset" not in by_preset.to_dict()
    assert Scenario.from_dict(by_preset.to_dict()).preset_name is None  # to_dict: fields only
    assert kmapsim.store.run_key(by_preset, 0, 10) == kmapsim.store.run_key(by_fields, 0, 10)


def test_a_file_with_a_preset_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('preset = "modern-64core"\ncpus = 16\n')
    sc = Scenario.from_file(path)
    assert repr(sc) == "Scenario.preset('modern-64core', cpus=16)"
    # to_file writes the preset and every field: the copy read back keeps it.
    assert Scenario.from_file(sc.to_file(tmp_path / "t.toml")).preset_name == "modern-64core"


# -- RunResult: a few lines, and HTML -------------------------------------------------------------


def test_result_repr_is_short_and_says_what_matters(result: RunResult) -> None:
    text = repr(result)
    lines = text.splitlines()
    assert len(lines) < 15, text
    assert lines[0].startswith("RunResult: 8 CPUs, strategy lazy, 300,000 cycles, seed 3")
    assert "Scenario.preset('opteron-32core-2009', strategy='lazy', cpus=8)" in text
    assert f"throughput      {result.throughput:,.1f} kmaps per million cycles" in text
    assert "stale accesses  0" in text
    top = result.top_categories(3)
    for n in (True, 2.5, -1):  # True is not 1
        with pytest.raises(ScenarioError, match=r"n: got .*; allowed: an integer >= 0"):
            result.top_categories(n)  # type: ignore[arg-type]
    assert len(top) == 3 and [s for _, s in top] == sorted((s for _, s in top), reverse=True)
    shares = result.shares().mean(axis=0)  # every CPU runs all cycles: the mean is the share
    for cat, share in top:
        assert share == pytest.approx(shares[cat])
        assert f"{cat} {share * 100:.1f} %" in text


def test_result_repr_says_when_data_was_corrupted() -> None:
    r = kmapsim.run(Scenario(strategy="async", **RACY), cycles=2_000_000)
    assert r.counters["stale_accesses"] > 0
    assert f"stale accesses  {r.counters['stale_accesses']:,} (silent data corruption)" in repr(r)


def test_result_html_is_a_small_escaped_table(result: RunResult) -> None:
    d = result.to_dict()
    biggest = result.top_categories(1)[0][0]
    d["categories"] = ["<script>x</script>" if c == biggest else c for c in d["categories"]]
    shown = RunResult.from_dict(d)
    page = shown._repr_html_()
    assert page.startswith("<table>") and page.endswith("</table>")
    assert "<script>" not in page and html.escape("<script>x</script>") in page
    assert "throughput" in page and "stale accesses" in page
    assert html.escape(repr(shown.scenario)) in page and "&#x27;lazy&#x27;" in page


def test_an_empty_result_has_a_repr() -> None:
    r = kmapsim.Simulation(Scenario()).result()  # no cycle simulated yet
    assert "no cycle simulated" in repr(r) and "<table>" in r._repr_html_()


# -- SweepResult: a short summary, with safety -----------------------------------------------------


def test_sweep_repr_is_a_short_summary(swept: kmapsim.SweepResult) -> None:
    text = repr(swept)
    lines = text.splitlines()
    assert len(lines) < 15, text
    assert lines[0] == (
        "SweepResult: 8 runs = 4 grid points x 2 seeds x 2,000,000 cycles; 0 reused from a store"
    )
    assert "cpus (2: 4, 8)" in text and "strategy (2: 'sync', 'async')" in text
    assert "frame: 8 rows x" in text and "DataFrame" not in text
    by = swept.by_strategy()
    assert list(by.index) == ["sync", "async"]
    assert by.loc["async", "stale_accesses"] > 0 == by.loc["sync", "stale_accesses"]
    header = next(line for line in lines if line.strip().startswith("strategy"))
    async_line = next(line for line in lines if line.split()[:1] == ["async"])
    assert header.split()[:5] == ["strategy", "runs", "mean", "min", "max"]
    assert async_line.split()[-1] == f"{int(by.loc['async', 'stale_accesses']):,}"
    assert f"{by.loc['async', 'throughput_mean']:,.1f}" in async_line


def test_sweep_html(swept: kmapsim.SweepResult) -> None:
    page = swept._repr_html_()
    assert "<table>" in page and "stale accesses" in page and "async" in page
    assert "&#x27;sync&#x27;" in page  # grid values escaped


def test_summary_has_stale_accesses_summed_over_seeds(swept: kmapsim.SweepResult) -> None:
    table = swept.summary()
    assert list(table.columns) == ["mean", "std", "min", "max", "stale_accesses"]
    assert list(table.index.names) == ["cpus", "strategy"]
    expected = swept.frame.groupby(["cpus", "strategy"])["stale_accesses"].sum()
    for key, row in table.iterrows():
        assert row["stale_accesses"] == expected[key]
    assert table.xs("sync", level="strategy")["stale_accesses"].sum() == 0
    assert table.xs("async", level="strategy")["stale_accesses"].sum() > 0
    mb = swept.summary("mb_per_second")
    assert mb["mean"].iloc[0] == pytest.approx(swept.frame["mb_per_second"].iloc[:2].mean())


@pytest.mark.parametrize("value", ["strategy", "kmap_lock_wait_counts", "nope", 3])
def test_summary_refuses_a_value_it_cannot_average(swept: kmapsim.SweepResult, value: Any) -> None:
    with pytest.raises(ScenarioError) as ei:
        swept.summary(value)
    assert ei.value.field == "value" and "numeric column" in ei.value.problem
    assert "throughput" in ei.value.allowed and "stale_accesses" in ei.value.allowed


def test_cli_sweep_table_shows_stale_accesses(capsys: pytest.CaptureFixture[str]) -> None:
    sets = [arg for k, v in RACY.items() for arg in ("--set", f"{k}={v}")]
    argv = ["sweep", *sets, "--grid", "strategy=sync,async", "--seeds", "2"]
    status = cli.main([*argv, "--cycles", "2000000", "--no-progress", "--serial"])
    out = capsys.readouterr().out
    assert status == 0, out
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("strategy"))
    assert header.split() == ["strategy", "mean", "std", "min", "max", "stale", "accesses"]
    rows = {line.split()[0]: line.split() for line in lines if line.split()[:1] in (["sync"],)}
    rows.update({line.split()[0]: line.split() for line in lines if line.startswith("async ")})
    assert rows["sync"][-1] == "0" and int(rows["async"][-1].replace(",", "")) > 0
    assert "silent data corruption" in out


# -- the file-error rule ---------------------------------------------------------------------------


def _grid(path: Path) -> object:
    args = cli.build_parser().parse_args(
        ["sweep", "--grid-file", str(path), "--no-progress", "--serial"]
    )
    return args.func(args)


#: File kind -> (file name, the ScenarioFileError's field, how the file is read).
KINDS: dict[str, tuple[str, str, Callable[[Path], object]]] = {
    "scenario TOML": ("s.toml", "file", Scenario.from_file),
    "scenario JSON": ("s.json", "file", Scenario.from_file),
    "grid file": ("g.toml", "--grid-file", _grid),
    "replay CSV": ("ops.csv", "replay", lambda p: kmapsim.run(Scenario(), cycles=10, replay=p)),
}

#: Fault -> file kind -> what the file holds (bytes; "MISSING" or "DIRECTORY" for no file),
#: and a text the message must hold (besides the path). A kind without the fault is left out.
FILE_FAULTS: dict[str, dict[str, tuple[bytes | str, str]]] = {
    "missing": {k: ("MISSING", "No such file") for k in KINDS},
    "not a regular file": {k: ("DIRECTORY", "a directory") for k in KINDS},
    "too large": {k: (b"# " + b"x" * 100 + b"\n", "larger than") for k in KINDS},
    "not UTF-8": {k: (b"\xff\xfe = 1\n", "not UTF-8") for k in KINDS},
    "syntax": {
        "scenario TOML": (b"cpus = 8 8\n", "line 1"),
        "scenario JSON": (b'{"cpus": 8,', "line 1"),
        "grid file": (b"[grid\ncpus = [1]\n", "line 1"),
        "replay CSV": (b'cpu,work,page\n0,"5,1\n', "line 2"),
    },
    "shape": {
        "scenario TOML": (b"[cpus]\nn = 4\n", "flat"),
        "scenario JSON": (b"[1, 2]", "JSON array"),
        "grid file": (b"[grid]\ncpus = 4\n", "non-empty list"),
        "replay CSV": (b"# only a comment\n", "no header"),
    },
    "unknown key": {
        "scenario TOML": (b"cpuz = 4\n", "did you mean 'cpus'"),
        "scenario JSON": (b'{"cpuz": 4}', "did you mean 'cpus'"),
        "grid file": (b"[grid]\ncpuz = [4]\n", "did you mean 'cpus'"),
        "replay CSV": (b"cpu,work,page,colour\n0,5,1,2\n", "unknown columns ['colour']"),
    },
    "key twice": {
        "scenario TOML": (b"cpus = 4\ncpus = 5\n", "line 2"),
        "scenario JSON": (b'{"cpus": 4, "cpus": 5}', "'cpus' twice"),
        "grid file": (b"[grid]\ncpus = [4]\ncpus = [5]\n", "line 3"),
        "replay CSV": (b"cpu,work,page,page\n0,5,1,2\n", "'page' is given twice"),
    },
    "ragged row": {"replay CSV": (b"cpu,work,page\n0,5\n", "line 2 has 2 fields")},
}

#: Fault of a value -> file kind -> (content, the ScenarioError's field, a text of the message).
VALUE_FAULTS: dict[str, dict[str, tuple[bytes, str, str]]] = {
    "out of range": {
        "scenario TOML": (b"cpus = 0\n", "cpus", "0 is out of range"),
        "scenario JSON": (b'{"cpus": 0}', "cpus", "0 is out of range"),
        "grid file": (b"[grid]\ncpus = [4, 0]\n", "cpus", "[grid] cpus[1]"),
        "replay CSV": (b"cpu,work,page\n0,0,1\n", "replay", "line 2 (cpu 0): work 0"),
    },
    "wrong type": {
        "scenario TOML": (b'cpus = "8"\n', "cpus", "got a string"),
        "scenario JSON": (b'{"shared_page_prob": true}', "shared_page_prob", "got a bool"),
        "grid file": (b"[base]\ncpus = 2.5\n", "cpus", "[base] cpus"),
        "replay CSV": (b"cpu,work,page\n0,five,1\n", "replay", "work 'five'"),
    },
    "unknown name": {
        "scenario TOML": (b'preset = "pIII"\n', "preset", "unknown preset"),
        "scenario JSON": (b'{"strategy": "fast"}', "strategy", "unknown value 'fast'"),
        "grid file": (b'[grid]\nstrategy = ["sync", "asink"]\n', "strategy", "did you mean"),
        "replay CSV": (b"cpu,work,page,irqs_off\n0,5,1,2\n", "replay", "line 2 (cpu 0)"),
    },
    "rule across fields": {
        "scenario TOML": (b"pages = 100\n", "hot_pages", "exceeds pages"),
        "scenario JSON": (b'{"irq_locks": 0}', "irq_section_prob", "irq_locks = 0"),
        "grid file": (b"[base]\npages = 100\n", "hot_pages", "[base]"),
        "replay CSV": (b"cpu,work,page,irq_lock\n0,5,1,0\n", "replay", "irq_hold is 0"),
    },
}

FILE_CASES = [(f, k) for f, by_kind in FILE_FAULTS.items() for k in by_kind]
VALUE_CASES = [(f, k) for f, by_kind in VALUE_FAULTS.items() for k in by_kind]


def _raise(call: Callable[[], object]) -> ScenarioError:
    with pytest.raises(ScenarioError) as ei:
        call()
    return ei.value


@pytest.mark.parametrize(("fault", "kind"), FILE_CASES, ids=[f"{k}: {f}" for f, k in FILE_CASES])
def test_a_fault_of_the_file_is_a_file_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str, kind: str
) -> None:
    name, field, read = KINDS[kind]
    content, needle = FILE_FAULTS[fault][kind]
    path = tmp_path / name
    if content == "DIRECTORY":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    if fault == "too large":
        monkeypatch.setattr(fileio, "MAX_DOCUMENT_BYTES", 64)
        monkeypatch.setattr(replay_module, "MAX_OPS_FILE_BYTES", 64)
    e = _raise(lambda: read(path))
    assert type(e) is ScenarioFileError, f"{kind}, {fault}: {type(e).__name__}: {e}"
    assert e.field == field and e.path == str(path)
    assert str(path) in str(e) and needle in str(e), str(e)
    assert "\n" not in str(e)


def test_a_csv_with_too_many_rows_is_a_file_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replay_module, "MAX_OPS_ROWS", 2)
    path = tmp_path / "ops.csv"
    path.write_text("cpu,work,page\n0,5,1\n0,5,2\n# a comment\n0,5,3\n")
    e = _raise(lambda: replay_module.read_ops(path))
    assert type(e) is ScenarioFileError and e.field == "replay" and e.path == str(path)
    assert f"{path} line 5: more than 2 operations" in str(e)


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root reads all")
@pytest.mark.parametrize("kind", list(KINDS))
def test_an_unreadable_file_is_a_file_error(tmp_path: Path, kind: str) -> None:
    name, field, read = KINDS[kind]
    path = tmp_path / name
    path.write_text("x")
    path.chmod(0)
    e = _raise(lambda: read(path))
    assert type(e) is ScenarioFileError and e.field == field and e.path == str(path)


@pytest.mark.parametrize(("fault", "kind"), VALUE_CASES, ids=[f"{k}: {f}" for f, k in VALUE_CASES])
def test_a_bad_value_in_a_good_file_is_the_fields_error(
    tmp_path: Path, fault: str, kind: str
) -> None:
    name, _, read = KINDS[kind]
    content, field, needle = VALUE_FAULTS[fault][kind]
    path = tmp_path / name
    path.write_bytes(content)
    e = _raise(lambda: read(path))
    # A wrong type is a ScenarioTypeError (a ScenarioError), as the constructor raises it.
    cls = ScenarioTypeError if fault == "wrong type" and kind != "replay CSV" else ScenarioError
    assert type(e) is cls, f"{kind}, {fault}: {type(e).__name__}: {e}"
    assert e.field == field, str(e)
    assert str(path) in str(e) and needle in str(e), str(e)


def test_a_value_the_engine_checks_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ops.csv"
    path.write_bytes(b"cpu,work,page\n9,5,1\n")
    e = _raise(lambda: kmapsim.run(Scenario(), cycles=10, replay=path))
    assert type(e) is ScenarioError and e.field == "replay" and "cpu 9" in str(e)
    assert f"{path} line 2" in str(e)


def test_the_rule_is_written_in_fileio() -> None:
    doc = fileio.__doc__ or ""
    for words in ("ScenarioFileError", "as a file", "unknown key", "ragged", "*values*"):
        assert words in doc, words


@pytest.mark.parametrize(
    ("text", "field", "needle"),
    [
        ("[run]\nseeds = 0\n", "seeds", "[run] seeds"),
        ("[run]\nseeds = [1, 1]\n", "seeds", "repeats a seed"),
        ("[run]\ncycles = 0\n", "cycles", "[run] cycles"),
        ('[base]\npreset = "x"\n', "preset", "[base] preset"),
    ],
)
def test_grid_file_run_values_name_the_file(
    tmp_path: Path, text: str, field: str, needle: str
) -> None:
    path = tmp_path / "g.toml"
    path.write_text(text)
    e = _raise(lambda: _grid(path))
    assert type(e) is ScenarioError and e.field == field
    assert str(e).startswith(f"{path}: ") and needle in str(e)


# -- Histogram.quantile ----------------------------------------------------------------------------


def test_quantile_documents_the_bucket_top() -> None:
    doc = Histogram.quantile.__doc__ or ""
    assert "2**k - 1" in doc and "65535" in doc and "upper bound" in doc and "interpolate" in doc


def test_quantile_is_the_top_of_a_power_of_two_bucket() -> None:
    h = Histogram.from_values("wait", [33_000] * 99 + [70_000])
    p99 = h.quantile(0.99)
    assert p99 == 65_535 == 2**16 - 1  # the top of [32768, 65535], not a recorded value
    assert 33_000 <= p99 <= 2 * 33_000 - 1
    assert h.quantile(1.0) == 70_000 and h.quantile(0.0) == 33_000  # exact extremes
    one = Histogram.from_values("wait", [40_000] * 10)
    assert one.quantile(0.5) == 40_000  # clamped to max


def test_quantile_interpolates_within_the_bucket() -> None:
    values = list(range(1, 1001))
    h = Histogram.from_values("wait", values)
    for q in (0.1, 0.5, 0.9, 0.99):
        true = values[math.ceil(q * len(values)) - 1]  # the value of rank ceil(q * count)
        estimate = h.quantile(q, interpolate=True)
        assert abs(estimate - true) <= 0.02 * true + 1, (q, estimate, true)
        assert true // 2 <= estimate <= h.quantile(q)
    assert h.quantile(1.0, interpolate=True) == 1000
    assert Histogram.from_values("z", [0, 0]).quantile(0.5, interpolate=True) == 0


# -- the command line: trace counts, study help ----------------------------------------------------


def test_trace_says_what_each_count_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.json"
    status = cli.main(["trace", "--cycles", "3000000", "--cap", "5000", "-o", str(out)])
    text = capsys.readouterr().out
    assert status == 0, text
    doc = json.loads(out.read_text())
    events = doc["traceEvents"]
    meta = doc["metadata"]
    phases = {ph: sum(1 for e in events if e["ph"] == ph) for ph in "XiCsM"}
    assert f"{len(events):,} trace-event records" in text
    assert f"{phases['X']:,} slices" in text and f"{phases['i']:,} instants" in text
    assert f"{phases['C']:,} counter values" in text and f"{phases['s']:,} IPI arrows" in text
    assert f"{meta['trace_events']:,} engine events" in text
    assert f"{meta['trace_dropped']:,} older ones dropped" in text and "--cap 5_000" in text


def test_study_preset_help_reads_well(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["study", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "start the machine from this preset (default pIII-8way-2001" in text
    assert "Its cpus and strategy are replaced by --cpus and --strategies" in text
    assert "the machine; its cpus" not in text


def test_a_scenario_file_keeps_the_preset_it_came_from(tmp_path: Path) -> None:
    sc = Scenario.preset("pIII-8way-2001").replace(strategy="lazy", irq_hold_cycles=5000)
    for suffix in (".toml", ".json"):
        back = Scenario.from_file(sc.to_file(tmp_path / f"my{suffix}"))
        assert back == sc and back.preset_name == "pIII-8way-2001"
        assert (
            repr(back) == "Scenario.preset('pIII-8way-2001', strategy='lazy', irq_hold_cycles=5000)"
        )
    plain = Scenario(cpus=4)
    assert Scenario.from_file(plain.to_file(tmp_path / "plain.toml")).preset_name is None
