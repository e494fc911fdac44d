"""Mixing networks. The learner picks one by the config's ``mixer`` name ("vdn", "qmix";
"qtran_base" for the QTRAN learner)."""

from pymarl_explained.modules.mixers.qmix import QMixer
from pymarl_explained.modules.mixers.qtran import QTranBase
from pymarl_explained.modules.mixers.vdn import VDNMixer

__all__ = ["QMixer", "QTranBase", "VDNMixer"]
