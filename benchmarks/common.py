"""Timing machinery shared by the benchmarks: a synchronised timer, the sgemm peak probe, sample
statistics and a description of the machine. Goals are ratios measured in one run, so every
benchmark times its contenders alternately in one process with these pieces."""
import platform
import statistics
import time

import torch


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def timed(fn, sync=lambda: None, clock="wall"):
    """Seconds of one call of `fn`, with the device synchronised before and after: wall-clock, or
    with clock="cpu" this process's CPU time, which leaves out the time other processes held the
    cores (meaningful with one thread on a busy machine; with several it adds up their spinning)."""
    now = CLOCKS[clock]
    sync()
    start = now()
    fn()
    sync()
    return now() - start


def device_sync(device):
    """The function that waits for `device` to finish its queued work (timed() calls it around a
    call): torch.cuda.synchronize on CUDA, nothing on the CPU."""
    return torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)


def summarize(samples, scale=1.0):
    """Median, min, max and every sample (seconds times `scale`) of a list of timings."""
    scaled = [s * scale for s in samples]
    return {"median": statistics.median(scaled), "min": min(scaled), "max": max(scaled), "samples": scaled}


class SgemmProbe:
    """Float32 (or `dtype`: bfloat16 for the mixed-precision rows) GEMM rate of this machine, sampled
    between the benchmark steps so that it sees the same load (other processes, clocks) as they do;
    `gflops()` is the median of all samples."""

    def __init__(self, device="cpu", sync=lambda: None, n=2048, dtype=torch.float32):
        self.a = torch.randn(n, n, device=device, dtype=dtype)
        self.b = torch.randn(n, n, device=device, dtype=dtype)
        self.n, self.dtype, self.device = n, dtype, torch.device(device)
        self.flops = 2 * n**3
        self.sync = sync
        self.samples = []
        torch.mm(self.a, self.b)

    def sample(self, clock="wall"):
        self.samples.append(timed(lambda: torch.mm(self.a, self.b), self.sync, clock))

    def gflops(self):
        return self.flops / statistics.median(self.samples) / 1e9

    def describe(self):
        ms = [t * 1e3 for t in self.samples]
        library = "MKL" if self.device.type == "cpu" else "cuBLAS"
        return (
            f"{f'torch sgemm ({library})' if self.dtype == torch.float32 else 'bf16 gemm'} peak ({self.n}^3 "
            f"{str(self.dtype).replace('torch.', '')} matmul, median of {len(ms)} samples taken between the steps): "
            f"{self.gflops():.1f} GFLOP/s; sample spread {min(ms):.0f}..{max(ms):.0f} ms "
            "(a wide spread means other processes disturbed this run)"
        )


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def bf16_support():
    """The CPU's bfloat16 GEMM support as PyTorch sees it (oneDNN uses AVX512-BF16 or AMX)."""
    capability = getattr(torch._C._cpu, "_get_cpu_capability", dict)()
    flags = {"AVX512-BF16": capability.get("avx512_bf16"), "AMX-BF16": capability.get("amx_bf16")}
    return ", ".join(f"{name} {'yes' if on else 'no'}" for name, on in flags.items())


def device_name(device):
    device = torch.device(device)
    return torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()


def accelerator_facts(device):
    """A benchmark header's line about the GPU: its name and size, cuDNN's version and where TF32 is allowed."""
    props = torch.cuda.get_device_properties(device)
    on = {True: "on", False: "off"}
    return (
        f"GPU: {props.name}, compute capability {props.major}.{props.minor}, {props.total_memory / 2**30:.0f} GiB; "
        f"cuDNN {torch.backends.cudnn.version()}; TF32 in cuDNN {on[torch.backends.cudnn.allow_tf32]} "
        f"(float32 RNNs of rnnkit and PyTorch alike), in matmul {on[torch.backends.cuda.matmul.allow_tf32]} "
        "(the sgemm probe)"
    )


def profile_step(step, rows):
    """torch.profiler table of one call of `step`, top `rows` ops by self CPU time."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    with profile(activities=activities) as prof:
        step()
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)


def current_rss_mb():
    """Resident set size of this process now, in MB (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    import resource

    return pages * resource.getpagesize() / 2**20


def _status_mb(field):
    """A size field of /proc/self/status (e.g. VmHWM) in MB, or None where unavailable."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def file_rss_mb():
    """File-backed resident pages of this process now, in MB (/proc's RssFile: mapped library code
    and data; 0 where unavailable)."""
    value = _status_mb("RssFile")
    return 0.0 if value is None else value


def peak_rss_mb():
    """Peak resident set size of this process so far, in MB: /proc's VmHWM, which starts afresh at
    exec (ru_maxrss would carry over the parent's peak into a child started by fork + exec)."""
    value = _status_mb("VmHWM")
    if value is not None:
        return value
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
