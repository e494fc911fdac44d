"""A compiled GRU recurrence for the learner's whole-sequence unroll on the CPU.

Where the time goes in a QMIX train step is the agent's GRU: one small matrix product and a dozen
element-wise gate operations per step, forward and backward, over up to 61 steps. Through PyTorch
each of those operations pays a dispatch and, backwards, an autograd node. ``gru_kernel.cpp`` runs
the whole recurrence in C++: per step two small matrix products through ATen (inputs and hidden
state times their weights) and the gates in one fused loop, so that every operand stays in the
CPU's cache; backwards the same in reverse, the weight gradients accumulated step by step.

It is compiled on first use with ``torch.utils.cpp_extension`` (g++ and ninja; about a minute,
once per machine, cached under ``~/.cache/torch_extensions``). Where it cannot be built (no
compiler), :func:`gru_sequence` says so once and uses torch's own GRU kernel instead: the same
equations, slower. ``PYMARL_EXPLAINED_GRU_KERNEL=torch`` chooses torch's kernel on purpose.

The two kernels agree within float32 rounding (tested against GRUCell, gradients included), not
bit for bit: a run is reproducible on one machine with one kernel.

The same compiled module has two functions for acting (:func:`compiled_for`): one agent step and
the epsilon-greedy selection, each the same ATen calls as the Python code it stands for, so those
agree bit for bit. ``PYMARL_EXPLAINED_GRU_KERNEL=torch`` turns off all compiled code.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import sys
from pathlib import Path

import torch
import torch.nn as nn
from torch.func import functional_call

logger = logging.getLogger("pymarl_explained.gru_kernel")

SOURCE = Path(__file__).with_name("gru_kernel.cpp")
#: Environment variable: ``auto`` (default: the compiled kernel where it builds) or ``torch``.
KERNEL_ENV = "PYMARL_EXPLAINED_GRU_KERNEL"

_extension = None
_load_error: str | None = None


def _compile_flags() -> list[str]:
    """-O3 with fast math (so the gate loops vectorise), and the widest vector instructions that
    torch itself uses on this CPU (AVX-512 or AVX2 with FMA). The flags are part of the build's
    name, so machines of different capabilities sharing a home directory build their own."""
    flags = ["-O3", "-ffast-math", "-fopenmp-simd"]
    capability = torch.backends.cpu.get_cpu_capability()
    if capability in ("AVX2", "AVX512"):
        flags += ["-mavx2", "-mfma"]
    if capability == "AVX512":
        flags += ["-mavx512f", "-mavx512vl", "-mavx512dq", "-mavx512bw", "-mprefer-vector-width=512"]
    return flags


@contextlib.contextmanager
def _one_builder(build_dir: Path):
    """Let one process at a time build or load the kernel; clear a lock that a killed build left.

    torch's own build lock is a plain file: a build killed by Ctrl-C leaves it behind and every
    later process would wait on it forever. An ``flock`` is released by the kernel when its process
    dies, so whoever holds it knows no build is running and removes torch's leftover lock.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: torch's lock alone
        yield
        return
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir.parent / f"{build_dir.name}.flock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            (build_dir / "lock").unlink(missing_ok=True)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load_extension():
    """The compiled kernel module, building it on first use; None where it cannot be built."""
    global _extension, _load_error
    if _extension is not None or _load_error is not None:
        return _extension
    choice = os.environ.get(KERNEL_ENV, "auto")
    if choice == "torch":
        _load_error = f"{KERNEL_ENV}=torch"
        return None
    if choice != "auto":
        logger.warning("%s=%r is neither 'auto' nor 'torch'; using 'auto' (the compiled kernel where it builds).",
                       KERNEL_ENV, choice)
    flags = _compile_flags()
    digest = hashlib.sha1(SOURCE.read_bytes() + " ".join(flags).encode() + torch.__version__.encode()).hexdigest()
    name = f"pymarl_explained_gru_{digest[:12]}"
    path = os.environ.get("PATH", "")
    try:
        from torch.utils.cpp_extension import _get_build_directory, load

        build_dir = Path(_get_build_directory(name, verbose=False))
        # the ninja of the virtual environment (a pip dependency) even when it is not activated
        os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + path
        with _one_builder(build_dir):
            if not (build_dir / f"{name}.so").exists():
                print("Building the compiled GRU kernel, once for this machine (about a minute)...",
                      file=sys.stderr, flush=True)
            _extension = load(name=name, sources=[str(SOURCE)], extra_cflags=flags, verbose=False)
    except Exception as exc:  # no compiler, no ninja, a failed build: fall back, say so once
        lines = str(exc).strip().splitlines()
        _load_error = f"{type(exc).__name__}: {lines[-1] if lines else ''}"
        logger.warning("The compiled GRU kernel is unavailable (%s); training uses torch's GRU kernel "
                       "and acting the plain Python code (same equations, slower).", _load_error)
    finally:
        os.environ["PATH"] = path
    return _extension


class GRUSequence(torch.autograd.Function):
    """``hs = GRU(x, h0)`` over all steps: x (T, N, I), h0 (N, H) and the cell's weights and biases."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh):
        save = any(ctx.needs_input_grad)  # the target network's pass saves nothing
        hs, rz, n, ghn = _extension.forward(x, h0, w_ih, w_hh, b_ih, b_hh, save)
        if save:
            ctx.save_for_backward(x, h0, w_ih, w_hh, hs, rz, n, ghn)
        return hs

    @staticmethod
    def backward(ctx, dhs):
        x, h0, w_ih, w_hh, hs, rz, n, ghn = ctx.saved_tensors
        return tuple(_extension.backward(dhs, x, h0, w_ih, w_hh, hs, rz, n, ghn))  # dx, dh0, dw_ih, dw_hh, db_ih, db_hh


@functools.lru_cache(maxsize=8)
def _gru_template(input_size: int, hidden_size: int) -> nn.GRU:
    """An nn.GRU without storage of its own (meta device): functional_call lends it weights."""
    return nn.GRU(input_size, hidden_size, device="meta")


def torch_gru_sequence(cell: nn.GRUCell, x: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """The same recurrence through torch's GRU kernel (``nn.GRU`` lent the cell's weights)."""
    template = _gru_template(cell.input_size, cell.hidden_size)
    weights = {"weight_ih_l0": cell.weight_ih, "weight_hh_l0": cell.weight_hh,
               "bias_ih_l0": cell.bias_ih, "bias_hh_l0": cell.bias_hh}
    hs, _ = functional_call(template, weights, (x, h0.unsqueeze(0)))
    return hs


def compiled_for(tensor: torch.Tensor):
    """The compiled module when ``tensor`` is a float32 CPU tensor and the kernel builds, else None.

    Acting uses two of its functions: ``agent_step`` (RNNAgent.forward) and ``epsilon_greedy``
    (EpsilonGreedyActionSelector's selection). Each makes the same ATen calls in the same order as
    the Python lines it stands for, so the numbers and the random draws are the same, bit for bit
    (tested); what it saves is the Python side of a dozen small calls per env step.
    """
    if tensor.dtype == torch.float32 and tensor.device.type == "cpu":
        return load_extension()
    return None


def gru_sequence(cell: nn.GRUCell, x: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """Run ``cell`` over ``x`` (T, N, input) from ``h0`` (N, H); every step's hidden state (T, N, H).

    The compiled kernel for float32 CPU tensors where it builds, torch's GRU kernel otherwise.
    """
    if compiled_for(x) is not None:
        return GRUSequence.apply(x, h0, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    return torch_gru_sequence(cell, x, h0)
