"""The scenario language: user-level sequences of mmaps, accesses, forks, mprotects and scans.

A scenario file holds one or more scenarios, each a ``scenario NAME`` line followed by one step
a line, in the words a kernel developer uses for the system call or event::

    scenario anon-write-scan-write
      # a written private page keeps its write permission across a NUMA hinting fault
      mmap MAP_PRIVATE PROT_READ|PROT_WRITE 1
      write 0
      numa_scan
      write 0

Steps (one process, one region of 1-4 pages; pages are numbered from 0):

=========================  ==================================================================
``mmap FLAGS PROT N``      MAP_PRIVATE (anonymous) or MAP_SHARED (anonymous, i.e. shmem), N pages
``read I`` / ``write I``   one load or store to page I
``fork``                   fork(); the child sleeps, keeping its copy of the region
``child_exit``             the newest child exits (its mappings go, as munmap)
``mprotect PROT``          mprotect() of the whole region
``munmap``                 munmap() of the region
``mbind``                  mbind(MPOL_BIND | MPOL_F_NUMA_BALANCING) of a MAP_SHARED region
``clear_refs``             echo 4 > /proc/self/clear_refs (a soft-dirty round)
``move_to_node N``         sched_setaffinity() to the CPU of node N
``numa_scan``              wait until the NUMA scan has passed over the whole address space
=========================  ==================================================================

PROT is ``PROT_NONE``, ``PROT_READ`` or ``PROT_READ|PROT_WRITE`` (PROT_WRITE alone means the
same on x86).  ``#`` starts a comment; comment lines right after ``scenario`` describe it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from numacheck.model.instance import MAX_PAGES, MAX_PROCESSES

#: Protections by their mmap(2) spelling -> the model's name (model/ops/vma.py PROTS).
PROTS = {
    "PROT_NONE": "none",
    "PROT_READ": "read",
    "PROT_READ|PROT_WRITE": "readwrite",
    "PROT_WRITE|PROT_READ": "readwrite",
    "PROT_WRITE": "readwrite",
}
#: mmap flags -> the model's ``flags`` parameter.
MAP_FLAGS = {"MAP_PRIVATE": "private", "MAP_SHARED": "shared"}
#: The built-in scenarios, in the scenario language.
BUILTIN_FILE = Path(__file__).with_name("builtin.scn")
#: Nodes of the guest (and of the model instance conform builds).
NODES = 2

#: Each step word and its arguments, for the one-line messages.
WORDS = {
    "mmap": "mmap MAP_PRIVATE|MAP_SHARED PROT N",
    "read": "read PAGE",
    "write": "write PAGE",
    "fork": "fork",
    "child_exit": "child_exit",
    "mprotect": "mprotect PROT",
    "munmap": "munmap",
    "mbind": "mbind",
    "clear_refs": "clear_refs",
    "move_to_node": "move_to_node NODE",
    "numa_scan": "numa_scan",
}


_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class ScenarioError(ValueError):
    """A scenario that cannot be read or run; the message names the file and line."""


@dataclass(frozen=True)
class Step:
    """One user-level step.  ``arg`` is the page (read/write), the node (move_to_node) or the
    page count (mmap); ``flags`` and ``prot`` are the model's names (``private``, ``readwrite``)."""

    op: str
    arg: int = 0
    flags: str = ""
    prot: str = ""

    @property
    def is_access(self) -> bool:
        """A load or store: the steps whose faults are counted and compared."""
        return self.op in ("read", "write")

    def text(self) -> str:
        """The step as a scenario file spells it."""
        prot = {v: k for k, v in reversed(PROTS.items())}
        if self.op == "mmap":
            flags = {v: k for k, v in MAP_FLAGS.items()}[self.flags]
            return f"mmap {flags} {prot[self.prot]} {self.arg}"
        if self.op == "mprotect":
            return f"mprotect {prot[self.prot]}"
        if self.op in ("read", "write", "move_to_node"):
            return f"{self.op} {self.arg}"
        return self.op


@dataclass(frozen=True)
class Scenario:
    """A named sequence of steps; ``where`` is ``file:line`` of its ``scenario`` line."""

    name: str
    steps: tuple[Step, ...]
    doc: str = ""
    where: str = ""
    #: Derived sizes: pages of the region, processes (1 + forks), whether clear_refs is used.
    pages: int = field(init=False)
    processes: int = field(init=False)
    softdirty: bool = field(init=False)

    def __post_init__(self) -> None:
        mmaps = [s.arg for s in self.steps if s.op == "mmap"]
        object.__setattr__(self, "pages", max(mmaps, default=1))
        object.__setattr__(self, "processes", 1 + sum(s.op == "fork" for s in self.steps))
        object.__setattr__(self, "softdirty", any(s.op == "clear_refs" for s in self.steps))

    def text(self) -> str:
        """The scenario as a scenario file spells it."""
        lines = [f"scenario {self.name}"]
        lines += [f"  # {d}" for d in self.doc.splitlines()]
        lines += [f"  {s.text()}" for s in self.steps]
        return "\n".join(lines) + "\n"


def _int(word: str, what: str, lo: int, hi: int, where: str) -> int:
    if not word.isdigit() or not lo <= int(word) <= hi:
        raise ScenarioError(f"{where}: {what} must be a number from {lo} to {hi}, got {word!r}")
    return int(word)


def _prot(word: str, where: str) -> str:
    try:
        return PROTS[word]
    except KeyError:
        raise ScenarioError(f"{where}: unknown protection {word!r}; write PROT_NONE, PROT_READ or "
                            "PROT_READ|PROT_WRITE") from None


def parse_step(words: list[str], where: str) -> Step:
    """One step from the words of its line."""
    op, args = words[0], words[1:]
    if op not in WORDS:
        raise ScenarioError(f"{where}: unknown step {op!r}; steps: {', '.join(WORDS)}")
    wanted = len(WORDS[op].split()) - 1
    if len(args) != wanted:
        raise ScenarioError(f"{where}: {op} takes {wanted} argument(s): {WORDS[op]}")
    if op == "mmap":
        if args[0] not in MAP_FLAGS:
            raise ScenarioError(f"{where}: mmap flags must be MAP_PRIVATE or MAP_SHARED, got {args[0]!r}")
        return Step("mmap", _int(args[2], "the page count", 1, MAX_PAGES, where), MAP_FLAGS[args[0]],
                    _prot(args[1], where))
    if op == "mprotect":
        return Step("mprotect", prot=_prot(args[0], where))
    if op in ("read", "write"):
        return Step(op, _int(args[0], "the page", 0, MAX_PAGES - 1, where))
    if op == "move_to_node":
        return Step(op, _int(args[0], "the node", 0, NODES - 1, where))
    return Step(op)


def check(scenario: Scenario) -> None:
    """Raise ScenarioError when the steps do not fit the one-region, one-task model."""
    where = scenario.where or scenario.name
    mapped, children, shared = False, 0, False
    if not scenario.steps or scenario.steps[0].op != "mmap":
        raise ScenarioError(f"{where}: scenario {scenario.name} must start with mmap")
    if scenario.processes > MAX_PROCESSES:
        raise ScenarioError(f"{where}: at most {MAX_PROCESSES - 1} forks in a scenario")
    for n, s in enumerate(scenario.steps, 1):
        at = f"{where}: step {n} ({s.text()})"
        if s.op == "mmap":
            if mapped:
                raise ScenarioError(f"{at}: the region is already mapped (one region a scenario)")
            if s.arg != scenario.pages:
                raise ScenarioError(f"{at}: every mmap of a scenario must map the same page count")
            mapped, shared = True, s.flags == "shared"
        elif not mapped and s.op not in ("move_to_node", "numa_scan", "child_exit"):
            raise ScenarioError(f"{at}: needs the region mapped (mmap first)")
        elif s.is_access and s.arg >= scenario.pages:
            raise ScenarioError(f"{at}: the region has {scenario.pages} page(s)")
        elif s.op == "munmap":
            mapped = False
        elif s.op == "mbind" and not shared:
            raise ScenarioError(f"{at}: mbind is modelled for a MAP_SHARED (shmem) region only")
        if s.op == "fork":
            children += 1
        elif s.op == "child_exit":
            if not children:
                raise ScenarioError(f"{at}: no child to exit")
            children -= 1


def parse(text: str, source: str = "<scenarios>") -> list[Scenario]:
    """Every scenario of a scenario file's text, checked."""
    out: list[Scenario] = []
    name, start = "", 0
    doc: list[str] = []
    steps: list[Step] = []

    def close() -> None:
        if name:
            out.append(Scenario(name, tuple(steps), "\n".join(doc), f"{source}:{start}"))

    for number, raw in enumerate(text.splitlines(), 1):
        line, _, comment = raw.partition("#")
        words = line.split()
        where = f"{source}:{number}"
        if not words:
            if comment.strip() and name and not steps:
                doc.append(comment.strip())
            continue
        if words[0] == "scenario":
            if len(words) != 2 or not _NAME.fullmatch(words[1]):
                raise ScenarioError(f"{where}: write 'scenario NAME', NAME one word of letters, "
                                    "digits, '-', '_' and '.'")
            close()
            name, start, doc, steps = words[1], number, [], []
            if any(s.name == name for s in out):
                raise ScenarioError(f"{where}: scenario {name} is defined twice")
            continue
        if not name:
            raise ScenarioError(f"{where}: a step before the first 'scenario NAME' line")
        steps.append(parse_step(words, where))
    close()
    if not out:
        raise ScenarioError(f"{source}: no scenario in the file (a 'scenario NAME' line starts one)")
    for s in out:
        check(s)
    return out


def load(path: str) -> list[Scenario]:
    """The scenarios of a file; a missing or unreadable file is a ScenarioError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read scenario file {path}: {exc}") from None
    return parse(text, path)


def builtin() -> list[Scenario]:
    """The built-in scenarios (conform/builtin.scn)."""
    return load(str(BUILTIN_FILE))
