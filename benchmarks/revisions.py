"""The package at another git revision, for the side-by-side benchmarks (``bench_env.py --compare``,
``bench_train.py --e2e-compare``)."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def package_at(rev: str) -> Iterator[str]:
    """A temporary folder holding ``pymarl_explained`` as it was at git revision ``rev`` (put the
    folder on ``PYTHONPATH`` to import that version); removed afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "pymarl_explained"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        yield folder
