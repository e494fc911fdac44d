"""Mixing networks, by the config's ``mixer`` name: ``vdn`` and ``qmix`` (QLearner), ``qtran_base``
(the QTRAN learner). Each is built as ``REGISTRY[args.mixer](args)``; ``mixer: null`` is IQL."""

from pymarl_explained.modules.mixers.qmix import QMixer
from pymarl_explained.modules.mixers.qtran import QTranBase
from pymarl_explained.modules.mixers.vdn import VDNMixer
from pymarl_explained.utils.registry import Registry

# name -> class, built as ``REGISTRY[args.mixer](args)`` (the capstone assignment registers a
# student's mixer here)
REGISTRY = Registry("mixer", {"vdn": VDNMixer, "qmix": QMixer})

__all__ = ["REGISTRY", "QMixer", "QTranBase", "VDNMixer"]
