"""Scenario files: `Scenario.to_file` / `Scenario.from_file` (TOML and JSON), their errors, and
``--scenario FILE`` / ``--save-scenario FILE`` on the command line."""

from __future__ import annotations

import json
import pickle
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from cli_process import kmapsim_cli
from hypothesis import assume, given
from hypothesis import strategies as st

import kmapsim
from kmapsim import Scenario, ScenarioError, ScenarioFileError, preset_names
from kmapsim.fileio import toml_dumps, toml_module, toml_string
from kmapsim.presets import get_preset
from kmapsim.study import run_study

FORMATS = ["toml", "json"]
tomllib = toml_module()  # tomllib, or tomli on Python 3.10


def _error_of(call: Any) -> ScenarioError:
    with pytest.raises(ScenarioError) as ei:
        call()
    return ei.value


# -- round trips ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", preset_names())
def test_every_preset_round_trips(tmp_path: Path, name: str, fmt: str) -> None:
    sc = Scenario.preset(name)
    path = sc.to_file(tmp_path / f"s.{fmt}")
    assert path == tmp_path / f"s.{fmt}"
    back = Scenario.from_file(path)
    assert back == sc
    assert back.to_dict() == sc.to_dict()
    assert [type(v) for v in back.to_dict().values()] == [type(v) for v in sc.to_dict().values()]


@pytest.mark.parametrize("fmt", FORMATS)
def test_floats_are_written_exactly(tmp_path: Path, fmt: str) -> None:
    sc = Scenario(
        shared_page_prob=0.1,
        irq_section_prob=1 / 3,
        tlb_evict_rate=5e-324,  # the smallest float: repr "5e-324"
        cpu_mhz=1e-3 + 2**-40,
        ctx_switch_prob=1.0,
    )
    back = Scenario.from_file(sc.to_file(tmp_path / f"s.{fmt}"))
    for name in ("shared_page_prob", "irq_section_prob", "tlb_evict_rate", "cpu_mhz"):
        assert getattr(back, name) == getattr(sc, name), name
    text = (tmp_path / f"s.{fmt}").read_text()
    assert "0.1" in text and "0.3333333333333333" in text and "5e-324" in text


def test_toml_file_layout(tmp_path: Path) -> None:
    sc = Scenario.preset("modern-64core", strategy="lazy")
    text = sc.to_file(tmp_path / "s.toml").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0].startswith("# kmapsim scenario, written by kmapsim " + kmapsim.__version__)
    assert f"model version {kmapsim._core.MODEL_VERSION}" in lines[0]
    body = [line for line in lines if not line.startswith("#")]
    # The preset it came from, then every field.
    assert body[0] == 'preset = "modern-64core"' and body[1] == 'strategy = "lazy"'
    assert "cpus = 64" in body and "cpu_mhz = 2500.0" in body
    assert [line.split(" = ")[0] for line in body[1:]] == list(sc.to_dict())
    assert tomllib.loads(text) == {"preset": "modern-64core", **sc.to_dict()}


def test_json_file_layout(tmp_path: Path) -> None:
    sc = Scenario(cpus=3)
    doc = json.loads(sc.to_file(tmp_path / "s.json").read_text(encoding="utf-8"))
    assert doc == sc.to_dict() and list(doc) == list(sc.to_dict())


def test_suffix_is_case_insensitive(tmp_path: Path) -> None:
    sc = Scenario(cpus=5)
    assert Scenario.from_file(sc.to_file(tmp_path / "S.TOML")) == sc
    assert Scenario.from_file(str(sc.to_file(tmp_path / "S.Json"))) == sc


def test_missing_fields_take_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text("cpus = 4\ncpu_mhz = 1000  # an int for a float field\n")
    sc = Scenario.from_file(tmp_path / "s.toml")
    assert sc == Scenario(cpus=4, cpu_mhz=1000.0) and isinstance(sc.cpu_mhz, float)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("s.toml", 'preset = "opteron-32core-2009"\ncpus = 16\nstrategy = "lazy"\n'),
        ("s.json", '{"cpus": 16, "preset": "opteron-32core-2009", "strategy": "lazy"}'),
    ],
)
def test_a_preset_key_is_the_base_and_other_keys_override_it(
    tmp_path: Path, name: str, text: str
) -> None:
    (tmp_path / name).write_text(text)
    sc = Scenario.from_file(tmp_path / name)
    assert sc == Scenario.preset("opteron-32core-2009", cpus=16, strategy="lazy")
    assert sc.cpu_mhz == get_preset("opteron-32core-2009").values["cpu_mhz"]


def test_a_preset_alone(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text('preset = "modern-64core"\n')
    assert Scenario.from_file(tmp_path / "s.toml") == Scenario.preset("modern-64core")


# -- errors in the content: the same ScenarioError as Scenario(...) -------------------------------


@pytest.mark.parametrize(
    ("text", "key", "suggestion"),
    [
        ("cpuz = 4\n", "cpuz", "cpus"),
        ('prest = "modern-64core"\n', "prest", "preset"),
        ("ipi_latncy = 4\n", "ipi_latncy", "ipi_latency"),
    ],
)
def test_unknown_key_is_named_with_a_suggestion(
    tmp_path: Path, text: str, key: str, suggestion: str
) -> None:
    path = tmp_path / "s.toml"
    path.write_text("cpus = 2\n" * (key != "cpuz") + text)
    e = _error_of(lambda: Scenario.from_file(path))
    # An unknown key is a fault of the file (the rule of kmapsim.fileio), not of a value.
    assert type(e) is ScenarioFileError and e.field == "file" and e.path == str(path)
    assert f"{key}: unknown field" in str(e)
    assert f"did you mean {suggestion!r}" in str(e) and str(path) in str(e)


@pytest.mark.parametrize("text", ["[scenario]\ncpus = 4\n", "[cpus]\nn = 4\n"])
def test_a_table_is_a_file_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(text)
    e = _error_of(lambda: Scenario.from_file(path))
    assert type(e) is ScenarioFileError and e.field == "file" and e.path == str(path)
    assert "flat" in str(e) and str(path) in str(e) and text[1:5] in str(e)


@pytest.mark.parametrize(
    ("values", "toml_text"),
    [
        ({"cpus": "8"}, 'cpus = "8"\n'),
        ({"cpus": 8.0}, "cpus = 8.0\n"),
        ({"cpus": 0}, "cpus = 0\n"),
        ({"strategy": "fast"}, 'strategy = "fast"\n'),
        ({"shared_page_prob": True}, "shared_page_prob = true\n"),
        ({"shared_page_prob": 1.5}, "shared_page_prob = 1.5\n"),
        ({"tlb_entries": [1, 2]}, "tlb_entries = [1, 2]\n"),
        ({"irq_locks": 0}, "irq_locks = 0\n"),  # a rule across fields, from the engine
    ],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_bad_values_raise_what_the_constructor_raises(
    tmp_path: Path, values: dict[str, Any], toml_text: str, fmt: str
) -> None:
    expected = _error_of(lambda: Scenario(**values))
    path = tmp_path / f"s.{fmt}"
    path.write_text(toml_text if fmt == "toml" else json.dumps(values))
    e = _error_of(lambda: Scenario.from_file(path))
    assert type(e) is type(expected)  # a wrong type stays a ScenarioTypeError
    assert (e.field, e.problem, e.allowed) == (expected.field, expected.problem, expected.allowed)
    assert str(e) == f"{path}: {expected}"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('preset = "pIII-8way-2010"\n', "did you mean 'pIII-8way-2001'"),
        ("preset = 3\n", "got an integer 3"),
    ],
)
def test_bad_preset_key(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(text)
    e = _error_of(lambda: Scenario.from_file(path))
    assert e.field == "preset" and needle in str(e) and str(path) in str(e)


# -- files that cannot be read as one: ScenarioFileError, field "file" ----------------------------

BAD_FILES: list[tuple[str, str | bytes | None, list[str]]] = [
    ("missing.toml", None, ["cannot read", "No such file"]),
    ("empty.toml", "", ["sets nothing"]),
    ("blank.json", " \n\n", ["sets nothing"]),
    ("comments.toml", "# nothing here\n", ["sets nothing"]),
    ("empty-object.json", "{}", ["sets nothing"]),
    ("bad.toml", "cpus = 4\nstrategy sync\n", ["not valid TOML", "line 2, column 10"]),
    ("truncated.toml", 'cpus = 4\nstrategy = "sy', ["not valid TOML", "end of document"]),
    ("twice.toml", "cpus = 4\ncpus = 5\n", ["not valid TOML", "line 2"]),
    ("bad.json", '{"cpus": 4\n "strategy": "sync"}', ["not valid JSON", "line 2, column 2"]),
    ("truncated.json", '{"cpus": 4, "strat', ["not valid JSON", "line 1, column 13"]),
    ("list.json", "[1, 2]", ["JSON array at the top level"]),
    ("number.json", "8", ["JSON number at the top level"]),
    ("twice.json", '{"cpus": 4, "cpus": 5}', ["'cpus' twice"]),
    ("latin1.toml", b'strategy = "s\xe9nc"\n', ["not UTF-8", "0xe9", "line 1, column 14"]),
    ("scenario.yaml", "cpus: 4\n", ["suffix '.yaml'", ".toml or .json"]),
    ("scenario", "cpus = 4\n", ["no suffix"]),
]


@pytest.mark.parametrize(("name", "content", "needles"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_unreadable_files(
    tmp_path: Path, name: str, content: str | bytes | None, needles: list[str]
) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    e = _error_of(lambda: Scenario.from_file(path))
    assert isinstance(e, ScenarioFileError)
    assert e.field == "file" and e.path == str(path) and str(path) in str(e)
    assert "\n" not in str(e)
    for needle in needles:
        assert needle in str(e)


def test_a_directory(tmp_path: Path) -> None:
    (tmp_path / "dir.toml").mkdir()
    e = _error_of(lambda: Scenario.from_file(tmp_path / "dir.toml"))
    assert isinstance(e, ScenarioFileError) and "is a directory" in str(e)


def test_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_bytes(b'\xef\xbb\xbf{"cpus": 3}')
    assert Scenario.from_file(tmp_path / "s.json") == Scenario(cpus=3)


def test_writing_to_an_unknown_suffix_writes_nothing(tmp_path: Path) -> None:
    e = _error_of(lambda: Scenario().to_file(tmp_path / "s.yaml"))
    assert isinstance(e, ScenarioFileError) and ".toml or .json" in str(e)
    assert not (tmp_path / "s.yaml").exists()


def test_scenario_file_error_pickles() -> None:
    e = ScenarioFileError.at("x.toml", "x.toml is not valid TOML", "a valid TOML file")
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is ScenarioFileError and str(back) == str(e)
    assert (back.field, back.path, back.allowed) == ("file", "x.toml", "a valid TOML file")
    assert isinstance(back, ScenarioError) and isinstance(back, ValueError)


# -- the TOML writer ------------------------------------------------------------------------------


@given(st.text())
def test_toml_strings_round_trip(text: str) -> None:
    assert tomllib.loads(f"k = {toml_string(text)}") == {"k": text}


def test_toml_writer() -> None:
    text = toml_dumps(
        {"a": 1, "b": -0.0, "c": 'x"y\\z', "odd key": True, "e": float("inf")}, ["two\nlines"]
    )
    assert text.splitlines()[0] == "# two lines"
    assert tomllib.loads(text) == {"a": 1, "b": -0.0, "c": 'x"y\\z', "odd key": True, "e": 1e999}
    with pytest.raises(TypeError):
        toml_dumps({"a": [1]})


# -- property: any valid scenario round-trips -----------------------------------------------------

SPECS = Scenario.fields()


def _value(spec: Any) -> st.SearchStrategy[Any]:
    if spec["kind"] == "choice":
        return st.sampled_from(spec["choices"])
    if spec["kind"] == "int":
        return st.integers(spec["min"], spec["max"])
    return st.floats(spec["min"], spec["max"], allow_nan=False)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    specs = draw(st.lists(st.sampled_from(SPECS), max_size=6, unique_by=lambda s: s["name"]))
    values = {s["name"]: draw(_value(s)) for s in specs}
    try:
        return Scenario.from_dict(values)
    except ScenarioError:  # a rule across fields (say, hot_pages > pages)
        assume(False)
        raise


@given(scenarios())
def test_any_valid_scenario_round_trips(sc: Scenario) -> None:
    with tempfile.TemporaryDirectory() as d:
        for fmt in FORMATS:
            path = sc.to_file(Path(d) / f"s.{fmt}")
            assert Scenario.from_file(path) == sc, fmt


# -- the command line -----------------------------------------------------------------------------

CYCLES = "200000"


def assert_one_line_error(p: Any, *needles: str) -> None:
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr and p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kmapsim: error: "), p.stderr
    for needle in needles:
        assert needle in lines[0]


def test_cli_run_with_a_scenario_file(tmp_path: Path) -> None:
    f = tmp_path / "f.toml"
    Scenario.preset("modern-64core", cpus=4).to_file(f)
    p = kmapsim_cli("run", "--scenario", str(f), "--cycles", CYCLES)
    assert p.returncode == 0, p.stderr
    first = p.stdout.splitlines()[0]
    assert first == f"kmapsim {kmapsim.__version__}: scenario {f}"
    assert "throughput" in p.stdout and "kmap_lock_wait" in p.stdout and "on 4 CPUs" in p.stdout


def test_cli_run_overrides_the_file_and_saves_what_ran(tmp_path: Path) -> None:
    f = tmp_path / "f.json"
    f.write_text('{"preset": "modern-64core", "cpus": 4}')
    saved = tmp_path / "ran.toml"
    p = kmapsim_cli(
        "run", "--scenario", str(f), "--cpus", "2", "--strategy", "lazy",
        "--set", "shared_page_prob=0.1", "--cycles", CYCLES, "--json",
        "--save-scenario", str(saved),
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    ran = Scenario.from_dict(json.loads(p.stdout)["scenario"])
    expected = Scenario.preset("modern-64core", cpus=2, strategy="lazy", shared_page_prob=0.1)
    assert ran == expected
    assert Scenario.from_file(saved) == expected

    # The saved file reruns the same run.
    again = kmapsim_cli("run", "--scenario", str(saved), "--cycles", CYCLES, "--json")
    assert again.returncode == 0, again.stderr
    a, b = json.loads(p.stdout), json.loads(again.stdout)
    assert a["counters"] == b["counters"] and a["breakdown"] == b["breakdown"]


def test_cli_run_summary_names_the_overrides(tmp_path: Path) -> None:
    f = tmp_path / "f.toml"
    f.write_text("cpus = 4\n")
    p = kmapsim_cli("run", "--scenario", str(f), "--cpus", "2", "--cycles", CYCLES)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0].endswith(f"scenario {f} with cpus=2")


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        (None, ["cannot read"]),
        ("cpus = 4\nstrategy sync\n", ["not valid TOML", "line 2"]),
        ("cpuz = 4\n", ["cpuz", "did you mean 'cpus'"]),
        ("cpus = 0\n", ["cpus", "out of range"]),
        ("", ["sets nothing"]),
    ],
)
def test_cli_bad_scenario_file_exits_2_naming_the_file(
    tmp_path: Path, content: str | None, needles: list[str]
) -> None:
    f = tmp_path / "bad.toml"
    if content is not None:
        f.write_text(content)
    p = kmapsim_cli("run", "--scenario", str(f), "--cycles", "1000")
    assert_one_line_error(p, str(f), *needles)


def test_cli_scenario_and_preset_exclude_each_other(tmp_path: Path) -> None:
    f = tmp_path / "f.toml"
    Scenario().to_file(f)
    p = kmapsim_cli("run", "--scenario", str(f), "--preset", "modern-64core")
    assert p.returncode == 2 and "not allowed with argument" in p.stderr


def test_cli_save_scenario_with_a_bad_suffix_runs_nothing(tmp_path: Path) -> None:
    p = kmapsim_cli("run", "--cycles", "1000", "--save-scenario", str(tmp_path / "s.yml"))
    assert_one_line_error(p, "s.yml", ".toml or .json")


def test_cli_sweep_on_a_scenario_file(tmp_path: Path) -> None:
    f = tmp_path / "f.toml"
    f.write_text('preset = "modern-64core"\nirq_hold_cycles = 1000\n')
    out = tmp_path / "t.csv"
    p = kmapsim_cli(
        "sweep", "--scenario", str(f), "--grid", "cpus=1,2", "--set", "strategy=lazy",
        "--cycles", CYCLES, "--out", str(out), "--no-progress", "--serial",
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"kmapsim sweep: scenario {f} with strategy='lazy'; 2 runs")
    frame = pd.read_csv(out)
    assert list(frame["cpus"]) == [1, 2] and set(frame["strategy"]) == {"lazy"}
    assert set(frame["irq_hold_cycles"]) == {1000}
    assert set(frame["cpu_mhz"]) == {get_preset("modern-64core").values["cpu_mhz"]}


def test_cli_study_bad_scenario_file_exits_2(tmp_path: Path) -> None:
    f = tmp_path / "f.json"
    f.write_text("[]")
    p = kmapsim_cli("study", "--scenario", str(f), "--out", str(tmp_path / "out"))
    assert_one_line_error(p, str(f), "JSON array")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("as_path", [True, False])
def test_study_on_a_scenario(tmp_path: Path, as_path: bool) -> None:
    sc = Scenario.preset("modern-64core", irq_hold_cycles=1000)
    scenario: Scenario | Path = sc.to_file(tmp_path / "f.toml") if as_path else sc
    study = run_study(
        tmp_path / "out", scenario=scenario, cpus=[1, 2], strategies=["sync"], seeds=1,
        cycles=100_000, executor="serial", progress=False, plots=False,
    )  # fmt: skip
    assert study.preset is None
    # The preset regime runs the scenario as given (the others change their own fields).
    assert set(study.regime("preset")["irq_hold_cycles"]) == {1000}
    head = study.summary().splitlines()[0]
    source = (
        f"scenario {tmp_path / 'f.toml'}"
        if as_path
        else "scenario Scenario.preset('modern-64core', irq_hold_cycles=1000)"
    )
    assert head.startswith(f"kmapsim study: {source}")


def test_study_takes_a_preset_or_a_scenario_not_both(tmp_path: Path) -> None:
    e = _error_of(
        lambda: run_study(tmp_path, preset="modern-64core", scenario=Scenario(), plots=False)
    )
    assert e.field == "scenario"
