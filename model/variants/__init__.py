"""The built-in kernel eras, in kernel order, and loading a variant from a user's file."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

from numacheck.model.diagnose import did_you_mean, explain
from numacheck.model.expr import ModelError
from numacheck.model.variant import Variant
from numacheck.model.variants import (
    linux_3_19,
    linux_4_0,
    linux_4_0_rc1,
    linux_4_0_rc4,
    linux_4_8,
    linux_4_9,
    linux_4_16,
    linux_5_8,
    linux_5_9,
    linux_5_13,
    linux_5_16,
    linux_5_19,
    linux_6_0,
    linux_6_1,
    linux_6_2,
    linux_6_3,
    linux_6_4,
    linux_6_11,
)

BUILTIN: dict[str, Variant] = {
    m.VARIANT.name: replace(m.VARIANT, source=m.VARIANT.source or str(m.__file__))
    for m in (linux_3_19, linux_4_0_rc1, linux_4_0_rc4, linux_4_0, linux_4_8, linux_4_9,
              linux_4_16, linux_5_8, linux_5_9, linux_5_13, linux_5_16, linux_5_19, linux_6_0,
              linux_6_1, linux_6_2, linux_6_3, linux_6_4, linux_6_11)
}


class VariantFileError(ModelError):
    """A user variant file that cannot be loaded."""


def load_variant_file(path: str) -> Variant:
    """The variant a Python file defines as ``VARIANT`` (built through numacheck.model).

    Every mistake is a :class:`VariantFileError` at the file's line (see model/diagnose.py); what
    the file prints goes to stderr, so a report on stdout stays valid.
    """
    file = Path(path)
    if not file.is_file():
        raise VariantFileError(f"variant file {path} does not exist")
    name = f"numacheck_user_variant_{abs(hash(str(file.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise VariantFileError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        with contextlib.redirect_stdout(sys.stderr):
            spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        raise VariantFileError(f"{path}{_line_of(exc, file)}: {explain(exc, str(file))}") from None
    variant = getattr(module, "VARIANT", None)
    if not isinstance(variant, Variant):
        raise VariantFileError(f"{path} must define VARIANT = <a numacheck.model.Variant>")
    if variant.name in BUILTIN:
        raise VariantFileError(
            f"{path}:{_line_with(file, variant.name)}: VARIANT is named {variant.name!r}, like the "
            f"built-in era; give the patched variant a name of its own, e.g. "
            f"derive('{variant.name}-my-patch', ...)")
    _check_expectations(variant, file)
    if not variant.source:
        variant = replace(variant, source=str(file))
    return variant


def _check_expectations(variant: Variant, file: Path) -> None:
    from numacheck.properties import BUILTIN as PROPERTIES  # properties are built on the model

    for prop in variant.expect_violated:
        if prop not in PROPERTIES:
            raise VariantFileError(
                f"{file}:{_line_with(file, prop)}: expect_violated names an unknown property "
                f"{prop!r}{did_you_mean(prop, PROPERTIES)}; properties: {', '.join(PROPERTIES)}")


def _line_with(file: Path, needle: str) -> int:
    """The first line of ``file`` that quotes ``needle``, else the line assigning VARIANT."""
    lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    for quoted in (f'"{needle}"', f"'{needle}'", "VARIANT"):
        for number, line in enumerate(lines, 1):
            if quoted in line:
                return number
    return 1


def _line_of(exc: BaseException, file: Path) -> str:
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f":{exc.lineno}"
    tb = exc.__traceback__
    line = ""
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename).resolve() == file.resolve():
            line = f":{tb.tb_lineno}"
        tb = tb.tb_next
    return line


def resolve(name_or_path: str) -> Variant:
    """A built-in variant by name, or the variant of a ``.py`` file."""
    if name_or_path in BUILTIN:
        return BUILTIN[name_or_path]
    if name_or_path.endswith(".py") or "/" in name_or_path:
        return load_variant_file(name_or_path)
    known = ", ".join(BUILTIN)
    raise VariantFileError(
        f"unknown variant {name_or_path!r}; built-in variants: {known} (or a path to a .py file)")
