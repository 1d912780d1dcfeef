"""The guest side: the tools it needs, the probe build, the initramfs and the kernel's release.

Everything the guest runs is built here from the host's Debian packages: the static probe
(probe.c, gcc -static), a static busybox for /init, and a newc cpio archive written in Python.
A missing tool is a one-line :class:`ToolError` naming the Debian package that provides it.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: The probe's source, shipped with the package.
PROBE_SOURCE = Path(__file__).with_name("probe.c")
#: Where Debian's linux-image-* packages put kernel images.
BOOT = Path("/boot")
QEMU = "qemu-system-x86_64"


class ToolError(RuntimeError):
    """A tool or file the guest needs is missing; the message says what to install."""


def _tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ToolError(f"{name} not found; install the Debian package {package} "
                        f"(apt-get install {package})")
    return found


def qemu() -> str:
    """The qemu-system-x86_64 binary."""
    return _tool(QEMU, "qemu-system-x86")


def gcc() -> str:
    """The C compiler for the probe."""
    return _tool("gcc", "gcc")


def _is_static(path: Path) -> bool:
    """An ELF file without a PT_INTERP program header (so it runs without a dynamic loader)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return False
    phoff = int.from_bytes(data[32:40], "little")
    size, count = int.from_bytes(data[54:56], "little"), int.from_bytes(data[56:58], "little")
    return all(int.from_bytes(data[phoff + k * size:phoff + k * size + 4], "little") != 3
               for k in range(count))


def busybox() -> Path:
    """A statically linked busybox (Debian's busybox-static installs /bin/busybox)."""
    for candidate in (shutil.which("busybox"), "/bin/busybox", "/usr/bin/busybox"):
        if candidate and Path(candidate).is_file() and _is_static(Path(candidate)):
            return Path(candidate)
    raise ToolError("a static busybox not found; install the Debian package busybox-static "
                    "(apt-get install busybox-static)")


def default_kernel_image() -> Path:
    """The newest /boot/vmlinuz-* (the Debian kernel package's image)."""
    images = sorted(BOOT.glob("vmlinuz-*"), key=lambda p: [int(x) if x.isdigit() else 0
                                                           for x in re.split(r"[.-]", p.name[8:])])
    if not images:
        raise ToolError("no kernel image in /boot; install the Debian package linux-image-amd64 "
                        "or give --kernel-image PATH")
    return images[-1]


def kernel_release(image: Path) -> str:
    """The release string a bzImage carries (setup header ``kernel_version``), e.g.
    ``6.1.0-57-amd64``; see Documentation/arch/x86/boot.rst."""
    try:
        data = image.read_bytes()
    except OSError as exc:
        raise ToolError(f"cannot read kernel image {image}: {exc.strerror}") from None
    if len(data) < 0x210 or data[0x202:0x206] != b"HdrS":
        raise ToolError(f"{image} is not an x86 bzImage (no 'HdrS' setup header); give the "
                        "arch/x86/boot/bzImage of a kernel build")
    offset = int.from_bytes(data[0x20E:0x210], "little") + 0x200
    return data[offset:offset + 128].split(b"\0")[0].split(b" ")[0].decode("ascii", "replace")


def release_version(release: str) -> str:
    """The upstream version of a release string (``6.1.0-57-amd64`` -> ``6.1``,
    ``6.8.0-rc3+`` -> ``6.8-rc3``), as ``--kernel`` reads it."""
    m = re.match(r"(\d+)\.(\d+)(?:\.\d+)?(-rc\d+)?", release)
    if m is None:
        raise ToolError(f"cannot read a kernel version from the image's release {release!r}; "
                        "give --variant")
    return f"{m.group(1)}.{m.group(2)}{m.group(3) or ''}"


def build_probe(out: Path) -> Path:
    """Compile the probe statically into ``out``/probe."""
    target = out / "probe"
    done = subprocess.run([gcc(), "-static", "-O2", "-Wall", "-o", str(target), str(PROBE_SOURCE),
                           "-lpthread"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no output"])[0]
        raise ToolError(f"gcc could not build the probe ({first}); the static C library comes "
                        "with the Debian package libc6-dev")
    return target


@dataclass(frozen=True)
class Tuning:
    """Guest settings that make counts reproducible (docs/conform.md says why each is needed)."""

    scan_period_ms: int = 25
    scan_size_mb: int = 64
    scan_timeout_s: int = 60
    run_timeout_s: int = 120


def init_script(tuning: Tuning) -> str:
    """The guest's /init: mount, check the kernel has what the probe needs, tune, run the probe
    over the program, power off.  The NUMA scan tunables are in debugfs from 5.13 and were
    /proc/sys/kernel/numa_balancing_* before."""
    d = "/sys/kernel/debug/sched/numa_balancing"
    return "\n".join([
        "#!/bin/busybox sh",
        "B=/bin/busybox",
        "$B mount -t proc proc /proc",
        "$B mount -t sysfs sys /sys",
        "$B mount -t debugfs debugfs /sys/kernel/debug",
        'fatal() { echo "@fatal $*"; $B poweroff -f; }',
        "[ -e /proc/sys/kernel/numa_balancing ] || fatal 'no kernel.numa_balancing: the kernel "
        "needs CONFIG_NUMA_BALANCING'",
        "[ -e /sys/devices/system/node/node1 ] || fatal 'one NUMA node: the kernel needs CONFIG_NUMA'",
        "[ -e /proc/self/clear_refs ] || fatal 'no /proc/PID/clear_refs: the kernel needs "
        "CONFIG_PROC_PAGE_MONITOR'",
        f"if [ -d {d} ]; then T={d}/; else T=/proc/sys/kernel/numa_balancing_; fi",
        "[ -e ${T}scan_delay_ms ] || fatal 'no NUMA scan tunables: the kernel needs "
        "CONFIG_SCHED_DEBUG and CONFIG_DEBUG_FS'",
        # off between scans: the probe turns kernel.numa_balancing on only while it waits for one
        "echo 0 > /proc/sys/kernel/numa_balancing",
        "echo 0 > ${T}scan_delay_ms",
        f"echo {tuning.scan_size_mb} > ${{T}}scan_size_mb",
        f"echo {tuning.scan_period_ms} > ${{T}}scan_period_min_ms",
        f"echo {tuning.scan_period_ms} > ${{T}}scan_period_max_ms",
        "echo 4096 > /sys/kernel/debug/fault_around_bytes",  # no fault-around (not modelled)
        "echo never > /sys/kernel/mm/transparent_hugepage/enabled",
        "echo @guest $($B uname -r)",
        f"/probe /program {tuning.scan_timeout_s} {tuning.run_timeout_s}",
        "$B poweroff -f",
        "",
    ])


def _cpio_entry(name: str, mode: int, data: bytes, ino: int) -> bytes:
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
    head = b"070701" + b"".join(f"{v:08X}".encode() for v in fields) + name.encode() + b"\0"
    head += b"\0" * (-len(head) % 4)
    return head + data + b"\0" * (-len(data) % 4)


def initramfs(files: dict[str, tuple[bytes, int]], dirs: tuple[str, ...]) -> bytes:
    """A newc cpio archive (the format the kernel unpacks as initramfs) of ``dirs`` and
    ``files`` (path -> contents, permission bits)."""
    out, ino = [], 1
    for d in dirs:
        out.append(_cpio_entry(d, stat.S_IFDIR | 0o755, b"", ino))
        ino += 1
    for path, (data, perm) in files.items():
        out.append(_cpio_entry(path, stat.S_IFREG | perm, data, ino))
        ino += 1
    out.append(_cpio_entry("TRAILER!!!", 0, b"", 0))
    return b"".join(out)


def guest_image(work: Path, program: str, tuning: Tuning) -> Path:
    """Build probe and initramfs for ``program`` (the probe's input) in ``work``."""
    probe = build_probe(work)
    archive = initramfs(
        {
            "init": (init_script(tuning).encode(), 0o755),
            "bin/busybox": (busybox().read_bytes(), 0o755),
            "probe": (probe.read_bytes(), 0o755),
            "program": (program.encode(), 0o644),
        },
        ("bin", "proc", "sys", "dev", "tmp"),
    )
    target = work / "initramfs.cpio"
    target.write_bytes(archive)
    os.chmod(target, 0o644)
    return target
