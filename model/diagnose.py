"""Pointing a mistake in a variant file at the file's own line, with what to do about it.

A variant file runs twice: when it is imported (``derive``, era factories, expectations) and when
its operations' bodies run symbolically at build time.  Either way an error is reported as
``file:line: what is wrong; what to do``, with a did-you-mean for misspelt names, never as an
internal error of numacheck.
"""

from __future__ import annotations

import builtins
import difflib
import re
import sys
import sysconfig
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from numacheck.model.expr import ModelError

#: Folders of numacheck's own code: a frame there is never the user's line.
_OWN = tuple(str(Path(__file__).resolve().parent.parent / d)
             for d in ("model", "checker", "properties", "reports"))
#: Python's own library and the installed packages.
_LIBRARY = tuple({str(Path(sysconfig.get_paths()[k]).resolve()) for k in ("stdlib", "purelib", "platlib")})

T = TypeVar("T")


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, else the empty string."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def lookup(table: Mapping[str, T], key: str, what: str) -> T:
    """``table[key]``, or a ModelError naming ``what`` and the known keys."""
    found = table.get(key)
    if found is None:
        raise ModelError(f"unknown {what} {key!r}{did_you_mean(key, table)}; known: {', '.join(table)}")
    return found


def user_frame(tb: TracebackType | None) -> tuple[str, int] | None:
    """The innermost frame of ``tb`` in the user's code (not numacheck's, not a library's)."""
    found = None
    while tb is not None:
        file = tb.tb_frame.f_code.co_filename
        resolved = str(Path(file).resolve()) if not file.startswith("<") else file
        if not resolved.startswith(_OWN + _LIBRARY) and not file.startswith("<"):
            found = (file, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _innermost_globals(tb: TracebackType | None, file: str) -> dict[str, object]:
    names: dict[str, object] = {}
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == file:
            names = {**tb.tb_frame.f_globals, **tb.tb_frame.f_locals}
        tb = tb.tb_next
    return names


def explain(exc: BaseException, file: str = "") -> str:
    """``exc`` as one line saying what is wrong and, for a misspelt name, what was meant."""
    if isinstance(exc, ModelError):
        return str(exc)
    if isinstance(exc, SystemExit):
        return ("the variant file called sys.exit(): a variant file only defines VARIANT; "
                "remove the call")
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, NameError) and not isinstance(exc, UnboundLocalError) and exc.name:
        known = set(_innermost_globals(exc.__traceback__, file)) | set(dir(builtins))
        import numacheck.model as public

        if exc.name in public.__all__:
            return f"{text}; import it: from numacheck.model import {exc.name}"
        return text + did_you_mean(exc.name, known | set(public.__all__))
    if isinstance(exc, AttributeError) and exc.name:
        return text + did_you_mean(exc.name, [n for n in dir(exc.obj) if not n.startswith("_")])
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        parent, _, leaf = exc.name.rpartition(".")
        module = sys.modules.get(parent)
        siblings = [n for n in dir(module) if not n.startswith("_")] if module is not None else []
        return text + did_you_mean(leaf, siblings)
    if isinstance(exc, ImportError):
        missing = re.match(r"cannot import name '(\w+)' from '([\w.]+)'", str(exc))
        if missing:
            module = sys.modules.get(missing.group(2))
            names = [n for n in dir(module) if not n.startswith("_")] if module is not None else []
            return f"cannot import name {missing.group(1)!r} from {missing.group(2)}" + \
                did_you_mean(missing.group(1), names)
    return text
