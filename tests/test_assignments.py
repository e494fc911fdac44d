"""Course assignments: release, checks, mutants, grading, capstone (tiny scale)."""

from __future__ import annotations

import copy
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill as pm
import pytest
import torch

from pymarl_explained.assignments import capstone
from pymarl_explained.assignments.check_cells import EXTRA_CHECKS_ENV, check_private, load_extra_checks
from pymarl_explained.assignments.checking import FAIL, NOT_IMPLEMENTED, PASS
from pymarl_explained.assignments.executor import execute_cells, grade_notebook
from pymarl_explained.assignments.grading import grade_folder
from pymarl_explained.assignments.mutants import MUTANTS, mutant_sources, mutated_notebook
from pymarl_explained.assignments.notebooks import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    dumps_notebook,
    grade_id,
    read_notebook,
    release_notebook,
    source_text,
)
from pymarl_explained.assignments.reference_data import build_qmix_reference, load_reference
from pymarl_explained.assignments.registry import ASSIGNMENTS, get_assignment

NAMES = list(ASSIGNMENTS)
TINY = {"scale": "ci"}  # the capstone's training size in tests
BAD = (FAIL, "error", "timeout", "missing")


def _write(path: Path, nb: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps_notebook(nb))
    return path


# ------------------------------------------------------------------ release
@pytest.mark.parametrize("name", NAMES)
def test_committed_student_notebook_is_the_fresh_release(name):
    spec = get_assignment(name)
    fresh = dumps_notebook(release_notebook(read_notebook(spec.source_path()), name))
    assert spec.release_path().read_text(encoding="utf-8") == fresh, (
        f"{spec.release_path()} is stale: run `python -m pymarl_explained.assignments release`")


@pytest.mark.parametrize("name", NAMES)
def test_release_strips_solutions_hidden_tests_and_outputs(name):
    spec = get_assignment(name)
    source = read_notebook(spec.source_path())
    student = release_notebook(source, name)
    text = dumps_notebook(student)
    assert BEGIN_SOLUTION not in text and BEGIN_HIDDEN not in text and 'check_private(\\"' not in text
    assert dumps_notebook(release_notebook(copy.deepcopy(source), name)) == text  # deterministic
    nbformat.validate(nbformat.from_dict(student))
    answers = [c for c in student["cells"] if (grade_id(c) or "").startswith("answer_")]
    assert [grade_id(c) for c in answers] == [p.answer_id for p in spec.parts if p.names]
    for cell in answers:
        assert "raise NotImplementedError()" in source_text(cell)
    assert all(c.get("outputs", []) == [] for c in student["cells"])


@pytest.mark.parametrize("name", NAMES)
def test_nbgrader_metadata(name):
    spec = get_assignment(name)
    nb = read_notebook(spec.source_path())
    ids = [grade_id(c) for c in nb["cells"]]
    assert None not in ids and len(set(ids)) == len(ids)
    points = {}
    for c in spec.checks():
        points[c.part] = points.get(c.part, 0) + c.points
    for cell in nb["cells"]:
        meta = cell["metadata"]["nbgrader"]
        assert meta["schema_version"] == 3
        if grade_id(cell).startswith("answer_"):
            assert meta["solution"] and not meta["grade"] and not meta["locked"]
            assert BEGIN_SOLUTION in source_text(cell)
        elif grade_id(cell).startswith("check_"):
            assert meta["grade"] and meta["locked"] and not meta["solution"]
            assert meta["points"] == points[grade_id(cell)[len("check_"):]]
        else:
            assert meta["locked"] and not meta["grade"] and not meta["solution"]
    assert set(points) == {p.name for p in spec.parts}


# ------------------------------------------------------------------ solutions and student notebooks
@pytest.mark.parametrize("name", [n for n in NAMES if n != "capstone"])  # the capstone: through papermill below
def test_solution_notebook_passes_every_check(name):
    spec = get_assignment(name)
    result = grade_notebook(spec.source_path(), parameters=TINY)
    assert result["status"] == "graded" and not result["problems"] and not result["cell_errors"]
    failed = {r["name"]: r["message"] for r in result["results"] if r["status"] != PASS}
    assert not failed
    assert len(result["results"]) == len(spec.checks()) >= 3


@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_reports_not_implemented(name):
    spec = get_assignment(name)
    result = grade_notebook(spec.release_path(), parameters=TINY)
    assert result["status"] == "graded"
    statuses = {r["name"]: (r["status"], r["message"]) for r in result["results"]}
    assert all(status == NOT_IMPLEMENTED for status, _ in statuses.values()), statuses
    # a lesson cell may need an answer first; then it raised NotImplementedError, nothing else
    assert all(e["error"].startswith("NotImplementedError") for e in result["cell_errors"])


def test_check_command_exit_status_and_report(tmp_path):
    spec = get_assignment("omg_batch_sizing")
    cmd = [sys.executable, "-m", "pymarl_explained.assignments", "check"]
    ok = subprocess.run([*cmd, str(spec.source_path())], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "PASS    buffer_samples_scaled_batch (1/1)" in ok.stdout and "TOTAL 7/7 checks, 7/7 points" in ok.stdout
    todo = subprocess.run([*cmd, str(spec.release_path())], capture_output=True, text=True)
    assert todo.returncode == 1
    assert "TODO    buffer_samples_scaled_batch (0/1): not implemented" in todo.stdout
    wrong = _write(tmp_path / "wrong.ipynb", mutated_notebook(_mutant("buffer_samples_unscaled")))
    bad = subprocess.run([*cmd, str(wrong)], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "FAIL    buffer_samples_scaled_batch (0/1): on 5m_vs_6m (5 agents), buffer_sample should be 160, got 32" \
           in bad.stdout
    assert "TOTAL 6/7 checks, 6/7 points" in bad.stdout


# ------------------------------------------------------------------ clear errors
def test_clear_errors_for_bad_notebooks(tmp_path):
    spec = get_assignment("replay_buffer")
    (tmp_path / "garbage.ipynb").write_text("{not json")
    res = grade_notebook(tmp_path / "garbage.ipynb")
    assert res["status"] == "unreadable" and "not a Jupyter notebook" in res["problems"][0]
    (tmp_path / "binary.ipynb").write_bytes(b"\xff\xfe\x00")
    assert grade_notebook(tmp_path / "binary.ipynb")["status"] == "unreadable"
    assert "no such notebook" in grade_notebook(tmp_path / "absent.ipynb")["problems"][0]

    # a renamed answer function: its checks say the name is missing
    nb = read_notebook(spec.source_path())
    renamed = copy.deepcopy(nb)
    for cell in renamed["cells"]:
        if grade_id(cell) == "answer_sample":
            cell["source"] = source_text(cell).replace("def sample(", "def sample_episodes(")
    res = grade_notebook(_write(tmp_path / "renamed.ipynb", renamed))
    sample_results = [r for r in res["results"] if r["part"] == "sample"]
    assert {r["status"] for r in sample_results} == {"missing"}
    assert "`sample` is not defined" in sample_results[0]["message"]
    assert all(r["status"] == PASS for r in res["results"] if r["part"] == "insert")

    # a deleted answer cell: a problem naming it, and its checks missing
    deleted = copy.deepcopy(nb)
    deleted["cells"] = [c for c in deleted["cells"] if grade_id(c) != "answer_insert"]
    res = grade_notebook(_write(tmp_path / "deleted.ipynb", deleted))
    assert "the answer cell 'answer_insert' (it defines `insert_episode_batch`) is missing" in res["problems"][0]
    assert {r["status"] for r in res["results"] if r["part"] == "insert"} == {"missing"}

    # the wrong assignment
    res = grade_notebook(get_assignment("qmix_mixer").source_path(), expected="replay_buffer")
    assert res["status"] == "wrong_assignment" and "assignment 'qmix_mixer'" in res["problems"][0]

    # a notebook of no assignment
    plain = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    assert grade_notebook(_write(tmp_path / "plain.ipynb", plain))["status"] == "not_an_assignment"


def test_cli_errors_are_one_line(tmp_path):
    cmd = [sys.executable, "-m", "pymarl_explained.assignments"]
    res = subprocess.run([*cmd, "grade", str(tmp_path / "nowhere"), "--out", str(tmp_path / "g.csv")],
                         capture_output=True, text=True)
    assert res.returncode == 2 and res.stderr.startswith("error: ") and "no such submissions folder" in res.stderr
    res = subprocess.run([*cmd, "release", "no_such"], capture_output=True, text=True)
    assert res.returncode == 2 and "unknown assignment 'no_such'" in res.stderr


# ------------------------------------------------------------------ mutants
def _mutant(name):
    return next(m for m in MUTANTS if m.name == name)


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_fails_its_named_checks(mutant):
    spec = get_assignment(mutant.assignment)
    nb = read_notebook(spec.source_path())
    result = grade_notebook(spec.source_path(), nb=nb, sources=mutant_sources(mutant, nb), answers_only=True,
                            only=set(mutant.rejected_by), parameters=TINY)
    statuses = {r["name"]: r["status"] for r in result["results"]}
    assert set(statuses) == set(mutant.rejected_by)
    assert all(s in BAD for s in statuses.values()), statuses


@pytest.mark.parametrize("name", NAMES)
def test_every_check_is_rejected_by_a_mutant(name):
    checks = {c.name for c in get_assignment(name).checks()}
    covered = {c for m in MUTANTS if m.assignment == name for c in m.rejected_by}
    assert covered <= checks, covered - checks
    assert checks <= covered, f"checks without a mutant: {sorted(checks - covered)}"


# ------------------------------------------------------------------ grading
def _fixture_submissions(root: Path) -> None:
    spec = get_assignment("replay_buffer")
    solution = read_notebook(spec.source_path())
    _write(root / "alice" / "replay_buffer" / "replay_buffer.ipynb", solution)  # correct (nbgrader layout)
    _write(root / "bob" / "replay_buffer.ipynb", mutated_notebook(_mutant("wrap_to_wrong_slot")))  # partly wrong
    crashing = copy.deepcopy(solution)
    crashing["cells"][1]["source"] = source_text(crashing["cells"][1]) + "\nimport os\nos._exit(3)\n"
    _write(root / "carol" / "replay_buffer.ipynb", crashing)  # the process dies
    _write(root / "dave" / "replay_buffer.ipynb", read_notebook(get_assignment("qmix_mixer").release_path()))
    (root / "erin").mkdir()
    (root / "erin" / "replay_buffer.ipynb").write_text("this is not a notebook")
    _write(root / "frank.ipynb", read_notebook(spec.release_path()))  # flat layout, nothing implemented
    (root / "gina").mkdir()  # no submission


def _rows(path: Path) -> dict[str, dict]:
    with open(path, newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def test_grade_writes_the_expected_csv_and_feedback(tmp_path):
    subs = tmp_path / "submissions"
    _fixture_submissions(subs)
    out = tmp_path / "out" / "grades.csv"
    grade_folder(subs, out, jobs=2, timeout_s=240, progress=False)
    rows = _rows(out)
    assert sorted(rows) == ["alice", "bob", "carol", "dave", "erin", "frank", "gina"]
    total = sum(c.points for c in get_assignment("replay_buffer").checks())
    assert (rows["alice"]["status"], rows["alice"]["score"], rows["alice"]["max_score"]) == ("graded", f"{total:g}",
                                                                                              f"{total:g}")
    assert rows["alice"]["notebook"] == "alice/replay_buffer/replay_buffer.ipynb"
    bob_failed = set(rows["bob"]["failed_checks"].split(";"))
    assert bob_failed == {"index_wraps_to_zero", "splits_at_the_end"}
    assert float(rows["bob"]["score"]) == total - 2
    assert rows["carol"]["status"] == "crashed" and rows["carol"]["score"] == "0"
    assert (rows["dave"]["status"], rows["dave"]["assignment"], rows["dave"]["score"]) == (
        "wrong_assignment", "replay_buffer", "0")
    assert rows["erin"]["status"] == "unreadable" and rows["erin"]["max_score"] == f"{total:g}"
    assert (rows["frank"]["status"], rows["frank"]["score"], rows["frank"]["assignment"]) == ("graded", "0",
                                                                                              "replay_buffer")
    assert rows["gina"]["status"] == "no_submission"
    # per-check rows and feedback files
    with open(out.with_name("grades_checks.csv"), newline="") as f:
        checks = [r for r in csv.DictReader(f) if r["student"] == "bob"]
    assert {r["check"]: r["status"] for r in checks}["index_wraps_to_zero"] == FAIL
    feedback = (out.parent / rows["bob"]["feedback"]).read_text()
    assert "the index must wrap to 0 when the buffer is full" in feedback and "Score: 9 / 11" in feedback
    assert "was submitted for 'replay_buffer'" in (out.parent / rows["dave"]["feedback"]).read_text()
    assert "exit status 3" in (out.parent / rows["carol"]["feedback"]).read_text()
    assert oct(out.stat().st_mode & 0o777) == "0o644"


def test_grade_kills_a_hanging_submission_and_keeps_the_others(tmp_path):
    spec = get_assignment("omg_batch_sizing")
    solution = read_notebook(spec.source_path())
    hanging = copy.deepcopy(solution)
    for cell in hanging["cells"]:
        if grade_id(cell) == "answer_loop":
            cell["source"] = source_text(cell) + "\nimport subprocess, time\nsubprocess.Popen(['sleep', '600'])\n" \
                                                 "time.sleep(600)\n"
    subs = tmp_path / "subs"
    _write(subs / "hal" / "omg_batch_sizing.ipynb", hanging)
    _write(subs / "ivy" / "omg_batch_sizing.ipynb", solution)
    out = tmp_path / "grades.csv"
    grade_folder(subs, out, jobs=2, timeout_s=12, progress=False)
    rows = _rows(out)
    assert rows["ivy"]["status"] == "graded" and rows["ivy"]["percent"] == "100.0"
    assert rows["hal"]["status"] == "timeout" and rows["hal"]["score"] == "0"
    assert "time limit" in (out.parent / rows["hal"]["feedback"]).read_text()
    # the whole process group was killed: no `sleep 600` child survives
    ps = subprocess.run(["pgrep", "-f", "sleep 600"], capture_output=True, text=True)
    assert ps.stdout.strip() == ""


EXTRA = '''
from pymarl_explained.assignments import expect, extra_check
from pymarl_explained.assignments.checks.replay_buffer import episodes, new_buffer, stored_ids

CHECKS = []
check = extra_check("replay_buffer", "insert", CHECKS)


@check(points=2, hint="a buffer of one slot keeps only the newest episode")
def buffer_of_one(insert_episode_batch):
    buffer = new_buffer(1)
    insert_episode_batch(buffer, episodes(0, 3))
    expect(stored_ids(buffer) == [2] and buffer.buffer_index == 0, "a buffer of one slot keeps only the newest")
'''


def test_extra_checks_are_graded_and_stay_private(tmp_path, monkeypatch):
    private = tmp_path / "private"
    private.mkdir()
    (private / "replay_buffer_extra.py").write_text(EXTRA)
    (extra,) = load_extra_checks(private)
    assert (extra.name, extra.points, extra.private) == ("buffer_of_one", 2, True)
    spec = get_assignment("replay_buffer")
    res = grade_notebook(spec.source_path(), extra_checks=[extra])
    assert {r["name"]: r["status"] for r in res["results"]}["buffer_of_one"] == PASS
    wrong = _write(tmp_path / "subs" / "bob" / "replay_buffer.ipynb", mutated_notebook(_mutant("overflow_dropped")))
    res = grade_notebook(wrong, extra_checks=[extra])
    assert {r["name"]: r["status"] for r in res["results"]}["buffer_of_one"] == FAIL
    # the hidden-test region of a check cell runs them when the variable names the folder
    ns = execute_cells(read_notebook(spec.source_path()), spec, answers_only=True).namespace
    assert check_private("replay_buffer", ns) == []  # no folder: nothing runs
    monkeypatch.setenv(EXTRA_CHECKS_ENV, str(private))
    assert [r.status for r in check_private("replay_buffer", ns, quiet=True)] == [PASS]
    # the grader's option
    out = tmp_path / "grades.csv"
    grade_folder(tmp_path / "subs", out, jobs=1, timeout_s=120, extra_checks=str(private), progress=False)
    assert "buffer_of_one" in _rows(out)["bob"]["failed_checks"]
    feedback = (tmp_path / "feedback" / "bob" / "replay_buffer.txt").read_text()
    assert "[instructor] FAIL    buffer_of_one (0/2)" in feedback


# ------------------------------------------------------------------ data and capstone
def test_stored_qmix_reference_matches_the_package_mixer():
    stored, fresh = load_reference(), build_qmix_reference()
    for key in ("hypernet_layers_1", "hypernet_layers_2"):
        assert torch.allclose(torch.tensor(stored[key]["q_tot"]), torch.tensor(fresh[key]["q_tot"]), atol=1e-6)


def test_capstone_calibration_data():
    data = capstone.load_calibration()
    for scale in ("ci", "default"):
        entry = data["scales"][scale]
        ref = entry["variants"]["reference"]
        assert len(ref["scores"]) >= 10 and ref["pass_rate"] == 1.0
        assert entry["bar"] > 0 and min(ref["scores"]) >= entry["bar"]
        assert entry["variants"]["reward_sign_flipped"]["pass_rate"] == 0.0
        assert entry["settings"] == capstone.SCALES[scale]


def test_capstone_reference_passes_through_papermill(tmp_path):
    out = tmp_path / "capstone_out.ipynb"
    pm.execute_notebook(str(get_assignment("capstone").source_path()), str(out), parameters=TINY,
                        kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    executed = nbformat.read(out, as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert "9/9 checks passed, 9/9 points" in text  # the components
    assert "PASS    passes_learning_bar (3/3)" in text
    assert any("image/png" in o.get("data", {}) for c in executed.cells if c.cell_type == "code" for o in c.outputs)


def test_release_command_reports_unchanged(tmp_path):
    env = {**os.environ, "PYMARL_ASSIGNMENTS_DIR": str(tmp_path)}
    spec = get_assignment("omg_batch_sizing")
    _write(tmp_path / spec.name / "source" / f"{spec.name}.ipynb", read_notebook(spec.source_path()))
    cmd = [sys.executable, "-m", "pymarl_explained.assignments", "release", spec.name]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env)
    second = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert first.returncode == second.returncode == 0
    assert first.stdout.startswith("wrote") and second.stdout.startswith("unchanged")
    assert (tmp_path / spec.name / "release" / f"{spec.name}.ipynb").read_text() == spec.release_path().read_text()
    assert json.loads(spec.release_path().read_text())["metadata"]["pymarl_assignment"]["name"] == spec.name
