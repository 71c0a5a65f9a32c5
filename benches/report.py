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
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import (
    AGREE_COUNTERS,
    AGREE_TOLERANCE,
    Sizes,
    fmt_s,
    measure_agreement,
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


def _at_most(value: float, target: float) -> str:
    return _met(value <= target, f"{value / target:.2f} x the target")


def _mb(mib: float) -> float:
    """MiB to MB (10**6 bytes), the unit of the target."""
    return mib * 1.048576


def _num(x: float) -> str:
    return f"{x:,.0f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="one short round of each measurement")
    ap.add_argument("--out", type=Path, help="also write the Markdown to this file")
    ap.add_argument(
        "--write-doc",
        action="store_true",
        help=f"also replace the generated block of {DOC.relative_to(REPO)} with the tables",
    )
    args = ap.parse_args(argv)
    z = Sizes.smoke() if args.smoke else Sizes.full()

    started = time.perf_counter()
    load_before = os.getloadavg()
    step = measure_step_vs_skip(sizes=z)
    speed = measure_simpy_speed(sizes=z)
    agree = measure_agreement(sizes=z)
    scaling = [measure_scaling(n, sizes=z) for n in z.scaling_cpus]
    sweep = measure_sweep(sizes=z)
    memory = measure_memory(sizes=z)
    tasks = [measure_tasks(n, sizes=z) for n in z.tasks_counts]
    load_after = os.getloadavg()
    took = time.perf_counter() - started

    at64 = next((s for s in scaling if s["cpus"] == 64), scaling[0])
    big = max(z.rss_cycles)
    pkg_big = next(r for r in memory if r["cycles"] == big and not r["engine_only"])
    eng_big = next(r for r in memory if r["cycles"] == big and r["engine_only"])

    lines: list[str] = []
    say = lines.append
    say(
        f"Measured {dt.date.today().isoformat()} with `python benches/report.py"
        f"{' --smoke' if args.smoke else ''}` in {took:.0f} s: kmapsim {kmapsim.__version__}"
        f" at `{_git()}`, Python {platform.python_version()}, {os.cpu_count()} cores"
        f" ({_cpu_model()}), load average {load_before[0]:.2f} before and"
        f" {load_after[0]:.2f} after. Preset `pIII-8way-2001`, seed 1, `sync`."
    )
    say("")
    say("| | what | scenario | measured | target | met |")
    say("| --- | --- | --- | --- | --- | --- |")
    say(
        f"| a | `skip` against `step`, engine time | 64 CPUs, {_num(step['cycles'])} cycles"
        f" | step {fmt_s(step['step_engine_s'])}, skip {fmt_s(step['skip_engine_s'])}:"
        f" **{step['ratio_engine']:.0f}x** (whole call: {step['ratio_call']:.0f}x)"
        f" | >= 100x | {_at_least(step['ratio_engine'], 100)} |"
    )
    say(
        f"| b | kmapsim against the SimPy peer, whole call | 64 CPUs,"
        f" {_num(speed['cycles'])} cycles | SimPy {fmt_s(speed['simpy_s'])}, kmapsim"
        f" {fmt_s(speed['kmapsim_call_s'])}: **{speed['ratio_call']:.0f}x** (against engine time"
        f" {fmt_s(speed['kmapsim_engine_s'])}: {speed['ratio_engine']:.0f}x)"
        f" | >= 300x | {_at_least(speed['ratio_call'], 300)} |"
    )
    say(
        f"| b | SimPy counters against kmapsim's, mean of {agree['seeds']} seeds | "
        f"{agree['cpus']} CPUs, {_num(agree['cycles'])} cycles | largest difference"
        f" **{agree['worst_abs_diff']:.1%}** (table below) | within {AGREE_TOLERANCE:.0%}"
        f" (asserted) | {_met(agree['worst_abs_diff'] <= AGREE_TOLERANCE)} |"
    )
    say(
        f"| c | engine time per processed event | 64 CPUs, {_num(at64['cycles'])} cycles"
        f" | **{at64['ns_per_event']:.1f} ns** ({at64['events_per_s'] / 1e6:.1f} M events/s)"
        f" | <= 50 ns | {_at_most(at64['ns_per_event'], 50)} |"
    )
    say(
        f"| c | simulated CPU-cycles per host-core second | 64 CPUs,"
        f" {_num(at64['cycles'])} cycles | **{at64['cpu_cycles_per_s']:.2e}**"
        f" | >= 3e10 | {_at_least(at64['cpu_cycles_per_s'], 3e10)} |"
    )
    say(
        f'| d | `sweep` on {sweep["workers"]} cores against `executor="serial"` |'
        f" {sweep['runs']} runs x {sweep['cpus']} CPUs x {_num(sweep['cycles'])} cycles |"
        f" serial {fmt_s(sweep['serial_s'])}, parallel {fmt_s(sweep['parallel_s'])}:"
        f" **{sweep['speedup']:.2f}x** | >= 1.8x | {_at_least(sweep['speedup'], 1.8)} |"
    )
    say(
        f"| e | peak RSS, no trace, through `import kmapsim` | {pkg_big['cpus']} CPUs,"
        f" {big:.0e} cycles | **{pkg_big['peak_mib']:.0f} MiB** (after the import alone:"
        f" {pkg_big['floor_mib']:.0f} MiB) | < 100 MB | {_met(_mb(pkg_big['peak_mib']) < 100)} |"
    )
    say(
        f"| e | peak RSS, no trace, the engine alone (`kmapsim._core`, no pandas) |"
        f" {eng_big['cpus']} CPUs, {big:.0e} cycles | **{eng_big['peak_mib']:.0f} MiB**"
        f" (after loading it: {eng_big['floor_mib']:.0f} MiB) | < 100 MB |"
        f" {_met(_mb(eng_big['peak_mib']) < 100)} |"
    )
    many = tasks[-1]
    say(
        f"| f | `pte-highmem`, engine time | 64 CPUs x {_num(many['tasks'])} tasks,"
        f" {_num(many['cycles'])} cycles | **{fmt_s(many['engine_s'])}**"
        f" ({_num(many['kmaps'])} kmaps, {_num(many['sleeps'])} sleeps on the pool)"
        f" | < 2 s | {_met(many['engine_s'] < 2)} |"
    )
    say(
        f"| f | `dbench` (the default), engine time per kmap | 64 CPUs,"
        f" {_num(at64['cycles'])} cycles | **{at64['engine_s'] / at64['kmaps'] * 1e9:.0f} ns**"
        " | within 10% of the engine before tasks (measured side by side below the table) | see"
        " below |"
    )
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
        args.out.write_text(text)
    if args.write_doc:
        splice(DOC, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
