"""The exploration schedule of PyMARL: decay from ``start`` to ``finish``, then stay flat."""

from __future__ import annotations

import math

from pymarl_explained.errors import ConfigError


class DecayThenFlatSchedule:
    """``eval(T)`` decays from ``start`` to ``finish`` over ``time_length`` steps, then stays at ``finish``.

    - ``decay="linear"``: ``max(finish, start - (start - finish) / time_length * T)``
      (QMIX: 1.0 -> 0.05 over 50000 env steps).
    - ``decay="exp"`` (PyMARL's default argument): ``min(start, max(finish, exp(-T / scaling)))``
      with ``scaling = -time_length / ln(finish)`` when ``0 < finish < 1`` (else 1), so that
      ``exp(-T / scaling)`` reaches ``finish`` exactly at ``T = time_length``.

    PyMARL defect fixed: an unknown ``decay`` made ``eval`` return None silently, and
    ``time_length=0`` divided by zero; now the first raises ConfigError and the second means
    "already at ``finish``".
    """

    def __init__(self, start: float, finish: float, time_length: float, decay: str = "exp"):
        if decay not in ("linear", "exp"):
            raise ConfigError(f"Unknown epsilon decay {decay!r}; valid: 'linear', 'exp'.")
        if time_length < 0:
            raise ConfigError(f"epsilon_anneal_time must be >= 0, got {time_length}.")
        self.start = start
        self.finish = finish
        self.time_length = time_length
        self.decay = decay
        self.delta = (start - finish) / time_length if time_length > 0 else 0.0
        if decay == "exp":
            self.exp_scaling = (-1) * time_length / math.log(finish) if 0 < finish < 1 else 1

    def eval(self, T: float) -> float:
        """The value at env step ``T``."""
        if self.time_length == 0:
            return self.finish
        if self.decay == "linear":
            return max(self.finish, self.start - self.delta * T)
        return min(self.start, max(self.finish, math.exp(-T / self.exp_scaling)))
