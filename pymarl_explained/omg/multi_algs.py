"""Composite multi-algorithm configs (the OMG fork's ``--multi_algs``): merge order and checks.

**Reconstruction.** The OMG fork's code is not public; this is the package's reconstruction of
how its command line ::

    python -m pymarl_explained --config=4iql3qmix1iql_omg --multi_algs --env-config=sc2 \\
        with env_args.map_name=8m --mac=multi_module_mac --train_alg=iql_omg

becomes one run config. A *composite* config (``config/algs/4iql3qmix1iql_omg.yaml``) lists the
algorithm of every agent slot in ``agent_algs`` (its name says the same: 4 IQL, 3 QMIX,
1 iql_omg, checked by :func:`parse_composite_name`). The slot whose algorithm is ``train_alg``
is the ego, trained; the others are fixed teammates loaded from ``teammate_checkpoints``.

The run's own settings are the ego's (its learner, exploration, lr...), so the merge is::

    default.yaml -> envs/<env>.yaml -> algs/<train_alg>.yaml -> algs/<composite>.yaml -> command line

and a learner ``q_learner`` (plain IQL as the ego) becomes ``q_learner_4am``, the Q-learner for
the enlarged batches of the OMG loop; ``run`` becomes ``omg``, the OMG training loop
(:mod:`pymarl_explained.omg.loop`). Each teammate's own settings are built later by the
controller (its yaml over the run args). :func:`expand_multi_algs` is registered as a hook of
the core's config builder (``register_config_hook``), so the core never names these configs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pymarl_explained.errors import ConfigError
from pymarl_explained.utils.config_utils import config_copy, load_yaml_config, recursive_dict_update

#: Learners that train an ego on n_agents times larger batches (the run_sequential code quoted in
#: the OMG batch-sizing notes).
OMG_LEARNERS = ("q_learner_4am", "omg_learner")

_SLOT_RE = re.compile(r"(\d+)([a-z_]+?)(?=\d|$)")


def parse_composite_name(name: str) -> list[str]:
    """``"4iql3qmix1iql_omg"`` -> ``["iql"] * 4 + ["qmix"] * 3 + ["iql_omg"]``."""
    parts = _SLOT_RE.findall(name)
    if not parts or "".join(f"{n}{a}" for n, a in parts) != name:
        raise ConfigError(f"{name!r} is not a composite config name like '4iql3qmix1iql_omg'")
    return [alg for count, alg in parts for _ in range(int(count))]


def is_multi_alg(alg_config: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> bool:
    """Whether a run uses a composite config (``multi_algs`` in the file or on the command line)."""
    overrides = overrides or {}
    return bool(overrides.get("multi_algs", alg_config.get("multi_algs", False)))


def check_train_alg(agent_algs: list[str], train_alg: str, config_name: str = "") -> int:
    """The ego's slot: the one slot whose algorithm is ``train_alg`` (a ConfigError otherwise)."""
    slots = [i for i, alg in enumerate(agent_algs) if alg == train_alg]
    where = f" of {config_name!r}" if config_name else ""
    if not slots:
        raise ConfigError(
            f"train_alg {train_alg!r} is not among the algorithms{where}: agent_algs = {agent_algs}. "
            f"Pick one of {sorted(set(agent_algs))}, or use a composite config with a {train_alg!r} slot.")
    if len(slots) > 1:
        raise ConfigError(
            f"train_alg {train_alg!r} fills slots {slots}{where}; the ego must be one slot. Give the fixed "
            "teammates another algorithm name (e.g. the ego 'iql_ego' among 'iql' teammates).")
    return slots[0]


def check_slot_count(agent_algs: list[str], n_agents: int, map_name: str, config_name: str = "") -> None:
    """A composite config must list one algorithm per agent of the map."""
    if len(agent_algs) != n_agents:
        raise ConfigError(
            f"The composite config {config_name or '(multi_algs)'} has {len(agent_algs)} agent slots "
            f"({agent_algs}) but map {map_name!r} has {n_agents} agents. Use a composite with {n_agents} "
            "slots (2iql1qmix1iql_omg for MarineMicro_MvsM_4, 4iql3qmix1iql_omg for 8m) or another map.")


def expand_multi_algs(config: dict, alg_config: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
                      ) -> dict:
    """OMG fork: put ``algs/<train_alg>.yaml`` under a composite config (see the module docstring).

    ``config`` is default -> env -> composite already merged; ``alg_config`` the composite file;
    ``overrides`` the command-line values (``--train_alg=...`` may pick another ego). A plain
    (non-composite) config is returned unchanged.
    """
    if not is_multi_alg(alg_config, overrides):
        return config
    overrides = overrides or {}
    if "agent_algs" not in alg_config or "train_alg" not in alg_config:
        raise ConfigError("--multi_algs needs a composite config (e.g. --config=2iql1qmix1iql_omg) that defines "
                          "agent_algs (one algorithm per agent slot) and train_alg.")
    train_alg = overrides.get("train_alg", alg_config["train_alg"])
    check_train_alg(list(alg_config["agent_algs"]), train_alg, alg_config.get("name", ""))
    ego_config = load_yaml_config(train_alg, "algs")
    if ego_config.get("multi_algs"):
        raise ConfigError(f"train_alg {train_alg!r} is itself a composite config; it must be one algorithm.")
    merged = config_copy(config)
    recursive_dict_update(merged, ego_config)
    recursive_dict_update(merged, alg_config)
    merged["train_alg"] = train_alg
    merged["run"] = "omg"  # the OMG training loop (omg/loop.py)
    if merged.get("learner") == "q_learner":
        merged["learner"] = "q_learner_4am"  # a plain IQL ego trains on the enlarged batches too
    return merged


def omg_preflight(args) -> None:
    """OMG fork, called first by ``run_sequential``: ``n_agents`` from the map, then the checks.

    A composite config must have one slot per agent of the map and exactly one ``train_alg``
    slot; ``q_learner_4am`` / ``omg_learner`` need ``multi_module_mac`` and the episode runner
    (``batch_size_run`` stays 1). ``run_sequential`` then scales ``t_max`` and ``batch_size`` by
    ``n_agents`` (the OMG batch-sizing notes) and calls :func:`check_omg_buffer`.
    """
    if not getattr(args, "multi_algs", False) and args.learner not in OMG_LEARNERS:
        return  # a plain PyMARL run: nothing to do
    from pymarl_explained.envs import get_map_params

    map_name = args.env_args.get("map_name")
    args.n_agents = get_map_params(map_name).n_agents
    if getattr(args, "multi_algs", False):
        check_slot_count(list(args.agent_algs), args.n_agents, map_name, getattr(args, "name", ""))
        check_train_alg(list(args.agent_algs), args.train_alg, getattr(args, "name", ""))
        if args.mac != "multi_module_mac":
            raise ConfigError(f"--multi_algs needs mac=multi_module_mac (got {args.mac!r}).")
    if args.learner not in OMG_LEARNERS:
        return
    if args.mac != "multi_module_mac":
        raise ConfigError(f"learner={args.learner} trains an ego among teammates: it needs a composite config "
                          "(--config=2iql1qmix1iql_omg --multi_algs) and mac=multi_module_mac.")
    if args.runner != "episode":
        raise ConfigError(f"learner={args.learner} collects n_agents episodes per iteration with runner=episode "
                          f"(batch_size_run stays 1); got runner={args.runner!r}.")


def check_omg_buffer(args) -> None:
    """After the scaling: the buffer must hold ``batch_size * n_agents`` episodes, or nothing is ever trained.

    Each loop iteration collects n_agents episodes and trains once, so the scaled t_max keeps
    the number of gradient steps of a plain run; the learner regroups the n_agents * batch_size
    sampled episodes into batch_size pseudo-episodes (``_refine_batch``).
    """
    if args.learner in OMG_LEARNERS and args.buffer_size < args.batch_size:
        raise ConfigError(
            f"buffer_size ({args.buffer_size}) < batch_size * n_agents ({args.batch_size // args.n_agents} * "
            f"{args.n_agents} = {args.batch_size}): with learner={args.learner} the buffer must hold "
            f"{args.batch_size} episodes (see the OMG batch-sizing notes). Set buffer_size >= {args.batch_size}.")
