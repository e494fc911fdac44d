"""What a notebook's check cells call: :func:`check` (the assignment's own checks) and, in the
hidden-test region, :func:`check_private` (the instructor's private checks, from a folder kept
outside the repository).

Every ``*.py`` file of the folder named by ``$PYMARL_ASSIGNMENT_EXTRA_CHECKS`` (or by
``grade --extra-checks``) declares ``CHECKS`` with :func:`extra_check`; :func:`check_private` runs
those of one assignment in the hidden-test region of a check cell.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pymarl_explained.assignments.checking import (
    NOT_IMPLEMENTED,
    Check,
    CheckResult,
    ChecksNotPassed,
    format_report,
    make_check_decorator,
    run_check,
)
from pymarl_explained.assignments.registry import AssignmentError, get_assignment

#: Environment variable naming the instructor's private checks folder (read by the hidden-test region).
EXTRA_CHECKS_ENV = "PYMARL_ASSIGNMENT_EXTRA_CHECKS"


def load_extra_checks(folder: str | os.PathLike | None) -> list[Check]:
    """The instructor's private checks: every ``*.py`` in ``folder`` declares ``CHECKS``.

    A file looks like (``assignment`` and ``part`` name where it belongs)::

        from pymarl_explained.assignments import extra_check
        CHECKS = []
        check = extra_check("replay_buffer", "insert", CHECKS)

        @check(points=1, hint="a buffer of one slot must keep only the newest episode")
        def buffer_of_one(insert_episode_batch): ...
    """
    if not folder:
        return []
    folder = Path(folder)
    if not folder.is_dir():
        raise AssignmentError(f"--extra-checks {folder}: no such folder")
    checks: list[Check] = []
    for path in sorted(folder.glob("*.py")):
        module_name = f"_pymarl_extra_checks_{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise AssignmentError(f"{path}: cannot be imported")
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise AssignmentError(f"{path}: the extra checks file raised {type(exc).__name__}: {exc}") from exc
        found = getattr(module, "CHECKS", None)
        if not isinstance(found, list) or not all(isinstance(c, Check) for c in found):
            raise AssignmentError(f"{path}: must define CHECKS, a list of checks (see assignments/README.md)")
        checks.extend(found)
    return checks


def extra_check(assignment: str, part: str, registry: list[Check]) -> Callable[..., Any]:
    """The decorator of an instructor's private check (see :func:`load_extra_checks`)."""
    spec = get_assignment(assignment)
    spec.part(part)  # a clear error for a wrong part name
    base = make_check_decorator(assignment, part, registry)

    def decorator(points: float = 1.0, hint: str = "", timeout_s: float = 120):
        return base(points=points, hint=hint, timeout_s=timeout_s, private=True)

    return decorator


def check(assignment: str, namespace: Mapping[str, Any], part: str | None = None, *, quiet: bool = False
          ) -> list[CheckResult]:
    """The notebook's check cell: run the checks of ``assignment`` (of one ``part``) on ``namespace``.

    Prints one line per check and raises :class:`ChecksNotPassed` if any did not pass.
    """
    spec = get_assignment(assignment)
    checks = [c for c in spec.checks() if part is None or c.part == part]
    if not checks:
        raise ValueError(f"assignment {assignment!r} has no checks for part {part!r}; parts: {spec.parts}")
    results = [run_check(c, namespace) for c in checks]
    if not quiet:
        print(format_report(results))
    bad = [r for r in results if not r.passed]
    if bad:
        if all(r.status == NOT_IMPLEMENTED for r in bad):
            raise ChecksNotPassed(f"{len(bad)} check(s) not implemented yet: " + ", ".join(r.name for r in bad))
        raise ChecksNotPassed(f"{len(bad)} of {len(results)} checks did not pass: "
                              + "; ".join(f"{r.name}: {r.message}" for r in bad))
    return results


def check_private(assignment: str, namespace: Mapping[str, Any], *, quiet: bool = False) -> list[CheckResult]:
    """The hidden-test region of a check cell: the instructor's private checks of ``assignment``.

    They are read from the folder named by ``$PYMARL_ASSIGNMENT_EXTRA_CHECKS`` (kept outside the
    repository); without it, nothing runs. The released notebook does not contain this call
    (nbgrader re-inserts hidden tests when it autogrades; ``grade --extra-checks`` runs them
    without it).
    """
    folder = os.environ.get(EXTRA_CHECKS_ENV)
    checks = [c for c in load_extra_checks(folder) if c.assignment == assignment] if folder else []
    results = [run_check(c, namespace) for c in checks]
    if results and not quiet:
        print(format_report(results, "instructor checks:"))
    bad = [r for r in results if not r.passed]
    if bad:
        raise ChecksNotPassed(f"{len(bad)} instructor check(s) did not pass: " + ", ".join(r.name for r in bad))
    return results
