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


def summarize(samples, scale=1.0):
    """Median, min, max and every sample (seconds times `scale`) of a list of timings."""
    scaled = [s * scale for s in samples]
    return {"median": statistics.median(scaled), "min": min(scaled), "max": max(scaled), "samples": scaled}


class SgemmProbe:
    """Float32 GEMM rate of this machine, sampled between the benchmark steps so that it sees the
    same load (other processes, clocks) as they do; `gflops()` is the median of all samples."""

    def __init__(self, device="cpu", sync=lambda: None, n=2048):
        self.a = torch.randn(n, n, device=device)
        self.b = torch.randn(n, n, device=device)
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
        return (
            f"sgemm peak (2048^3 float32 matmul, median of {len(ms)} samples taken between the steps): "
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


def device_name(device):
    device = torch.device(device)
    return torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()


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


def peak_rss_mb():
    """Peak resident set size of this process so far, in MB: /proc's VmHWM, which starts afresh at
    exec (ru_maxrss would carry over the parent's peak into a child started by fork + exec)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
