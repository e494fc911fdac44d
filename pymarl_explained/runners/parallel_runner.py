"""ParallelRunner: plays ``batch_size_run`` episodes at once and returns them as one batch.

The loop is PyMARL's: at every ``t`` the controller picks actions for every environment whose
episode still has data at ``t``; the environments still running are stepped; reward and
``terminated`` are written at ``t`` and the next observation at ``t + 1``. Environments finish
at different times, so each keeps going until its own episode ends; the last actions are selected
for every environment at its final observation, exactly like the EpisodeRunner.

With the built-in simulator the environments are one vectorised batch stepped in-process
(:class:`~pymarl_explained.runners.env_pools.BatchedEnvPool`); with StarCraft II each lives in a
subprocess (:class:`~pymarl_explained.runners.env_pools.SubprocEnvPool`).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import torch as th

from pymarl_explained.components.episode_buffer import EpisodeBatch
from pymarl_explained.envs import resolve_backend
from pymarl_explained.runners.env_pools import BatchedEnvPool, SubprocEnvPool
from pymarl_explained.runners.episode_runner import log_runner_stats


class ParallelRunner:
    """Runs ``batch_size_run`` environments in lockstep."""

    def __init__(self, args, logger):
        self.args = args
        self.logger = logger
        self.batch_size = self.args.batch_size_run

        backend, _ = resolve_backend(dict(self.args.env_args))
        pool_cls = BatchedEnvPool if backend == "builtin" else SubprocEnvPool
        if pool_cls is BatchedEnvPool:  # the built-in pool records replays only when one is wanted
            self.env_pool = BatchedEnvPool(self.args.env, dict(self.args.env_args), self.batch_size,
                                           record_replay=bool(getattr(self.args, "save_replay", False)))
        else:
            self.env_pool = SubprocEnvPool(self.args.env, dict(self.args.env_args), self.batch_size)

        self.env_info = self.env_pool.get_env_info()
        self.episode_limit = self.env_info["episode_limit"]

        self.t = 0
        self.t_env = 0

        self.train_returns: list[float] = []
        self.test_returns: list[float] = []
        self.train_stats: dict[str, Any] = {}
        self.test_stats: dict[str, Any] = {}

        self.log_train_stats_t = -100000

    def setup(self, scheme, groups, preprocess, mac) -> None:
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
        self.scheme = scheme
        self.groups = groups
        self.preprocess = preprocess

    def get_env_info(self) -> dict:
        return self.env_info

    def save_replay(self):
        return self.env_pool.save_replay()

    def close_env(self) -> None:
        self.env_pool.close()

    def reset(self) -> None:
        """New batch, reset every env, write the first observations at t = 0."""
        self.batch = self.new_batch()
        first = self.env_pool.reset()
        self.batch.update(first, ts=0)
        self.t = 0
        self.env_steps_this_run = 0

    def run(self, test_mode: bool = False) -> EpisodeBatch:
        """Play one episode in every env; return them as one EpisodeBatch of batch_size_run."""
        self.reset()

        n = self.batch_size
        episode_returns = np.zeros(n)
        episode_lengths = np.zeros(n, dtype=np.int64)
        self.mac.init_hidden(batch_size=n)
        running = np.ones(n, dtype=bool)  # episode not over yet
        has_data_at_t = running.copy()  # an observation was written at t (running, or just ended)
        final_env_infos: list[dict] = []

        while True:
            envs_with_data = np.flatnonzero(has_data_at_t).tolist()
            # actions for every env that has an observation at t
            actions = self.mac.select_actions(
                self.batch, t_ep=self.t, t_env=self.t_env, bs=envs_with_data, test_mode=test_mode
            )
            self.batch.update({"actions": actions.unsqueeze(1)}, bs=envs_with_data, ts=self.t, mark_filled=False)

            if not running.any():
                break

            # Step the envs whose episode is still running
            stepped = running.copy()
            cpu_actions = np.zeros((n, actions.shape[1]), dtype=np.int64)
            cpu_actions[has_data_at_t] = actions.cpu().numpy()
            reward, terminated, ended_infos, nxt = self.env_pool.step(cpu_actions, stepped)
            idx = np.flatnonzero(stepped).tolist()

            episode_returns[stepped] += reward[stepped]
            episode_lengths[stepped] += 1
            if not test_mode:
                self.env_steps_this_run += len(idx)
            # a time-out flagged as episode_limit is not a real terminal state
            env_terminated = terminated.copy()
            for i, info in ended_infos.items():
                final_env_infos.append(info)
                if info.get("episode_limit", False):
                    env_terminated[i] = False

            post_transition_data = {
                "reward": th.as_tensor(reward[stepped]).unsqueeze(1),
                "terminated": th.as_tensor(env_terminated[stepped]).unsqueeze(1),
            }
            self.batch.update(post_transition_data, bs=idx, ts=self.t, mark_filled=False)

            self.t += 1

            # The observation after the step: the next input, or the final one to bootstrap from
            pre_transition_data = {k: v[stepped] for k, v in nxt.items()}
            self.batch.update(pre_transition_data, bs=idx, ts=self.t, mark_filled=True)

            has_data_at_t = stepped
            running = stepped & ~terminated

        if not test_mode:
            self.t_env += self.env_steps_this_run

        cur_stats = self.test_stats if test_mode else self.train_stats
        cur_returns = self.test_returns if test_mode else self.train_returns
        log_prefix = "test_" if test_mode else ""
        infos = [cur_stats] + final_env_infos
        for k in set().union(*[set(d) for d in infos]):
            cur_stats[k] = sum(d.get(k, 0) for d in infos)
        cur_stats["n_episodes"] = n + cur_stats.get("n_episodes", 0)
        cur_stats["ep_length"] = int(episode_lengths.sum()) + cur_stats.get("ep_length", 0)

        cur_returns.extend(episode_returns.tolist())

        n_test_runs = max(1, self.args.test_nepisode // self.batch_size) * self.batch_size
        if test_mode and (len(self.test_returns) == n_test_runs):
            log_runner_stats(self.logger, self.t_env, cur_returns, cur_stats, log_prefix)
        elif not test_mode and self.t_env - self.log_train_stats_t >= self.args.runner_log_interval:
            log_runner_stats(self.logger, self.t_env, cur_returns, cur_stats, log_prefix)
            if hasattr(self.mac.action_selector, "epsilon"):
                self.logger.log_stat("epsilon", self.mac.action_selector.epsilon, self.t_env)
            self.log_train_stats_t = self.t_env

        return self.batch
