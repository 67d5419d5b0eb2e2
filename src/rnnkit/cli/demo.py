"""`rnnkit demo`: the main job on built-in data, a forecaster of a noisy seasonal series."""
import argparse
import os
import shlex

import numpy as np

from ..data.tables import Table, write_csv
from ..tasks.forecast import FORECAST_PLOT, forecast, plot_forecast, train_forecaster
from ..train import distributed
from .options import add_training_options
from .output import print_written

ROWS = 1200
PERIOD = 50
# One season predicted at once from two: a one-step model continued recursively for 100 steps drifted
# (RMSE 6.7 against the true continuation after 8 epochs), this one does not (0.9).
HORIZON = PERIOD
WINDOW = 2 * PERIOD
MEMBERS = 5


def seasonal_series(rows: int = ROWS, period: int = PERIOD, seed: int = 0) -> Table:
    """A noisy seasonal series: level 10, a sine of `period` steps (amplitude 4), a slower sine
    (170 steps, amplitude 1.5) and Gaussian noise (standard deviation 0.3), as a `Table` with a
    "step" time column and a "value" column."""
    t = np.arange(rows)
    noise = np.random.default_rng(seed).standard_normal(rows)
    value = 10 + 4 * np.sin(2 * np.pi * t / period) + 1.5 * np.sin(2 * np.pi * t / 170) + 0.3 * noise
    return Table({"value": value}, time=t, time_column="step", source="the generated series")


def demo(args: argparse.Namespace) -> int:
    """Trains the default forecaster on a generated series, reports it against the naive baselines,
    writes the model, the plots and a forecast past the end, and says what to try next."""
    series = seasonal_series(seed=args.seed)
    print(f"rnnkit demo: forecast a noisy seasonal series ({ROWS} generated steps, period {PERIOD}) the next "
          f"{HORIZON} steps at once from windows of {WINDOW} steps with the default recipe: the median of {MEMBERS} "
          "LSTMs, each window normalised by its last value, predicting the change from it")
    result = train_forecaster(
        series, ["value"], window=WINDOW, horizon=HORIZON, season=PERIOD, test_size=0.2, validation_size=0.1, units=32,
        members=MEMBERS, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, out=args.out, resume=args.resume,
        verbose=0 if args.quiet else "auto",
    )
    metrics = result.metrics
    print(f"model: {MEMBERS} x {metrics['model']}, {metrics['params']:,} params in all; trained {metrics['epochs']} epochs in "
          f"{metrics['train_seconds']:.1f}s (samples: train {metrics['samples']['train']}, validation "
          f"{metrics['samples']['validation']}, test {metrics['samples']['test']})")
    print(result.report())

    steps = 2 * PERIOD
    ahead = forecast(result.model, series, steps, interval=0.8)
    files = list(result.files.values()) + [os.path.join(args.out, "series.csv"), os.path.join(args.out, FORECAST_PLOT)]
    if distributed.is_main_process():  # under torchrun (--nproc) the first process writes for all
        write_csv(files[-2], series.columns, time=series.time, time_column="step")
        plot_forecast(series, ahead, files[-1], context=4 * PERIOD)
    print(f"forecast of the {steps} steps after the series ({HORIZON} at a time, with 80% prediction intervals): "
          f"{FORECAST_PLOT}")
    print_written(args.out, files)
    model, series_file = shlex.quote(result.files["model"]), shlex.quote(files[-2])  # pasted into a shell
    print("try next:\n"
          f"  rnnkit forecast predict {model} --csv {series_file} --steps 200 --interval 0.8   continue the series\n"
          f"  rnnkit forecast backtest --csv {series_file} --target value --season {PERIOD} --horizon {HORIZON}   score 5 "
          "forecasts against the baselines\n"
          "  rnnkit forecast train --csv YOUR.csv --target COL --time-col DATE        forecast your own CSV\n"
          "  rnnkit classify --help     text classification (sentences and labels)\n"
          "  rnnkit textgen --help      character-level text generation\n"
          "  rnnkit seq2seq --help      sequence-to-sequence (the addition task)\n"
          "  rnnkit rows --help         images read row by row (MNIST)\n"
          f"  rnnkit info {model}   what the saved model is")
    return 0


def register(subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subcommands.add_parser(
        "demo",
        parents=[common],
        help="train a small forecaster on built-in data (no files needed, under a minute)",
        description="Generates a noisy seasonal series, trains an LSTM forecaster on it (the default recipe of "
        "`rnnkit forecast train`), prints its test metrics beside the persistence and seasonal naive "
        "baselines, and writes the model, the plots and a forecast past the end into --out.",
        epilog="examples:\n  rnnkit demo\n  rnnkit demo --epochs 3 --seed 1 --out runs/demo1",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_training_options(parser, epochs=30, batch_size=32, out="runs/demo")
    parser.set_defaults(run=demo)
