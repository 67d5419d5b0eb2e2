"""Randomized differential check of the compiled kernels (the panel products) against the paths they
replace (not in CI). Each case is drawn at random; every mismatch is printed on one line starting with
MISMATCH and the case as JSON (replay it with `check(case)` of its mode); the counts per dimension at the end.

Run from the repository root:

    .venv/bin/python benchmarks/panel_check.py MODE SECONDS SEED

Modes:
    scan      compiled (dense or nested) vs PyTorch-op *_scan, float32: outputs and every gradient, 1e-4 of
              the magnitude; random cell, batch 1..70, steps 1..40, units 1..200 (panel edges 15/16/17,
              63/64/65, 127/128/129 often), masks none/right/left-padded/random with empty samples,
              go_backwards, initial states, 1 or 2 threads. A relu pre-activation within rounding of 0 (the
              kink) compares the forward only; a disagreement is judged against float64 (ill-conditioned
              cases: the compiled error within 4x the PyTorch-op one passes).
    bf16      compute_dtype=bfloat16 on the compiled path vs the same arithmetic written out (bfloat16
              operands, products rounded to bfloat16, float32 elsewhere), through autograd: 3e-2.
    greedy    model.generate(temperature=0) vs the Python loop (float32: the same tokens) or, under
              mixed_bfloat16, vs the decoder's arithmetic written out (near-ties under 2e-2 counted apart);
              sometimes after a model.fit step between two calls (the kept panels must follow the weights).
    fit       a layer's fit on 1 and on 2 threads, same seed: weights within 1e-5.
    faststep  the whole-step path (dense_mse_step) vs the layer-by-layer path: weights after a fit, 1e-5.

PANELCHECK_FLAGS adds compiler flags to the kernels' build, e.g. "-mno-avx512f" (the AVX2 blocks) or
"-mno-avx512bf16" (bfloat16 through torch's GEMM); give it its own TORCH_EXTENSIONS_DIR.
"""
import argparse
import collections
import json
import os
import random
import time
import traceback

import numpy as np
import torch
import torch.utils.cpp_extension

if os.environ.get("PANELCHECK_FLAGS"):  # build the kernels for a narrower CPU
    _load = torch.utils.cpp_extension.load

    def _narrow_load(*args, extra_cflags=(), **kwargs):
        return _load(*args, extra_cflags=list(extra_cflags) + os.environ["PANELCHECK_FLAGS"].split(), **kwargs)

    torch.utils.cpp_extension.load = _narrow_load

import rnnkit
from rnnkit import layers
from rnnkit.engine import gru as gru_module
from rnnkit.engine import lstm as lstm_module
from rnnkit.engine import simple_rnn as simple_rnn_module
from rnnkit.engine.native import KernelChoice, kernel_choice, native_kernels
from rnnkit.models import generation

SPECIAL_UNITS = [1, 15, 16, 17, 63, 64, 65, 127, 128, 129]
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}
counts = collections.defaultdict(collections.Counter)
mismatches = []


def note(case):
    for key, value in case.items():
        if key != "seed":
            counts[key][str(value)] += 1


def make_mask(kind, B, T, g):
    if kind == "none":
        return None
    lengths = torch.randint(0, T + 1, (B,), generator=g)
    if kind in ("right", "left"):
        if torch.rand(1, generator=g).item() < 0.7:
            lengths[torch.randint(0, B, (1,), generator=g)] = T  # the longest sample usually full
        mask = torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)
        return mask.flip(1) if kind == "left" else mask
    mask = torch.rand(B, T, generator=g) > torch.rand(1, generator=g).item()
    mask[torch.randint(0, B, (1,), generator=g)] = False  # an empty sample
    return mask


def scan(kind, xp, U, h0, c0, b_rec, mask, choice, activation, compute_dtype=None):
    if kind == "simple_rnn":
        return [simple_rnn_module.simple_rnn_scan(xp, U, h0, mask, activation=activation, compute_dtype=compute_dtype,
                                                  choice=choice)]
    if kind == "lstm":
        return list(lstm_module.lstm_scan(xp, U, h0, c0, mask, compute_dtype=compute_dtype, choice=choice))
    return [gru_module.gru_scan(xp, U, h0, b_rec, mask, compute_dtype=compute_dtype, choice=choice)]


def scan_case(rng):
    kind = rng.choice(list(GATES))
    B = rng.choice([1, 2, 3, 4, 5, 8, rng.randint(1, 70), rng.randint(1, 70), 64, 70])
    T = rng.choice([1, 2, rng.randint(1, 40), rng.randint(1, 40)])
    H = rng.choice(SPECIAL_UNITS + [rng.randint(1, 200), rng.randint(1, 200), 200])
    return dict(kind=kind, batch=B, steps=T, units=H, mask=rng.choice(["none", "right", "left", "random"]),
                go_backwards=rng.random() < 0.3, initial=rng.choice(["random", "zeros"]), threads=rng.choice([1, 2]),
                activation=(rng.choice(["tanh", "tanh", "relu", "sigmoid", "linear"]) if kind == "simple_rnn"
                            else "tanh"),
                gru_bias=rng.random() < 0.8, dense_path=rng.random() < 0.25, seed=rng.randrange(1 << 30))


def scan_inputs(case, dtype=torch.float32):
    g = torch.Generator().manual_seed(case["seed"])
    kind, B, T, H = case["kind"], case["batch"], case["steps"], case["units"]
    G = GATES[kind] * H
    scale = 1.0 / max(1, H) ** 0.5
    xp = torch.randn(B, T, G, generator=g)
    U = scale * 1.5 * torch.randn(H, G, generator=g)
    h0 = torch.randn(B, H, generator=g) if case["initial"] == "random" else torch.zeros(B, H)
    c0 = torch.randn(B, H, generator=g) if case["initial"] == "random" else torch.zeros(B, H)
    b_rec = torch.randn(G, generator=g) if case["gru_bias"] else None
    mask = make_mask(case["mask"], B, T, g)
    if case["go_backwards"]:  # what a layer does: the reversed sequence (and mask)
        xp = xp.flip(1).contiguous()
        mask = None if mask is None else mask.flip(1)
    weights = torch.randn(B, T, H, generator=g)
    return xp, U, h0, c0, b_rec, mask, weights


def leaves_of(case, xp, U, h0, c0, b_rec):
    """The inputs a scan is differentiated by, in NAMES' order after the outputs."""
    extra = {"lstm": [c0], "gru": [] if b_rec is None else [b_rec]}.get(case["kind"], [])
    return [xp, U, h0] + extra


def run_scan(case, choice, compute_dtype=None, dtype=torch.float32):
    xp, U, h0, c0, b_rec, mask, weights = scan_inputs(case)
    if dtype != torch.float32:
        xp, U, h0, c0, weights = (t.to(dtype) for t in (xp, U, h0, c0, weights))
        b_rec = None if b_rec is None else b_rec.to(dtype)
    leaves = leaves_of(case, xp, U, h0, c0, b_rec)
    for leaf in leaves:
        leaf.requires_grad_()
    if choice is None:
        choice = kernel_choice(xp.dtype, xp.device, mask)
    outs = scan(case["kind"], xp, U, h0, c0, b_rec, mask, choice, case["activation"], compute_dtype)
    loss = (outs[0] * weights).sum() + 0.7 * outs[0].square().sum() + sum(1.1 * o.sum() for o in outs[1:])
    loss.backward()
    return [o.detach() for o in outs] + [leaf.grad for leaf in leaves], choice.path


NAMES = {"simple_rnn": ["hs", "dxp", "dU", "dh0", "db"], "lstm": ["hs", "c_last", "dxp", "dU", "dh0", "dc0"],
         "gru": ["hs", "dxp", "dU", "dh0", "db_rec"]}


def compare(got, expected, tol, names):
    bad = []
    for name, a, b in zip(names, got, expected):
        if a is None or b is None:
            if (a is None) != (b is None):
                bad.append(f"{name}: one is None")
            continue
        if a.shape != b.shape:
            bad.append(f"{name}: shape {tuple(a.shape)} vs {tuple(b.shape)}")
            continue
        if not torch.isfinite(b).all():  # the float32 reference overflowed too (linear or relu growth)
            counts["reference_overflow"][name] += 1
            continue
        if not torch.isfinite(a).all():
            bad.append(f"{name}: non-finite")
            continue
        magnitude = max(1.0, b.abs().max().item()) if b.numel() else 1.0
        err = (a - b).abs()
        limit = tol * magnitude + tol * b.abs()
        if b.numel() and (err > limit).any():
            bad.append(f"{name}: max err {err.max().item():.3g} (magnitude {magnitude:.3g})")
    return bad


def check_scan(case):
    torch.set_num_threads(case["threads"])
    choice = KernelChoice("compiled") if case["dense_path"] else None
    got, path = run_scan(case, choice)
    expected, _ = run_scan(case, KernelChoice("torch_ops"))
    case["path"] = path
    if case["activation"] == "relu" and ((got[0] > 0) != (expected[0] > 0)).any():
        # a pre-activation within rounding of 0 took the other side of relu's kink: the gradients then
        # take another path, in both kernels equally right; the forward must still agree
        counts["relu_kink"]["forward only"] += 1
        return compare(got[:1], expected[:1], 1e-4, NAMES[case["kind"]])
    bad = compare(got, expected, 1e-4, NAMES[case["kind"]])
    if bad:  # an ill-conditioned case (|U| > 1 over many steps) amplifies rounding: judge both against float64
        exact, _ = run_scan(case, KernelChoice("torch_ops"), dtype=torch.float64)
        errors = [((a.double() - r).abs().max().item(), (b.double() - r).abs().max().item(), r.abs().max().item())
                  for a, b, r in zip(got, expected, exact) if a is not None and r.numel() and torch.isfinite(r).all()]
        if all(mine <= 4 * theirs + 1e-5 * max(1.0, m) for mine, theirs, m in errors):
            counts["ill_conditioned"]["compiled within 4x the PyTorch-op error to float64"] += 1
            return []
        bad.append("errors to float64 (compiled, torch_ops): " + ", ".join(f"{a:.2g}/{b:.2g}" for a, b, _ in errors))
    return bad


ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "linear": lambda v: v}


def emulated_step(case, x, h, c, U, b_rec):
    """One step as the kernels compute it under a mixed policy: the recurrent product from bfloat16
    operands (U already bfloat16), rounded to bfloat16 and added into float32; the rest float32.
    x: the step's projected input (B, G*H). Returns (h, c)."""
    H, p = case["units"], (h.to(torch.bfloat16) @ U).float()
    if case["kind"] == "simple_rnn":
        return ACTIVATIONS[case["activation"]](x + p), c
    if case["kind"] == "lstm":
        i, f, g, o = (x + p).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
    u = p if b_rec is None else p + b_rec
    z = torch.sigmoid(x[:, :H] + u[:, :H])
    r = torch.sigmoid(x[:, H:2 * H] + u[:, H:2 * H])
    hh = torch.tanh(x[:, 2 * H:] + r * u[:, 2 * H:])
    return hh + z * (h - hh), c


def emulate_forward(case, xp, U, h0, c0, b_rec, mask):
    """The compiled kernels' mixed-precision scan written out (`emulated_step`); masked steps carry."""
    Ub, h, c, hs = U.to(torch.bfloat16), h0, c0, []
    for t in range(xp.shape[1]):
        hn, cn = emulated_step(case, xp[:, t], h, c, Ub, b_rec)
        if mask is not None:
            keep = mask[:, t:t + 1]
            hn, cn = torch.where(keep, hn, h), torch.where(keep, cn, c)
        h, c = hn, cn
        hs.append(h)
    return torch.stack(hs, 1), c


def check_bf16(case):
    torch.set_num_threads(case["threads"])
    choice = KernelChoice("compiled") if case["dense_path"] else None
    got, path = run_scan(case, choice, torch.bfloat16)
    case["path"] = path
    xp, U, h0, c0, b_rec, mask, weights = scan_inputs(case)
    leaves = leaves_of(case, xp, U, h0, c0, b_rec)
    for leaf in leaves:
        leaf.requires_grad_()
    hs, c_last = emulate_forward(case, xp, U, h0, c0, b_rec, mask)
    outs = [hs, c_last] if case["kind"] == "lstm" else [hs]
    loss = (outs[0] * weights).sum() + 0.7 * outs[0].square().sum() + sum(1.1 * o.sum() for o in outs[1:])
    loss.backward()
    expected = [o.detach() for o in outs] + [leaf.grad for leaf in leaves]
    return [f"vs emulation: {b}" for b in compare(got, expected, 3e-2, NAMES[case["kind"]])]


def greedy_case(rng):
    kind = rng.choice(["simple_rnn", "lstm", "gru"])
    return dict(kind=kind, units=rng.choice(SPECIAL_UNITS[:8] + [rng.randint(1, 80)]), vocab=rng.randint(2, 100),
                embed=rng.randint(1, 16), prompts=rng.randint(1, 9), prompt_len=rng.randint(1, 6),
                steps=rng.randint(2, 30), use_bias=rng.random() < 0.8,
                policy=rng.choice(["float32", "mixed_bfloat16"] if native_kernels().panel_bfloat16 else ["float32"]),
                activation=rng.choice(["tanh", "relu", "sigmoid", "linear"]) if kind == "simple_rnn" else "tanh",
                dense_bias=rng.random() < 0.8, threads=rng.choice([1, 2]), refit=rng.random() < 0.3,
                seed=rng.randrange(1 << 30))


def check_greedy(case):
    torch.set_num_threads(case["threads"])
    rnnkit.mixed_precision.set_global_policy(case["policy"])
    try:
        torch.manual_seed(case["seed"])
        H = case["units"]
        recurrent = {"simple_rnn": lambda: layers.SimpleRNN(H, activation=case["activation"], use_bias=case["use_bias"],
                                                              return_sequences=True),
                     "lstm": lambda: layers.LSTM(H, use_bias=case["use_bias"], return_sequences=True),
                     "gru": lambda: layers.GRU(H, use_bias=case["use_bias"], return_sequences=True)}[case["kind"]]()
        model = rnnkit.Sequential([layers.Embedding(case["vocab"], case["embed"]), recurrent,
                                   layers.Dense(case["vocab"], use_bias=case["dense_bias"])])
        model(torch.zeros(1, 1, dtype=torch.long))
    finally:
        rnnkit.mixed_precision.set_global_policy("float32")
    with torch.no_grad():
        model.layers[0].embeddings.mul_(3.0)
        model.layers[-1].kernel.mul_(4.0)
        if case["dense_bias"]:
            model.layers[-1].bias.normal_()
        if case["kind"] == "gru" and case["use_bias"]:
            recurrent.cell.bias.normal_()
    g = np.random.default_rng(case["seed"])
    prompt = g.integers(0, case["vocab"], size=(case["prompts"], case["prompt_len"])).tolist()
    if case["refit"]:  # the decoder keeps its table and panels between calls: they must follow a training step
        model.generate(prompt, case["steps"], temperature=0)
        x = g.integers(0, case["vocab"], size=(8, 5))
        y = g.normal(size=(8, 5, case["vocab"])).astype("float32") * 10
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    used = []
    real = generation._compiled_greedy_decoder
    generation._compiled_greedy_decoder = lambda m: used.append(real(m)) or used[-1]
    try:
        fast = model.generate(prompt, case["steps"], temperature=0)
    finally:
        generation._compiled_greedy_decoder = lambda m: None
    try:
        slow = model.generate(prompt, case["steps"], temperature=0)
    finally:
        generation._compiled_greedy_decoder = real
    case["compiled"] = bool(used and used[0] is not None)
    if not case["compiled"]:
        return ["compiled decoder not taken"]
    if case["policy"] == "float32":
        expected, logits = slow, None
    else:  # the layers compute x W in bfloat16, the decoder folds it in float32: compare its arithmetic written out
        expected, logits = emulate_greedy(model, case, prompt)
    if fast.tolist() == expected.tolist():
        return []
    row, step = [(r, s) for r in range(fast.shape[0]) for s in range(fast.shape[1]) if fast[r, s] != expected[r, s]][0]
    if logits is not None:
        top = logits[step][row].topk(2).values
        margin = (top[0] - top[1]).item() / max(1e-6, logits[step][row].abs().max().item())
        if margin < 2e-2:  # a near-tie that bfloat16 rounding decides
            counts["greedy_near_tie_margin"][f"{margin:.0e}"] += 1
            return []
        return [f"tokens differ (row {row} step {step}: {fast[row, step]} vs {expected[row, step]}; "
                f"margin {margin:.2e})"]
    return [f"tokens differ (row {row} step {step}: {fast[row, step]} vs {expected[row, step]})"]


def emulate_greedy(model, case, prompt):
    """Greedy decoding written out as the compiled decoder computes under mixed_bfloat16: the
    Embedding folded into a float32 input table, products of bfloat16 operands rounded to bfloat16,
    states float32. Returns the tokens and each step's logits."""
    embedding, recurrent, dense = model.layers
    cell, H = recurrent.cell, case["units"]
    with torch.no_grad():
        b_in, b_rec = cell.bias, None
        if case["kind"] == "gru" and cell.bias is not None:
            b_in, b_rec = cell.bias[0], cell.bias[1]
        table = embedding.embeddings.float() @ cell.kernel.float()
        if b_in is not None:
            table = table + b_in.float()
        U = cell.recurrent_kernel.detach().to(torch.bfloat16)
        K = dense.kernel.detach().to(torch.bfloat16)
        bias = None if dense.bias is None else dense.bias.detach().float()
        h, c = torch.zeros(len(prompt), H), torch.zeros(len(prompt), H)
        b_rec = None if b_rec is None else b_rec.float()

        def step(tokens, h, c):
            return emulated_step(case, table[tokens], h, c, U, b_rec)

        tokens = torch.tensor(prompt)
        for t in range(tokens.shape[1]):
            h, c = step(tokens[:, t], h, c)
        out, all_logits = [], []
        for _ in range(case["steps"]):
            logits = (h.to(torch.bfloat16) @ K).float()
            if bias is not None:
                logits = logits + bias
            token = logits.argmax(1)
            out.append(token)
            all_logits.append(logits)
            h, c = step(token, h, c)
    return torch.stack(out, 1).numpy(), all_logits


def fit_case(rng):
    kind = rng.choice(["simple_rnn", "lstm", "gru"])
    return dict(kind=kind, units=rng.choice([64, 65, 100, 128, 129, 200]), batch=rng.choice([32, 64, 70]),
                steps=rng.randint(2, 20), features=rng.randint(1, 8), go_backwards=rng.random() < 0.3,
                padded=rng.random() < 0.4, policy=rng.choice(["float32", "float32", "mixed_bfloat16"]),
                seed=rng.randrange(1 << 30))


def fit_weights(case, threads):
    torch.set_num_threads(threads)
    rnnkit.mixed_precision.set_global_policy(case["policy"])
    try:
        torch.manual_seed(case["seed"])
        layer = {"simple_rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}[case["kind"]]
        stack = ([layers.Masking(0.0)] if case["padded"] else []) + [
            layer(case["units"], go_backwards=case["go_backwards"]), layers.Dense(3)]
        model = rnnkit.Sequential(stack)
        g = np.random.default_rng(case["seed"])
        x = g.normal(size=(case["batch"] * 2, case["steps"], case["features"])).astype("float32")
        if case["padded"]:
            lengths = g.integers(1, case["steps"] + 1, size=len(x))
            for i, n in enumerate(lengths):
                x[i, n:] = 0.0
        y = g.normal(size=(len(x), 3)).astype("float32")
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y, batch_size=case["batch"], epochs=2, shuffle=False, verbose=0)
    finally:
        rnnkit.mixed_precision.set_global_policy("float32")
    return [w.detach().float().clone() for w in model.weights]


def check_fit(case):
    one, two = fit_weights(case, 1), fit_weights(case, 2)
    bad = []
    for i, (a, b) in enumerate(zip(one, two)):
        err = (a - b).abs().max().item()
        if err > 1e-5:
            bad.append(f"weight {i} {tuple(a.shape)}: max diff {err:.3g} between 1 and 2 threads")
    return bad


def faststep_case(rng):
    kind = rng.choice(["simple_rnn", "lstm", "gru"])
    return dict(kind=kind, units=rng.choice(SPECIAL_UNITS + [rng.randint(1, 200)]), batch=rng.randint(1, 70),
                steps=rng.randint(1, 40), features=rng.randint(1, 8), outputs=rng.randint(1, 5),
                return_sequences=rng.random() < 0.4, dense_bias=rng.random() < 0.8, threads=rng.choice([1, 2]),
                activation=rng.choice(["tanh", "relu", "sigmoid", "linear"]) if kind == "simple_rnn" else "tanh",
                seed=rng.randrange(1 << 30))


def faststep_weights(case, whole_step):
    from rnnkit.train import fast_step, trainer
    torch.set_num_threads(case["threads"])
    torch.manual_seed(case["seed"])
    options = {"activation": case["activation"]} if case["kind"] == "simple_rnn" else {}
    layer = {"simple_rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}[case["kind"]]
    model = rnnkit.Sequential([rnnkit.Input(shape=(case["steps"], case["features"])),
                               layer(case["units"], return_sequences=case["return_sequences"], **options),
                               layers.Dense(case["outputs"], use_bias=case["dense_bias"])])
    model.compile(optimizer=rnnkit.optimizers.SGD(learning_rate=0.1), loss="mse")
    g = np.random.default_rng(case["seed"])
    n = 3 * case["batch"]
    x = g.normal(size=(n, case["steps"], case["features"])).astype("float32")
    y = g.normal(size=(n, case["steps"], case["outputs"]) if case["return_sequences"] else (n, case["outputs"]))
    taken = []
    run, of = fast_step.WholeStep.run, trainer.WholeStep.of
    fast_step.WholeStep.run = lambda self, *a: taken.append(1) or run(self, *a)
    if not whole_step:
        trainer.WholeStep.of = classmethod(lambda cls, *args: None)
    try:
        model.fit(x, y.astype("float32"), batch_size=case["batch"], epochs=1, shuffle=False, verbose=0)
    finally:
        fast_step.WholeStep.run, trainer.WholeStep.of = run, of
    return [w.detach().clone() for w in model.weights], len(taken)


def check_faststep(case):
    fast, taken = faststep_weights(case, True)
    ordinary, _ = faststep_weights(case, False)
    case["whole_steps"] = taken
    bad = [] if taken else ["the whole step was not taken"]
    for i, (a, b) in enumerate(zip(fast, ordinary)):
        err, m = (a - b).abs().max().item(), max(1.0, b.abs().max().item())
        if err > 1e-5 * m:
            bad.append(f"weight {i} {tuple(a.shape)}: max diff {err:.3g} (magnitude {m:.3g})")
    return bad


MODES = {"scan": (scan_case, check_scan), "bf16": (scan_case, check_bf16), "greedy": (greedy_case, check_greedy),
         "fit": (fit_case, check_fit), "faststep": (faststep_case, check_faststep)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=sorted(MODES), help="what to compare (see the module docstring)")
    parser.add_argument("seconds", type=float, help="how long to draw cases")
    parser.add_argument("seed", type=int, help="seed of the case generator (a run replays with the same seed)")
    args = parser.parse_args()
    mode, seconds, seed = args.mode, args.seconds, args.seed
    if native_kernels() is None:
        parser.error("the compiled kernels could not be built here (see the warning above)")
    print("panel_bfloat16:", native_kernels().panel_bfloat16, "flags:", os.environ.get("PANELCHECK_FLAGS"), flush=True)
    make, check = MODES[mode]
    rng = random.Random(seed)
    start, n = time.time(), 0
    while time.time() - start < seconds:
        case = make(rng)
        try:
            bad = check(case)
        except Exception as error:  # a crash is a finding too
            bad = [f"crash: {type(error).__name__}: {error}"]
            traceback.print_exc()
        n += 1
        note(case)
        if bad:
            mismatches.append(case)
            print("MISMATCH", json.dumps(case), "|", "; ".join(bad), flush=True)
    print(f"CASES {mode}: {n} in {time.time() - start:.0f} s, {len(mismatches)} mismatches", flush=True)
    for key, counter in sorted(counts.items()):
        print(f"  {key}: {dict(sorted(counter.items()))}")


if __name__ == "__main__":
    main()
