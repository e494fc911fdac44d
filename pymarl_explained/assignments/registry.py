"""The course assignments: names, parts, answer cells and where their files live.

Each assignment is one notebook in ``assignments/<name>/``: the solution notebook
``source/<name>.ipynb`` (the instructor's source, nbgrader's ``source`` layout) and the student
notebook ``release/<name>.ipynb`` generated from it by ``python -m pymarl_explained.assignments
release``. A *part* is one answer cell (nbgrader ``grade_id`` ``answer_<part>``, a solution cell)
followed by one check cell (``check_<part>``, an autograded, locked cell) that runs the checks of
that part. Importing this module needs only the standard library.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path

from pymarl_explained.assignments.checking import Check


class AssignmentError(Exception):
    """A user-facing problem with an assignment, a notebook or a submission (printed without traceback)."""


@dataclass(frozen=True)
class Part:
    """One answer cell and its check cell: ``names`` are what the answer cell must define."""

    name: str
    names: tuple[str, ...]

    @property
    def answer_id(self) -> str:
        return f"answer_{self.name}"

    @property
    def check_id(self) -> str:
        return f"check_{self.name}"


@dataclass(frozen=True)
class Assignment:
    """An assignment: its parts, the notebook it follows and the document it cites."""

    name: str
    title: str
    parts: tuple[Part, ...]
    follows: str  # the walkthrough notebook a student should have read first
    document: str  # the study document, by title
    student_minutes: str  # rough time a student needs
    checks_module: str

    def checks(self) -> list[Check]:
        """The package's checks of this assignment, in declaration order."""
        return list(importlib.import_module(self.checks_module).CHECKS)

    def part(self, name: str) -> Part:
        for part in self.parts:
            if part.name == name:
                return part
        raise KeyError(f"assignment {self.name!r} has no part {name!r}; parts: {[p.name for p in self.parts]}")

    @property
    def answer_names(self) -> dict[str, str]:
        """answer object name -> the grade_id of the cell that defines it."""
        return {n: p.answer_id for p in self.parts for n in p.names}

    def source_path(self, root: Path | None = None) -> Path:
        return (root or assignments_root()) / self.name / "source" / f"{self.name}.ipynb"

    def release_path(self, root: Path | None = None) -> Path:
        return (root or assignments_root()) / self.name / "release" / f"{self.name}.ipynb"


def _checks(name: str) -> str:
    return f"pymarl_explained.assignments.checks.{name}"


ASSIGNMENTS: dict[str, Assignment] = {
    a.name: a
    for a in (
        Assignment(
            "epsilon_greedy", "Epsilon schedule and epsilon-greedy selection over available actions",
            (Part("schedule", ("epsilon_schedule",)), Part("selector", ("EpsilonGreedySelector",))),
            follows="02_episode_runner", document="the episode_runner notes", student_minutes="45-60",
            checks_module=_checks("epsilon_greedy")),
        Assignment(
            "episode_batch", "EpisodeBatch: field shapes and update",
            (Part("shapes", ("field_shapes",)), Part("update", ("update",))),
            follows="03_episode_buffer", document="the episode_buffer notes", student_minutes="60-90",
            checks_module=_checks("episode_batch")),
        Assignment(
            "replay_buffer", "ReplayBuffer: insert_episode_batch with wrap-around, and sample",
            (Part("insert", ("insert_episode_batch",)), Part("sample", ("sample",))),
            follows="03_episode_buffer", document="the episode_buffer notes", student_minutes="45-60",
            checks_module=_checks("replay_buffer")),
        Assignment(
            "qmix_mixer", "The QMIX mixer and its hypernetworks",
            (Part("mixer", ("QMixer",)),),
            follows="05_algorithms", document="the run.py notes", student_minutes="60-90",
            checks_module=_checks("qmix_mixer")),
        Assignment(
            "td_loss", "The masked double-Q TD target and loss",
            (Part("terminal", ("stored_terminated",)), Part("bootstrap", ("double_q_bootstrap",)),
             Part("loss", ("td_loss",))),
            follows="01_run_py", document="the run.py notes", student_minutes="60-90",
            checks_module=_checks("td_loss")),
        Assignment(
            "omg_batch_sizing", "The OMG fork's batch sizing (1 / 256 / 32) on another map",
            (Part("sizes", ("omg_batch_sizes",)), Part("loop", ("loop_counts",))),
            follows="04_omg_batch_sizing", document="the OMG batch-sizing notes", student_minutes="30-45",
            checks_module=_checks("omg_batch_sizing")),
        Assignment(
            "capstone", "Capstone: train QMIX with your own components",
            (Part("components", ("epsilon_schedule", "EpsilonGreedySelector", "QMixer", "double_q_bootstrap",
                                 "td_loss")),
             Part("training", ())),
            follows="06_training_run", document="the run.py notes", student_minutes="30 + the run",
            checks_module=_checks("capstone")),
    )
}


def get_assignment(name: str) -> Assignment:
    """The assignment called ``name`` (an :class:`AssignmentError` listing the valid names otherwise)."""
    try:
        return ASSIGNMENTS[name]
    except KeyError:
        raise AssignmentError(f"unknown assignment {name!r}; valid: {', '.join(ASSIGNMENTS)}") from None


def assignments_root() -> Path:
    """The ``assignments/`` folder: ``$PYMARL_ASSIGNMENTS_DIR``, else the repository's (next to the package)."""
    env = os.environ.get("PYMARL_ASSIGNMENTS_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "assignments"
