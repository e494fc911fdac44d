"""EpisodeRunner: plays one episode in one environment and returns it as an EpisodeBatch.

PyMARL's data flow, step by step (the notebook 02_episode_runner walks through it):

- ``__init__``: builds the env from the registry; ``batch_size_run`` must be 1 (one env, no
  parallelism); ``t`` counts steps inside the current episode, ``t_env`` counts env steps over the
  whole training run and only grows in training episodes.
- ``setup``: stores ``new_batch``, a partial EpisodeBatch constructor whose ``max_seq_length`` is
  ``episode_limit + 1`` (room for the observation after the last action).
- ``run``: at each ``t`` writes what the agents see (state, avail_actions, obs), asks the
  controller for actions, steps the env and writes actions, reward and ``terminated`` at the same
  ``t``. After the last step it writes the final observation and selects actions there too: the
  learner's target network needs Q-values at the step after the last action to bootstrap an
  episode that did not really end (a time-out flagged as ``episode_limit``, which SMAC reports
  only with ``continuing_episode=True``; by default a time-out is stored as terminal).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from pymarl_explained.components.episode_buffer import EpisodeBatch
from pymarl_explained.envs import REGISTRY as env_REGISTRY
from pymarl_explained.errors import ConfigError


class EpisodeRunner:
    """Runs a single environment for one whole episode at a time."""

    def __init__(self, args, logger):
        self.args = args
        self.logger = logger
        self.batch_size = self.args.batch_size_run
        if self.batch_size != 1:
            raise ConfigError(
                f"runner=episode plays one env at a time, so batch_size_run must be 1 "
                f"(got {self.batch_size}); use runner=parallel for several envs."
            )

        self.env = env_REGISTRY[self.args.env](**self.args.env_args)
        self.episode_limit = self.env.episode_limit
        self.t = 0  # step inside the current episode

        self.t_env = 0  # env steps over the whole run (training episodes only)

        self.train_returns: list[float] = []
        self.test_returns: list[float] = []
        self.train_stats: dict[str, Any] = {}
        self.test_stats: dict[str, Any] = {}

        # far in the past, so the first training episode is logged
        self.log_train_stats_t = -1000000

    def setup(self, scheme, groups, preprocess, mac) -> None:
        """Remember the controller and how to build an empty one-episode batch."""
        self.new_batch = partial(
            EpisodeBatch,
            scheme,
            groups,
            self.batch_size,
            self.episode_limit + 1,
            preprocess=preprocess,
            device=self.args.device,
        )
        self.mac = mac

    def get_env_info(self) -> dict:
        return self.env.get_env_info()

    def save_replay(self):
        return self.env.save_replay()

    def close_env(self) -> None:
        self.env.close()

    def reset(self) -> None:
        """A fresh batch, a fresh episode, and ``t`` back to 0."""
        self.batch = self.new_batch()
        self.env.reset()
        self.t = 0

    def run(self, test_mode: bool = False) -> EpisodeBatch:
        """Play one episode; return it as an EpisodeBatch of batch size 1."""
        self.reset()

        terminated = False
        episode_return = 0.0
        self.mac.init_hidden(batch_size=self.batch_size)

        while not terminated:
            pre_transition_data = {
                "state": [self.env.get_state()],
                "avail_actions": [self.env.get_avail_actions()],
                "obs": [self.env.get_obs()],
            }
            self.batch.update(pre_transition_data, ts=self.t)

            # the controller reads the batch up to t (its GRU state carries the earlier steps)
            actions = self.mac.select_actions(self.batch, t_ep=self.t, t_env=self.t_env, test_mode=test_mode)

            reward, terminated, env_info = self.env.step(actions[0])
            episode_return += reward

            post_transition_data = {
                "actions": actions,
                "reward": [(reward,)],
                # a time-out flagged as episode_limit is not a real terminal state
                "terminated": [(terminated != env_info.get("episode_limit", False),)],
            }
            self.batch.update(post_transition_data, ts=self.t)
            self.t += 1

        last_data = {
            "state": [self.env.get_state()],
            "avail_actions": [self.env.get_avail_actions()],
            "obs": [self.env.get_obs()],
        }
        self.batch.update(last_data, ts=self.t)

        # one more action, at the final observation: the target network bootstraps from it
        actions = self.mac.select_actions(self.batch, t_ep=self.t, t_env=self.t_env, test_mode=test_mode)
        self.batch.update({"actions": actions}, ts=self.t)

        cur_stats = self.test_stats if test_mode else self.train_stats
        cur_returns = self.test_returns if test_mode else self.train_returns
        log_prefix = "test_" if test_mode else ""
        for k in set(cur_stats) | set(env_info):
            cur_stats[k] = cur_stats.get(k, 0) + env_info.get(k, 0)
        cur_stats["n_episodes"] = 1 + cur_stats.get("n_episodes", 0)
        cur_stats["ep_length"] = self.t + cur_stats.get("ep_length", 0)

        if not test_mode:
            self.t_env += self.t

        cur_returns.append(episode_return)

        if test_mode and (len(self.test_returns) == self.args.test_nepisode):
            self._log(cur_returns, cur_stats, log_prefix)
        elif not test_mode and self.t_env - self.log_train_stats_t >= self.args.runner_log_interval:
            self._log(cur_returns, cur_stats, log_prefix)
            if hasattr(self.mac.action_selector, "epsilon"):
                self.logger.log_stat("epsilon", self.mac.action_selector.epsilon, self.t_env)
            self.log_train_stats_t = self.t_env

        return self.batch

    def _log(self, returns: list[float], stats: dict[str, Any], prefix: str) -> None:
        """Log mean/std return and the mean of every summed stat, then clear them."""
        log_runner_stats(self.logger, self.t_env, returns, stats, prefix)


def log_runner_stats(logger, t_env: int, returns: list[float], stats: dict[str, Any], prefix: str) -> None:
    """Shared by both runners: ``return_mean``, ``return_std`` and ``<stat>_mean`` per episode."""
    logger.log_stat(prefix + "return_mean", float(np.mean(returns)), t_env)
    logger.log_stat(prefix + "return_std", float(np.std(returns)), t_env)
    returns.clear()

    n_episodes = stats["n_episodes"]
    for k, v in sorted(stats.items()):
        if k != "n_episodes":
            logger.log_stat(prefix + k + "_mean", float(v) / n_episodes, t_env)
    stats.clear()
