"""Groups of environments stepped together for the ParallelRunner.

PyMARL's ParallelRunner keeps one subprocess per environment and talks to each over a Pipe.
That is the only way to run several StarCraft II games at once, and it is kept here
(:class:`SubprocEnvPool`) with two of its known defects fixed:

- every worker got the same seed, so the "parallel" episodes were copies of each other at the
  start: worker ``i`` now gets ``seed + i``;
- a worker that died (the game crashed) left the parent waiting on ``recv()`` forever: the parent
  now polls and raises a clear error naming the worker and its exit code.

The built-in simulator steps a whole batch of environments in one vectorised call, so for it
:class:`BatchedEnvPool` calls that batched API in-process, with no per-environment Python work.

Both pools offer the same methods: ``reset()`` and ``step(actions, active)`` return numpy arrays
over the batch, and the info dicts of the environments whose episode ended in this step.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from typing import Any

import numpy as np

from pymarl_explained.errors import EnvironmentSetupError
from pymarl_explained.utils.interrupts import interrupts_deferred

Obs = dict[str, np.ndarray]


class BatchedEnvPool:
    """``n_envs`` built-in environments stepped in lockstep by one vectorised call.

    With ``record_replay`` (the runner sets it from ``save_replay``), every environment's episodes
    are recorded for :meth:`save_replay`. PyMARL defect fixed: PyMARL's ParallelRunner has no
    replay at all (its ``save_replay`` does nothing), so ``save_replay=True`` with COMA, whose
    config uses that runner, silently saved nothing.
    """

    def __init__(self, env_name: str, env_args: dict, n_envs: int, record_replay: bool = False):
        from pymarl_explained.envs import make_batched_env
        from pymarl_explained.envs.replay import BatchReplayRecorder, replay_meta

        if env_name != "sc2":
            raise EnvironmentSetupError(f"No batched version of env {env_name!r}.")
        self.env = make_batched_env(n_envs, **env_args)
        self.n_envs = n_envs
        self.recorder = BatchReplayRecorder(replay_meta(self.env), n_envs) if record_replay else None

    def _observe(self) -> Obs:
        return {
            "state": self.env.get_state(),
            "avail_actions": self.env.get_avail_actions(),
            "obs": self.env.get_obs(),
        }

    def reset(self) -> Obs:
        self.env.reset()
        if self.recorder is not None:
            self.recorder.start(self.env)
        return self._observe()

    def step(self, actions: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[int, dict], Obs]:
        reward, terminated, info = self.env.step(actions, active=active)
        if self.recorder is not None:
            self.recorder.add(self.env, actions, self.env.reward64, active, terminated)
        ended = {int(i): {k: v[i].item() for k, v in info.items()} for i in np.flatnonzero(active & terminated)}
        return reward, terminated, ended, self._observe()

    def get_env_info(self) -> dict:
        return self.env.get_env_info()

    def get_stats(self) -> dict:
        return self.env.get_stats()

    def save_replay(self) -> str:
        """Write the recorded episodes of every environment to one replay file; print and return
        its path (``replay_dir`` or ``<cwd>/replays``, named ``{replay_prefix or map_name}_{time}.npz``)."""
        from pymarl_explained.envs.replay import save_replay_file

        if self.recorder is None:
            raise EnvironmentSetupError("This env pool records no replay: create it with record_replay=True "
                                        "(the ParallelRunner does when save_replay=True).")
        args = self.env.env_args
        replay_dir = args["replay_dir"] or os.path.join(os.getcwd(), "replays")
        path = save_replay_file(self.recorder.to_replay(), replay_dir, args["replay_prefix"] or self.env.map_name)
        self.recorder.keep_current_only()
        print(f"Replay saved at: {path}")
        return path

    def close(self) -> None:
        self.env.close()


def env_worker(remote, env_name: str, env_args: dict) -> None:
    """Subprocess loop: build one env, then answer the parent's commands until "close".

    Ctrl-C reaches every process of the terminal's group; the worker ignores it and lets the
    parent stop the run and close the pool. A parent that died (its end of the pipe is closed)
    ends the worker quietly.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from pymarl_explained.envs import REGISTRY as env_REGISTRY

    env = env_REGISTRY[env_name](**env_args)
    while True:
        try:
            cmd, data = remote.recv()
        except (EOFError, OSError):  # the parent is gone
            env.close()
            break
        if cmd == "step":
            reward, terminated, info = env.step(data)
            remote.send(
                {
                    "state": env.get_state(),
                    "avail_actions": env.get_avail_actions(),
                    "obs": env.get_obs(),
                    "reward": reward,
                    "terminated": terminated,
                    "info": info,
                }
            )
        elif cmd == "reset":
            env.reset()
            remote.send({"state": env.get_state(), "avail_actions": env.get_avail_actions(), "obs": env.get_obs()})
        elif cmd == "get_env_info":
            remote.send(env.get_env_info())
        elif cmd == "get_stats":
            remote.send(env.get_stats())
        elif cmd == "save_replay":
            remote.send(env.save_replay())
        elif cmd == "close":
            env.close()
            remote.close()
            break
        else:
            raise NotImplementedError(cmd)


def worker_died(proc: Any, name: str) -> EnvironmentSetupError:
    """The error for a worker process that is gone (reaped first, so its exit code is known)."""
    proc.join(timeout=1)
    return EnvironmentSetupError(f"{name} (pid {proc.pid}) died with exit code {proc.exitcode}; "
                                 "see its error above. The run stops instead of waiting forever.")


def send_to_worker(conn: Any, proc: Any, name: str, message: Any) -> None:
    """``conn.send(message)``; a worker that is gone is a clear error. Ctrl-C waits for the message to
    be written whole: half a message would leave the pipe unreadable for the clean stop that follows."""
    try:
        with interrupts_deferred():
            conn.send(message)
    except (BrokenPipeError, ConnectionResetError, EOFError) as exc:
        raise worker_died(proc, name) from exc


def receive_from_worker(conn: Any, proc: Any, name: str, timeout_s: float) -> Any:
    """The worker's next message, raising instead of hanging if it died or went silent."""
    waited = 0.0
    while not conn.poll(0.5):
        waited += 0.5
        if not proc.is_alive():
            raise worker_died(proc, name)
        if waited >= timeout_s:
            raise EnvironmentSetupError(f"{name} did not answer within {timeout_s:.0f} s.")
    try:
        with interrupts_deferred():  # the message is there: read it whole (see send_to_worker)
            return conn.recv()
    except (EOFError, ConnectionResetError) as exc:
        raise worker_died(proc, name) from exc


class SubprocEnvPool:
    """One environment per subprocess (PyMARL's design, needed for StarCraft II)."""

    def __init__(self, env_name: str, env_args: dict, n_envs: int, timeout_s: float = 600.0):
        ctx = mp.get_context("spawn")
        self.n_envs = n_envs
        self.timeout_s = timeout_s
        self.parent_conns, worker_conns = zip(*[ctx.Pipe() for _ in range(n_envs)], strict=True)
        base_seed = env_args.get("seed")
        self.ps = []
        for i, worker_conn in enumerate(worker_conns):
            worker_args = dict(env_args)
            if base_seed is not None:
                worker_args["seed"] = base_seed + i  # PyMARL gave every worker the same seed
            p = ctx.Process(target=env_worker, args=(worker_conn, env_name, worker_args), daemon=True)
            p.start()
            self.ps.append(p)

    def _name(self, i: int) -> str:
        return f"Environment worker {i}"

    def _send(self, i: int, cmd: str, data: Any = None) -> None:
        send_to_worker(self.parent_conns[i], self.ps[i], self._name(i), (cmd, data))

    def _recv(self, i: int) -> Any:
        """Wait for worker ``i``'s answer, raising instead of hanging if it died."""
        return receive_from_worker(self.parent_conns[i], self.ps[i], self._name(i), self.timeout_s)

    def _ask_all(self, cmd: str, data: Any = None) -> list[Any]:
        for i in range(self.n_envs):
            self._send(i, cmd, data)
        return [self._recv(i) for i in range(self.n_envs)]

    def reset(self) -> Obs:
        answers = self._ask_all("reset")
        return {k: np.stack([np.asarray(a[k]) for a in answers]) for k in ("state", "avail_actions", "obs")}

    def step(self, actions: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[int, dict], Obs]:
        idx = np.flatnonzero(active)
        for i in idx:
            self._send(i, "step", actions[i])
        answers = {i: self._recv(i) for i in idx}
        reward = np.zeros(self.n_envs, dtype=np.float32)
        terminated = np.zeros(self.n_envs, dtype=bool)
        ended: dict[int, dict] = {}
        first = next(iter(answers.values()))
        obs = {k: np.zeros((self.n_envs, *np.shape(first[k])), dtype=np.float32) for k in ("state", "obs")}
        obs["avail_actions"] = np.zeros((self.n_envs, *np.shape(first["avail_actions"])), dtype=np.int64)
        for i, a in answers.items():
            reward[i], terminated[i] = a["reward"], a["terminated"]
            if a["terminated"]:
                ended[int(i)] = a["info"]
            for k in obs:
                obs[k][i] = a[k]
        return reward, terminated, ended, obs

    def get_env_info(self) -> dict:
        self._send(0, "get_env_info")
        return self._recv(0)

    def get_stats(self) -> dict:
        return self._ask_all("get_stats")[0]

    def save_replay(self):
        self._send(0, "save_replay")
        return self._recv(0)

    def close(self) -> None:
        """Ask every live worker to close its env, then make sure each process is gone.

        Safe to call twice and after a worker died (it is then only reaped)."""
        for conn, p in zip(self.parent_conns, self.ps, strict=True):
            if p.is_alive():
                try:
                    conn.send(("close", None))
                except OSError:
                    pass
        for p in self.ps:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        for conn in self.parent_conns:
            conn.close()
