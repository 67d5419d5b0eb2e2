"""Learning under mixed precision: the char model (Embedding(V,256) + GRU(1024) + Dense(V), batch
64 x 100, Adam) trained on tinyshakespeare for the same CPU-time budget in float32 and under
`mixed_bfloat16`, then both evaluated on the same held-out text (the last 10%). The question is
whether the faster bfloat16 steps buy a validation loss no worse than float32's in the same time.

    .venv/bin/python benchmarks/precision_learning.py --minutes 3 --threads 1

Same seed, same initial weights, same batches in the same order for both; the budget counts this
process's CPU time of the training steps only (evaluation excluded), so other processes on a
shared machine do not decide the result. The validation loss is taken every `--eval-every` steps
(outside the budget) and both the last and the best are reported: a run long enough to overfit (20
minutes of bfloat16 steps are ~17 passes over the text) ends above its best, and the best is what a
user keeps with EarlyStopping or ModelCheckpoint(save_best_only=True). `--steps N` trains N steps each
instead: bfloat16's effect on learning per step, apart from its speed.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

import rnnkit
from rnnkit import layers, mixed_precision
from common import bf16_support, device_name

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"
BATCH, STEPS = 64, 100
POLICIES = ("float32", "mixed_bfloat16")


def windows(ids, count, rng):
    """`count` random (x, y) windows of STEPS characters from `ids`."""
    starts = rng.integers(0, len(ids) - STEPS - 1, size=count)
    x = np.stack([ids[s : s + STEPS] for s in starts])
    y = np.stack([ids[s + 1 : s + STEPS + 1] for s in starts])
    return x, y


def train(policy, vocab, train_ids, x_val, y_val, budget_s, seed, max_steps=None, eval_every=200):
    mixed_precision.set_global_policy(policy)
    try:
        torch.manual_seed(seed)
        model = rnnkit.Sequential([
            rnnkit.Input(shape=(None,)), layers.Embedding(vocab, 256), layers.GRU(1024, return_sequences=True),
            layers.Dense(vocab),
        ])
    finally:
        mixed_precision.set_global_policy("float32")
    model.compile(rnnkit.optimizers.Adam(learning_rate=2e-3),
                  rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(seed)
    steps, spent, curve = 0, 0.0, []
    while spent < budget_s if max_steps is None else steps < max_steps:
        x, y = windows(train_ids, BATCH, rng)
        start = time.process_time()
        model.train_on_batch(x, y)
        spent += time.process_time() - start
        steps += 1
        if steps % eval_every == 0:
            curve.append((steps, float(model.evaluate(x_val, y_val, batch_size=BATCH, verbose=0))))
            print(f"{policy} step {steps} ({spent / 60:.1f} CPU min): validation loss {curve[-1][1]:.4f}", flush=True)
    if not curve or curve[-1][0] != steps:
        curve.append((steps, float(model.evaluate(x_val, y_val, batch_size=BATCH, verbose=0))))
    best_step, best = min(curve, key=lambda point: point[1])
    return {"policy": policy, "steps": steps, "cpu_s": spent, "s_per_step": spent / steps, "val_loss": curve[-1][1],
            "best_val_loss": best, "best_step": best_step, "curve": curve}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="CPU minutes of training per policy (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None,
                        help="train this many steps per policy instead of a time budget (learning per step)")
    parser.add_argument("--eval-every", type=int, default=200,
                        help="validation loss every this many steps, outside the CPU-time budget (default 200): the "
                             "best one is what a run with early stopping or ModelCheckpoint(save_best_only) keeps")
    parser.add_argument("--policy", choices=POLICIES, action="append",
                        help="train under this policy only (repeatable; default both): run the two as two processes "
                             "to use two cores, each on its own CPU-time budget")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    text = DATA.read_text(encoding="utf-8")
    chars = sorted(set(text))
    lookup = {c: i for i, c in enumerate(chars)}
    ids = np.fromiter((lookup[c] for c in text), dtype=np.int64, count=len(text))
    split = int(0.9 * len(ids))
    x_val, y_val = windows(ids[split:], 8 * BATCH, np.random.default_rng(1))
    budget = f"{args.steps} steps" if args.steps else f"{args.minutes} CPU min"
    print(f"{device_name('cpu')} | bf16: {bf16_support()} | threads {args.threads} | {budget} each")
    results = [train(policy, len(chars), ids[:split], x_val, y_val, 60 * args.minutes, args.seed, args.steps,
                     args.eval_every)
               for policy in args.policy or POLICIES]
    for r in results:
        print(f"{r['policy']:<15} steps {r['steps']:>5}  {r['s_per_step']:.2f} s/step  validation loss {r['val_loss']:.4f}"
              f" at the end, best {r['best_val_loss']:.4f} (step {r['best_step']})")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
