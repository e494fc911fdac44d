"""Mixing networks. The learner picks one by the config's ``mixer`` name ("vdn", "qmix")."""

from pymarl_explained.modules.mixers.qmix import QMixer
from pymarl_explained.modules.mixers.vdn import VDNMixer

__all__ = ["QMixer", "VDNMixer"]
