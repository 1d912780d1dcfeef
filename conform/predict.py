"""What the model predicts a scenario's steps observe, by exploring the variant's transitions.

The user's steps are fixed in order; what the kernel does between and inside them is left to the
model: which fault handler runs for each trap of an access (and, for a hinting fault, which of
the era's migration outcomes happens), which pages a NUMA scan protects.  Every step's
prediction is the set of observations some path through those choices gives, never one guess.
Semantics come only from the variant's TransitionSystem (model/system.py), compiled one state at
a time (checker/lowering/codegen.py); this module only picks which actions a step may take.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from numacheck.checker.lowering.codegen import CompiledSystem, compile_exprs, compile_system
from numacheck.conform.scenario import NODES, Scenario, Step
from numacheck.model.builder import Step as SymbolicStep
from numacheck.model.expr import Expr
from numacheck.model.instance import Instance, task_name
from numacheck.model.mm import MM
from numacheck.model.ops.access import hint_or_protnone
from numacheck.model.pte import pte_present
from numacheck.model.system import TransitionSystem
from numacheck.model.variant import Variant, build

#: Traps one access may take before it completes; more means the model loops on a fault.
MAX_TRAPS = 6
#: The scenario's task is process 0; forked children take the next slots.
TASK = 0
#: The fault handler that delivers SIGSEGV; every other handler is a counted fault.
SIGSEGV_HANDLER = "bad_area"
#: The hinting fault, whose ``task_numa_fault`` output is a count in numa_hint_faults.
HINT_HANDLER = "do_numa_page"
#: A page's node as move_pages(2) gives it: no page there, or a page behind a NUMA hint, which
#: 6.1's follow_page() does not follow (so its node is not compared).
NO_PAGE, HINTED = -1, -2


def nodes_agree(predicted: tuple[int, ...], measured: tuple[int, ...]) -> bool:
    """The measured nodes are the predicted ones, pages behind a hint left out."""
    return len(predicted) == len(measured) and all(
        p in (HINTED, m) for p, m in zip(predicted, measured, strict=True))


class PredictionError(ValueError):
    """The variant cannot express a scenario step (an operation it lacks, a model dead end)."""


@dataclass(frozen=True, order=True)
class Observation:
    """What user space sees of one access: faults taken (getrusage minor faults), NUMA hinting
    faults (numa_hint_faults) and how many of them were on a local page
    (numa_hint_faults_local), pages migrated (numa_pages_migrated), and whether it got SIGSEGV."""

    faults: int
    hint_faults: int
    hint_local: int
    migrated: int
    sigsegv: bool

    def text(self) -> str:
        """``faults=1 hint=1/local=1 migrated=0`` or ``SIGSEGV``, for tables."""
        segv = " SIGSEGV" if self.sigsegv else ""
        return (f"faults={self.faults} hint={self.hint_faults}/local={self.hint_local} "
                f"migrated={self.migrated}{segv}")


#: Where the per-page facts start in Explorer's compiled facts (after task node, pending fault).
_PAGES = 2


class Explorer:
    """One variant on the instance a scenario needs: its actions by label, compiled."""

    def __init__(self, variant: Variant, inst: Instance) -> None:
        self.variant = variant
        self.inst = inst
        self.ts: TransitionSystem = build(variant, inst)
        self.compiled: CompiledSystem = compile_system(self.ts, ())
        self.by_label = {a.label: i for i, a in enumerate(self.ts.actions)}
        self._outputs: dict[int, Callable[[int, int], list[int | bool]]] = {}
        schema = self.ts.schema
        # In the model's own helpers: the task's node and pending fault, and what move_pages(2)
        # reports of each page of the region: the node of the page a present PTE maps (the zero
        # page has no struct page to report), and whether the PTE is a NUMA hint, which
        # move_pages does not follow on every kernel.
        mm = MM(inst, SymbolicStep(schema))
        facts: list[Expr] = [mm.task_node(TASK), mm.step.read(task_name(TASK, "fault")).ne(0)]
        for i in range(inst.pages):
            pte = mm.pte(TASK, i)
            facts += [pte_present(pte) & mm.vm_normal_page(pte), hint_or_protnone(pte),
                      mm.page_to_nid(pte.pfn)]
        self._facts = compile_exprs(schema, facts)

    def initial(self) -> set[int]:
        """The model's initial states (nothing mapped, every task on node 0)."""
        return set(self.ts.initial_states())

    def successors(self, state: int) -> Iterator[tuple[int, int]]:
        """Every enabled action of ``state`` with its successor."""
        for index, succ, _vm, _sm in self.compiled.expand(state):
            yield index, succ

    def output(self, index: int, pre: int, post: int, name: str) -> int | bool:
        """An action's output on one step (``completed``, ``task_numa_fault``, ...)."""
        action = self.ts.actions[index]
        names = [k for k, _ in action.outputs]
        if name not in names:
            raise PredictionError(f"{action.label} has no output {name}")
        fn = self._outputs.get(index)
        if fn is None:
            fn = compile_exprs(self.ts.schema, [e for _, e in action.outputs])
            self._outputs[index] = fn
        return fn(pre, post)[names.index(name)]

    def page_node(self, state: int, page: int) -> int:
        """page_to_nid() of the page a PTE maps, hinted or not."""
        return int(self._facts(state)[_PAGES + 3 * page + 2])

    def task_node(self, state: int) -> int:
        """numa_node_id() of the task."""
        return int(self._facts(state)[0])

    def page_nodes(self, state: int) -> tuple[int, ...]:
        """The node of each page of the region as move_pages(2) reports it: NO_PAGE where no
        page is mapped (none PTE, zero page), HINTED behind a NUMA hint."""
        values = self._facts(state)[_PAGES:]
        out = []
        for i in range(self.inst.pages):
            mapped, hinted, nid = values[3 * i:3 * i + 3]
            out.append(NO_PAGE if not mapped else HINTED if hinted else int(nid))
        return tuple(out)

    def fault_pending(self, state: int) -> bool:
        """The task has trapped and awaits its fault handler."""
        return bool(self._facts(state)[1])

    def action(self, op: str, **params: str | int) -> int:
        """The index of ``op(params)``; a PredictionError when the variant lacks the operation."""
        label = f"{op}({', '.join(f'{k}={v}' for k, v in params.items())})"
        try:
            return self.by_label[label]
        except KeyError:
            raise PredictionError(f"variant {self.variant.name} has no {op} (no action {label}); "
                                  "the scenario cannot be predicted for it") from None

    def take(self, state: int, index: int) -> int | None:
        """The successor of ``state`` by action ``index``, or None when it is not enabled."""
        for i, succ in self.successors(state):
            if i == index:
                return succ
        return None


_EXPLORERS: dict[tuple[int, Instance], Explorer] = {}


def explorer(variant: Variant, inst: Instance) -> Explorer:
    """The explorer of a variant on an instance, built once per run."""
    key = (id(variant), inst)
    found = _EXPLORERS.get(key)
    if found is None or found.variant is not variant:
        found = _EXPLORERS[key] = Explorer(variant, inst)
    return found


def instance_for(scenario: Scenario) -> Instance:
    """The model instance a scenario needs: its processes and pages, two nodes, soft-dirty
    when it uses clear_refs."""
    areas = {"numa", "softdirty"} if scenario.softdirty else {"numa"}
    return Instance(processes=scenario.processes, pages=scenario.pages, nodes=NODES,
                    areas=frozenset(areas))


def _hint_local(ex: Explorer, state: int, page: int) -> bool:
    """numa_hint_faults_local: the faulting PTE's page is on the task's node (numa_migrate_prep)."""
    return ex.page_node(state, page) == ex.task_node(state)


def access(ex: Explorer, state: int, page: int, kind: str) -> set[tuple[Observation, int]]:
    """Every way one user access can go: trap, a fault handler the model allows, retry, until
    the access completes or SIGSEGV is delivered."""
    index = ex.action("access", p=TASK, page=page, kind=kind)
    out: set[tuple[Observation, int]] = set()
    frontier = [(state, Observation(0, 0, 0, 0, False))]
    for _ in range(MAX_TRAPS + 1):
        later: list[tuple[int, Observation]] = []
        for s, obs in frontier:
            trapped = ex.take(s, index)
            if trapped is None:
                raise PredictionError(f"the model has no access to page {page} here")
            if ex.output(index, s, trapped, "completed"):
                out.add((obs, trapped))
                continue
            # the kernel's handler for the trap: an action of this task that resolves it
            handlers = [(i, n) for i, n in ex.successors(trapped)
                        if dict(ex.ts.actions[i].params).get("p") == TASK and not ex.fault_pending(n)]
            if not handlers:
                raise PredictionError(f"the model has no fault handler for the {kind} of page {page}")
            for i, n in handlers:
                op = ex.ts.actions[i].op
                if op == SIGSEGV_HANDLER:
                    out.add((Observation(obs.faults, obs.hint_faults, obs.hint_local, obs.migrated, True), n))
                    continue
                hint = op == HINT_HANDLER and bool(ex.output(i, trapped, n, "task_numa_fault"))
                local = hint and _hint_local(ex, trapped, page)
                migrated = op == HINT_HANDLER and bool(ex.output(i, trapped, n, "tnf_migrated"))
                later.append((n, Observation(obs.faults + 1, obs.hint_faults + hint,
                                             obs.hint_local + local, obs.migrated + migrated, False)))
        frontier = later
        if not frontier:
            return out
    raise PredictionError(f"the {kind} of page {page} traps more than {MAX_TRAPS} times in the model")


#: Steps the kernel may find nothing to do for, and then leaves everything as it was: mprotect
#: to the current protection (mprotect_fixup returns early), a move to the node the task is
#: on, mbind of a file that already has the policy.
NO_OP_WHEN_DISABLED = ("mprotect", "migrate_task_to", "mbind")


def _user_op(ex: Explorer, state: int, op: str, **params: str | int) -> int:
    succ = ex.take(state, ex.action(op, **params))
    if succ is not None:
        return succ
    if op in NO_OP_WHEN_DISABLED:
        return state
    raise PredictionError(f"the model cannot do {op} here")


def other_step(ex: Explorer, state: int, step: Step, live: list[int], forks: int) -> int:
    """The one successor of a step that is not an access (the model's operation for it)."""
    if step.op == "mmap":
        return _user_op(ex, state, "mmap", p=TASK, prot=step.prot, flags=step.flags)
    if step.op == "mprotect":
        return _user_op(ex, state, "mprotect", p=TASK, prot=step.prot)
    if step.op == "munmap":
        return _user_op(ex, state, "munmap", p=TASK)
    if step.op == "mbind":
        return _user_op(ex, state, "mbind", p=TASK)
    if step.op == "clear_refs":
        return _user_op(ex, state, "clear_refs", p=TASK)
    if step.op == "move_to_node":
        return _user_op(ex, state, "migrate_task_to", p=TASK, node=step.arg)
    if step.op == "fork":
        return _user_op(ex, state, "fork", p=TASK, child=forks + 1)
    if step.op == "child_exit":
        return _user_op(ex, state, "munmap", p=live[-1])
    if step.op == "numa_scan":
        # task_numa_work() walks the address space in order; change_prot_numa's guard is the
        # era's filter (VMA and per-PTE skips), so a page it does not enable is skipped.
        for page in range(ex.inst.pages):
            succ = ex.take(state, ex.action("change_prot_numa", p=TASK, page=page))
            state = state if succ is None else succ
        return state
    raise PredictionError(f"unknown step {step.op}")


@dataclass(frozen=True)
class StepPrediction:
    """What the model allows for one step: for an access, every possible observation; for
    every step, every possible node of each page afterwards (NO_PAGE, HINTED: see there)."""

    step: Step
    observations: frozenset[Observation]
    nodes: frozenset[tuple[int, ...]]


class Walk:
    """A scenario walked through the model, step by step, keeping the states still possible."""

    def __init__(self, variant: Variant, scenario: Scenario) -> None:
        self.scenario = scenario
        self.ex = explorer(variant, instance_for(scenario))
        self.states = self.ex.initial()
        self.live: list[int] = []
        self.forks = 0

    def outcomes(self, step: Step) -> set[tuple[Observation | None, int]]:
        """Each (observation, successor) the step allows from the current states."""
        out: set[tuple[Observation | None, int]] = set()
        for s in self.states:
            if step.is_access:
                out |= set(access(self.ex, s, step.arg, step.op))
            else:
                out.add((None, other_step(self.ex, s, step, self.live, self.forks)))
        return out

    def advance(self, step: Step, outcomes: Iterable[tuple[Observation | None, int]]) -> None:
        """Move on to the given successors."""
        self.states = {succ for _, succ in outcomes}
        if step.op == "fork":
            self.forks += 1
            self.live.append(self.forks)
        elif step.op == "child_exit":
            self.live.pop()


def predict(variant: Variant, scenario: Scenario) -> list[StepPrediction]:
    """Every step's possible observations, over all paths the model allows."""
    walk = Walk(variant, scenario)
    out = []
    for step in scenario.steps:
        outcomes = walk.outcomes(step)
        out.append(StepPrediction(step, frozenset(o for o, _ in outcomes if o is not None),
                                  frozenset(walk.ex.page_nodes(succ) for _, succ in outcomes)))
        walk.advance(step, outcomes)
    return out
