"""Soak test (not in CI): train the char model for a long while, then stream generation from it, and
check that memory stays flat and throughput steady.

Run from the repository root:

    .venv/bin/python benchmarks/soak.py                                  # 30 min training + 10 min generation
    .venv/bin/python benchmarks/soak.py --train-minutes 3 --generate-minutes 1 --sample-seconds 5
    .venv/bin/python benchmarks/soak.py --out soak.json                  # + soak.csv, the time series

The model is DESIGN.md's char workload: Embedding(66, 256) + GRU(1024, return_sequences) + Dense(66)
on ../shared/data/tinyshakespeare.txt, windows of 100 characters, batch 64, Adam, sparse cross-entropy
from logits, trained with `model.fit` (stopped by a callback when the time is up). Generation then
streams characters with `model.generate(..., on_token=...)` in chunks, each chunk's prompt being the
end of the text so far, one prompt at a time.

Every --sample-seconds the resident memory of the process (psutil when installed, else /proc) and,
on a GPU, torch's allocated memory are sampled, with the throughput since the previous sample
(characters per second: trained tokens, or generated characters). A phase passes when its memory
grows by no more than --tolerance-mb (default 32 MB, or 2% of the memory at the start of the window
if that is more) over the last 80% of the phase (the first 20% is warm-up: allocator pools and
caches fill then), measured between the means of the first and the last tenth of the samples of
that window (3 samples at least); the least-squares slope is printed too. The script prints PASS or
FAIL per phase with the numbers and exits 1 on any FAIL.
"""
import argparse
import csv
import io
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from common import current_rss_mb, device_name

import rnnkit
from rnnkit.data import CharVocabulary
from rnnkit.files import write_text_atomically

ROOT = Path(__file__).resolve().parent.parent
VOCABULARY = 66  # the char workload's size (tinyshakespeare has 65 distinct characters)

try:
    import psutil
except ImportError:  # /proc is enough on Linux
    psutil = None


def resident_mb():
    """Resident memory of this process now, in MB."""
    if psutil is not None:
        return psutil.Process().memory_info().rss / 2**20
    return current_rss_mb()


class Sampler:
    """Records (time, phase, resident MB, GPU MB, characters per second) every `every` seconds."""

    def __init__(self, every, device):
        self.every = every
        self.device = device
        self.samples = []
        self._last_time = None
        self._characters = 0

    def start_phase(self, phase):
        self.phase = phase
        self.phase_start = time.perf_counter()
        self._last_time = self.phase_start
        self._characters = 0

    def add(self, characters):
        """Counts `characters` processed; samples when `every` seconds have passed since the last sample."""
        self._characters += characters
        now = time.perf_counter()
        if now - self._last_time >= self.every:
            self.sample(now)

    def sample(self, now):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        elapsed = now - self._last_time
        self.samples.append({
            "phase": self.phase,
            "seconds": round(now - self.phase_start, 3),
            "rss_mb": round(resident_mb(), 2),
            "gpu_mb": (round(torch.cuda.memory_allocated(self.device) / 2**20, 2) if self.device.type == "cuda"
                       else None),
            "chars_per_second": round(self._characters / elapsed, 2),
        })
        sample = self.samples[-1]
        print(f"  {self.phase:8s} {sample['seconds']:8.1f} s  RSS {sample['rss_mb']:8.1f} MB  "
              f"{sample['chars_per_second']:10.1f} chars/s", flush=True)
        self._last_time = now
        self._characters = 0


class TrainFor(rnnkit.callbacks.Callback):
    """Stops fit after `seconds`, counting each batch's characters into the sampler."""

    def __init__(self, seconds, sampler, characters_per_batch):
        super().__init__()
        self.deadline = time.perf_counter() + seconds
        self.sampler = sampler
        self.characters_per_batch = characters_per_batch

    def on_train_batch_end(self, batch, logs=None):
        self.sampler.add(self.characters_per_batch)
        if time.perf_counter() >= self.deadline:
            self.model.stop_training = True


def char_model(units):
    model = rnnkit.Sequential([
        rnnkit.layers.Embedding(VOCABULARY, 256),
        rnnkit.layers.GRU(units, return_sequences=True),
        rnnkit.layers.Dense(VOCABULARY),
    ])
    model.compile(optimizer="adam", loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def windows(ids, length):
    """Inputs and next-character targets: consecutive windows of `length` characters."""
    count = (len(ids) - 1) // length
    x = ids[: count * length].reshape(count, length)
    y = ids[1: count * length + 1].reshape(count, length)
    return x, y


def flatness(samples, phase, tolerance_mb, tolerance_fraction):
    """The verdict on one phase's memory over its last 80%: a dict of numbers and `passed`."""
    series = [s for s in samples if s["phase"] == phase]
    if len(series) < 6:
        return {"phase": phase, "passed": False, "reason": f"only {len(series)} samples; run the phase longer"}
    duration = series[-1]["seconds"]
    window = [s for s in series if s["seconds"] >= 0.2 * duration]
    if len(window) < 6:
        window = series[-6:]
    seconds = np.array([s["seconds"] for s in window])
    rss = np.array([s["rss_mb"] for s in window])
    # Means over the first and last tenth of the window (3 samples at least) smooth allocator noise
    edge = max(3, len(window) // 10)
    start, end = float(rss[:edge].mean()), float(rss[-edge:].mean())
    growth = end - start
    slope_per_minute = float(np.polyfit(seconds, rss, 1)[0] * 60)
    allowed = max(tolerance_mb, tolerance_fraction * start)
    speeds = [s["chars_per_second"] for s in window]
    return {
        "phase": phase,
        "passed": growth <= allowed,
        "window_seconds": [float(seconds[0]), float(seconds[-1])],
        "rss_start_mb": start,
        "rss_end_mb": end,
        "rss_max_mb": float(rss.max()),
        "growth_mb": growth,
        "allowed_growth_mb": allowed,
        "slope_mb_per_minute": slope_per_minute,
        "chars_per_second_median": float(np.median(speeds)),
        "chars_per_second_min": float(np.min(speeds)),
        "chars_per_second_max": float(np.max(speeds)),
    }


def write_outputs(path, report):
    """The report as JSON at `path` and its samples as CSV beside it (same name, .csv)."""
    write_text_atomically(path, json.dumps(report, indent=2) + "\n")
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=list(report["samples"][0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(report["samples"])
    write_text_atomically(Path(path).with_suffix(".csv"), table.getvalue())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-minutes", type=float, default=30.0)
    parser.add_argument("--generate-minutes", type=float, default=10.0)
    parser.add_argument("--sample-seconds", type=float, default=10.0)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"))
    parser.add_argument("--units", type=int, default=1024, help="GRU units (1024: the char workload)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--length", type=int, default=100, help="characters per training window")
    parser.add_argument("--chunk", type=int, default=200, help="characters per model.generate call")
    parser.add_argument("--tolerance-mb", type=float, default=32.0)
    parser.add_argument("--tolerance-fraction", type=float, default=0.02)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads on CPU")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="soak.json", help="JSON report; the time series also goes to .csv")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rnnkit.utils.set_random_seed(args.seed)

    text = Path(args.data).read_text(encoding="utf-8")
    distinct = sorted(set(text))
    if len(distinct) > VOCABULARY:
        raise SystemExit(f"{args.data} has {len(distinct)} distinct characters; the model takes {VOCABULARY}.")
    # Unused control characters fill the table to the model's size, so that every id it can emit decodes
    filler = [chr(code) for code in range(32) if chr(code) not in distinct][: VOCABULARY - len(distinct)]
    vocabulary = CharVocabulary(distinct + filler)
    x, y = windows(vocabulary.encode(text), args.length)
    model = char_model(args.units).to(device)
    print(f"soak: {device_name(device)}, {len(x)} windows of {args.length}, batch {args.batch_size}, "
          f"GRU({args.units}); training {args.train_minutes} min, generating {args.generate_minutes} min, "
          f"sampling every {args.sample_seconds} s", flush=True)

    sampler = Sampler(args.sample_seconds, device)
    sampler.start_phase("train")
    stop = TrainFor(args.train_minutes * 60, sampler, args.batch_size * args.length)
    history = model.fit(x, y, batch_size=args.batch_size, epochs=10**9, shuffle=True, verbose=0, callbacks=[stop])

    sampler.start_phase("generate")
    text_so_far = list(text[: args.length])
    deadline = time.perf_counter() + args.generate_minutes * 60
    chunks = 0
    while time.perf_counter() < deadline:
        prompt = vocabulary.encode("".join(text_so_far[-args.length:]))
        ids = model.generate(prompt, steps=args.chunk, temperature=0.8, seed=args.seed + chunks,
                             on_token=lambda token: sampler.add(1))
        text_so_far = text_so_far[-args.length:] + list(vocabulary.decode(ids))
        chunks += 1

    phases = [flatness(sampler.samples, phase, args.tolerance_mb, args.tolerance_fraction)
              for phase in ("train", "generate")]
    report = {
        "device": device_name(device),
        "arguments": vars(args),
        "epochs": len(history.history.get("loss", [])),
        "last_loss": history.history["loss"][-1] if history.history.get("loss") else None,
        "generate_calls": chunks,
        "sample_text": "".join(text_so_far[-args.length:]),
        "phases": phases,
        "samples": sampler.samples,
    }
    if sampler.samples:
        write_outputs(args.out, report)
    for verdict in phases:
        if "reason" in verdict:
            print(f"{verdict['phase']:8s} FAIL: {verdict['reason']}")
            continue
        first, last = verdict["window_seconds"]
        print(f"{verdict['phase']:8s} {'PASS' if verdict['passed'] else 'FAIL'}: RSS {verdict['rss_start_mb']:.1f} -> "
              f"{verdict['rss_end_mb']:.1f} MB over {first:.0f}..{last:.0f} s (growth {verdict['growth_mb']:+.1f} MB, "
              f"allowed {verdict['allowed_growth_mb']:.1f}; slope {verdict['slope_mb_per_minute']:+.2f} MB/min); "
              f"{verdict['chars_per_second_median']:.0f} chars/s median "
              f"({verdict['chars_per_second_min']:.0f}..{verdict['chars_per_second_max']:.0f})")
    print(f"report: {args.out} and {Path(args.out).with_suffix('.csv')}")
    return 0 if all(v.get("passed") for v in phases) else 1


if __name__ == "__main__":
    sys.exit(main())
