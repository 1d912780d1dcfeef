"""Where a report goes: stdout, one file, or a folder of files, each written atomically.

The destination is opened before the run by creating a temporary file next to the target, so an
unwritable ``-o`` fails at once (whatever permission bits say, and for root too) instead of after
a long check; the report is then written into that temporary file and renamed over the target,
so a reader (or a second run writing the same file) never sees half a report.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

#: ``-o -``: the report goes to stdout.
STDOUT = "-"


class OutputError(Exception):
    """The report cannot be written there (a usage error: exit code 2)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _make_folder(target: Path, folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write to {target}: {exc.strerror}") from None


class _Pending:
    """A temporary file next to ``target``, renamed over it by :meth:`commit`."""

    def __init__(self, target: Path) -> None:
        self.target = target
        try:
            fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        except OSError as exc:
            raise OutputError(f"cannot write to {target}: {exc.strerror}") from None
        os.close(fd)
        self.temp = Path(name)

    def commit(self, text: str) -> None:
        try:
            self.temp.write_text(text, encoding="utf-8")
            self.temp.chmod(0o666 & ~_umask())  # as an ordinary new file, not mkstemp's 0600
            os.replace(self.temp, self.target)
        except OSError as exc:
            self.discard()
            raise OutputError(f"cannot write {self.target}: {exc.strerror}") from None

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.temp.unlink()


class Destination:
    """Where ``verify`` writes its report: None or ``-`` for stdout, else a file or a folder."""

    def __init__(self, output: str | None, folder: bool = False) -> None:
        self.path = None if output is None or output == STDOUT else Path(output)
        self.folder = folder
        self._file: _Pending | None = None
        if self.path is None:
            if folder:
                raise OutputError("this format writes one file per trace: give a directory with --output")
            return
        if folder:
            self._open_folder(self.path)
        else:
            if self.path.is_dir():
                raise OutputError(f"cannot write to {self.path}: it is a directory")
            _make_folder(self.path, self.path.parent)
            self._file = _Pending(self.path)

    @staticmethod
    def _open_folder(path: Path) -> None:
        _make_folder(path, path)
        _Pending(path / "probe").discard()

    @property
    def temporary(self) -> Path | None:
        """The temporary file a file destination writes before renaming it (None otherwise)."""
        return None if self._file is None else self._file.temp

    @property
    def to_stdout(self) -> bool:
        """Whether the report goes to stdout."""
        return self.path is None

    def write(self, text: str) -> None:
        """Write the one report (a file destination)."""
        assert self._file is not None
        self._file.commit(text)
        self._file = None

    def write_files(self, files: dict[str, str]) -> None:
        """Write each file of a folder destination, each atomically."""
        assert self.path is not None and self.folder
        for name, body in files.items():
            _Pending(self.path / name).commit(body)

    def close(self) -> None:
        """Remove the temporary file when the run ends without a report (an error, Ctrl-C)."""
        if self._file is not None:
            self._file.discard()
            self._file = None
