"""Google's opening price, one day ahead, from the previous 60 days: the seed tutorial's check.

    .venv/bin/python examples/stock_prices.py                  # rnnkit's default forecaster (under a minute)
    .venv/bin/python examples/stock_prices.py --recipe both    # and the tutorial's model (minutes on 2 cores)
    .venv/bin/python examples/stock_prices.py --quick          # a smoke run of a few seconds

Data: ../shared/data/google_stock_train.csv (2012-2016) for training, google_stock_test.csv (the 20
trading days of January 2017) for testing; the windows of the first test days reach back into the
last 60 training days, as in the tutorial. The tutorial's model (4 stacked LSTM(50) with dropout
0.2 predicting the MinMax-scaled price, 100 epochs, batch 32) reaches a test RMSE of 28.9 in Keras;
persistence ("tomorrow's open = today's open") reaches 8.4. The goal: rnnkit's default recipe, the
one `rnnkit forecast train` uses without options, within 5% of persistence's RMSE or better.

The same run from the shell:

    rnnkit forecast train --csv ../shared/data/google_stock_train.csv \\
        --test-csv ../shared/data/google_stock_test.csv --target Open --time-col Date --window 60
"""
import argparse
import time
from pathlib import Path

from rnnkit.data import read_csv
from rnnkit.tasks.forecast import train_forecaster

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
GOAL = 1.05  # model RMSE / persistence RMSE
RECIPES = {
    "default": {},
    # The tutorial: no validation split, the last epoch's weights, the price itself as the output.
    "seed": {"units": 50, "layers": 4, "dropout": 0.2, "predict": "value", "scaler": "minmax", "members": 1,
             "epochs": 100, "batch_size": 32, "validation_size": 0, "restore_best": False, "patience": None},
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", choices=list(RECIPES) + ["both"], default="default",
                        help="default: rnnkit's default forecaster; seed: the tutorial's model (default default)")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write each run's model, metrics and plots under this folder")
    parser.add_argument("--quick", action="store_true", help="1 epoch on the last 300 training days: a smoke test")
    args = parser.parse_args(argv)

    train = read_csv(DATA / "google_stock_train.csv", columns=["Open"], time_column="Date")
    test = read_csv(DATA / "google_stock_test.csv", columns=["Open"], time_column="Date")
    if args.quick:
        train = train.rows(slice(-300, None))
    print(f"data: {len(train)} training days ({train.time[0]}..{train.time[-1]}), "
          f"{len(test)} test days ({test.time[0]}..{test.time[-1]})")

    failed = False
    for name in list(RECIPES) if args.recipe == "both" else [args.recipe]:
        settings = dict(RECIPES[name])
        if args.quick or args.epochs:
            settings["epochs"] = 1 if args.quick else args.epochs
        start = time.perf_counter()
        result = train_forecaster(train, ["Open"], test_data=test, window=60, horizon=1, seed=args.seed,
                                  out=None if args.out is None else Path(args.out) / name, verbose=0, **settings)
        scores = result.metrics["test"]["Open"]
        model, persistence = scores["model"]["rmse"], scores["persistence"]["rmse"]
        ratio = model / persistence
        verdict = ""
        if name == "default":
            reached = ratio <= GOAL
            failed |= not reached and not args.quick
            verdict = f"; goal (within 5% of persistence) {'reached' if reached else 'MISSED'}"
        members = result.metrics["members"]
        print(f"{name} recipe: {f'median of {members} x ' if members > 1 else ''}{result.metrics['model']}, "
              f"{result.metrics['scaler']} scaling, predicting the {result.metrics['predict']}, "
              f"{result.metrics['epochs']} epochs in {result.metrics['train_seconds']:.1f} s "
              f"(wall {time.perf_counter() - start:.1f} s)")
        print(f"  test RMSE {model:.2f} vs persistence {persistence:.2f} (ratio {ratio:.3f}){verdict}; "
              f"MAE {scores['model']['mae']:.2f} vs {scores['persistence']['mae']:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
