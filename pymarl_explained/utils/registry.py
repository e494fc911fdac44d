"""Registries: PyMARL's name -> class dicts, with a helpful error for an unknown name.

PyMARL builds every part of a run by name: ``r_REGISTRY[args.runner]``,
``mac_REGISTRY[args.mac]``, ``le_REGISTRY[args.learner]``... A plain dict answers a typo with a
bare ``KeyError: 'qmixx'``. :class:`Registry` is a dict whose missing key is a
:class:`~pymarl_explained.errors.ConfigError` naming the config key, the closest valid name and
every valid name. Before giving up it loads the installed plug-ins once
(:func:`pymarl_explained.plugins.load_plugins`), so a fork can add
its controllers and learners without the core naming them.
"""

from __future__ import annotations

import difflib
from typing import Any

from pymarl_explained.errors import ConfigError


def unknown_name_error(kind: str, name: Any, valid: list[str]) -> ConfigError:
    """The one message format for an unknown name: closest match first, then every valid name."""
    close = difflib.get_close_matches(str(name), valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"Unknown {kind} {name!r}.{hint} Valid values of {kind}: {', '.join(sorted(valid))}.")


class Registry(dict):
    """``{name: class}`` for the config key ``kind`` (e.g. ``Registry("learner")``)."""

    def __init__(self, kind: str, entries: dict[str, Any] | None = None):
        super().__init__(entries or {})
        self.kind = kind

    def __missing__(self, name: str) -> Any:
        from pymarl_explained.plugins import load_plugins

        if load_plugins() and dict.__contains__(self, name):  # a plug-in registered it just now
            return dict.__getitem__(self, name)
        raise unknown_name_error(self.kind, name, list(self))

    def register(self, name: str, value: Any) -> Any:
        """``REGISTRY.register("my_mixer", MyMixer)``; returns ``value`` (usable as a decorator helper)."""
        self[name] = value
        return value
