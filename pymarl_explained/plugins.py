"""Plug-ins: packages that add configs, controllers, learners or a training-loop variant.

A fork of PyMARL usually edits ``run.py`` and the registries in place. Here a fork is a package
that *registers* its parts when imported (``Registry.register``, :func:`register_config_dir`,
``run.LOOP_REGISTRY``) and declares itself as an entry point of the group
``pymarl_explained.plugins`` in its ``pyproject.toml``::

    [project.entry-points."pymarl_explained.plugins"]
    myfork = "myfork"

:func:`load_plugins` imports every such package once. The config builder calls it before
merging configs, and a registry calls it before reporting an unknown name, so a plug-in's
names work on the command line, in :func:`~pymarl_explained.utils.config_utils.load_config`
and in a notebook alike. The fork reconstructed in this package plugs in the same way (see
``pyproject.toml``).
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

GROUP = "pymarl_explained.plugins"

_loaded: list[str] | None = None


def plugin_modules() -> list[str]:
    """The module names declared in the entry-point group, sorted by entry-point name."""
    return [ep.value for ep in sorted(entry_points(group=GROUP), key=lambda ep: ep.name)]


def load_plugins() -> list[str]:
    """Import every plug-in once; returns the modules imported by this call (empty after the first)."""
    global _loaded
    if _loaded is not None:
        return []
    _loaded = plugin_modules()
    for module in _loaded:
        importlib.import_module(module)
    return list(_loaded)
