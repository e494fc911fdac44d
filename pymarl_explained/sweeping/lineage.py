"""A grid point's runs: its latest checkpoint, the chain of runs that resumed one another, and
their metrics stitched into one series.

A point's folder (``<out>/<point>/``) is the ``local_results_path`` of every run of that point:
``runs/<token>/`` (config.json, metrics.jsonl, wallclock.jsonl) and ``models/<token>/<t_env>/``.
A resumed run is a new run (a new token) whose config names the checkpoint it loaded
(``checkpoint_path`` = the parent's ``models/<token>`` folder, and ``resumed_from.t_env``, written
by ``main.prepare_config``). Following those links back from the run that got furthest gives the
chain; each run contributes its records after its own start and up to the next run's start, so
the stitched series has no duplicate and no gap, and the training lost after a run's last
checkpoint (a killed worker, a dead node) is dropped with it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Checkpoint:
    """A saved model: ``folder`` is a ``models/<token>`` folder, ``t_env`` its sub-folder."""

    folder: Path
    t_env: int


@dataclass(frozen=True)
class RunRecord:
    """One run folder of a point, as the chain needs it."""

    run_dir: Path
    parent: str | None  # the token of the run whose checkpoint this one loaded
    start: int  # the t_env it started from (0 for a fresh run)
    t_max: int
    last_t_env: int  # the largest t_env in its metrics (-1 when it logged nothing)

    @property
    def token(self) -> str:
        return self.run_dir.name


def latest_checkpoint(point_dir: Path) -> Checkpoint | None:
    """The checkpoint with the largest t_env among all runs of the point (None when there is none).

    ``<t_env>.partial`` folders (a run killed while saving) are not checkpoints."""
    best: Checkpoint | None = None
    models = point_dir / "models"
    if not models.is_dir():
        return None
    for token_dir in sorted(models.iterdir()):
        if not token_dir.is_dir():
            continue
        for step in token_dir.iterdir():
            if step.name.isdigit() and step.is_dir() and (best is None or int(step.name) >= best.t_env):
                best = Checkpoint(token_dir, int(step.name))
    return best


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a ``.jsonl`` file; a line cut short by a killed writer is skipped."""
    if not path.is_file():
        return []
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def read_run(run_dir: Path) -> RunRecord | None:
    """A run folder's chain data, or None when it has no config.json (not a run)."""
    try:
        config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    checkpoint = config.get("checkpoint_path") or ""
    resumed = config.get("resumed_from") or {}
    start = int(resumed.get("t_env", config.get("load_step", 0))) if checkpoint else 0
    steps = [int(r["t_env"]) for r in read_jsonl(run_dir / "metrics.jsonl") if "t_env" in r]
    return RunRecord(run_dir, os.path.basename(os.path.normpath(checkpoint)) if checkpoint else None, start,
                     int(config.get("t_max", 0)), max(steps, default=-1))


def run_chain(point_dir: Path) -> list[RunRecord]:
    """The runs from the fresh start to the run that got furthest, in training order.

    The head is the run with the largest t_env (ties: the newest token, so of two fresh runs the
    later one); a run started fresh again (no checkpoint existed yet) starts a chain of its own."""
    runs = {r.token: r for d in sorted((point_dir / "runs").glob("*")) if d.is_dir() and (r := read_run(d))}
    if not runs:
        return []
    head = max(runs.values(), key=lambda r: (r.last_t_env, r.token))
    chain = [head]
    while chain[-1].parent is not None and chain[-1].parent in runs and len(chain) <= len(runs):
        chain.append(runs[chain[-1].parent])
    return chain[::-1]


def _windows(chain: list[RunRecord]) -> list[tuple[RunRecord, int, float]]:
    """Each run with the t_env range it contributes: (start, next start]; the first from 0."""
    bounds = [r.start for r in chain[1:]] + [float("inf")]
    return [(run, -1 if i == 0 else run.start, bounds[i]) for i, run in enumerate(chain)]


def stitched_metrics(chain: list[RunRecord]) -> list[dict[str, Any]]:
    """The metrics.jsonl records of the chain as one series (each run's records in its window)."""
    out = []
    for run, low, high in _windows(chain):
        out += [r for r in read_jsonl(run.run_dir / "metrics.jsonl") if low < r["t_env"] <= high]
    return out


def stitched_wallclock(chain: list[RunRecord]) -> list[dict[str, Any]]:
    """The wallclock.jsonl records of the chain; a resumed run's seconds continue from the last
    kept record of the run before it (time spent on training that was lost is not counted)."""
    out: list[dict[str, Any]] = []
    offset = 0.0
    for run, low, high in _windows(chain):
        kept = [r for r in read_jsonl(run.run_dir / "wallclock.jsonl") if low < r["t_env"] <= high]
        out += [{**r, "elapsed_s": round(r["elapsed_s"] + offset, 3)} for r in kept]
        if out:
            offset = out[-1]["elapsed_s"]
    return out


@dataclass(frozen=True)
class Progress:
    """How far a point's chain got: ``t_env`` against its ``t_max``."""

    t_env: int
    t_max: int
    runs: int

    @property
    def finished(self) -> bool:
        # the loop runs while t_env <= t_max, and the last stats block is logged at the final t_env
        return self.runs > 0 and self.t_env > self.t_max


def progress(point_dir: Path) -> Progress:
    chain = run_chain(point_dir)
    if not chain:
        return Progress(-1, 0, 0)
    return Progress(chain[-1].last_t_env, chain[-1].t_max, len(chain))
