"""Checks of the capstone: quick checks of the pasted components, then a real training run.

The ``components`` part re-runs the most telling checks of the earlier assignments on the
components pasted into the capstone notebook (a broken component fails here in seconds, before
minutes of training). The ``training`` part registers the components, trains QMIX at the
notebook's ``scale`` (``ci`` or ``default``, see :data:`..capstone.SCALES`) and compares the score
(mean greedy test return over the second half of training) with the bar calibrated on 10 seeds
of the reference (``data/capstone_calibration.json``).
"""

from __future__ import annotations

from pymarl_explained.assignments.checking import Check, expect
from pymarl_explained.assignments.checks import epsilon_greedy, qmix_mixer, td_loss

CHECKS: list[Check] = []

_REUSED = [
    (epsilon_greedy, ("greedy_ignores_unavailable", "random_never_unavailable", "epsilon_follows_schedule")),
    (qmix_mixer, ("monotonic_in_every_agent_q", "matches_reference_values")),
    (td_loss, ("online_picks_target_scores", "never_bootstraps_unavailable", "hand_computed_loss",
               "no_gradient_through_target")),
]
for module, names in _REUSED:
    for check in module.CHECKS:
        if check.name in names:
            CHECKS.append(Check(check.name, "capstone", "components", check.func, check.points, check.hint))


def passes_learning_bar(EpsilonGreedySelector, QMixer, double_q_bootstrap, td_loss, scale, seed):  # noqa: N803
    """A short QMIX run with your components must reach the calibrated bar (mean greedy test return)."""
    from pymarl_explained.assignments import capstone

    components = capstone.register_components(EpsilonGreedySelector, QMixer, double_q_bootstrap, td_loss)
    run = capstone.run_capstone(components, scale=scale, seed=int(seed))
    capstone.LAST_RUN["run"] = run
    need = capstone.bar(scale)
    expect(run.score >= need,
           f"at scale {scale!r} (seed {seed}) your components reached a mean greedy test return of "
           f"{run.score:.2f} over "
           f"the second half of training; the bar is {need:.2f} (the reference passes it on every calibration seed). "
           "Look at the curves below: a reward of the wrong sign or a broken target makes the agents stop attacking")


CHECKS.append(Check("passes_learning_bar", "capstone", "training", passes_learning_bar, 3.0,
                    "a short QMIX run with your components must reach the calibrated bar", timeout_s=900))
