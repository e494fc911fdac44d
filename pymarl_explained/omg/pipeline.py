"""The OMG pipeline, one command per stage (a reconstruction of the OMG fork's workflow).

::

    python -m pymarl_explained.omg_pipeline stage1   # train the fixed teammates (IQL, QMIX, VDN), save them
    python -m pymarl_explained.omg_pipeline stage2   # pre-train the VAE prior (am_learner) -> vae.th
    python -m pymarl_explained.omg_pipeline stage3   # train the OMG ego (and the IQL ego) among the teammates
    python -m pymarl_explained.omg_pipeline stage4   # evaluate the egos with the same and with other teammates
    python -m pymarl_explained.omg_pipeline all --small   # all four, tiny (a smoke test, about a minute)

Every stage is an ordinary run of the package (``train(load_config(...))``, the same path as
``python -m pymarl_explained``); each prints the equivalent command line. The stages hand their
results to the next through ``<results>/omg/pipeline.json`` (teammate checkpoint folders,
``vae_path``, the egos' checkpoint folders, the evaluation table), so a stage only needs the
previous ones to have run with the same ``--results`` folder.

**Reconstruction.** The OMG fork's code and scripts are not public; the stages follow the
paper's protocol (pre-trained teammates of the same and of other algorithms, an IQL ego with
OMG vs plain IQL) at a small scale by default. MarineMicro_MvsM_4 (4 agents) uses the composite
configs ``2iql1qmix1<ego>`` for training and ``3vdn1<ego>`` for the other-teammates
evaluation; 8m uses ``4iql3qmix1<ego>`` and ``7vdn1<ego>``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from pymarl_explained.errors import CheckpointError, ConfigError, PymarlError

#: Training and evaluation composites per map: {map: (train prefix, other-teammates prefix)}.
COMPOSITES = {
    "MarineMicro_MvsM_4": ("2iql1qmix1", "3vdn1"),
    "8m": ("4iql3qmix1", "7vdn1"),
}
TEAMMATE_ALGS = ("iql", "qmix", "vdn")
EGOS = ("iql_omg", "iql_ego")

#: Sizes per scale: teammates' t_max, the prior's t_max, the egos' t_max (before the x n_agents
#: of run_sequential), batch/buffer sizes and the number of evaluation episodes.
SCALES: dict[str, dict[str, int]] = {
    "small": {"teammate_t_max": 20000, "vae_t_max": 3000, "ego_t_max": 10000, "batch_size": 32,
              "buffer_size": 512, "test_nepisode": 32, "epsilon_anneal_time": 10000, "interval": 5000,
              "target_update_interval": 200},
    "tiny": {"teammate_t_max": 300, "vae_t_max": 200, "ego_t_max": 150, "batch_size": 2,
             "buffer_size": 16, "test_nepisode": 2, "epsilon_anneal_time": 500, "interval": 200,
             "target_update_interval": 5},
}


def state_path(results: str | os.PathLike) -> Path:
    return Path(results) / "omg" / "pipeline.json"


def load_state(results: str | os.PathLike) -> dict[str, Any]:
    path = state_path(results)
    return json.loads(path.read_text()) if path.is_file() else {}


def save_state(results: str | os.PathLike, state: dict[str, Any]) -> Path:
    from pymarl_explained.utils.atomic import atomic_write_text

    path = state_path(results)
    atomic_write_text(path, json.dumps(state, indent=2, sort_keys=True))
    return path


def _common(scale: dict[str, int], results: str, seed: int, map_name: str) -> dict[str, Any]:
    i = scale["interval"]
    return {"env_args.map_name": map_name, "env_args.backend": "builtin", "seed": seed, "use_cuda": False,
            "local_results_path": results, "progress_bar": False, "test_interval": i, "log_interval": i,
            "runner_log_interval": i, "learner_log_interval": i, "test_nepisode": scale["test_nepisode"],
            "epsilon_anneal_time": scale["epsilon_anneal_time"],
            "target_update_interval": scale["target_update_interval"]}


def _command(config: str, overrides: dict[str, Any], multi: bool) -> str:
    """The command line equivalent to ``train(load_config(config, "sc2", overrides))``."""
    flags = " --multi_algs" if multi else ""
    withs = " ".join(f"{k}={v}" for k, v in overrides.items() if k != "progress_bar")
    return f"python -m pymarl_explained --config={config}{flags} --env-config=sc2 with {withs}"


def _run(config: str, overrides: dict[str, Any], multi: bool, quiet: bool):
    from pymarl_explained import load_config, train
    from pymarl_explained.utils.logging import get_logger

    print("$ " + _command(config, overrides, multi), flush=True)
    logger = get_logger()
    level = logger.level
    if quiet:
        logger.setLevel("WARNING")
    try:
        return train(load_config(config, "sc2", overrides))
    finally:
        logger.setLevel(level)


def _require(state: dict[str, Any], key: str, stage: str, results: str) -> Any:
    if key not in state:
        raise CheckpointError(f"{state_path(results)} has no {key!r}: run `python -m pymarl_explained.omg_pipeline "
                              f"{stage} --results {results}` first.")
    return state[key]


def _teammate_overrides(state: dict[str, Any], algs: list[str], results: str) -> dict[str, str]:
    teammates = _require(state, "teammates", "stage1", results)
    out = {}
    for alg in algs:
        if alg not in teammates or not Path(teammates[alg]).is_dir():
            raise CheckpointError(f"No checkpoint of the {alg!r} teammates in {state_path(results)}: run "
                                  f"`python -m pymarl_explained.omg_pipeline stage1 --results {results}` first.")
        out[f"teammate_checkpoints.{alg}"] = teammates[alg]
    return out


def stage1(results: str, scale: dict[str, int], seed: int, map_name: str, quiet: bool = True) -> dict[str, Any]:
    """Train IQL, QMIX and VDN teams on the map (plain PyMARL runs) and save them: the fixed teammates."""
    state = {"map": map_name, "teammates": {}}
    for alg in TEAMMATE_ALGS:
        overrides = {**_common(scale, results, seed, map_name), "t_max": scale["teammate_t_max"],
                     "batch_size": scale["batch_size"], "buffer_size": scale["buffer_size"], "save_model": True,
                     "save_model_interval": 10**9}
        run = _run(alg, overrides, multi=False, quiet=quiet)
        state["teammates"][alg] = str(run.models_dir)
        print(f"  {alg} teammates: {run.models_dir} (test win rate {run.last_stats.get('test_battle_won_mean')})")
    save_state(results, state)
    return state


def stage2(results: str, scale: dict[str, int], seed: int, quiet: bool = True) -> dict[str, Any]:
    """Pre-train the VAE prior of omg_am with learner=am_learner among the teammates; record vae.th's path."""
    state = load_state(results)
    map_name = _require(state, "map", "stage1", results)
    config = COMPOSITES[map_name][0] + "iql_omg"
    overrides = {**_common(scale, results, seed, map_name), "learner": "am_learner", "t_max": scale["vae_t_max"],
                 "batch_size": scale["batch_size"], "buffer_size": scale["buffer_size"], "save_model": True,
                 "save_model_interval": 10**9, **_teammate_overrides(state, _teammates_of(config), results)}
    run = _run(config, overrides, multi=True, quiet=quiet)
    state["vae_path"] = str(run.models_dir / str(run.t_env) / "vae.th")
    print(f"  VAE prior: {state['vae_path']} (loss {run.last_stats.get('vae_loss')})")
    save_state(results, state)
    return state


def _teammates_of(config: str) -> list[str]:
    from pymarl_explained.utils.config_utils import load_yaml_config

    c = load_yaml_config(config, "algs")
    return sorted(set(c["agent_algs"]) - {c["train_alg"]})


def stage3(results: str, scale: dict[str, int], seed: int, egos: tuple[str, ...] = EGOS, quiet: bool = True
           ) -> dict[str, Any]:
    """Train each ego (OMG, and plain IQL for comparison) among the fixed teammates; save them."""
    state = load_state(results)
    map_name = _require(state, "map", "stage1", results)
    state.setdefault("egos", {})
    for ego in egos:
        config = COMPOSITES[map_name][0] + ego
        overrides = {**_common(scale, results, seed, map_name), "t_max": scale["ego_t_max"],
                     "batch_size": scale["batch_size"], "buffer_size": scale["buffer_size"], "save_model": True,
                     "save_model_interval": 10**9, **_teammate_overrides(state, _teammates_of(config), results)}
        if ego == "iql_omg":
            overrides["vae_path"] = _require(state, "vae_path", "stage2", results)
        run = _run(config, overrides, multi=True, quiet=quiet)
        state["egos"][ego] = str(run.models_dir)
        print(f"  ego {ego}: {run.models_dir} (test win rate {run.last_stats.get('test_battle_won_mean')})")
    save_state(results, state)
    return state


def stage4(results: str, scale: dict[str, int], seed: int, quiet: bool = True) -> dict[str, Any]:
    """Evaluate every trained ego with the same teammates and with teammates of another algorithm (VDN)."""
    state = load_state(results)
    map_name = _require(state, "map", "stage1", results)
    egos = _require(state, "egos", "stage3", results)
    table = {}
    for ego, models_dir in sorted(egos.items()):
        same, other = COMPOSITES[map_name]
        for label, prefix in (("same teammates", same), ("other teammates", other)):
            config = prefix + ego
            overrides = {**_common(scale, results, seed, map_name), "checkpoint_path": models_dir, "evaluate": True,
                         "batch_size": scale["batch_size"], "buffer_size": scale["buffer_size"],
                         **_teammate_overrides(state, _teammates_of(config), results)}
            run = _run(config, overrides, multi=True, quiet=quiet)
            won = run.last_stats.get("test_battle_won_mean")
            table[f"{ego}, {label} ({config})"] = {"test_battle_won_mean": won,
                                                     "test_return_mean": run.last_stats.get("test_return_mean")}
    state["evaluation"] = table
    save_state(results, state)
    print(format_table(table))
    return state


def format_table(table: dict[str, dict[str, float]]) -> str:
    """The evaluation as a markdown table."""
    lines = ["| ego, teammates | test win rate | test return |", "|---|---:|---:|"]
    for key, row in table.items():
        lines.append(f"| {key} | {row['test_battle_won_mean']:.3f} | {row['test_return_mean']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pymarl_explained.omg_pipeline", description=__doc__.split("\n")[0])
    parser.add_argument("stage", choices=["stage1", "stage2", "stage3", "stage4", "all"])
    parser.add_argument("--small", action="store_true", help="tiny sizes (a smoke test of the whole pipeline)")
    parser.add_argument("--results", default="results", help="local_results_path of every run (default: results)")
    parser.add_argument("--map", default="MarineMicro_MvsM_4", choices=sorted(COMPOSITES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--egos", default=",".join(EGOS), help="stage 3: egos to train (default: iql_omg,iql_ego)")
    parser.add_argument("--verbose", action="store_true", help="show every run's log")
    for key in ("teammate_t_max", "vae_t_max", "ego_t_max", "test_nepisode"):
        parser.add_argument("--" + key.replace("_", "-"), type=int, default=None, help=f"override the scale's {key}")
    args = parser.parse_args(argv)
    scale = dict(SCALES["tiny" if args.small else "small"])
    for key in ("teammate_t_max", "vae_t_max", "ego_t_max", "test_nepisode"):
        if getattr(args, key) is not None:
            scale[key] = getattr(args, key)
    quiet = not args.verbose
    egos = tuple(e for e in args.egos.split(",") if e)
    if any(e not in EGOS for e in egos):
        print(f"omg_pipeline: error: --egos must be among {EGOS}", file=sys.stderr)
        return 2
    try:
        if args.stage in ("stage1", "all"):
            stage1(args.results, scale, args.seed, args.map, quiet)
        if args.stage in ("stage2", "all"):
            stage2(args.results, scale, args.seed, quiet)
        if args.stage in ("stage3", "all"):
            stage3(args.results, scale, args.seed, egos, quiet)
        if args.stage in ("stage4", "all"):
            stage4(args.results, scale, args.seed, quiet)
    except (PymarlError, ConfigError) as error:
        print(f"omg_pipeline: error: {error}", file=sys.stderr)
        return 2
    print(f"pipeline state: {state_path(args.results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
