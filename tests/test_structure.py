"""The package's shape: kmapsim's modules import one another without a circle, only the entry
point imports the command line, and every number argument takes any integer (``__index__``) or
number (``__float__``), numpy scalars included."""

from __future__ import annotations

import ast
import fractions
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kmapsim
from kmapsim import Scenario, ScenarioError, Simulation
from kmapsim.runner import MAX_CYCLES, MODES, Mode
from kmapsim.store import run_key

PACKAGE = Path(kmapsim.__file__).parent
MODULES = {p.stem: p for p in sorted(PACKAGE.glob("*.py"))}
#: What ``from kmapsim import x`` may name as a module: the .py files and the extension.
SUBMODULES = {*MODULES, "_core"} - {"__init__"}
#: Modules run as programs, the only ones that may import the command line.
ENTRY_POINTS = {"__main__"}


# -- the import graph ------------------------------------------------------------------------------


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements run when the module is imported: not function bodies, not the branch of
    ``if TYPE_CHECKING:`` (its ``else`` does run), but class bodies, ``try`` and other blocks."""
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        yield stmt
        if isinstance(stmt, ast.If):
            test = stmt.test
            typing_only = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
                isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
            )
            if not typing_only:
                yield from _module_level(stmt.body)
            yield from _module_level(stmt.orelse)
        elif isinstance(stmt, ast.ClassDef):
            yield from _module_level(stmt.body)
        elif isinstance(stmt, (ast.With, ast.AsyncWith, ast.For, ast.AsyncFor, ast.While)):
            yield from _module_level(stmt.body)
            yield from _module_level(getattr(stmt, "orelse", []))
        elif isinstance(stmt, ast.Try):
            for block in (stmt.body, stmt.orelse, stmt.finalbody):
                yield from _module_level(block)
            for handler in stmt.handlers:
                yield from _module_level(handler.body)


def _imported(stmt: ast.stmt) -> Iterator[str]:
    """The kmapsim modules ``stmt`` imports: names of `MODULES`, ``__init__`` for a name the
    package itself defines (``from kmapsim import Scenario``, ``import kmapsim``). The package
    is always imported before its modules, so importing a module through it (``from kmapsim
    import _core``) is no edge to ``__init__``."""
    if isinstance(stmt, ast.Import):
        for alias in stmt.names:
            parts = alias.name.split(".")
            if parts[0] == "kmapsim":
                yield parts[1] if len(parts) > 1 else "__init__"
    elif isinstance(stmt, ast.ImportFrom):
        if stmt.level:  # from . import x, from .x import y
            base = ["kmapsim", *(stmt.module.split(".") if stmt.module else [])]
        elif stmt.module is not None and stmt.module.split(".")[0] == "kmapsim":
            base = stmt.module.split(".")
        else:
            return
        if len(base) > 1:
            yield base[1]
            return
        for alias in stmt.names:  # from kmapsim import x: the module x, or a package name
            yield alias.name if alias.name in SUBMODULES else "__init__"


def import_graph() -> dict[str, set[str]]:
    """Module -> the kmapsim modules (.py files) it imports when it is imported."""
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges = {m for stmt in _module_level(tree.body) for m in _imported(stmt)}
        graph[name] = {m for m in edges if m in MODULES and m != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` as a path (its first module repeated at the end)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_the_graph_reader_sees_module_level_imports_only() -> None:
    graph = import_graph()
    # Read at module level: the command line's renderer, the runner under everything.
    assert {"text", "grid_file", "runner", "sweep", "study"} <= graph["cli"]
    assert "runner" in graph["sweep"] and "sweep" in graph["grid_file"]
    assert "runner" in graph["__init__"]
    # Imported inside functions only: plots and perfetto by the command line.
    assert "plots" not in graph["cli"] and "perfetto" not in graph["cli"]
    # Imported under TYPE_CHECKING only.
    assert "result" not in graph["text"]


def test_the_reader_skips_functions_and_type_checking() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "import kmapsim.a\n"
        "from kmapsim import _core, sweep, Scenario\n"
        "from kmapsim.c import x\n"
        "if TYPE_CHECKING:\n    from kmapsim.d import y\nelse:\n    import kmapsim.e\n"
        "def f():\n    from kmapsim.g import z\n"
        "class K:\n    from kmapsim.h import w\n"
        "try:\n    import kmapsim.i\nexcept ImportError:\n    pass\n"
    )
    tree = ast.parse(source)
    found = {m for stmt in _module_level(tree.body) for m in _imported(stmt)}
    assert found == {"a", "_core", "sweep", "__init__", "c", "e", "h", "i"}


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_only_the_entry_point_imports_the_command_line() -> None:
    importers = {name for name, edges in import_graph().items() if "cli" in edges}
    assert importers <= ENTRY_POINTS, importers
    # Not even inside a function.
    for name, path in MODULES.items():
        if name in ENTRY_POINTS or name == "cli":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.stmt):
                assert "cli" not in set(_imported(node)), f"{name} imports kmapsim.cli"


def test_default_preset_is_defined_once() -> None:
    from kmapsim import presets, study, text

    assert presets.DEFAULT_PRESET in presets.PRESETS
    assert study.DEFAULT_PRESET is presets.DEFAULT_PRESET
    assert text.DEFAULT_PRESET is presets.DEFAULT_PRESET
    defining = [
        name
        for name, path in MODULES.items()
        if any(
            isinstance(n, (ast.Assign, ast.AnnAssign))
            and any(
                isinstance(t, ast.Name) and t.id == "DEFAULT_PRESET"
                for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
            )
            for n in ast.parse(path.read_text(encoding="utf-8")).body
        )
    ]
    assert defining == ["presets"]


def test_modes_are_the_mode_type() -> None:
    from typing import get_args

    assert MODES == get_args(Mode) == ("skip", "step")


# -- numbers: anything with __index__ or __float__ -------------------------------------------------

INT_TYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
FLOAT_TYPES = [np.float32, np.float64]


class Index:
    """An integer that is neither int nor numpy: it has __index__ only."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return f"Index({self.value})"


class Real:
    """A number that is neither float nor numpy: it has __float__ only."""

    def __init__(self, value: float) -> None:
        self.value = float(value)

    def __float__(self) -> float:
        return self.value

    def __repr__(self) -> str:
        return f"Real({self.value})"


LooseScenario: Any = Scenario


@pytest.mark.parametrize("kind", [*INT_TYPES, Index], ids=lambda t: t.__name__)
def test_integer_fields_take_any_integer(kind: Any) -> None:
    sc = LooseScenario(cpus=kind(4), last_pkmap=kind(64), irq_locks=kind(2))
    assert (sc.cpus, sc.last_pkmap, sc.irq_locks) == (4, 64, 2)
    assert type(sc.cpus) is int and Scenario.from_dict(sc.to_dict()) == sc
    # A float field takes integers too.
    assert LooseScenario(cpu_mhz=kind(100)).cpu_mhz == 100.0


@pytest.mark.parametrize("kind", [*FLOAT_TYPES, Real, fractions.Fraction], ids=lambda t: t.__name__)
def test_float_fields_take_any_number(kind: Any) -> None:
    sc = LooseScenario(cpu_mhz=kind(650.5), shared_page_prob=kind(0.5))
    assert (sc.cpu_mhz, sc.shared_page_prob) == (650.5, 0.5)
    assert type(sc.cpu_mhz) is float


@pytest.mark.parametrize("kind", [*FLOAT_TYPES, Real], ids=lambda t: t.__name__)
def test_integer_fields_refuse_floats(kind: Any) -> None:
    with pytest.raises(ScenarioError, match=r"cpus: .*got a") as e:
        LooseScenario(cpus=kind(4.0))
    assert e.value.field == "cpus" and e.value.allowed == "an integer in [1, 4096]"


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("cpus", True, "got a bool"),
        ("cpus", np.bool_(True), "got a bool"),
        ("cpus", np.array(3), "got a numpy array array(3) of 0 dimensions"),
        ("cpus", "3", "got a string"),
        ("cpu_mhz", np.array(700.0), "got a numpy array array(700.) of 0 dimensions"),
        ("cpu_mhz", np.bool_(False), "got a bool"),
        ("cpus", Index(5000), "5000 is out of range"),
        ("cpu_mhz", Real(float("nan")), "nan is out of range"),
        # Shown by its size, not as the inf it would be as a float.
        ("cpu_mhz", 10**400, "<integer of about 401 digits> is out of range"),
        ("cpu_mhz", -(10**400), "<-integer of about 401 digits> is out of range"),
    ],
)
def test_what_is_not_a_number_or_out_of_range_is_refused(
    field: str, value: object, needle: str
) -> None:
    with pytest.raises(ScenarioError) as e:
        LooseScenario(**{field: value})
    assert e.value.field == field and needle in str(e.value)


@pytest.fixture(scope="module")
def small() -> Scenario:
    return Scenario.preset("pIII-8way-2001", cpus=2)


@pytest.mark.parametrize("kind", [*INT_TYPES, Index], ids=lambda t: t.__name__)
def test_run_arguments_take_any_integer(kind: Any, small: Scenario) -> None:
    loose: Any = kmapsim.run
    # (int8 holds at most 127)
    r = loose(small, cycles=kind(120), seed=kind(7), trace=kind(10), sample_every=kind(40))
    plain = kmapsim.run(small, cycles=120, seed=7, trace=10, sample_every=40)
    assert (r.cycles, r.seed) == (120, 7) and type(r.seed) is int
    assert len(r.trace) == len(plain.trace)
    assert r.counters == plain.counters and len(r.samples) == len(plain.samples)


@pytest.mark.parametrize("kind", [*INT_TYPES, *FLOAT_TYPES, Real], ids=lambda t: t.__name__)
def test_wall_limit_takes_any_number(kind: Any, small: Scenario) -> None:
    r = kmapsim.run(small, cycles=10_000, max_wall_seconds=kind(100))
    assert r.cycles == 10_000


@pytest.mark.parametrize(
    ("kwargs", "field", "needle"),
    [
        ({"cycles": np.float64(1000.0)}, "cycles", "got float64"),
        ({"cycles": 1000, "seed": np.bool_(True)}, "seed", "got bool"),
        ({"cycles": 1000, "seed": np.array(1)}, "seed", "got ndarray"),
        ({"cycles": Index(MAX_CYCLES + 1)}, "cycles", "is out of range"),
        ({"cycles": 1000, "max_wall_seconds": Real(-1.0)}, "max_wall_seconds", "got Real(-1.0)"),
        ({"cycles": 1000, "max_wall_seconds": 10**400}, "max_wall_seconds", "too large"),
    ],
)
def test_run_refuses_what_is_not_its_kind_of_number(
    kwargs: dict[str, Any], field: str, needle: str, small: Scenario
) -> None:
    loose: Any = kmapsim.run
    with pytest.raises(ScenarioError) as e:
        loose(small, **kwargs)
    assert e.value.field == field and needle in str(e.value)


@pytest.mark.parametrize("kind", [np.int16, np.uint64, Index], ids=lambda t: t.__name__)
def test_simulation_store_and_sweep_take_any_integer(kind: Any, small: Scenario) -> None:
    loose: Any = Simulation
    sim = loose(small, seed=kind(3))
    sim.advance(kind(10_000))
    sim.advance_to(kind(20_000))
    assert sim.now == 20_000
    result = kmapsim.sweep(
        small,
        grid={"cpus": [kind(1), kind(2)]},
        seeds=kind(2),
        cycles=kind(10_000),
        executor="serial",
        progress=False,
    )
    assert list(result.frame["cpus"]) == [1, 1, 2, 2] and result.seeds == [0, 1]
    listed = kmapsim.sweep(
        small, seeds=[kind(5), kind(6)], cycles=10_000, executor="serial", progress=False
    )
    assert listed.seeds == [5, 6]
    loose_key: Any = run_key
    assert loose_key(small, kind(1), kind(10_000)) == run_key(small, 1, 10_000)


# --- the Rust core: leaves never import the engine, no module circle, short functions ----------

CORE = Path(__file__).resolve().parent.parent / "rust" / "kmapsim-core" / "src"
#: Modules that hold one kernel object or value each and never reach into the engine.
CORE_LEAVES = {"config", "cpu", "lock", "pkmap", "tlb", "rng", "stats", "trace", "report",
               "error", "op", "phase", "task", "workload", "reuse", "pack",
               "key_bytes"}  # fmt: skip


def core_graph() -> dict[str, set[str]]:
    """Top-level module -> the top-level modules it uses (`crate::X`), test code left out."""
    graph: dict[str, set[str]] = {}
    for path in CORE.rglob("*.rs"):
        rel = path.relative_to(CORE)
        mod = rel.parts[0].removesuffix(".rs")
        if mod in ("lib", "proptests") or (rel.parent == Path("engine") and "tests" in rel.name):
            continue
        text = path.read_text(encoding="utf-8").split("#[cfg(test)]\nmod tests {")[0]
        graph.setdefault(mod, set()).update(set(re.findall(r"\bcrate::(\w+)", text)) - {mod})
    return graph


def test_core_leaves_never_import_the_engine_and_modules_form_no_circle() -> None:
    graph = core_graph()
    assert CORE_LEAVES <= set(graph), sorted(CORE_LEAVES - set(graph))
    for leaf in CORE_LEAVES:
        assert graph[leaf] <= CORE_LEAVES, (
            f"leaf {leaf} imports {sorted(graph[leaf] - CORE_LEAVES)}"
        )
    assert find_cycle(graph) is None


def core_functions() -> list[tuple[int, str]]:
    """(lines, place) of every fn in the core, from its signature to its closing brace."""
    out = []
    for path in CORE.rglob("*.rs"):
        lines = path.read_text(encoding="utf-8").split("\n")
        for i, line in enumerate(lines):
            m = re.match(r"^(\s*)(pub(\([\w:]+\))? )?(const )?(unsafe )?fn (\w+)", line)
            if not m:
                continue
            # A trait's declaration (its signature ends in `;` before any body) has no lines.
            body = (j for j in range(i, len(lines)) if "{" in lines[j] or lines[j].endswith(";"))
            if "{" not in lines[next(body)]:
                continue
            end = next((j for j in range(i, len(lines)) if lines[j] == m.group(1) + "}"), i)
            out.append((end - i + 1, f"{path.relative_to(CORE)}:{i + 1} {m.group(6)}"))
    return sorted(out, reverse=True)


def test_no_core_function_is_longer_than_a_screen() -> None:
    longest = core_functions()[:3]
    assert longest[0][0] <= 100, longest


def test_the_engine_itself_accepts_number_like_objects() -> None:
    """Validation is the engine's: `_core.validate` takes numpy scalars and `Fraction` through
    `__index__`/`__float__`, refuses booleans of any kind, and returns the normalised values."""
    from kmapsim import _core

    got = _core.validate(
        {
            "cpus": np.uint16(4),
            "cpu_mhz": np.float32(500.0),
            "shared_page_prob": fractions.Fraction(1, 2),
        }
    )
    assert (got["cpus"], got["cpu_mhz"], got["shared_page_prob"]) == (4, 500.0, 0.5)
    assert type(got["cpus"]) is int and type(got["cpu_mhz"]) is float
    for bad in (np.bool_(True), True):
        with pytest.raises(kmapsim.ScenarioError, match="bool"):
            _core.validate({"cpus": bad})


def test_importing_kmapsim_loads_no_pandas() -> None:
    """`import kmapsim` stays light (docs/performance.md, target e: pandas 3 brings pyarrow,
    about 70 MiB); results, sweeps and call lists load pandas when they first need it."""
    code = "import kmapsim, sys; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
