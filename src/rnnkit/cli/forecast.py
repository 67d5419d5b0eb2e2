"""`rnnkit forecast train|predict|backtest`: time-series forecasting from CSV files."""
import argparse
import os
import shlex

from ..data.tables import read_csv
from ..tasks.backtest import backtest_forecaster
from ..tasks.outputs import check_output_folder, make_output_folder
from ..tasks.forecast import (CELLS, FORECAST_CSV, FORECAST_PLOT, METHODS, PREDICT, SCALERS, Forecaster,
                              plot_forecast, train_forecaster, write_forecast)
from .options import (add_training_options, dropout_rate, existing_file, fraction, layer_size, learning_rate,
                      non_negative_int, one_of, positive_int, refuse_overwriting_inputs, rows_or_fraction, whole_number)
from .output import print_written

# Deeper stacks of plain recurrent layers do not train (the recipe has no residual connections), and
# the median of more networks than this is no steadier: larger asks would only exhaust memory (the
# members train side by side in one model), so they are refused as typos.
MAX_LAYERS = 32
MAX_MEMBERS = 100

TRAIN_EXAMPLES = """examples:
  # the next 18 months at once of a monthly series with a yearly season (window, split and batch derived)
  rnnkit forecast train --csv sales.csv --target units --time-col month --horizon 18 --season 12

  # one step ahead of the Open price, tested on the next month's file (the tutorial's check)
  rnnkit forecast train --csv google_stock_train.csv --test-csv google_stock_test.csv \\
      --target Open --time-col Date --window 60 --out runs/stock

  # the old recipe: one LSTM on min-max scaled inputs, no ensemble, 30 epochs without early stopping
  rnnkit forecast train --csv weather.csv --target temperature --features humidity \\
      --scaler minmax --members 1 --epochs 30 --patience 0
"""

PREDICT_EXAMPLES = """examples:
  rnnkit forecast predict runs/forecast/model.rnnkit --csv sales.csv --steps 18 --interval 0.8
  rnnkit forecast predict runs/stock/model.rnnkit --csv google_stock_train.csv --steps 30 --method recursive
"""

BACKTEST_EXAMPLES = """examples:
  # 5 forecasts of 18 months each, ending at the last row, beside the naive and statistical baselines
  rnnkit forecast backtest --csv sales.csv --target units --time-col month --horizon 18 --season 12 --folds 5
"""


def _recipe(args):
    """train_forecaster's keyword arguments from the model and training options."""
    return dict(window=args.window, season=args.season, cell=args.model, units=args.units, layers=args.layers,
                dropout=args.dropout, predict=args.predict, scaler=args.scaler,
                members=args.members, epochs=args.epochs, patience=args.patience or None,
                batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed,
                verbose=0 if args.quiet else "auto")


def _print_recipe(metrics):
    what = {"change": "the change from the last value", "seasonal_change": "the change from one season before",
            "value": "the value"}[metrics["predict"]]
    members = f"median of {metrics['members']} x " if metrics["members"] > 1 else ""
    print(f"recipe: {members}{metrics['model']}, {metrics['scaler']} scaling, predicting {what} "
          f"{metrics['horizon']} step(s) ahead from {metrics['window']} steps")
    if metrics["chosen"]:
        names = {"window": "window", "test_size": "test", "validation_size": "validation", "batch_size": "batch"}
        print("derived from the series (set them to override): " + ", ".join(
            f"{names[name]} {value}{' rows' if name in ('test_size', 'validation_size') else ''}"
            for name, value in metrics["chosen"].items()))


def train(args: argparse.Namespace) -> int:
    refuse_overwriting_inputs([args.csv, args.test_csv], [args.out])
    train_table = read_csv(args.csv, columns=_inputs(args), time_column=args.time_col)
    test_table = read_csv(args.test_csv, columns=_inputs(args), time_column=args.time_col) if args.test_csv else None
    tested_on = f"tested on {args.test_csv} ({len(test_table):,} rows)" if test_table else "tested on its last rows"
    print(f"rnnkit forecast: {', '.join(args.target)} from {args.csv} ({len(train_table):,} rows), {tested_on}")
    result = train_forecaster(
        train_table, args.target, args.features, test_data=test_table, horizon=args.horizon,
        test_size=args.test_size, validation_size=args.val_size, out=args.out, resume=args.resume, **_recipe(args))
    metrics = result.metrics
    _print_recipe(metrics)
    samples = metrics["samples"]
    print(f"model: {metrics['params']:,} params; {metrics['epochs']} epochs in {metrics['train_seconds']:.1f}s; "
          f"samples: train {samples['train']:,}, validation {samples['validation']:,}, test {samples['test']:,}")
    print(result.report())
    print_written(args.out, result.files.values())
    print(f"next: rnnkit forecast predict {shlex.quote(result.files['model'])} --csv {shlex.quote(args.csv)} "
          f"--steps {args.horizon} --interval 0.8")
    return 0


def backtest(args: argparse.Namespace) -> int:
    refuse_overwriting_inputs([args.csv], [args.out])
    table = read_csv(args.csv, columns=_inputs(args), time_column=args.time_col)
    print(f"rnnkit forecast backtest: {args.target[0]} from {args.csv} ({len(table):,} rows), {args.folds} folds of "
          f"{args.horizon} step(s)")
    result = backtest_forecaster(table, args.target, args.features, folds=args.folds, horizon=args.horizon,
                                 interval=args.interval, out=args.out, resume=args.resume, **_recipe(args))
    _print_recipe(result.training.metrics)
    print(result.report())
    print_written(args.out, result.files.values())
    return 0


def predict(args: argparse.Namespace) -> int:
    out = os.path.dirname(os.path.abspath(args.model)) if args.out is None else args.out
    written = [os.path.join(out, FORECAST_CSV), os.path.join(out, FORECAST_PLOT)]
    check_output_folder(out)
    refuse_overwriting_inputs([args.csv, args.model], written)
    forecaster = Forecaster(args.model)
    time_column = forecaster.settings["time_column"] if args.time_col is None else args.time_col or None
    history = read_csv(args.csv, columns=forecaster.inputs, time_column=time_column)
    predicted = forecaster.forecast(history, args.steps, method=args.method, interval=args.interval)
    make_output_folder(out)
    files = [write_forecast(predicted, written[0]),
             plot_forecast(history, predicted, written[1], targets=forecaster.targets,
                           context=4 * forecaster.window)]
    method = args.method if args.method != "auto" else ("direct" if args.steps <= forecaster.horizon else "recursive")
    interval = f", {100 * args.interval:.6g}% intervals" if args.interval else ""  # as typed: 0.9999 is not 100%
    print(f"rnnkit forecast: {args.steps} steps past the end of {args.csv} ({len(history):,} rows), {method}{interval}")
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


def _add_series_options(parser):
    data = parser.add_argument_group("data")
    data.add_argument("--csv", required=True, type=existing_file, help="the series: a CSV file with a header row")
    data.add_argument("--target", required=True, nargs="+", action="extend", metavar="COL",
                      help="the column(s) to forecast (repeating the option adds columns)")
    data.add_argument("--features", nargs="+", action="extend", default=[], metavar="COL",
                      help="other input columns, read but not forecast")
    data.add_argument("--time-col", metavar="COL", help="the time column (numbers or dates), used for plots")
    data.add_argument("--horizon", type=positive_int, default=1,
                      help="rows predicted at once per forecast, all trained together (default 1)")
    data.add_argument("--season", type=positive_int,
                      help="season length in rows (e.g. 12 for monthly data): the derived window spans two seasons; "
                      "adds the seasonal naive baseline and scales MASE by it")
    data.add_argument("--window", type=positive_int,
                      help="input rows per forecast (default: two seasons or two horizons, at least 10, fitted "
                      "to the series length)")
    return data


def _add_model_options(parser):
    recipe = parser.add_argument_group("model")
    recipe.add_argument("--model", type=one_of(*CELLS), default="lstm", help=f"{', '.join(CELLS)} (default lstm)")
    recipe.add_argument("--units", type=layer_size, default=32, help="units per recurrent layer (default 32)")
    recipe.add_argument("--layers", type=whole_number(1, MAX_LAYERS), default=1,
                        help=f"stacked recurrent layers, at most {MAX_LAYERS} (default 1)")
    recipe.add_argument("--dropout", type=dropout_rate, default=0.0, help="dropout after each recurrent layer (default 0)")
    recipe.add_argument("--members", type=whole_number(1, MAX_MEMBERS), default=5,
                        help=f"networks in the ensemble, the forecast is their median, at most {MAX_MEMBERS} (default 5)")
    recipe.add_argument("--predict", type=one_of(*PREDICT), default="change",
                        help="what the network outputs: the change from the last value, the change from one season "
                        "before, or the value itself (default change)")
    recipe.add_argument("--scaler", type=one_of(*SCALERS), default="window",
                        help="input scaling: window (each window minus its last value, so new levels and trends "
                        "extrapolate), or minmax / standard fitted on the training rows (default window)")
    recipe.add_argument("--learning-rate", type=learning_rate, default=1e-3, help="Adam's step size (default 0.001)")
    recipe.add_argument("--patience", type=non_negative_int, default=20,
                        help="stop after this many epochs without a better validation loss, 0 never (default 20)")


def register(subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subcommands.add_parser(
        "forecast",
        parents=[common],
        help="train a forecaster on a CSV time series, backtest it, or forecast with one",
        description="Time-series forecasting: `train` fits a recurrent network on windows of past rows and "
        "reports it on later rows beside the naive (and statistical) baselines; `backtest` scores the recipe "
        "over several consecutive forecasts; `predict` forecasts past the end of a CSV.",
        epilog="examples:\n  rnnkit forecast train --csv sales.csv --target units --horizon 18 --season 12\n"
        "  rnnkit forecast backtest --csv sales.csv --target units --horizon 18 --season 12 --folds 5\n"
        "  rnnkit forecast predict runs/forecast/model.rnnkit --csv sales.csv --steps 18 --interval 0.8\n\n"
        "Run `rnnkit forecast ACTION --help` for the options of each.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    trainer = actions.add_parser(
        "train",
        parents=[common],
        help="train a forecaster and report it against the baselines",
        description="Reads numeric columns of a CSV (thousands separators, dates and stray spaces in headers "
        "are fine), splits the rows in time order into training, validation and test parts, and trains the "
        "default recipe: each window normalised by its last value, the change of all --horizon rows predicted "
        "at once, early stopping on the validation part, the median of "
        "an ensemble. Window, split and batch size are derived from the series when not given, and printed. "
        "Reports MAE, RMSE, MAPE, sMAPE and MASE on the test part beside persistence, seasonal naive (with "
        "--season) and AutoETS / AutoARIMA (with statsforecast installed: pip install rnnkit[forecast]), with a "
        "Diebold-Mariano test saying beats / on par / worse. Writes model.rnnkit, metrics.json, history.csv, "
        "history.png and test_predictions.png into --out.",
        epilog=TRAIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = _add_series_options(trainer)
    test = data.add_mutually_exclusive_group()
    test.add_argument("--test-csv", type=existing_file, metavar="F",
                      help="test on this CSV: the rows that follow --csv in time (same columns)")
    test.add_argument("--test-size", type=rows_or_fraction,
                      help="the last rows held out for testing: a fraction or a row count (default: a tenth of the "
                      "rows, at least --horizon)")
    data.add_argument("--val-size", type=rows_or_fraction,
                      help="validation rows just before the test rows: a fraction or a row count, 0 for none "
                      "(default: a tenth of the rows, at least --horizon)")
    _add_model_options(trainer)
    add_training_options(trainer, epochs=100, batch_size=None, out="runs/forecast")
    trainer.set_defaults(run=train)

    tester = actions.add_parser(
        "backtest",
        parents=[common],
        help="rolling-origin evaluation: K consecutive forecasts scored against the baselines",
        description="Cuts the last --folds x --horizon rows into --folds consecutive forecasts, trains the "
        "recipe (the same options as `train`) once on the rows before them, forecasts each fold from the true "
        "history, and reports per fold and overall MAE, RMSE, sMAPE and MASE beside persistence, seasonal naive "
        "and AutoETS / AutoARIMA (with statsforecast), the Diebold-Mariano verdict, and the coverage of the "
        "--interval prediction intervals. Writes the model, backtest.json, backtest.csv and backtest.png.",
        epilog=BACKTEST_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_series_options(tester)
    tester.add_argument("--folds", type=positive_int, default=5, help="forecasts to score (default 5)")
    tester.add_argument("--interval", type=fraction, default=0.8,
                        help="coverage level of the prediction intervals whose coverage is counted (default 0.8)")
    _add_model_options(tester)
    add_training_options(tester, epochs=100, batch_size=None, out="runs/backtest")
    tester.set_defaults(run=backtest, val_size=None, test_size=None, test_csv=None)

    predictor = actions.add_parser(
        "predict",
        parents=[common],
        help="forecast N steps past the end of a CSV",
        description="Forecasts --steps rows past the end of --csv with a model from `rnnkit forecast train`. "
        "direct: all steps from one output of a model trained with --horizon >= --steps; recursive: predict, "
        "append the prediction to the inputs, repeat (any model that forecasts all its inputs); auto: direct "
        "when the steps fit the horizon. --interval adds conformal prediction intervals from the model's "
        "out-of-sample errors (lower/upper columns, a band in the plot). Writes forecast.csv and forecast.png "
        "into --out and prints the forecast.",
        epilog=PREDICT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    predictor.add_argument("model", type=existing_file, help="a model.rnnkit from `rnnkit forecast train`")
    predictor.add_argument("--csv", required=True, type=existing_file,
                           help="the history to continue, with the model's input columns")
    predictor.add_argument("--steps", required=True, type=positive_int, help="rows to forecast")
    predictor.add_argument("--method", type=one_of(*METHODS), default="auto",
                           help="auto, direct or recursive (default auto: direct when --steps <= the horizon)")
    predictor.add_argument("--interval", type=fraction,
                           help="add prediction intervals of this coverage, e.g. 0.8 (columns <target>_lower and "
                           "<target>_upper)")
    predictor.add_argument("--time-col", metavar="COL",
                           help="the time column of --csv (default: the one the model was trained with; '' for none)")
    predictor.add_argument("--out", help="folder for forecast.csv and forecast.png (default: the model's folder)")
    predictor.set_defaults(run=predict)
