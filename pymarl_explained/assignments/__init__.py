"""Course assignments: solution notebooks, generated student notebooks, checks and a grader.

The notebooks live in the repository's ``assignments/`` folder (one folder per assignment, see
``assignments/README.md``, the instructor guide); this package holds what they use:

- :mod:`.registry`: the assignments, their parts and answer cells;
- :mod:`.checks`: one module of named checks per assignment, each with a specific hint;
- :mod:`.checking`: running a check and reporting it;
- :mod:`.check_cells`: :func:`check`, the one-line check cell of a notebook, and the instructor's
  private checks (:func:`check_private`, :func:`extra_check`);
- :mod:`.notebooks`: nbgrader-compatible release of student notebooks (deterministic);
- :mod:`.executor` and :mod:`.grading`: executing a notebook and grading a folder of them;
- :mod:`.mutants`: deliberately wrong answers, each rejected by a named check;
- :mod:`.capstone`: plugging a student's components into the registries for a real training run.

``python -m pymarl_explained.assignments {list,release,check,grade}`` is the command line.
"""

from __future__ import annotations

from pymarl_explained.assignments.check_cells import check, check_private, extra_check
from pymarl_explained.assignments.checking import CheckFailed, expect
from pymarl_explained.assignments.registry import ASSIGNMENTS, AssignmentError, get_assignment

__all__ = ["ASSIGNMENTS", "AssignmentError", "CheckFailed", "check", "check_private", "expect", "extra_check",
           "get_assignment"]
