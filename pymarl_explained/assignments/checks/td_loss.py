"""Checks of the td_loss assignment: ``stored_terminated``, ``double_q_bootstrap`` and ``td_loss``.

All expected values are worked out by hand on tiny tensors (see :func:`loss_example`): two
episodes of a batch with T = 5 stored steps and gamma = 0.5,

- episode A really ends after its 2nd step (terminated[1] = 1); the runner's final write marks
  step 2 filled too; steps 3-4 are padding: filled = [1, 1, 1, 0, 0];
- episode B is cut by the time limit after 4 steps and flagged ``episode_limit`` (stored
  terminated = 0 everywhere), so its last transition bootstraps: filled = [1, 1, 1, 1, 1].

mask = filled[:, :-1] with mask[:, 1:] *= 1 - terminated[:, :-1] -> A: [1, 1, 0, 0], B: [1, 1, 1, 1].
targets = r + gamma * (1 - terminated) * target:
A: 1 + 0.5 * 4 = 3, 2 + 0 = 2 (terminal); B: 1 + 0.5 * [2, 4, 6, 8] = [2, 3, 4, 5].
td = chosen - targets: A: 2 - 3 = -1, 5 - 2 = 3; B: [1, 2, 3, 4] - [2, 3, 4, 5] = -1 each.
loss = (1 + 9 + 4 * 1) / 6 = 14 / 6.
"""

from __future__ import annotations

import torch

from pymarl_explained.assignments.checking import Check, expect, make_check_decorator

CHECKS: list[Check] = []
terminal_check = make_check_decorator("td_loss", "terminal", CHECKS)
bootstrap_check = make_check_decorator("td_loss", "bootstrap", CHECKS)
loss_check = make_check_decorator("td_loss", "loss", CHECKS)

GAMMA = 0.5
EXPECTED_LOSS = 14 / 6
#: Values a typical bug gives on loss_example(), for a specific hint.
KNOWN_WRONG = {
    5 / 6: "the terminal step of episode A bootstrapped: multiply the bootstrap by (1 - terminated)",
    30 / 7: "a padding step (filled = 0) of episode A counted: start the mask from filled[:, :-1]",
    23 / 7: "the step after episode A's termination counted: mask[:, 1:] *= 1 - terminated[:, :-1]",
    14 / 8: "you averaged over every element: divide the summed squared errors by mask.sum()",
    22 / 6: "episode B's last transition did not bootstrap: a time-out is not a termination",
}


# ------------------------------------------------------------------ terminal
@terminal_check(hint="the runner stores terminated != info.get('episode_limit', False)")
def real_end_is_terminal(stored_terminated):
    for info in ({}, {"battle_won": True}, {"battle_won": False, "dead_allies": 4}):
        got = stored_terminated(True, info)
        expect(bool(got) is True,
               f"stored_terminated(True, {info}) should be True (a real end: won or lost), got {got!r}")


@terminal_check(hint="a time-out (info['episode_limit'] True) is stored as *not* terminated: the episode bootstraps")
def time_out_is_not_terminal(stored_terminated):
    got = stored_terminated(True, {"episode_limit": True, "battle_won": False})
    expect(bool(got) is False, f"stored_terminated(True, {{'episode_limit': True}}) should be False: the env stopped "
                               f"because of the time limit, not because the episode ended; got {got!r}")


@terminal_check(hint="a step that did not end the episode is not terminated")
def running_is_not_terminal(stored_terminated):
    got = stored_terminated(False, {})
    expect(bool(got) is False, f"stored_terminated(False, {{}}) should be False, got {got!r}")


# ------------------------------------------------------------------ bootstrap
def bootstrap_example() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """B=1, T=3, 2 agents, 3 actions. Steps 1 and 2 (the next states) are laid out so that:

    agent 0, step 1: online Q [1, 5, 2], available [1, 1, 1] -> online picks 1; target Q [10, 20, 30] -> 20
        (the target's own max would be 30: double Q uses the online choice)
    agent 1, step 1: online Q [9, 3, 4], available [0, 1, 1] -> online picks 2 (0 is unavailable);
        target [7, 8, 50] -> 50
    agent 0, step 2: online Q [0, 1, 3], available [1, 1, 0] -> online picks 1 (2 is unavailable);
        target [11, 12, 13] -> 12
    agent 1, step 2: online Q [2, 1, 0], available [1, 1, 1] -> online picks 0; target [-1, -2, -3] -> -1
    Step 0 holds other numbers (100+): it is never a next state.
    """
    mac_out = torch.tensor([[[[100.0, 101, 102], [103, 104, 105]],
                             [[1, 5, 2], [9, 3, 4]],
                             [[0, 1, 3], [2, 1, 0]]]])
    target = torch.tensor([[[[200.0, 201, 202], [203, 204, 205]],
                            [[10, 20, 30], [7, 8, 50]],
                            [[11, 12, 13], [-1, -2, -3]]]])
    avail = torch.tensor([[[[1, 1, 1], [1, 1, 1]],
                           [[1, 1, 1], [0, 1, 1]],
                           [[1, 1, 0], [1, 1, 1]]]], dtype=torch.int)
    return mac_out, target, avail


BOOTSTRAP_EXPECTED = [[[20.0, 50.0], [12.0, -1.0]]]


def _bootstrap(double_q_bootstrap) -> torch.Tensor:
    mac_out, target, avail = bootstrap_example()
    out = double_q_bootstrap(mac_out, target, avail)
    expect(isinstance(out, torch.Tensor) and tuple(out.shape) == (1, 2, 2),
           f"double_q_bootstrap should return (B, T-1, n_agents) = (1, 2, 2) for T = 3, got "
           f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}")
    return out


@bootstrap_check(hint="the bootstrap values are those of the *next* steps 1..T-1 (mac_out[:, 1:], "
                      "target_mac_out[:, 1:])")
def uses_next_steps(double_q_bootstrap):
    out = _bootstrap(double_q_bootstrap)
    expect(float(out.abs().max()) < 100, f"got {out.tolist()}: values of step 0 (100 and up) were used; the target "
                                          "of step t bootstraps from step t+1, so take steps 1..T-1")


@bootstrap_check(hint="double Q: the online network picks the action (argmax), the target network gives its value")
def online_picks_target_scores(double_q_bootstrap):
    out = _bootstrap(double_q_bootstrap)
    expect(out[0, 0, 0].item() != 30.0,
           "agent 0 at step 1: got 30, the target network's own maximum; with double Q the *online* network picks "
           "the action (its argmax is action 1) and the target network scores it (20)")
    expect(out.tolist() == BOOTSTRAP_EXPECTED, f"expected {BOOTSTRAP_EXPECTED} (worked out in bootstrap_example), got "
                                               f"{out.tolist()}")


@bootstrap_check(hint="unavailable actions are never bootstrapped: mask them (to -9999999) before the argmax")
def never_bootstraps_unavailable(double_q_bootstrap):
    out = _bootstrap(double_q_bootstrap)
    expect(out[0, 0, 1].item() != 7.0 and out[0, 1, 0].item() != 13.0,
           f"got {out.tolist()}: an unavailable action was used as the bootstrap action (agent 1 at step 1 has its "
           "highest online Q on action 0, which is unavailable). Unavailable actions must never be bootstrapped")


@bootstrap_check(hint="the bootstrap is a target: compute it without gradient (detach / torch.no_grad)")
def bootstrap_has_no_gradient(double_q_bootstrap):
    mac_out, target, avail = bootstrap_example()
    out = double_q_bootstrap(mac_out.requires_grad_(True), target.requires_grad_(True), avail)
    expect(not out.requires_grad, "the bootstrap values carry a gradient: compute them under torch.no_grad() (or "
                                  "detach them), the target is a fixed regression target")


# ------------------------------------------------------------------ loss
def loss_example() -> dict[str, torch.Tensor]:
    """The two episodes of the module docstring, as stored (terminated uint8, filled int64)."""
    return {
        "rewards": torch.tensor([[1.0, 2, 0, 0, 0], [1, 1, 1, 1, 0]]).unsqueeze(-1),
        "terminated": torch.tensor([[0, 1, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=torch.uint8).unsqueeze(-1),
        "filled": torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.long).unsqueeze(-1),
        "chosen_qtot": torch.tensor([[2.0, 5, 7, 9], [1, 2, 3, 4]]).unsqueeze(-1),
        "target_qtot": torch.tensor([[4.0, 6, 8, 10], [2, 4, 6, 8]]).unsqueeze(-1),
    }


def _loss(td_loss, ex: dict[str, torch.Tensor]) -> torch.Tensor:
    loss = td_loss(ex["rewards"], ex["terminated"], ex["filled"], ex["chosen_qtot"], ex["target_qtot"], GAMMA)
    expect(isinstance(loss, torch.Tensor) and loss.numel() == 1,
           f"td_loss must return a scalar tensor, got {loss!r}"[:200])
    return loss


def _diagnose(value: float) -> str:
    for wrong, why in KNOWN_WRONG.items():
        if abs(value - wrong) < 1e-5:
            return f" ({why})"
    return ""


@loss_check(hint="loss = sum((mask * (chosen - targets))^2) / mask.sum(), "
                 "targets = r + gamma * (1 - terminated) * target")
def hand_computed_loss(td_loss):
    value = float(_loss(td_loss, loss_example()))
    expect(abs(value - EXPECTED_LOSS) < 1e-5,
           f"on the worked example (see the checks' module docstring) the loss should be 14/6 = {EXPECTED_LOSS:.5f}, "
           f"got {value:.5f}{_diagnose(value)}")


@loss_check(hint="forgetting (1 - terminated): a terminal step must not bootstrap")
def terminated_stops_bootstrap(td_loss):
    ex = loss_example()
    base = float(_loss(td_loss, ex))
    ex["target_qtot"][0, 1] = 1000.0  # the value after episode A's terminal step: must not matter
    changed = float(_loss(td_loss, ex))
    expect(abs(changed - base) < 1e-6,
           "the loss changed when the target value *after* episode A's terminal step changed: a terminal transition's "
           "target is its reward alone; multiply the bootstrap by (1 - terminated)")


@loss_check(hint="padding (filled = 0) must not count: the mask starts from filled[:, :-1]")
def padding_masked_by_filled(td_loss):
    ex = loss_example()
    base = float(_loss(td_loss, ex))
    ex["chosen_qtot"][0, 3] = 1000.0  # episode A's padding step
    ex["target_qtot"][0, 3] = -1000.0
    changed = float(_loss(td_loss, ex))
    expect(abs(changed - base) < 1e-6,
           "the loss changed with the values at a padding step (filled = 0) of episode A: steps after an episode's "
           "end are not data; mask them with filled[:, :-1]")


@loss_check(hint="the step right after a termination is filled (the runner's last write) but not a transition: "
                 "mask[:, 1:] *= 1 - terminated[:, :-1]")
def step_after_termination_masked(td_loss):
    ex = loss_example()
    base = float(_loss(td_loss, ex))
    ex["chosen_qtot"][0, 2] = 1000.0  # episode A's step 2: filled by the final write, after the terminal step
    changed = float(_loss(td_loss, ex))
    expect(abs(changed - base) < 1e-6,
           "the loss changed with the chosen Q of episode A's step 2, the step after its termination (filled = 1 "
           "only because the runner writes the last state there): mask[:, 1:] *= 1 - terminated[:, :-1]")


@loss_check(hint="a time-out is not a termination: the last transition of episode B bootstraps from the next step")
def time_out_bootstraps(td_loss):
    ex = loss_example()
    base = float(_loss(td_loss, ex))
    ex["target_qtot"][1, 3] = 10.0  # episode B's last bootstrap value: 8 -> 10, its target 5 -> 6, td -1 -> -2
    changed = float(_loss(td_loss, ex))
    expect(abs(changed - (base + (4 - 1) / 6)) < 1e-5,
           f"raising episode B's last bootstrap value from 8 to 10 should raise the loss by (2^2 - 1^2) / 6 = 0.5 "
           f"(gamma 0.5: its target goes from 5 to 6); it went from {base:.4f} to {changed:.4f}: only a real "
           "termination (terminated = 1) stops the bootstrap")


@loss_check(hint="no gradient through the target: td_error = chosen - targets.detach(); "
                 "d loss/d chosen = 2 td mask / sum(mask)")
def no_gradient_through_target(td_loss):
    ex = loss_example()
    ex["chosen_qtot"].requires_grad_(True)
    ex["target_qtot"].requires_grad_(True)
    _loss(td_loss, ex).backward()
    grad_t = ex["target_qtot"].grad
    expect(grad_t is None or not bool(grad_t.any()),
           "the loss sent a gradient into the target values: detach the targets (targets.detach()); the target "
           "network is not trained by this loss")
    expected = torch.tensor([[-1.0, 3, 0, 0], [-1, -1, -1, -1]]).unsqueeze(-1) * 2 / 6
    grad_c = ex["chosen_qtot"].grad
    expect(grad_c is not None and torch.allclose(grad_c, expected, atol=1e-6),
           f"d loss / d chosen should be 2 * td * mask / sum(mask) = {expected.squeeze(-1).tolist()}, got "
           f"{None if grad_c is None else grad_c.squeeze(-1).tolist()}")


@loss_check(hint="do not modify the batch's tensors in place: build the mask from a float copy "
                 "(filled[:, :-1].float())")
def does_not_modify_inputs(td_loss):
    ex = loss_example()
    before = {k: v.clone() for k, v in ex.items()}
    _loss(td_loss, ex)
    changed = [k for k in ex if not torch.equal(ex[k], before[k])]
    expect(not changed, f"td_loss changed its inputs {changed} in place: these are the replay buffer's tensors (a view "
                        "when the sample is the whole buffer); work on copies")
