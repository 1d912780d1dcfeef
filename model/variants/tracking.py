"""Why eras violate the uffd and softdirty areas' properties, said once for the eras that share a bug."""

UFFD_WP_SHMEM = (
    'A uffd-wp registered shmem VMA keeps a writable vm_page_prot (no writenotify for uffd-wp before 51d3d5eb74ff, 6.2), and the PTE rebuilds take their write bit from it while _PAGE_UFFD_WP survives in _PAGE_CHG_MASK: the NUMA hinting restore, mprotect(PROT_READ) then mprotect(PROT_READ|PROT_WRITE), and migration make a uffd-wp shmem PTE writable (b1f9e876862d .. 51d3d5eb74ff).'
)

SOFT_DIRTY_UFFD_WP_RANGE = (
    'uffd_wp_range() unprotects with vm_get_page_prot(vm_flags), which ignores the soft-dirty writenotify, so UFFDIO_WRITEPROTECT off (or UFFDIO_UNREGISTER) makes a shmem PTE that clear_refs write-protected writable without the fault that marks it soft-dirty (b1f9e876862d .. 931298e103c2).'
)
