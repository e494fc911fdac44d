"""The install files agree with each other and with the README's commands."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_pip_list_matches_pyproject():
    project = _pyproject()["project"]
    wanted = list(project["dependencies"]) + list(project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    listed = [p for p in pip_section if not p.startswith(("git+", "-e"))]
    assert sorted(listed) == sorted(wanted)
    assert "-e ." in pip_section


def test_environment_yml_python_and_real_smac():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "git+https://github.com/oxwhirl/smac.git" in pip_section
    # the PyPI name `smac` is SMAC3, a hyperparameter optimiser
    assert not any(re.fullmatch(r"smac([<>=!~].*)?", p) for p in pip_section)


def test_torch_and_setuptools_pins():
    deps = _pyproject()["project"]["dependencies"]
    assert "torch==2.13.0" in deps
    assert "sacred==0.8.7" in deps and "setuptools<82" in deps
    makefile = (ROOT / "Makefile").read_text()
    assert 'pip install -q "torch==2.13.0"' in makefile


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"^make test$", ci, re.M)
    assert "make test" in readme and "make train" in readme


def test_console_script_entry_point():
    scripts = _pyproject()["project"]["scripts"]
    assert scripts["pymarl-explained"] == "pymarl_explained.main:main"
    out = subprocess.run([sys.executable, "-m", "pymarl_explained", "--config=nope"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 2
    assert "Unknown --config 'nope'" in out.stderr and "qmix" in out.stderr
    assert "Traceback" not in out.stderr


def test_ray_extra_is_ray_core_and_ci_installs_it():
    extras = _pyproject()["project"]["optional-dependencies"]
    assert extras["ray"] == ["ray==2.60.0"]  # core only: no [default], no [tune]
    assert "ray==2.60.0" in extras["dev"]  # `make test` installs .[dev], so the Ray tests run in CI
    readme = (ROOT / "README.md").read_text()
    assert 'pip install -e ".[ray]"' in readme


def test_install_warms_up_the_kernel_and_the_simulator():
    """``make install`` builds what a first run would wait for; in a fresh interpreter the warm-up
    compiles the marine maps' numba functions (none has a compiled signature before it)."""
    makefile = (ROOT / "Makefile").read_text()
    install = makefile[makefile.index("$(VENV)/.installed:"):makefile.index("install: $(VENV)/.installed")]
    assert "-m pymarl_explained.warmup" in install
    code = """
from pymarl_explained.envs import kernels
names = ("reset_kernel", "uniform_step_kernel", "uniform_observe_kernel", "uniform_validate_kernel")
before = [n for n in names if getattr(kernels, n).signatures]
from pymarl_explained.warmup import warm_up
seconds = warm_up()
print(before, [n for n in names if getattr(kernels, n).signatures], sorted(seconds))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == (
        "[] ['reset_kernel', 'uniform_step_kernel', 'uniform_observe_kernel', 'uniform_validate_kernel'] "
        "['gru_kernel_s', 'simulator_s']")
