"""Memory readings for limits and statistics (Linux /proc, with a portable fallback)."""

from __future__ import annotations

import os
import resource


def rss_mb() -> float:
    """Resident set size of this process now, in MiB."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            resident = int(fh.read().split()[1])
        return resident * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return peak_mb()


def peak_mb() -> float:
    """Peak resident set size of this process, in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
