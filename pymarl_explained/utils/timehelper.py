"""Human-readable durations for the console log (PyMARL's utils/timehelper.py)."""

from __future__ import annotations

import time


def time_left(start_time: float, t_start: int, t_current: int, t_max: int) -> str:
    """Estimated wall-clock time until ``t_max`` env steps, from the speed since ``start_time``."""
    if t_current >= t_max or t_current <= t_start:
        return "-"
    time_elapsed = time.time() - start_time
    t_current = max(1, t_current)
    seconds = (t_max - t_current) * time_elapsed / (t_current - t_start)
    return time_str(seconds)


def time_str(s: float) -> str:
    """``3725`` -> ``"1 hours, 2 minutes, 5 seconds"``."""
    days, remainder = divmod(int(s), 60 * 60 * 24)
    hours, remainder = divmod(remainder, 60 * 60)
    minutes, seconds = divmod(remainder, 60)
    parts = []
    if days > 0:
        parts.append(f"{days} days")
    if hours > 0:
        parts.append(f"{hours} hours")
    if minutes > 0:
        parts.append(f"{minutes} minutes")
    parts.append(f"{seconds} seconds")
    return ", ".join(parts)
