"""A sweep's grid point and the papermill parameters of one run of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Config keys that the sweep sets in every run (checkpoints, resume, where results go): they may
#: not appear in a ``--param extra_overrides=...``.
SWEEP_OVERRIDES = ("save_model", "save_model_interval", "checkpoint_path", "load_step", "evaluate",
                   "local_results_path")


@dataclass(frozen=True)
class GridPoint:
    """One training run of the sweep: an algorithm config and a seed (and the shared settings)."""

    config: str
    seed: int
    map_name: str
    t_max: int
    extra: tuple[tuple[str, Any], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.config}__{self.map_name}__seed{self.seed}"

    def to_json(self) -> dict[str, Any]:
        return {"config": self.config, "seed": self.seed, "map_name": self.map_name, "t_max": self.t_max,
                "extra": [list(pair) for pair in self.extra]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GridPoint:
        return cls(data["config"], int(data["seed"]), data["map_name"], int(data["t_max"]),
                   tuple((k, v) for k, v in data.get("extra", ())))


def notebook_parameters(point: GridPoint, results_dir: Path, checkpoint_interval: int,
                        resume_from: Path | None = None, resume_t_env: int = 0) -> dict[str, Any]:
    """The training notebook's parameters for one run of ``point``.

    Every run saves a checkpoint each ``checkpoint_interval`` env steps (``save_model_interval``);
    a resumed run loads ``resume_from`` (a ``models/<token>`` folder) at ``resume_t_env``.
    """
    extra = dict(point.extra)
    overrides = str(extra.pop("extra_overrides", "") or "").split()
    overrides.append(f"save_model_interval={checkpoint_interval}")
    if resume_from is not None:
        overrides += [f"checkpoint_path={resume_from}", f"load_step={resume_t_env}"]
    return {**extra, "config": point.config, "map_name": point.map_name, "t_max": point.t_max, "seed": point.seed,
            "results_dir": str(results_dir), "save_model": True, "progress_bar": False,
            "extra_overrides": " ".join(overrides)}
