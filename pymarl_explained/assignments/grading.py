"""Grade a folder of submissions in parallel processes: a CSV of grades and one feedback file each.

Layout of the submissions folder (nbgrader's ``submitted/`` layout, or a flat folder)::

    submissions/alice/replay_buffer/replay_buffer.ipynb   # <student>/<assignment>/<notebook>
    submissions/bob/replay_buffer.ipynb                   # <student>/<notebook>
    submissions/carol.ipynb                               # <student>.ipynb

The assignment a notebook was submitted for is ``--assignment``, else a folder or file name that
is an assignment's name, else the notebook's own metadata. Each notebook is graded by
``python -m pymarl_explained.assignments.executor`` in its own process group, ``jobs`` at a
time; past ``timeout_s`` the whole group is killed (the checks it finished keep their points),
and a submission that crashes or hangs never stops the others.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymarl_explained.assignments.checking import NOT_RUN, PASS, CheckResult, format_result
from pymarl_explained.assignments.notebooks import write_text_atomic
from pymarl_explained.assignments.registry import ASSIGNMENTS, AssignmentError, get_assignment

CSV_COLUMNS = ("student", "assignment", "notebook", "status", "score", "max_score", "percent", "checks_passed",
               "checks_total", "failed_checks", "seconds", "feedback")
CHECK_CSV_COLUMNS = ("student", "assignment", "check", "part", "status", "points", "max_points", "private")
STDERR_TAIL = 1500


@dataclass
class Submission:
    """One notebook to grade."""

    student: str
    path: Path | None
    expected: str | None
    result: dict[str, Any] = field(default_factory=dict)
    rel: str = ""  # the notebook's path inside the submissions folder


def find_submissions(folder: str | os.PathLike, assignment: str | None = None) -> list[Submission]:
    """Every submitted notebook under ``folder`` (see the module docstring), sorted by student and path.

    A student folder without any notebook gives a submission with ``path=None`` (graded as missing).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise AssignmentError(f"{folder}: no such submissions folder")
    subs: list[Submission] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            subs.append(Submission(entry.stem, entry, assignment or _assignment_from_path([entry.stem]),
                                   rel=entry.name))
        elif entry.is_dir():
            notebooks = sorted(p for p in entry.rglob("*.ipynb")
                               if not any(part.startswith(".") for part in p.relative_to(entry).parts))
            if not notebooks:
                subs.append(Submission(entry.name, None, assignment))
            for nb in notebooks:
                parts = [*nb.relative_to(entry).parent.parts, nb.stem]
                subs.append(Submission(entry.name, nb, assignment or _assignment_from_path(parts),
                                       rel=str(nb.relative_to(folder))))
    return subs


def _assignment_from_path(parts: list[str]) -> str | None:
    for part in parts:
        if part in ASSIGNMENTS:
            return part
    return None


def _worker_command(sub: Submission, out: Path, extra_checks: str | None, parameters: dict[str, Any]) -> list[str]:
    cmd = [sys.executable, "-m", "pymarl_explained.assignments.executor", str(sub.path), "--out", str(out)]
    if sub.expected:
        cmd += ["--assignment", sub.expected]
    if extra_checks:
        cmd += ["--extra-checks", str(extra_checks)]
    for name, value in parameters.items():
        cmd += ["--param", f"{name}={json.dumps(value)}"]
    return cmd


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    # one thread per grading process: the jobs already use the cores
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg", PYTHONHASHSEED="0")
    return env


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def run_workers(subs: list[Submission], jobs: int, timeout_s: float, extra_checks: str | None = None,
                parameters: dict[str, Any] | None = None, progress: bool = True) -> None:
    """Grade ``subs`` (those with a path) in up to ``jobs`` worker processes; fills each ``result``."""
    parameters = parameters or {}
    pending = [s for s in subs if s.path is not None]
    running: list[tuple[Submission, subprocess.Popen, Path, Any, float]] = []
    with tempfile.TemporaryDirectory(prefix="pymarl_grade_") as tmp:
        counter = 0
        while pending or running:
            while pending and len(running) < jobs:
                sub = pending.pop(0)
                counter += 1
                out = Path(tmp) / f"{counter}.json"
                log = open(Path(tmp) / f"{counter}.log", "w+b")  # noqa: SIM115 - closed when the worker ends
                proc = subprocess.Popen(_worker_command(sub, out, extra_checks, parameters), stdout=log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_worker_env(),
                                        start_new_session=True)
                running.append((sub, proc, out, log, time.monotonic()))
            time.sleep(0.05)
            still = []
            for sub, proc, out, log, started in running:
                elapsed = time.monotonic() - started
                timed_out = proc.poll() is None and elapsed > timeout_s
                if timed_out:
                    _kill_group(proc)
                if proc.poll() is None:
                    still.append((sub, proc, out, log, started))
                    continue
                log.seek(0)
                tail = log.read().decode("utf-8", "replace")[-STDERR_TAIL:]
                log.close()
                sub.result = _collect(sub, out, proc.returncode, timed_out, tail, timeout_s, elapsed)
                if progress:
                    print(f"  {sub.student:20} {sub.result.get('assignment') or '?':18} {sub.result['status']:17} "
                          f"{elapsed:6.1f} s", flush=True)
            running = still


def _collect(sub: Submission, out: Path, returncode: int, timed_out: bool, tail: str, timeout_s: float,
             elapsed: float) -> dict[str, Any]:
    try:
        result = json.loads(out.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        result = {"notebook": str(sub.path), "assignment": sub.expected, "status": "graded", "problems": [],
                  "cell_errors": [], "results": [], "output_tail": ""}
    if timed_out:
        result["status"] = "timeout"
        result["problems"] = [*result.get("problems", []),
                              f"stopped at the time limit of {timeout_s:g} s; checks not reached score 0"]
    elif returncode != 0:
        result["status"] = "crashed"
        result["problems"] = [*result.get("problems", []),
                              f"the grading process died (exit status {returncode}); its last output:\n{tail}"]
    result["seconds"] = round(elapsed, 2)
    if result["status"] in ("timeout", "crashed") and not result.get("results") and result.get("assignment"):
        result["results"] = [CheckResult(c.name, c.part, NOT_RUN, 0.0, c.points).to_dict()
                             for c in get_assignment(result["assignment"]).checks()]
    return result


def _max_points(sub: Submission) -> float:
    results = sub.result.get("results") or []
    if results:
        return sum(r["max_points"] for r in results)
    name = sub.expected or sub.result.get("assignment")
    return sum(c.points for c in get_assignment(name).checks()) if name in ASSIGNMENTS else 0.0


def feedback_text(sub: Submission) -> str:
    """The feedback a student reads: status, problems, one line per check with its hint, the score."""
    r = sub.result
    score, total = sum(x["points"] for x in r.get("results", [])), _max_points(sub)
    lines = [f"Assignment: {r.get('assignment') or sub.expected or 'unknown'}", f"Student: {sub.student}",
             f"Notebook: {sub.rel or '(none submitted)'}", f"Status: {r['status']}",
             f"Score: {score:g} / {total:g}", ""]
    if r.get("problems"):
        lines += ["Problems:", *[f"  - {p}" for p in r["problems"]], ""]
    if r.get("results"):
        lines.append("Checks:")
        for x in r["results"]:
            res = CheckResult(**{k: x[k] for k in ("name", "part", "status", "points", "max_points", "message")})
            prefix = "[instructor] " if x.get("private") else ""
            lines.append("  " + prefix + format_result(res))
        lines.append("")
    if r.get("cell_errors"):
        lines.append("Cells that raised an error:")
        lines += [f"  - cell {e['index']}" + (f" ({e['grade_id']})" if e.get("grade_id") else "") + f": {e['error']}"
                  for e in r["cell_errors"]]
        lines.append("")
    return "\n".join(lines)


def _row(sub: Submission, feedback: Path | None, out_dir: Path) -> dict[str, Any]:
    r = sub.result
    results = r.get("results", [])
    score, total = sum(x["points"] for x in results), _max_points(sub)
    return {
        "student": sub.student,
        "assignment": r.get("assignment") or sub.expected or "",
        "notebook": sub.rel,
        "status": r["status"],
        "score": f"{score:g}",
        "max_score": f"{total:g}",
        "percent": f"{100 * score / total:.1f}" if total else "0.0",
        "checks_passed": sum(x["status"] == PASS for x in results),
        "checks_total": len(results),
        "failed_checks": ";".join(x["name"] for x in results if x["status"] != PASS),
        "seconds": f"{r.get('seconds', 0):.1f}",
        "feedback": os.path.relpath(feedback, out_dir) if feedback else "",
    }


def _csv_text(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def grade_folder(folder: str | os.PathLike, out_csv: str | os.PathLike, jobs: int = 2, timeout_s: float = 300,
                 extra_checks: str | None = None, assignment: str | None = None,
                 feedback_dir: str | os.PathLike | None = None, parameters: dict[str, Any] | None = None,
                 progress: bool = True) -> list[Submission]:
    """Grade every submission under ``folder``; write ``out_csv``, ``<stem>_checks.csv`` and the feedback files."""
    if assignment is not None:
        get_assignment(assignment)
    if jobs < 1:
        raise AssignmentError(f"--jobs must be at least 1, got {jobs}")
    if timeout_s <= 0:
        raise AssignmentError(f"--timeout must be positive, got {timeout_s}")
    if extra_checks is not None and not Path(extra_checks).is_dir():
        raise AssignmentError(f"--extra-checks {extra_checks}: no such folder")
    out_csv = Path(out_csv)
    subs = find_submissions(folder, assignment)
    if not subs:
        raise AssignmentError(f"{folder}: no submissions (expected <student>/.../<notebook>.ipynb or <student>.ipynb)")
    for sub in subs:
        if sub.path is None:
            sub.result = {"assignment": sub.expected, "status": "no_submission", "problems": [
                "no notebook was found in this student's folder"], "results": [], "cell_errors": []}
    if progress:
        print(f"grading {sum(s.path is not None for s in subs)} notebook(s) with {jobs} process(es), "
              f"time limit {timeout_s:g} s each", flush=True)
    run_workers(subs, jobs, timeout_s, extra_checks, parameters, progress)

    out_dir = out_csv.parent.resolve()
    feedback_root = Path(feedback_dir) if feedback_dir else out_dir / "feedback"
    rows, check_rows = [], []
    for sub in subs:
        name = sub.result.get("assignment") or sub.expected or (sub.path.stem if sub.path else "submission")
        feedback = feedback_root / sub.student / f"{name}.txt"
        write_text_atomic(feedback, feedback_text(sub))
        rows.append(_row(sub, feedback.resolve(), out_dir))
        for x in sub.result.get("results", []):
            check_rows.append({"student": sub.student, "assignment": name, "check": x["name"], "part": x["part"],
                               "status": x["status"], "points": f"{x['points']:g}",
                               "max_points": f"{x['max_points']:g}", "private": int(bool(x.get("private")))})
    write_text_atomic(out_csv, _csv_text(rows, CSV_COLUMNS))
    write_text_atomic(out_csv.with_name(f"{out_csv.stem}_checks.csv"), _csv_text(check_rows, CHECK_CSV_COLUMNS))
    return subs
