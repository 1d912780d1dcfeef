"""Explicit-state breadth-first search a level at a time, over NumPy arrays.

A BFS level is one array of states (rows of 64-bit words), expanded in chunks (by several
threads where asked).  Every guard, update, invariant and step check is evaluated over a whole
chunk at once by programs compiled when the search starts (``arrays.py``); successors are
packed, deduplicated and filtered against the sorted visited set (``visited.py``).  All
obligations of a system are checked in one search; because it goes level by level, the first
violation of an obligation is a shortest one.  Traces are rebuilt without parent pointers: from
the levels the search kept (or searched again, for a large space), a violating state's
predecessor is found among the successors of the level before it: those the search made, kept
for a small level (``_Expansion``), else the level expanded again.  Among equally short violations the
engine reports the first in a fixed order over the whole level (an invariant's at the lowest
state of the level's sorted order; a step's at the lowest action, then state), so the trace is
the same in every run and for any chunks and threads.

With a :class:`~numacheck.checker.engines.symmetry.Symmetry`, every successor is replaced by the
canonical member of its orbit before deduplication, so each orbit is stored once; traces are
then mapped back to concrete states step by step, so that they replay.  The search stops when
every obligation is violated, when the state space is exhausted, or at a limit; an obligation
not settled by then is ``unknown``, never ``holds``.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import numpy as np

from numacheck.checker.engines.symmetry import Symmetry
from numacheck.checker.engines.visited import Visited, merge_unique, rank, sort_unique
from numacheck.checker.lowering.arrays import (
    ALWAYS,
    Array,
    Layout,
    Program,
    Words,
    field_leaf,
    full,
)
from numacheck.checker.lowering.codegen import interval
from numacheck.checker.outcome import Limits, Outcome, Path
from numacheck.checker.resources import peak_mb, rss_mb
from numacheck.checker.result import Stats
from numacheck.model.expr import Expr, ModelError, substitute
from numacheck.model.memo import ByIdentity
from numacheck.model.schema import Schema
from numacheck.model.system import Action, Obligation, TransitionSystem

_T = TypeVar("_T")
_R = TypeVar("_R")

#: Called once per level (and per chunk of a large level) with
#: (states, transitions, depth, queue length, seconds).
Progress = Callable[[int, int, int, int, float], None]

#: States expanded at once; bounds the memory of one batch of successors.
CHUNK = 1 << 19

#: Trace rebuilding remembers the successors of batches of at most this many states.
REMEMBER = 1 << 12

#: A batch of at most this many states is evaluated whole (every update over every state),
#: larger ones action by action over the states each is enabled in.
WHOLE = 1 << 14

#: A level of at least this many states is shared among the threads of a search.
SHARED = 1 << 16

#: The BFS levels are kept for trace rebuilding while they hold at most this many states in
#: all; beyond that a trace searches the levels up to its depth again.
KEEP_LEVELS = 1 << 21

#: What expanding a chunk of at most ``REMEMBER`` states made is kept for traces while the kept
#: chunks' successors number at most this many in all (about 35 bytes each, with what comes
#: with them).
KEEP_EXPANDED = 1 << 21


@dataclass
class _Update:
    """An action's assignment of a non-constant value to a field, in word ``word``;
    ``checked`` when the value may leave the field's range."""

    name: str
    expr: Expr
    word: int
    checked: bool


@dataclass
class _Packing:
    """How an action's updates within one word are packed at once: their values less each
    field's lowest value, shifted to each field's offset, summed (the fields' bits are
    disjoint, so the sum is their union)."""

    word: int
    slots: list[int]
    lows: np.ndarray | None  # (k, 1) int16; None where every lowest value is 0
    offsets: np.ndarray  # (k, 1) uint64

    def bits(self, slots: list[object], n: int, pick: Array | None) -> Array:
        """The packed bits of the values in ``slots`` (of length ``n``; at ``pick`` if given)."""
        columns = [full(slots[k], n) for k in self.slots]
        if pick is not None:
            columns = [c[pick] for c in columns]
        values = np.stack(columns) if len(columns) > 1 else columns[0][None]
        if self.lows is not None:
            values = values - self.lows
        placed: Array = values.astype(np.uint64) << self.offsets
        packed: Array = placed.sum(axis=0) if len(columns) > 1 else placed[0]
        return packed


@dataclass
class _View:
    """Where one compiled program leaves an action's values: its guard (or -1), updates (to
    range-check), packed updates and checks (obligation, slot, whether a check or a
    situation)."""

    guard: int
    updates: list[int]
    packings: list[_Packing]
    checks: list[tuple[int, int, bool]]


@dataclass
class _Plan:
    """One action prepared for arrays: the bits it keeps and writes, its updates, and its
    step checks (a check reads the state after the step: ``after`` substituted)."""

    index: int
    action: Action
    keep: np.ndarray
    fixed: np.ndarray
    updates: list[_Update]
    checks: list[tuple[int, Expr, bool]]
    whole: _View | None = None
    sub: tuple[Program, _View] | None = None


@dataclass
class _Step:
    """Successors of a batch by one action: the batch rows they come from and the new rows."""

    action: int
    source: Array
    rows: Words


@dataclass
class _Level:
    """A batch of states with the values a program computed over it: the machine's whole
    program (every guard, update and check) for a small batch, its level program (guards and
    invariants) for a large one."""

    batch: Words
    slots: list[object]
    wanted: int
    whole: bool


@dataclass
class _Found:
    """What expanding one chunk of a level found: per obligation the first state violating its
    invariant (index in the level) and the first violating step (action, source index in the
    level, successor), the situations reached, the steps fired per action, and the new
    successors (canonical, sorted, unique)."""

    states: dict[int, int]
    steps: dict[int, tuple[int, int, Words]]
    situations: int
    fired: list[tuple[int, int]]
    successors: Words
    made: _Expansion | None = None


@dataclass
class _Expansion:
    """What the search made expanding a small batch, kept for traces: its steps, and the
    successors not visited before it (sorted) with their canonical forms, row for row."""

    steps: list[_Step]
    fresh: Words
    forms: Words

    def forms_of(self, rows: Words) -> Words:
        """The canonical form of each of the batch's successors ``rows``: a fresh one's as the
        search computed it; any other was visited, so it is a stored state, canonical already."""
        out = rows.copy()
        if len(self.fresh):
            at = np.minimum(rank(self.fresh, rows), len(self.fresh) - 1)
            hit = np.all(self.fresh[at] == rows, axis=1)
            out[hit] = self.forms[at[hit]]
        return out


#: Per action and schema, what a check reads after the step and the nodes substituted so far:
#: the eras share most actions, and so their checks.
_AFTER: ByIdentity[tuple[dict[tuple[str, str], Expr], dict[int, Expr]]] = ByIdentity(1 << 14)


def _after(action: Action, schema: Schema) -> tuple[dict[tuple[str, str], Expr], dict[int, Expr]]:
    """The substitution that makes a check over the state after ``action`` one over the state
    before it (a written field's update, else the field), and its memo."""
    def make() -> tuple[dict[tuple[str, str], Expr], dict[int, Expr]]:
        written = dict(action.updates)
        return {("next", f.name): written.get(f.name, schema.var(f.name)) for f in schema.fields}, {}

    return _AFTER.get((action, schema), make)


def _bit(j: int) -> int:
    """The ``wanted`` bit of obligation ``j`` (bit 0 is ``ALWAYS``)."""
    return 2 << j


class _Machine:
    """A transition system and its obligations, compiled for whole batches of states.

    A small batch is evaluated by one program over all of it: every guard, update, invariant
    and check, each shared node once.  In a large batch an action is enabled in a fraction of
    the states, so there one program computes the guards and invariants, and one per action
    (compiled when first needed) computes its updates and checks over the states it is
    enabled in, gathering what the first computed.
    """

    def __init__(self, ts: TransitionSystem, obligations: Sequence[Obligation],
                 preconditions: Sequence[Expr] = ()) -> None:
        self.ts = ts
        self.layout = Layout(ts.schema)
        self.obligations = obligations
        self.preconditions = list(preconditions)
        self.level_roots = [(a.guard, ALWAYS) for a in ts.actions]
        self.level_roots += [(e, ALWAYS) for e in self.preconditions]
        for j, ob in enumerate(obligations):
            self.level_roots += [(e, _bit(j)) for e in (ob.invariant, ob.sometimes) if e is not None]
        checks: list[list[tuple[int, Expr, bool]]] = [[] for _ in ts.actions]
        for j, ob in enumerate(obligations):
            for index, check in ob.steps:
                checks[index].append((j, check, True))
            for index, sit in ob.situation_steps:
                checks[index].append((j, sit, False))
        self.plans = [self._plan(i, a, checks[i]) for i, a in enumerate(ts.actions)]
        self.whole = Program([*self.level_roots, *(r for p in self.plans for r in self._roots(p))])
        for plan in self.plans:
            plan.whole = self._view(self.whole, plan, self.whole.index(plan.action.guard))
        self.level: Program | None = None
        self.fired = [0] * len(ts.actions)

    def _plan(self, index: int, action: Action, checks: list[tuple[int, Expr, bool]]) -> _Plan:
        schema, layout = self.ts.schema, self.layout
        keep = np.full(layout.words, np.uint64(2**64 - 1), dtype=np.uint64)
        fixed = np.zeros(layout.words, dtype=np.uint64)
        updates: list[_Update] = []
        for name, e in action.updates:
            f = schema[name]
            w, off = layout.place[name]
            keep[w] &= ~np.uint64(((1 << f.width) - 1) << off)
            if e.op == "const":
                value = f.check(e.payload)  # type: ignore[arg-type]
                fixed[w] |= np.uint64((int(value) - f.lo) << off)
                continue
            wide = False
            if f.kind == "int":
                lo, hi = interval(e, schema)
                wide = lo < f.lo or hi > f.hi
            updates.append(_Update(name, e, w, wide))
        after, memo = _after(action, schema)
        checked = [(j, substitute(e, after, memo), is_check) for j, e, is_check in checks]
        return _Plan(index, action, keep, fixed, updates, checked)

    @staticmethod
    def _roots(plan: _Plan) -> list[tuple[Expr, int]]:
        return [*((u.expr, ALWAYS) for u in plan.updates), *((e, _bit(j)) for j, e, _ in plan.checks)]

    def _view(self, program: Program, plan: _Plan, guard: int) -> _View:
        schema, layout = self.ts.schema, self.layout
        packings = []
        for w in sorted({u.word for u in plan.updates}):
            fields = [u for u in plan.updates if u.word == w]
            lows = np.array([[schema[u.name].lo] for u in fields], dtype=np.int16)
            packings.append(_Packing(
                w, [program.index(u.expr) for u in fields], lows if lows.any() else None,
                np.array([[layout.place[u.name][1]] for u in fields], dtype=np.uint64)))
        return _View(guard, [program.index(u.expr) for u in plan.updates], packings,
                     [(j, program.index(e), is_check) for j, e, is_check in plan.checks])

    def _level_program(self) -> Program:
        """The guards and invariants alone, and each action's own program (compiled once, the
        first time a large batch comes)."""
        if self.level is None:
            level = Program(self.level_roots)
            shared = level.always()
            for plan in self.plans:
                program = Program(self._roots(plan), shared)
                plan.sub = program, self._view(program, plan, level.index(plan.action.guard))
            self.level = level
        return self.level

    def evaluate(self, batch: Words, open_mask: int = 0) -> _Level:
        """The values over ``batch`` of every guard, and of the invariants of the obligations
        in ``open_mask``; for a small batch, of everything else too."""
        wanted = ALWAYS | open_mask << 1
        leaf = field_leaf(self.layout, batch, every=len(batch) <= WHOLE)
        if len(batch) <= WHOLE:
            return _Level(batch, self.whole.run(leaf, wanted), wanted, True)
        return _Level(batch, self._level_program().run(leaf, wanted), wanted, False)

    def expand(self, level: _Level,
               on_check: Callable[[int, int, int, Words, int, int], None] | None = None,
               ) -> list[_Step]:
        """The successors of every state of ``level`` by every enabled action.

        With ``on_check``, the step checks and situations of the obligations open when
        ``level`` was evaluated are reported through ``on_check(action, first violating source
        or -1, violated mask, rows, index into rows, situations mask)``.
        """
        layout, batch, n = self.layout, level.batch, len(level.batch)
        wanted = level.wanted if on_check is not None else ALWAYS
        out: list[_Step] = []
        for plan in self.plans:
            view = plan.whole if level.whole else plan.sub[1] if plan.sub else None
            assert view is not None
            source = np.flatnonzero(full(level.slots[view.guard], n))
            if len(source) == 0:
                continue
            rows = batch[source]
            succ = (rows & plan.keep) | plan.fixed
            if level.whole:
                slots, m, pick = level.slots, n, source
            else:
                assert plan.sub is not None
                slots = plan.sub[0].run(field_leaf(layout, rows), wanted, level.slots, source)
                m, pick = len(source), None
            for u, slot in zip(plan.updates, view.updates, strict=True):
                if u.checked:
                    self._range_check(plan.action, u.name, full(slots[slot], m)[pick])
            for pack in view.packings:
                succ[:, pack.word] |= pack.bits(slots, m, pick)
            if on_check is not None and view.checks:
                self._checks(plan.index, view, slots, m, pick, wanted, source, succ, on_check)
            out.append(_Step(plan.index, source, succ))
        return out

    def _checks(self, action: int, view: _View, slots: list[object], m: int, pick: Array | None,
                wanted: int, source: Array, succ: Words,
                on_check: Callable[[int, int, int, Words, int, int], None]) -> None:
        situations = 0
        for j, slot, is_check in view.checks:
            if not wanted & _bit(j):
                continue
            holds = full(slots[slot], m)
            if pick is not None:
                holds = holds[pick]
            if is_check:
                bad = np.flatnonzero(~holds)
                if len(bad):
                    at = int(bad[0])
                    on_check(action, int(source[at]), 1 << j, succ, at, 0)
            elif holds.any():
                situations |= 1 << j
        if situations:
            on_check(action, -1, 0, succ, -1, situations)

    def _range_check(self, action: Action, name: str, v: Array) -> None:
        f = self.ts.schema[name]
        bad = (v < f.lo) | (v > f.hi)
        if bad.any():
            value = int(v[np.flatnonzero(bad)[0]])
            raise ModelError(f"{action.label} assigns {value} to {name}, outside its range")

    def _program(self, level: _Level) -> Program:
        """The program whose run ``level`` holds."""
        return self.whole if level.whole else self._level_program()

    def precondition_fails(self, level: _Level) -> bool:
        """Whether a symmetry's precondition (evaluated with every batch) is false in a state of
        ``level``."""
        program = self._program(level)
        n = len(level.batch)
        return any(not full(level.slots[program.index(e)], n).all() for e in self.preconditions)

    def state_checks(self, level: _Level) -> tuple[dict[int, int], int]:
        """For the invariants evaluated with ``level``, the first violating row per obligation;
        and the mask of state situations reached in it."""
        n = len(level.batch)
        program = self._program(level)
        first: dict[int, int] = {}
        situations = 0
        for j, ob in enumerate(self.obligations):
            if not level.wanted & _bit(j):
                continue
            if ob.invariant is not None:
                bad = np.flatnonzero(~full(level.slots[program.index(ob.invariant)], n))
                if len(bad):
                    first[j] = int(bad[0])
            if ob.sometimes is not None and full(
                    level.slots[program.index(ob.sometimes)], n).any():
                situations |= 1 << j
        return first, situations


class _Search:
    """One breadth-first search over a compiled system."""

    def __init__(self, ts: TransitionSystem, obligations: Sequence[Obligation], limits: Limits,
                 progress: Progress | None, symmetry: Symmetry | None) -> None:
        self.machine = _Machine(ts, obligations, symmetry.preconditions if symmetry is not None else ())
        self.obligations = obligations
        self.limits = limits
        self.progress = progress
        self.symmetry = symmetry
        self.visited = Visited(self.machine.layout.words)
        self.outcomes: list[Outcome | None] = [None] * len(obligations)
        self.open_mask = (1 << len(obligations)) - 1
        self.reached = 0
        self.start = time.monotonic()
        self.depth = 0
        self.stop_reason = ""
        self.threads = max(1, limits.threads)
        self.concrete = 0
        self.trace_levels: list[Words] = []
        self.kept: list[Words] | None = []
        self.kept_rows = 0
        self.trace_seen = Visited(self.machine.layout.words)
        self.remembered: dict[bytes, tuple[list[_Step], Array, Words]] = {}
        self.made: dict[bytes, _Expansion] = {}  # by batch: what the search made, for traces
        self.made_rows = 0

    # Bookkeeping --------------------------------------------------------------------------------
    def stats(self, depth: int) -> Stats:
        counts: dict[str, int] = {}
        for a, c in zip(self.machine.ts.actions, self.machine.fired, strict=True):
            counts[a.op] = counts.get(a.op, 0) + c
        sym = self.symmetry
        return Stats(states=len(self.visited), transitions=sum(self.machine.fired), depth=depth,
                     seconds=time.monotonic() - self.start, peak_memory_mb=peak_mb(),
                     op_counts=counts, symmetry="" if sym is None else sym.described,
                     concrete_states=self.concrete if sym is None or sym.exact else None)

    def settle(self, mask: int, path: Callable[[], Path]) -> None:
        todo = mask & self.open_mask
        if not todo:
            return
        built = path()
        for j in range(len(self.obligations)):
            if todo >> j & 1:
                self.outcomes[j] = Outcome("violated", path=built, stats=self.stats(len(built) - 1),
                                           bounded=True, depth=len(built) - 1)
        self.open_mask &= ~todo

    def canonical(self, rows: Words) -> Words:
        """Each row's canonical form (the rows themselves without symmetry), row by row."""
        return rows if self.symmetry is None else self.symmetry.canonical(rows)

    # The search -----------------------------------------------------------------------------------
    def run(self) -> list[Outcome]:
        layout = self.machine.layout
        self.initial = layout.rows(self.machine.ts.initial_states())
        level = sort_unique(self.canonical(self.initial))
        self._store(level)
        with ThreadPoolExecutor(self.threads) if self.threads > 1 else contextlib.nullcontext() as pool:
            while len(level) and self.open_mask:
                pending = self._level(level, pool)
                if self.stop_reason or not self.open_mask:
                    break
                level = merge_unique(pending) if pending else level[:0]  # each new already
                if len(level):
                    self.depth += 1
                    self._store(level)
        final = self.stats(self.depth)
        if self.progress is not None:
            self.progress(final.states, final.transitions, final.depth, 0, final.seconds)
        return self._outcomes(final)

    def _chunks(self, level: Words) -> list[tuple[int, Words]]:
        """The level cut into chunks (with their offsets): at most ``CHUNK`` states each, and
        when the level is large enough to share, a multiple of the threads (so that none waits
        idle for the last chunk)."""
        pieces = -(-len(level) // CHUNK)
        if self.threads > 1 and len(level) >= SHARED:
            pieces = -(-pieces // self.threads) * self.threads
        size = -(-len(level) // pieces)
        return [(start, level[start:start + size]) for start in range(0, len(level), size)]

    def _level(self, level: Words, pool: ThreadPoolExecutor | None) -> list[Words]:
        """Expand one level: its new successors (sorted runs), with the level's violations
        settled.  Chunks are expanded by ``threads`` threads, each taking the next chunk when
        it is done, and the limits are checked as each chunk's results come, in order; which
        violation an obligation gets does not depend on the chunks (the lowest state for an
        invariant, the lowest action then state for a step), so neither does the result."""
        chunks = self._chunks(level)
        open_mask = self.open_mask
        keep = self.made_rows <= KEEP_EXPANDED

        def expand(c: tuple[int, Words]) -> _Found:
            return self._expand(c[0], c[1], open_mask, keep)

        found: list[_Found] = []
        with contextlib.closing(_in_order(pool, expand, chunks, 2 * self.threads)) as results:
            for (offset, chunk), f in zip(chunks, results, strict=True):
                found.append(f)
                self.reached |= f.situations
                for action, n in f.fired:
                    self.machine.fired[action] += n
                if f.made is not None:
                    self.made[chunk.tobytes()] = f.made
                    self.made_rows += sum(len(s.rows) for s in f.made.steps)
                queued = sum(len(f.successors) for f in found)
                if self._limited(queued, len(level) - offset - len(chunk)):
                    return []
        self._settle_level(level, found)
        return [f.successors for f in found if len(f.successors)]

    def _expand(self, offset: int, chunk: Words, open_mask: int, keep: bool) -> _Found:
        """One chunk's new successors (canonical, sorted, unique), its fired counts, and its
        first violations (with ``keep``, what traces need of it); safe to run in a thread beside
        other chunks."""
        machine = self.machine
        evaluated = machine.evaluate(chunk, open_mask)
        if machine.precondition_fails(evaluated):
            raise _SymmetryFailedError(self.depth)
        first, situations = machine.state_checks(evaluated)
        out = _Found({j: offset + row for j, row in first.items()}, {}, situations, [], chunk[:0])

        def seen(action: int, source: int, violated: int, rows: Words, at: int, sits: int) -> None:
            out.situations |= sits
            for j in range(len(self.obligations)):
                if violated >> j & 1:
                    key = (action, offset + source)
                    if j not in out.steps or key < out.steps[j][:2]:
                        out.steps[j] = (*key, rows[at].copy())

        steps = machine.expand(evaluated, seen)
        out.fired = [(s.action, len(s.source)) for s in steps]
        if steps:
            fresh = self.visited.new(sort_unique(np.concatenate([s.rows for s in steps])))
            forms = fresh if self.symmetry is None else self.symmetry.canonical(fresh)
            # (a stored state is canonical already)
            out.successors = fresh if self.symmetry is None else self.visited.new(sort_unique(forms))
            if keep and len(chunk) <= REMEMBER:
                out.made = _Expansion(steps, fresh, forms)
        return out

    def _settle_level(self, level: Words, found: list[_Found]) -> None:
        """Settle each open obligation violated in ``level``: by a state (an invariant), which
        gives the shorter trace, else by a step."""
        depth = self.depth
        for j in range(len(self.obligations)):
            rows = [f.states[j] for f in found if j in f.states]
            if rows and self.open_mask >> j & 1:
                row = level[min(rows)]
                self.settle(1 << j, partial(self.path_to, row, depth, 1 << j))
        for j in range(len(self.obligations)):
            steps = [f.steps[j] for f in found if j in f.steps]
            if steps and self.open_mask >> j & 1:
                action, source, succ = min(steps, key=lambda s: s[:2])
                pre = level[source]
                self.settle(1 << j, partial(self.path_to, pre, depth, 1 << j, last=(action, succ)))

    def _store(self, level: Words) -> None:
        sym = self.symmetry
        if sym is None:
            self.concrete += len(level)
        elif sym.exact:
            self.concrete += int(sym.orbit_sizes(level).sum())
        self.visited.add(level)
        if self.kept is not None:
            self.kept_rows += len(level)
            self.kept = [*self.kept, level] if self.kept_rows <= KEEP_LEVELS else None

    def _limited(self, queued: int, left: int) -> bool:
        elapsed = time.monotonic() - self.start
        states = len(self.visited) + queued
        if self.progress is not None:
            self.progress(states, sum(self.machine.fired), self.depth, queued + left, elapsed)
        limits = self.limits
        if limits.max_states is not None and states >= limits.max_states:
            self.stop_reason = f"state limit {limits.max_states} reached"
        elif limits.timeout is not None and elapsed >= limits.timeout:
            self.stop_reason = f"time limit {limits.timeout:g}s reached"
        elif limits.max_memory_mb is not None and rss_mb() >= limits.max_memory_mb:
            self.stop_reason = f"memory limit {limits.max_memory_mb:g} MiB reached"
        return bool(self.stop_reason)

    def _outcomes(self, final: Stats) -> list[Outcome]:
        out: list[Outcome] = []
        for j, ob in enumerate(self.obligations):
            done = self.outcomes[j]
            if done is not None:
                out.append(done)
            elif self.stop_reason:
                out.append(Outcome("unknown", stats=final, bounded=True, depth=self.depth,
                                   message=f"{self.stop_reason}; explored {final.states} states "
                                   f"to depth {self.depth}"))
            elif not (self.reached >> j & 1) and ob.has_situation:
                out.append(Outcome("vacuous", stats=final, depth=self.depth,
                                   message="the situation it is about is unreachable: "
                                   f"{ob.situation_text}"))
            else:
                out.append(Outcome("holds", stats=final, depth=self.depth,
                                   message=f"all {final.states} reachable states explored"))
        return out

    # Traces -------------------------------------------------------------------------------------
    def path_to(self, row: Words, depth: int, mask: int,
                last: tuple[int, Words] | None = None) -> Path:
        """A shortest path to the stored state ``row`` at ``depth`` (then ``last``, a step
        from it) that violates the obligations in ``mask``, as concrete schema-packed states."""
        chain: list[tuple[int, Words]] = []
        target = row.reshape(1, -1)
        levels = self._levels(depth)
        for d in range(depth - 1, -1, -1):
            level = levels[d]
            action, source = self._predecessor(level, target)
            chain.append((action, target))
            target = level[source].reshape(1, -1)
        chain.reverse()
        if last is not None:
            chain.append((last[0], self.canonical(last[1].reshape(1, -1))))
        return self._concrete(target, chain, mask)

    def _levels(self, depth: int) -> list[Words]:
        """The stored BFS levels 0..depth: those the search kept, else searched again (and
        kept for the next trace)."""
        if self.kept is not None and len(self.kept) > depth:
            return self.kept
        levels = self.trace_levels
        if not levels:
            levels.append(sort_unique(self.canonical(self.initial)))
            self.trace_seen = Visited(self.machine.layout.words)
            self.trace_seen.add(levels[0])
        while len(levels) <= depth:
            steps = self.machine.expand(self.machine.evaluate(levels[-1]))
            if not steps:
                raise AssertionError("a trace is deeper than the state space")
            succ = sort_unique(np.concatenate([s.rows for s in steps]))
            fresh = self.trace_seen.new(sort_unique(self.canonical(succ)))
            self.trace_seen.add(fresh)
            levels.append(fresh)
        return levels

    def _successors(self, states: Words) -> tuple[list[_Step], Array, Words]:
        """Every step from ``states`` in the engine's fixed order (action, then source), with
        each step's action and the canonical forms of all successors: what the search made
        expanding this batch, where it kept that, else computed at once (and remembered for
        small batches: the traces of one search share their first levels and often their first
        states)."""
        key = states.tobytes() if len(states) <= REMEMBER else None
        found = self.remembered.get(key) if key is not None else None
        if found is not None:
            return found
        made = self.made.pop(key, None) if key is not None else None
        steps = made.steps if made is not None else self.machine.expand(self.machine.evaluate(states))
        if not steps:
            found = steps, np.empty(0, dtype=np.int64), states[:0]
        else:
            actions = np.concatenate([np.full(len(s.rows), s.action) for s in steps])
            rows = np.concatenate([s.rows for s in steps])
            found = steps, actions, made.forms_of(rows) if made is not None else self.canonical(rows)
        if key is not None:
            self.remembered[key] = found
        return found

    def _predecessor(self, level: Words, target: Words) -> tuple[int, int]:
        steps, actions, forms = self._successors(level)
        hits = np.flatnonzero(np.all(forms == target, axis=1))
        if not len(hits):
            raise AssertionError("a visited state has no predecessor on the level before it")
        sources = np.concatenate([s.source for s in steps])
        return int(actions[hits[0]]), int(sources[hits[0]])

    def _concrete(self, start: Words, chain: list[tuple[int, Words]], mask: int) -> Path:
        """The path of stored states ``start``, ``chain`` as concrete states: without symmetry
        they are the states themselves; with it each step is replayed from the concrete state
        before it, choosing the first action whose successor has the stored canonical form."""
        layout = self.machine.layout
        if self.symmetry is None:
            return [(-1, layout.to_packed(start[0])),
                    *((a, layout.to_packed(r[0])) for a, r in chain)]
        canon = self.canonical(self.initial)
        state = self.initial[np.flatnonzero(np.all(canon == start, axis=1))[0]].reshape(1, -1)
        path: Path = [(-1, layout.to_packed(state[0]))]
        for k, (_, target) in enumerate(chain):
            last = mask if k == len(chain) - 1 else 0
            state, action = self._concrete_step(state, target, last)
            path.append((action, layout.to_packed(state[0])))
        return path

    def _concrete_step(self, state: Words, target: Words, last: int) -> tuple[Words, int]:
        steps, actions, forms = self._successors(state)
        rows = np.concatenate([s.rows for s in steps]) if steps else state[:0]
        candidates = [(int(actions[i]), rows[i:i + 1])
                      for i in np.flatnonzero(np.all(forms == target, axis=1))]
        if last:
            violating = [c for c in candidates if self._violates(state, *c, last)]
            candidates = violating or candidates
        if not candidates:
            raise AssertionError("symmetry: no concrete step matches the stored trace")
        action, row = candidates[0]
        return row, action

    def _violates(self, state: Words, action: int, row: Words, mask: int) -> bool:
        """Whether the concrete step ``state`` -> ``row`` by ``action`` (or ``row`` itself)
        violates the obligations in ``mask``."""
        first, _ = self.machine.state_checks(self.machine.evaluate(row, mask))
        if first:
            return True
        hit: list[int] = []

        def seen(a: int, source: int, violated: int, rows: Words, at: int, sit: int) -> None:
            if a == action and violated and np.all(rows[at] == row[0]):
                hit.append(a)

        self.machine.expand(self.machine.evaluate(state, mask), seen)
        return bool(hit)


def _in_order(pool: ThreadPoolExecutor | None, fn: Callable[[_T], _R], items: Sequence[_T],
              ahead: int) -> Generator[_R, None, None]:
    """``fn`` over ``items``, results in order: with a pool, at most ``ahead`` submitted at
    once, and those not started yet are cancelled when the caller stops early (closes it)."""
    if pool is None or len(items) == 1:
        yield from map(fn, items)
        return
    pending: deque[Future[_R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


class _SymmetryFailedError(Exception):
    """A vouched symmetry's precondition is false in a state found at this depth."""


def explore(
    ts: TransitionSystem,
    obligations: Sequence[Obligation],
    limits: Limits | None = None,
    progress: Progress | None = None,
) -> list[Outcome]:
    """Check every obligation on ``ts``; one outcome per obligation, in order.

    With ``limits.symmetry`` the search reduces by every symmetry the system admits (see
    ``symmetry.py``); each outcome's notes say which, or why none.
    """
    limits = limits or Limits()
    symmetry, notes = Symmetry.of(ts, obligations) if limits.symmetry else (None, [])
    try:
        outcomes = _Search(ts, obligations, limits, progress, symmetry).run()
    except _SymmetryFailedError as failed:
        notes.append(f"symmetry off: the precondition of the {symmetry.described if symmetry else ''} "
                     f"reduction fails in a state at depth {failed.args[0]}; searched without it")
        outcomes = _Search(ts, obligations, limits, progress, None).run()
    for o in outcomes:
        o.notes = (*o.notes, *notes)
    return outcomes
