"""What sets each kernel era apart from its neighbours, as concrete states on the smallest instance.

Every test drives a built-in variant's transition system through a sequence of kernel paths and
compares the PTE it ends with against the neighbouring era's (tests/kernel.py); the engine-level
tests run the explicit search on 1-process instances.  The default-instance matrix is
``make verify``.
"""

from __future__ import annotations

from dataclasses import replace

import click
import pytest
from click.testing import CliRunner

from numacheck.checker.cli import main
from numacheck.checker.outcome import Limits
from numacheck.checker.run import Check, run_check
from numacheck.model.expr import ModelError
from numacheck.model.instance import Instance
from numacheck.model.ops.numa import (
    FAILED_AFTER_UNLOCK,
    ISOLATE_FAILED,
    NO_MIGRATION,
    NUMA_FAULT_RULES,
    NumaFaultRule,
    do_numa_page,
)
from numacheck.model.system import TransitionSystem
from numacheck.model.variants import BUILTIN
from numacheck.model.variants.releases import KernelVersionError, for_kernel
from numacheck.properties import BUILTIN as PROPERTIES
from numacheck.properties import covered_by
from tests.kernel import outputs, pte, run, step, system

RW_PRIVATE = "mmap(p=0, prot=readwrite, flags=private)"
RW_SHARED = "mmap(p=0, prot=readwrite, flags=shared)"
WRITE = "access(p=0, page=0, kind=write)"
READ = "access(p=0, page=0, kind=read)"
SCAN = "change_prot_numa(p=0, page=0)"
WRITTEN = [RW_PRIVATE, WRITE, "do_anonymous_page(p=0, page=0)"]  # a private page written once
MISPLACED = ["migrate_task_to(p=0, node=1)", SCAN, READ]  # hinted, the task now on node 1


def fault(outcome: str) -> str:
    return f"do_numa_page(p=0, page=0, outcome={outcome})"


def one_process(era: str) -> TransitionSystem:
    """1 process x 1 page, 2 nodes: enough for a migration."""
    return system(era, processes=1, pages=1, nodes=2)


# linux-4.16 against linux-4.9 -------------------------------------------------------------------

@pytest.mark.parametrize(("era", "scanned"), [("linux-4.9", True), ("linux-4.16", False)])
def test_4_16_no_longer_hints_a_page_shared_by_fork(era: str, scanned: bool) -> None:
    ts = system(era, processes=2, pages=1, nodes=1)
    shared = run(ts, [*WRITTEN, "fork(p=0, child=1)"])
    assert (step(ts, shared, SCAN) is not None) is scanned
    # the page is still hinted once the child is gone (mapcount back to 1)
    alone = run(ts, ["munmap(p=1)"], shared)
    assert step(ts, alone, SCAN) is not None


# linux-5.13 against linux-6.2 and linux-4.16 ----------------------------------------------------

@pytest.mark.parametrize(("era", "writable"), [("linux-5.13", True), ("linux-6.2", False)])
def test_5_13_migrates_from_the_hint_and_keeps_write(era: str, writable: bool) -> None:
    ts = one_process(era)
    hinted = run(ts, [*WRITTEN, *MISPLACED])
    assert pte(hinted)["write"] is writable  # savedwrite: _PAGE_RW stays in the PROT_NONE entry
    migrated = run(ts, [fault("migrated")], hinted)
    assert migrated["anon0.page_to_nid"] == 1 and pte(migrated)["present"]
    assert pte(migrated)["write"] is writable
    failed = run(ts, [fault("migrate_failed")], hinted)
    assert failed["anon0.page_to_nid"] == 0 and pte(failed)["present"]
    assert pte(failed)["write"] is writable
    assert outputs(ts, hinted, fault("migrate_failed"))["tnf_migrate_fail"] is True


def test_5_13_reordering_alone_costs_no_write_bit() -> None:
    # restore-then-migrate (4.16) and migrate-from-the-hint (5.13) end in the same state
    labels = [*WRITTEN, *MISPLACED, fault("migrated")]
    assert run(one_process("linux-4.16"), labels) == run(one_process("linux-5.13"), labels)


# linux-6.0 against linux-5.13 and linux-6.2 -----------------------------------------------------

REPROTECT = ["mprotect(p=0, prot=read)", "mprotect(p=0, prot=readwrite)"]


@pytest.mark.parametrize(("era", "upgraded"), [("linux-5.13", False), ("linux-6.0", True)])
def test_6_0_mprotect_upgrades_a_dirty_exclusive_page(era: str, upgraded: bool) -> None:
    s = run(one_process(era), [*WRITTEN, *REPROTECT])
    assert pte(s)["dirty"] and s["anon0.PageAnonExclusive"]
    assert pte(s)["write"] is upgraded


def test_6_0_leaves_a_clean_exclusive_page_to_the_write_fault() -> None:
    # a 6.0 migration rebuilds the PTE old and clean (writable, from the saved write)
    clean = run(one_process("linux-6.0"), [*WRITTEN, *MISPLACED, fault("migrated"),
                                           "mprotect(p=0, prot=read)"])
    assert not pte(clean)["dirty"] and not pte(clean)["write"] and clean["anon0.PageAnonExclusive"]
    after_6_0 = run(one_process("linux-6.0"), ["mprotect(p=0, prot=readwrite)"], clean)
    after_6_2 = run(one_process("linux-6.2"), ["mprotect(p=0, prot=readwrite)"], clean)
    assert not pte(after_6_0)["write"]  # can_change_pte_writable() needs pte_dirty()
    assert pte(after_6_2)["write"]      # d84887739d5c: clean exclusive anon qualifies


# linux-6.4 against linux-6.2 --------------------------------------------------------------------

@pytest.mark.parametrize(("era", "writable"), [("linux-6.2", False), ("linux-6.4", True)])
def test_6_4_migrated_shmem_page_comes_back_writable(era: str, writable: bool) -> None:
    ts = one_process(era)
    hinted = run(ts, [RW_SHARED, "mbind(p=0)", WRITE, "do_fault(p=0, page=0)", *MISPLACED])
    assert pte(hinted)["protnone"] and not pte(hinted)["write"]
    s = run(ts, [fault("migrated")], hinted)
    assert s["shmem0.page_to_nid"] == 1 and pte(s)["present"]
    assert pte(s)["write"] is writable  # 6.2: pte_wrprotect of a readable entry; 6.4: PAGE_SHARED


def test_6_4_anonymous_pages_still_come_back_read_only() -> None:
    s = run(one_process("linux-6.4"), [*WRITTEN, *MISPLACED, fault("migrated")])
    assert not pte(s)["write"] and s["anon0.PageAnonExclusive"]


# linux-6.11 against linux-6.4 -------------------------------------------------------------------

def test_6_11_isolation_failure_under_the_lock_keeps_write() -> None:
    ts = one_process("linux-6.11")
    hinted = run(ts, [*WRITTEN, *MISPLACED])
    out = outputs(ts, hinted, fault("isolate_failed"))
    s = run(ts, [fault("isolate_failed")], hinted)
    assert pte(s)["present"] and pte(s)["write"] and s["anon0.page_to_nid"] == 0
    assert out["tnf_migrate_fail"] is True and out["tnf_migrated"] is False
    # a failure after the unlock still drops the write bit, as in 6.4
    assert not pte(run(ts, [fault("migrate_failed")], hinted))["write"]
    labels = {a.label for a in one_process("linux-6.4").actions}
    assert fault("isolate_failed") not in labels and fault("migrate_failed") in labels


def _verdict(rule: NumaFaultRule, prop: str) -> str:
    variant = BUILTIN["linux-6.11"].derive("linux-6.11-outcomes", replace_ops=(do_numa_page(rule),),
                                           expect_violated={})
    check = Check(variant, (PROPERTIES[prop],), "explicit", Instance(1, 1, 2), Limits())
    return run_check(check)[0].verdict


def test_6_11_write_loss_comes_only_from_failures_after_the_unlock() -> None:
    # the 6.11 rule with a chosen set of outcomes, passed as a rule object, searched exhaustively
    rule = NUMA_FAULT_RULES["6.11"]
    under_lock = replace(rule, outcomes=(NO_MIGRATION, ISOLATE_FAILED))
    after_unlock = replace(rule, outcomes=(NO_MIGRATION, FAILED_AFTER_UNLOCK))
    assert _verdict(under_lock, "numa-migrate-keeps-write") == "holds"
    assert _verdict(after_unlock, "numa-migrate-keeps-write") == "violated"


def test_a_fault_rule_with_two_outcomes_of_one_name_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="distinct"):
        do_numa_page(replace(NUMA_FAULT_RULES["6.2"], outcomes=(NO_MIGRATION, NO_MIGRATION)))


# every era: its expectations on a one-process instance ------------------------------------------

@pytest.mark.parametrize("era", ["linux-4.16", "linux-5.13", "linux-6.0", "linux-6.1", "linux-6.4",
                                 "linux-6.11"])
def test_new_eras_meet_their_expectations_on_one_process(era: str) -> None:
    check = Check(BUILTIN[era], covered_by(Instance(1, 1, 2)), "explicit", Instance(1, 1, 2), Limits())
    results = run_check(check)
    assert [r for r in results if not r.as_expected] == []
    assert all(r.verdict != "vacuous" for r in results)


# --kernel -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("release", "era"), [
    ("6.1", "linux-6.1"), ("6.0.19", "linux-6.0"), ("6.12", "linux-6.11"), ("6.10.3", "linux-6.4"),
    ("v5.12", "linux-5.9"),
    ("4.0-rc4", "linux-4.0-rc4"), ("4.0-rc6", "linux-4.0"), ("4.9-rc2", "linux-4.9"),
    ("3.13", "linux-3.19"), ("6.2", "linux-6.2"), ("6.3", "linux-6.3"), ("5.19", "linux-5.19"),
    ("5.18", "linux-5.16"), ("5.15", "linux-5.13"), ("4.8-rc7", "linux-4.0"), ("4.8-rc8", "linux-4.8"),
    ("4.8.17", "linux-4.8"), ("5.7", "linux-4.16"), ("5.8", "linux-5.8"),
])
def test_a_release_picks_the_variant_that_covers_it(release: str, era: str) -> None:
    assert for_kernel(release, BUILTIN.values()).name == era


def test_every_release_from_3_13_is_covered_by_exactly_one_narrowest_variant() -> None:
    releases = ([f"3.{m}" for m in range(13, 20)] + [f"4.{m}" for m in range(21)]
                + [f"5.{m}" for m in range(20)] + [f"6.{m}" for m in range(19)])
    picked = {for_kernel(r, BUILTIN.values()).name for r in releases}
    assert picked == set(BUILTIN) - {"linux-4.0-rc1", "linux-4.0-rc4"}


@pytest.mark.parametrize("release", ["2.6", "3.12", "4", "six"])
def test_an_uncovered_or_malformed_release_is_an_input_error(release: str) -> None:
    with pytest.raises(KernelVersionError):
        for_kernel(release, BUILTIN.values())


def invoke(*args: str) -> tuple[int, str, str]:
    """Run ``numacheck ARGS`` as the console script does; (exit code, stdout, stderr)."""
    result = CliRunner().invoke(_entry, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
               add_help_option=False)
@click.pass_context
def _entry(ctx: click.Context) -> None:
    main(ctx.args)


@pytest.mark.parametrize(("release", "era"), [("6.1", "linux-6.1"), ("6.12", "linux-6.11")])
def test_verify_kernel_runs_the_right_variant(release: str, era: str) -> None:
    code, out, _ = invoke("verify", "--kernel", release, "-p", "write-requires-vm-write",
                          "--processes", "1", "--nodes", "1")
    assert code == 0
    assert {line.split()[0] for line in out.splitlines() if line.startswith("linux-")} == {era}


def test_verify_kernel_2_6_is_a_usage_error_naming_the_ranges() -> None:
    code, out, err = invoke("verify", "--kernel", "2.6")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "2.6" in err and "6.1 .. 6.1 (linux-6.1)" in err and "6.11 .. current" in err


def test_show_kernel_says_what_the_variant_stands_for_and_leaves_out() -> None:
    code, out, _ = invoke("show", "--kernel", "6.1")
    assert code == 0
    assert out.startswith("linux-6.1  (stands for Linux 6.1 .. 6.1)")
    assert "Leaves out: 6.1.13+ stable also has 96a9c287e25d" in out
    code, _, err = invoke("show")
    assert code == 2 and "NAME or --kernel" in err


def test_list_shows_every_era() -> None:
    code, out, _ = invoke("list")
    assert code == 0
    for v in BUILTIN.values():
        assert any(line.split()[:2] == [v.name, v.versions.split()[0]] for line in out.splitlines())
