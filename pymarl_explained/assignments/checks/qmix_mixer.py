"""Checks of the qmix_mixer assignment: the student's ``QMixer`` class.

- a mixer small enough to compute by hand (2 agents, embed 1, state 1, ``hypernet_layers=1``) with
  weights set by hand; the expected Q_tot of three inputs is worked out in :data:`HAND_CASES`;
- stored reference data (:mod:`..reference_data`): weights, inputs and outputs of a reference
  mixer for ``hypernet_layers`` 1 and 2, loaded into the student's mixer by PyMARL's parameter
  names;
- monotonicity through autograd: dQ_tot/dQ_a >= 0 for every agent, state and initialisation;
- every hypernetwork receives a gradient (nothing is detached).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch

from pymarl_explained.assignments.checking import Check, CheckFailed, expect, make_check_decorator
from pymarl_explained.assignments.reference_data import load_reference, mixer_args

CHECKS: list[Check] = []
mixer_check = make_check_decorator("qmix_mixer", "mixer", CHECKS)

#: PyMARL's parameter names and shapes for n_agents 3, state 5, embed 4, hypernet_embed 6.
EXPECTED_PARAMETERS = {
    1: {"hyper_w_1.weight": (12, 5), "hyper_w_1.bias": (12,), "hyper_w_final.weight": (4, 5),
        "hyper_w_final.bias": (4,), "hyper_b_1.weight": (4, 5), "hyper_b_1.bias": (4,),
        "V.0.weight": (4, 5), "V.0.bias": (4,), "V.2.weight": (1, 4), "V.2.bias": (1,)},
    2: {"hyper_w_1.0.weight": (6, 5), "hyper_w_1.0.bias": (6,), "hyper_w_1.2.weight": (12, 6),
        "hyper_w_1.2.bias": (12,), "hyper_w_final.0.weight": (6, 5), "hyper_w_final.0.bias": (6,),
        "hyper_w_final.2.weight": (4, 6), "hyper_w_final.2.bias": (4,), "hyper_b_1.weight": (4, 5),
        "hyper_b_1.bias": (4,), "V.0.weight": (4, 5), "V.0.bias": (4,), "V.2.weight": (1, 4), "V.2.bias": (1,)},
}

#: The hand-computed mixer: state s (1-d), agent Q-values (q1, q2), embed 1, hypernet_layers 1:
#:   w1(s) = |[1*s + 0, -2*s + 0.5]|,  b1(s) = s - 1,  w_final(s) = |-s|,  V(s) = 1 * relu(2*s) + 0.5
#:   Q_tot = elu(q1*w1[0] + q2*w1[1] + b1) * w_final + V
HAND_WEIGHTS = {
    "hyper_w_1.weight": [[1.0], [-2.0]], "hyper_w_1.bias": [0.0, 0.5],
    "hyper_b_1.weight": [[1.0]], "hyper_b_1.bias": [-1.0],
    "hyper_w_final.weight": [[-1.0]], "hyper_w_final.bias": [0.0],
    "V.0.weight": [[2.0]], "V.0.bias": [0.0], "V.2.weight": [[1.0]], "V.2.bias": [0.5],
}
HAND_CASES = [
    # s = 1, q = (1, 2): w1 = [1, 1.5], b1 = 0: elu(1 + 3) = 4; w_final 1; V = 2.5  -> 6.5
    (1.0, (1.0, 2.0), 6.5),
    # s = 1, q = (-3, 1): pre-activation -3 + 1.5 + 0 = -1.5: elu = e^-1.5 - 1; V = 2.5
    (1.0, (-3.0, 1.0), math.exp(-1.5) - 1 + 2.5),
    # s = -1, q = (1, 1): w1 = [1, 2.5], b1 = -2: elu(1.5) = 1.5; w_final 1; V = relu(-2) + 0.5 = 0.5 -> 2.0
    (-1.0, (1.0, 1.0), 2.0),
]


def _build(QMixer, args) -> torch.nn.Module:
    mixer = QMixer(args)
    expect(isinstance(mixer, torch.nn.Module), f"QMixer(args) must be a torch.nn.Module, got {type(mixer).__name__}")
    return mixer


def _load(mixer: torch.nn.Module, state_dict: dict, what: str) -> None:
    mine = {k: tuple(v.shape) for k, v in mixer.state_dict().items()}
    theirs = {k: tuple(torch.as_tensor(v).shape) for k, v in state_dict.items()}
    if mine != theirs:
        missing = sorted(set(theirs) - set(mine))
        extra = sorted(set(mine) - set(theirs))
        wrong = sorted(k for k in set(mine) & set(theirs) if mine[k] != theirs[k])
        raise CheckFailed(f"{what}: the mixer's parameters must have PyMARL's names and shapes; missing {missing}, "
                          f"unexpected {extra}, wrong shape {[(k, mine[k], theirs[k]) for k in wrong]}")
    mixer.load_state_dict({k: torch.tensor(v, dtype=torch.float32) for k, v in state_dict.items()})


@mixer_check(hint="use PyMARL's names: hyper_w_1, hyper_w_final (Linear, or Linear-ReLU-Linear), hyper_b_1, V "
                  "(Linear-ReLU-Linear)")
def parameter_names_and_shapes(QMixer):
    for layers, expected in EXPECTED_PARAMETERS.items():
        got = {k: tuple(v.shape) for k, v in _build(QMixer, mixer_args(layers)).state_dict().items()}
        expect(got == expected, f"with hypernet_layers={layers} (n_agents 3, state 5, embed 4, hypernet_embed 6) the "
                                f"parameters should be {expected}; got {got}")


@mixer_check(hint="forward(agent_qs (B, T, n_agents), states (B, T, state_dim)) returns Q_tot of shape (B, T, 1)")
def output_shape(QMixer):
    mixer = _build(QMixer, mixer_args(2))
    out = mixer(torch.randn(2, 7, 3), torch.randn(2, 7, 5))
    expect(isinstance(out, torch.Tensor) and tuple(out.shape) == (2, 7, 1),
           f"forward on agent_qs (2, 7, 3) and states (2, 7, 5) should return (2, 7, 1), got "
           f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}: reshape the result with "
           "view(bs, -1, 1)")


@mixer_check(hint="Q_tot = elu(q . |W1(s)| + b1(s)) . |W_final(s)| + V(s); abs on the weights only, ELU in between")
def hand_computed_example(QMixer):
    args = SimpleNamespace(n_agents=2, state_shape=1, mixing_embed_dim=1, hypernet_layers=1, hypernet_embed=1)
    mixer = _build(QMixer, args)
    _load(mixer, HAND_WEIGHTS, "the hand-computed mixer (2 agents, embed 1, state 1, hypernet_layers 1)")
    for s, q, expected in HAND_CASES:
        with torch.no_grad():
            out = mixer(torch.tensor([[list(q)]]), torch.tensor([[[s]]]))
        got = float(out.reshape(-1)[0])
        expect(abs(got - expected) < 1e-5,
               f"state {s}, agent Qs {q}: Q_tot should be {expected:.6f} (w1 = |[s, -2s + 0.5]|, b1 = s - 1, "
               f"w_final = |-s|, V = relu(2s) + 0.5, ELU on the hidden layer), got {got:.6f}")


@mixer_check(hint="the stored reference mixer's outputs: same weights (by name), same Q_tot; check the w1 layout "
                  "(n_agents, embed) and the batch/time reshapes")
def matches_reference_values(QMixer):
    for key, ref in load_reference().items():
        args = SimpleNamespace(**ref["args"])
        mixer = _build(QMixer, args)
        _load(mixer, ref["state_dict"], f"reference {key}")
        with torch.no_grad():
            out = mixer(torch.tensor(ref["agent_qs"]), torch.tensor(ref["states"]))
        expected = torch.tensor(ref["q_tot"])
        expect(tuple(out.shape) == tuple(expected.shape), f"{key}: output shape {tuple(out.shape)}, expected "
                                                          f"{tuple(expected.shape)}")
        err = float((out - expected).abs().max())
        expect(err < 1e-5, f"{key}: Q_tot differs from the reference by up to {err:.4g} (first values "
                           f"{out.flatten()[:3].tolist()} vs {expected.flatten()[:3].tolist()}): W1 is viewed as "
                           "(batch*T, n_agents, embed), b1 as (batch*T, 1, embed)")


@mixer_check(hint="monotonicity: dQ_tot/dQ_a >= 0 for every agent, which the abs() on W1 and W_final guarantees")
def monotonic_in_every_agent_q(QMixer):
    worst = 0.0
    for seed in range(4):
        torch.manual_seed(seed)
        mixer = _build(QMixer, mixer_args(1 + seed % 2))
        with torch.no_grad():  # weights as after some training: larger and of both signs
            for p in mixer.parameters():
                p.add_(torch.randn_like(p))
        qs = (torch.randn(8, 16, 3) * 3).requires_grad_(True)
        out = mixer(qs, torch.randn(8, 16, 5))
        (grad,) = torch.autograd.grad(out.sum(), qs)
        worst = min(worst, float(grad.min()))
    expect(worst >= -1e-6,
           f"dQ_tot/dQ_a reached {worst:.4g} < 0: Q_tot must never decrease when an agent's Q increases (QMIX's "
           "monotonicity). Take the absolute value of the hypernetworks' weights W1 and W_final (not of the biases)")


@mixer_check(hint="every hypernetwork (hyper_w_1, hyper_b_1, hyper_w_final, V) must receive a gradient: nothing "
                  "detached")
def gradients_reach_hypernetworks(QMixer):
    torch.manual_seed(0)
    mixer = _build(QMixer, mixer_args(2))
    mixer(torch.randn(4, 5, 3), torch.randn(4, 5, 5)).sum().backward()
    no_grad = [n for n, p in mixer.named_parameters() if p.grad is None or not bool(p.grad.abs().sum() > 0)]
    expect(not no_grad, f"these parameters got no gradient from Q_tot: {no_grad}; the hypernetworks are trained "
                        "through Q_tot, so do not detach their outputs or compute them under no_grad")
