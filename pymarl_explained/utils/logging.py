"""The Logger every component reports to, and PyMARL's "Recent Stats" console block.

``logger.log_stat(key, value, t)`` is the one call the runner and the learner make. The Logger
fans each stat out to every sink that is switched on:

- the console: PyMARL prints the recent stats every ``log_interval`` env steps;
- sacred: the run's ``info.json`` gets ``key`` and ``key_T`` lists (PyMARL's layout);
- TensorBoard, when ``use_tensorboard`` is True;
- a plain metrics file, ``metrics.jsonl``, one JSON object per stat
  (``{"key": "return_mean", "t_env": 10000, "value": 1.25}``), easy to read from a notebook
  (:func:`read_metrics`). Wall-clock time goes to a separate ``wallclock.jsonl`` so that the same
  seed gives byte-identical metrics files.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np


def _plain(value: Any) -> float | int | bool:
    """A JSON-ready number from a python/numpy/torch scalar."""
    return value.item() if hasattr(value, "item") else value


class Logger:
    """Collects stats and forwards them to the console, sacred, TensorBoard and a metrics file."""

    def __init__(self, console_logger: logging.Logger):
        self.console_logger = console_logger
        self.use_tb = False
        self.use_sacred = False
        self.use_hdf = False  # PyMARL's flag; no HDF sink here
        self.metrics_file = None
        self.stats: dict[str, list[tuple[int, Any]]] = defaultdict(list)

    def setup_tb(self, directory_name: str) -> None:
        """Write every stat to TensorBoard event files in ``directory_name``."""
        from torch.utils.tensorboard import SummaryWriter  # imported only when asked for

        self.tb_writer = SummaryWriter(log_dir=directory_name)
        self.use_tb = True

    def setup_sacred(self, sacred_run_dict) -> None:
        """Mirror every stat into sacred's ``_run.info`` (saved as the run's info.json)."""
        self.sacred_info = sacred_run_dict.info
        self.use_sacred = True

    def setup_metrics_file(self, path: str | Path) -> None:
        """Append every stat as a JSON line to ``path`` (flushed at each write)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.metrics_path = path
        self.metrics_file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def log_stat(self, key: str, value: Any, t: int, to_sacred: bool = True) -> None:
        """Record ``value`` of stat ``key`` at env step ``t`` in every sink."""
        value = _plain(value)
        self.stats[key].append((t, value))
        if self.use_tb:
            self.tb_writer.add_scalar(key, value, t)
        if self.use_sacred and to_sacred:
            self.sacred_info.setdefault(key, []).append(value)
            self.sacred_info.setdefault(key + "_T", []).append(t)
        if self.metrics_file is not None:
            record = {"key": key, "t_env": int(t), "value": value}
            self.metrics_file.write(json.dumps(record) + "\n")
            self.metrics_file.flush()

    def print_recent_stats(self) -> None:
        """PyMARL's console block: the mean of the last 5 values of every stat (epsilon: last 1)."""
        log_str = "Recent Stats | t_env: {:>10} | Episode: {:>8}\n".format(*self.stats["episode"][-1])
        i = 0
        for k, v in sorted(self.stats.items()):
            if k == "episode":
                continue
            i += 1
            window = 5 if k != "epsilon" else 1
            item = f"{float(np.mean([float(x[1]) for x in v[-window:]])):.4f}"
            log_str += "{:<25}{:>8}".format(k + ":", item)
            log_str += "\n" if i % 4 == 0 else "\t"
        self.console_logger.info(log_str)

    def close(self) -> None:
        """Flush and close the file sinks."""
        if self.metrics_file is not None:
            self.metrics_file.close()
            self.metrics_file = None
        if self.use_tb:
            self.tb_writer.close()


class CurrentStderrHandler(logging.StreamHandler):
    """A console handler that writes to whatever ``sys.stderr`` is at the time of each message.

    A plain ``StreamHandler`` keeps the stream it was created with. Sacred captures a run's output
    by replacing ``sys.stderr`` during the run (and Jupyter gives each cell its own), so such a
    handler bypassed the capture: ``cout.txt`` held the progress bar but none of the log (Recent
    Stats, saving models, errors), which PyMARL's ``cout.txt`` has.
    """

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ and setStream assign it: ignored
        pass


def get_logger(level: int | str | None = None) -> logging.Logger:
    """PyMARL's console logger: ``[INFO 12:34:56] pymarl Message``.

    The level is INFO unless set: by ``level``, or earlier (``--debug``, or a notebook's
    ``logging.getLogger("pymarl").setLevel(logging.WARNING)``). A bug fixed: every call used to
    reset it to INFO, so ``build_experiment`` undid ``--debug``.
    """
    logger = logging.getLogger("pymarl")
    if not logger.handlers:
        handler = CurrentStderrHandler()
        formatter = logging.Formatter("[%(levelname)s %(asctime)s] %(name)s %(message)s", "%H:%M:%S")
        handler.setFormatter(formatter)
        logger.addHandler(handler)
        logger.propagate = False
    if level is not None:
        logger.setLevel(level)
    elif logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    return logger


def read_metrics(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read a ``metrics.jsonl`` file into ``{key: (t_env array, value array)}``.

    A truncated last line (a run killed while writing) is skipped, so a crashed run's metrics
    are still readable.
    """
    series: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            ts, vs = series[rec["key"]]
            ts.append(rec["t_env"])
            value = rec["value"]
            vs.append(math.nan if value is None else float(value))
    return {k: (np.asarray(t), np.asarray(v, dtype=float)) for k, (t, v) in series.items()}
