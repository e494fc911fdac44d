"""``MultiAgentEnv``: the interface PyMARL's runners and controllers call.

This is PyMARL's abstract base class (``envs/multiagentenv.py``). Both the built-in marine
simulator and the wrapper around the real ``smac.env.StarCraft2Env`` implement it, so the rest of
the package cannot tell them apart.
"""

from __future__ import annotations

from typing import Any


class MultiAgentEnv:
    """A cooperative multi-agent environment with a shared reward (SMAC's interface)."""

    episode_limit: int
    """Maximum number of steps of an episode."""

    def step(self, actions: Any) -> tuple[float, bool, dict]:
        """Take one action per agent; return ``(reward, terminated, info)``."""
        raise NotImplementedError

    def get_obs(self) -> list:
        """Return every agent's observation, as a list."""
        raise NotImplementedError

    def get_obs_agent(self, agent_id: int) -> Any:
        """Return the observation of one agent."""
        raise NotImplementedError

    def get_obs_size(self) -> int:
        """Return the length of one agent's observation."""
        raise NotImplementedError

    def get_state(self) -> Any:
        """Return the global state (used only by centralised training, e.g. QMIX's mixer)."""
        raise NotImplementedError

    def get_state_size(self) -> int:
        """Return the length of the global state."""
        raise NotImplementedError

    def get_avail_actions(self) -> list:
        """Return every agent's availability mask over the actions."""
        raise NotImplementedError

    def get_avail_agent_actions(self, agent_id: int) -> Any:
        """Return one agent's availability mask."""
        raise NotImplementedError

    def get_total_actions(self) -> int:
        """Return the number of actions an agent can choose from (available or not)."""
        raise NotImplementedError

    def reset(self) -> Any:
        """Start a new episode; return the initial observations and state."""
        raise NotImplementedError

    def render(self) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def seed(self) -> Any:
        raise NotImplementedError

    def save_replay(self) -> Any:
        raise NotImplementedError

    def get_stats(self) -> dict:
        """Return running statistics (battles won, played, ...)."""
        return {}

    def get_env_info(self) -> dict:
        """The sizes a learner needs to build its networks and episode buffer."""
        return {
            "state_shape": self.get_state_size(),
            "obs_shape": self.get_obs_size(),
            "n_actions": self.get_total_actions(),
            "n_agents": self.n_agents,
            "episode_limit": self.episode_limit,
        }
