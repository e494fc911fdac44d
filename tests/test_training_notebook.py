"""The papermill training notebook (06) and the sweep command, with tiny parameters."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import papermill as pm

from pymarl_explained import sweep
from pymarl_explained.notebook_tools import project_path
from pymarl_explained.utils.logging import read_metrics

ROOT = Path(__file__).resolve().parent.parent
NB = ROOT / "notebooks" / "06_training_run.ipynb"
TINY = {"t_max": 300, "test_interval": 150, "test_nepisode": 2, "log_interval": 100, "progress_bar": False,
        "extra_overrides": "batch_size=4 buffer_size=8"}


def test_parameters_cell_is_tagged_and_typed():
    nb = nbformat.read(NB, as_version=4)
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    for name in ("config", "env_config", "map_name", "t_max", "seed", "batch_size_run", "test_interval",
                 "results_dir"):
        assert f"\n{name}: " in "\n" + cell.source, name
    params = pm.inspect_notebook(str(NB))
    assert params["t_max"]["inferred_type_name"] == "int"
    assert "extra_overrides" in params


def test_project_path_starts_at_the_repository_root(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")  # JupyterLab, nbval, make notebooks
    assert project_path("results") == tmp_path / "results"
    monkeypatch.chdir(tmp_path)  # papermill from the root without --cwd
    assert project_path("figures/x.png") == tmp_path / "figures" / "x.png"
    assert project_path("/abs/results") == Path("/abs/results")


def test_papermill_runs_the_training_notebook(tmp_path):
    out = tmp_path / "out.ipynb"
    # started outside notebooks/ (as `papermill notebooks/06_... out.ipynb` from the root): relative
    # paths are taken from the kernel's folder, here tmp_path
    # with the pipelined runner (make train's): its worker process starts from a Jupyter kernel too
    parameters = {**TINY, "results_dir": "results", "seed": 2, "figures_dir": "figures",
                  "extra_overrides": TINY["extra_overrides"] + " runner=pipelined"}
    pm.execute_notebook(str(NB), str(out), cwd=str(tmp_path), kernel_name="python3", progress_bar=False,
                        parameters=parameters)
    executed = nbformat.read(out, as_version=4)
    assert not [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    (run_dir,) = (tmp_path / "results" / "runs").iterdir()
    metrics = read_metrics(run_dir / "metrics.jsonl")
    for key in ("test_battle_won_mean", "return_mean", "loss", "epsilon"):
        assert key in metrics
    assert (run_dir / "curve.png").stat().st_size > 10_000  # written by run()
    assert (tmp_path / "figures" / "06_qmix_MarineMicro_MvsM_4_seed2.png").is_file()
    config = json.loads((run_dir / "config.json").read_text())
    assert config["seed"] == 2 and config["batch_size"] == 4 and config["t_max"] == 300
    assert config["runner"] == "pipelined"
    images = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, "the curves cell shows its figure"


def test_sweep_runs_a_2x1_grid_and_exports(tmp_path, capsys):
    code = sweep.main(["--configs", "qmix", "iql", "--seeds", "0", "--t-max", "200", "--out", str(tmp_path / "sw"),
                       "--jobs", "2", "--export", str(tmp_path / "export"),
                       "--param", "test_nepisode=2", "--param", "test_interval=100",
                       "--param", "extra_overrides=batch_size=4 buffer_size=8"])
    assert code == 0, capsys.readouterr()
    for name in ("qmix__MarineMicro_MvsM_4__seed0", "iql__MarineMicro_MvsM_4__seed0"):
        assert (tmp_path / "sw" / f"{name}.ipynb").is_file()
    exported = sorted(p.name for p in (tmp_path / "export").iterdir())
    assert exported == [f"{alg}__MarineMicro_MvsM_4__seed0.{kind}.jsonl"
                        for alg in ("iql", "qmix") for kind in ("metrics", "wallclock")]


def test_sweep_reports_failures_and_keeps_finished_runs(tmp_path, capsys):
    # qtran_arch is a key of QTRAN's config only: the QMIX run fails, the QTRAN run finishes
    code = sweep.main(["--configs", "qmix", "qtran", "--seeds", "0", "--t-max", "150", "--out", str(tmp_path / "sw"),
                       "--jobs", "2", "--export", str(tmp_path / "export"), "--param", "test_nepisode=2",
                       "--param", "extra_overrides=batch_size=4 buffer_size=8 qtran_arch=qtran_paper"])
    captured = capsys.readouterr()
    assert code == 1
    assert "FAILED qmix__MarineMicro_MvsM_4__seed0" in captured.out and "qtran_arch" in captured.err
    assert "done   qtran__MarineMicro_MvsM_4__seed0" in captured.out
    assert sorted(p.name for p in (tmp_path / "export").iterdir()) == [
        "qtran__MarineMicro_MvsM_4__seed0.metrics.jsonl", "qtran__MarineMicro_MvsM_4__seed0.wallclock.jsonl"]
    # the failed run keeps its executed notebook, with the error, for reading
    assert (tmp_path / "sw" / "qmix__MarineMicro_MvsM_4__seed0.ipynb").is_file()


def test_sweep_checks_its_arguments_before_starting(tmp_path, capsys):
    out = ["--out", str(tmp_path / "sw")]
    assert sweep.main(["--configs", "qmx", "--seeds", "0", *out]) == 2
    assert "unknown config" in capsys.readouterr().err
    assert sweep.main(["--map", "3x", *out]) == 2
    assert "Unknown map '3x'" in capsys.readouterr().err
    assert sweep.main(["--jobs", "0", *out]) == 2
    for param, message in (("test_nepsiode=2", "not a parameter"), ("seed=3", "set by the grid"),
                           ("test_interval", "name=value")):
        try:
            sweep.main(["--param", param, *out])
        except SystemExit as exc:
            assert message in str(exc)
        else:
            raise AssertionError(f"--param {param} was accepted")
    assert not (tmp_path / "sw").exists()  # nothing started


def test_sweep_export_only_takes_the_newest_run_of_each_point(tmp_path, capsys):
    out, export = tmp_path / "sw", tmp_path / "export"
    for date, value in (("2026-01-01_00-00-00", 0.1), ("2026-02-01_00-00-00", 0.9)):
        run = out / "qmix__MarineMicro_MvsM_4__seed0" / "runs" / f"qmix__MarineMicro_MvsM_4__seed0__{date}"
        run.mkdir(parents=True)
        (run / "config.json").write_text(json.dumps({"t_max": 5, "checkpoint_path": ""}))
        (run / "metrics.jsonl").write_text(json.dumps({"key": "x", "t_env": 10, "value": value}) + "\n")
        (run / "wallclock.jsonl").write_text(json.dumps({"t_env": 0, "elapsed_s": 1.0}) + "\n")
    args = ["--configs", "qmix", "--seeds", "0", "--out", str(out), "--export", str(export), "--export-only"]
    assert sweep.main(args) == 0
    assert json.loads((export / "qmix__MarineMicro_MvsM_4__seed0.metrics.jsonl").read_text())["value"] == 0.9
    assert sweep.main([*args[:3], "0", "1", *args[4:]]) == 1  # seed 1 has no run
    assert "no run in" in capsys.readouterr().err
    assert sweep.main(args[:-3] + ["--export-only"]) == 2  # --export-only without --export
