"""`rnnkit forecast train|predict`: time-series forecasting from CSV files."""
import argparse
import os
import shlex

from ..data.tables import read_csv
from ..tasks.forecast import (CELLS, FORECAST_CSV, FORECAST_PLOT, METHODS, PREDICT, Forecaster, plot_forecast,
                              train_forecaster, write_forecast)
from .options import add_training_options, existing_file, learning_rate, one_of, positive_int

TRAIN_EXAMPLES = """examples:
  # one step ahead of the Open price, tested on the next month's file (the tutorial's check)
  rnnkit forecast train --csv google_stock_train.csv --test-csv google_stock_test.csv \\
      --target Open --time-col Date --window 60 --out runs/stock

  # tomorrow's temperature from 50 days of temperature and humidity, last 20% of the rows as test
  rnnkit forecast train --csv weather.csv --time-col date --target temperature --features humidity \\
      --window 50 --season 365

  # a GRU predicting the next 30 values at once (for `forecast predict --method direct`)
  rnnkit forecast train --csv sales.csv --target units --horizon 30 --model gru --units 64 --layers 2
"""

PREDICT_EXAMPLES = """examples:
  rnnkit forecast predict runs/stock/model.rnnkit --csv google_stock_train.csv --steps 30
  rnnkit forecast predict runs/sales/model.rnnkit --csv sales.csv --steps 30 --method direct --out runs/next
"""


def train(args):
    train_table = read_csv(args.csv, columns=_inputs(args), time_column=args.time_col)
    test_table = read_csv(args.test_csv, columns=_inputs(args), time_column=args.time_col) if args.test_csv else None
    tested_on = f"tested on {args.test_csv} ({len(test_table):,} rows)" if test_table else "tested on its last rows"
    print(f"rnnkit forecast: {', '.join(args.target)} from {args.csv} ({len(train_table):,} rows), {tested_on}")
    what = "the change from the last value" if args.predict == "change" else "the value"
    print(f"recipe: {args.layers} x {args.model}({args.units}), dropout {args.dropout}, predicting {what} "
          f"{args.horizon} step(s) ahead from {args.window} steps")
    result = train_forecaster(
        train_table, args.target, args.features, test_data=test_table, window=args.window, horizon=args.horizon,
        test_size=args.test_size, validation_size=args.val_size, season=args.season, cell=args.model,
        units=args.units, layers=args.layers, dropout=args.dropout, predict=args.predict, scaler=args.scaler,
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed,
        out=args.out, resume=args.resume, verbose=0 if args.quiet else "auto",
    )
    samples = result.metrics["samples"]
    print(f"model: {result.metrics['model']}, {result.metrics['params']:,} params; {result.metrics['epochs']} "
          f"epochs in {result.metrics['train_seconds']:.1f}s; samples: train {samples['train']:,}, "
          f"validation {samples['validation']:,}, test {samples['test']:,}")
    print(result.report())
    print(f"wrote {args.out}: " + ", ".join(os.path.basename(path) for path in result.files.values()))
    print(f"next: rnnkit forecast predict {shlex.quote(result.files['model'])} --csv {shlex.quote(args.csv)} --steps 30")
    return 0


def predict(args):
    forecaster = Forecaster(args.model)
    time_column = forecaster.settings["time_column"] if args.time_col is None else args.time_col or None
    history = read_csv(args.csv, columns=forecaster.inputs, time_column=time_column)
    predicted = forecaster.forecast(history, args.steps, method=args.method)
    out = os.path.dirname(os.path.abspath(args.model)) if args.out is None else args.out
    os.makedirs(out, exist_ok=True)
    files = [write_forecast(predicted, os.path.join(out, FORECAST_CSV)),
             plot_forecast(history, predicted, os.path.join(out, FORECAST_PLOT), context=4 * forecaster.window)]
    print(f"rnnkit forecast: {args.steps} steps past the end of {args.csv} ({len(history):,} rows), {args.method}")
    _print_forecast(predicted)
    print("wrote " + ", ".join(files))
    return 0


def _inputs(args):
    return list(dict.fromkeys(args.target + args.features))


def _print_forecast(table, head=10, tail=5):
    names = [table.time_column] + table.names
    print("  " + "".join(f"{name:>14}" for name in names))
    rows = range(len(table))
    shown = list(rows) if len(table) <= head + tail else list(rows[:head]) + [None] + list(rows[-tail:])
    for row in shown:
        if row is None:
            print("  " + f"{'...':>14}")
            continue
        cells = [str(table.time[row])] + [f"{table.columns[name][row]:.6g}" for name in table.names]
        print("  " + "".join(f"{cell:>14}" for cell in cells))


def _size(text):
    """argparse type: a fraction of the rows (0 <= x < 1) or a whole number of rows."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction like 0.2 or a number of rows, got {text!r}") from None
    if value < 0 or (value >= 1 and not value.is_integer()):
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1) or a whole number of rows, got {text!r}")
    return value if value < 1 else int(value)


def _rate(text):
    """argparse type: a number in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {value}")
    return value


def register(subcommands, common):
    parser = subcommands.add_parser(
        "forecast",
        parents=[common],
        help="train a forecaster on a CSV time series, or forecast with one",
        description="Time-series forecasting: `train` fits a recurrent network on windows of past rows and "
        "reports it on later rows beside the naive baselines; `predict` forecasts past the end of a CSV.",
        epilog="examples:\n  rnnkit forecast train --csv prices.csv --target Open --time-col Date\n"
        "  rnnkit forecast predict runs/forecast/model.rnnkit --csv prices.csv --steps 30\n\n"
        "Run `rnnkit forecast train --help` or `rnnkit forecast predict --help` for their options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    trainer = actions.add_parser(
        "train",
        parents=[common],
        help="train a forecaster and report it against naive baselines",
        description="Reads numeric columns of a CSV (thousands separators, dates and stray spaces in headers "
        "are fine), splits the rows in time order into training, validation and test parts, fits the "
        "scalers on the training rows, trains a recurrent network on windows of --window rows to predict "
        "--horizon rows ahead, and reports MAE, RMSE, MAPE, sMAPE and MASE on the test part beside "
        "persistence (and seasonal naive with --season). Writes model.rnnkit, metrics.json, history.csv, "
        "history.png and test_predictions.png into --out.",
        epilog=TRAIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = trainer.add_argument_group("data")
    data.add_argument("--csv", required=True, type=existing_file, help="the series: a CSV file with a header row")
    data.add_argument("--target", required=True, nargs="+", metavar="COL", help="the column(s) to forecast")
    data.add_argument("--features", nargs="+", default=[], metavar="COL",
                      help="other input columns, read but not forecast")
    data.add_argument("--time-col", metavar="COL", help="the time column (numbers or dates), used for plots")
    data.add_argument("--window", type=positive_int, default=60, help="input rows per forecast (default 60)")
    data.add_argument("--horizon", type=positive_int, default=1, help="rows predicted per forecast (default 1)")
    test = data.add_mutually_exclusive_group()
    test.add_argument("--test-csv", type=existing_file, metavar="F",
                      help="test on this CSV: the rows that follow --csv in time (same columns)")
    test.add_argument("--test-size", type=_size, default=0.2,
                      help="the last rows held out for testing: a fraction or a row count (default 0.2)")
    data.add_argument("--val-size", type=_size, default=0.1,
                      help="validation rows just before the test rows: a fraction or a row count, 0 for none "
                      "(default 0.1)")
    data.add_argument("--season", type=positive_int,
                      help="season length in rows (e.g. 7 for daily data): adds the seasonal naive baseline")
    recipe = trainer.add_argument_group("model")
    recipe.add_argument("--model", type=one_of(*CELLS), default="lstm", help=f"{', '.join(CELLS)} (default lstm)")
    recipe.add_argument("--units", type=positive_int, default=32, help="units per recurrent layer (default 32)")
    recipe.add_argument("--layers", type=positive_int, default=1, help="stacked recurrent layers (default 1)")
    recipe.add_argument("--dropout", type=_rate, default=0.0, help="dropout after each recurrent layer (default 0)")
    recipe.add_argument("--predict", type=one_of(*PREDICT), default="change",
                        help="what the network outputs: the change from the last value, or the value itself "
                        "(default change)")
    recipe.add_argument("--scaler", type=one_of("minmax", "standard"), default="minmax",
                        help="input scaling fitted on the training rows: minmax or standard (default minmax)")
    recipe.add_argument("--learning-rate", type=learning_rate, default=1e-3, help="Adam's step size (default 0.001)")
    add_training_options(trainer, epochs=30, batch_size=32, out="runs/forecast")
    trainer.set_defaults(run=train)

    predictor = actions.add_parser(
        "predict",
        parents=[common],
        help="forecast N steps past the end of a CSV",
        description="Forecasts --steps rows past the end of --csv with a model from `rnnkit forecast train`. "
        "recursive: predict, append the prediction to the inputs, repeat (any model that forecasts all its "
        "inputs); direct: take all steps from one output of a model trained with --horizon >= --steps. "
        "Writes forecast.csv and forecast.png into --out and prints the forecast.",
        epilog=PREDICT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    predictor.add_argument("model", type=existing_file, help="a model.rnnkit from `rnnkit forecast train`")
    predictor.add_argument("--csv", required=True, type=existing_file,
                           help="the history to continue, with the model's input columns")
    predictor.add_argument("--steps", required=True, type=positive_int, help="rows to forecast")
    predictor.add_argument("--method", type=one_of(*METHODS), default="recursive",
                           help="recursive or direct (default recursive)")
    predictor.add_argument("--time-col", metavar="COL",
                           help="the time column of --csv (default: the one the model was trained with; '' for none)")
    predictor.add_argument("--out", help="folder for forecast.csv and forecast.png (default: the model's folder)")
    predictor.set_defaults(run=predict)
