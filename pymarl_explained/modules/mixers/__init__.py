"""Mixing networks. The learner picks one by the config's ``mixer`` name ("vdn", "qmix";
"qtran_base" for the QTRAN learner)."""

from pymarl_explained.modules.mixers.qmix import QMixer
from pymarl_explained.modules.mixers.qtran import QTranBase
from pymarl_explained.modules.mixers.vdn import VDNMixer

# name -> class; QMixer is built with ``args``, VDNMixer takes none (the capstone assignment
# registers a student's mixer here)
REGISTRY = {"vdn": VDNMixer, "qmix": QMixer}

__all__ = ["REGISTRY", "QMixer", "QTranBase", "VDNMixer"]
