"""The notebooks as a course (issue 13): structure every notebook keeps, and where figures go."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from pymarl_explained import notebook_setup
from pymarl_explained.notebook_tools import FIGURES_ENV, tracked_figures_dir

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))
CJK = re.compile(r"[\u4e00-\u9fff]")
ASSIGNMENTS = ("epsilon_greedy", "episode_batch", "replay_buffer", "qmix_mixer", "td_loss", "omg_batch_sizing",
               "capstone")


def _markdown_lines(nb) -> list[str]:
    """Markdown lines outside code fences, in order."""
    lines, fence = [], False
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("```"):
                fence = not fence
            elif not fence:
                lines.append(line)
    return lines


def _sections(nb) -> dict[str, str]:
    """``## heading`` -> the markdown text up to the next ``## `` (or ``# ``) heading."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in _markdown_lines(nb):
        if re.match(r"#{1,2} ", line):
            current = line
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return {k: "\n".join(v) for k, v in sections.items()}


def test_the_course_has_eight_notebooks_in_order():
    assert [p.name for p in NOTEBOOKS] == [
        "00_package_tour.ipynb", "01_run_py.ipynb", "02_episode_runner.ipynb", "03_episode_buffer.ipynb",
        "04_omg_batch_sizing.ipynb", "05_algorithms.ipynb", "06_training_run.ipynb", "07_compare_algorithms.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_goals_summary_next_link_and_chinese_key_points(path):
    nb = nbformat.read(path, as_version=4)
    title = nb.cells[0].source
    for marker in ("Goals (学习目标)", "Prerequisites (前置知识)", "Time (时间)"):
        assert marker in title, marker
    text = "\n".join(_markdown_lines(nb))
    assert "## Summary (小结)" in text or "## Summary of the code logic" in text
    assert re.search(r"\*\*Next \(下一步\):\*\*.*\]\((0\d_\w+\.ipynb|README\.md)\)", text, re.S)
    for heading, body in _sections(nb).items():
        if heading.startswith("# ") or "Appendix" in heading:
            continue
        assert "中文要点" in body, f"{path.name}: no 中文要点 in section {heading!r}"
    for line in _markdown_lines(nb):
        if line.startswith("#"):
            assert CJK.search(line), f"{path.name}: heading without Chinese: {line!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_cite_documents_by_title_and_show_whole_sources(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        assert not re.search(r"seed 00\d|document \*\*00\d", cell.source), cell.source[:200]
        if cell.cell_type == "code":
            assert "getsource" not in cell.source, "show source with show_source, never a slice of its text"
            assert "../figures" not in cell.source, "figures go through save_fig (scratch unless make notebooks)"
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert "setup(" in first_code.source and len(first_code.source.splitlines()) <= 5


def test_the_learning_path_links_every_notebook_and_assignment():
    guide = (ROOT / "notebooks" / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert f"]({path.name})" in guide, path.name
    for name in ASSIGNMENTS:
        assert f"](../assignments/{name}/)" in guide, name
    glossary = (ROOT / "notebooks" / "glossary.md").read_text(encoding="utf-8")
    for term in ("replay buffer", "bootstrap", "mask", "padding", "target network", "hypernetwork"):
        assert re.search(rf"^\| {term}\b.*\| .*[\u4e00-\u9fff]", glossary, re.M | re.I), term


def test_figures_go_to_a_scratch_folder_unless_make_notebooks_names_one(tmp_path, monkeypatch):
    monkeypatch.delenv(FIGURES_ENV, raising=False)
    scratch = notebook_setup.figures_dir()
    assert ROOT not in scratch.resolve().parents
    monkeypatch.setenv(FIGURES_ENV, str(tmp_path / "figs"))
    assert notebook_setup.figures_dir() == tmp_path / "figs"
    assert tracked_figures_dir(ROOT / "notebooks" / "05_algorithms.ipynb") == ROOT / "figures"

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    assert notebook_setup.save_fig(fig, "x.png") == tmp_path / "figs" / "x.png"
    assert (tmp_path / "figs" / "x.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="file name, not a path"):
        notebook_setup.save_fig(fig, "../figures/x.png")
    plt.close(fig)


def test_show_source_prints_the_whole_dedented_source(capsys):
    from pymarl_explained.components.episode_buffer import ReplayBuffer

    notebook_setup.show_source(ReplayBuffer.can_sample)
    out = capsys.readouterr().out
    assert out.startswith("def can_sample(self, batch_size: int) -> bool:\n")
    assert out.rstrip().endswith("return self.episodes_in_buffer >= batch_size")
