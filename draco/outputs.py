"""What the commands write besides their tables: files (reports, pictures, logs, benchmark
tables) and progress on stderr.

Each command checks its output paths before it starts work (``check_writable``),
so a mistyped folder costs a one-line error, not a finished simulation or a
read of the whole job table; ``write_text`` turns a late failure (disk full, a
folder removed meanwhile) into the same kind of error.
"""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console
from rich.progress import Progress


class OutputError(ValueError):
    """A file can't be written; the message says which and why, on one line."""


def check_writable(path: str | os.PathLike[str]) -> Path:
    """``path`` as a ``Path`` once a file can be written there; else ``OutputError``.

    Tried, not guessed: the file is opened for appending (and removed again if it wasn't there), so a
    name too long, a folder like /proc or a read-only file system fails here, before any work is done.
    """
    target = Path(path)
    try:
        if target.is_dir():
            raise OutputError(f"cannot write {target}: it is a folder")
        if not target.parent.is_dir():
            raise OutputError(f"cannot write {target}: there is no folder {target.parent}")
        existed = target.exists()
        with open(target, "a"):
            pass
        if not existed:
            target.unlink()
    except OSError as err:
        raise OutputError(f"cannot write {target}: {err.strerror or err}") from None
    return target


def write_text(path: str | os.PathLike[str], text: str) -> None:
    try:
        Path(path).write_text(text)
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror or err}") from None


def progress(quiet: bool = False) -> Progress:
    """A progress display on stderr, off when ``quiet`` (``--json``) or when stderr is not a terminal."""
    console = Console(stderr=True)
    return Progress(console=console, transient=True, disable=quiet or not console.is_terminal)
