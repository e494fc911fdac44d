"""Atomic file writes for checkpoints and results.

A training run can be interrupted at any moment (Ctrl-C, a killed job, a full disk). Writing a
checkpoint straight to its final name can then leave a truncated ``agent.th`` that a later
``checkpoint_path`` resume would fail to load. Both helpers here write to a temporary file in the
same directory first and then rename it over the destination with :func:`os.replace`, which is
atomic on POSIX and Windows: readers see either the old file or the complete new one.

The file gets the permissions a plain ``open(path, "w")`` would give it (0644 under the usual
umask 022): ``tempfile.mkstemp`` creates its files readable by their owner only (0600), which would
hide checkpoints and results from other users, or from a host reading a container's volume.

PyMARL defect fixed: PyMARL calls ``th.save(..., "{}/agent.th".format(path))`` directly, so an
interrupted save leaves a corrupt checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import torch


def default_file_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file: 0o666 minus the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[str]:
    """For writers that take a file name: a temporary name next to ``path`` (same extension, the
    mode of a plain ``open()``), renamed to ``path`` when the block ends without an error::

        with atomic_output("battle.gif") as tmp:
            anim.save(tmp, writer=PillowWriter(fps=5))
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # ".agent.th.<random>.tmp.th": marked as temporary, and still ending in the real extension
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}")
    os.fchmod(fd, default_file_mode())
    os.close(fd)
    try:
        yield tmp_name
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise


def _atomic_write(path: str | os.PathLike, mode: str, write: Callable[[IO], None], **open_kwargs) -> None:
    """Call ``write(file)`` on a temporary file next to ``path`` (flushed to disk), then rename it to ``path``."""
    with atomic_output(path) as tmp_name, open(tmp_name, mode, **open_kwargs) as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save(obj, path)``, but atomically (parent directories are created)."""
    _atomic_write(path, "wb", lambda handle: torch.save(obj, handle))


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (parent directories are created)."""
    _atomic_write(path, "w", lambda handle: handle.write(text), encoding=encoding)
