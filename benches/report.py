"""Measure everything benches/ measures, once, and print the Markdown tables of
docs/performance.md.

    python benches/report.py                # full size: about a minute on 2 cores
    python benches/report.py --smoke        # one short round of each, to check the script
    python benches/report.py --write-doc    # also splice the tables into docs/performance.md

Times are medians of a few repetitions (see `measure.Sizes`); each ratio is of two medians taken
one after the other in this one run. Nothing is asserted here: the pytest benchmarks
(``python -m pytest benches``) assert the sanity checks and the SimPy agreement.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import (
    AGREE_COUNTERS,
    AGREE_TOLERANCE,
    Sizes,
    fmt_s,
    measure_agreement,
    measure_check,
    measure_memory,
    measure_scaling,
    measure_simpy_speed,
    measure_step_vs_skip,
    measure_sweep,
    measure_tasks,
)

import kmapsim

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "performance.md"
BLOCK = "performance"


def splice(path: Path, body: str) -> None:
    """Replace the text between the ``<!-- BEGIN performance: ... -->`` and
    ``<!-- END performance -->`` lines of ``path`` (as docs/scripts/refresh_docs.py does)."""
    text = path.read_text()
    pattern = re.compile(
        rf"(<!-- BEGIN {BLOCK}:[^\n]*-->\n)(?:.*?\n)?(<!-- END {BLOCK} -->)", flags=re.DOTALL
    )
    if not pattern.search(text):
        raise SystemExit(f"{path}: no {BLOCK} markers")
    path.write_text(pattern.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(2), text))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _met(ok: bool, short: str = "") -> str:
    return "yes" if ok else f"**no**{f' ({short})' if short else ''}"


def _at_least(value: float, target: float) -> str:
    return _met(value >= target, f"{value / target:.2f} of the target")


def _each_order(bfs: float, dfs: float, target: float) -> str:
    """Row g's verdict for each search order: breadth-first (the default check's order on the
    benchmark machine, and the bold figure) and depth-first."""
    return f"breadth-first {_at_least(bfs, target)}; depth-first {_at_least(dfs, target)}"


def _check_rates(check: dict[str, Any]) -> str:
    """Row g's figures: breadth-first on the default threads (bold), on one (a build before
    ``threads`` has only that one), and depth-first."""
    threads = check.get("threads", 1)
    bfs = f"breadth-first **{check['bfs_states_per_s']:,.0f}**"
    if threads > 1:
        one = check["bfs_one_thread_states_per_s"]
        bfs += f" on {threads} threads ({one:,.0f} on one)"
    return f"{bfs}, depth-first {check['dfs_states_per_s']:,.0f}"


def _at_most(value: float, target: float) -> str:
    return _met(value <= target, f"{value / target:.2f} x the target")


def _mb(mib: float) -> float:
    """MiB to MB (10**6 bytes), the unit of the target."""
    return mib * 1.048576


def _num(x: float) -> str:
    return f"{x:,.0f}"


def measure_all(z: Sizes) -> dict[str, Any]:
    """Every measurement, as plain numbers (what ``--json`` writes and ``--before`` reads)."""
    started = time.perf_counter()
    load_before = os.getloadavg()
    m: dict[str, Any] = {
        "step": measure_step_vs_skip(sizes=z),
        "speed": measure_simpy_speed(sizes=z),
        "agree": measure_agreement(sizes=z),
        "scaling": [measure_scaling(n, sizes=z) for n in z.scaling_cpus],
        "sweep": measure_sweep(sizes=z),
        "memory": measure_memory(sizes=z),
        "tasks": [measure_tasks(n, sizes=z) for n in z.tasks_counts],
        "check": measure_check(sizes=z),
    }
    m["meta"] = {
        "date": dt.date.today().isoformat(),
        "version": kmapsim.__version__,
        "git": _git(),
        "seconds": time.perf_counter() - started,
        "load_before": load_before[0],
        "load_after": os.getloadavg()[0],
    }
    return m


def _at64(m: dict[str, Any]) -> dict[str, Any]:
    return next((s for s in m["scaling"] if s["cpus"] == 64), m["scaling"][0])


def _rss(m: dict[str, Any], engine_only: bool) -> dict[str, Any]:
    big = max(r["cycles"] for r in m["memory"])
    return next(r for r in m["memory"] if r["cycles"] == big and r["engine_only"] == engine_only)


def _per_kmap_ns(s: dict[str, Any]) -> float:
    return s["engine_s"] / s["kmaps"] * 1e9


#: ns of engine time per simulated event the engine should stay under (issue "speed, second
#: round"); with folded events, the same budget per kmap: this many ns times the model's events
#: per kmap.
NS_PER_EVENT = 20


def rows(m: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """The summary table: (item, what, scenario, measured, target, met) per row."""
    step, speed, agree, sweep, check = (m[k] for k in ("step", "speed", "agree", "sweep", "check"))
    at64, tasks = _at64(m), m["tasks"]
    few, many = tasks[0], tasks[-1]
    per_kmap = _per_kmap_ns(at64)
    budget = NS_PER_EVENT * at64["events"] / at64["kmaps"]
    task_ratio = many["ns_per_kmap"] / few["ns_per_kmap"]
    event_ratio = many["ns_per_event"] / few["ns_per_event"]
    pkg, eng = _rss(m, False), _rss(m, True)
    c64 = f"64 CPUs, {_num(at64['cycles'])} cycles"
    out = [
        (
            "a",
            "`skip` against `step`, engine time",
            f"64 CPUs, {_num(step['cycles'])} cycles",
            f"step {fmt_s(step['step_engine_s'])}, skip {fmt_s(step['skip_engine_s'])}:"
            f" **{step['ratio_engine']:.0f}x** (whole call: {step['ratio_call']:.0f}x)",
            ">= 100x",
            _at_least(step["ratio_engine"], 100),
        ),
        (
            "b",
            "kmapsim against the SimPy peer, whole call",
            f"64 CPUs, {_num(speed['cycles'])} cycles",
            f"SimPy {fmt_s(speed['simpy_s'])}, kmapsim {fmt_s(speed['kmapsim_call_s'])}:"
            f" **{speed['ratio_call']:.0f}x** (against engine time"
            f" {fmt_s(speed['kmapsim_engine_s'])}: {speed['ratio_engine']:.0f}x)",
            ">= 300x",
            _at_least(speed["ratio_call"], 300),
        ),
        (
            "b",
            f"SimPy counters against kmapsim's, mean of {agree['seeds']} seeds",
            f"{agree['cpus']} CPUs, {_num(agree['cycles'])} cycles",
            f"largest difference **{agree['worst_abs_diff']:.1%}** (table below)",
            f"within {AGREE_TOLERANCE:.0%} (asserted)",
            _met(agree["worst_abs_diff"] <= AGREE_TOLERANCE),
        ),
        (
            "c",
            "engine time per simulated event",
            c64,
            f"**{at64['ns_per_event']:.1f} ns** ({at64['events_per_s'] / 1e6:.1f} M events/s)",
            f"<= {NS_PER_EVENT} ns",
            _at_most(at64["ns_per_event"], NS_PER_EVENT),
        ),
        (
            "c",
            "`dbench` (the default), engine time per kmap",
            c64,
            f"**{per_kmap:.0f} ns** ({at64['events'] / at64['kmaps']:.1f} events per kmap)",
            f"<= {NS_PER_EVENT} ns x events per kmap = {budget:.0f} ns",
            _at_most(per_kmap, budget),
        ),
        (
            "c",
            "simulated CPU-cycles per host-core second",
            c64,
            f"**{at64['cpu_cycles_per_s']:.2e}**",
            ">= 3e10",
            _at_least(at64["cpu_cycles_per_s"], 3e10),
        ),
        (
            "d",
            f'`sweep` on {sweep["workers"]} cores against `executor="serial"`',
            f"{sweep['runs']} runs x {sweep['cpus']} CPUs x {_num(sweep['cycles'])} cycles",
            f"serial {fmt_s(sweep['serial_s'])}, parallel {fmt_s(sweep['parallel_s'])}:"
            f" **{sweep['speedup']:.2f}x**",
            ">= 1.8x",
            _at_least(sweep["speedup"], 1.8),
        ),
        (
            "e",
            "peak RSS, no trace, through `import kmapsim`",
            f"{pkg['cpus']} CPUs, {pkg['cycles']:.0e} cycles",
            f"**{pkg['peak_mib']:.0f} MiB** (after the import alone: {pkg['floor_mib']:.0f} MiB)",
            "< 100 MB",
            _met(_mb(pkg["peak_mib"]) < 100),
        ),
        (
            "e",
            "peak RSS, no trace, the engine alone (`kmapsim._core`, no pandas)",
            f"{eng['cpus']} CPUs, {eng['cycles']:.0e} cycles",
            f"**{eng['peak_mib']:.0f} MiB** (after loading it: {eng['floor_mib']:.0f} MiB)",
            "< 100 MB",
            _met(_mb(eng["peak_mib"]) < 100),
        ),
        (
            "f",
            "`pte-highmem`, engine time per kmap: many tasks against one a CPU",
            f"64 CPUs x {_num(many['tasks'])} and x {_num(few['tasks'])} tasks,"
            f" {_num(many['cycles'])} cycles",
            f"{many['ns_per_kmap']:,.0f} against {few['ns_per_kmap']:,.0f} ns:"
            f" **{task_ratio:.1f}x** (per event: {event_ratio:.2f}x)",
            "<= 2x",
            _at_most(task_ratio, 2),
        ),
        (
            "f",
            "`pte-highmem`, engine time",
            f"64 CPUs x {_num(many['tasks'])} tasks, {_num(many['cycles'])} cycles",
            f"**{fmt_s(many['engine_s'])}** ({_num(many['kmaps'])} kmaps,"
            f" {_num(many['sleeps'])} sleeps on the pool)",
            "< 2 s",
            _met(many["engine_s"] < 2),
        ),
        (
            "g",
            "`kmapsim check`, states per second (whole call)",
            f"`sync`, 2 CPUs x 2 slots x {check['pages']} pages, {_num(check['states'])} states",
            _check_rates(check),
            ">= 1,000,000",
            _each_order(check["bfs_states_per_s"], check["dfs_states_per_s"], 1e6),
        ),
    ]
    return out


def before_header(before: dict[str, Any]) -> str:
    """The line that says where the before column comes from."""
    bm = before["meta"]
    return (
        f"The before column: the same script with kmapsim at `{bm['git']}`, measured"
        f" {bm['date']} in {float(bm['seconds']):.0f} s (load average"
        f" {float(bm['load_before']):.2f} before and {float(bm['load_after']):.2f} after)."
    )


def read_before(path: Path) -> tuple[dict[str, Any], list[tuple[str, str, str, str, str, str]]]:
    """A file written by ``--json``, and its summary rows; SystemExit with the reason if it is
    not one (checked before anything is measured)."""
    try:
        before = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(before, dict):
            raise TypeError(f"a JSON {type(before).__name__}, not an object")
        before_header(before)
        return before, rows(before)
    except OSError as e:
        raise SystemExit(f"--before {path}: cannot read it ({e.strerror})") from e
    except KeyError as e:
        why = f"no {e.args[0]!r} in it"
        raise SystemExit(f"--before {path}: not a report.py --json file ({why})") from e
    except (
        ValueError,
        TypeError,
        IndexError,
        AttributeError,
        ZeroDivisionError,
        RecursionError,
    ) as e:
        why = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        raise SystemExit(f"--before {path}: not a report.py --json file ({why})") from e


def _path(text: str) -> Path:
    """A path argument: not empty (``Path("")`` would be the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; give a file name")
    return Path(text)


def writable(flag: str, path: Path | None) -> None:
    """SystemExit unless ``path`` (if given) can be written as a file, checked before anything
    is measured."""
    if path is None:
        return
    if path.is_dir():
        raise SystemExit(f"{flag} {path}: a folder; give a file name")
    if not path.parent.is_dir():
        raise SystemExit(f"{flag} {path}: no folder {path.parent}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="one short round of each measurement")
    ap.add_argument("--out", type=_path, help="also write the Markdown to this file")
    ap.add_argument("--json", type=_path, help="also write every measured number to this file")
    ap.add_argument(
        "--label",
        help="what the measured build is, for the tables (default: `git describe` of this"
        " repository, which is right unless kmapsim is imported from elsewhere)",
    )
    ap.add_argument(
        "--before",
        type=_path,
        help="a file written by --json with an earlier build: its figures become a 'before'"
        " column of the summary table",
    )
    ap.add_argument(
        "--write-doc",
        action="store_true",
        help=f"also replace the generated block of {DOC.relative_to(REPO)} with the tables",
    )
    args = ap.parse_args(argv)
    z = Sizes.smoke() if args.smoke else Sizes.full()
    for flag, path in (("--json", args.json), ("--out", args.out)):
        writable(flag, path)
    if args.label is not None and (not args.label.strip() or not args.label.isprintable()):
        raise SystemExit(f"--label {args.label!r}: a name of printable characters, not empty")
    before = None
    before_rows: list[tuple[str, str, str, str, str, str]] = []
    if args.before is not None:
        before, before_rows = read_before(args.before)

    m = measure_all(z)
    if args.label:
        m["meta"]["git"] = args.label
    if args.json is not None:
        try:
            args.json.write_text(json.dumps(m, indent=1))
        except OSError as e:
            raise SystemExit(f"--json {args.json}: cannot write it ({e.strerror})") from e
    meta = m["meta"]
    speed, agree = m["speed"], m["agree"]
    scaling, memory, tasks = m["scaling"], m["memory"], m["tasks"]

    lines: list[str] = []
    say = lines.append
    say(
        f"Measured {meta['date']} with `python benches/report.py"
        f"{' --smoke' if args.smoke else ''}` in {meta['seconds']:.0f} s: kmapsim"
        f" {meta['version']} at `{meta['git']}`, Python {platform.python_version()},"
        f" {os.cpu_count()} cores ({_cpu_model()}), load average {meta['load_before']:.2f}"
        f" before and {meta['load_after']:.2f} after. Preset `pIII-8way-2001`, seed 1, `sync`."
    )
    if before is not None:
        say(before_header(before))
    say("")
    if before is None:
        say("| | what | scenario | measured | target | met |")
        say("| --- | --- | --- | --- | --- | --- |")
        for r in rows(m):
            say("| " + " | ".join(r) + " |")
    else:
        say("| | what | scenario | before | after | target | met (after) |")
        say("| --- | --- | --- | --- | --- | --- | --- |")
        for b, r in zip(before_rows, rows(m), strict=True):
            say("| " + " | ".join((*r[:3], b[3], *r[3:])) + " |")
    say("")
    say(f"**Cost against CPUs** (c; engine time, median of {z.scaling_rounds} runs):")
    say("")
    say(
        "| CPUs | cycles | events | events per simulated cycle | kmaps | engine time"
        " | whole call | M events/s | ns/event | simulated CPU-cycles/s |"
    )
    say("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for s in scaling:
        say(
            f"| {s['cpus']} | {_num(s['cycles'])} | {_num(s['events'])}"
            f" | {s['events_per_cycle']:.4f} | {_num(s['kmaps'])} | {fmt_s(s['engine_s'])}"
            f" | {fmt_s(s['call_s'])} | {s['events_per_s'] / 1e6:.1f} | {s['ns_per_event']:.1f}"
            f" | {s['cpu_cycles_per_s']:.2e} |"
        )
    say("")
    say(
        f"**Cost against cycles** (e; {z.rss_cpus} CPUs, one run per point, each in a fresh"
        " interpreter; peak RSS is its VmHWM after the run, in MiB):"
    )
    say("")
    say(
        "| cycles | events | engine time | ns/event | peak RSS, `import kmapsim`"
        " | peak RSS, engine alone |"
    )
    say("| ---: | ---: | ---: | ---: | ---: | ---: |")
    pkg_floor = next(r for r in memory if not r["engine_only"])["floor_mib"]
    eng_floor = next(r for r in memory if r["engine_only"])["floor_mib"]
    say(f"| 0 (after the import) | | | | {pkg_floor:.1f} | {eng_floor:.1f} |")
    for cycles in z.rss_cycles:
        p = next(r for r in memory if r["cycles"] == cycles and not r["engine_only"])
        e = next(r for r in memory if r["cycles"] == cycles and r["engine_only"])
        say(
            f"| {cycles:.0e} | {_num(p['events'])} | {fmt_s(p['engine_s'])}"
            f" | {p['engine_s'] / p['events'] * 1e9:.1f} | {p['peak_mib']:.1f}"
            f" | {e['peak_mib']:.1f} |"
        )
    say("")
    say(
        f"**Tasks** (f; `pte-highmem` on 64 CPUs, seed 1, median of {z.tasks_rounds} runs; each"
        " task holds a page-table page across a block, so with more tasks than slots the pool"
        " runs dry and every kunmap wakes every sleeper):"
    )
    say("")
    say("| tasks | cycles | events | kmaps | sleeps | engine time | ns/kmap | ns/event |")
    say("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for s in tasks:
        say(
            f"| {_num(s['tasks'])} | {_num(s['cycles'])} | {_num(s['events'])}"
            f" | {_num(s['kmaps'])} | {_num(s['sleeps'])} | {fmt_s(s['engine_s'])}"
            f" | {s['ns_per_kmap']:.0f} | {s['ns_per_event']:.1f} |"
        )
    say("")
    say(
        f"**SimPy peer against kmapsim** (b; {agree['cpus']} CPUs, {_num(agree['cycles'])}"
        f" cycles, mean of seeds {', '.join(map(str, z.agree_seeds))}; SimPy took"
        f" {fmt_s(agree['simpy_s_per_run'])} per run). At the 64-CPU timing point: SimPy"
        f" {_num(speed['simpy_kmaps'])} kmaps, kmapsim {_num(speed['kmapsim_kmaps'])} (seed 1)."
    )
    say("")
    say("| counter | SimPy | kmapsim | difference |")
    say("| --- | ---: | ---: | ---: |")
    for n in AGREE_COUNTERS:
        say(
            f"| {n} | {agree[f'simpy_{n}']:,.1f} | {agree[f'kmapsim_{n}']:,.1f}"
            f" | {agree[f'diff_{n}']:+.2%} |"
        )
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.out is not None:
        try:
            args.out.write_text(text)
        except OSError as e:
            raise SystemExit(f"--out {args.out}: cannot write it ({e.strerror})") from e
    if args.write_doc:
        splice(DOC, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
