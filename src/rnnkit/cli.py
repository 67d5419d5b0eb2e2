"""The `rnnkit` command line: argument parsing, progress and files; no math."""
import argparse
import sys
import time

import torch

from . import layers


def demo(args):
    """Trains an LSTM to continue a noisy sine wave and compares it with the persistence baseline."""
    torch.manual_seed(args.seed)
    t = torch.arange(0, 2000, dtype=torch.float32) * 0.1
    series = torch.sin(t) + 0.5 * torch.sin(0.31 * t) + 0.05 * torch.randn_like(t)
    window = 40
    x = series.unfold(0, window, 1)[:-1].unsqueeze(-1)
    y = series[window:].unsqueeze(-1)
    split = int(0.8 * len(x))
    x_train, y_train, x_test, y_test = x[:split], y[:split], x[split:], y[split:]

    model = torch.nn.Sequential(layers.LSTM(32), layers.Dense(1))
    model(x_train[:1])  # lazy build, then the optimizer can see the weights
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    print(f"rnnkit demo: LSTM(32) + Dense(1) on a noisy sine wave, windows of {window} steps")
    print(f"{len(x_train)} training windows, {len(x_test)} test windows, {args.epochs} epochs")
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(x_train))
        total = 0.0
        for i in range(0, len(order), 64):
            idx = order[i : i + 64]
            loss = torch.nn.functional.mse_loss(model(x_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch:2d}  train mse {total / len(x_train):.5f}")
    with torch.inference_mode():
        test_mse = torch.nn.functional.mse_loss(model(x_test), y_test).item()
    naive_mse = torch.nn.functional.mse_loss(x_test[:, -1], y_test).item()
    print(f"test mse {test_mse:.5f}  (persistence baseline {naive_mse:.5f}) in {time.perf_counter() - start:.1f}s")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="rnnkit",
        description="Recurrent neural networks with Keras's API on PyTorch.",
        epilog="example: rnnkit demo --epochs 5",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser(
        "demo",
        help="train a small LSTM forecaster on built-in data",
        description="Trains LSTM(32)+Dense(1) on a generated sine wave and reports test error.",
        epilog="example: rnnkit demo --epochs 5 --seed 1",
    )
    p.add_argument("--epochs", type=int, default=8, help="training epochs (default 8)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(run=demo)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if getattr(args, "epochs", 1) < 1:
        print("rnnkit: error: --epochs must be at least 1", file=sys.stderr)
        return 2
    return args.run(args)
