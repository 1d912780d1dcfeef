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

Several systems over one schema (the eras of a pass) can be searched together
(``explore_together``): a state several of them reach at the same depth is expanded,
canonicalised and stored once, with a mask of the systems it belongs to, and every system gets
the outcomes its own search would give.

With a :class:`~numacheck.checker.engines.symmetry.Symmetry`, every successor is replaced by the
canonical member of its orbit before deduplication, so each orbit is stored once; traces are
then mapped back to concrete states step by step, so that they replay.  The search stops when
every obligation is violated, when the state space is exhausted, or at a limit; an obligation
not settled by then is ``unknown``, never ``holds``.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import numpy as np

from numacheck.checker.engines.symmetry import Symmetry
from numacheck.checker.engines.visited import (
    Masks,
    Visited,
    merge_unique,
    merge_unique_masked,
    rank,
    sort_unique,
    sort_unique_masked,
)
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
    """Successors of a batch by one action: the batch rows they come from and the new rows
    (in a joint search, with the systems each belongs to: its source's that have the action)."""

    action: int
    source: Array
    rows: Words
    masks: Masks | None = None


@dataclass
class _Level:
    """A batch of states with the values a program computed over it: the machine's whole
    program (every guard, update and check) for a small batch, its level program (guards and
    invariants) for a large one."""

    batch: Words
    slots: list[object]
    wanted: int
    whole: bool
    masks: Masks | None = None
    present: int = 1  # the systems the batch's states belong to
    actions: int = 0  # their bits of ``wanted``: the roots of their actions


@dataclass
class _Found:
    """What expanding one chunk of a level found: per obligation the first state violating its
    invariant (index in the level) and the first violating step (action, source index in the
    level, successor), the situations reached, the steps fired per action, and the new
    successors (canonical, sorted, unique)."""

    states: dict[int, int]
    steps: dict[int, tuple[int, int, Words]]
    situations: int
    fired: list[tuple[int, int, int]]  # (system, its action, steps)
    successors: Words
    masks: Masks | None = None
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
    """The transition systems of a search and their obligations, compiled for whole batches
    of states.

    A search explores one system, or several over the same schema together (eras that share
    most of their actions and states: ``explore_together``).  Their actions are merged, an
    action the systems share (the same guard and updates) once, each knowing its systems
    (``members``); their obligations are numbered one after another, each knowing its system
    (``owner``).  A small batch is evaluated by one program over all of it: every guard,
    update, invariant and check, each shared node once.  In a large batch an action is enabled
    in a fraction of the states, so there one program computes the guards and invariants, and
    one per action (compiled when first needed) computes its updates and checks over the
    states it is enabled in, gathering what the first computed.
    """

    def __init__(self, systems: Sequence[tuple[TransitionSystem, Sequence[Obligation]]],
                 preconditions: Sequence[Expr] = ()) -> None:
        self.systems = systems
        self.schema = systems[0][0].schema
        self.layout = Layout(self.schema)
        self.joint = len(systems) > 1
        self.actions: list[Action] = []
        self.members: list[int] = []  # per action, the systems that have it
        self.own: list[list[int]] = []  # per system, the action of each of its indices
        where: dict[tuple[object, ...], int] = {}
        for e, (ts, _) in enumerate(systems):
            assert ts.schema is self.schema, "systems searched together share their schema"
            self.own.append([])
            times: dict[tuple[object, ...], int] = {}
            for a in ts.actions:
                # actions making the same steps are one (the n-th of a system's, if it has several)
                times[a.steps_as] = times.get(a.steps_as, 0) + 1
                j = where.setdefault((a.steps_as, times[a.steps_as]), len(self.actions))
                if j == len(self.actions):
                    self.actions.append(a)
                    self.members.append(0)
                self.members[j] |= 1 << e
                self.own[e].append(j)
        # per system, its index of each action of the search (-1: not its)
        self.local = [np.full(len(self.actions), -1, dtype=np.int64) for _ in systems]
        for e, own in enumerate(self.own):
            self.local[e][own] = np.arange(len(own))
        self.obligations = [ob for _, obs in systems for ob in obs]
        self.owner = [e for e, (_, obs) in enumerate(systems) for _ in obs]
        self.preconditions = list(preconditions)
        # An action's guard and updates are computed where one of its systems is wanted: each
        # system has a bit of ``wanted`` after the obligations' (so a batch of some systems'
        # states, a trace's of one, or a level once others are settled, skips the rest).
        self.action_bits = [m << len(self.obligations) + 1 for m in self.members]
        self.level_roots = [(a.guard, self.action_bits[j]) for j, a in enumerate(self.actions)]
        self.level_roots += [(e, ALWAYS) for e in self.preconditions]
        for k, ob in enumerate(self.obligations):
            self.level_roots += [(e, _bit(k)) for e in (ob.invariant, ob.sometimes) if e is not None]
        checks: list[list[tuple[int, Expr, bool]]] = [[] for _ in self.actions]
        for k, ob in enumerate(self.obligations):
            own = self.own[self.owner[k]]
            for index, check in ob.steps:
                checks[own[index]].append((k, check, True))
            for index, sit in ob.situation_steps:
                checks[own[index]].append((k, sit, False))
        self.plans = [self._plan(i, a, checks[i]) for i, a in enumerate(self.actions)]
        self.whole = Program([*self.level_roots, *(r for p in self.plans for r in self._roots(p))])
        for plan in self.plans:
            plan.whole = self._view(self.whole, plan, self.whole.index(plan.action.guard))
        self.level: Program | None = None
        self.fired = [[0] * len(ts.actions) for ts, _ in systems]

    def theirs(self, values: Array, masks: Masks | None, k: int) -> Array:
        """``values`` (bools per row) where the row is a state of obligation ``k``'s system,
        else false: in a joint search, only its own states and steps count for an obligation."""
        return values if masks is None else values & (masks & np.uint64(1 << self.owner[k]) != 0)

    def _plan(self, index: int, action: Action, checks: list[tuple[int, Expr, bool]]) -> _Plan:
        schema, layout = self.schema, self.layout
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
        checked = [(k, substitute(e, after, memo), is_check) for k, e, is_check in checks]
        return _Plan(index, action, keep, fixed, updates, checked)

    def _roots(self, plan: _Plan) -> list[tuple[Expr, int]]:
        bits = self.action_bits[plan.index]
        return [*((u.expr, bits) for u in plan.updates), *((e, _bit(k)) for k, e, _ in plan.checks)]

    def _view(self, program: Program, plan: _Plan, guard: int) -> _View:
        schema, layout = self.schema, self.layout
        packings = []
        for w in sorted({u.word for u in plan.updates}):
            fields = [u for u in plan.updates if u.word == w]
            lows = np.array([[schema[u.name].lo] for u in fields], dtype=np.int16)
            packings.append(_Packing(
                w, [program.index(u.expr) for u in fields], lows if lows.any() else None,
                np.array([[layout.place[u.name][1]] for u in fields], dtype=np.uint64)))
        return _View(guard, [program.index(u.expr) for u in plan.updates], packings,
                     [(k, program.index(e), is_check) for k, e, is_check in plan.checks])

    def _level_program(self) -> Program:
        """The guards and invariants alone, and each action's own program (compiled once, the
        first time a large batch comes)."""
        if self.level is None:
            level = Program(self.level_roots)
            for plan in self.plans:  # an action runs only where the level computed its guard
                program = Program(self._roots(plan), level.always(self.action_bits[plan.index]))
                plan.sub = program, self._view(program, plan, level.index(plan.action.guard))
            self.level = level
        return self.level

    def evaluate(self, batch: Words, open_mask: int = 0, masks: Masks | None = None) -> _Level:
        """The values over ``batch`` (in a joint search, each row belonging to the systems of
        its ``masks``) of the guards of those systems' actions, and of the invariants of the
        obligations in ``open_mask``; for a small batch, of everything else too."""
        present = 1 if masks is None else int(np.bitwise_or.reduce(masks)) if len(masks) else 0
        actions = present << len(self.obligations) + 1
        wanted = ALWAYS | open_mask << 1 | actions
        leaf = field_leaf(self.layout, batch, every=len(batch) <= WHOLE)
        program = self.whole if len(batch) <= WHOLE else self._level_program()
        return _Level(batch, program.run(leaf, wanted), wanted, len(batch) <= WHOLE, masks,
                      present, actions)

    def expand(self, level: _Level,
               on_check: Callable[[int, int, int, Words, int, int], None] | None = None,
               ) -> list[_Step]:
        """The successors of every state of ``level`` by every enabled action (in a joint
        search, every action of a system the state belongs to).

        With ``on_check``, the step checks and situations of the obligations open when
        ``level`` was evaluated are reported through ``on_check(action, first violating source
        or -1, violated mask, rows, index into rows, situations mask)``.
        """
        layout, batch, n = self.layout, level.batch, len(level.batch)
        wanted = level.wanted if on_check is not None else ALWAYS | level.actions
        out: list[_Step] = []
        for plan in self.plans:
            members = self.members[plan.index]
            if not members & level.present:
                continue
            view = plan.whole if level.whole else plan.sub[1] if plan.sub else None
            assert view is not None
            enabled = full(level.slots[view.guard], n)
            if level.masks is not None and level.present & ~members:
                enabled = enabled & (level.masks & np.uint64(members) != 0)
            source = np.flatnonzero(enabled)
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
            masks = None
            if level.masks is not None:
                masks = level.masks[source]
                if level.present & ~members:
                    masks &= np.uint64(members)
            if on_check is not None and view.checks:
                self._checks(plan.index, view, slots, m, pick, wanted, source, succ, masks, on_check)
            out.append(_Step(plan.index, source, succ, masks))
        return out

    def _checks(self, action: int, view: _View, slots: list[object], m: int, pick: Array | None,
                wanted: int, source: Array, succ: Words, masks: Masks | None,
                on_check: Callable[[int, int, int, Words, int, int], None]) -> None:
        situations = 0
        for k, slot, is_check in view.checks:
            if not wanted & _bit(k):
                continue
            holds = full(slots[slot], m)
            if pick is not None:
                holds = holds[pick]
            if is_check:
                bad = np.flatnonzero(self.theirs(~holds, masks, k))
                if len(bad):
                    at = int(bad[0])
                    on_check(action, int(source[at]), 1 << k, succ, at, 0)
            elif self.theirs(holds, masks, k).any():
                situations |= 1 << k
        if situations:
            on_check(action, -1, 0, succ, -1, situations)

    def _range_check(self, action: Action, name: str, v: Array) -> None:
        f = self.schema[name]
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
        """For the invariants evaluated with ``level``, the first violating row per obligation
        (among the rows of its system); and the mask of state situations reached in it."""
        n = len(level.batch)
        program = self._program(level)
        first: dict[int, int] = {}
        situations = 0
        for k, ob in enumerate(self.obligations):
            if not level.wanted & _bit(k):
                continue
            if ob.invariant is not None:
                bad = np.flatnonzero(self.theirs(~full(level.slots[program.index(ob.invariant)], n),
                                                 level.masks, k))
                if len(bad):
                    first[k] = int(bad[0])
            if ob.sometimes is not None and self.theirs(
                    full(level.slots[program.index(ob.sometimes)], n), level.masks, k).any():
                situations |= 1 << k
        return first, situations

    def count_fired(self, level: _Level, steps: list[_Step]) -> list[tuple[int, int, int]]:
        """The steps of each action fired over ``level``, as (system, its action, count)."""
        tally = _Tally(level.masks, len(self.systems), len(level.batch))
        out = []
        for s in steps:
            per_system = tally.count(s.source)
            for e in np.flatnonzero(per_system):
                if self.members[s.action] >> int(e) & 1:
                    out.append((int(e), int(self.local[e][s.action]), int(per_system[e])))
        return out


class _Tally:
    """Rows of a batch counted per system, by the batch's distinct masks (with one system and
    no masks, every row is its)."""

    def __init__(self, masks: Masks | None, systems: int, n: int) -> None:
        self.n = n
        self.inverse: Array | None = None
        if masks is not None:
            values, self.inverse = np.unique(masks, return_inverse=True)
            # per distinct mask, its systems
            self.bits = (values[:, None] >> np.arange(systems, dtype=np.uint64) & np.uint64(1)
                         ).astype(np.int64)

    def count(self, rows: Array | None = None, weights: Array | None = None) -> np.ndarray:
        """Per system, how many of ``rows`` (default: all) are its, or the sum of their
        ``weights``."""
        if self.inverse is None:
            total = self.n if rows is None else len(rows)
            return np.array([total if weights is None else int(weights.sum())], dtype=np.int64)
        inverse = self.inverse if rows is None else self.inverse[rows]
        per_mask = np.bincount(inverse, weights=weights, minlength=len(self.bits)).astype(np.int64)
        counted: np.ndarray = per_mask @ self.bits
        return counted


class _Search:
    """One breadth-first search over compiled systems: one, or several together, each state
    stored once with the systems that reach it at that depth (its mask)."""

    def __init__(self, systems: Sequence[tuple[TransitionSystem, Sequence[Obligation]]],
                 limits: Limits, progress: Progress | None, symmetry: Symmetry | None) -> None:
        self.machine = _Machine(systems, symmetry.preconditions if symmetry is not None else ())
        self.joint = self.machine.joint
        self.obligations = self.machine.obligations
        self.limits = limits
        self.progress = progress
        self.symmetry = symmetry
        words = self.machine.layout.words
        self.visited = Visited(words, masked=self.joint)
        self.outcomes: list[Outcome | None] = [None] * len(self.obligations)
        self.open_mask = (1 << len(self.obligations)) - 1
        self.reached = 0
        self.start = time.monotonic()
        self.depth = 0
        self.stop_reason = ""
        self.threads = max(1, limits.threads)
        # Per system: its states stored, the concrete states they stand for, its last depth.
        self.states = [0] * len(systems)
        self.level_fired = [0] * len(systems)  # this level's steps
        self.concrete = [0] * len(systems)
        self.depths = [0] * len(systems)
        self.kept: list[tuple[Words, Masks | None]] | None = []
        self.kept_rows = 0
        self.trace_levels: dict[int, list[tuple[Words, Masks | None]]] = {}  # by system
        self.trace_seen: dict[int, Visited] = {}
        self.remembered: dict[bytes, tuple[list[_Step], Array, Words, Masks | None]] = {}
        self.made: dict[bytes, _Expansion] = {}  # by batch: what the search made, for traces
        self.made_rows = 0

    # Bookkeeping --------------------------------------------------------------------------------
    def stats(self, system: int, depth: int) -> Stats:
        ts = self.machine.systems[system][0]
        fired = self.machine.fired[system]
        counts: dict[str, int] = {}
        for a, c in zip(ts.actions, fired, strict=True):
            counts[a.op] = counts.get(a.op, 0) + c
        sym = self.symmetry
        return Stats(states=self.states[system], transitions=sum(fired), depth=depth,
                     seconds=time.monotonic() - self.start, peak_memory_mb=peak_mb(),
                     op_counts=counts, symmetry="" if sym is None else sym.described,
                     concrete_states=self.concrete[system] if sym is None or sym.exact else None)

    def settle(self, mask: int, path: Callable[[], Path]) -> None:
        todo = mask & self.open_mask
        if not todo:
            return
        built = path()
        for k in range(len(self.obligations)):
            if todo >> k & 1:
                self.outcomes[k] = Outcome("violated", path=built,
                                           stats=self.stats(self.machine.owner[k], len(built) - 1),
                                           bounded=True, depth=len(built) - 1)
        self.open_mask &= ~todo

    def active(self) -> int:
        """The mask of the systems with an obligation still open."""
        active = 0
        for k, system in enumerate(self.machine.owner):
            if self.open_mask >> k & 1:
                active |= 1 << system
        return active

    def canonical(self, rows: Words) -> Words:
        """Each row's canonical form (the rows themselves without symmetry), row by row."""
        return rows if self.symmetry is None else self.symmetry.canonical(rows)

    def only(self, system: int, rows: Words) -> Masks | None:
        """Masks saying that ``rows`` belong to ``system`` alone (none in a search of one)."""
        return np.full(len(rows), np.uint64(1 << system)) if self.joint else None

    # The search -----------------------------------------------------------------------------------
    def run(self) -> list[Outcome]:
        layout = self.machine.layout
        self.initial = [layout.rows(ts.initial_states()) for ts, _ in self.machine.systems]
        if self.joint:
            level, masks = sort_unique_masked(
                np.concatenate([self.canonical(rows) for rows in self.initial]),
                np.concatenate([self.only(e, rows) for e, rows in enumerate(self.initial)]))
        else:
            level, masks = sort_unique(self.canonical(self.initial[0])), None
        self._store(level, masks)
        with ThreadPoolExecutor(self.threads) if self.threads > 1 else contextlib.nullcontext() as pool:
            while len(level) and self.open_mask:
                pending = self._level(level, masks, pool)
                if self.stop_reason or not self.open_mask:
                    break
                level, masks = self._next(pending, level)
                if len(level):
                    self.depth += 1
                    self._store(level, masks)
        if self.progress is not None:
            self.progress(len(self.visited), sum(map(sum, self.machine.fired)), self.depth, 0,
                          time.monotonic() - self.start)
        return self._outcomes()

    def _next(self, pending: list[tuple[Words, Masks | None]], level: Words) -> tuple[Words, Masks | None]:
        """The next level from the chunks' new successors (each new already); in a joint
        search, only for the systems still open."""
        if not self.joint:
            return merge_unique([r for r, _ in pending]) if pending else level[:0], None
        if not pending:
            return level[:0], np.empty(0, dtype=np.uint64)
        rows, masks = merge_unique_masked(pending)  # type: ignore[arg-type]
        masks &= np.uint64(self.active())
        keep = masks != 0
        return rows[keep], masks[keep]

    def _chunks(self, level: Words) -> list[tuple[int, Words]]:
        """The level cut into chunks (with their offsets): at most ``CHUNK`` states each, and
        when the level is large enough to share, a multiple of the threads (so that none waits
        idle for the last chunk)."""
        pieces = -(-len(level) // CHUNK)
        if self.threads > 1 and len(level) >= SHARED:
            pieces = -(-pieces // self.threads) * self.threads
        size = -(-len(level) // pieces)
        return [(start, level[start:start + size]) for start in range(0, len(level), size)]

    def _level(self, level: Words, masks: Masks | None,
               pool: ThreadPoolExecutor | None) -> list[tuple[Words, Masks | None]]:
        """Expand one level: its new successors (sorted runs), with the level's violations
        settled.  Chunks are expanded by ``threads`` threads, each taking the next chunk when
        it is done, and the limits are checked as each chunk's results come, in order; which
        violation an obligation gets does not depend on the chunks (the lowest state for an
        invariant, the lowest action then state for a step), so neither does the result."""
        chunks = self._chunks(level)
        open_mask = self.open_mask
        keep = self.made_rows <= KEEP_EXPANDED

        def expand(c: tuple[int, Words]) -> _Found:
            part = None if masks is None else masks[c[0]:c[0] + len(c[1])]
            return self._expand(c[0], c[1], part, open_mask, keep)

        found: list[_Found] = []
        fired = self.machine.fired
        self.level_fired = [0] * len(self.states)
        with contextlib.closing(_in_order(pool, expand, chunks, 2 * self.threads)) as results:
            for (offset, chunk), f in zip(chunks, results, strict=True):
                found.append(f)
                self.reached |= f.situations
                for system, action, n in f.fired:
                    fired[system][action] += n
                    self.level_fired[system] += n
                if f.made is not None:
                    part = b"" if masks is None else masks[offset:offset + len(chunk)].tobytes()
                    self.made[chunk.tobytes() + part] = f.made
                    self.made_rows += sum(len(s.rows) for s in f.made.steps)
                queued = sum(len(f.successors) for f in found)
                if self._limited(queued, len(level) - offset - len(chunk)):
                    return []
        self._settle_level(level, found)
        return [(f.successors, f.masks) for f in found if len(f.successors)]

    def _expand(self, offset: int, chunk: Words, masks: Masks | None, open_mask: int,
                keep: bool) -> _Found:
        """One chunk's new successors (canonical, sorted, unique), its fired counts, and its
        first violations (with ``keep``, what traces need of it); safe to run in a thread beside
        other chunks."""
        machine = self.machine
        evaluated = machine.evaluate(chunk, open_mask, masks)
        if machine.precondition_fails(evaluated):
            raise _SymmetryFailedError(self.depth)
        first, situations = machine.state_checks(evaluated)
        out = _Found({k: offset + row for k, row in first.items()}, {}, situations, [], chunk[:0])
        local = machine.local

        def seen(action: int, source: int, violated: int, rows: Words, at: int, sits: int) -> None:
            out.situations |= sits
            for k in range(len(self.obligations)):
                if violated >> k & 1:
                    key = (int(local[machine.owner[k]][action]), offset + source)
                    if k not in out.steps or key < out.steps[k][:2]:
                        out.steps[k] = (*key, rows[at].copy())

        steps = machine.expand(evaluated, seen)
        out.fired = machine.count_fired(evaluated, steps)
        if not steps:
            out.masks = None if masks is None else masks[:0]
            return out
        rows = np.concatenate([s.rows for s in steps])
        if masks is None:
            fresh = self.visited.new(sort_unique(rows))
            forms = self.canonical(fresh)
            # (a stored state is canonical already)
            out.successors = fresh if self.symmetry is None else self.visited.new(sort_unique(forms))
        else:
            rows, joined, stored = self.visited.new_masked(
                *sort_unique_masked(rows, np.concatenate([s.masks for s in steps])))
            fresh = rows[~stored]
            forms = self.canonical(fresh)
            if self.symmetry is None:
                out.successors, out.masks = rows, joined
            else:
                rows[~stored] = forms  # (a stored state is canonical already)
                out.successors, out.masks, _ = self.visited.new_masked(*sort_unique_masked(rows, joined))
        if keep and len(chunk) <= REMEMBER:
            out.made = _Expansion(steps, fresh, forms)
        return out

    def _settle_level(self, level: Words, found: list[_Found]) -> None:
        """Settle each open obligation violated in ``level``: by a state (an invariant), which
        gives the shorter trace, else by a step."""
        depth = self.depth
        for k in range(len(self.obligations)):
            rows = [f.states[k] for f in found if k in f.states]
            if rows and self.open_mask >> k & 1:
                row = level[min(rows)]
                self.settle(1 << k, partial(self.path_to, row, depth, 1 << k))
        for k in range(len(self.obligations)):
            steps = [f.steps[k] for f in found if k in f.steps]
            if steps and self.open_mask >> k & 1:
                action, source, succ = min(steps, key=lambda s: s[:2])
                pre = level[source]
                self.settle(1 << k, partial(self.path_to, pre, depth, 1 << k, last=(action, succ)))

    def _store(self, level: Words, masks: Masks | None) -> None:
        sym = self.symmetry
        tally = _Tally(masks, len(self.states), len(level))
        counts = tally.count()
        # (with a vouched reduction some members of an orbit are unreachable: not counted)
        concrete = (counts if sym is None else tally.count(weights=sym.orbit_sizes(level)) if sym.exact
                    else None)
        for e in np.flatnonzero(counts):
            self.states[e] += int(counts[e])
            if concrete is not None:
                self.concrete[e] += int(concrete[e])
            self.depths[e] = self.depth
        if masks is None:
            self.visited.add(level)
        else:
            self.visited.add_masked(level, masks)
        if self.kept is not None:
            self.kept_rows += len(level)
            self.kept = [*self.kept, (level, masks)] if self.kept_rows <= KEEP_LEVELS else None

    def _limited(self, queued: int, left: int) -> bool:
        elapsed = time.monotonic() - self.start
        states = len(self.visited) + queued
        if self.progress is not None:
            self.progress(states, sum(map(sum, self.machine.fired)), self.depth, queued + left, elapsed)
        limits = self.limits
        if self.joint and limits.max_states is not None and any(
                s + f >= limits.max_states for s, f in zip(self.states, self.level_fired, strict=True)):
            # A system alone stops when its states and the successors its chunks have found so
            # far reach the limit; those are at most its steps this level.  Where that bound
            # reaches the limit, its own search (its own chunks) decides.
            raise _ApartError(f"state limit {limits.max_states} may be reached")
        if limits.max_states is not None and states >= limits.max_states:
            self.stop_reason = f"state limit {limits.max_states} reached"
        elif limits.timeout is not None and elapsed >= limits.timeout:
            self.stop_reason = f"time limit {limits.timeout:g}s reached"
        elif limits.max_memory_mb is not None and rss_mb() >= limits.max_memory_mb:
            self.stop_reason = f"memory limit {limits.max_memory_mb:g} MiB reached"
        if self.stop_reason and self.joint:  # a limit is a system's own: search each alone
            raise _ApartError(self.stop_reason)
        return bool(self.stop_reason)

    def _outcomes(self) -> list[Outcome]:
        out: list[Outcome] = []
        finals: dict[int, Stats] = {}
        for k, ob in enumerate(self.obligations):
            system = self.machine.owner[k]
            if system not in finals:
                finals[system] = self.stats(system, self.depths[system])
            final = finals[system]
            done = self.outcomes[k]
            if done is not None:
                out.append(done)
            elif self.stop_reason:
                out.append(Outcome("unknown", stats=final, bounded=True, depth=final.depth,
                                   message=f"{self.stop_reason}; explored {final.states} states "
                                   f"to depth {final.depth}"))
            elif not (self.reached >> k & 1) and ob.has_situation:
                out.append(Outcome("vacuous", stats=final, depth=final.depth,
                                   message="the situation it is about is unreachable: "
                                   f"{ob.situation_text}"))
            else:
                out.append(Outcome("holds", stats=final, depth=final.depth,
                                   message=f"all {final.states} reachable states explored"))
        return out

    # Traces -------------------------------------------------------------------------------------
    def path_to(self, row: Words, depth: int, mask: int,
                last: tuple[int, Words] | None = None) -> Path:
        """A shortest path to the stored state ``row`` at ``depth`` (then ``last``, a step
        from it: the system's own action index and the successor) that violates the
        obligations in ``mask`` (of one system), as concrete schema-packed states."""
        system = self.machine.owner[mask.bit_length() - 1]
        chain: list[tuple[int, Words]] = []
        target = row.reshape(1, -1)
        levels = self._levels(depth, system)
        for d in range(depth - 1, -1, -1):
            rows, masks = levels[d]
            action, source = self._predecessor(rows, masks, target, system)
            chain.append((action, target))
            target = rows[source].reshape(1, -1)
        chain.reverse()
        if last is not None:
            chain.append((last[0], self.canonical(last[1].reshape(1, -1))))
        return self._concrete(target, chain, mask, system)

    def _levels(self, depth: int, system: int) -> list[tuple[Words, Masks | None]]:
        """The stored BFS levels 0..depth: those the search kept, else the system's own
        searched again (and kept for its next trace)."""
        if self.kept is not None and len(self.kept) > depth:
            return self.kept
        levels = self.trace_levels.setdefault(system, [])
        if not levels:
            first = sort_unique(self.canonical(self.initial[system]))
            levels.append((first, self.only(system, first)))
            self.trace_seen[system] = Visited(self.machine.layout.words)
            self.trace_seen[system].add(first)
        seen = self.trace_seen[system]
        while len(levels) <= depth:
            rows, masks = levels[-1]
            steps = self.machine.expand(self.machine.evaluate(rows, masks=masks))
            if not steps:
                raise AssertionError("a trace is deeper than the state space")
            succ = sort_unique(np.concatenate([s.rows for s in steps]))
            fresh = seen.new(sort_unique(self.canonical(succ)))
            seen.add(fresh)
            levels.append((fresh, self.only(system, fresh)))
        return levels

    def _successors(self, states: Words, masks: Masks | None,
                    ) -> tuple[list[_Step], Array, Words, Masks | None]:
        """Every step from ``states`` (each belonging to the systems of its ``masks``) in the
        engine's fixed order (action, then source), with each step's action, the canonical
        forms of all successors and their masks: what the search made expanding this batch,
        where it kept that, else computed at once (and remembered for small batches: the
        traces of one search share their first levels and often their first states)."""
        key = None
        if len(states) <= REMEMBER:
            key = states.tobytes() + (b"" if masks is None else masks.tobytes())
        found = self.remembered.get(key) if key is not None else None
        if found is not None:
            return found
        made = self.made.pop(key, None) if key is not None else None
        steps = made.steps if made is not None else self.machine.expand(
            self.machine.evaluate(states, masks=masks))
        if not steps:
            found = steps, np.empty(0, dtype=np.int64), states[:0], None
        else:
            actions = np.concatenate([np.full(len(s.rows), s.action) for s in steps])
            rows = np.concatenate([s.rows for s in steps])
            forms = made.forms_of(rows) if made is not None else self.canonical(rows)
            found = (steps, actions, forms,
                     None if masks is None else np.concatenate([s.masks for s in steps]))
        if key is not None:
            self.remembered[key] = found
        return found

    def _predecessor(self, level: Words, masks: Masks | None, target: Words,
                     system: int) -> tuple[int, int]:
        """The first (action of ``system``, then state) of ``level`` whose step reaches
        ``target``."""
        steps, actions, forms, steps_masks = self._successors(level, masks)
        hit = np.all(forms == target, axis=1)
        if steps_masks is not None:
            hit &= steps_masks & np.uint64(1 << system) != 0
        hits = np.flatnonzero(hit)
        if not len(hits):
            raise AssertionError("a visited state has no predecessor on the level before it")
        sources = np.concatenate([s.source for s in steps])[hits]
        local = self.machine.local[system][actions[hits]]
        first = np.lexsort((sources, local))[0]
        return int(local[first]), int(sources[first])

    def _concrete(self, start: Words, chain: list[tuple[int, Words]], mask: int, system: int) -> Path:
        """The path of stored states ``start``, ``chain`` as concrete states: without symmetry
        they are the states themselves; with it each step is replayed from the concrete state
        before it, choosing the first action whose successor has the stored canonical form."""
        layout = self.machine.layout
        if self.symmetry is None:
            return [(-1, layout.to_packed(start[0])),
                    *((a, layout.to_packed(r[0])) for a, r in chain)]
        initial = self.initial[system]
        canon = self.canonical(initial)
        state = initial[np.flatnonzero(np.all(canon == start, axis=1))[0]].reshape(1, -1)
        path: Path = [(-1, layout.to_packed(state[0]))]
        for k, (_, target) in enumerate(chain):
            last = mask if k == len(chain) - 1 else 0
            state, action = self._concrete_step(state, target, last, system)
            path.append((action, layout.to_packed(state[0])))
        return path

    def _concrete_step(self, state: Words, target: Words, last: int,
                       system: int) -> tuple[Words, int]:
        steps, actions, forms, _ = self._successors(state, self.only(system, state))
        rows = np.concatenate([s.rows for s in steps]) if steps else state[:0]
        local = self.machine.local[system]
        candidates = sorted(((int(local[actions[i]]), rows[i:i + 1])
                             for i in np.flatnonzero(np.all(forms == target, axis=1))),
                            key=lambda c: c[0])
        if last:
            violating = [c for c in candidates if self._violates(state, *c, last, system)]
            candidates = violating or candidates
        if not candidates:
            raise AssertionError("symmetry: no concrete step matches the stored trace")
        action, row = candidates[0]
        return row, action

    def _violates(self, state: Words, action: int, row: Words, mask: int, system: int) -> bool:
        """Whether the concrete step ``state`` -> ``row`` by ``system``'s ``action`` (or
        ``row`` itself) violates the obligations in ``mask``."""
        machine = self.machine
        first, _ = machine.state_checks(machine.evaluate(row, mask, self.only(system, row)))
        if first:
            return True
        hit: list[int] = []
        joint = machine.own[system][action]

        def seen(a: int, source: int, violated: int, rows: Words, at: int, sit: int) -> None:
            if a == joint and violated and np.all(rows[at] == row[0]):
                hit.append(a)

        machine.expand(machine.evaluate(state, mask, self.only(system, state)), seen)
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


class _ApartError(Exception):
    """A joint search reached a limit, which is each system's own: search them one by one."""


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
    return explore_together([(ts, obligations)], limits, progress)[0]


#: At most this many systems are searched together (a state's mask is one 64-bit word).
TOGETHER = 64


def explore_together(
    systems: Sequence[tuple[TransitionSystem, Sequence[Obligation]]],
    limits: Limits | None = None,
    progress: Progress | None = None,
) -> list[list[Outcome]]:
    """Check every system's obligations: per system, its outcomes in order, the same as
    :func:`explore` gives for it alone (verdicts, counts, depths, traces).

    Systems over one schema that admit the same symmetry are searched together: eras share
    most of their actions and reachable states, so a state several of them reach at the same
    depth is expanded, canonicalised and stored once, with the systems it belongs to as a mask
    (one bit each), and each system's verdicts, counts and traces come from its own states and
    actions.  They are searched one by one under a time or memory limit (each system's own);
    and when a joint search may reach the state limit (a system's states and steps of the level
    reach it), meets a model error, or finds a vouched symmetry's precondition false.
    """
    limits = limits or Limits()
    found = [Symmetry.of(ts, obs) if limits.symmetry else (None, []) for ts, obs in systems]
    groups: dict[object, list[int]] = {}
    for e, ((ts, obligations), (sym, _)) in enumerate(zip(systems, found, strict=True)):
        # (a system without obligations is never expanded: alone, it stays alone)
        key = (id(ts.schema), None if sym is None else sym.reduction) if obligations else e
        groups.setdefault(key, []).append(e)
    apart = limits.timeout is not None or limits.max_memory_mb is not None
    out: list[list[Outcome]] = [[] for _ in systems]
    for members in groups.values():
        for start in range(0, len(members), TOGETHER):
            batch = members[start:start + TOGETHER]
            joint: Iterator[Outcome] | None = None  # every system's outcomes, one after another
            if len(batch) > 1 and not apart:
                search = _Search([systems[e] for e in batch], limits, progress, found[batch[0]][0])
                # (a model error: searched alone, each system raises its own, in order)
                with contextlib.suppress(_SymmetryFailedError, _ApartError, ModelError):
                    joint = iter(search.run())
            for e in batch:
                ts, obligations = systems[e]
                notes: list[str] = []
                if joint is not None:
                    outcomes = list(itertools.islice(joint, len(obligations)))
                else:
                    outcomes, notes = _alone(ts, obligations, limits, progress, found[e][0])
                for o in outcomes:
                    o.notes = (*o.notes, *found[e][1], *notes)
                out[e] = outcomes
    return out


def _alone(ts: TransitionSystem, obligations: Sequence[Obligation], limits: Limits,
           progress: Progress | None, symmetry: Symmetry | None) -> tuple[list[Outcome], list[str]]:
    """One system's search, redone without the reduction if its precondition fails."""
    try:
        return _Search([(ts, obligations)], limits, progress, symmetry).run(), []
    except _SymmetryFailedError as failed:
        note = (f"symmetry off: the precondition of the {symmetry.described if symmetry else ''} "
                f"reduction fails in a state at depth {failed.args[0]}; searched without it")
        return _Search([(ts, obligations)], limits, progress, None).run(), [note]
