"""FastEpisodeRunner: the EpisodeRunner's episodes, bit for bit, with less overhead per env step.

``EpisodeRunner.run`` (PyMARL's loop) spends most of an env step on framework overhead, not on the
env or the network: its two ``EpisodeBatch.update`` calls turn Python lists into tensors key by key,
and the controller builds each agent input with a handful of small torch calls. This subclass keeps
``run`` as it is (inherited, line for line) and gives it two stand-ins:

- the episode batch is a :class:`StepBatch`, whose ``update`` writes the runner's pattern (one int
  ``ts``, the whole batch of one episode) straight into numpy views of its tensors, after the same
  shape check; any other call is ``EpisodeBatch.update`` itself;
- the controller is seen through :class:`FastActing`, whose ``select_actions`` writes the agent
  inputs (observation | last action | agent id) into one preallocated buffer instead of
  concatenating tensors, then makes the same calls as ``BasicMAC.select_actions``: the agent network
  (its compiled step) and the epsilon-greedy selector (its compiled selection).

The conversions are the ones ``update`` makes (numpy and torch both round to nearest when casting),
and the network and the selector get equal tensors in the same order, so the random draws are the
same: the episodes equal the EpisodeRunner's bit for bit (``tests/test_fast_runner.py`` compares
whole training and test episodes, the generator's state after them, and the logged stats).

``run_sequential`` uses it for ``runner=episode`` when ``fast_acting`` is True (the default). It
applies to PyMARL's usual setup, a ``BasicMAC`` with the ``RNNAgent`` and the epsilon-greedy
selector on the CPU with the compiled module; anything else plays PyMARL's loop unchanged.
Notebook 02 builds the plain EpisodeRunner from the registry: it teaches PyMARL's loop.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import torch

from pymarl_explained.components.action_selectors import EpsilonGreedyActionSelector
from pymarl_explained.components.episode_buffer import EpisodeBatch, _squeezed_shape
from pymarl_explained.components.transforms import OneHot
from pymarl_explained.controllers.basic_controller import BasicMAC
from pymarl_explained.modules.agents.gru_kernel import compiled_for
from pymarl_explained.modules.agents.rnn_agent import RNNAgent
from pymarl_explained.runners.episode_runner import EpisodeRunner

_ALL = slice(None)


class StepBatch(EpisodeBatch):
    """A one-episode EpisodeBatch on the CPU whose ``update(data, ts=t)`` writes through numpy views."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.arrays = {key: value.numpy() for key, value in self.data.transition_data.items()}
        self._one_hot = {key: transforms[0].out_dim for key, (_, transforms) in self.preprocess.items()
                         if len(transforms) == 1 and type(transforms[0]) is OneHot}

    def update(self, data: dict, bs: Any = _ALL, ts: Any = _ALL, mark_filled: bool = True) -> None:
        values = self._checked_step_values(data, bs, ts)
        if values is None:  # not the runner's pattern, or a bad value: update itself (and its clear error)
            return super().update(data, bs=bs, ts=ts, mark_filled=mark_filled)
        if mark_filled:
            self.arrays["filled"][0, ts] = 1
        for key, array in values.items():
            self.arrays[key][0, ts] = array
            if key in self._one_hot:  # OneHot: zeros, and a 1 at each index
                one_hot = self.arrays[self.preprocess[key][0]][0, ts].reshape(-1, self._one_hot[key])  # a view
                one_hot[...] = 0
                one_hot[np.arange(len(one_hot)), self.arrays[key][0, ts].reshape(-1)] = 1

    def _checked_step_values(self, data: dict, bs: Any, ts: Any) -> dict[str, np.ndarray] | None:
        """``data`` as arrays shaped like their step's slot, every check passed first (so a bad value
        is written nowhere); None when the call is not the runner's pattern or a check fails."""
        if not (type(ts) is int and 0 <= ts < self.max_seq_length and bs == _ALL and self.batch_size == 1):
            return None
        values = {}
        for key, value in data.items():
            if key not in self.arrays or (key in self.preprocess and key not in self._one_hot):
                return None
            try:
                array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
            except ValueError:  # ragged values
                return None
            dest = self.arrays[key][0, ts]
            if array.dtype == object or (array.shape != dest.shape
                                         and _squeezed_shape(array.shape) != _squeezed_shape(dest.shape)):
                return None
            if key in self._one_hot and not ((array >= 0) & (array < self._one_hot[key])).all():
                return None
            values[key] = array.reshape(dest.shape)
        return values


class FastActing:
    """``runner.mac`` for the FastEpisodeRunner: ``select_actions`` on a StepBatch as described in
    the module docstring; everything else (``init_hidden``, ``action_selector``, ...) is the
    controller's own."""

    def __init__(self, mac: BasicMAC, scheme: dict):
        own = object.__setattr__  # other attributes are set on the controller (__setattr__)
        own(self, "mac", mac)
        n_agents, obs_size = mac.n_agents, int(np.prod(scheme["obs"]["vshape"]))
        # a torch allocation (aligned as the tensors torch.cat makes), seen through numpy
        own(self, "_inputs_tensor", torch.zeros(n_agents, mac.agent.fc1.in_features))
        inputs = self._inputs_tensor.numpy()  # the same memory
        own(self, "_obs", inputs[:, :obs_size])
        last_action = None
        if mac.args.obs_last_action:
            last_action = inputs[:, obs_size:obs_size + mac.args.n_actions]
        own(self, "_last_action", last_action)
        if mac.args.obs_agent_id:
            inputs[:, -n_agents:] = np.eye(n_agents, dtype=np.float32)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.mac, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.mac, name, value)

    def select_actions(self, ep_batch, t_ep: int, t_env: int, bs=_ALL, test_mode: bool = False):
        if not isinstance(ep_batch, StepBatch) or bs != _ALL:
            return self.mac.select_actions(ep_batch, t_ep, t_env, bs=bs, test_mode=test_mode)
        arrays, mac = ep_batch.arrays, self.mac
        self._obs[...] = arrays["obs"][0, t_ep]
        if self._last_action is not None:  # last_actions_onehot: zeros at t = 0
            self._last_action[...] = arrays["actions_onehot"][0, t_ep - 1] if t_ep > 0 else 0
        avail_actions = torch.from_numpy(arrays["avail_actions"][:, t_ep])
        with torch.no_grad():
            agent_outs, mac.hidden_states = mac.agent(self._inputs_tensor, mac.hidden_states)
        return mac.action_selector.select_action(agent_outs.view(1, mac.n_agents, -1), avail_actions, t_env,
                                                 test_mode=test_mode)


def fast_acting_applies(mac: Any, device: str) -> bool:
    """The setup FastActing reproduces exactly: PyMARL's BasicMAC, RNNAgent and epsilon-greedy
    selector, Q-values out, on the CPU in float32 with the compiled module."""
    if type(mac) is not BasicMAC or type(mac.agent) is not RNNAgent:
        return False
    if type(mac.action_selector) is not EpsilonGreedyActionSelector or mac.agent_output_type != "q":
        return False
    weight = mac.agent.fc1.weight
    return str(device) == "cpu" and weight.device.type == "cpu" and compiled_for(weight) is not None


class FastEpisodeRunner(EpisodeRunner):
    """EpisodeRunner with a StepBatch and FastActing where they apply (module docstring)."""

    def setup(self, scheme, groups, preprocess, mac) -> None:
        super().setup(scheme, groups, preprocess, mac)
        self._scheme, self._fast = scheme, None

    def reset(self) -> None:
        if self._fast is None:  # decided at the first episode: the learner may have moved the networks
            self._fast = fast_acting_applies(self.mac, self.args.device)
            if self._fast:  # the same arguments, a StepBatch
                self.new_batch = partial(StepBatch, *self.new_batch.args, **self.new_batch.keywords)
                self.mac = FastActing(self.mac, self._scheme)
        super().reset()


def episode_runner_class(args) -> type[EpisodeRunner]:
    """The class that plays ``runner=episode``: the FastEpisodeRunner unless ``fast_acting`` is False."""
    return FastEpisodeRunner if getattr(args, "fast_acting", True) else EpisodeRunner
