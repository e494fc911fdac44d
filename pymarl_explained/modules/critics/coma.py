"""COMA's centralised critic: Q(s, (u^-a, .)) for every action of agent a, in one forward pass.

The critic is only used in training, so it may see everything: the global state, the agent's
own observation, what the *other* agents did at this step, what everyone did at the previous
step, and which agent it is evaluating. Its output is one value per action of that agent, with
the other agents' actions held fixed. That is exactly what the counterfactual baseline of
Foerster et al. (2018) needs: the value of every alternative action of agent a is available
without another network call per action.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from pymarl_explained.components.episode_buffer import EpisodeBatch
from pymarl_explained.components.transforms import last_actions_onehot

CRITIC_HIDDEN = 128  # PyMARL's width of both hidden layers


def _width(vshape) -> int:
    """A scheme vshape (an int or a 1-tuple) as an int."""
    if isinstance(vshape, int):
        return vshape
    (width,) = vshape
    return int(width)


class COMACritic(nn.Module):
    """A three-layer MLP (ReLU, 128 units) applied to one input row per agent and step.

    Input row of agent a at step t, concatenated in this order:

    1. the state s_t,
    2. agent a's observation o^a_t,
    3. the one-hot actions of all agents at t, with agent a's own block set to zero (the critic
       must not know which action a took: its outputs range over them),
    4. the one-hot actions of all agents at t-1 (zeros at t=0); COMA's config therefore turns the
       env's ``state_last_action`` off, the critic adds them itself,
    5. the one-hot id of agent a.

    Output: (B, T, n_agents, n_actions).
    """

    def __init__(self, scheme: dict, args):
        super().__init__()
        self.n_actions = args.n_actions
        self.n_agents = args.n_agents
        self.input_shape = self._get_input_shape(scheme)
        self.output_type = "q"
        self.fc1 = nn.Linear(self.input_shape, CRITIC_HIDDEN)
        self.fc2 = nn.Linear(CRITIC_HIDDEN, CRITIC_HIDDEN)
        self.fc3 = nn.Linear(CRITIC_HIDDEN, self.n_actions)

    def forward(self, batch: EpisodeBatch, t: int | None = None) -> torch.Tensor:
        """Q-values (B, T, n_agents, n_actions) for all steps, or (B, 1, n_agents, n_actions) at step ``t``."""
        x = F.relu(self.fc1(self._build_inputs(batch, t)))
        x = F.relu(self.fc2(x))
        return self.fc3(x)

    def _build_inputs(self, batch: EpisodeBatch, t: int | None = None) -> torch.Tensor:
        """Input rows (B, T', n_agents, input_shape); T' = 1 when ``t`` is given, else all steps."""
        bs, n = batch.batch_size, self.n_agents
        steps = slice(None) if t is None else slice(t, t + 1)
        state = batch["state"][:, steps]
        n_steps = state.shape[1]
        dtype = state.dtype

        def per_agent(x: torch.Tensor) -> torch.Tensor:
            """(B, T', width) -> the same row for every agent: (B, T', n_agents, width)."""
            return x.unsqueeze(2).expand(-1, -1, n, -1)

        actions_onehot = batch["actions_onehot"].to(dtype)  # (B, T, n_agents, n_actions)
        joint_now = actions_onehot[:, steps].reshape(bs, n_steps, n * self.n_actions)
        # block (a, a) of this (n_agents, n_agents * n_actions) matrix is 0: "hide my own action"
        hide_own = (1 - torch.eye(n, device=state.device, dtype=dtype)).repeat_interleave(self.n_actions, dim=1)

        previous = last_actions_onehot(actions_onehot) if t is None else last_actions_onehot(actions_onehot, t)[:, None]
        joint_before = previous.reshape(bs, n_steps, n * self.n_actions)

        agent_ids = torch.eye(n, device=state.device, dtype=dtype).expand(bs, n_steps, -1, -1)
        inputs = [
            per_agent(state),
            batch["obs"][:, steps].to(dtype),
            per_agent(joint_now) * hide_own,
            per_agent(joint_before),
            agent_ids,
        ]
        return torch.cat(inputs, dim=-1)

    def _get_input_shape(self, scheme: dict) -> int:
        """state + obs + 2 joint one-hot actions (now, others only; and last step) + agent id."""
        joint_actions = _width(scheme["actions_onehot"]["vshape"]) * self.n_agents
        return _width(scheme["state"]["vshape"]) + _width(scheme["obs"]["vshape"]) + 2 * joint_actions + self.n_agents
