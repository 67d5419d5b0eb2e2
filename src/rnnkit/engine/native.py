"""Compiled kernels for the cases where per-step dispatch of small tensor operations dominates
(small units, long sequences). Built on first use by torch.utils.cpp_extension (needs a C++
compiler and ninja) and cached; when that is not possible, or RNNKIT_NATIVE=0, the kernels
written with PyTorch operations run instead, with the same results."""
import contextlib
import fcntl
import functools
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import ContextManager, Iterator, Optional, Tuple

import torch

from .sequence import nested_layout


@functools.lru_cache(maxsize=None)
def native_kernels() -> Optional[ModuleType]:
    """The compiled kernel module, or None where it cannot be built."""
    if os.environ.get("RNNKIT_NATIVE", "1") == "0":
        return None
    try:
        from torch.utils.cpp_extension import _get_build_directory, load

        build_directory = _get_build_directory("rnnkit_native", False)
        with _build_lock(build_directory):
            return load(
                name="rnnkit_native",
                sources=[str(Path(__file__).with_name("native_kernels.cpp"))],
                # -ffast-math for the vectorised gate loops, but NaN and inf keep their meaning: under
                # -ffinite-math-only the rational tanh's clamp turned a NaN into -1, so a diverged
                # SimpleRNN (or LSTM) went on with finite states and its loss never showed the NaN.
                extra_cflags=["-O3", "-ffast-math", "-fno-finite-math-only", "-march=native"],
                build_directory=build_directory,
                verbose=False,
            )
    except Exception as error:  # no compiler, no ninja, unsupported platform: fall back
        warnings.warn(f"rnnkit: compiled kernels unavailable ({error}); using the PyTorch-op kernels.")
        return None


@contextlib.contextmanager
def _build_lock(build_directory):
    """Serialises rnnkit's kernel builds with an OS lock, which dies with its process.

    torch's own build lock is a plain file that a build killed midway (Ctrl-C during the first
    compile) leaves behind, after which every later run waits for it forever. While we hold the OS
    lock no other rnnkit process is building, so a torch lock file found then is stale: remove it."""
    os.makedirs(build_directory, exist_ok=True)
    with open(os.path.join(build_directory, "rnnkit.lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(build_directory, "lock"))
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# The paths a built-in cell's sequence can take in the engine, fastest first.
COMPILED, COMPILED_NESTED, TORCH_OPS = "compiled", "compiled_nested", "torch_ops"
COMPILED_DTYPE = torch.float32
RECURRENT_DROPOUT_REASON = "recurrent dropout has no compiled kernel"


@dataclass(frozen=True)
class KernelChoice:
    """Which engine path runs a cell's sequence: `path` (COMPILED, COMPILED_NESTED or TORCH_OPS),
    `reason` (why the compiled kernel was not taken, None when it was), and for COMPILED_NESTED the
    mask's `layout` (order, counts) from `nested_layout`."""

    path: str
    reason: Optional[str] = None
    layout: Optional[Tuple[torch.Tensor, torch.Tensor]] = field(default=None, repr=False, compare=False)


def kernel_choice(dtype: torch.dtype, device: torch.device, mask: Optional[torch.Tensor],
                  cell_reason: Optional[str] = None) -> KernelChoice:
    """The engine path for one cell's sequence, and why a faster one was not taken.

    Args:
        dtype: the dtype of the projected inputs xp (B, T, G*H): the cell's weights' dtype.
        device: where they are.
        mask: (B, T) boolean step mask, or None. A right- or left-padded one runs on the nested
            compiled kernel (each step on its active rows only); any other on the dense one.
        cell_reason: why the compiled kernel cannot compute this cell's step (its activations,
            recurrent dropout), or None when it can.
    """
    if cell_reason is not None:
        return KernelChoice(TORCH_OPS, cell_reason)
    if dtype != COMPILED_DTYPE:
        name = str(dtype).replace("torch.", "")
        return KernelChoice(TORCH_OPS, f"{name} weights: the compiled kernels are float32 (bfloat16 GEMMs under "
                                       "mixed_bfloat16)")
    if device.type != "cpu":
        return KernelChoice(TORCH_OPS, f"the compiled kernels run on the CPU, the weights are on {device.type}")
    if native_kernels() is None:
        return KernelChoice(TORCH_OPS, "the compiled kernels could not be built here (or RNNKIT_NATIVE=0)")
    if mask is None:
        return KernelChoice(COMPILED)
    layout = nested_layout(mask)
    if layout is None:
        return KernelChoice(COMPILED, "the mask is not right- or left-padded: every step runs on every row")
    return KernelChoice(COMPILED_NESTED, layout=layout)


def kernel_mask(mask: Optional[torch.Tensor]) -> torch.Tensor:
    """The (B, T) step mask as the dense compiled kernels take it: contiguous, empty for none."""
    return mask.contiguous() if mask is not None else torch.empty(0, dtype=torch.bool)


def kernel_matrix(U: torch.Tensor, compute_dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    """The recurrent matrix as the compiled kernels take it: float32, or rounded once per call to a
    lower `compute_dtype` (bfloat16 under a mixed policy), which makes every GEMM of the call, the
    recurrent product and the weight gradients, run in that dtype (see product_out in the kernels)."""
    if compute_dtype is None or compute_dtype == U.dtype:
        return U.contiguous()
    return U.detach().to(compute_dtype).contiguous()


# Below this many flops in a step's recurrent GEMM (2 * batch * units * gates * units), the time
# loop runs on one thread: a GEMM split across threads pays the pool's fork and join at each of
# the T steps, which costs more than the split saves at this size, and far more when other
# processes hold the cores (text workload, LSTM(64) batch 64: 0.47 s a step on two threads of a
# busy 2-core machine, 0.06 s on one).
SMALL_STEP_FLOPS = 4_000_000


@contextlib.contextmanager
def one_thread(when: bool) -> Iterator[None]:
    """Runs the block on one intra-op thread when `when` is true, and restores the thread count."""
    threads = torch.get_num_threads()
    if not when or threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def runs_on_one_thread(batch: int, units: int, width: int) -> bool:
    """Whether a compiled time loop whose step GEMM is (batch, units) x (units, width) runs on one
    thread: below SMALL_STEP_FLOPS, or when torch has one thread anyway."""
    return 2 * batch * units * width < SMALL_STEP_FLOPS or torch.get_num_threads() == 1


def loop_threads(batch: int, units: int, width: int) -> ContextManager[None]:
    """Runs the block (a kernel's time loop) on one thread when each step's recurrent GEMM,
    (batch, units) x (units, width), is below SMALL_STEP_FLOPS."""
    return one_thread(2 * batch * units * width < SMALL_STEP_FLOPS)

