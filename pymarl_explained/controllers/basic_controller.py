"""BasicMAC: the multi-agent controller. One agent network is shared by all agents."""

from __future__ import annotations

import os

import torch

from pymarl_explained.components.action_selectors import REGISTRY as action_REGISTRY
from pymarl_explained.components.transforms import last_actions_onehot
from pymarl_explained.modules.agents import REGISTRY as agent_REGISTRY
from pymarl_explained.utils.atomic import atomic_save
from pymarl_explained.utils.checkpoint import load_state_dict_checked
from pymarl_explained.utils.rl_utils import UNAVAILABLE_Q


class BasicMAC:
    """Builds each agent's input, runs the shared agent network and selects actions.

    Agent inputs at step t (``_build_inputs``), concatenated per agent:
    the observation; the one-hot of the agent's previous action (zeros at t=0) when
    ``args.obs_last_action``; the one-hot of the agent's id when ``args.obs_agent_id``. They are
    reshaped to ``(batch * n_agents, input_shape)`` so that one network call serves every agent
    of every episode; the recurrent hidden state is kept per agent in ``self.hidden_states``.

    ``forward(batch, t)`` is PyMARL's per-step call (used for acting); ``forward_sequence(batch)``
    gives the outputs of every step, which is what the learners need: the whole sequence at once
    (the fast path) or PyMARL's loop over ``forward`` (``per_step=True``), the same numbers.

    PyMARL defect fixed: an unknown ``agent`` or ``action_selector`` name was a bare KeyError;
    the registries answer with a ConfigError listing the valid names. Checkpoints are written
    atomically.
    """

    def __init__(self, scheme: dict, groups: dict, args):
        self.n_agents = args.n_agents
        self.args = args
        input_shape = self._get_input_shape(scheme)
        self._build_agents(input_shape)
        self.agent_output_type = args.agent_output_type

        self.action_selector = action_REGISTRY[args.action_selector](args)

        self.hidden_states: torch.Tensor | None = None

    # ------------------------------------------------------------------ acting
    def select_actions(self, ep_batch, t_ep: int, t_env: int, bs=slice(None), test_mode: bool = False):
        """Actions (len(bs), n_agents) for the episodes ``bs`` at step ``t_ep``.

        The forward pass runs for the whole batch (every hidden state advances); only the
        selection is restricted to ``bs`` (the parallel runner's envs that are still running).

        Acting needs no gradients, so the forward pass runs under ``torch.no_grad()``. PyMARL
        defect fixed: it recorded an autograd graph at every acting step (slower, and a hidden
        state holding a graph cannot be deep-copied, so a learner built after acting failed).
        """
        avail_actions = ep_batch["avail_actions"][:, t_ep]
        with torch.no_grad():
            agent_outputs = self.forward(ep_batch, t_ep, test_mode=test_mode)
        chosen_actions = self.action_selector.select_action(
            agent_outputs[bs], avail_actions[bs], t_env, test_mode=test_mode
        )
        return chosen_actions

    def forward(self, ep_batch, t: int, test_mode: bool = False) -> torch.Tensor:
        """Agent outputs (batch, n_agents, n_actions) at step ``t``; advances ``hidden_states``."""
        agent_inputs = self._build_inputs(ep_batch, t)
        avail_actions = ep_batch["avail_actions"][:, t]
        agent_outs, self.hidden_states = self.agent(agent_inputs, self.hidden_states)
        agent_outs = self._postprocess_outputs(agent_outs, avail_actions, test_mode)
        return agent_outs.view(ep_batch.batch_size, self.n_agents, -1)

    def forward_sequence(self, ep_batch, test_mode: bool = False, return_hidden: bool = False,
                         per_step: bool = False):
        """Agent outputs (batch, T, n_agents, n_actions) for every step, starting from
        ``hidden_states`` (call ``init_hidden`` first).

        ``per_step=True`` is PyMARL's loop, stacking ``forward(batch, t)`` for t = 0..T-1; the
        default builds every step's inputs at once and runs the agent over the sequence
        (:func:`unroll_agent`): the same numbers, faster.

        ``return_hidden=True`` also returns every step's hidden state, (batch, T, n_agents, H):
        QTRAN's mixer reads them.
        """
        bs, T = ep_batch.batch_size, ep_batch.max_seq_length
        if per_step:
            outs, hiddens = [], []
            for t in range(T):
                outs.append(self.forward(ep_batch, t, test_mode=test_mode))
                hiddens.append(self.hidden_states.reshape(bs, self.n_agents, -1))
            agent_outs = torch.stack(outs, dim=1)
            return (agent_outs, torch.stack(hiddens, dim=1)) if return_hidden else agent_outs
        inputs = self._build_sequence_inputs(ep_batch)  # (B, T, n_agents, input_shape)
        inputs = inputs.transpose(0, 1).reshape(T, bs * self.n_agents, -1)
        agent_outs, hiddens = unroll_agent(self.agent, inputs, self.hidden_states)
        self.hidden_states = hiddens[-1]
        avail_actions = ep_batch["avail_actions"].transpose(0, 1)  # (T, B, n_agents, n_actions)
        agent_outs = self._postprocess_outputs(agent_outs.reshape(T * bs * self.n_agents, -1),
                                               avail_actions, test_mode)
        agent_outs = agent_outs.view(T, bs, self.n_agents, -1).transpose(0, 1)
        if return_hidden:
            return agent_outs, hiddens.view(T, bs, self.n_agents, -1).transpose(0, 1)
        return agent_outs

    def _postprocess_outputs(self, agent_outs: torch.Tensor, avail_actions: torch.Tensor,
                             test_mode: bool) -> torch.Tensor:
        """Q-values pass through. Policy logits (``agent_output_type="pi_logits"``) become
        probabilities: softmax (after setting unavailable logits to ``UNAVAILABLE_Q`` when
        ``mask_before_softmax``, default True), then, outside test mode, an epsilon floor mixing
        in a uniform distribution over the (available) actions.

        ``agent_outs`` has one row per agent and step; ``avail_actions`` any shape with the same rows.
        """
        if self.agent_output_type != "pi_logits":
            return agent_outs
        mask_before_softmax = getattr(self.args, "mask_before_softmax", True)
        reshaped_avail_actions = avail_actions.reshape(agent_outs.shape[0], -1)
        if mask_before_softmax:
            # unavailable actions get a huge negative logit, so the softmax gives them ~0 probability
            agent_outs = agent_outs.masked_fill(reshaped_avail_actions == 0, UNAVAILABLE_Q)
        agent_outs = torch.nn.functional.softmax(agent_outs, dim=-1)
        if not test_mode:
            epsilon = self.action_selector.epsilon
            epsilon_action_num = agent_outs.size(-1)
            if mask_before_softmax:
                # With probability epsilon, pick an available action uniformly
                epsilon_action_num = reshaped_avail_actions.sum(dim=1, keepdim=True).float()
            agent_outs = ((1 - epsilon) * agent_outs
                          + torch.ones_like(agent_outs) * epsilon / epsilon_action_num)
            if mask_before_softmax:
                # Zero out the unavailable actions
                agent_outs = agent_outs.masked_fill(reshaped_avail_actions == 0, 0.0)
        return agent_outs

    def init_hidden(self, batch_size: int) -> None:
        """Zero hidden states, one per agent of each of ``batch_size`` episodes: (B, n_agents, H)."""
        self.hidden_states = self.agent.init_hidden().unsqueeze(0).expand(batch_size, self.n_agents, -1)

    # ------------------------------------------------------------------ parameters and checkpoints
    def parameters(self):
        return self.agent.parameters()

    def load_state(self, other_mac: BasicMAC) -> None:
        """Copy the agent weights of ``other_mac`` (the learner's hard target update)."""
        self.agent.load_state_dict(other_mac.agent.state_dict())

    def cuda(self) -> None:
        self.agent.cuda()

    def save_models(self, path: str | os.PathLike) -> None:
        atomic_save(self.agent.state_dict(), os.path.join(path, "agent.th"))

    def load_models(self, path: str | os.PathLike) -> None:
        load_state_dict_checked(self.agent, os.path.join(path, "agent.th"))

    # ------------------------------------------------------------------ network and inputs
    def _build_agents(self, input_shape: int) -> None:
        self.agent = agent_REGISTRY[self.args.agent](input_shape, self.args)

    def _build_inputs(self, batch, t: int) -> torch.Tensor:
        """Inputs at step ``t``: (batch * n_agents, input_shape), obs | last action | agent id."""
        bs = batch.batch_size
        inputs = [batch["obs"][:, t]]  # (B, n_agents, obs)
        if self.args.obs_last_action:
            inputs.append(last_actions_onehot(batch["actions_onehot"], t))
        if self.args.obs_agent_id:
            inputs.append(torch.eye(self.n_agents, device=batch.device).unsqueeze(0).expand(bs, -1, -1))
        return torch.cat([x.reshape(bs * self.n_agents, -1) for x in inputs], dim=1)

    def _build_sequence_inputs(self, batch) -> torch.Tensor:
        """``_build_inputs`` for every step at once: (batch, T, n_agents, input_shape)."""
        bs, T = batch.batch_size, batch.max_seq_length
        obs = batch["obs"][:, :T]
        inputs = [obs]
        if self.args.obs_last_action:
            inputs.append(last_actions_onehot(batch["actions_onehot"][:, :T]))
        if self.args.obs_agent_id:
            eye = torch.eye(self.n_agents, device=obs.device, dtype=obs.dtype)
            inputs.append(eye.expand(bs, T, -1, -1))
        return torch.cat([x.to(obs.dtype) for x in inputs], dim=-1)

    def _get_input_shape(self, scheme: dict) -> int:
        input_shape = scheme["obs"]["vshape"]
        if not isinstance(input_shape, int):
            (input_shape,) = input_shape
        if self.args.obs_last_action:
            input_shape += scheme["actions_onehot"]["vshape"][0]
        if self.args.obs_agent_id:
            input_shape += self.n_agents
        return input_shape


def unroll_agent(agent: torch.nn.Module, inputs: torch.Tensor, hidden: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Run a recurrent agent network over a sequence: the one unroll every controller uses.

    ``inputs`` (T, N, input_shape) with N = batch * n_agents rows, ``hidden`` (N, H) or any
    shape with N * H elements. Returns ``(outputs (T, N, n_actions), hidden states (T, N, H))``.
    Agents with a ``forward_sequence`` method (RNNAgent) run it; others are stepped one ``t``
    at a time.
    """
    if hasattr(agent, "forward_sequence"):
        return agent.forward_sequence(inputs, hidden)
    outs, hiddens = [], []
    for t in range(inputs.shape[0]):
        out, hidden = agent(inputs[t], hidden)
        outs.append(out)
        hiddens.append(hidden)
    return torch.stack(outs, dim=0), torch.stack(hiddens, dim=0)
