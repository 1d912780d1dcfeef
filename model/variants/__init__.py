"""The built-in kernel eras, in kernel order, and loading a variant from a user's file."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

from numacheck.model.expr import ModelError
from numacheck.model.variant import Variant
from numacheck.model.variants import (
    linux_3_19,
    linux_4_0,
    linux_4_0_rc1,
    linux_4_0_rc4,
    linux_4_9,
    linux_4_16,
    linux_5_13,
    linux_6_0,
    linux_6_2,
    linux_6_4,
    linux_6_11,
)

BUILTIN: dict[str, Variant] = {
    m.VARIANT.name: replace(m.VARIANT, source=m.VARIANT.source or str(m.__file__))
    for m in (linux_3_19, linux_4_0_rc1, linux_4_0_rc4, linux_4_0, linux_4_9, linux_4_16,
              linux_5_13, linux_6_0, linux_6_2, linux_6_4, linux_6_11)
}


class VariantFileError(ModelError):
    """A user variant file that cannot be loaded."""


def load_variant_file(path: str) -> Variant:
    """The variant a Python file defines as ``VARIANT`` (built through numacheck.model)."""
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
        spec.loader.exec_module(module)
    except ModelError as exc:
        raise VariantFileError(f"{path}: {exc}") from None
    except Exception as exc:
        line = _line_of(exc, file)
        raise VariantFileError(f"{path}{line}: {type(exc).__name__}: {exc}") from None
    variant = getattr(module, "VARIANT", None)
    if not isinstance(variant, Variant):
        raise VariantFileError(f"{path} must define VARIANT = <a numacheck.model.Variant>")
    if not variant.source:
        variant = replace(variant, source=str(file))
    return variant


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
