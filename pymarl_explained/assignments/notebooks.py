"""Reading, validating and releasing assignment notebooks (nbgrader-compatible, nbgrader-free).

Solution notebooks use nbgrader's conventions, so an instructor may also run nbgrader on them:

- an answer cell has ``metadata.nbgrader = {"solution": true, "grade_id": "answer_<part>", ...}``
  and its solution between ``### BEGIN SOLUTION`` and ``### END SOLUTION``;
- a check cell has ``{"grade": true, "locked": true, "points": <sum of its checks>, "grade_id":
  "check_<part>"}`` and may hold a region between ``### BEGIN HIDDEN TESTS`` and
  ``### END HIDDEN TESTS`` that the student notebook leaves out;
- every other cell is a locked lesson cell (``{"locked": true, "grade_id": "lesson_<n>"}``).

:func:`release_notebook` does what ``nbgrader generate_assignment`` does to them: each solution
region becomes ``# YOUR CODE HERE`` / ``raise NotImplementedError()`` (at the region's
indentation), hidden-test regions are removed, outputs are stripped. It is deterministic: the
JSON is written with sorted keys, one-space indent, a fixed nbformat version (4.5) and cell ids
derived from the cells' grade_ids, so the committed student notebook can be compared with a
fresh release. Only the standard library is used.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pymarl_explained.assignments.registry import ASSIGNMENTS, Assignment, AssignmentError
from pymarl_explained.utils.atomic import atomic_write_text

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
MARKDOWN_STUB = "YOUR ANSWER HERE"
METADATA_KEY = "pymarl_assignment"
NBFORMAT = (4, 5)
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def source_text(cell: dict) -> str:
    """A cell's source as one string (Jupyter stores either a string or a list of lines)."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def read_notebook(path: str | os.PathLike) -> dict:
    """Load a notebook as a dict, with clear errors for a missing, unreadable or non-notebook file."""
    path = Path(path)
    if not path.is_file():
        raise AssignmentError(f"{path}: no such notebook file")
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise AssignmentError(f"{path}: unreadable, not a UTF-8 text file ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise AssignmentError(f"{path}: unreadable, not a Jupyter notebook (invalid JSON at line {exc.lineno}: "
                              f"{exc.msg}); was it saved from JupyterLab as .ipynb?") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list) or nb.get("nbformat") != 4:
        raise AssignmentError(f"{path}: not a Jupyter notebook of format 4 (no 'cells' list or 'nbformat': 4)")
    for i, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise AssignmentError(f"{path}: cell {i} is malformed")
    return nb


def grade_id(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def is_check_cell(cell: dict) -> bool:
    """An autograded check cell (nbgrader ``grade: true`` on a code cell, or our ``check_`` id)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and (bool(meta.get("grade")) and not meta.get("solution")
                                                or (grade_id(cell) or "").startswith("check_"))


def notebook_assignment(nb: dict) -> str | None:
    """The assignment a notebook belongs to: its metadata, else inferred from its answer cells' ids."""
    name = nb.get("metadata", {}).get(METADATA_KEY, {}).get("name")
    if name:
        return str(name)
    ids = {grade_id(c) for c in nb["cells"]} - {None}
    matches = [a.name for a in ASSIGNMENTS.values() if {p.answer_id for p in a.parts if p.names} <= ids]
    return matches[0] if len(matches) == 1 else None


def validate_structure(nb: dict, spec: Assignment, path: str | os.PathLike = "notebook") -> list[str]:
    """Problems with the notebook's cells (missing answer/check cells), as clear sentences.

    A missing answer cell does not stop grading: the names it defined are reported ``missing``
    by the checks that need them; these sentences go to the feedback.
    """
    ids = [grade_id(c) for c in nb["cells"]]
    problems = []
    for part in spec.parts:
        if part.names and part.answer_id not in ids:
            names = ", ".join(f"`{n}`" for n in part.names)
            problems.append(f"{path}: the answer cell {part.answer_id!r} (it defines {names}) is missing: it was "
                            "deleted or its metadata was changed. Copy it back from the released notebook.")
    dupes = sorted({i for i in ids if i is not None and ids.count(i) > 1})
    if dupes:
        problems.append(f"{path}: cells share the grade_id(s) {dupes}: a copied cell? Each answer cell must "
                        "appear once.")
    return problems


def _replace_regions(text: str, begin: str, end: str, stub: tuple[str, ...] | None, where: str) -> str:
    """Replace every ``begin``..``end`` region (marker lines included) by ``stub`` at the begin line's indent."""
    out: list[str] = []
    inside = None
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped == begin:
            if inside is not None:
                raise AssignmentError(f"{where}: {begin!r} inside another region")
            inside = line[: len(line) - len(line.lstrip())]
            if stub is not None:
                out.extend(inside + s for s in stub)
        elif stripped == end:
            if inside is None:
                raise AssignmentError(f"{where}: {end!r} without {begin!r}")
            inside = None
        elif inside is None:
            out.append(line)
    if inside is not None:
        raise AssignmentError(f"{where}: {begin!r} without {end!r}")
    return "\n".join(out)


def student_source(cell: dict, where: str = "cell") -> str:
    """The source a student sees for ``cell`` (solutions stubbed, hidden tests removed)."""
    text = source_text(cell)
    if cell.get("cell_type") == "code":
        text = _replace_regions(text, BEGIN_SOLUTION, END_SOLUTION, CODE_STUB, where)
    else:
        text = _replace_regions(text, BEGIN_SOLUTION, END_SOLUTION, (MARKDOWN_STUB,), where)
    text = _replace_regions(text, BEGIN_HIDDEN, END_HIDDEN, None, where)
    return text.rstrip("\n")


def strip_hidden(text: str, where: str = "cell") -> str:
    """``text`` without its hidden-test regions (what the checks of a check cell show)."""
    return _replace_regions(text, BEGIN_HIDDEN, END_HIDDEN, None, where)


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _cell_id(cell: dict, index: int) -> str:
    return (grade_id(cell) or f"cell_{index}").replace("_", "-")[:64]


def normalized_cell(cell: dict, index: int, source: str) -> dict:
    """A cell with only the fields a clean notebook needs (no outputs, no volatile metadata)."""
    meta: dict[str, Any] = {}
    if "nbgrader" in cell.get("metadata", {}):
        meta["nbgrader"] = dict(cell["metadata"]["nbgrader"])
    tags = cell.get("metadata", {}).get("tags")
    if tags:
        meta["tags"] = list(tags)
    new = {"cell_type": cell["cell_type"], "id": _cell_id(cell, index), "metadata": meta, "source": _lines(source)}
    if cell["cell_type"] == "code":
        new["execution_count"] = None
        new["outputs"] = []
    return new


def notebook_metadata(name: str) -> dict:
    return {
        "kernelspec": dict(KERNELSPEC),
        "language_info": {"name": "python"},
        METADATA_KEY: {"name": name, "version": 1},
    }


def release_notebook(nb: dict, name: str, where: str = "notebook") -> dict:
    """The student notebook generated from the solution notebook ``nb`` of assignment ``name``."""
    cells = [normalized_cell(c, i, student_source(c, f"{where}, cell {i}")) for i, c in enumerate(nb["cells"])]
    return {"cells": cells, "metadata": notebook_metadata(name), "nbformat": NBFORMAT[0],
            "nbformat_minor": NBFORMAT[1]}


def dumps_notebook(nb: dict) -> str:
    """The notebook's JSON as Jupyter writes it (one-space indent, sorted keys), deterministically."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (the package's
    :func:`~pymarl_explained.utils.atomic.atomic_write_text`: mode 0644 under umask 022)."""
    atomic_write_text(path, text)


def release(spec: Assignment, root: Path | None = None) -> tuple[Path, bool]:
    """Regenerate ``release/<name>.ipynb`` from ``source/<name>.ipynb``; returns (path, changed)."""
    src = spec.source_path(root)
    nb = read_notebook(src)
    if notebook_assignment(nb) != spec.name:
        raise AssignmentError(f"{src}: its metadata says assignment {notebook_assignment(nb)!r}, not {spec.name!r}")
    problems = validate_structure(nb, spec, src)
    if problems:
        raise AssignmentError("\n".join(problems))
    text = dumps_notebook(release_notebook(nb, spec.name, str(src)))
    dest = spec.release_path(root)
    changed = not dest.is_file() or dest.read_text(encoding="utf-8") != text
    if changed:
        write_text_atomic(dest, text)
    return dest, changed
