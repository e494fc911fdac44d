"""PipelinedRunner: the next training episode plays in a worker process while the learner trains.

PyMARL's loop alternates on one core: play an episode, train once, play the next one. For QMIX on
MarineMicro_MvsM_4 the learner's step takes about 25 ms and an episode about 10 ms, and they never
overlap, so the second core of a 2-core machine idles. This runner moves an episode runner (the env
and a copy of the agent network) into a worker process and keeps one training episode in flight:

- ``run()`` waits for the training episode in flight, sends the controller's current weights with
  the request for the next one, and returns the finished episode. The loop inserts it and trains
  while the worker plays the next episode.
- **The one difference in what is learned:** each training episode is played with the weights of
  one update earlier than in PyMARL (episode k+1 with the weights after k-1 updates, not k). This is
  the usual price of an actor that runs beside the learner: a policy lag of one update in thousands.
- ``run(test_mode=True)`` first collects the training episode in flight (the next ``run()`` returns
  it), then plays a test episode with the current weights, as PyMARL would.
- What the episode runner logs (returns, win rates, epsilon) and its ``t_env`` are the
  EpisodeRunner's: every request carries the main process's ``t_env``, and the worker's
  ``log_stat`` calls travel back with the episode and go into the run's logger.
- Deterministic: the worker seeds python, numpy and torch from ``seed`` once it is set up, and the
  order of requests does not depend on timing.

The worker plays with :func:`~pymarl_explained.runners.fast_episode_runner.episode_runner_class`
(the FastEpisodeRunner by default). The controller needs one agent network (``mac.agent``: PyMARL's
BasicMAC); its weights travel as numpy arrays, about 120 kB per episode for QMIX on MarineMicro_MvsM_4.

Not part of PyMARL: ``make train`` uses it (``runner=pipelined``); the default is ``runner=episode``.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import signal
import time
import traceback
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from pymarl_explained.components.episode_buffer import EpisodeBatch
from pymarl_explained.errors import ConfigError, EnvironmentSetupError, PymarlError
from pymarl_explained.runners.env_pools import receive_from_worker, send_to_worker
from pymarl_explained.runners.fast_episode_runner import episode_runner_class

WORKER_NAME = "The pipelined runner's worker"


class RecordingLogger:
    """The worker's logger: keeps every ``log_stat`` call for the main process to replay."""

    def __init__(self) -> None:
        import logging

        self.console_logger = logging.getLogger("pymarl")
        self.calls: list[tuple[str, Any, int, bool]] = []

    def log_stat(self, key: str, value: Any, t: int, to_sacred: bool = True) -> None:
        self.calls.append((key, value, t, to_sacred))

    def take(self) -> list[tuple[str, Any, int, bool]]:
        calls, self.calls = self.calls, []
        return calls


def _batch_arrays(batch: EpisodeBatch) -> dict[str, dict[str, np.ndarray]]:
    return {"transition_data": {k: v.cpu().numpy() for k, v in batch.data.transition_data.items()},
            "episode_data": {k: v.cpu().numpy() for k, v in batch.data.episode_data.items()}}


def pipeline_worker(remote, args) -> None:
    """The worker process: an episode runner that answers the main process's requests until "close".

    Requests: ``("start", None)`` (build the runner and its env); ``("setup", (scheme, groups,
    preprocess, args))``; ``("run", (test_mode, t_env, weights))``;
    ``("replay", None)`` (the env's recorded replay, or None); ``("save_replay", None)``;
    ``("close", None)``. Answers are ``(kind, payload)``; a failure answers ``("error", (error,
    traceback))``, with the exception itself when it is one of the package's clear errors.
    Ctrl-C is left to the main process, which closes the worker.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from pymarl_explained.controllers import REGISTRY as mac_REGISTRY

    if getattr(args, "torch_threads", 0):
        torch.set_num_threads(args.torch_threads)
    logger = RecordingLogger()
    runner = mac = None
    while True:
        try:
            cmd, data = remote.recv()
        except (EOFError, OSError):  # the main process is gone
            break
        try:
            if cmd == "start":
                runner = episode_runner_class(args)(args=args, logger=logger)
                remote.send(("env_info", runner.get_env_info()))
            elif cmd == "setup":  # with the args that now hold the env's sizes (build_components)
                scheme, groups, preprocess, args = data
                runner.args = args
                full_scheme = EpisodeBatch(scheme, groups, 1, 1, preprocess=preprocess).scheme
                mac = mac_REGISTRY[args.mac](full_scheme, groups, args)
                runner.setup(scheme=scheme, groups=groups, preprocess=preprocess, mac=mac)
                random.seed(args.seed)
                np.random.seed(args.seed % 2**32)
                torch.manual_seed(args.seed)
                remote.send(("ready", None))
            elif cmd == "run":
                test_mode, t_env, weights = data
                mac.agent.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
                runner.t_env = t_env
                batch = runner.run(test_mode=test_mode)
                remote.send(("episode", (_batch_arrays(batch), runner.t_env, logger.take())))
            elif cmd == "replay":
                remote.send(("replay", getattr(runner.env, "replay", None)))
            elif cmd == "save_replay":
                remote.send(("saved", runner.save_replay()))
            elif cmd == "close":
                if runner is not None:
                    runner.close_env()
                remote.close()
                break
            else:
                raise ValueError(f"unknown request {cmd!r}")
        except (BrokenPipeError, ConnectionResetError, EOFError):  # the main process is gone
            break
        except Exception as error:  # the main process raises it (a PymarlError as itself)
            try:
                remote.send(("error", (error if isinstance(error, PymarlError) else None, traceback.format_exc())))
            except OSError:
                break


class WorkerEnvView:
    """``runner.env`` for code that reads the env's replay (``save_battle_animation``)."""

    def __init__(self, runner: PipelinedRunner):
        self._runner = runner

    @property
    def replay(self):
        return self._runner._ask("replay")


class PipelinedRunner:
    """Episodes from a worker process, one training episode ahead (module docstring)."""

    def __init__(self, args, logger, timeout_s: float = 600.0):
        self.args = args
        self.logger = logger
        self.batch_size = self.args.batch_size_run
        if self.batch_size != 1:
            raise ConfigError(f"runner=pipelined plays one env at a time, so batch_size_run must be 1 "
                              f"(got {self.batch_size}); use runner=parallel for several envs.")
        self.timeout_s = timeout_s
        self.t_env = 0  # env steps of the training episodes returned so far
        self.in_flight = False  # a training episode is being played
        self.stash: tuple | None = None  # a training episode collected early (before a test episode)
        ctx = mp.get_context("spawn")
        self.conn, worker_conn = ctx.Pipe()
        self.process = ctx.Process(target=pipeline_worker, args=(worker_conn, args), daemon=True)
        self.process.start()
        worker_conn.close()
        self.env = WorkerEnvView(self)
        try:
            self.env_info = self._ask("start")
        except BaseException:
            self.close_env()
            raise
        self.episode_limit = self.env_info["episode_limit"]

    # ------------------------------------------------------------------ talking to the worker
    def _send(self, cmd: str, data: Any = None) -> None:
        send_to_worker(self.conn, self.process, WORKER_NAME, (cmd, data))

    def _receive(self) -> Any:
        """The worker's next answer, raising instead of hanging if it died or failed."""
        kind, payload = receive_from_worker(self.conn, self.process, WORKER_NAME, self.timeout_s)
        if kind == "error":
            error, text = payload
            if error is not None:  # a clear error of the package (a bad config, no StarCraft II, ...)
                raise error
            raise EnvironmentSetupError(f"The pipelined runner's worker failed:\n{text}")
        return payload

    def _collect_in_flight(self) -> None:
        """Receive the training episode in flight into ``stash``: the pipe is then free both ways."""
        if self.in_flight:
            self.stash = self._receive()
            self.in_flight = False

    def _ask(self, cmd: str, data: Any = None) -> Any:
        self._collect_in_flight()
        self._send(cmd, data)
        return self._receive()

    def _weights(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy() for k, v in self.mac.agent.state_dict().items()}

    # ------------------------------------------------------------------ the runner's interface
    def setup(self, scheme, groups, preprocess, mac) -> None:
        if not isinstance(getattr(mac, "agent", None), torch.nn.Module):
            raise ConfigError(f"runner=pipelined needs a controller with one agent network (mac.agent), like "
                              f"basic_mac; {type(mac).__name__} has none: use runner=episode.")
        # the scheme with "filled" and the preprocess outputs, for batches built around received arrays
        self.full_scheme = EpisodeBatch(scheme, groups, 1, 1, preprocess=preprocess).scheme
        self.groups, self.preprocess = groups, preprocess
        self.mac = mac
        self._ask("setup", (scheme, groups, preprocess, self.args))

    def get_env_info(self) -> dict:
        return self.env_info

    def run(self, test_mode: bool = False) -> EpisodeBatch:
        """A test episode now, or the training episode in flight (starting the next one)."""
        if test_mode:
            return self._unpack(self._ask("run", (True, self.t_env, self._weights())))
        if self.stash is None and not self.in_flight:  # the first episode: nothing is in flight yet
            self._send("run", (False, self.t_env, self._weights()))
            self.in_flight = True
        self._collect_in_flight()
        episode, self.stash = self.stash, None
        batch = self._unpack(episode)
        self._send("run", (False, self.t_env, self._weights()))  # the next one, with the weights of now
        self.in_flight = True
        return batch

    def _unpack(self, episode: tuple) -> EpisodeBatch:
        arrays, t_env, log_calls = episode
        self.t_env = t_env
        for key, value, t, to_sacred in log_calls:
            self.logger.log_stat(key, value, t, to_sacred=to_sacred)
        data = SimpleNamespace(**{part: {k: torch.from_numpy(v) for k, v in fields.items()}
                                  for part, fields in arrays.items()})
        batch = EpisodeBatch(self.full_scheme, self.groups, self.batch_size, self.episode_limit + 1, data=data,
                             preprocess=self.preprocess)
        if str(self.args.device) != "cpu":
            batch.to(self.args.device)
        return batch

    def save_replay(self):
        return self._ask("save_replay")

    def close_env(self) -> None:
        """Ask the worker to close its env and exit, reading (and dropping) an episode it may still be
        sending, so it is never stuck on a full pipe; then make sure it is gone. Safe to call twice,
        after the worker died, and after a Ctrl-C that landed anywhere in ``run``."""
        if self.process.is_alive():
            try:
                self.conn.send(("close", None))  # small: it waits in the pipe behind any episode in flight
                deadline = time.monotonic() + 10.0  # an episode takes milliseconds
                while self.process.is_alive() and time.monotonic() < deadline:
                    if self.conn.poll(0.05):
                        self.conn.recv()
            except (OSError, EOFError):
                pass
        self.in_flight = False
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)
        self.conn.close()
