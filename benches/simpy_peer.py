"""A SimPy peer of kmapsim: the same dbench-like workload under `sync` / `scan`, in pure Python.

It exists to check kmapsim against an independent implementation written in the usual Python way
(a process per CPU, `simpy.Resource` locks, `Process.interrupt()` for IPIs) and to time the two
against each other (benches/test_bench_simpy.py). It follows docs/model.md sections 3-7 and 12.1
rule by rule wherever SimPy can express them:

- N CPU processes, each looping: work (exponential with mean ``work_cycles``, floored, at least 1,
  or fixed), unrelated-traffic TLB evictions for that work (``tlb_evict_rate`` per 1000 cycles in
  the engine's 2^-32 fixed point with a per-CPU carry), with probability ``irq_section_prob`` an
  interrupts-off section on one of ``irq_locks`` locks (held for an exponential
  ``irq_hold_cycles``; IPIs stay pending during the spin and the hold and are taken as soon as
  interrupts are back on), then the page choice (a hot page with ``shared_page_prob``, else a
  uniform cold one), kmap, copy, kunmap and, with ``ctx_switch_prob``, a context switch.
- kmap takes ``kmap_lock`` (``lock_acquire_cycles`` if granted at once, ``lock_handoff_cycles`` if
  the CPU had to wait) and runs 2.4's ``kmap_high``: the sharing path (count += 1,
  ``kmap_hit_cycles``) or ``map_new_virtual``'s cursor scan (``scan_slot_cycles`` per advance,
  ``kmap_new_cycles``); on a wrap ``flush_all_zero_pkmaps`` clears every count-1 slot
  (``last_pkmap`` x ``flush_slot_cycles``) and ``flush_tlb_all`` runs with the lock held:
  ``call_lock``, the send (``ipi_send_cycles``), arrivals ``ipi_latency`` later, a wait for every
  other CPU's handler (``ipi_handler_cycles`` + ``tlb_flush_cycles``, a full TLB flush at its
  end), resuming one cycle after the last ack, then the local flush (``tlb_flush_cycles``) and
  the scan goes on at slot 0 without advancing. A lap with every slot busy sleeps on the wait
  queue (interrupts on), is woken by the kunmap that drops a count to 1, and retries after one
  cycle and a context switch.
- The copy makes ``copy_lookups`` evenly spaced lookups (lookup i at floor(i*C/N) cycles) in a
  per-CPU LRU TLB of ``tlb_entries``; a miss costs ``tlb_miss_cycles`` and loads the entry.
- kunmap takes ``kmap_lock``, decrements the count (``kunmap_cycles``), releases it and wakes
  every sleeper if the count dropped to 1 with sleepers queued.

Simplifications (each also listed in docs/performance.md):

1. Locks are `simpy.Resource(capacity=1)`, which grants in request order (FIFO, kmapsim's
   ``lock_arbitration = "fifo"``), not 2.4's test-and-set with a random winner drawn from the
   lock's stream. Under ``sync`` no spinner is ever inside a handler when ``kmap_lock`` is
   released, so FIFO and test-and-set differ only in who wins, not in what it costs.
2. The hand-off cost is charged when the request was not granted at once. kmapsim also charges it
   when two CPUs request a free lock in the same cycle (both spin at arbitration); here the first
   of them gets the uncontended cost.
3. Same-cycle order is SimPy's event queue order (scheduling order), not kmapsim's three phases
   per cycle (IPI arrivals, then CPU actions in CPU index order, then lock arbitration). E.g. an
   IPI arriving in the very cycle a work stretch ends may be taken before or after the CPU's next
   step, where kmapsim always takes it first.
4. Random streams are Python's Mersenne Twister, one ``random.Random(seed * 1000 + cpu)`` per
   CPU, instead of PCG-64 streams; the draws are the same in kind and order (work, section,
   lock index, hold, misuse, hot, page, switch), so results agree in distribution, not run by run.
5. An IPI handler is a `Process.interrupt()` of the target's process: the process runs the
   handler (and any IPI that arrived meanwhile), then resumes what it was doing with its
   remaining cycles, or goes on spinning. A lock granted, or a wake-up, during a handler takes
   effect after it (as in kmapsim).
6. Only the random workload of the ``sync`` strategy with ``scan`` allocation, ``empty_flush =
   "flush"`` and ``kmap_irqs_off_prob = 0``. No breakdown by category, no histograms, no trace,
   no safety checker (``sync`` is safe), no watchdog (the scenario cannot deadlock), no replay.
7. Counters kept: kmaps, kunmaps, new_mappings, map_hits, flushes, slots_cleared,
   slots_examined, ipis_sent, ipis_handled, tlb_hits, tlb_misses, tlb_flushes, tlb_evictions,
   sleeps, wakeups, context_switches, irq_sections, kmap_lock_acquires; each is counted at the
   same rule as in kmapsim.

Usage: ``run_peer(kmapsim.Scenario.preset("pIII-8way-2001", cpus=8), cycles=10_000_000, seed=1)``
returns a dict of counters plus ``cycles`` (the simulated cycles: events at cycles 0 .. cycles-1
are processed, as in kmapsim) and ``wall_seconds``.
"""

from __future__ import annotations

import math
import random
import time
from collections import OrderedDict
from collections.abc import Generator, Mapping
from typing import Any

import simpy

__all__ = ["COUNTERS", "PeerSim", "run_peer"]

COUNTERS = (
    "kmaps",
    "kunmaps",
    "new_mappings",
    "map_hits",
    "flushes",
    "slots_cleared",
    "slots_examined",
    "ipis_sent",
    "ipis_handled",
    "tlb_hits",
    "tlb_misses",
    "tlb_flushes",
    "tlb_evictions",
    "sleeps",
    "wakeups",
    "context_switches",
    "irq_sections",
    "kmap_lock_acquires",
)

_Gen = Generator[simpy.Event, Any, Any]


class _Cpu:
    __slots__ = ("evict_carry", "idx", "in_handler", "irqs_on", "pending", "proc", "rng", "tlb")

    def __init__(self, idx: int, seed: int) -> None:
        self.idx = idx
        self.rng = random.Random(seed * 1000 + idx)
        self.irqs_on = True
        self.in_handler = False
        self.pending: list[_Call] = []
        self.tlb: OrderedDict[int, int] = OrderedDict()  # slot -> page, LRU first
        self.evict_carry = 0
        self.proc: simpy.Process | None = None


class _Call:
    """One smp_call_function(flush_tlb_all_ipi, wait=1)."""

    __slots__ = ("done", "finished", "targets")

    def __init__(self, env: simpy.Environment, targets: int) -> None:
        self.targets = targets
        self.finished = 0
        self.done = env.event()


class PeerSim:
    """The SimPy model; `run` simulates ``cycles`` cycles and returns the counters."""

    def __init__(self, scenario: Any, seed: int) -> None:
        f: Mapping[str, Any] = scenario.to_dict() if hasattr(scenario, "to_dict") else scenario
        unsupported = {
            "strategy": "sync",
            "slot_alloc": "scan",
            "empty_flush": "flush",
        }
        for name, want in unsupported.items():
            if f[name] != want:
                raise ValueError(f"the SimPy peer models {name} = {want!r} only, not {f[name]!r}")
        if f["kmap_irqs_off_prob"] != 0:
            raise ValueError("the SimPy peer models kmap_irqs_off_prob = 0 only")
        self.f = dict(f)
        self.env = simpy.Environment()
        env = self.env
        self.kmap_lock = simpy.Resource(env, capacity=1)
        self.call_lock = simpy.Resource(env, capacity=1)
        self.irq_locks = [simpy.Resource(env, capacity=1) for _ in range(f["irq_locks"])]
        n_slots = f["last_pkmap"]
        self.mask = n_slots - 1
        self.count = [0] * n_slots
        self.pte = [-1] * n_slots
        self.virt: dict[int, int] = {}
        self.cursor = 0
        self.waitq: list[tuple[_Cpu, simpy.Event]] = []
        self.c = dict.fromkeys(COUNTERS, 0)
        self.evict_per_cycle = int(f["tlb_evict_rate"] / 1000.0 * 4294967296.0)
        self.handler_cycles = f["ipi_handler_cycles"] + f["tlb_flush_cycles"]
        self.cpus = [_Cpu(i, seed) for i in range(f["cpus"])]
        for cpu in self.cpus:
            cpu.proc = env.process(self._program(cpu))

    def run(self, cycles: int) -> dict[str, int]:
        self.env.run(until=cycles)
        return dict(self.c, cycles=cycles)

    # -- time, interrupts and waits ----------------------------------------------------------

    def _draw(self, dist: str, mean: int, rng: random.Random) -> int:
        if dist == "fixed":
            return mean
        return max(1, int(-math.log(1.0 - rng.random()) * mean))

    def _busy(self, cpu: _Cpu, d: int) -> _Gen:
        """A stretch of ``d`` cycles; an IPI handler taken meanwhile pushes its end back."""
        if d <= 0:
            return
        env = self.env
        end = env.now + d
        while end > env.now:
            try:
                yield env.timeout(end - env.now)
            except simpy.Interrupt:
                end += yield from self._handlers(cpu)

    def _wait(self, cpu: _Cpu, ev: simpy.Event) -> _Gen:
        """Block until ``ev``, taking IPI handlers meanwhile if interrupts are on."""
        while True:
            try:
                yield ev
                return
            except simpy.Interrupt:
                yield from self._handlers(cpu)

    def _handlers(self, cpu: _Cpu) -> _Gen:
        """Run the pending flush IPIs' handlers; returns the cycles they took."""
        env = self.env
        start = env.now
        cpu.in_handler = True
        c = self.c
        while cpu.pending:
            call = cpu.pending.pop(0)
            yield env.timeout(self.handler_cycles)
            cpu.tlb.clear()
            c["ipis_handled"] += 1
            c["tlb_flushes"] += 1
            call.finished += 1
            if call.finished == call.targets:
                call.done.succeed()
        cpu.in_handler = False
        return env.now - start

    def _deliver(self, call: _Call, arrivals: list[tuple[int, _Cpu]]) -> _Gen:
        """The IPIs of one call reach their targets' APICs."""
        env = self.env
        for at, cpu in arrivals:
            if at > env.now:
                yield env.timeout(at - env.now)
            cpu.pending.append(call)
            if cpu.irqs_on and not cpu.in_handler:
                cpu.in_handler = True
                assert cpu.proc is not None
                cpu.proc.interrupt()

    def _acquire(self, cpu: _Cpu, lock: simpy.Resource) -> _Gen:
        """Spin until granted, then pay the acquire or hand-off cost; returns the request."""
        req = lock.request()
        waited = not req.triggered
        yield from self._wait(cpu, req)
        f = self.f
        yield from self._busy(cpu, f["lock_handoff_cycles"] if waited else f["lock_acquire_cycles"])
        return req

    # -- the kernel paths ---------------------------------------------------------------------

    def _scan(self, page: int, left: int, check_current: bool) -> tuple[str, int, int]:
        """map_new_virtual's loop up to its next stop: ("mapped"|"wrapped"|"exhausted",
        slots left in the lap, advances made)."""
        advanced = 0
        count = self.count
        while True:
            if not check_current:
                self.cursor = (self.cursor + 1) & self.mask
                advanced += 1
                if self.cursor == 0:
                    return "wrapped", left, advanced
            check_current = False
            s = self.cursor
            if count[s] == 0:
                count[s] = 2
                self.pte[s] = page
                self.virt[page] = s
                return "mapped", left, advanced
            left -= 1
            if left == 0:
                return "exhausted", left, advanced

    def _flush(self, cpu: _Cpu) -> _Gen:
        """flush_all_zero_pkmaps() and flush_tlb_all() (sync), with kmap_lock held."""
        f, c, env = self.f, self.c, self.env
        cleared = 0
        for s, n in enumerate(self.count):
            if n == 1:
                self.count[s] = 0
                del self.virt[self.pte[s]]
                self.pte[s] = -1
                cleared += 1
        c["slots_cleared"] += cleared
        yield from self._busy(cpu, f["last_pkmap"] * f["flush_slot_cycles"])
        c["flushes"] += 1
        others = [d for d in self.cpus if d is not cpu]
        if others:
            req = yield from self._acquire(cpu, self.call_lock)
            call = _Call(env, len(others))
            per = f["ipi_send_per_target_cycles"]
            first = env.now + f["ipi_send_cycles"] + f["ipi_latency"]
            env.process(
                self._deliver(call, [(first + k * per, d) for k, d in enumerate(others, 1)])
            )
            c["ipis_sent"] += len(others)
            yield from self._busy(cpu, f["ipi_send_cycles"] + len(others) * per)
            if call.finished < call.targets:
                yield from self._wait(cpu, call.done)
                yield from self._busy(cpu, 1)  # the sender sees the last ack one cycle later
            self.call_lock.release(req)
        yield from self._busy(cpu, f["tlb_flush_cycles"])
        cpu.tlb.clear()
        c["tlb_flushes"] += 1

    def _kmap(self, cpu: _Cpu, page: int) -> _Gen:
        """kmap_high(); returns (the kmap_lock request, still held, and the slot)."""
        f, c, env = self.f, self.c, self.env
        while True:
            req = yield from self._acquire(cpu, self.kmap_lock)
            c["kmap_lock_acquires"] += 1
            slot = self.virt.get(page)
            if slot is not None:
                self.count[slot] += 1
                c["map_hits"] += 1
                yield from self._busy(cpu, f["kmap_hit_cycles"])
                return req, slot
            left, check_current = f["last_pkmap"], False
            while True:
                end, left, advanced = self._scan(page, left, check_current)
                c["slots_examined"] += advanced
                cost = advanced * f["scan_slot_cycles"]
                if end == "mapped":
                    slot = self.cursor
                    c["new_mappings"] += 1
                    yield from self._busy(cpu, cost + f["kmap_new_cycles"])
                    return req, slot
                yield from self._busy(cpu, cost)
                if end == "exhausted":
                    break
                yield from self._flush(cpu)
                left, check_current = f["last_pkmap"], True
            # A whole lap busy: sleep on pkmap_map_wait (interrupts on), retry when woken.
            c["sleeps"] += 1
            wake = env.event()
            self.waitq.append((cpu, wake))
            self.kmap_lock.release(req)
            yield from self._wait(cpu, wake)
            yield from self._busy(cpu, 1 + f["ctx_switch_cycles"])

    def _program(self, cpu: _Cpu) -> _Gen:
        f, c, rng = self.f, self.c, cpu.rng
        lookups, copy = f["copy_lookups"], f["copy_cycles"]
        segments = [(i + 1) * copy // lookups - i * copy // lookups for i in range(lookups)]
        hot_pages, pages = f["hot_pages"], f["pages"]
        tlb = cpu.tlb
        while True:
            work = self._draw(f["work_dist"], f["work_cycles"], rng)
            yield from self._busy(cpu, work)
            # Unrelated traffic evicts LRU entries for the work just done.
            acc = cpu.evict_carry + work * self.evict_per_cycle
            cpu.evict_carry = acc & 0xFFFFFFFF
            for _ in range(min(acc >> 32, len(tlb))):
                tlb.popitem(last=False)
                c["tlb_evictions"] += 1
            if rng.random() < f["irq_section_prob"]:
                lock = self.irq_locks[rng.randrange(f["irq_locks"])]
                hold = self._draw(f["irq_hold_dist"], f["irq_hold_cycles"], rng)
                c["irq_sections"] += 1
                cpu.irqs_on = False  # spin_lock_irq()
                req = yield from self._acquire(cpu, lock)
                yield from self._busy(cpu, hold)
                cpu.irqs_on = True
                lock.release(req)
                if cpu.pending:
                    yield from self._handlers(cpu)
            rng.random()  # the misuse draw (kmap_irqs_off_prob = 0)
            hot = rng.random() < f["shared_page_prob"]
            if (hot and hot_pages > 0) or hot_pages == pages:
                page = rng.randrange(0, hot_pages)
            else:
                page = rng.randrange(hot_pages, pages)
            req, slot = yield from self._kmap(cpu, page)
            self.kmap_lock.release(req)
            c["kmaps"] += 1
            for seg in segments:
                if slot in tlb:
                    tlb.move_to_end(slot)
                    c["tlb_hits"] += 1
                else:
                    c["tlb_misses"] += 1
                    if len(tlb) >= f["tlb_entries"]:
                        tlb.popitem(last=False)
                    tlb[slot] = self.pte[slot]
                    yield from self._busy(cpu, f["tlb_miss_cycles"])
                yield from self._busy(cpu, seg)
            # kunmap_high()
            req = yield from self._acquire(cpu, self.kmap_lock)
            c["kmap_lock_acquires"] += 1
            s = self.virt[page]
            self.count[s] -= 1
            need_wakeup = self.count[s] == 1 and bool(self.waitq)
            yield from self._busy(cpu, f["kunmap_cycles"])
            self.kmap_lock.release(req)
            if need_wakeup:
                for _, wake in self.waitq:
                    c["wakeups"] += 1
                    wake.succeed()
                self.waitq.clear()
            c["kunmaps"] += 1
            if rng.random() < f["ctx_switch_prob"]:
                c["context_switches"] += 1
                yield from self._busy(cpu, f["ctx_switch_cycles"])


def run_peer(scenario: Any, *, cycles: int, seed: int = 0) -> dict[str, Any]:
    """Run the SimPy peer of ``scenario`` (a kmapsim.Scenario or its dict) for ``cycles``."""
    t0 = time.perf_counter()
    out: dict[str, Any] = dict(PeerSim(scenario, seed).run(cycles))
    out["wall_seconds"] = time.perf_counter() - t0
    return out
