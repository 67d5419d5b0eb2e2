"""`rnnkit demo`: the main job on built-in data."""
import time

import numpy as np

from .. import Input, Sequential, layers
from ..utils import set_random_seed
from .options import positive_int


def demo(args):
    """Trains an LSTM to continue a noisy sine wave and compares it with the persistence baseline."""
    set_random_seed(args.seed)
    t = np.arange(0, 2000, dtype=np.float32) * 0.1
    series = np.sin(t) + 0.5 * np.sin(0.31 * t) + 0.05 * np.random.standard_normal(t.shape).astype(np.float32)
    window = 40
    x = np.lib.stride_tricks.sliding_window_view(series, window)[:-1, :, None].copy()
    y = series[window:, None]
    split = int(0.8 * len(x))
    x_train, y_train, x_test, y_test = x[:split], y[:split], x[split:], y[split:]

    model = Sequential([Input((window, 1)), layers.LSTM(32), layers.Dense(1)], name="sine_forecaster")
    print(f"rnnkit demo: forecast a noisy sine wave one step ahead from windows of {window} steps")
    model.summary()
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=64, epochs=args.epochs, validation_split=0.1, verbose="auto")
    test_mse, test_mae = model.evaluate(x_test, y_test, verbose=0)
    naive_mse = float(np.mean((x_test[:, -1] - y_test) ** 2))
    verdict = "beats" if test_mse < naive_mse else "does not beat"
    print(
        f"test mse {test_mse:.5f} (mae {test_mae:.4f}); persistence baseline mse {naive_mse:.5f}: "
        f"the model {verdict} it. {time.perf_counter() - start:.1f}s"
    )
    return 0


def register(subcommands, common):
    parser = subcommands.add_parser(
        "demo",
        parents=[common],
        help="train a small LSTM forecaster on built-in data",
        description="Trains LSTM(32)+Dense(1) on a generated sine wave and reports test error.",
        epilog="example: rnnkit demo --epochs 5 --seed 1",
    )
    parser.add_argument("--epochs", type=positive_int, default=8, help="training epochs (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.set_defaults(run=demo)
