"""RNNAgent, the mixers (QMIX monotonicity) and BasicMAC."""

from __future__ import annotations

import copy
import os
from types import SimpleNamespace

import pytest
import torch

from pymarl_explained.components.episode_buffer import EpisodeBatch
from pymarl_explained.components.transforms import OneHot
from pymarl_explained.controllers import REGISTRY as mac_REGISTRY
from pymarl_explained.controllers.basic_controller import BasicMAC
from pymarl_explained.errors import CheckpointError, ConfigError
from pymarl_explained.modules.agents import REGISTRY as agent_REGISTRY
from pymarl_explained.modules.agents.rnn_agent import RNNAgent
from pymarl_explained.modules.mixers import QMixer, VDNMixer

N_AGENTS, N_ACTIONS, OBS, STATE = 3, 5, 6, 7


def make_args(**overrides):
    args = dict(
        n_agents=N_AGENTS, n_actions=N_ACTIONS, obs_shape=OBS, state_shape=STATE, agent="rnn",
        rnn_hidden_dim=8, obs_last_action=True, obs_agent_id=True, agent_output_type="q",
        action_selector="epsilon_greedy", epsilon_start=1.0, epsilon_finish=0.05, epsilon_anneal_time=50000,
        mask_before_softmax=True, mixing_embed_dim=4, hypernet_layers=2, hypernet_embed=8, device="cpu",
    )
    args.update(overrides)
    return SimpleNamespace(**args)


def make_scheme():
    scheme = {
        "state": {"vshape": STATE},
        "obs": {"vshape": OBS, "group": "agents"},
        "actions": {"vshape": (1,), "group": "agents", "dtype": torch.long},
        "avail_actions": {"vshape": (N_ACTIONS,), "group": "agents", "dtype": torch.int},
        "reward": {"vshape": (1,)},
        "terminated": {"vshape": (1,), "dtype": torch.uint8},
    }
    return scheme, {"agents": N_AGENTS}, {"actions": ("actions_onehot", [OneHot(out_dim=N_ACTIONS)])}


def random_batch(batch_size=4, T=6, seed=0):
    """A batch filled with random obs/state/actions; some actions unavailable."""
    gen = torch.Generator().manual_seed(seed)
    scheme, groups, preprocess = make_scheme()
    batch = EpisodeBatch(scheme, groups, batch_size, T, preprocess=preprocess)
    avail = (torch.rand(batch_size, T, N_AGENTS, N_ACTIONS, generator=gen) < 0.7).int()
    avail[..., 0] = 1
    actions = torch.randint(0, N_ACTIONS, (batch_size, T, N_AGENTS, 1), generator=gen)
    actions = torch.where(avail.gather(3, actions) == 1, actions, torch.zeros_like(actions))
    batch.update({
        "state": torch.randn(batch_size, T, STATE, generator=gen),
        "obs": torch.randn(batch_size, T, N_AGENTS, OBS, generator=gen),
        "avail_actions": avail,
        "actions": actions,
        "reward": torch.randn(batch_size, T, 1, generator=gen),
    })
    return batch


# ---------------------------------------------------------------------- agent
def test_registries():
    assert agent_REGISTRY["rnn"] is RNNAgent
    assert mac_REGISTRY["basic_mac"] is BasicMAC


def test_rnn_agent_shapes_and_zero_hidden():
    args = make_args()
    agent = RNNAgent(11, args)
    assert agent.init_hidden().tolist() == [[0.0] * 8]
    q, h = agent(torch.randn(6, 11), agent.init_hidden().expand(6, -1))
    assert tuple(q.shape) == (6, N_ACTIONS) and tuple(h.shape) == (6, 8)
    assert [type(m).__name__ for m in agent.children()] == ["Linear", "GRUCell", "Linear"]


def test_rnn_agent_forward_sequence_equals_the_step_loop():
    torch.manual_seed(0)
    agent = RNNAgent(11, make_args())
    inputs = torch.randn(9, 6, 11)
    h0 = torch.randn(6, 8)
    q_seq, h_seq = agent.forward_sequence(inputs, h0)
    h, qs, hs = h0, [], []
    for t in range(9):
        q, h = agent(inputs[t], h)
        qs.append(q)
        hs.append(h)
    torch.testing.assert_close(q_seq, torch.stack(qs), atol=1e-5, rtol=0)
    torch.testing.assert_close(h_seq, torch.stack(hs), atol=1e-5, rtol=0)  # every step's hidden state
    # the two recurrences (fused kernel on the CPU, GRUCell loop elsewhere) agree, gradients too
    x = torch.randn(9, 6, 8, requires_grad=True)
    fused, h_fused = agent._gru_over_sequence(x, h0)
    loop, h_loop = agent._gru_step_by_step(x, h0)
    torch.testing.assert_close(fused, loop, atol=1e-5, rtol=0)
    torch.testing.assert_close(h_fused, h_loop, atol=1e-5, rtol=0)
    grads_fused = torch.autograd.grad(fused.pow(2).sum(), [x, *agent.rnn.parameters()])
    grads_loop = torch.autograd.grad(loop.pow(2).sum(), [x, *agent.rnn.parameters()])
    for g_fused, g_loop in zip(grads_fused, grads_loop, strict=True):
        torch.testing.assert_close(g_fused, g_loop, atol=1e-5, rtol=1e-5)


def test_rnn_agent_state_dict_is_pymarls_after_a_sequence_pass():
    agent = RNNAgent(11, make_args())
    agent.forward_sequence(torch.randn(2, 3, 11), agent.init_hidden().expand(3, -1))
    assert list(agent.state_dict()) == [
        "fc1.weight", "fc1.bias", "rnn.weight_ih", "rnn.weight_hh", "rnn.bias_ih", "rnn.bias_hh",
        "fc2.weight", "fc2.bias",
    ]
    assert len(list(agent.parameters())) == 8
    twin = copy.deepcopy(agent)
    x = torch.randn(4, 3, 11)
    torch.testing.assert_close(twin.forward_sequence(x, torch.zeros(3, 8))[0],
                               agent.forward_sequence(x, torch.zeros(3, 8))[0])


# ---------------------------------------------------------------------- mixers
def test_vdn_sums_over_agents():
    qs = torch.tensor([[[1.0, 2.0, 3.5], [0.0, -1.0, 1.0]]])
    assert VDNMixer()(qs, None).tolist() == [[[6.5], [0.0]]]


@pytest.mark.parametrize("hypernet_layers", [1, 2])
def test_qmix_shapes_and_monotonicity(hypernet_layers):
    torch.manual_seed(hypernet_layers)
    mixer = QMixer(make_args(hypernet_layers=hypernet_layers))
    kinds = [type(mixer.hyper_w_1).__name__, type(mixer.hyper_w_final).__name__]
    assert kinds == (["Linear", "Linear"] if hypernet_layers == 1 else ["Sequential", "Sequential"])
    qs = (torch.randn(16, 10, N_AGENTS) * 5).requires_grad_()
    states = torch.randn(16, 10, STATE) * 3
    q_tot = mixer(qs, states)
    assert tuple(q_tot.shape) == (16, 10, 1)
    (grad,) = torch.autograd.grad(q_tot.sum(), qs)
    assert bool((grad >= 0).all())
    assert bool((grad > 0).any())


def test_qmix_matches_its_formula():
    torch.manual_seed(3)
    mixer = QMixer(make_args(hypernet_layers=1))
    qs, state = torch.randn(1, 1, N_AGENTS), torch.randn(1, 1, STATE)
    s = state.view(STATE)
    w1 = (mixer.hyper_w_1.weight @ s + mixer.hyper_w_1.bias).abs().view(N_AGENTS, 4)
    b1 = mixer.hyper_b_1.weight @ s + mixer.hyper_b_1.bias
    hidden = torch.nn.functional.elu(qs.view(N_AGENTS) @ w1 + b1)
    w_final = (mixer.hyper_w_final.weight @ s + mixer.hyper_w_final.bias).abs()
    v = mixer.V(s)
    torch.testing.assert_close(mixer(qs, state).view(1), hidden @ w_final + v)


def test_qmix_bad_hypernet_layers():
    with pytest.raises(ConfigError, match="hypernet_layers"):
        QMixer(make_args(hypernet_layers=3))


# ---------------------------------------------------------------------- controller
def test_input_shape_and_layout():
    scheme, groups, preprocess = make_scheme()
    batch = random_batch(batch_size=2, T=3)
    full = EpisodeBatch(scheme, groups, 2, 3, preprocess=preprocess)
    mac = BasicMAC(full.scheme, groups, make_args())
    assert mac._get_input_shape(full.scheme) == OBS + N_ACTIONS + N_AGENTS
    assert mac.agent.fc1.in_features == OBS + N_ACTIONS + N_AGENTS

    inputs0 = mac._build_inputs(batch, 0)
    inputs2 = mac._build_inputs(batch, 2)
    assert tuple(inputs2.shape) == (2 * N_AGENTS, OBS + N_ACTIONS + N_AGENTS)
    # row b * n_agents + a: obs, previous action one-hot (zeros at t=0), agent id one-hot
    for b in range(2):
        for a in range(N_AGENTS):
            row = inputs2[b * N_AGENTS + a]
            assert torch.equal(row[:OBS], batch["obs"][b, 2, a])
            assert torch.equal(row[OBS:OBS + N_ACTIONS], batch["actions_onehot"][b, 1, a])
            assert torch.equal(row[OBS + N_ACTIONS:], torch.eye(N_AGENTS)[a])
            assert int(inputs0[b * N_AGENTS + a, OBS:OBS + N_ACTIONS].abs().sum()) == 0

    seq = mac._build_sequence_inputs(batch)
    for t in range(3):
        torch.testing.assert_close(seq[:, t].reshape(2 * N_AGENTS, -1), mac._build_inputs(batch, t))

    plain = BasicMAC(full.scheme, groups, make_args(obs_last_action=False, obs_agent_id=False))
    assert plain._get_input_shape(full.scheme) == OBS
    assert torch.equal(plain._build_inputs(batch, 1), batch["obs"][:, 1].reshape(2 * N_AGENTS, OBS))


@pytest.mark.parametrize("output_type", ["q", "pi_logits"])
def test_forward_sequence_equals_per_step_forward(output_type):
    torch.manual_seed(0)
    batch = random_batch()
    selector = "epsilon_greedy" if output_type == "q" else "multinomial"
    args = make_args(agent_output_type=output_type, action_selector=selector)
    mac = BasicMAC(batch.scheme, batch.groups, args)
    mac.init_hidden(batch.batch_size)
    per_step = torch.stack([mac.forward(batch, t) for t in range(batch.max_seq_length)], dim=1)
    h_step = mac.hidden_states
    mac.init_hidden(batch.batch_size)
    sequence = mac.forward_sequence(batch)
    assert tuple(sequence.shape) == (4, 6, N_AGENTS, N_ACTIONS)
    torch.testing.assert_close(sequence, per_step, atol=1e-5, rtol=0)
    torch.testing.assert_close(mac.hidden_states, h_step, atol=1e-5, rtol=0)
    # every step's hidden state, as QTRAN's learner reads them
    mac.init_hidden(batch.batch_size)
    hiddens = []
    for t in range(batch.max_seq_length):
        mac.forward(batch, t)
        hiddens.append(mac.hidden_states.reshape(batch.batch_size, N_AGENTS, -1))
    mac.init_hidden(batch.batch_size)
    outs, seq_hiddens = mac.forward_sequence(batch, return_hidden=True)
    assert tuple(seq_hiddens.shape) == (4, 6, N_AGENTS, 8)
    torch.testing.assert_close(outs, per_step, atol=1e-5, rtol=0)
    torch.testing.assert_close(seq_hiddens, torch.stack(hiddens, dim=1), atol=1e-5, rtol=0)


def test_select_actions_respects_avail_and_bs():
    torch.manual_seed(0)
    batch = random_batch(batch_size=3, T=4)
    mac = BasicMAC(batch.scheme, batch.groups, make_args())
    mac.init_hidden(3)
    for t in range(4):
        actions = mac.select_actions(batch, t_ep=t, t_env=0)
        assert tuple(actions.shape) == (3, N_AGENTS)
        assert bool(batch["avail_actions"][:, t].gather(2, actions.unsqueeze(2)).all())
    assert tuple(mac.hidden_states.shape) == (3 * N_AGENTS, 8)
    mac.init_hidden(3)
    assert tuple(mac.select_actions(batch, 0, 0, bs=[0, 2], test_mode=True).shape) == (2, N_AGENTS)


def test_pi_logits_masking_and_epsilon_floor():
    torch.manual_seed(0)
    batch = random_batch(batch_size=2, T=2)
    args = make_args(agent_output_type="pi_logits", action_selector="multinomial")
    mac = BasicMAC(batch.scheme, batch.groups, args)
    mac.init_hidden(2)
    probs = mac.forward(batch, 0)
    avail = batch["avail_actions"][:, 0]
    torch.testing.assert_close(probs.sum(-1), torch.ones(2, N_AGENTS))
    assert bool((probs[avail == 0] == 0).all())
    assert bool((probs[avail == 1] >= 1.0 / avail.sum(-1, keepdim=True).expand_as(avail)[avail == 1]).all())

    unmasked = BasicMAC(batch.scheme, batch.groups, make_args(
        agent_output_type="pi_logits", action_selector="multinomial", mask_before_softmax=False))
    unmasked.init_hidden(2)
    probs = unmasked.forward(batch, 0)
    torch.testing.assert_close(probs.sum(-1), torch.ones(2, N_AGENTS))
    assert bool((probs >= 1.0 / N_ACTIONS - 1e-6).all())  # epsilon 1.0 at t_env 0: uniform floor


def test_save_load_and_load_state(tmp_path):
    batch = random_batch(batch_size=1, T=2)
    mac = BasicMAC(batch.scheme, batch.groups, make_args())
    other = BasicMAC(batch.scheme, batch.groups, make_args())
    mac.save_models(tmp_path)
    assert os.listdir(tmp_path) == ["agent.th"]
    other.load_models(tmp_path)
    for p, q in zip(mac.parameters(), other.parameters(), strict=True):
        assert torch.equal(p, q)
    third = copy.deepcopy(other)
    with torch.no_grad():
        for p in third.parameters():
            p.add_(1.0)
    other.load_state(third)
    for p, q in zip(third.parameters(), other.parameters(), strict=True):
        assert torch.equal(p, q)
    with pytest.raises(CheckpointError, match="does not exist"):
        mac.load_models(tmp_path / "missing")
    bigger = BasicMAC(batch.scheme, batch.groups, make_args(rnn_hidden_dim=16))
    with pytest.raises(CheckpointError, match="does not match"):
        bigger.load_models(tmp_path)


def test_unknown_agent_or_selector_is_a_config_error():
    batch = random_batch(batch_size=1, T=2)
    with pytest.raises(ConfigError, match="rnn"):
        BasicMAC(batch.scheme, batch.groups, make_args(agent="transformer"))
    with pytest.raises(ConfigError, match="epsilon_greedy"):
        BasicMAC(batch.scheme, batch.groups, make_args(action_selector="boltzmann"))
