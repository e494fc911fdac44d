"""Execute an assignment notebook's cells and run its checks (the work of ``check`` and ``grade``).

The notebook's code cells run top to bottom in one namespace, in this process, as a kernel would
run them (IPython magics are translated when IPython is installed); the check cells are
skipped, because the checks themselves are run afterwards from the package (a student who edits
or deletes a check cell changes nothing). A cell that raises is recorded and execution goes on,
so one broken answer costs only the checks that need it. ``grade_notebook`` writes its result
as JSON after every check, so a submission killed at its time limit still keeps the checks it
finished.

Run as ``python -m pymarl_explained.assignments.executor NOTEBOOK --out result.json``: this is the
subprocess that ``check`` and ``grade`` start for each notebook.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import linecache
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from pymarl_explained.assignments.check_cells import load_extra_checks
from pymarl_explained.assignments.checking import (
    NOT_RUN,
    Check,
    CheckResult,
    run_check,
)
from pymarl_explained.assignments.notebooks import (
    grade_id,
    is_check_cell,
    notebook_assignment,
    read_notebook,
    source_text,
    validate_structure,
    write_text_atomic,
)
from pymarl_explained.assignments.registry import Assignment, AssignmentError, get_assignment

#: Characters of a submission's own output kept for its feedback.
OUTPUT_TAIL = 2000


@dataclass
class Execution:
    """The namespace of an executed notebook and what went wrong in its cells."""

    namespace: dict[str, Any]
    cell_errors: list[dict[str, Any]] = field(default_factory=list)
    answer_errors: dict[str, str] = field(default_factory=dict)
    not_implemented: set[str] = field(default_factory=set)
    output: str = ""


def _transform(source: str) -> str:
    """IPython syntax (``%magic``, ``!cmd``) -> plain Python, when IPython is available."""
    if "%" not in source and "!" not in source:
        return source
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return source
    return TransformerManager().transform_cell(source)


def _get_ipython():
    from IPython.core.interactiveshell import InteractiveShell

    return InteractiveShell.instance()


def execute_cells(nb: dict, spec: Assignment, parameters: dict[str, Any] | None = None,
                  sources: dict[int, str] | None = None, answers_only: bool = False) -> Execution:
    """Run every code cell of ``nb`` except the check cells; return the namespace and the errors.

    ``parameters`` are set after the cell tagged ``parameters`` runs (as papermill does);
    ``sources`` replaces the source of some cells (by index), e.g. a mutant's. ``answers_only``
    runs just the first code cell (the imports), the parameters cell and the answer cells: the
    assignments' answers depend on nothing else, and the lessons' demos are skipped (fast mutant
    tests).
    """
    namespace: dict[str, Any] = {"__name__": "__main__", "get_ipython": _get_ipython}
    execution = Execution(namespace)
    answer_cells = {part.answer_id: part.names for part in spec.parts}
    buffer = io.StringIO()
    first_code = next((i for i, c in enumerate(nb["cells"]) if c.get("cell_type") == "code"), -1)
    for index, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") != "code" or is_check_cell(cell):
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        if answers_only and index != first_code and grade_id(cell) not in answer_cells and "parameters" not in tags:
            continue
        source = (sources or {}).get(index, source_text(cell))
        try:
            filename = f"<cell {index}" + (f" {grade_id(cell)}>" if grade_id(cell) else ">")
            text = _transform(source)
            linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
            code = compile(text, filename, "exec")
            with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
                exec(code, namespace)  # noqa: S102 - running the notebook is the point
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a SystemExit (exit() in a cell) is that cell's error too
            message = f"{type(exc).__name__}: {exc}"
            cid = grade_id(cell)
            execution.cell_errors.append({"index": index, "grade_id": cid, "error": message})
            for name in answer_cells.get(cid, ()):
                if name not in namespace:
                    if isinstance(exc, NotImplementedError):
                        execution.not_implemented.add(name)
                    else:
                        execution.answer_errors[name] = message
        if "parameters" in tags and parameters:
            namespace.update(parameters)
        _close_figures()
    execution.output = buffer.getvalue()[-OUTPUT_TAIL:]
    return execution


def _close_figures() -> None:
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


def grade_notebook(path: str | os.PathLike, expected: str | None = None, extra_checks: list[Check] | None = None,
                   parameters: dict[str, Any] | None = None, out: str | os.PathLike | None = None,
                   sources: dict[int, str] | None = None, nb: dict | None = None, answers_only: bool = False,
                   only: set[str] | None = None) -> dict[str, Any]:
    """Execute the notebook at ``path`` and run every check of its assignment; returns the result dict.

    ``status`` is ``graded``, ``wrong_assignment``, ``unreadable`` or ``not_an_assignment``.
    With ``out``, the result is written there after every check. ``only`` restricts the checks run
    (by name; the mutant tests use it).
    """
    start = time.perf_counter()
    result: dict[str, Any] = {"notebook": str(path), "assignment": expected, "status": "graded", "problems": [],
                              "cell_errors": [], "results": [], "output_tail": ""}

    def save() -> None:
        result["seconds"] = round(time.perf_counter() - start, 3)
        if out is not None:
            write_text_atomic(out, json.dumps(result, indent=1) + "\n")

    try:
        nb = nb if nb is not None else read_notebook(path)
    except AssignmentError as exc:
        result.update(status="unreadable", problems=[str(exc)])
        save()
        return result
    actual = notebook_assignment(nb)
    if actual is None:
        result.update(status="not_an_assignment", problems=[
            f"{path}: not an assignment notebook (no '{'pymarl_assignment'}' metadata and no answer cells of any "
            "assignment); submit the notebook you were given."])
        save()
        return result
    if expected is not None and actual != expected:
        result.update(status="wrong_assignment", problems=[
            f"{path}: this is the notebook of assignment {actual!r}, but it was submitted for {expected!r}."])
        save()
        return result
    spec = get_assignment(actual)
    result["assignment"] = actual
    result["problems"] = validate_structure(nb, spec, path)
    checks = spec.checks() + [c for c in (extra_checks or []) if c.assignment == actual]
    if only is not None:
        checks = [c for c in checks if c.name in only]
    result["results"] = [CheckResult(c.name, c.part, NOT_RUN, 0.0, c.points, "not reached (time limit)",
                                     private=c.private).to_dict() for c in checks]
    save()
    execution = execute_cells(nb, spec, parameters, sources, answers_only)
    result["cell_errors"] = execution.cell_errors
    result["output_tail"] = execution.output
    for i, c in enumerate(checks):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            res = run_check(c, execution.namespace, execution.answer_errors, execution.not_implemented)
        result["results"][i] = res.to_dict()
        save()
    save()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Grade one notebook (the subprocess of check/grade).")
    parser.add_argument("notebook")
    parser.add_argument("--out", required=True)
    parser.add_argument("--assignment", default=None)
    parser.add_argument("--extra-checks", default=None)
    parser.add_argument("--param", action="append", default=[], help="name=JSON value, set after the parameters cell")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")  # this process only: figures are drawn, never shown
    parameters = {}
    for pair in args.param:
        name, _, value = pair.partition("=")
        parameters[name] = json.loads(value)
    try:
        extra = load_extra_checks(args.extra_checks)
    except AssignmentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    grade_notebook(args.notebook, args.assignment, extra, parameters, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
