"""The compiled GRU recurrence: equal to PyMARL's GRUCell loop (outputs and gradients), used when it
builds, and a clean fallback to torch's kernel, announced once, when it does not."""

from __future__ import annotations

import logging
import shutil

import pytest
import torch
import torch.nn as nn

from pymarl_explained.modules.agents import gru_kernel


def _cell_loop(cell: nn.GRUCell, x: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    h, hs = h0, []
    for t in range(x.shape[0]):
        h = cell(x[t], h)
        hs.append(h)
    return torch.stack(hs)


def _outputs_and_grads(run, cell, x, h0, weight):
    x = x.clone().requires_grad_()
    h0 = h0.clone().requires_grad_()
    hs = run(cell, x, h0)
    grads = torch.autograd.grad((hs * weight).sum(), [x, h0, *cell.parameters()])
    return hs.detach(), grads


@pytest.mark.skipif(shutil.which("g++") is None, reason="no C++ compiler here")
def test_compiled_kernel_equals_the_grucell_loop_with_gradients():
    assert gru_kernel.load_extension() is not None, gru_kernel._load_error
    torch.manual_seed(0)
    cell = nn.GRUCell(64, 64)
    x, h0, weight = torch.randn(37, 96, 64), torch.randn(96, 64), torch.randn(37, 96, 64)
    ref, ref_grads = _outputs_and_grads(_cell_loop, cell, x, h0, weight)
    got, got_grads = _outputs_and_grads(gru_kernel.gru_sequence, cell, x, h0, weight)
    torch.testing.assert_close(got, ref, atol=1e-6, rtol=0)
    names = ["x", "h0", "weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    for name, g, r in zip(names, got_grads, ref_grads, strict=True):
        # weight gradients are sums over T x N = 3552 rows (values up to ~100): float32 rounding of a
        # different summation order, as between torch's own GRU kernel and the loop (4.6e-5 there)
        scale = float(r.abs().max())
        assert float((g - r).abs().max()) <= 1e-6 * max(scale, 1.0), f"gradient of {name}"
    with torch.no_grad():  # the target network's pass saves nothing for a backward pass
        torch.testing.assert_close(gru_kernel.gru_sequence(cell, x, h0), ref, atol=1e-5, rtol=0)
    one_step = gru_kernel.gru_sequence(cell, x[:1], h0)  # T = 1: the first hidden state is h0's successor
    torch.testing.assert_close(one_step[0], cell(x[0], h0), atol=1e-6, rtol=0)


def test_without_a_compiler_it_falls_back_to_torchs_kernel_and_says_so_once(monkeypatch, caplog):
    import torch.utils.cpp_extension as cpp_extension

    def no_compiler(*args, **kwargs):
        raise RuntimeError("Ninja is required to load C++ extensions")

    monkeypatch.setattr(gru_kernel, "_extension", None)
    monkeypatch.setattr(gru_kernel, "_load_error", None)
    monkeypatch.setattr(cpp_extension, "load", no_compiler)
    torch.manual_seed(1)
    cell = nn.GRUCell(8, 16)
    x, h0 = torch.randn(5, 3, 8), torch.randn(3, 16)
    with caplog.at_level(logging.WARNING, logger="pymarl_explained.gru_kernel"):
        first = gru_kernel.gru_sequence(cell, x, h0)
        gru_kernel.gru_sequence(cell, x, h0)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Ninja is required" in warnings[0] and "torch's GRU kernel" in warnings[0]
    torch.testing.assert_close(first, _cell_loop(cell, x, h0), atol=1e-5, rtol=0)


def test_the_environment_variable_chooses_torchs_kernel(monkeypatch, caplog):
    monkeypatch.setattr(gru_kernel, "_extension", None)
    monkeypatch.setattr(gru_kernel, "_load_error", None)
    monkeypatch.setenv(gru_kernel.KERNEL_ENV, "torch")
    assert gru_kernel.load_extension() is None and gru_kernel._load_error == f"{gru_kernel.KERNEL_ENV}=torch"
    # a value that means nothing is said, not silently taken for something
    monkeypatch.setattr(gru_kernel, "_load_error", None)
    monkeypatch.setenv(gru_kernel.KERNEL_ENV, "Torch ")
    monkeypatch.setattr("torch.utils.cpp_extension.load", lambda *a, **k: "built")
    with caplog.at_level(logging.WARNING, logger="pymarl_explained.gru_kernel"):
        assert gru_kernel.load_extension() == "built"
    assert "'Torch ' is neither 'auto' nor 'torch'" in caplog.text


@pytest.mark.skipif(shutil.which("g++") is None, reason="no C++ compiler here")
def test_a_lock_left_by_a_killed_build_does_not_hang_the_next_run():
    """torch's build lock is a plain file: after a build killed by Ctrl-C every later load waited on it."""
    import subprocess
    import sys

    assert gru_kernel.load_extension() is not None
    code = ("from pathlib import Path\n"
            "from pymarl_explained.modules.agents import gru_kernel\n"
            "from torch.utils.cpp_extension import _get_build_directory\n"
            "name = gru_kernel.load_extension().__name__\n"
            "gru_kernel._extension = None\n"
            "(Path(_get_build_directory(name, verbose=False)) / 'lock').touch()  # what a killed build leaves\n"
            "print(gru_kernel.load_extension() is not None)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "True", done.stderr
