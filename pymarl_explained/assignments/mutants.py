"""Mutants: deliberately wrong answers, each proven (by the tests) to fail the checks it names.

A mutant is a one-place edit of a solution notebook's answer cell: ``old`` (which must occur
exactly once in that cell, so a mutant cannot silently drift from the solution) becomes ``new``.
They are the typical bugs of each assignment: an off-by-one ``max_seq_length``, a missing
``filled`` mask, the wrap-around to the wrong slot, bootstrapping through unavailable actions,
forgetting ``(1 - terminated)``, a mixer with signed weights, epsilon not clamped at its floor...
Every check of every assignment is named by at least one mutant (tested), so no check is a
check that cannot fail. The capstone's calibration also trains with some of them
(:mod:`.calibrate`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pymarl_explained.assignments.notebooks import grade_id, read_notebook, source_text
from pymarl_explained.assignments.registry import AssignmentError, get_assignment


@dataclass(frozen=True)
class Mutant:
    """A wrong answer: ``old`` -> ``new`` in the answer cell of ``part``, rejected by ``rejected_by``."""

    name: str
    assignment: str
    part: str
    old: str
    new: str
    rejected_by: tuple[str, ...]
    description: str


def _m(name, assignment, part, old, new, rejected_by, description) -> Mutant:
    return Mutant(name, assignment, part, old, new, tuple(rejected_by), description)


MUTANTS: list[Mutant] = [
    # ------------------------------------------------------------------ epsilon_greedy
    _m("epsilon_not_clamped", "epsilon_greedy", "schedule",
       "return max(finish, start - (start - finish) * t_env / anneal_time)",
       "return start - (start - finish) * t_env / anneal_time",
       ["clamped_at_floor", "epsilon_follows_schedule"], "epsilon keeps falling below epsilon_finish"),
    _m("epsilon_exponent_decay", "epsilon_greedy", "schedule",
       "return max(finish, start - (start - finish) * t_env / anneal_time)",
       "return max(finish, start * (finish / start) ** (t_env / anneal_time))",
       ["linear_in_between"], "an exponential decay instead of PyMARL's linear one"),
    _m("epsilon_starts_at_finish", "epsilon_greedy", "schedule",
       "return max(finish, start - (start - finish) * t_env / anneal_time)",
       "return max(finish, start - (start - finish) * (t_env + anneal_time / 2) / anneal_time)",
       ["starts_at_start"], "the decay is shifted: epsilon does not start at epsilon_start"),
    _m("epsilon_divides_by_zero", "epsilon_greedy", "schedule",
       "    if anneal_time <= 0:\n        return finish\n", "",
       ["zero_anneal_time"], "PyMARL's division by zero when epsilon_anneal_time is 0"),
    _m("greedy_through_unavailable", "epsilon_greedy", "selector",
       "greedy_actions = masked_q.max(dim=2)[1]", "greedy_actions = agent_inputs.max(dim=2)[1]",
       ["greedy_ignores_unavailable", "test_mode_is_greedy"], "the argmax ignores avail_actions"),
    _m("random_over_all_actions", "epsilon_greedy", "selector",
       "random_actions = Categorical(avail_actions.float()).sample().long()",
       "random_actions = torch.randint(0, agent_inputs.shape[2], agent_inputs.shape[:2])",
       ["random_never_unavailable"], "random actions drawn over every action, available or not"),
    _m("random_weighted_by_q", "epsilon_greedy", "selector",
       "random_actions = Categorical(avail_actions.float()).sample().long()",
       "random_actions = Categorical(avail_actions.float() * agent_inputs.clamp(min=1e-3)).sample().long()",
       ["random_uniform_over_available"], "random actions weighted by their Q-values (Boltzmann), not uniform"),
    _m("explore_comparison_inverted", "epsilon_greedy", "selector",
       "< self.epsilon).long()", "> self.epsilon).long()",
       ["explores_with_probability_epsilon", "greedy_ignores_unavailable"],
       "explores with probability 1 - epsilon"),
    _m("test_mode_ignored", "epsilon_greedy", "selector",
       "        if test_mode:\n            self.epsilon = getattr(self.args, \"evaluation_epsilon\", 0.0)\n", "",
       ["test_mode_is_greedy"], "test episodes explore like training ones"),
    _m("epsilon_never_updated", "epsilon_greedy", "selector",
       "        self.epsilon = epsilon_schedule(t_env, self.args.epsilon_start, self.args.epsilon_finish,\n"
       "                                        self.args.epsilon_anneal_time)\n", "",
       ["epsilon_follows_schedule"], "epsilon stays at epsilon_start for the whole run"),
    _m("actions_keep_last_dim", "epsilon_greedy", "selector",
       "return pick_random * random_actions + (1 - pick_random) * greedy_actions",
       "return (pick_random * random_actions + (1 - pick_random) * greedy_actions).unsqueeze(-1)",
       ["shape_and_dtype"], "returns (batch, n_agents, 1) instead of (batch, n_agents)"),
]


def mutants_of(assignment: str) -> list[Mutant]:
    return [m for m in MUTANTS if m.assignment == assignment]


def get_mutant(name: str) -> Mutant:
    for m in MUTANTS:
        if m.name == name:
            return m
    raise AssignmentError(f"unknown mutant {name!r}")


def mutant_sources(mutant: Mutant, nb: dict | None = None) -> dict[int, str]:
    """``{cell index: mutated source}`` for the solution notebook (``nb``, read when None)."""
    spec = get_assignment(mutant.assignment)
    nb = nb if nb is not None else read_notebook(spec.source_path())
    answer_id = spec.part(mutant.part).answer_id
    for index, cell in enumerate(nb["cells"]):
        if grade_id(cell) == answer_id:
            text = source_text(cell)
            count = text.count(mutant.old)
            if count != 1:
                raise AssignmentError(f"mutant {mutant.name}: its text occurs {count} times in {answer_id} "
                                      "(it must occur exactly once: update the mutant with the solution)")
            return {index: text.replace(mutant.old, mutant.new)}
    raise AssignmentError(f"mutant {mutant.name}: no cell {answer_id} in the solution of {mutant.assignment}")


def mutated_notebook(mutant: Mutant, nb: dict | None = None) -> dict:
    """A copy of the solution notebook with the mutant applied (e.g. a fixture submission)."""
    import copy

    spec = get_assignment(mutant.assignment)
    nb = copy.deepcopy(nb if nb is not None else read_notebook(spec.source_path()))
    for index, text in mutant_sources(mutant, nb).items():
        nb["cells"][index]["source"] = text.splitlines(keepends=True)
    return nb
