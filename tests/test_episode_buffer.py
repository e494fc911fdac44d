"""EpisodeBatch and ReplayBuffer against hand-computed expectations (seed document 002)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pymarl_explained.components.episode_buffer import EpisodeBatch, ReplayBuffer
from pymarl_explained.components.transforms import OneHot

N_AGENTS, N_ACTIONS, STATE, OBS = 4, 10, 68, 40  # MarineMicro_MvsM_4


def make_scheme(n_agents=N_AGENTS, n_actions=N_ACTIONS, state=STATE, obs=OBS):
    """The scheme, groups and preprocess that run_sequential builds (PyMARL's run.py)."""
    scheme = {
        "state": {"vshape": state},
        "obs": {"vshape": obs, "group": "agents"},
        "actions": {"vshape": (1,), "group": "agents", "dtype": torch.long},
        "avail_actions": {"vshape": (n_actions,), "group": "agents", "dtype": torch.int},
        "reward": {"vshape": (1,)},
        "terminated": {"vshape": (1,), "dtype": torch.uint8},
    }
    groups = {"agents": n_agents}
    preprocess = {"actions": ("actions_onehot", [OneHot(out_dim=n_actions)])}
    return scheme, groups, preprocess


def small_batch(batch_size=3, T=5, n_agents=2, n_actions=3):
    scheme, groups, preprocess = make_scheme(n_agents, n_actions, state=4, obs=3)
    return EpisodeBatch(scheme, groups, batch_size, T, preprocess=preprocess)


def numbered_buffer_batch(batch_size, T=3, start=0):
    """A batch whose episode i has reward == start + i at every step and filled == 1."""
    batch = small_batch(batch_size, T)
    ids = torch.arange(start, start + batch_size, dtype=torch.float32)
    batch.update({"reward": ids.view(-1, 1, 1).expand(-1, T, 1)}, ts=slice(None))
    return batch


# ---------------------------------------------------------------------- layout
def test_layout_and_dtypes_of_the_documents_buffer():
    scheme, groups, preprocess = make_scheme()
    # The meta device checks shapes and dtypes without allocating the ~400 MiB.
    buffer = ReplayBuffer(scheme, groups, 5000, 61, preprocess=preprocess, device="meta")
    expected = {
        "state": ((5000, 61, 68), torch.float32),
        "obs": ((5000, 61, 4, 40), torch.float32),
        "actions": ((5000, 61, 4, 1), torch.int64),
        "avail_actions": ((5000, 61, 4, 10), torch.int32),
        "reward": ((5000, 61, 1), torch.float32),
        "terminated": ((5000, 61, 1), torch.uint8),
        "actions_onehot": ((5000, 61, 4, 10), torch.float32),
        "filled": ((5000, 61, 1), torch.int64),
    }
    td = buffer.data.transition_data
    assert list(td) == list(expected)
    for key, (shape, dtype) in expected.items():
        assert tuple(td[key].shape) == shape, key
        assert td[key].dtype == dtype, key
    assert buffer.data.episode_data == {}
    assert buffer.scheme["actions_onehot"] == {"vshape": (10,), "dtype": torch.float32, "group": "agents"}
    assert buffer.scheme["filled"] == {"vshape": (1,), "dtype": torch.long}


def test_small_batch_is_zero_and_callers_scheme_is_not_mutated():
    scheme, groups, preprocess = make_scheme(2, 3, 4, 3)
    before = {k: dict(v) for k, v in scheme.items()}
    batch = EpisodeBatch(scheme, groups, 2, 5, preprocess=preprocess)
    assert scheme == before
    assert set(batch.scheme) == set(scheme) | {"actions_onehot", "filled"}
    assert all(int(v.abs().sum()) == 0 for v in batch.data.transition_data.values())
    assert batch.batch_size == 2 and batch.max_seq_length == 5 and batch.device == "cpu"


def test_episode_const_field_and_reserved_filled():
    scheme = {"state": {"vshape": 2}, "map_id": {"vshape": (1,), "episode_const": True, "dtype": torch.long}}
    batch = EpisodeBatch(scheme, {}, 3, 4)
    assert tuple(batch["map_id"].shape) == (3, 1)
    batch.update({"map_id": [[7], [8], [9]]})
    assert batch["map_id"].flatten().tolist() == [7, 8, 9]
    with pytest.raises(ValueError, match="filled"):
        EpisodeBatch({"filled": {"vshape": (1,)}}, {}, 1, 1)


# ---------------------------------------------------------------------- update
def test_update_runner_call_pattern_lists_of_numpy_arrays():
    """EpisodeRunner.run: pre-step data at t, then actions/reward/terminated at t."""
    batch = small_batch(batch_size=1, T=4, n_agents=2, n_actions=3)
    state = np.arange(4, dtype=np.float32)
    obs = [np.full(3, 1.0, dtype=np.float32), np.full(3, 2.0, dtype=np.float32)]  # env.get_obs(): a list
    avail = [[1, 1, 0], [0, 1, 1]]  # env.get_avail_actions(): list of lists
    batch.update({"state": [state], "avail_actions": [avail], "obs": [obs]}, ts=1)
    assert batch["state"][0, 1].tolist() == [0, 1, 2, 3]
    assert batch["obs"][0, 1].tolist() == [[1, 1, 1], [2, 2, 2]]
    assert batch["avail_actions"][0, 1].tolist() == avail
    assert batch["avail_actions"].dtype == torch.int32
    assert batch["filled"][0, :, 0].tolist() == [0, 1, 0, 0]

    actions = torch.tensor([[2, 0]])  # the controller's output, (batch, n_agents)
    batch.update({"actions": actions, "reward": [(1.5,)], "terminated": [(True,)]}, ts=1)
    assert batch["actions"][0, 1].tolist() == [[2], [0]]
    assert batch["actions_onehot"][0, 1].tolist() == [[0, 0, 1], [1, 0, 0]]
    assert batch["actions_onehot"].dtype == torch.float32
    assert batch["reward"][0, 1, 0].item() == 1.5
    assert batch["terminated"][0, 1, 0].item() == 1 and batch["terminated"].dtype == torch.uint8
    # numpy scalar types, as env.step returns them
    batch.update({"reward": [(np.float64(-0.25),)], "terminated": [(np.bool_(False),)]}, ts=2)
    assert batch["reward"][0, 2, 0].item() == -0.25 and batch["terminated"][0, 2, 0].item() == 0
    assert batch.max_t_filled() == 2 and isinstance(batch.max_t_filled(), int)


def test_update_buffer_call_pattern_copies_filled_without_marking():
    """ReplayBuffer.insert_episode_batch: transition data with mark_filled=False, then episode data."""
    episode = small_batch(batch_size=1, T=5)
    for t in range(3):
        episode.update({"reward": [(t + 1.0,)], "actions": torch.tensor([[1, 2]])}, ts=t)
    buffer = ReplayBuffer(*make_scheme(2, 3, 4, 3)[:2], buffer_size=4, max_seq_length=5,
                          preprocess=make_scheme(2, 3, 4, 3)[2])
    buffer.update(episode.data.transition_data, slice(2, 3), slice(0, episode.max_seq_length),
                  mark_filled=False)
    buffer.update(episode.data.episode_data, slice(2, 3))
    assert buffer["filled"][:, :, 0].tolist() == [[0] * 5, [0] * 5, [1, 1, 1, 0, 0], [0] * 5]
    assert buffer["reward"][2, :, 0].tolist() == [1, 2, 3, 0, 0]
    assert buffer["actions_onehot"][2, 0].tolist() == [[0, 1, 0], [0, 0, 1]]
    # unwritten steps: the episode's zeros are copied after the preprocess ran, as in PyMARL
    assert buffer["actions_onehot"][2, 4].tolist() == [[0, 0, 0], [0, 0, 0]]


def test_update_with_list_of_batch_indices_like_the_parallel_runner():
    batch = small_batch(batch_size=4, T=3)
    batch.update({"reward": [(1.0,), (2.0,)]}, bs=[0, 2], ts=1)
    assert batch["reward"][:, 1, 0].tolist() == [1, 0, 2, 0]
    assert batch["filled"][:, 1, 0].tolist() == [1, 0, 1, 0]


def test_update_errors_name_key_and_shapes():
    batch = small_batch(batch_size=1, T=3)
    with pytest.raises(KeyError, match="nope"):
        batch.update({"nope": [1.0]}, ts=0)
    with pytest.raises(ValueError, match=r"'obs' of shape \(1, 2, 4\).*\(1, 1, 2, 3\)"):
        batch.update({"obs": np.zeros((1, 2, 4))}, ts=0)
    with pytest.raises(ValueError, match="ragged"):
        batch.update({"obs": [[np.zeros(3), np.zeros(2)]]}, ts=0)


def test_update_formats_the_values_only_for_an_error():
    """Formatting the values into the error message on every call was half of training's time."""
    calls = []

    class Watched(np.ndarray):
        def __repr__(self):
            calls.append(1)
            return "Watched"

    batch = small_batch(batch_size=1, T=3)
    obs = np.ones((2, 3), dtype=np.float32).view(Watched)
    batch.update({"obs": [obs]}, bs=0, ts=1)
    assert calls == [] and batch["obs"][0, 1].tolist() == [[1.0] * 3] * 2
    with pytest.raises(ValueError, match="ragged.*Watched"):  # the message still shows them
        batch.update({"obs": [[obs, np.zeros(2)]]}, ts=0)
    assert calls


def test_update_does_not_warn_on_lists_of_arrays():
    batch = small_batch(batch_size=1, T=3)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batch.update({"obs": [[np.ones(3, dtype=np.float32)] * 2], "state": [np.ones(4)]}, ts=0)


# ---------------------------------------------------------------------- indexing
def test_indexing_by_key_and_by_tuple_of_keys():
    batch = numbered_buffer_batch(3)
    assert batch["reward"] is batch.data.transition_data["reward"]
    sub = batch[("reward", "actions")]
    assert isinstance(sub, EpisodeBatch)
    assert set(sub.data.transition_data) == {"reward", "actions"}
    assert sub["reward"] is batch["reward"]  # shares storage
    assert sub.groups == {"agents": 2} and sub.batch_size == 3
    with pytest.raises(KeyError):
        batch["missing"]
    with pytest.raises(KeyError):
        batch[("reward", "missing")]


@pytest.mark.parametrize(
    "item, episodes, steps",
    [
        (1, [1], [0, 1, 2]),
        (-1, [4], [0, 1, 2]),
        (slice(1, 3), [1, 2], [0, 1, 2]),
        (slice(None, None, 2), [0, 2, 4], [0, 1, 2]),
        ([3, 0], [3, 0], [0, 1, 2]),
        (np.array([4, 1]), [4, 1], [0, 1, 2]),
        (np.array([True, False, False, True, False]), [0, 3], [0, 1, 2]),
        (torch.LongTensor([2, 1]), [2, 1], [0, 1, 2]),
        (np.int64(2), [2], [0, 1, 2]),
        ((slice(None), 1), [0, 1, 2, 3, 4], [1]),
        ((slice(None), slice(0, 2)), [0, 1, 2, 3, 4], [0, 1]),
        ((2, slice(1, None)), [2], [1, 2]),
        (([0, 4], 2), [0, 4], [2]),
        ((torch.LongTensor([3]), slice(None)), [3], [0, 1, 2]),
        ((slice(None),), [0, 1, 2, 3, 4], [0, 1, 2]),
    ],
)
def test_every_indexing_form_gives_the_right_episodes_steps_and_sizes(item, episodes, steps):
    batch = numbered_buffer_batch(5, T=3)
    batch.update({"state": torch.arange(3.0).view(1, 3, 1).expand(5, 3, 4)})
    sub = batch[item]
    assert isinstance(sub, EpisodeBatch)
    assert sub.batch_size == len(episodes) and sub.max_seq_length == len(steps)
    assert sub["reward"][:, 0, 0].tolist() == episodes
    assert sub["state"][0, :, 0].tolist() == steps
    assert tuple(sub["obs"].shape) == (len(episodes), len(steps), 2, 3)
    assert sub.preprocess is batch.preprocess


def test_time_indexing_must_be_contiguous():
    batch = small_batch()
    with pytest.raises(IndexError, match="Indexing across Time must be contiguous"):
        batch[:, [0, 2]]
    with pytest.raises(IndexError, match="Indexing across Time must be contiguous"):
        batch.update({"reward": [[(1.0,)] * 2]}, ts=[0, 1])


def test_slices_are_views_and_advanced_indices_are_copies():
    batch = numbered_buffer_batch(4)
    view = batch[1:3]
    view["reward"][0, 0, 0] = 99.0
    assert batch["reward"][1, 0, 0].item() == 99.0
    copy_ = batch[[1, 2]]
    copy_["reward"][0, 0, 0] = -1.0
    assert batch["reward"][1, 0, 0].item() == 99.0


def test_slice_parser_returns_a_tuple():
    batch = small_batch()
    parsed = batch._parse_slices(2)
    assert isinstance(parsed, tuple) and parsed == (slice(2, 3), slice(None))


def test_max_t_filled_to_repr():
    batch = small_batch(batch_size=3, T=6)
    batch.update({"reward": np.ones((3, 2, 1))}, ts=slice(0, 2))  # every episode at steps 0, 1
    batch.update({"reward": [[(1.0,), (1.0,)]]}, bs=1, ts=slice(2, 4))
    assert batch.max_t_filled() == 4
    assert type(batch.max_t_filled()) is int
    assert batch.to("cpu") is batch and batch["reward"].device.type == "cpu"
    assert repr(batch).startswith("EpisodeBatch. Batch Size:3 Max_seq_len:6 Keys:dict_keys(['state'")
    assert "Groups:dict_keys(['agents'])" in repr(batch)


def test_extend_adds_fields_with_preprocess_and_keeps_data():
    batch = numbered_buffer_batch(2)
    batch.extend({"enemy_actions": {"vshape": (1,), "group": "agents", "dtype": torch.long}},
                 preprocess={"enemy_actions": ("enemy_actions_onehot", [OneHot(3)])})
    assert batch["reward"][:, 0, 0].tolist() == [0, 1]
    assert batch["filled"].sum().item() == 6  # filled kept
    batch.update({"enemy_actions": torch.tensor([[[1], [2]]])}, bs=0, ts=0)
    assert batch["enemy_actions_onehot"][0, 0].tolist() == [[0, 1, 0], [0, 0, 1]]
    assert batch.scheme["enemy_actions_onehot"]["group"] == "agents"


# ---------------------------------------------------------------------- replay buffer
def make_buffer(size=6, T=3):
    scheme, groups, preprocess = make_scheme(2, 3, 4, 3)
    return ReplayBuffer(scheme, groups, size, T, preprocess=preprocess)


def test_wrap_around_insertion_splits_the_batch():
    buffer = make_buffer(6)
    buffer.insert_episode_batch(numbered_buffer_batch(4, start=0))  # episodes 0..3 -> slots 0..3
    assert (buffer.buffer_index, buffer.episodes_in_buffer) == (4, 4)
    buffer.insert_episode_batch(numbered_buffer_batch(4, start=4))  # 4,5 -> slots 4,5; 6,7 -> slots 0,1
    assert (buffer.buffer_index, buffer.episodes_in_buffer) == (2, 6)
    assert buffer["reward"][:, 0, 0].tolist() == [6, 7, 2, 3, 4, 5]
    assert buffer["filled"].sum().item() == 6 * 3
    assert repr(buffer).startswith("ReplayBuffer. 6/6 episodes. Keys:dict_keys(")


def test_insert_shorter_episodes_and_exact_fill():
    buffer = make_buffer(4, T=5)
    buffer.insert_episode_batch(numbered_buffer_batch(4, T=3))
    assert (buffer.buffer_index, buffer.episodes_in_buffer) == (0, 4)
    assert buffer.max_t_filled() == 3
    with pytest.raises(ValueError, match="max_seq_length"):
        make_buffer(4, T=2).insert_episode_batch(numbered_buffer_batch(1, T=3))


def test_batch_larger_than_the_buffer_keeps_the_newest():
    buffer = make_buffer(3)
    buffer.insert_episode_batch(numbered_buffer_batch(2, start=0))
    buffer.insert_episode_batch(numbered_buffer_batch(5, start=2))  # 2 -> slot 2, 3,4,5 -> 0,1,2, 6 -> 0
    assert buffer["reward"][:, 0, 0].tolist() == [6, 4, 5]
    assert (buffer.buffer_index, buffer.episodes_in_buffer) == (1, 3)


def test_sampling_without_replacement_seeded():
    buffer = make_buffer(10)
    buffer.insert_episode_batch(numbered_buffer_batch(8))
    assert buffer.can_sample(8) and not buffer.can_sample(9)
    with pytest.raises(ValueError, match="Cannot sample 9"):
        buffer.sample(9)

    np.random.seed(3)
    sample = buffer.sample(5)
    ids = sample["reward"][:, 0, 0].long().tolist()
    assert sample.batch_size == 5 and sample.max_seq_length == 3
    assert len(set(ids)) == 5 and all(0 <= i < 8 for i in ids)
    np.random.seed(3)
    assert ids == np.random.choice(8, 5, replace=False).tolist()  # numpy's global RNG, as PyMARL

    # over many draws every stored episode appears, never an empty slot
    seen = set()
    for _ in range(50):
        seen.update(buffer.sample(3)["reward"][:, 0, 0].long().tolist())
    assert seen == set(range(8))


def test_sample_exactly_the_stored_count_returns_the_first_episodes():
    buffer = make_buffer(10)
    buffer.insert_episode_batch(numbered_buffer_batch(4))
    state = np.random.get_state()
    sample = buffer.sample(4)
    assert sample["reward"][:, 0, 0].tolist() == [0, 1, 2, 3]
    assert np.array_equal(np.random.get_state()[1], state[1])  # no RNG draw
