"""PDR's certificates: the independent check rejects wrong invariants, Houdini's lemmas are true
and inductive, and the needed part of a certificate is itself a certificate."""

from __future__ import annotations

from functools import cache

import pytest
import z3

from numacheck.checker.engines.core import clauses_of, needed_clauses
from numacheck.checker.engines.houdini import HoudiniTimeoutError, candidates, houdini
from numacheck.checker.engines.pdr import Horn, ask, check_certificate, render_invariant
from numacheck.checker.lowering.codegen import compile_system
from numacheck.checker.lowering.encoding import literal
from numacheck.checker.outcome import Deadline, Limits
from numacheck.checker.run import Check, run_check
from numacheck.model.expr import Expr, const
from numacheck.model.instance import Instance, pte_name, vma_name
from numacheck.model.system import Obligation, TransitionSystem
from numacheck.model.variant import build
from numacheck.model.variants import BUILTIN
from numacheck.properties import resolve

SMALL = Instance(processes=1, pages=1, nodes=2)


@cache
def system() -> TransitionSystem:
    return build(BUILTIN["linux-4.0"], SMALL)


def obligation(name: str) -> Obligation:
    return resolve(name).instantiate(system(), SMALL)


def reachable(ts: TransitionSystem) -> list[int]:
    compiled = compile_system(ts, [])
    seen = set(ts.initial_states())
    frontier = list(seen)
    while frontier:
        nxt = []
        for s in frontier:
            for _, t, _, _ in compiled.expand(s):
                if t not in seen:
                    seen.add(t)
                    nxt.append(t)
        frontier = nxt
    return sorted(seen)


def sample(states: list[int], n: int = 150) -> list[int]:
    """Every k-th state, so the check stays quick whatever the state count."""
    return states[:: max(1, len(states) // n)]


def true_in(ts: TransitionSystem, x: dict[str, z3.ExprRef], formula: z3.BoolRef, state: int) -> bool:
    values = ts.schema.unpack(state)
    pairs = [(x[name], literal(v)) for name, v in values.items()]
    return z3.is_true(z3.simplify(z3.substitute(formula, *pairs)))


def background() -> tuple[z3.BoolRef, ...]:
    """Houdini's lemmas, computed once per Z3 context (run_check starts a fresh one)."""
    return _background(id(z3.main_ctx()))


@cache
def _background(context: int) -> tuple[z3.BoolRef, ...]:
    lemmas, _ = houdini(system(), Deadline(None))
    return tuple(lemmas)


def horn() -> Horn:
    return Horn(system(), Deadline(None), list(background()))


def test_houdini_lemmas_hold_in_every_reachable_state_and_are_inductive() -> None:
    ts, h = system(), horn()
    lemmas = background()
    assert 0 < len(lemmas) < len(candidates(ts))
    every = z3.And(*lemmas)
    for state in sample(reachable(ts)):
        assert true_in(ts, h.x, every, state)
    # inductive on their own: the certificate check with no property to imply
    assert check_certificate(h, Obligation("none", ""), z3.And(*lemmas), Deadline(None)) == ""


def test_houdini_drops_a_candidate_some_reachable_state_falsifies() -> None:
    ts, h = system(), horn()
    # "the PTE is never writable" is a candidate (PTE_RW | PTE_RW) but false after a write fault
    rw = h.x[pte_name(0, 0, "write")]
    states = reachable(ts)
    assert any(true_in(ts, h.x, rw, s) for s in states)
    text = render_invariant(z3.And(*background()), ts.schema).splitlines()
    assert f"!{pte_name(0, 0, 'write')}" not in text
    # and keeps one every reachable state satisfies: VM_WRITE only on a mapped VMA
    assert f"{vma_name(0, 'VM_WRITE')} => {vma_name(0, 'mapped')}" in text


def test_houdini_gives_up_when_time_is_up() -> None:
    with pytest.raises(HoudiniTimeoutError):
        houdini(system(), Deadline(1e-9))


def proof(prop: str) -> tuple[Horn, z3.BoolRef]:
    """Spacer's checked proof of ``prop`` on the small instance: its Horn system and invariant."""
    return _proof(prop, id(z3.main_ctx()))


@cache
def _proof(prop: str, context: int) -> tuple[Horn, z3.BoolRef]:
    ob = obligation(prop)
    answer, h, _, _ = ask(system(), list(background()), Deadline(120), lambda h: h.violation(ob))
    assert answer == z3.unsat
    return h, z3.And(h.invariant(), h.background)


def test_the_certificate_check_accepts_spacers_invariant_and_rejects_wrong_ones() -> None:
    h, inv = proof("write-requires-vm-write")
    ob = obligation("write-requires-vm-write")
    assert check_certificate(h, ob, inv, Deadline(None)) == ""
    # true everywhere but says nothing: it does not imply the property
    assert check_certificate(h, ob, z3.BoolVal(True), Deadline(None)) == "implies the property: sat"
    # false in the initial state
    mapped = h.x[vma_name(0, "mapped")]
    assert check_certificate(h, ob, z3.And(inv, mapped), Deadline(None)) == "initiation: sat"
    # the property alone is not inductive
    rw, write = h.x[pte_name(0, 0, "write")], h.x[vma_name(0, "VM_WRITE")]
    problem = check_certificate(h, ob, z3.Implies(rw, write), Deadline(None))
    assert problem.startswith("consecution of ") and problem.endswith(": sat")
    # "never writable" holds initially, but a write fault falsifies it: consecution fails
    never_rw = z3.And(inv, z3.Not(rw))
    problem = check_certificate(h, ob, never_rw, Deadline(None))
    assert problem.startswith("consecution of ") and problem.endswith(": sat")


def test_the_certificate_check_rejects_a_failing_step_check() -> None:
    ob = obligation("numa-restore-keeps-write")
    h, inv = proof("numa-restore-keeps-write")
    assert check_certificate(h, ob, inv, Deadline(None)) == ""
    assert check_certificate(h, ob, z3.BoolVal(True), Deadline(None)).startswith("step check on do_numa_page")


@pytest.mark.parametrize("prop", ["write-requires-vm-write", "numa-restore-keeps-write"])
def test_the_needed_part_of_a_proof_is_a_smaller_checked_certificate(prop: str) -> None:
    h, inv = proof(prop)
    ob = obligation(prop)
    clauses = clauses_of(inv)
    needed = [clauses[k] for k in needed_clauses(system(), h.x, ob, clauses, Deadline(None))]
    assert 0 < len(needed) < len(clauses)
    assert check_certificate(h, ob, z3.And(*needed), Deadline(None)) == ""


def test_pdr_reports_the_needed_part_beside_the_whole_certificate() -> None:
    prop = resolve("write-requires-vm-write")
    (r,) = run_check(Check(BUILTIN["linux-4.0"], (prop,), "pdr", SMALL, Limits(timeout=120)))
    assert r.verdict == "holds" and r.certificate and r.certificate_core
    full, core = r.certificate.splitlines(), r.certificate_core.splitlines()
    assert set(core) <= set(full) and len(core) < len(full)


def test_a_property_that_needs_no_clause_has_an_empty_core() -> None:
    h = horn()
    trivial = Obligation("trivial", "", invariant=h_true())
    assert needed_clauses(system(), h.x, trivial, [], Deadline(None)) == []
    assert needed_clauses(system(), h.x, trivial, clauses_of(z3.And(*background())), Deadline(None)) == []


def h_true() -> Expr:
    return const(True)
