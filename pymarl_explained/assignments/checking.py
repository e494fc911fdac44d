"""Checks: named, pointed, hinted tests of a student's answer objects.

A check is a plain function whose parameters are named after the answer objects it needs
(``def index_wraps_to_zero(insert_episode_batch): ...``). :func:`run_check` looks those names up
in the namespace of the executed notebook, calls the function and turns what happens into a
:class:`CheckResult`:

- returns normally -> ``pass``;
- raises :class:`CheckFailed` (or an ``AssertionError``) -> ``fail``, with the check's specific
  hint ("the index must wrap to 0 when the buffer is full");
- the student's code raises ``NotImplementedError`` -> ``not implemented`` (the released
  notebook's answer cells contain ``raise NotImplementedError()``);
- a name is not defined -> ``missing`` (its answer cell failed, was deleted or renamed);
- any other exception -> ``error``, with the exception and the hint;
- it runs past its time limit -> ``timeout``.

In a notebook the check cell is one line, ``check("replay_buffer", globals())``: it runs the
assignment's checks of that part, prints one line per check and raises if any did not pass, so
that nbval and papermill see the failure. Importing this module needs only the standard library.
"""

from __future__ import annotations

import inspect
import signal
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

PASS = "pass"
FAIL = "fail"
NOT_IMPLEMENTED = "not implemented"
MISSING = "missing"
ERROR = "error"
TIMEOUT = "timeout"
NOT_RUN = "not run"
STATUSES = (PASS, FAIL, NOT_IMPLEMENTED, MISSING, ERROR, TIMEOUT, NOT_RUN)

#: Seconds one check may run before it is stopped (a student's infinite loop costs one check).
DEFAULT_CHECK_TIMEOUT_S = 120


class CheckFailed(AssertionError):
    """Raised by a check when the student's answer is wrong; the message is the hint shown."""


class CheckTimeout(Exception):
    """Raised inside a check that ran past its time limit."""


class MissingAnswer(Exception):
    """An answer object a check needs is not defined in the notebook's namespace."""


def expect(condition: Any, hint: str) -> None:
    """Fail the current check with ``hint`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(hint)


@dataclass(frozen=True)
class Check:
    """One named check of an assignment.

    ``func``'s parameter names are the answer objects it needs. ``part`` is the check cell that
    runs it in the notebook (one per answer cell), ``points`` its weight in the grade and
    ``hint`` what a failure means, shown with the failure's own message.
    """

    name: str
    assignment: str
    part: str
    func: Callable[..., Any]
    points: float = 1.0
    hint: str = ""
    timeout_s: float = DEFAULT_CHECK_TIMEOUT_S
    private: bool = False  # an instructor's extra check (--extra-checks), not in the repository

    @property
    def needs(self) -> tuple[str, ...]:
        return tuple(inspect.signature(self.func).parameters)


@dataclass
class CheckResult:
    """What happened when one check ran."""

    name: str
    part: str
    status: str
    points: float
    max_points: float
    message: str = ""
    seconds: float = 0.0
    private: bool = False

    @property
    def passed(self) -> bool:
        return self.status == PASS

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_check_decorator(assignment: str, part: str, registry: list[Check]):
    """A decorator that declares checks of ``assignment`` / ``part`` into ``registry`` (a list).

    Used by each ``checks/<assignment>.py`` module::

        check = make_check_decorator("replay_buffer", "insert", CHECKS)

        @check(points=2, hint="the index must wrap to 0 when the buffer is full")
        def index_wraps_to_zero(insert_episode_batch): ...
    """

    def decorator(points: float = 1.0, hint: str = "", part_name: str | None = None,
                  timeout_s: float = DEFAULT_CHECK_TIMEOUT_S, private: bool = False):
        def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
            registry.append(Check(func.__name__, assignment, part_name or part, func, points, hint or
                                  (func.__doc__ or "").strip().split("\n")[0], timeout_s, private))
            return func

        return wrap

    return decorator


@contextmanager
def time_limit(seconds: float):
    """Raise :class:`CheckTimeout` in the main thread after ``seconds`` (POSIX; no limit elsewhere)."""
    if seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return
    try:
        previous = signal.signal(signal.SIGALRM, _raise_timeout)
    except ValueError:  # not the main thread: run without a limit
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _raise_timeout(signum, frame):
    raise CheckTimeout()


def _is_not_implemented(exc: BaseException) -> bool:
    """True when ``exc`` is, or was raised while handling, a NotImplementedError."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, NotImplementedError):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _short_exception(exc: BaseException) -> str:
    """``TypeError: ... (in your code at line 12)``: the exception and the innermost frame outside the package."""
    text = f"{type(exc).__name__}: {exc}".strip()
    frames = traceback.extract_tb(exc.__traceback__)
    student = [f for f in frames if "pymarl_explained" not in f.filename]
    if student:
        f = student[-1]
        where = f.filename[1:-1] if f.filename.startswith("<") else f.filename
        text += f" (raised in {where}, line {f.lineno}: {(f.line or '').strip()})"
    return text


def run_check(check: Check, namespace: Mapping[str, Any], answer_errors: Mapping[str, str] | None = None,
              not_implemented_names: Iterable[str] = ()) -> CheckResult:
    """Run one check against the answer objects in ``namespace``.

    ``answer_errors`` maps an answer name to the error its cell raised (to explain a ``missing``
    name); ``not_implemented_names`` are names whose cell raised NotImplementedError (an unsolved
    top-level answer), reported as ``not implemented``.
    """
    answer_errors = answer_errors or {}
    not_implemented_names = set(not_implemented_names)
    result = CheckResult(check.name, check.part, FAIL, 0.0, check.points, private=check.private)
    kwargs = {}
    for name in check.needs:
        if name in namespace:
            kwargs[name] = namespace[name]
        elif name in not_implemented_names:
            result.status, result.message = NOT_IMPLEMENTED, f"`{name}` is not implemented yet"
            return result
        else:
            result.status = MISSING
            why = answer_errors.get(name)
            result.message = (f"`{name}` is not defined: " + (f"its cell raised {why}" if why else
                              "its answer cell was deleted, not run, or the name was changed"))
            return result
    start = time.perf_counter()
    try:
        with time_limit(check.timeout_s):
            check.func(**kwargs)
    except CheckTimeout:
        result.status = TIMEOUT
        result.message = f"stopped after {check.timeout_s:g} s (an endless loop?)"
    except (CheckFailed, AssertionError) as exc:
        if _is_not_implemented(exc):
            result.status, result.message = NOT_IMPLEMENTED, "raises NotImplementedError"
        else:
            result.status = FAIL
            result.message = str(exc) or check.hint
    except NotImplementedError:
        result.status, result.message = NOT_IMPLEMENTED, "raises NotImplementedError"
    except Exception as exc:  # the student's code crashed inside the check
        if _is_not_implemented(exc):
            result.status, result.message = NOT_IMPLEMENTED, "raises NotImplementedError"
        else:
            result.status = ERROR
            result.message = f"{_short_exception(exc)}. Hint: {check.hint}"
    else:
        result.status, result.points = PASS, check.points
    result.seconds = time.perf_counter() - start
    return result


def format_result(result: CheckResult) -> str:
    """One line per check: ``PASS  index_wraps_to_zero (2/2)`` or ``FAIL ...: hint``."""
    label = {PASS: "PASS", FAIL: "FAIL", NOT_IMPLEMENTED: "TODO", MISSING: "MISSING", ERROR: "ERROR",
             TIMEOUT: "TIMEOUT", NOT_RUN: "NOT RUN"}[result.status]
    points = f"({result.points:g}/{result.max_points:g})"
    head = f"{label:8}{result.name} {points}"
    if result.status == PASS:
        return head
    if result.status == NOT_IMPLEMENTED:
        return f"{head}: not implemented ({result.message})"
    return f"{head}: {result.message}"


def format_report(results: list[CheckResult], title: str = "") -> str:
    """The table ``check`` prints: one line per check, then the score."""
    lines = [title] if title else []
    lines += [format_result(r) for r in results]
    got = sum(r.points for r in results)
    total = sum(r.max_points for r in results)
    n_pass = sum(r.passed for r in results)
    lines.append(f"{n_pass}/{len(results)} checks passed, {got:g}/{total:g} points")
    return "\n".join(lines)


class ChecksNotPassed(AssertionError):
    """Raised by a notebook's check cell when any of its checks did not pass."""
