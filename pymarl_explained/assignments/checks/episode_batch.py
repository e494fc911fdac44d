"""Checks of the episode_batch assignment: ``field_shapes`` and ``update``.

``field_shapes`` is checked on 5m_vs_6m (5 agents, 12 actions, obs 55, state 98, episode limit 70),
a map the episode_buffer notes do not use; the expected table is written out by hand below.
``update`` is checked on a small batch (3 episodes of 5 steps, 2 agents, 3 actions) whose
expected tensors are built by hand, element by element. The batch handed to the student's
``update`` refuses the package's own ``EpisodeBatch.update`` (the answer must not delegate to it).
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from pymarl_explained.assignments.checking import Check, CheckFailed, expect, make_check_decorator
from pymarl_explained.components.episode_buffer import EpisodeBatch
from pymarl_explained.components.transforms import OneHot

CHECKS: list[Check] = []
shapes_check = make_check_decorator("episode_batch", "shapes", CHECKS)
update_check = make_check_decorator("episode_batch", "update", CHECKS)


def run_scheme(n_agents: int, n_actions: int, obs: int, state: int) -> tuple[dict, dict, dict]:
    """The scheme, groups and preprocess that ``run_sequential`` builds (written out, as in the run.py notes)."""
    scheme = {
        "state": {"vshape": state},
        "obs": {"vshape": obs, "group": "agents"},
        "actions": {"vshape": (1,), "group": "agents", "dtype": torch.long},
        "avail_actions": {"vshape": (n_actions,), "group": "agents", "dtype": torch.int},
        "reward": {"vshape": (1,)},
        "terminated": {"vshape": (1,), "dtype": torch.uint8},
    }
    return scheme, {"agents": n_agents}, {"actions": ("actions_onehot", [OneHot(out_dim=n_actions)])}


#: 5m_vs_6m, buffer_size 5000: the table of the episode_buffer notes, for another map (by hand).
B, T = 5000, 70 + 1
EXPECTED_5M_VS_6M = {
    "state": ((B, T, 98), torch.float32),
    "obs": ((B, T, 5, 55), torch.float32),
    "actions": ((B, T, 5, 1), torch.int64),
    "avail_actions": ((B, T, 5, 12), torch.int32),
    "reward": ((B, T, 1), torch.float32),
    "terminated": ((B, T, 1), torch.uint8),
    "actions_onehot": ((B, T, 5, 12), torch.float32),
    "filled": ((B, T, 1), torch.int64),
}


def _shapes(field_shapes) -> dict:
    scheme, groups, preprocess = run_scheme(5, 12, 55, 98)
    result = field_shapes(scheme, groups, preprocess, 5000, 70)
    expect(isinstance(result, dict),
           f"field_shapes must return a dict key -> (shape, dtype), got {type(result).__name__}")
    return {k: (tuple(v[0]), v[1]) for k, v in result.items()}


# ------------------------------------------------------------------ shapes
@shapes_check(hint="max_seq_length = episode_limit + 1: the runner also stores the state after the last step")
def max_seq_length_is_limit_plus_one(field_shapes):
    shapes = _shapes(field_shapes)
    lengths = {k: s[1] for k, (s, _) in shapes.items() if len(s) > 1}
    expect(lengths and set(lengths.values()) == {71},
           f"on 5m_vs_6m (episode_limit 70) every field should have 71 time steps, got {lengths}: max_seq_length is "
           "episode_limit + 1, because the runner writes state, obs and avail_actions once more after the last step "
           "(the learner bootstraps from them)")


@shapes_check(hint="a field with a group gets shape (groups[group], *vshape); an int vshape v means (v,)")
def grouped_fields_per_agent(field_shapes):
    shapes = _shapes(field_shapes)
    for key in ("state", "obs", "actions", "avail_actions", "reward", "terminated"):
        expect(key in shapes, f"field_shapes must return every scheme key; {key!r} is missing")
        got, want = shapes[key][0], EXPECTED_5M_VS_6M[key][0]
        expect(got == want, f"{key}: expected shape {want} on 5m_vs_6m (5 agents, 12 actions, obs 55, state 98), got "
                            f"{got}: grouped fields get an agent dimension (groups['agents'] = 5), and an int vshape "
                            "such as 55 means (55,)")


@shapes_check(hint="each preprocess entry adds its output key (actions -> actions_onehot, float32, same group)")
def preprocess_output_added(field_shapes):
    shapes = _shapes(field_shapes)
    expect("actions_onehot" in shapes, "the preprocess {'actions': ('actions_onehot', [OneHot(12)])} adds the field "
                                       "'actions_onehot'; it is missing")
    expect(shapes["actions_onehot"] == EXPECTED_5M_VS_6M["actions_onehot"],
           f"actions_onehot should be {EXPECTED_5M_VS_6M['actions_onehot']}, got {shapes['actions_onehot']}: its "
           "vshape and dtype come from the transform's infer_output_info, its group from 'actions'")


@shapes_check(hint="EpisodeBatch adds the key 'filled' (vshape (1,), dtype long) to every batch")
def filled_added(field_shapes):
    shapes = _shapes(field_shapes)
    expect("filled" in shapes, "every EpisodeBatch has a 'filled' field (1 at the steps that were written); missing")
    expect(shapes["filled"] == EXPECTED_5M_VS_6M["filled"],
           f"filled should be {EXPECTED_5M_VS_6M['filled']}, got {shapes['filled']}")


@shapes_check(hint="the dtype is the scheme's 'dtype', float32 when absent")
def dtypes(field_shapes):
    shapes = _shapes(field_shapes)
    for key, (_, dtype) in EXPECTED_5M_VS_6M.items():
        if key in shapes:
            expect(shapes[key][1] == dtype, f"{key}: dtype should be {dtype}, got {shapes[key][1]} "
                                            "(the scheme's dtype, "
                                            "torch.float32 when the scheme gives none)")


@shapes_check(hint="the caller's scheme must not change (copy it before adding actions_onehot and filled)")
def scheme_not_mutated(field_shapes):
    scheme, groups, preprocess = run_scheme(5, 12, 55, 98)
    before = copy.deepcopy(scheme)
    field_shapes(scheme, groups, preprocess, 5000, 70)
    expect(scheme == before, f"field_shapes changed the caller's scheme (keys now {sorted(scheme)}): run_sequential "
                             "reuses it for the runner, so work on a copy")


# ------------------------------------------------------------------ update
class GuardedBatch(EpisodeBatch):
    """An EpisodeBatch whose own ``update`` refuses to run: the answer must write the tensors itself."""

    def update(self, *args, **kwargs):
        raise CheckFailed("your update called the package's EpisodeBatch.update: write the tensors yourself "
                          "(batch.data.transition_data / episode_data)")


def small_batch() -> GuardedBatch:
    """3 episodes x 5 steps, 2 agents, 3 actions, plus an episode-constant field ``map_id``."""
    scheme, groups, preprocess = run_scheme(2, 3, 4, 3)
    scheme["map_id"] = {"vshape": (1,), "dtype": torch.long, "episode_const": True}
    return GuardedBatch(scheme, groups, 3, 5, preprocess=preprocess)


@update_check(hint="write data[key] at batch[bs, ts]; an int index i means i:i+1 (batch._parse_slices does that)")
def writes_at_slices(update):
    batch = small_batch()
    update(batch, {"state": [np.array([1.0, 2.0, 3.0])]}, bs=1, ts=2)
    expected = torch.zeros(3, 5, 3)
    expected[1, 2] = torch.tensor([1.0, 2.0, 3.0])
    expect(torch.equal(batch["state"], expected),
           "after update(batch, {'state': [[1, 2, 3]]}, bs=1, ts=2) only state[1, 2] should be [1, 2, 3]; got nonzero "
           f"entries at {batch['state'].nonzero()[:, :2].unique(dim=0).tolist()} (batch, time)")
    update(batch, {"reward": [[1.0], [2.0], [3.0]]}, bs=0, ts=slice(1, 4))
    expected_r = torch.zeros(3, 5, 1)
    expected_r[0, 1:4, 0] = torch.tensor([1.0, 2.0, 3.0])
    expect(torch.equal(batch["reward"], expected_r),
           "update(batch, {'reward': [[1], [2], [3]]}, bs=0, ts=slice(1, 4)) should write reward[0, 1:4] = 1, 2, 3; "
           f"got reward[0] = {batch['reward'][0, :, 0].tolist()}")


@update_check(hint="the first transition key sets filled[bs, ts] = 1, unless mark_filled=False")
def marks_filled(update):
    batch = small_batch()
    update(batch, {"state": [np.ones(3)], "reward": [(1.0,)]}, bs=1, ts=2)
    expected = torch.zeros(3, 5, 1, dtype=torch.long)
    expected[1, 2] = 1
    expect(torch.equal(batch["filled"], expected),
           f"after writing at bs=1, ts=2, filled should be 1 there only; got filled[:, :, 0] = "
           f"{batch['filled'][:, :, 0].tolist()}")
    update(batch, {"state": [np.ones(3)]}, bs=2, ts=0, mark_filled=False)
    expect(torch.equal(batch["filled"], expected),
           "update(..., mark_filled=False) must leave filled alone (the replay buffer copies 'filled' as an ordinary "
           f"key); got filled[:, :, 0] = {batch['filled'][:, :, 0].tolist()}")


@update_check(hint="only transition keys mark filled; episode-constant keys are written at bs only")
def episode_data_by_batch_only(update):
    batch = small_batch()
    update(batch, {"map_id": [7]}, bs=2, ts=4)
    expected = torch.zeros(3, 1, dtype=torch.long)
    expected[2, 0] = 7
    expect(torch.equal(batch["map_id"], expected),
           f"map_id is episode-constant (shape (3, 1)): update({{'map_id': [7]}}, bs=2, ts=4) should set map_id[2] = 7 "
           f"and ignore ts; got map_id = {batch['map_id'].flatten().tolist()}")
    expect(not batch["filled"].any(),
           "writing only episode data must not mark any step as filled (filled marks written *steps*); got filled "
           f"at {batch['filled'].nonzero()[:, :2].tolist()}")


@update_check(hint="values are converted to the field's dtype from the scheme (float32 when it gives none)")
def converts_dtypes(update):
    batch = small_batch()
    update(batch, {"state": [np.array([0.25, 0.5, 0.75])], "avail_actions": [np.array([[True, False, True],
                                                                                        [True, True, False]])],
                   "terminated": [(True,)], "actions": [np.array([[1.0], [2.0]])]}, bs=0, ts=1)
    dtypes = {k: batch[k].dtype for k in ("state", "avail_actions", "terminated", "actions")}
    want = {"state": torch.float32, "avail_actions": torch.int32, "terminated": torch.uint8, "actions": torch.int64}
    expect(dtypes == want, f"the stored tensors must keep their dtypes {want}; got {dtypes}")
    expect(torch.equal(batch["state"][0, 1], torch.tensor([0.25, 0.5, 0.75])),
           f"state[0, 1] should be [0.25, 0.5, 0.75] (float32 by default), got {batch['state'][0, 1].tolist()}: "
           "was it converted to an integer dtype?")
    expect(batch["avail_actions"][0, 1].tolist() == [[1, 0, 1], [1, 1, 0]] and batch["terminated"][0, 1].item() == 1
           and batch["actions"][0, 1].flatten().tolist() == [1, 2],
           "avail_actions (bools -> int32), terminated (True -> 1) and actions (1.0, 2.0 -> 1, 2) were not stored "
           "as expected")


@update_check(hint="the preprocess reads the *stored* actions (shape (..., n_agents, 1)) and writes actions_onehot")
def one_hot_preprocess(update):
    batch = small_batch()
    # the runner's idiom: select_actions returns (1, n_agents), without the trailing 1 of the stored shape
    update(batch, {"actions": torch.tensor([[1, 2]])}, bs=0, ts=3)
    expected = torch.zeros(3, 5, 2, 3)
    expected[0, 3, 0, 1] = 1.0
    expected[0, 3, 1, 2] = 1.0
    expect(batch["actions"][0, 3].flatten().tolist() == [1, 2], "actions [[1, 2]] at bs=0, ts=3 were not stored")
    expect(batch["actions_onehot"].dtype == torch.float32 and torch.equal(batch["actions_onehot"], expected),
           "after writing actions [[1, 2]] (the runner's shape (1, n_agents)) at bs=0, ts=3, actions_onehot[0, 3] "
           f"should be [[0, 1, 0], [0, 0, 1]] and zero elsewhere; got {batch['actions_onehot'][0, 3].tolist()}: "
           "apply the transforms to the stored values target[key][slices], then write the new key at the same slices")


@update_check(hint="only dimensions of size 1 may differ between the values and the destination (else ValueError)")
def rejects_mismatched_shape(update):
    batch = small_batch()
    try:
        update(batch, {"obs": np.arange(8.0).reshape(4, 2)}, bs=0, ts=0)  # destination (1, 1, 2, 4)
    except (CheckFailed, NotImplementedError):
        raise
    except ValueError:
        return
    except Exception as exc:
        raise CheckFailed(f"writing obs of shape (4, 2) into a destination of shape (2, 4) should raise ValueError, "
                          f"got {type(exc).__name__}: {exc}") from None
    raise CheckFailed("writing obs of shape (4, 2) into a destination of shape (2, 4) must raise ValueError (PyMARL's "
                      "_check_safe_view), not reshape the values silently into the wrong agents and features")


@update_check(hint="a key that is in neither transition_data nor episode_data is a KeyError")
def unknown_key_raises(update):
    batch = small_batch()
    try:
        update(batch, {"rewards": [(1.0,)]}, bs=0, ts=0)
    except (CheckFailed, NotImplementedError):
        raise
    except KeyError:
        return
    except Exception as exc:
        raise CheckFailed(f"an unknown key ('rewards', a typo of 'reward') should raise KeyError, got "
                          f"{type(exc).__name__}: {exc}") from None
    raise CheckFailed("an unknown key ('rewards', a typo of 'reward') must raise KeyError, not be ignored silently")
