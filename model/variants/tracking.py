"""Why eras violate the uffd and softdirty areas' properties, said once for the eras that share
a bug, and the shortest counterexamples recorded for them (on AREA_INSTANCE)."""

from dataclasses import replace

from numacheck.model.instance import AREA_INSTANCE
from numacheck.model.variant import TraceShape, trace_shape


def on_area_instance(functions: str) -> TraceShape:
    """A recorded trace shape (see trace_shape) found on AREA_INSTANCE, where a run without
    --areas checks these properties."""
    return replace(trace_shape(functions), instance=AREA_INSTANCE)


#: What the 5.19-6.1 eras' uffd area leaves out or approximates.
UFFD_BEFORE_6_2_NOT_MODELLED = (
    "do_fault() builds a shmem PTE from 6.2's vm_page_prot (read-only in a uffd-wp VMA), where "
    "5.19-6.1 map a read fault writable; the new PTE has no _PAGE_UFFD_WP and UFFDIO_WRITEPROTECT "
    "write-protects it anyway, so no verdict depends on it.  UFFDIO_UNREGISTER unprotects every "
    "PTE (the reset on unregister, version unconfirmed).  Trace displays of vm_page_prot use "
    "6.2's value."
)

#: uffd-wp PTE of a shared writable shmem VMA made writable by mprotect(PROT_READ|PROT_WRITE).
UFFD_WP_BY_MPROTECT = on_area_instance(
    "mmap uffd_register_wp access do_fault uffd_writeprotect mprotect")
#: A write-protected shmem PTE made writable, not soft-dirty, by uffd_wp_range() on unregister.
SOFT_DIRTY_BY_UFFD_UNREGISTER = on_area_instance(
    "mmap uffd_register_wp clear_refs access do_fault uffd_unregister")

UFFD_WP_SHMEM = (
    'A uffd-wp registered shmem VMA keeps a writable vm_page_prot (no writenotify for uffd-wp '
    'before 51d3d5eb74ff, 6.2), and the PTE rebuilds take their write bit from it while '
    '_PAGE_UFFD_WP survives in _PAGE_CHG_MASK: the NUMA hinting restore, mprotect(PROT_READ) then '
    'mprotect(PROT_READ|PROT_WRITE), and migration make a uffd-wp shmem PTE writable '
    '(b1f9e876862d .. 51d3d5eb74ff).'
)

SOFT_DIRTY_UFFD_WP_RANGE = (
    'uffd_wp_range() unprotects with vm_get_page_prot(vm_flags), which ignores the soft-dirty '
    'writenotify, so UFFDIO_WRITEPROTECT off (or UFFDIO_UNREGISTER) makes a shmem PTE that '
    'clear_refs write-protected writable without the fault that marks it soft-dirty (b1f9e876862d '
    '.. 931298e103c2).'
)
