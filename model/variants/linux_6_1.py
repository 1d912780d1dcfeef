"""Linux 6.1: a migrated page keeps its young and dirty bits, so mprotect can upgrade it."""

from dataclasses import replace

from numacheck.model.ops.vma import mbind
from numacheck.model.variants import linux_6_0
from numacheck.model.variants.common import era_ops, not_modelled
from numacheck.model.variants.tracking import UFFD_BEFORE_6_2_NOT_MODELLED

VARIANT = replace(
    linux_6_0.VARIANT,
    name="linux-6.1",
    versions="6.1 .. 6.1",
    commits=("2e3468778dbe",),
    summary=(
        "2e3468778dbe (\"mm: remember young/dirty bit for page migrations\") makes the migration "
        "entry carry the PTE's young and dirty bits and remove_migration_pte() put them back.  "
        "So a written page that a hinting fault migrated comes back dirty, and 6.0's mprotect "
        "upgrade (64fe24a3e05e: dirty, exclusive, tracking off) makes it writable again without "
        "a write fault, where 6.0 rebuilt it clean and the next write faulted.  numacheck "
        "conform found it: on Debian's 6.1 the built-in scenario migrated-by-read-then-mprotect "
        "takes no write fault after mprotect(PROT_READ|PROT_WRITE), and linux-6.0 predicted one.  "
        "Otherwise as 6.0 (savedwrite hinting fault of 5.13, PageAnonExclusive reuse, "
        "5535be309971's FOLL_FORCE rule)."
    ),
    operations=(*era_ops(scan="4.16", fault="6.1", mprotect_rule="6.0", reuse="PageAnonExclusive",
                         uffd="5.19", gup="6.0"),
                mbind),
    not_modelled=not_modelled(
        "6.1.13+ stable also has 96a9c287e25d's pte_wrprotect() in remove_migration_pte(), which "
        "changes nothing here: a readable entry in a shared writable VMA never arises with "
        "savedwrite.  " + UFFD_BEFORE_6_2_NOT_MODELLED),
    source="",
)
