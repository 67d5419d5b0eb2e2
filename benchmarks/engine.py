"""Engine benchmark: one training step (forward + backward + zero grads) of a bare recurrent layer,
rnnkit's fused kernels against PyTorch eager `nn.RNN(tanh)/nn.LSTM/nn.GRU(batch_first=True)`.

Run from the repository root:

    .venv/bin/python benchmarks/engine.py                      # table, ~10 repeats (about 2 minutes on 2 cores)
    .venv/bin/python benchmarks/engine.py --repeats 3          # quick look
    .venv/bin/python benchmarks/engine.py --only lstm --json   # one workload, machine-readable
    .venv/bin/python benchmarks/engine.py --threads 1 --device cuda
    .venv/bin/python benchmarks/engine.py --only gru --profile # + top ops of one step of each

Workloads (the seed sizes of DESIGN.md section 4):
    simple_rnn  SimpleRNN(256), batch 128 x 28 steps x 28 features   (MNIST rows)
    lstm        LSTM(64),       batch 64 x 200 steps x 64 features
    gru         GRU(1024),      batch 64 x 100 steps x 256 features  (char model)

Both libraries run in this one process on the same input (requires_grad=False), alternating
rnnkit, torch, rnnkit, torch, ... after warm-up; the table reports medians. Both return every
step's output (rnnkit with return_sequences=True), the loss is `output.sum()`, and the step
ends with zeroed grads; no optimizer. Before timing, each pair is checked to compute the same
thing: torch's weights are copied into the rnnkit layer and outputs (to 1e-4) and weight
gradients must match.

Columns:
    ratio    torch ms / rnnkit ms; > 1 means rnnkit is faster, < 1 slower.
    GFLOP/s  matmul flops only: forward 2*B*T*(I+H)*G*H (G = 1, 4, 3 gates), backward twice
             that, divided by the median step time.
    %peak    that rate as a fraction of this machine's float32 GEMM rate, measured in the same
             run at the current torch thread count (2048^3 matmul, median of samples taken
             between the timed steps, so it sees the same load from other processes).
Goals are ratios measured in the same run, never absolute milliseconds.
"""
import argparse
import json
import platform
import statistics
import sys
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

import rnnkit
from common import SgemmProbe, accelerator_facts, device_name, device_sync, peak_rss_mb, profile_step, timed
from rnnkit import layers


@dataclass(frozen=True)
class Workload:
    name: str
    units: int
    batch: int
    steps: int
    features: int
    gates: int

    def label(self):
        layer = {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}[self.name]
        return f"{layer}({self.units}) {self.batch}x{self.steps}x{self.features}"

    def step_flops(self):
        """Matmul flops of one training step: forward, plus backward counted as twice forward."""
        forward = 2 * self.batch * self.steps * (self.features + self.units) * self.gates * self.units
        return 3 * forward


WORKLOADS = {
    "simple_rnn": Workload("simple_rnn", units=256, batch=128, steps=28, features=28, gates=1),
    "lstm": Workload("lstm", units=64, batch=64, steps=200, features=64, gates=4),
    "gru": Workload("gru", units=1024, batch=64, steps=100, features=256, gates=3),
}

# torch stacks gate blocks as i,f,g,o (LSTM) and r,z,n (GRU); Keras as i,f,c,o and z,r,h.
# KERAS_FROM_TORCH_BLOCKS[name][k] is the torch block holding Keras block k.
KERAS_FROM_TORCH_BLOCKS = {"simple_rnn": [0], "lstm": [0, 1, 2, 3], "gru": [1, 0, 2]}


def make_rnnkit_layer(wl):
    cls = {"simple_rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}[wl.name]
    return cls(wl.units, return_sequences=True)


def make_torch_layer(wl, device):
    if wl.name == "simple_rnn":
        module = nn.RNN(wl.features, wl.units, nonlinearity="tanh", batch_first=True)
    elif wl.name == "lstm":
        module = nn.LSTM(wl.features, wl.units, batch_first=True)
    else:
        module = nn.GRU(wl.features, wl.units, batch_first=True)
    return module.to(device)


def keras_layout(wl, w_ih, w_hh):
    """torch (G*H, I) and (G*H, H) matrices -> Keras kernel (I, G*H) and recurrent kernel (H, G*H)."""
    order = KERAS_FROM_TORCH_BLOCKS[wl.name]

    def convert(w):
        blocks = w.detach().cpu().numpy().reshape(wl.gates, wl.units, -1)
        return np.ascontiguousarray(np.concatenate([blocks[k] for k in order], axis=0).T)

    return convert(w_ih), convert(w_hh)


def keras_bias(wl, b_ih, b_hh):
    order = KERAS_FROM_TORCH_BLOCKS[wl.name]

    def convert(b):
        blocks = b.detach().cpu().numpy().reshape(wl.gates, wl.units)
        return np.concatenate([blocks[k] for k in order])

    if wl.name == "gru":  # reset_after=True: row 0 input bias, row 1 recurrent bias
        return np.stack([convert(b_ih), convert(b_hh)])
    return convert(b_ih) + convert(b_hh)


def copy_torch_weights(wl, torch_layer, rnnkit_layer):
    kernel, recurrent_kernel = keras_layout(wl, torch_layer.weight_ih_l0, torch_layer.weight_hh_l0)
    bias = keras_bias(wl, torch_layer.bias_ih_l0, torch_layer.bias_hh_l0)
    rnnkit_layer.set_weights([kernel, recurrent_kernel, bias])


def torch_outputs(torch_layer, x):
    return torch_layer(x)[0]


def check_same_math(wl, torch_layer, rnnkit_layer, x):
    """Asserts both layers compute the same outputs (1e-4) and kernel gradients on a batch slice."""
    xs = x[: min(8, wl.batch)]
    torch_layer.zero_grad(set_to_none=True)
    rnnkit_layer.zero_grad(set_to_none=True)
    expected = torch_outputs(torch_layer, xs)
    got = rnnkit_layer(xs)
    max_diff = (got - expected).abs().max().item()
    assert max_diff < 1e-4, f"{wl.name}: rnnkit and torch outputs differ by {max_diff:.2e}"
    expected.sum().backward()
    got.sum().backward()
    torch_grads = keras_layout(wl, torch_layer.weight_ih_l0.grad, torch_layer.weight_hh_l0.grad)
    kernel, recurrent_kernel = rnnkit_layer.weights[:2]
    for name, ours, theirs in zip(("kernel", "recurrent_kernel"), (kernel.grad, recurrent_kernel.grad), torch_grads):
        ours = ours.detach().cpu().numpy()
        scale = max(1.0, float(np.abs(theirs).max()))
        diff = float(np.abs(ours - theirs).max())
        assert diff < 1e-3 * scale, f"{wl.name}: {name} gradients differ by {diff:.2e} (scale {scale:.2e})"
    torch_layer.zero_grad(set_to_none=True)
    rnnkit_layer.zero_grad(set_to_none=True)
    return max_diff


def training_step(module, run, x):
    out = run(x)
    out.sum().backward()
    module.zero_grad(set_to_none=True)


def run_workload(wl, device, sync, repeats, warmup, probe, profile_rows=0):
    torch.manual_seed(0)
    torch_layer = make_torch_layer(wl, device)
    rnnkit_layer = make_rnnkit_layer(wl)
    x = torch.randn(wl.batch, wl.steps, wl.features, device=device)
    rnnkit_layer(x[:1, :1])  # lazy build on this device
    copy_torch_weights(wl, torch_layer, rnnkit_layer)
    # In full float32: on CUDA, PyTorch lets cuDNN run float32 RNNs in TF32 by default (the timed steps keep that).
    with torch.backends.cudnn.flags(enabled=None, benchmark=None, deterministic=None, allow_tf32=False):
        max_diff = check_same_math(wl, torch_layer, rnnkit_layer, x)

    contenders = {
        "rnnkit": lambda: training_step(rnnkit_layer, rnnkit_layer, x),
        "torch": lambda: training_step(torch_layer, lambda t: torch_outputs(torch_layer, t), x),
    }
    for _ in range(warmup):
        for step in contenders.values():
            step()
    times = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, step in contenders.items():
            times[name].append(timed(step, sync))
        probe.sample()

    result = {"workload": wl.name, "label": wl.label(), "flops_per_step": wl.step_flops(), "check_max_diff": max_diff}
    for name, samples in times.items():
        median = statistics.median(samples)
        result[name] = {
            "median_ms": median * 1e3,
            "min_ms": min(samples) * 1e3,
            "max_ms": max(samples) * 1e3,
            "samples_ms": [s * 1e3 for s in samples],
            "gflops": wl.step_flops() / median / 1e9,
        }
    result["ratio"] = result["torch"]["median_ms"] / result["rnnkit"]["median_ms"]
    if profile_rows:
        result["profile"] = {name: profile_step(step, profile_rows) for name, step in contenders.items()}
    return result


def print_table(report):
    m = report["machine"]
    print(
        f"rnnkit {m['rnnkit']} | torch {m['torch']} | {m['device']} | threads {m['threads']} | "
        f"repeats {m['repeats']} (+{m['warmup']} warm-up), medians"
    )
    if "accelerator" in m:
        print(m["accelerator"])
    print(m["sgemm"])
    diffs = ", ".join(f"{r['workload']} {r['check_max_diff']:.1e}" for r in report["results"])
    print(f"same math as torch (weights copied, outputs max |diff| < 1e-4, kernel grads match): {diffs}")
    header = (
        f"{'workload':<32} {'rnnkit ms':>10} {'torch ms':>10} {'ratio':>7} "
        f"{'rnnkit GFLOP/s':>15} {'torch GFLOP/s':>14} {'rnnkit %peak':>13} {'torch %peak':>12}"
    )
    print(header)
    print("-" * len(header))
    for r in report["results"]:
        ours, theirs = r["rnnkit"], r["torch"]
        print(
            f"{r['label']:<32} {ours['median_ms']:>10.2f} {theirs['median_ms']:>10.2f} {r['ratio']:>7.2f} "
            f"{ours['gflops']:>15.1f} {theirs['gflops']:>14.1f} "
            f"{100 * ours['fraction_of_peak']:>12.1f}% {100 * theirs['fraction_of_peak']:>11.1f}%"
        )
    print("ratio = torch ms / rnnkit ms (> 1: rnnkit faster)")
    print(f"peak RSS: {report['peak_rss_mb']:.0f} MB")
    for r in report["results"]:
        for name, table in r.get("profile", {}).items():
            print(f"\n{name} step, {r['label']}: top ops by self CPU time")
            print(table)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=10, help="timed steps per library and workload (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per library first (default 2)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: leave as is)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated subset of: " + ", ".join(WORKLOADS))
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument(
        "--profile", type=int, nargs="?", const=12, default=0, metavar="ROWS",
        help="after timing, profile one step of each library and print the top ROWS ops (default 12)",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown or not names:
        parser.error(f"--only expects names from {', '.join(WORKLOADS)}, got {args.only!r}")
    if args.repeats < 1:
        parser.error(f"--repeats expects a positive count, got {args.repeats}")
    args.only = names
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("CUDA is not available in this torch build or on this machine; skipping the cuda benchmark.")
        return 0
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = device_sync(device)
    # Read before the timing, so that a GPU whose facts cannot be read fails before spending minutes.
    accelerator = {"accelerator": accelerator_facts(device)} if device.type == "cuda" else {}

    probe = SgemmProbe(device, sync)
    for _ in range(3):
        probe.sample()
    results = [
        run_workload(WORKLOADS[name], device, sync, args.repeats, args.warmup, probe, args.profile)
        for name in args.only
    ]
    peak = probe.gflops()
    for result in results:
        for name in ("rnnkit", "torch"):
            result[name]["fraction_of_peak"] = result[name]["gflops"] / peak
    report = {
        "machine": {
            "rnnkit": getattr(rnnkit, "__version__", "dev"),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "device": f"{args.device} ({device_name(device)})",
            "threads": torch.get_num_threads(),
            "repeats": args.repeats,
            "warmup": args.warmup,
            "sgemm_gflops": peak,
            "sgemm_samples_ms": [t * 1e3 for t in probe.samples],
            "sgemm": probe.describe(),
            **accelerator,
        },
        "results": results,
        "peak_rss_mb": peak_rss_mb(),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
