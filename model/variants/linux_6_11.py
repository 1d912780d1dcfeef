"""Linux 6.11: the folio is isolated under the PT lock; only a later failure drops write."""

from numacheck.model.ops.vma import mbind
from numacheck.model.variant import Variant
from numacheck.model.variants.common import era_ops, not_modelled
from numacheck.model.variants.linux_6_2 import VARIANT as LINUX_6_2

VARIANT = Variant(
    name="linux-6.11",
    versions="6.11 .. current",
    commits=("ee86814b0562", "40b760cfd445", "d74943a2f3cd"),
    summary=(
        "ee86814b0562 (\"mm/migrate: move NUMA hinting fault folio isolation + checks under "
        "PTL\") calls migrate_misplaced_folio_prepare() before the PT lock is dropped.  If "
        "isolation fails (or the target node or an exec-shared folio refuses it), the fault "
        "passes TNF_MIGRATE_FAIL and restores the PTE with the write bit it re-determined, "
        "because it never unlocked; only a migration that is tried after the unlock, "
        "successful or not, forces writable = false.  This is the isolate_failed outcome, which "
        "6.2-6.10 do not have (their isolation failure happens after the unlock).  40b760cfd445 "
        "stops accounting a fault whose PTE changed meanwhile (statistics only).  The rebuild "
        "after migration is 6.4's; the newest trees (6.15 folio_maybe_mapped_shared, 6.17 "
        "mprotect PTE batching) behave the same for order-0 pages.  GUP takes the NUMA hinting "
        "fault even with FOLL_FORCE (d74943a2f3cd, FOLL_HONOR_NUMA_FAULT, 6.5)."
    ),
    operations=(*era_ops(scan="6.2", fault="6.11", mprotect_rule="6.2", reuse="PageAnonExclusive",
                         uffd="6.3", gup="6.5"),
                mbind),
    expect_violated={
        "numa-migrate-keeps-write": "Deliberate (6a56ccbcf6c6): a migration tried after the "
                                    "unlock, successful or failed, leaves an anonymous page "
                                    "read-only; only an isolation failure under the lock keeps "
                                    "the write bit.",
        "numa-grouping-matches-write": "Writability is re-determined rather than remembered: an "
                                       "exclusive page that a migration left read-only counts "
                                       "as writable at its next hinting fault.",
    },
    not_modelled=not_modelled(
        "Large folios (numa_rebuild_large_mapping()); the statistics side of 40b760cfd445; "
        "linux-next's folio_can_map_prot_numa() skips pinned folios in every VMA, and pins are "
        "not modelled."),
    # The shortest counterexamples are those recorded for linux-6.2 (checked against the engine
    # on every run, checker/shapes.py): the migration path this era keeps from 6.2.
    expect_trace={p: LINUX_6_2.expect_trace[p]
                  for p in ("numa-migrate-keeps-write", "numa-grouping-matches-write")},
)
