"""Compiled kernels for the cases where per-step dispatch of small tensor operations dominates
(small units, long sequences). Built on first use by torch.utils.cpp_extension (needs a C++
compiler and ninja) and cached; when that is not possible, or RNNKIT_NATIVE=0, the kernels
written with PyTorch operations run instead, with the same results."""
import contextlib
import fcntl
import functools
import os
import warnings
from pathlib import Path

import torch


@functools.lru_cache(maxsize=None)
def native_kernels():
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
                extra_cflags=["-O3", "-ffast-math", "-march=native"],
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



def native_for(xp, rmask, activations_ok):
    """The compiled kernels where they apply (float32 on the CPU, no recurrent dropout, and
    activations the compiled kernel implements), else None."""
    if not activations_ok or xp.dtype != torch.float32 or xp.device.type != "cpu" or rmask is not None:
        return None
    return native_kernels()


# Below this many flops in a step's recurrent GEMM (2 * batch * units * gates * units), the time
# loop runs on one thread: a GEMM split across threads pays the pool's fork and join at each of
# the T steps, which costs more than the split saves at this size, and far more when other
# processes hold the cores (text workload, LSTM(64) batch 64: 0.47 s a step on two threads of a
# busy 2-core machine, 0.06 s on one).
SMALL_STEP_FLOPS = 4_000_000


@contextlib.contextmanager
def one_thread(when):
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


def loop_threads(batch, units, width):
    """Runs the block (a kernel's time loop) on one thread when each step's recurrent GEMM,
    (batch, units) x (units, width), is below SMALL_STEP_FLOPS."""
    return one_thread(2 * batch * units * width < SMALL_STEP_FLOPS)

