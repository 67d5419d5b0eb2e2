"""Benchmark suite: the seed workloads trained (and generated from) the way users run them, rnnkit
against plain PyTorch eager and Keras 3, in one process, alternating, medians over repeats.

Run from the repository root:

    .venv/bin/python benchmarks/suite.py                      # every workload (a few minutes on 2 cores)
    .venv/bin/python benchmarks/suite.py --only sine,text     # a subset
    .venv/bin/python benchmarks/suite.py --repeats 3 --threads 1
    .venv/bin/python benchmarks/suite.py --json               # machine-readable, with every sample
    .venv/bin/python benchmarks/suite.py --threads 1 --clock cpu   # CPU time: robust on a busy machine
    .venv/bin/python benchmarks/suite.py --device cuda --no-memory # on the GPU (scripts/gpu_check.sh runs it)

Workloads (DESIGN.md section 4; random data of the seeds' shapes, built once):
    char      Embedding(66,256) + GRU(1024, return_sequences) + Dense(66), batch 64 x 100, Adam,
              sparse cross-entropy from logits at every step
    mnist     SimpleRNN(256) + Dense(10), batch 128 x 28 rows of 28, SGD, sparse cross-entropy
    sine      SimpleRNN(50) + Dense(1), batch 1 x 10 steps, Adam, MSE
    demo      the demo's forecaster: LSTM(32) + Dense(1) on windows of 50, batch 32, Adam, MSE,
              trained with train_on_batch (one call per batch)
    text      Embedding(1000,64,mask_zero) + Bidirectional(LSTM(64)) + Dense(1), batch 64 x 200,
              right-padded (lengths 20..200, mean ~110), Adam, binary cross-entropy from logits
    generate  the char model (untrained), greedy, one character at a time
    generate64  the same from 64 prompts at once (`generate` on prompts (64, 1)), per character per
              prompt, against PyTorch generating for one prompt at a time
    generate-bf16, generate64-bf16   the two generation rows with rnnkit's model under mixed_bfloat16
              (bfloat16 copies of the recurrent and output kernels), against PyTorch in float32
    char-bf16, mnist-bf16   char and mnist with rnnkit under `mixed_precision.set_global_policy(
              "mixed_bfloat16")` (float32 weights, bfloat16 GEMMs with float32 accumulation),
              against PyTorch in float32 (the ratio's reference) and under torch.autocast

Contenders:
    rnnkit        `model.fit(x, y, batch_size, epochs=1, verbose=0, shuffle=False)` over the
                  workload's batches; `model.generate(...)` for generation
    torch         plain eager PyTorch: nn.Embedding/nn.RNN/nn.LSTM/nn.GRU/nn.Linear, torch.optim,
                  the same loss; a loop over the same batches (no per-batch .item()); for text the
                  padded batch unmasked (it computes a different, unmasked result)
    torch-packed  text only: pack_padded_sequence, the masked result as rnnkit and Keras compute it
    keras         Keras 3 `model.fit` (KERAS_BACKEND=torch unless set otherwise), when importable
    torch-autocast  bf16 rows only: the torch loop with forward and loss under
                  `torch.autocast("cpu", dtype=torch.bfloat16)` (autocast lowers the linear and
                  matmul calls the CPU's nn.GRU/nn.RNN are made of to bfloat16)

--device cuda runs every contender on the GPU: the models are moved there before their first call,
each workload's data are put there once (tensors, given to every contender), and each timed call
ends with torch.cuda.synchronize(). torch's nn.GRU/nn.LSTM/nn.RNN then run cuDNN ("PyTorch cuDNN"),
as does rnnkit where its layers meet Keras's cuDNN conditions (see the header's TF32 line: by
PyTorch's default, cuDNN may run float32 RNNs in TF32 on Ampere and later GPUs, for both). Keras runs
where KERAS_TORCH_DEVICE says, which the suite sets to --device unless it is set already; when
Keras's tensors land elsewhere, Keras is not timed and the header says why. Only wall-clock time
means anything there (--clock cpu is refused). The mixed_bfloat16 rows are left out on cuda with
a note: their torch.autocast contender reaches PyTorch's cuDNN RNN under autocast, whose wrapper
for it casts to float16 whatever the autocast dtype (read in PyTorch's
aten/src/ATen/cudnn/AutocastRNN.cpp, not yet seen on a GPU), so it would not measure bfloat16
(rnnkit's cuDNN route hands cuDNN the policy's dtype itself, with autocast off).

Each timed call runs `calls` steps (e.g. 100 batches of 1 for sine); s/step is the call's time
divided by its steps, median over `--repeats` calls after a warm-up call, taken in rotating order
(A B C, probes, B C A, probes, C A B, ...) so that no contender always follows the GEMM probes.

Columns:
    ratio    torch s/step / this s/step: > 1 means faster than plain PyTorch.
    GFLOP/s  (GEMM-bound workloads) matmul flops of one step (forward, backward counted twice) /
             median step time; %peak: that rate over torch's 2048^3 matmul rate measured in the
             same run between the steps (bf16 rows: over the bf16 GEMM rate, measured likewise).
             On the CPU, torch's float32 matmul is MKL's, which runs its AVX2 code on AMD CPUs:
             there rnnkit's AVX-512 panel products can pass 100%. On CUDA it is cuBLAS's, without
             TF32 (PyTorch's default), while cuDNN's RNNs may use TF32: %peak can pass 100% there too.
    RSS MB   peak resident memory of a child process that imports the library, builds the model,
             and runs two training steps; +step MB is that peak minus the RSS just before the
             first step (the step's own memory, library import excluded); code MB is the child's
             file-backed resident pages at the end (shared-library code, e.g. the oneDNN pages a
             bfloat16 GEMM maps in; they never leave before exit, so they are in the peak).
             Medians over `--memory-runs` children per contender, the contenders' children
             alternating (A B C A B C ...): one child's peak varies by +-15 MB with how freed
             memory is reused, so compare medians of several runs. On CUDA also GPU MB, the peak
             of torch.cuda.max_memory_allocated over the two steps (model, optimizer state and the
             data included), and +GPU step MB, that peak minus what was allocated before them.
Goals are ratios measured in the same run, never absolute seconds.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from common import (
    SgemmProbe, accelerator_facts, bf16_support, current_rss_mb, device_name, device_sync, file_rss_mb, peak_rss_mb,
    summarize, timed,
)

os.environ.setdefault("KERAS_BACKEND", "torch")

CONTENDERS = ("rnnkit", "torch", "torch-packed", "torch-autocast", "keras")


@dataclass(frozen=True)
class Workload:
    name: str
    label: str
    batch: int
    calls: int  # steps per timed call
    step_flops: float = 0.0  # matmul flops of one training step; 0 where not GEMM-bound
    contenders: tuple = ("rnnkit", "torch", "keras")
    unit: str = "step"
    notes: tuple = field(default_factory=tuple)
    prompts: int = 1  # generation: prompts rnnkit and Keras run at once (PyTorch runs one at a time)
    base: str = ""  # the workload whose data and models these are (bf16 rows), else its own name
    precision: str = "float32"  # rnnkit's global dtype policy for this row


def rnn_flops(rows, features, units, gates):
    """Forward matmul flops of a recurrent layer over `rows` (batch*time) rows."""
    return 2 * rows * (features + units) * gates * units


WORKLOADS = {
    "char": Workload(
        "char", "char Embedding(66,256)+GRU(1024)+Dense(66), 64x100, Adam", 64, 1,
        step_flops=3 * (rnn_flops(6400, 256, 1024, 3) + 2 * 6400 * 1024 * 66),
    ),
    "mnist": Workload(
        "mnist", "MNIST rows SimpleRNN(256)+Dense(10), 128x28, SGD", 128, 8,
        step_flops=3 * (rnn_flops(128 * 28, 28, 256, 1) + 2 * 128 * 256 * 10),
    ),
    "sine": Workload("sine", "sine SimpleRNN(50)+Dense(1), 1x10, Adam", 1, 100),
    "demo": Workload("demo", "demo LSTM(32)+Dense(1), 32x50, Adam, train_on_batch", 32, 20),
    "text": Workload(
        "text", "text Embedding(1000,64,mask)+Bi(LSTM(64))+Dense(1), 64x200", 64, 4,
        contenders=("rnnkit", "torch", "torch-packed", "keras"),
        notes=("torch: unmasked padded batch; torch-packed and rnnkit/keras: the masked result",),
    ),
    "generate": Workload(
        "generate", "generate: char model, greedy, 1 char at a time", 1, 200, unit="char",
    ),
    "generate64": Workload(
        "generate64", "generate: 64 prompts at once (torch: one at a time)", 1, 50, unit="char/prompt",
        contenders=("rnnkit", "torch"), prompts=64,
        notes=("s/step: per character per prompt; rnnkit generates for (64, 1) prompts in one call",),
    ),
    "generate-bf16": Workload(
        "generate-bf16", "generate: char model, greedy, mixed_bfloat16", 1, 200, unit="char",
        contenders=("rnnkit", "torch"), base="generate", precision="mixed_bfloat16",
    ),
    "generate64-bf16": Workload(
        "generate64-bf16", "generate: 64 prompts at once, mixed_bfloat16 (torch: float32, one at a time)", 1, 50,
        unit="char/prompt", contenders=("rnnkit", "torch"), prompts=64, base="generate64", precision="mixed_bfloat16",
    ),
    "char-bf16": Workload(
        "char-bf16", "char GRU(1024) step, mixed_bfloat16", 64, 1,
        step_flops=3 * (rnn_flops(6400, 256, 1024, 3) + 2 * 6400 * 1024 * 66),
        contenders=("rnnkit", "torch", "torch-autocast"), base="char", precision="mixed_bfloat16",
    ),
    "mnist-bf16": Workload(
        "mnist-bf16", "MNIST rows SimpleRNN(256) step, mixed_bfloat16", 128, 8,
        step_flops=3 * (rnn_flops(128 * 28, 28, 256, 1) + 2 * 128 * 256 * 10),
        contenders=("rnnkit", "torch", "torch-autocast"), base="mnist", precision="mixed_bfloat16",
    ),
}

# ------------------------------------------------------------------------------------------- data


def make_data(name, calls):
    """(x, y) numpy arrays for `calls` steps of workload `name`, the same for every contender."""
    rng = np.random.default_rng(0)
    wl = WORKLOADS[name]
    name = wl.base or name
    n = wl.batch * calls
    if name in ("char", "generate", "generate64"):
        ids = rng.integers(0, 66, size=(max(n, wl.prompts), 101))
        return ids[:, :100].astype(np.int64), ids[:, 1:].astype(np.int64)
    if name == "mnist":
        return rng.random((n, 28, 28), dtype=np.float32), rng.integers(0, 10, size=(n,)).astype(np.int64)
    if name == "sine":
        t = np.arange(n + 10, dtype=np.float32) * 0.1
        wave = np.sin(t)
        x = np.stack([wave[i : i + 10] for i in range(n)])[:, :, None]
        return x.astype(np.float32), wave[10 : n + 10, None].astype(np.float32)
    if name == "demo":
        return rng.standard_normal((n, 50, 1), dtype=np.float32), rng.standard_normal((n, 1), dtype=np.float32)
    if name == "text":
        lengths = rng.integers(20, 201, size=n)
        ids = rng.integers(1, 1000, size=(n, 200))
        ids[np.arange(200)[None, :] >= lengths[:, None]] = 0
        return ids.astype(np.int64), rng.integers(0, 2, size=(n, 1)).astype(np.float32)
    raise ValueError(name)


def on_device(arrays, device):
    """The workload's arrays as every contender gets them: NumPy as they are on the CPU (what the
    CPU rows always measured); on a GPU, tensors put there once, so that no timed call copies its
    batches from the host."""
    if device.type == "cpu":
        return arrays
    return tuple(torch.as_tensor(a, device=device) for a in arrays)


# -------------------------------------------------------------------------------------- contenders
# Each builder returns run(): `calls` training steps (or generated characters) over the data.


def rnnkit_model(name):
    import rnnkit
    from rnnkit import layers

    if name in ("char", "generate", "generate64"):
        return rnnkit.Sequential([
            rnnkit.Input(shape=(None,)), layers.Embedding(66, 256), layers.GRU(1024, return_sequences=True),
            layers.Dense(66),
        ])
    if name == "mnist":
        return rnnkit.Sequential([rnnkit.Input(shape=(28, 28)), layers.SimpleRNN(256), layers.Dense(10)])
    if name == "sine":
        return rnnkit.Sequential([rnnkit.Input(shape=(10, 1)), layers.SimpleRNN(50), layers.Dense(1)])
    if name == "demo":
        return rnnkit.Sequential([rnnkit.Input(shape=(50, 1)), layers.LSTM(32), layers.Dense(1)])
    return rnnkit.Sequential([
        rnnkit.Input(shape=(200,)), layers.Embedding(1000, 64, mask_zero=True),
        layers.Bidirectional(layers.LSTM(64)), layers.Dense(1),
    ])


def compile_args(lib, name):
    """(optimizer, loss) for `lib` (an rnnkit or keras module with optimizers and losses)."""
    optimizer = lib.optimizers.SGD(learning_rate=0.01) if name == "mnist" else lib.optimizers.Adam()
    if name == "char" or name == "mnist":
        loss = lib.losses.SparseCategoricalCrossentropy(from_logits=True)
    elif name in ("sine", "demo"):
        loss = lib.losses.MeanSquaredError()
    else:
        loss = lib.losses.BinaryCrossentropy(from_logits=True)
    return optimizer, loss


def build_rnnkit(name, x, y, device, precision="float32"):
    import rnnkit

    rnnkit.mixed_precision.set_global_policy(precision)
    try:
        model = rnnkit_model(name).to(device)  # before the first call: the lazy weights are made there
    finally:
        rnnkit.mixed_precision.set_global_policy("float32")
    batch = WORKLOADS[name].batch
    if name in ("generate", "generate64"):
        prompt = x[0, :1] if name == "generate" else x[: WORKLOADS[name].prompts, :1]
        return lambda: model.generate(prompt, steps=WORKLOADS[name].calls, temperature=0.0)
    optimizer, loss = compile_args(rnnkit, name)
    model.compile(optimizer=optimizer, loss=loss)
    if name == "demo":
        return on_batches(model, x, y, batch)
    return lambda: model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)


def on_batches(model, x, y, batch):
    """`model.train_on_batch` over the batches of (x, y), as the demo's training loop calls it."""
    batches = [(x[i : i + batch], y[i : i + batch]) for i in range(0, len(x), batch)]

    def run():
        for bx, by in batches:
            model.train_on_batch(bx, by)

    return run


def build_keras(name, x, y):
    import keras

    K = keras.layers
    if name in ("char", "generate"):
        model = keras.Sequential([keras.Input(shape=(None,)), K.Embedding(66, 256), K.GRU(1024, return_sequences=True),
                                  K.Dense(66)])
    elif name == "mnist":
        model = keras.Sequential([keras.Input(shape=(28, 28)), K.SimpleRNN(256), K.Dense(10)])
    elif name == "sine":
        model = keras.Sequential([keras.Input(shape=(10, 1)), K.SimpleRNN(50), K.Dense(1)])
    elif name == "demo":
        model = keras.Sequential([keras.Input(shape=(50, 1)), K.LSTM(32), K.Dense(1)])
    else:
        model = keras.Sequential([keras.Input(shape=(200,)), K.Embedding(1000, 64, mask_zero=True),
                                  K.Bidirectional(K.LSTM(64)), K.Dense(1)])
    if name == "generate":
        return keras_generator(model, x[0, :1], WORKLOADS[name].calls)
    optimizer, loss = compile_args(keras, name)
    model.compile(optimizer=optimizer, loss=loss)
    batch = WORKLOADS[name].batch
    if name == "demo":
        return on_batches(model, x, y, batch)
    return lambda: model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)


def keras_generator(model, prompt, steps):
    """Greedy generation with Keras layers, one character per call, carrying the GRU state."""
    import keras

    embedding, gru, dense = model.layers
    step = keras.layers.GRU(1024, return_state=True)
    step.build((1, 1, 256))
    step.set_weights(gru.get_weights())

    def run():
        with torch.no_grad():
            token = keras.ops.convert_to_tensor(prompt[None, :])
            state = keras.ops.zeros((1, 1024))
            for _ in range(steps):
                out, state = step(embedding(token), initial_state=[state])
                token = keras.ops.argmax(dense(out), axis=-1)[:, None]

    return run


class TorchCharModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(66, 256)
        self.gru = nn.GRU(256, 1024, batch_first=True)
        self.dense = nn.Linear(1024, 66)

    def forward(self, ids, h=None):
        out, h = self.gru(self.embedding(ids), h)
        return self.dense(out), h


class TorchRNNClassifier(nn.Module):
    def __init__(self, features, units, outputs, rnn=nn.RNN):
        super().__init__()
        self.rnn = rnn(features, units, batch_first=True)
        self.dense = nn.Linear(units, outputs)

    def forward(self, x):
        last = self.rnn(x)[1]  # h_n (1, batch, units), or (h_n, c_n) for an LSTM
        return self.dense((last[0] if isinstance(last, tuple) else last)[0])


class TorchTextModel(nn.Module):
    def __init__(self, packed):
        super().__init__()
        self.packed = packed
        self.embedding = nn.Embedding(1000, 64)
        self.lstm = nn.LSTM(64, 64, batch_first=True, bidirectional=True)
        self.dense = nn.Linear(128, 1)

    def forward(self, ids):
        e = self.embedding(ids)
        if self.packed:
            lengths = (ids != 0).sum(dim=1).cpu()
            e = nn.utils.rnn.pack_padded_sequence(e, lengths, batch_first=True, enforce_sorted=False)
        h = self.lstm(e)[1][0]  # (2, batch, units): last state of each direction
        return self.dense(torch.cat([h[0], h[1]], dim=1))


def build_torch(name, x, y, device, packed=False, autocast=False):
    if name in ("char", "generate", "generate64"):
        model = TorchCharModel()
    elif name == "mnist":
        model = TorchRNNClassifier(28, 256, 10)
    elif name == "sine":
        model = TorchRNNClassifier(1, 50, 1)
    elif name == "demo":
        model = TorchRNNClassifier(1, 32, 1, rnn=nn.LSTM)
    else:
        model = TorchTextModel(packed)
    model.to(device)
    if name in ("generate", "generate64"):
        return torch_generator(model, torch.as_tensor(x[0, :1]), WORKLOADS[name].calls)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01) if name == "mnist" else torch.optim.Adam(model.parameters())
    if name == "char":
        loss_fn = lambda out, t: F.cross_entropy(out[0].reshape(-1, 66), t.reshape(-1))  # noqa: E731
    elif name == "mnist":
        loss_fn = F.cross_entropy
    elif name in ("sine", "demo"):
        loss_fn = F.mse_loss
    else:
        loss_fn = F.binary_cross_entropy_with_logits
    batch = WORKLOADS[name].batch
    xs, ys = torch.as_tensor(x).split(batch), torch.as_tensor(y).split(batch)

    def run():
        for bx, by in zip(xs, ys):
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                loss = loss_fn(model(bx), by)
            loss.backward()
            optimizer.step()

    return run


def torch_generator(model, prompt, steps):
    """Greedy generation with plain PyTorch: one character per GRU call, ids kept as tensors."""

    def run():
        with torch.inference_mode():
            token, h, produced = prompt[None, :], None, []
            for _ in range(steps):
                logits, h = model(token, h)
                token = logits[:, -1].argmax(dim=-1, keepdim=True)
                produced.append(token)
            return torch.cat(produced, dim=1)

    return run


def build(contender, name, x, y, device):
    """run() for `contender` on workload `name` over (x, y), on `device` (Keras: where
    KERAS_TORCH_DEVICE puts it; `keras_skip_reason` checks that it is `device`)."""
    wl = WORKLOADS[name]
    base = wl.base or name
    if contender == "rnnkit":
        return build_rnnkit(base, x, y, device, wl.precision)
    if contender == "keras":
        return build_keras(base, x, y)
    return build_torch(base, x, y, device, packed=contender == "torch-packed", autocast=contender == "torch-autocast")


def keras_skip_reason(device):
    """Why Keras is not timed on `device`, or None when it runs there: not importable, or its torch
    backend puts its tensors on another device (Keras 3 takes cuda whenever there is one, unless
    KERAS_TORCH_DEVICE names another; main() sets it to --device when it is unset)."""
    try:
        import keras
    except Exception:  # not installed, or its backend cannot load
        return "not installed"
    if keras.backend.backend() != "torch":
        return None if device.type == "cpu" else f"its {keras.backend.backend()} backend is only timed on the CPU"
    where = keras.ops.zeros(()).device.type
    if where != device.type:
        return (f"its tensors go to {where}, not {device.type} "
                f"(KERAS_TORCH_DEVICE={os.environ.get('KERAS_TORCH_DEVICE')!r}; unset it or set it to {device.type})")
    return None


# ------------------------------------------------------------------------------------------ memory


def child_memory(contender, name, device):
    """In a child process: RSS before the first training step, the peak after two, and the
    file-backed part of the RSS then (library code); on CUDA also the GPU memory allocated before
    the steps and the peak during them."""
    wl = WORKLOADS[name]
    x, y = make_data(name, 2)
    x, y = on_device((x[: wl.batch], y[: wl.batch]), device)
    run = build(contender, name, x, y, device)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        gpu_before = torch.cuda.memory_allocated(device)
    before = current_rss_mb()
    run()
    run()
    report = {"rss_before_mb": before, "peak_rss_mb": peak_rss_mb(), "code_mb": file_rss_mb()}
    if cuda:
        torch.cuda.synchronize(device)
        report["gpu_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        report["gpu_step_mb"] = report["gpu_peak_mb"] - gpu_before / 2**20
    return report


def memory_child(contender, name, threads, device):
    """One child's report (child_memory), or {"error": its last line of stderr}."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child-memory", f"{contender}:{name}",
               "--device", device.type]
    if threads is not None:
        command += ["--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_memory(contenders, name, threads, runs, device):
    """{contender: medians of `runs` children's figures (and every sample)}, the contenders' children
    taken in turn so that all of them see the same machine load; a contender whose child fails gets
    {"error": ...}."""
    samples = {c: [] for c in contenders}
    errors = {}
    for _ in range(runs):
        for contender in contenders:
            if contender in errors:
                continue
            report = memory_child(contender, name, threads, device)
            if "error" in report:
                errors[contender] = report
                continue
            report["step_mb"] = report["peak_rss_mb"] - report["rss_before_mb"]
            samples[contender].append(report)
    result = dict(errors)
    for contender, reports in samples.items():
        if contender in errors:
            continue
        result[contender] = {key: statistics.median(r[key] for r in reports) for key in reports[0]}
        result[contender]["runs"] = len(reports)
        result[contender]["peak_rss_samples_mb"] = [r["peak_rss_mb"] for r in reports]
    return result


# -------------------------------------------------------------------------------------------- runs


def run_workload(name, repeats, probes, threads, memory_runs, clock, device, run_keras):
    wl = WORKLOADS[name]
    x, y = on_device(make_data(name, wl.calls), device)
    sync = device_sync(device)
    contenders = [c for c in wl.contenders if c != "keras" or run_keras]
    runs = {}
    errors = {}
    for contender in contenders:
        try:
            runs[contender] = build(contender, name, x, y, device)
            runs[contender]()  # warm-up: lazy builds, optimizer state, kernel compilation
        except Exception as error:  # e.g. an API not there yet: report it, time the others
            errors[contender] = f"{type(error).__name__}: {error}"
            runs.pop(contender, None)
    times = {c: [] for c in runs}
    order = list(runs)
    for repeat in range(repeats):
        # The contender timed right after the GEMM probes starts cold (a 2048^3 matmul evicts the caches and
        # frees 16 MB): measured on the demo step, +100 us a step over a 20-step call, for rnnkit and PyTorch
        # alike. Rotating the order shares that seat instead of always giving it to the first contender.
        shift = repeat % len(order) if order else 0  # no contender built: the workload reports its errors
        for contender in order[shift:] + order[:shift]:
            units = wl.calls * (wl.prompts if contender != "torch" else 1)
            times[contender].append(timed(runs[contender], sync, clock) / units)
        for probe in probes:
            probe.sample(clock)
    result = {"workload": name, "label": wl.label, "unit": wl.unit, "calls": wl.calls, "notes": list(wl.notes),
              "errors": errors, "contenders": {}}
    for contender, samples in times.items():
        entry = summarize(samples)
        if wl.step_flops:
            entry["gflops"] = wl.step_flops / entry["median"] / 1e9
        result["contenders"][contender] = entry
    if memory_runs and wl.unit == "step":
        for contender, report in measure_memory(list(times), name, threads, memory_runs, device).items():
            result["contenders"][contender]["memory"] = report
    reference = result["contenders"].get("torch")
    for entry in result["contenders"].values():
        entry["ratio"] = reference["median"] / entry["median"] if reference else None
    return result


def print_table(report):
    m = report["machine"]
    print(
        f"rnnkit {m['rnnkit']} | torch {m['torch']} | keras {m['keras']} | {m['device']} | threads {m['threads']} | "
        f"repeats {m['repeats']} (+1 warm-up), medians of {m['clock']} time"
    )
    print(m["accelerator"] if "accelerator" in m else f"CPU bfloat16 support: {m['bf16']}")
    print(m["sgemm"])
    if m.get("bf16_gemm"):
        print(m["bf16_gemm"])
    for note in m.get("notes", []):
        print(f"note: {note}")
    gpu = "accelerator" in m  # GPU memory columns
    header = (
        f"{'workload':<58} {'contender':<13} {'s/step':>9} {'spread':>17} {'ratio':>6} "
        f"{'GFLOP/s':>8} {'%peak':>6} {'RSS MB':>7} {'+step MB':>9} {'code MB':>8}"
        + (f" {'GPU MB':>7} {'+GPU step MB':>13}" if gpu else "")
    )
    print(header)
    print("-" * len(header))
    for r in report["results"]:
        first = True
        for contender, e in r["contenders"].items():
            label = r["label"] if first else ""
            first = False
            spread = f"{e['min']:.2e}..{e['max']:.2e}"
            ratio = f"{e['ratio']:.2f}" if e.get("ratio") else "-"
            gflops = f"{e['gflops']:.1f}" if "gflops" in e else "-"
            peak = f"{100 * e['fraction_of_peak']:.0f}%" if "fraction_of_peak" in e else "-"
            mem = e.get("memory", {})
            rss = f"{mem['peak_rss_mb']:.0f}" if "peak_rss_mb" in mem else "-"
            step = f"{mem['step_mb']:.0f}" if "step_mb" in mem else "-"
            code = f"{mem['code_mb']:.0f}" if "code_mb" in mem else "-"
            gpu_columns = ""
            if gpu:
                gpu_peak = f"{mem['gpu_peak_mb']:.0f}" if "gpu_peak_mb" in mem else "-"
                gpu_step = f"{mem['gpu_step_mb']:.0f}" if "gpu_step_mb" in mem else "-"
                gpu_columns = f" {gpu_peak:>7} {gpu_step:>13}"
            print(
                f"{label:<58} {contender:<13} {e['median']:>9.2e} {spread:>17} {ratio:>6} {gflops:>8} {peak:>6} "
                f"{rss:>7} {step:>9} {code:>8}{gpu_columns}"
            )
        for note in r["notes"]:
            print(f"{'':<58} note: {note}")
        for contender, error in r["errors"].items():
            print(f"{'':<58} {contender} not run: {error}")
    print("s/step: seconds per training step (per character for generate); ratio = torch s/step / this s/step "
          "(> 1: faster than plain PyTorch)")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per contender and workload (default 5)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: leave as is)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated subset of: " + ", ".join(WORKLOADS))
    parser.add_argument(
        "--clock", choices=("wall", "cpu"), default="wall",
        help="wall: elapsed time (default); cpu: this process's CPU time, which leaves out time lost to other "
        "processes on a busy machine (use with --threads 1)",
    )
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu",
        help="where every contender runs (default cpu); cuda: with --clock wall, float32 rows only",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-RSS child processes")
    parser.add_argument(
        "--memory-runs", type=int, default=3,
        help="peak-RSS child processes per contender and training workload, medians reported (default 3)",
    )
    parser.add_argument("--child-memory", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown or not names:
        parser.error(f"--only expects names from {', '.join(WORKLOADS)}, got {args.only!r}")
    if args.repeats < 1:
        parser.error(f"--repeats expects a positive count, got {args.repeats}")
    if args.memory_runs < 1:
        parser.error(f"--memory-runs expects a positive count, got {args.memory_runs}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads expects a positive count, got {args.threads}")
    if args.device == "cuda" and args.clock == "cpu":
        parser.error("--clock cpu counts this process's CPU time, not the GPU's work: use --clock wall (the default) "
                     "with --device cuda")
    # On CUDA torch.autocast would run the contender's cuDNN RNNs in float16 (module docstring).
    args.left_out = [n for n in names if args.device == "cuda" and WORKLOADS[n].precision != "float32"]
    args.only = [n for n in names if n not in args.left_out]
    if not args.only:
        parser.error(f"--only {','.join(names)}: --device cuda leaves out the mixed_bfloat16 rows; name float32 rows "
                     "(e.g. char, mnist) or use --device cpu")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("CUDA is not available in this torch build or on this machine; skipping the cuda benchmark.")
        return 0
    # Before Keras is imported: it reads its device once, and would take cuda whenever there is one.
    os.environ.setdefault("KERAS_TORCH_DEVICE", args.device)
    device = torch.device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.child_memory:
        contender, name = args.child_memory.split(":")
        print(json.dumps(child_memory(contender, name, device)))
        return 0
    import rnnkit

    sync = device_sync(device)
    # Read before the timing, so that a GPU whose facts cannot be read fails before spending minutes.
    hardware = {"bf16": bf16_support()} if device.type == "cpu" else {"accelerator": accelerator_facts(device)}
    probe = SgemmProbe(device, sync)
    probes = [probe]
    bf16_probe = None
    if any(WORKLOADS[name].precision == "mixed_bfloat16" for name in args.only):
        bf16_probe = SgemmProbe(device, sync, dtype=torch.bfloat16)
        probes.append(bf16_probe)
    for _ in range(3):
        for each in probes:
            each.sample(args.clock)
    keras_skip = keras_skip_reason(device)
    results = [
        run_workload(name, args.repeats, probes, args.threads, 0 if args.no_memory else args.memory_runs, args.clock,
                     device, keras_skip is None)
        for name in args.only
    ]
    peak = probe.gflops()
    for result in results:
        # bf16 rows: rnnkit and autocast are judged against the bf16 GEMM rate, float32 torch against sgemm's.
        bf16_row = WORKLOADS[result["workload"]].precision == "mixed_bfloat16"
        for contender, entry in result["contenders"].items():
            if "gflops" in entry:
                bf16 = bf16_row and contender != "torch"
                entry["fraction_of_peak"] = entry["gflops"] / (bf16_probe.gflops() if bf16 else peak)
    keras_version = "not installed"
    if keras_skip != "not installed":
        import keras

        keras_version = f"{keras.__version__} ({keras.backend.backend()} backend)"
        if keras_skip is not None:
            keras_version += f", not timed: {keras_skip}"
    notes = []
    if args.left_out:
        notes.append(f"left out on {device.type}: {', '.join(args.left_out)} (their torch.autocast contender: "
                     "PyTorch's autocast wrapper for cuDNN RNNs casts to float16, so it would not measure bfloat16)")
    report = {
        "machine": {
            "rnnkit": rnnkit.__version__,
            "torch": torch.__version__,
            "keras": keras_version,
            "python": platform.python_version(),
            "device": f"{device.type} ({device_name(device)})",
            "threads": torch.get_num_threads(),
            "repeats": args.repeats,
            "clock": args.clock,
            "sgemm_gflops": peak,
            "sgemm_samples_ms": [t * 1e3 for t in probe.samples],
            "sgemm": probe.describe(),
            **hardware,
            "bf16_gemm_gflops": bf16_probe.gflops() if bf16_probe else None,
            "bf16_gemm": bf16_probe.describe() if bf16_probe else None,
            "notes": notes,
        },
        "results": results,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
