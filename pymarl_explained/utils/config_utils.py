"""Loading and merging the YAML configs, and checking overrides.

PyMARL builds a run's config in four layers, each one overriding the last:

1. ``config/default.yaml``            every run starts here
2. ``config/envs/<env-config>.yaml``  e.g. ``sc2``
3. ``config/algs/<config>.yaml``      e.g. ``qmix`` (the algorithm file wins over the env file)
4. the command line                   ``with key=value`` (sacred) or ``--key=value`` (the OMG fork)

The merge is a recursive dict update, so ``env_args.map_name=3m`` changes one entry of the
nested ``env_args`` dict and keeps the others. PyMARL accepts any key on the command line, so a
typo such as ``t_mx=100`` silently adds a new key and the run trains with the default ``t_max``;
here an unknown key is an error naming the closest valid key, and a value of the wrong type
(``t_max=abc``) is an error naming the key and the expected type.
"""

from __future__ import annotations

import ast
import copy
import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from pymarl_explained.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"

# ``seed`` may be set although no YAML file defines it: it is sacred's own key. When it is
# absent (or null), sacred draws a seed and records it in the run's config.


def available_configs(subfolder: str) -> list[str]:
    """Names of the YAML files in ``config/<subfolder>`` (``algs`` or ``envs``), sorted."""
    return sorted(p.stem for p in (CONFIG_DIR / subfolder).glob("*.yaml"))


def load_yaml_config(name: str, subfolder: str | None = None) -> dict[str, Any]:
    """Read ``config/<subfolder>/<name>.yaml``; an unknown name lists the valid ones."""
    path = CONFIG_DIR / (subfolder or "") / f"{name}.yaml"
    if not path.is_file():
        kind = {"algs": "--config", "envs": "--env-config"}.get(subfolder or "", "config")
        valid = available_configs(subfolder or "")
        close = difflib.get_close_matches(name, valid, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"Unknown {kind} {name!r}.{hint} Valid names: {', '.join(valid)}.")
    with open(path, encoding="utf-8") as f:
        # PyMARL called yaml.load(f) without a Loader, which PyYAML >= 6 rejects.
        return yaml.safe_load(f) or {}


def recursive_dict_update(d: dict, u: Mapping) -> dict:
    """Update ``d`` with ``u`` in place, merging nested dicts instead of replacing them."""
    for k, v in u.items():
        # PyMARL used collections.Mapping, removed in Python 3.10.
        if isinstance(v, Mapping) and isinstance(d.get(k), Mapping):
            d[k] = recursive_dict_update(dict(d[k]), v)
        else:
            d[k] = v
    return d


def config_copy(config: Any) -> Any:
    """Deep copy of a config (sacred hands out read-only views)."""
    if isinstance(config, Mapping):
        return {k: config_copy(v) for k, v in config.items()}
    if isinstance(config, (list, tuple)):
        return [config_copy(v) for v in config]
    return copy.deepcopy(config)


def parse_value(text: str) -> Any:
    """Parse a command-line value the way sacred does: a Python literal, else a string.

    YAML spellings of booleans and null (``true``, ``false``, ``null``) are accepted too.
    """
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "none", "~"):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _all_keys(config: Mapping, prefix: str = "") -> list[str]:
    keys = []
    for k, v in config.items():
        keys.append(prefix + k)
        if isinstance(v, Mapping):
            keys.extend(_all_keys(v, prefix + k + "."))
    return keys


def _type_name(value: Any) -> str:
    return {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict"}.get(
        type(value), type(value).__name__
    )


def check_override(config: Mapping, key: str, value: Any) -> Any:
    """Validate one ``key=value`` override against the merged config and return the value to set.

    The key must exist (dotted keys reach into nested dicts) and the value must have the type of
    the current value: ints are accepted for floats, and any value replaces a ``null``.
    """
    if key == "seed":
        if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            return value
        raise ConfigError(f"Bad value for 'seed': expected a non-negative int (or null), got {value!r}.")
    *path, leaf = key.split(".")
    node: Any = config
    for part in path:
        node = node.get(part) if isinstance(node, Mapping) else None
    if isinstance(node, Mapping) and not node and path:
        return value  # an empty nested dict (default.yaml's env_args: {}) accepts any sub-key
    if not isinstance(node, Mapping) or leaf not in node:
        valid = _all_keys(config)
        close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"Unknown config key {key!r}: no YAML file of this run defines it.{hint} "
            "(PyMARL would silently add it and ignore it.)"
        )
    current = node[leaf]
    if current is None or value is None:
        return value
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(current, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)  # t_max=2e6 means 2000000
    elif isinstance(current, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(current, str):
        return value if isinstance(value, str) else str(value)
    elif isinstance(current, type(value)):
        return value
    raise ConfigError(
        f"Bad value for {key!r}: expected {_type_name(current)} (like {current!r}), "
        f"got {value!r} ({_type_name(value)})."
    )


def set_by_dotted_key(config: dict, key: str, value: Any) -> None:
    """``set_by_dotted_key(c, "env_args.map_name", "3m")`` sets ``c["env_args"]["map_name"]``."""
    node = config
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def apply_overrides(config: dict, overrides: Mapping[str, Any] | None) -> dict:
    """Validate and apply ``{"env_args.map_name": "3m", "t_max": 20000}``-style overrides in place.

    Values given as strings are parsed like command-line values (``"20000"`` -> 20000).
    """
    for key, raw in (overrides or {}).items():
        value = parse_value(raw) if isinstance(raw, str) else raw
        set_by_dotted_key(config, key, check_override(config, key, value))
    return config


def load_config(
    alg: str = "qmix", env: str = "sc2", overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The merged config of a run: default -> envs/<env> -> algs/<alg> -> overrides.

    This is what ``python -m pymarl_explained --config=<alg> --env-config=<env> with k=v ...``
    builds before handing it to sacred; notebooks call it directly::

        config = load_config("qmix", "sc2", {"env_args.map_name": "MarineMicro_MvsM_4"})
    """
    from pymarl_explained.utils.multi_algs import expand_multi_algs

    config = load_yaml_config("default")
    recursive_dict_update(config, load_yaml_config(env, "envs"))
    alg_config = load_yaml_config(alg, "algs")
    recursive_dict_update(config, alg_config)
    # OMG fork: a composite config (multi_algs) puts algs/<train_alg>.yaml under itself
    config = expand_multi_algs(config, alg_config, {k: parse_value(v) if isinstance(v, str) else v
                                                    for k, v in (overrides or {}).items()})
    return apply_overrides(config, overrides)
