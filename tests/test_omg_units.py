"""OMG (reconstruction): controller, agent models, learners, batch refinement and bad input, on fake batches."""

from __future__ import annotations

import math
import os
from types import SimpleNamespace as SN

import pytest
import torch
from conftest import OMG_A as A
from conftest import OMG_N as N
from conftest import OMG_OBS as OBS
from conftest import OMG_STATE as STATE
from conftest import NullLogger, omg_fake_batch, omg_make_args, omg_make_scheme

from pymarl_explained import load_config
from pymarl_explained.components.episode_buffer import EpisodeBatch
from pymarl_explained.controllers import REGISTRY as mac_REGISTRY
from pymarl_explained.errors import CheckpointError, ConfigError
from pymarl_explained.learners import REGISTRY as le_REGISTRY
from pymarl_explained.modules.agents import REGISTRY as agent_REGISTRY
from pymarl_explained.omg.am import am_REGISTRY
from pymarl_explained.omg.am.omg_am import OMGAM, select_subgoal
from pymarl_explained.omg.controller import MultiModuleMAC
from pymarl_explained.omg.learners.q_learner_4am import refine_batch
from pymarl_explained.omg.multi_algs import check_omg_buffer, omg_preflight, parse_composite_name
from pymarl_explained.utils.config_utils import available_configs, load_yaml_config

make_args, make_scheme, fake_batch = omg_make_args, omg_make_scheme, omg_fake_batch


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """These networks are tiny: one thread avoids contention on a shared CPU (as torch_threads=1 in runs)."""


def test_registries_and_composite_names():
    assert "multi_module_mac" in mac_REGISTRY and "idv_rnn" in agent_REGISTRY
    assert {"none_am", "base_am", "omg_am"} <= set(am_REGISTRY)
    assert {"am_learner", "q_learner_4am", "omg_learner"} <= set(le_REGISTRY)
    assert parse_composite_name("4iql3qmix1iql_omg") == ["iql"] * 4 + ["qmix"] * 3 + ["iql_omg"]
    composites = [c for c in available_configs("algs") if load_yaml_config(c, "algs").get("multi_algs")]
    assert {"2iql1qmix1iql_omg", "4iql3qmix1iql_omg"} <= set(composites)
    for name in composites:  # every composite's name spells its agent_algs
        config = load_yaml_config(name, "algs")
        assert parse_composite_name(name) == config["agent_algs"], name
        assert config["buffer_size"] >= 32 * len(config["agent_algs"]), name  # >= 32 * n_agents


def test_multi_alg_merge_gives_the_ego_settings_and_cli_wins():
    config = load_config("2iql1qmix1iql_omg", "sc2", {"epsilon_anneal_time": 123})
    assert config["learner"] == "omg_learner" and config["am_model"] == "omg_am"
    assert config["mac"] == "multi_module_mac" and config["buffer_size"] == 512
    assert config["epsilon_anneal_time"] == 123  # command line over the ego's yaml
    assert config["env_args"]["map_name"] == "MarineMicro_MvsM_4"
    ego = load_config("2iql1qmix1iql_ego", "sc2")
    assert ego["learner"] == "q_learner_4am" and ego["am_model"] == "none_am"


def test_ego_input_includes_the_64d_subgoal(omg_mac):
    mac, args = omg_mac
    assert mac.alg_names == ["iql", "qmix", "iql_omg"] and mac.main_alg == "iql_omg" and mac.main_alg_idx == 2
    base = OBS + A + N  # obs | last action | agent id
    assert mac.agents[mac.main_alg_idx].fc1.in_features == base + 64
    assert mac.agents[0].fc1.in_features == base and mac.agents[1].fc1.in_features == base
    assert isinstance(mac.agents_model[2], OMGAM) and type(mac.agents_model[0]).__name__ == "NoneAM"
    assert mac.main_alg_args.subgoal_dim == 64 and mac.alg_args[1].mixer == "qmix"
    # the ego's parameters only: agent network + inference model, not the prior nor the teammates
    ids = {id(p) for p in mac.parameters()}
    assert ids == {id(p) for p in mac.agents[2].parameters()} | {id(p) for p in mac.agents_model[2].cvae.parameters()}


def test_forward_acting_holdup_and_agent_shift():
    torch.manual_seed(0)
    scheme, groups, preprocess = make_scheme()
    args = make_args(agent_shift=1)
    mac = MultiModuleMAC(EpisodeBatch(scheme, groups, 1, 2, preprocess=preprocess).scheme, groups, args,
                         load_teammates=False)
    assert mac.ego_unit == 0 and mac.unit_alg.tolist() == [2, 0, 0, 1]  # slots rotated by 1
    batch = fake_batch(1, T=5)
    mac.init_hidden(1)
    for t in range(3):
        actions = mac.select_actions(batch, t_ep=t, t_env=0, test_mode=True)
        assert actions.shape == (1, N)
        # the defect fix: the holdup is written at time t (not at batch index t)
        assert torch.equal(mac.holdup["infer_mu"][:, t], mac.agents_model[2].last_infer[0])
    assert mac.holdup["infer_mu"].shape == (1, 5, N, 64) and mac.holdup["filled"][0, :, 0].tolist() == [1, 1, 1, 0, 0]


def test_refine_batch_shapes_and_content():
    raw = fake_batch(2 * N, T=9, shift=1)
    ego_slot = 3
    refined = refine_batch(raw, N, ego_slot)
    assert refined.batch_size == 2 and refined.max_seq_length == 9
    assert refined["obs"].shape == (2, 9, N, OBS) and refined["state"].shape == (2, 9, N, STATE)
    assert refined["reward"].shape == (2, 9, N, 1) and refined["filled"].shape == (2, 9, N, 1)
    assert refined["team_actions"].shape == (2, 9, N, N, 1) and refined["ego_unit"].shape == (2, N, 1)
    unit = (ego_slot + 1) % N
    assert (refined["ego_unit"] == unit).all()
    for b in range(2):
        for j in range(N):
            e = b * N + j
            assert torch.equal(refined["obs"][b, :, j], raw["obs"][e, :, unit])
            assert torch.equal(refined["actions"][b, :, j], raw["actions"][e, :, unit])
            assert torch.equal(refined["state"][b, :, j], raw["state"][e])
            assert torch.equal(refined["filled"][b, :, j], raw["filled"][e])
            assert torch.equal(refined["team_actions"][b, :, j], raw["actions"][e])


def test_select_subgoal_optimistic_argmax_conservative_argmin():
    scores = torch.tensor([[0.5, 3.0, -1.0, 2.0], [1.0, -2.0, 4.0, 0.0]])
    valid = torch.ones_like(scores, dtype=torch.bool)
    assert select_subgoal(scores, valid, "optimistic").tolist() == [1, 2]
    assert select_subgoal(scores, valid, "conservative").tolist() == [2, 1]
    valid[0, 1] = valid[1, 1] = False  # clamped candidates beyond the episode are never chosen
    assert select_subgoal(scores, valid, "optimistic").tolist() == [3, 2]
    assert select_subgoal(scores, valid, "conservative").tolist() == [2, 3]
    with pytest.raises(ValueError):
        select_subgoal(scores, valid, "greedy")


def test_candidates_scored_by_a_crafted_q_network():
    """Q(input | g, a) = (a + 1) * g[0]: the value of candidate g is max_a = n_actions * g[0] (or g[0] if < 0)."""

    class CraftedQ(torch.nn.Module):
        def forward(self, inputs, hidden):
            g0 = inputs[:, -4]  # first entry of a 4-d subgoal
            q = g0.unsqueeze(1) * torch.arange(1, 4, dtype=inputs.dtype).unsqueeze(0)
            return q, hidden

    cands = torch.tensor([[[0.1, 0, 0, 0], [0.9, 0, 0, 0], [-2.0, 0, 0, 0], [0.3, 0, 0, 0]]])
    scores = OMGAM.score_candidates(CraftedQ(), torch.zeros(1, 5), torch.zeros(1, 2), cands,
                                    torch.ones(1, 3, dtype=torch.int))
    assert torch.allclose(scores, torch.tensor([[0.3, 2.7, -2.0, 0.9]]))
    valid = torch.ones(1, 4, dtype=torch.bool)
    assert select_subgoal(scores, valid, "optimistic").item() == 1
    assert select_subgoal(scores, valid, "conservative").item() == 2
    # an unavailable action does not count: only action 0 available -> value g[0]
    avail = torch.tensor([[1, 0, 0]], dtype=torch.int)
    scores = OMGAM.score_candidates(CraftedQ(), torch.zeros(1, 5), torch.zeros(1, 2), cands, avail)
    assert torch.allclose(scores, torch.tensor([[0.1, 0.9, -2.0, 0.3]]))


def test_omg_targets_are_future_steps_within_the_horizon(omg_mac):
    mac, args = omg_mac
    batch = refine_batch(fake_batch(2 * N, T=10), N, mac.ego_slot)
    am = mac.agents_model[mac.main_alg_idx]
    mu = am.forward_sequence(batch).detach()
    target = am.select_targets(batch, mac.agents[mac.main_alg_idx], mu, "optimistic")
    t = torch.arange(10).view(1, -1, 1)
    last = batch["filled"][..., 0].sum(1).view(2, 1, N) - 1
    ahead = target["step"] - t
    inside = t < last
    assert ((ahead[inside.expand_as(ahead)] >= 1) & (ahead[inside.expand_as(ahead)] <= args.omg_horizon)).all()
    assert (target["step"] <= last).all()
    assert target["mu"].shape == (2, 10, N, 64)


def test_omg_loss_decreases_on_a_fixed_batch(omg_mac):
    mac, args = omg_mac
    torch.manual_seed(1)
    mac.agents_model[mac.main_alg_idx].prior_loaded = True  # as if stage 2 had run
    args.lr = 0.005
    learner = le_REGISTRY["omg_learner"](mac, None, NullLogger(), args)
    batch = fake_batch(2 * N, T=10, seed=3)
    stats = [learner.train(batch, t_env=0, episode_num=0) for _ in range(40)]
    first = sum(s["omg_loss"] for s in stats[:5]) / 5
    last = sum(s["omg_loss"] for s in stats[-5:]) / 5
    assert last < 0.85 * first, (first, last)
    assert {"loss", "omg_recon", "omg_kl", "grad_norm"} <= set(stats[0])


def test_q_learner_4am_with_base_am_trains(tmp_path):
    torch.manual_seed(0)
    scheme, groups, preprocess = make_scheme()
    args = make_args("2iql1qmix1iql_ego")
    args.agent_algs = ["iql", "iql", "qmix", "iql_am"]
    args.train_alg = "iql_am"
    args.am_model, args.am_hidden_dim = "base_am", 16
    mac = MultiModuleMAC(EpisodeBatch(scheme, groups, 1, 2, preprocess=preprocess).scheme, groups, args,
                         load_teammates=False)
    assert mac.agents[mac.main_alg_idx].fc1.in_features == OBS + A + N + N * A
    learner = le_REGISTRY["q_learner_4am"](mac, None, NullLogger(), args)
    stats = [learner.train(fake_batch(2 * N, T=8, seed=5), 0, 0) for _ in range(3)]
    assert "am_loss" in stats[0] and all(math.isfinite(s["loss"]) and math.isfinite(s["am_loss"]) for s in stats)


def test_checkpoints_save_and_load_per_algorithm(omg_mac, tmp_path):
    mac, args = omg_mac
    mac.save_models(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["iql", "iql_omg", "qmix"]
    assert sorted(os.listdir(tmp_path / "iql_omg")) == ["agent.th", "am.th", "vae.th"]
    assert os.listdir(tmp_path / "qmix") == ["agent.th"]
    torch.manual_seed(123)
    scheme, groups, preprocess = make_scheme()
    other = MultiModuleMAC(EpisodeBatch(scheme, groups, 1, 2, preprocess=preprocess).scheme, groups, args,
                           load_teammates=False)
    assert not torch.equal(other.agents[1].fc1.weight, mac.agents[1].fc1.weight)
    other.load_models(tmp_path)
    for a, b in zip(mac.agents + mac.agents_model, other.agents + other.agents_model, strict=True):
        for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
            assert ka == kb and torch.equal(va, vb)
    # teammates from a plain run's checkpoint folder (agent.th at the top)
    args.teammate_checkpoints = {"iql": str(tmp_path / "iql"), "qmix": str(tmp_path / "qmix")}
    third = MultiModuleMAC(EpisodeBatch(scheme, groups, 1, 2, preprocess=preprocess).scheme, groups, args)
    assert torch.equal(third.agents[1].fc1.weight, mac.agents[1].fc1.weight)
    with pytest.raises(CheckpointError, match="no sub-folder"):
        other.load_models(tmp_path / "iql")


def test_idv_rnn_has_separate_parameters_per_agent():
    args = SN(n_agents=3, n_actions=5, rnn_hidden_dim=8)
    agent = agent_REGISTRY["idv_rnn"](7, args)
    x = torch.rand(2 * 3, 7)
    h = agent.init_hidden().expand(2 * 3, -1)
    q, h2 = agent(x, h)
    assert q.shape == (6, 5) and h2.shape == (6, 8)
    with torch.no_grad():
        agent.fc2_w[0] += 1.0  # change agent 0 only
    q2, _ = agent(x, h)
    changed = (q2 - q).abs().sum(-1).view(2, 3) > 0
    assert changed[:, 0].all() and not changed[:, 1:].any()


# ---------------------------------------------------------------------- bad input
def test_slot_count_differs_from_the_map():
    args = make_args(**{"env_args.map_name": "8m"})
    with pytest.raises(ConfigError, match="4 agent slots .* map '8m' has 8 agents"):
        omg_preflight(args)


def test_train_alg_not_among_the_algorithms():
    with pytest.raises(ConfigError, match="train_alg 'qmix_omg' is not among"):
        load_config("2iql1qmix1iql_omg", "sc2", {"train_alg": "qmix_omg"})
    with pytest.raises(ConfigError, match="must be one slot"):
        load_config("2iql1qmix1iql_omg", "sc2", {"train_alg": "iql"})


def test_missing_teammate_checkpoints(tmp_path):
    scheme, groups, preprocess = make_scheme()
    full = EpisodeBatch(scheme, groups, 1, 2, preprocess=preprocess).scheme
    with pytest.raises(CheckpointError, match="stage1"):
        MultiModuleMAC(full, groups, make_args())
    args = make_args(**{"teammate_checkpoints.iql": str(tmp_path / "nowhere"), "teammate_checkpoints.qmix": "x"})
    with pytest.raises(CheckpointError, match="not a directory"):
        MultiModuleMAC(full, groups, args)


def test_vae_prior_trained_on_other_inputs(tmp_path, omg_mac):
    mac, _ = omg_mac
    mac.agents_model[mac.main_alg_idx].save_prior(tmp_path / "vae.th")  # 40-d observations
    scheme, groups, preprocess = make_scheme()
    full = EpisodeBatch(scheme, groups, 1, 2, preprocess=preprocess).scheme
    args = make_args(obs_is_state=True, vae_path=str(tmp_path / "vae.th"))
    with pytest.raises(CheckpointError, match=r"input_dim=40 \(obs_is_state=False.*needs input_dim=68"):
        MultiModuleMAC(full, groups, args, load_teammates=False)
    with pytest.raises(CheckpointError, match="stage2"):
        MultiModuleMAC(full, groups, make_args(vae_path=str(tmp_path / "none.th")), load_teammates=False)


def test_omg_learner_without_a_prior_says_run_stage2(omg_mac):
    mac, args = omg_mac
    with pytest.raises(CheckpointError, match="stage2"):
        le_REGISTRY["omg_learner"](mac, None, NullLogger(), args)


def test_buffer_must_hold_batch_size_times_n_agents():
    args = make_args(buffer_size=100)
    omg_preflight(args)
    args.batch_size *= args.n_agents
    with pytest.raises(ConfigError, match=r"32 \* 4 = 128"):
        check_omg_buffer(args)


def test_omg_learners_need_the_multi_module_mac():
    args = make_args("iql_omg")
    with pytest.raises(ConfigError, match="multi_module_mac"):
        omg_preflight(args)
