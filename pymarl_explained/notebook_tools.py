"""Re-execute the notebooks in place (``make notebooks``); ``project_path``.

The notebooks are committed executed, with their outputs and execution counts, because
``pytest --nbval`` re-runs them in ``make test`` and compares every output with the stored one.
This command is the one way they are regenerated: each notebook runs top to bottom in a fresh
kernel started in ``notebooks/`` (as JupyterLab and nbval do), with a fixed hash seed, and the
volatile metadata (timings, kernel ids) is dropped so the diff shows only real changes. It is
also the one run that writes the tracked ``figures/``: it sets ``PYMARL_EXPLAINED_FIGURES`` for
the kernel (:mod:`pymarl_explained.notebook_setup`); a notebook run any other way (JupyterLab,
nbval) writes its figures to a scratch folder.

    python -m pymarl_explained.notebook_tools execute notebooks/0*.ipynb

``project_path`` lets a notebook name files relative to the repository root wherever its kernel
was started. Importing this module needs only the standard library (nbformat and nbclient, from
the dev tools, are imported by ``execute_notebook``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

FIGURES_ENV = "PYMARL_EXPLAINED_FIGURES"
"""Environment variable naming the folder the notebooks write figures to (set by :func:`execute_notebook`)."""


def project_path(path: str | os.PathLike) -> Path:
    """``path`` as the notebooks mean it: an absolute path as it is, a relative one from the
    repository root, whether the kernel runs in ``notebooks/`` (JupyterLab, nbval, ``make
    notebooks``, ``papermill --cwd notebooks``) or in the root (``papermill notebooks/06_...``)."""
    path = Path(path)
    if path.is_absolute():
        return path
    cwd = Path.cwd()
    return (cwd.parent if cwd.name == "notebooks" else cwd) / path


def coalesce_streams(outputs: list) -> list:
    """Merge consecutive stdout (or stderr) chunks: how a stream was split is timing, not content."""
    merged: list = []
    for out in outputs:
        prev = merged[-1] if merged else None
        if (out.output_type == "stream" and prev is not None and prev.output_type == "stream"
                and prev.name == out.name):
            prev.text += out.text
        else:
            merged.append(out)
    return merged


def tracked_figures_dir(notebook: Path) -> Path:
    """The repository's ``figures/`` folder for a notebook of its ``notebooks/`` folder."""
    return notebook.resolve().parent.parent / "figures"


def execute_notebook(path: Path, timeout: int = 900) -> float:
    """Run ``path`` in a fresh kernel and save it with its outputs. Returns the seconds taken.

    The kernel writes its figures to the repository's ``figures/`` (``PYMARL_EXPLAINED_FIGURES``).
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    start = time.time()
    previous = os.environ.get(FIGURES_ENV)
    os.environ[FIGURES_ENV] = str(tracked_figures_dir(path))  # inherited by the kernel
    try:
        client.execute()
    finally:
        if previous is None:
            os.environ.pop(FIGURES_ENV, None)
        else:
            os.environ[FIGURES_ENV] = previous
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return time.time() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("execute", help="execute notebooks in place")
    ex.add_argument("notebooks", nargs="+", type=Path)
    ex.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args(argv)

    os.environ.setdefault("PYTHONHASHSEED", "0")
    os.environ.pop("MPLBACKEND", None)  # leaks into the kernel; notebooks use %matplotlib inline
    for nb_path in args.notebooks:
        seconds = execute_notebook(nb_path, timeout=args.timeout)
        print(f"executed {nb_path} in {seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
