"""Stopping a run cleanly: Ctrl-C (SIGINT) and SIGTERM both end training the same way.

Ctrl-C raises ``KeyboardInterrupt`` in the main thread. SIGTERM (``kill``, ``timeout``, a cluster
scheduler ending a job) would kill the process on the spot, leaving sacred's run marked RUNNING
and no final checkpoint; :func:`sigterm_as_interrupt` turns it into :class:`RunTerminated`, a
``KeyboardInterrupt``, for the duration of a run. ``run_sequential`` then stops the loop, saves a
last checkpoint (with ``save_model``), ``run`` writes the curve, sacred marks the run INTERRUPTED,
and the command line prints one line and exits with 130 (SIGINT) or 143 (SIGTERM), the shell's
convention for a process ended by a signal.

A checkpoint must not stop half-way: :func:`interrupts_deferred` holds Ctrl-C and SIGTERM back
while one is written and delivers them when it is complete. (An interrupt inside ``torch.save``'s
zip writer came out as a ``RuntimeError``, "unexpected pos", not as a KeyboardInterrupt, so the
run failed instead of saving its last checkpoint.)
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class RunTerminated(KeyboardInterrupt):
    """SIGTERM received during a run (a KeyboardInterrupt, so everything that stops on Ctrl-C stops)."""

    signal_name = "SIGTERM"
    exit_status = 128 + signal.SIGTERM


def interrupt_name(error: BaseException) -> str:
    """``"SIGTERM"`` for :class:`RunTerminated`, ``"SIGINT"`` for any other KeyboardInterrupt."""
    return getattr(error, "signal_name", "SIGINT")


def interrupt_exit_status(error: BaseException) -> int:
    """143 for SIGTERM, 130 for SIGINT."""
    return getattr(error, "exit_status", 128 + signal.SIGINT)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`RunTerminated` in the main thread (elsewhere: no change)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise RunTerminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM are held back; when the block ends, the first one that
    arrived is delivered again (so it raises KeyboardInterrupt or RunTerminated, or ends the process,
    as it would have). In threads other than the main one: no change."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum, frame):
        received.append(signum)

    previous = {signum: signal.signal(signum, hold) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if received:
            signal.raise_signal(received[0])
