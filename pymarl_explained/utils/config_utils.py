"""Loading and merging the YAML configs, and checking overrides.

PyMARL builds a run's config in four layers, each one overriding the last:

1. ``config/default.yaml``            every run starts here
2. ``config/envs/<env-config>.yaml``  e.g. ``sc2``
3. ``config/algs/<config>.yaml``      e.g. ``qmix`` (the algorithm file wins over the env file)
4. the command line                   ``with key=value`` (sacred) or ``--key=value`` (a fork's extra syntax)

The merge is a recursive dict update, so ``env_args.map_name=3m`` changes one entry of the
nested ``env_args`` dict and keeps the others. PyMARL accepts any key on the command line, so a
typo such as ``t_mx=100`` silently adds a new key and the run trains with the default ``t_max``;
here an unknown key is an error naming the closest valid key, and a value of the wrong type
(``t_max=abc``) is an error naming the key and the expected type.

:func:`load_config` is the one config builder: the command line (``main.parse_command_line``)
and the notebooks both call it. Plug-ins (:mod:`pymarl_explained.plugins`) may add a folder of
YAML files (:func:`register_config_dir`) and a step between the algorithm file and the
overrides (:func:`register_config_hook`).
"""

from __future__ import annotations

import ast
import copy
import difflib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from pymarl_explained.errors import ConfigError
from pymarl_explained.plugins import load_plugins
from pymarl_explained.utils.registry import unknown_name_error

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"

#: Folders searched for ``<subfolder>/<name>.yaml``, the package's own first; plug-ins add theirs.
CONFIG_DIRS: list[Path] = [CONFIG_DIR]

#: ``hook(config, alg_config, overrides) -> config``, applied after the algorithm file, before the overrides.
ConfigHook = Callable[[dict, Mapping[str, Any], Mapping[str, Any]], dict]
CONFIG_HOOKS: list[ConfigHook] = []


def register_config_dir(path: str | Path) -> None:
    """Make the YAML files under ``path`` (``path/algs/*.yaml``, ``path/envs/*.yaml``) loadable by name."""
    path = Path(path).resolve()
    if path not in CONFIG_DIRS:
        CONFIG_DIRS.append(path)


def register_config_hook(hook: ConfigHook) -> None:
    """Add a step to :func:`load_config` between the algorithm file and the overrides."""
    if hook not in CONFIG_HOOKS:
        CONFIG_HOOKS.append(hook)

# ``seed`` may be set although no YAML file defines it: it is sacred's own key. When it is
# absent (or null), sacred draws a seed and records it in the run's config.


def available_configs(subfolder: str) -> list[str]:
    """Names of the YAML files in ``<config dir>/<subfolder>`` (``algs`` or ``envs``), sorted."""
    load_plugins()
    return sorted({p.stem for folder in CONFIG_DIRS for p in (folder / subfolder).glob("*.yaml")})


def find_config_file(name: str, subfolder: str | None = None) -> Path:
    """The file ``<subfolder>/<name>.yaml`` of the first config folder that has it."""
    for _ in range(2):  # a second look after loading the plug-ins, which may add folders
        for folder in CONFIG_DIRS:
            path = folder / (subfolder or "") / f"{name}.yaml"
            if path.is_file():
                return path
        if not load_plugins():
            break
    kind = {"algs": "--config", "envs": "--env-config"}.get(subfolder or "", "config")
    raise unknown_name_error(kind, name, available_configs(subfolder or ""))


def load_yaml_config(name: str, subfolder: str | None = None) -> dict[str, Any]:
    """Read ``config/<subfolder>/<name>.yaml``; an unknown name lists the valid ones, and a file
    that is not a YAML mapping is an error naming the file."""
    path = find_config_file(name, subfolder)
    try:
        with open(path, encoding="utf-8") as f:
            # PyMARL called yaml.load(f) without a Loader, which PyYAML >= 6 rejects.
            config = yaml.safe_load(f)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{path} is not valid YAML{where}: {problem}.") from None
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ConfigError(f"{path} must hold a mapping of config keys (key: value lines), "
                          f"not a {type(config).__name__}.")
    return config


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


def walk_dotted_key(config: Mapping, key: str) -> tuple[Any, str]:
    """``("env_args.map_name")`` -> ``(config["env_args"], "map_name")``: the node that holds the
    last part of a dotted key, and that part. The node is None when the path does not exist."""
    *path, leaf = key.split(".")
    node: Any = config
    for part in path:
        node = node.get(part) if isinstance(node, Mapping) else None
    return node, leaf


def get_by_dotted_key(config: Mapping, key: str) -> Any:
    """``get_by_dotted_key(c, "env_args.map_name")`` is ``c["env_args"]["map_name"]``."""
    node, leaf = walk_dotted_key(config, key)
    if not isinstance(node, Mapping) or leaf not in node:
        raise KeyError(key)
    return node[leaf]


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
    node, leaf = walk_dotted_key(config, key)
    if isinstance(node, Mapping) and not node and "." in key:
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


def check_layer_types(config: Mapping, layer: Mapping, path: Path) -> None:
    """Every value of a YAML file that overrides a key of the layers below must have that key's type
    (the rule of :func:`check_override`); a ConfigError names the file."""
    for key in _all_keys(layer):
        value = get_by_dotted_key(layer, key)
        if isinstance(value, Mapping):
            continue
        node, leaf = walk_dotted_key(config, key)
        if isinstance(node, Mapping) and leaf in node:
            try:
                check_override(config, key, value)
            except ConfigError as error:
                raise ConfigError(f"{path}: {error}") from None


def load_config(
    alg: str = "qmix", env: str = "sc2", overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The merged config of a run: default -> envs/<env> -> algs/<alg> -> hooks -> overrides.

    This is what ``python -m pymarl_explained --config=<alg> --env-config=<env> with k=v ...``
    builds before handing it to sacred (``--key=value`` extras and ``with`` overrides both
    arrive here as ``overrides``); notebooks call it directly::

        config = load_config("qmix", "sc2", {"env_args.map_name": "MarineMicro_MvsM_4"})

    Every override is checked (:func:`check_override`) before it is applied.
    """
    load_plugins()
    overrides = {k: parse_value(v) if isinstance(v, str) else v for k, v in (overrides or {}).items()}
    config = load_yaml_config("default")
    env_config = load_yaml_config(env, "envs")
    check_layer_types(config, env_config, find_config_file(env, "envs"))
    recursive_dict_update(config, env_config)
    alg_config = load_yaml_config(alg, "algs")
    check_layer_types(config, alg_config, find_config_file(alg, "algs"))
    recursive_dict_update(config, alg_config)
    for hook in CONFIG_HOOKS:
        config = hook(config, alg_config, overrides)
    return apply_overrides(config, overrides)
