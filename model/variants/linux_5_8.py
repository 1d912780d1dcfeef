"""Linux 5.8: every GUP of a COW mapping breaks COW first ("COW can break either way")."""

from numacheck.model.ops.gup import gup_ops
from numacheck.model.variants.gup import FORK_AFTER_PIN
from numacheck.model.variants.linux_4_16 import VARIANT as LINUX_4_16

VARIANT = LINUX_4_16.derive(
    "linux-5.8",
    replace_ops=gup_ops("5.8"),
    versions="5.8 .. 5.8",
    commits=("17839856fd58",),
    summary=(
        "17839856fd58 (\"gup: document and work around 'COW can break either way' issue\", "
        "CVE-2020-29374, reported by Jann Horn) makes __get_user_pages() set FOLL_WRITE for "
        "FOLL_GET and FOLL_PIN in a COW mapping (should_force_cow_break()), so a read-only GUP "
        "of a page fork shares copies it first and the reference is the GUP process's own page; "
        "can_follow_write_pte() trusts FOLL_COW without FOLL_FORCE.  The reuse rule is still "
        "reuse_swap_page(), and fork still shares pinned pages, so a page pinned before fork "
        "leaves the parent at its next write, or, once the parent unmaps it, is written in place by "
        "the child.  The hammer broke uffd-wp and other users and was "
        "replaced in 5.9 (linux-5.9)."
    ),
    expect_violated={**LINUX_4_16.expect_violated, "pin-isolation": FORK_AFTER_PIN},
    not_modelled=LINUX_4_16.not_modelled,
    source="",
)
