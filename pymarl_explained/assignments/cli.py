"""``python -m pymarl_explained.assignments``: release, check and grade the course assignments.

    python -m pymarl_explained.assignments list
    python -m pymarl_explained.assignments release [NAME ...]
    python -m pymarl_explained.assignments check NOTEBOOK [--extra-checks DIR]
    python -m pymarl_explained.assignments grade SUBMISSIONS_DIR --out grades.csv [--jobs 2] [--timeout 300]
                                                 [--extra-checks DIR] [--assignment NAME]

``release`` regenerates every student notebook (``assignments/<name>/release/<name>.ipynb``)
from its solution notebook (``assignments/<name>/source/<name>.ipynb``). ``check`` executes one
notebook and prints each check's result with its hint; its exit status is 0 only if every check
passes. ``grade`` grades a folder of submissions in parallel processes into a CSV and one feedback
file per student and assignment. See ``assignments/README.md`` (the instructor guide).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pymarl_explained.assignments.checking import CheckResult, format_report
from pymarl_explained.assignments.registry import ASSIGNMENTS, AssignmentError, assignments_root, get_assignment

#: Set after the parameters cell of every graded notebook (only the capstone has one): the
#: instructor's training size and seed, whatever a student left in the cell.
GRADE_PARAMETERS = {"scale": "default", "seed": 1}


def _param(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--param takes name=value, got {text!r}")
    name, _, value = text.partition("=")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def cmd_list(args) -> int:
    for spec in ASSIGNMENTS.values():
        points = sum(c.points for c in spec.checks())
        print(f"{spec.name:18} {len(spec.checks()):3} checks {points:4g} points  follows {spec.follows:22} "
              f"{spec.title}")
    return 0


def cmd_release(args) -> int:
    root = Path(args.dir) if args.dir else assignments_root()
    from pymarl_explained.assignments.notebooks import release

    names = args.names or list(ASSIGNMENTS)
    start = time.perf_counter()
    for name in names:
        path, changed = release(get_assignment(name), root)
        print(f"{'wrote' if changed else 'unchanged':9} {path}")
    print(f"released {len(names)} assignment(s) in {time.perf_counter() - start:.2f} s")
    return 0


def cmd_check(args) -> int:
    notebook = Path(args.notebook)
    if args.assignment:
        get_assignment(args.assignment)
    with tempfile.TemporaryDirectory(prefix="pymarl_check_") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "pymarl_explained.assignments.executor", str(notebook), "--out", str(out)]
        if args.assignment:
            cmd += ["--assignment", args.assignment]
        if args.extra_checks:
            cmd += ["--extra-checks", args.extra_checks]
        for name, value in args.param:
            cmd += ["--param", f"{name}={json.dumps(value)}"]
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f"{notebook}: stopped at the time limit of {args.timeout:g} s", file=sys.stderr)
            return 1
        if proc.returncode != 0 or not out.is_file():
            print(f"{notebook}: checking failed:\n{(proc.stderr or proc.stdout)[-3000:]}", file=sys.stderr)
            return proc.returncode or 1
        result = json.loads(out.read_text())
    elapsed = time.perf_counter() - start
    print(render_result(result))
    print(f"(checked in {elapsed:.1f} s)")
    ok = result["status"] == "graded" and result["results"] and all(r["status"] == "pass" for r in result["results"])
    return 0 if ok else 1


def render_result(result: dict) -> str:
    """The ``check`` command's report: problems, then the checks of each part with their hints."""
    lines = [f"{result['notebook']}: assignment {result.get('assignment')!r}"]
    if result["status"] != "graded":
        lines.append(f"status: {result['status']}")
    lines += [f"problem: {p}" for p in result.get("problems", [])]
    results = [CheckResult(**{k: r[k] for k in ("name", "part", "status", "points", "max_points", "message")})
               for r in result.get("results", [])]
    parts: dict[str, list[CheckResult]] = {}
    for r in results:
        parts.setdefault(r.part, []).append(r)
    for part, rs in parts.items():
        lines.append(f"\n[{part}]")
        lines.append(format_report(rs))
    if results:
        got, total = sum(r.points for r in results), sum(r.max_points for r in results)
        lines.append(f"\nTOTAL {sum(r.passed for r in results)}/{len(results)} checks, {got:g}/{total:g} points")
    for e in result.get("cell_errors", []):
        where = f"cell {e['index']}" + (f" ({e['grade_id']})" if e.get("grade_id") else "")
        if e["error"].startswith("NotImplementedError"):
            lines.append(f"{where} raised NotImplementedError (it needs an answer not implemented yet)")
        else:
            lines.append(f"{where} raised {e['error']}")
    return "\n".join(lines)


def cmd_grade(args) -> int:
    from pymarl_explained.assignments.grading import grade_folder

    start = time.perf_counter()
    subs = grade_folder(args.submissions, args.out, jobs=args.jobs, timeout_s=args.timeout,
                        extra_checks=args.extra_checks, assignment=args.assignment, feedback_dir=args.feedback,
                        parameters={**GRADE_PARAMETERS, **dict(args.param)})
    elapsed = time.perf_counter() - start
    n = sum(s.path is not None for s in subs)
    print(f"graded {n} notebook(s) in {elapsed:.1f} s ({elapsed / max(n, 1):.1f} s per submission, "
          f"{args.jobs} process(es)) -> {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pymarl_explained.assignments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the assignments").set_defaults(func=cmd_list)

    rel = sub.add_parser("release", help="regenerate the student notebooks from the solution notebooks")
    rel.add_argument("names", nargs="*", help="assignments (default: all)")
    rel.add_argument("--dir", help="the assignments folder (default: the repository's assignments/)")
    rel.set_defaults(func=cmd_release)

    chk = sub.add_parser("check", help="execute a notebook and print each check with its hint")
    chk.add_argument("notebook")
    chk.add_argument("--assignment", help="the assignment it must be (default: the notebook's own)")
    chk.add_argument("--extra-checks", help="a folder of private checks (*.py)")
    chk.add_argument("--timeout", type=float, default=1800, help="seconds (default 1800)")
    chk.add_argument("--param", type=_param, action="append", default=[],
                     help="name=value set after the notebook's parameters cell (e.g. scale=ci)")
    chk.set_defaults(func=cmd_check)

    grd = sub.add_parser("grade", help="grade a folder of submissions into a CSV and feedback files")
    grd.add_argument("submissions")
    grd.add_argument("--out", required=True, help="the grades CSV (per-check rows go to <stem>_checks.csv)")
    grd.add_argument("--jobs", type=int, default=2, help="parallel grading processes (default 2)")
    grd.add_argument("--timeout", type=float, default=300, help="seconds per submission (default 300)")
    grd.add_argument("--extra-checks", help="a folder of private checks (*.py), kept outside the repository")
    grd.add_argument("--assignment", help="grade every notebook as this assignment")
    grd.add_argument("--feedback", help="feedback folder (default: feedback/ next to the CSV)")
    grd.add_argument("--param", type=_param, action="append", default=[],
                     help="name=value set after each notebook's parameters cell (default: scale=default seed=1)")
    grd.set_defaults(func=cmd_grade)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except AssignmentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
