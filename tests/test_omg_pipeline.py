"""OMG (reconstruction): the four pipeline stages end to end at a tiny scale, and run_sequential's batch sizing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pymarl_explained.errors import CheckpointError
from pymarl_explained.omg import pipeline as omg_pipeline

TINY = {"teammate_t_max": 100, "vae_t_max": 100, "ego_t_max": 60, "batch_size": 2, "buffer_size": 16,
        "test_nepisode": 1, "epsilon_anneal_time": 200, "interval": 100, "target_update_interval": 5}


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_stages_need_the_previous_ones(tmp_path):
    with pytest.raises(CheckpointError, match="stage1"):
        omg_pipeline.stage2(str(tmp_path), TINY, seed=0)
    assert omg_pipeline.main(["stage3", "--results", str(tmp_path)]) == 2


def test_tiny_pipeline_end_to_end(tmp_path):
    results = str(tmp_path / "results")
    state = omg_pipeline.stage1(results, TINY, seed=2, map_name="MarineMicro_MvsM_4")
    assert sorted(state["teammates"]) == ["iql", "qmix", "vdn"]
    for folder in state["teammates"].values():
        assert list(Path(folder).glob("*/agent.th"))

    state = omg_pipeline.stage2(results, TINY, seed=2)
    vae = torch.load(state["vae_path"], weights_only=True)
    assert vae["input_dim"] == 40 and vae["obs_is_state"] is False  # MarineMicro_MvsM_4's 40-d observation

    state = omg_pipeline.stage3(results, TINY, seed=2, egos=("iql_omg",))
    models = Path(state["egos"]["iql_omg"])
    step = max(models.iterdir(), key=lambda p: int(p.name))  # saved after the first iteration and at the end
    assert sorted(p.name for p in step.iterdir()) == ["checkpoint.json", "iql", "iql_omg", "opt.th", "qmix"]
    assert sorted(p.name for p in (step / "iql_omg").iterdir()) == ["agent.th", "am.th", "vae.th"]
    run_dir = Path(results) / "runs" / models.name
    config = json.loads((run_dir / "config.json").read_text())
    assert config["learner"] == "omg_learner" and config["train_alg"] == "iql_omg"
    # run_sequential: t_max and batch_size x n_agents (OMG batch-sizing notes); the learner logged its losses
    assert int(step.name) > TINY["ego_t_max"] * 4
    keys = {json.loads(line)["key"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()}
    assert {"loss", "omg_loss", "omg_kl", "test_battle_won_mean"} <= keys

    state = omg_pipeline.stage4(results, TINY, seed=2)
    table = state["evaluation"]
    assert sorted(table) == ["iql_omg, other teammates (3vdn1iql_omg)", "iql_omg, same teammates (2iql1qmix1iql_omg)"]
    for row in table.values():  # a mean over test_nepisode battles: a multiple of 1 / test_nepisode
        wins = row["test_battle_won_mean"] * TINY["test_nepisode"]
        assert wins == pytest.approx(round(wins)) and 0 <= round(wins) <= TINY["test_nepisode"]
