"""rnnkit's default forecaster against the statistical baselines, on real public series nobody tuned for.

    .venv/bin/python benchmarks/forecast.py                      # the table (a few minutes on 2 cores)
    .venv/bin/python benchmarks/forecast.py --only co2 nile      # some series
    .venv/bin/python benchmarks/forecast.py --set members=1 --set window=24   # measure another recipe
    .venv/bin/python benchmarks/forecast.py --intervals 0.8      # coverage of the prediction intervals

Each series loses its last H points (H as in the M4 competition: yearly 6, quarterly 8, monthly 18, daily 14);
every contender sees only the rest. rnnkit runs its default recipe, exactly what
`rnnkit forecast train --horizon H --season S` followed by `rnnkit forecast predict --steps H` does
(the library defaults are the CLI's); statsforecast's AutoETS, AutoARIMA, SeasonalNaive and Naive run
in the same process. Scores: MASE per series (the MAE over the H held-out points divided by the
in-sample MAE of the seasonal naive forecast, as in M4; the lag-1 naive for yearly data), their
geometric mean, and the wall time of each contender (rnnkit on one thread).

Needs the benchmark-only packages statsmodels and statsforecast (`.venv/bin/pip install statsmodels
statsforecast`), which ship the data and the baselines; the rnnkit package does not depend on them.
"""
import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

try:
    import statsmodels.api as sm
    from statsforecast.models import AutoARIMA, AutoETS, Naive, SeasonalNaive
except ImportError as error:
    raise SystemExit(f"benchmarks/forecast.py needs statsmodels and statsforecast ({error}); install them with "
                     "`.venv/bin/pip install statsmodels statsforecast`.") from None

from rnnkit.data.tables import read_csv
from rnnkit.data.timeseries import mase
from rnnkit.tasks.forecast import Forecaster, forecast, train_forecaster

HORIZONS = {"yearly": (6, 1), "quarterly": (8, 4), "monthly": (18, 12), "daily": (14, 1)}  # (H, season), as M4
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _macro(column):
    return sm.datasets.macrodata.load_pandas().data[column].to_numpy(dtype=np.float64)


def _co2_monthly():
    weekly = sm.datasets.co2.load_pandas().data["co2"]
    return weekly.resample("MS").mean().interpolate().to_numpy(dtype=np.float64)


def _elnino():
    table = sm.datasets.elnino.load_pandas().data
    return table.drop(columns="YEAR").to_numpy(dtype=np.float64).ravel()


def _google_open():
    """Google's daily opening price 2012-2016 (trading days), from ../shared/data (see its README)."""
    return read_csv(SHARED_DATA / "google_stock_train.csv", columns=["Open"]).columns["Open"].astype(np.float64)


def _yearly(dataset, column):
    return getattr(sm.datasets, dataset).load_pandas().data[column].to_numpy(dtype=np.float64)


# name: (frequency, loader, what it shows)
SERIES = {
    "co2": ("monthly", _co2_monthly, "Mauna Loa CO2 1958-2001: trend and season"),
    "elnino": ("monthly", _elnino, "El Nino sea temperatures 1950-2010: season, no trend"),
    "realgdp": ("quarterly", lambda: _macro("realgdp"), "US real GDP 1959-2009: trend"),
    "cpi": ("quarterly", lambda: _macro("cpi"), "US consumer prices 1959-2009: trend"),
    "unemp": ("quarterly", lambda: _macro("unemp"), "US unemployment 1959-2009: cycles, no trend"),
    "infl": ("quarterly", lambda: _macro("infl"), "US inflation 1959-2009: noisy, no trend"),
    "sunspots": ("yearly", lambda: _yearly("sunspots", "SUNACTIVITY"), "sunspots 1700-2008: 11-year cycle"),
    "nile": ("yearly", lambda: _yearly("nile", "volume"), "Nile flow 1871-1970: level shift, noise"),
    "google": ("daily", _google_open, "Google's daily opening price 2012-2016: a random walk with drift"),
}


def baselines(season):
    return {
        "AutoETS": lambda: AutoETS(season_length=season),
        "AutoARIMA": lambda: AutoARIMA(season_length=season),
        "SeasonalNaive": lambda: SeasonalNaive(season_length=season),
        "Naive": lambda: Naive(),
    }


def rnnkit_forecast(train, horizon, season, settings, seed):
    result = train_forecaster(train, horizon=horizon, season=season if season > 1 else None, seed=seed,
                              verbose=0, **settings)
    return forecast(result.model, train, steps=horizon)["value"], result.metrics


def run(names, settings, seed):
    rows = []
    for name in names:
        frequency, load, _ = SERIES[name]
        horizon, season = HORIZONS[frequency]
        series = load()
        train, actual = series[:-horizon], series[-horizon:]
        row = {"series": name, "frequency": frequency, "length": len(series), "horizon": horizon, "season": season,
               "mase": {}, "seconds": {}}
        start = time.perf_counter()
        predicted, metrics = rnnkit_forecast(train, horizon, season, settings, seed)
        row["seconds"]["rnnkit"] = time.perf_counter() - start
        row["mase"]["rnnkit"] = mase(actual, predicted, train, season)
        row["recipe"] = {key: metrics[key] for key in ("window", "epochs", "members") if key in metrics}
        for contender, make in baselines(season).items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                predicted = make().fit(train).predict(h=horizon)["mean"]
            row["seconds"][contender] = time.perf_counter() - start
            row["mase"][contender] = mase(actual, predicted, train, season)
        rows.append(row)
        print(f"  {name:<11}" + "".join(f"{row['mase'][c]:>14.3f}" for c in row["mase"])
              + f"   rnnkit {row['seconds']['rnnkit']:.1f}s {row['recipe']}", flush=True)
    return rows


def interval_coverage(names, settings, seed, level, folds=4):
    """The empirical coverage and mean width of `level` prediction intervals: trained on all but the
    last `folds` x H rows (as `backtest_forecaster` does), the model forecasts H steps from every row
    of those, each with its interval; beside them the intervals of the same errors left in data units
    (not divided by their windows' volatility), as models saved before normalised intervals draw them."""
    rows = []
    for name in names:
        frequency, load, _ = SERIES[name]
        horizon, season = HORIZONS[frequency]
        series = load()
        first = len(series) - folds * horizon
        result = train_forecaster(series[:first], horizon=horizon, season=season if season > 1 else None, seed=seed,
                                  statistical=False, verbose=0, **settings)
        forecaster = Forecaster(result.model)
        origins = np.arange(first, len(series) - horizon + 1)
        actual = series[origins[:, None] + np.arange(horizon)]
        predicted = forecaster.predict_at(series, origins)[..., 0]
        row = {"series": name, "forecasts": len(origins), "errors": len(forecaster.residuals)}
        for method, scales in (("normalised", forecaster.residual_scales), ("data units", None)):
            forecaster.residual_scales = scales
            bounds = np.array([forecaster.interval_at(ahead[:, None], level, series[:origin])
                               for ahead, origin in zip(predicted, origins)])[..., 0]  # (origins, 2, horizon)
            inside = (actual >= bounds[:, 0]) & (actual <= bounds[:, 1])
            row[method] = (float(np.mean(inside)), float(np.mean(bounds[:, 1] - bounds[:, 0])))
        rows.append(row)
        print(f"  {name:<11} {row['forecasts']:>9} {row['errors']:>7}"
              + "".join(f"{row[m][0]:>12.0%} {row[m][1]:>9.4g}" for m in ("normalised", "data units")), flush=True)
    return rows


def geometric_mean(values):
    return float(np.exp(np.mean(np.log(values))))


def table(rows):
    contenders = list(rows[0]["mase"])
    lines = ["| series | frequency | length | H | " + " | ".join(contenders) + " |",
             "|---|---|---|---|" + "---|" * len(contenders)]
    for row in rows:
        lines.append(f"| {row['series']} | {row['frequency']} | {row['length']} | {row['horizon']} | "
                     + " | ".join(f"{row['mase'][c]:.3f}" for c in contenders) + " |")
    means = {c: geometric_mean([row["mase"][c] for row in rows]) for c in contenders}
    lines.append("| **geometric mean** | | | | " + " | ".join(f"**{means[c]:.3f}**" for c in contenders) + " |")
    lines.append("| wall time (s, all series) | | | | "
                 + " | ".join(f"{sum(row['seconds'][c] for row in rows):.1f}" for c in contenders) + " |")
    return "\n".join(lines), means


def goal(rows, means):
    """The issue's goal, as lines of text: geometric mean at or below AutoETS's and below 0.9 x the
    seasonal naive's, and each series where rnnkit is more than 10% worse than seasonal naive named."""
    lines = [f"goal: geometric-mean MASE {means['rnnkit']:.3f} <= AutoETS {means['AutoETS']:.3f}: "
             f"{'reached' if means['rnnkit'] <= means['AutoETS'] else 'MISSED'}",
             f"goal: {means['rnnkit']:.3f} < 0.9 x seasonal naive {0.9 * means['SeasonalNaive']:.3f}: "
             f"{'reached' if means['rnnkit'] < 0.9 * means['SeasonalNaive'] else 'MISSED'}"]
    worse = [f"{row['series']} ({row['mase']['rnnkit']:.3f} vs {row['mase']['SeasonalNaive']:.3f})" for row in rows
             if row["mase"]["rnnkit"] > 1.1 * row["mase"]["SeasonalNaive"]]
    lines.append("series more than 10% worse than seasonal naive: " + (", ".join(worse) if worse else "none"))
    return lines


def _setting(text):
    name, _, value = text.partition("=")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(SERIES), help="run these series (default all)")
    parser.add_argument("--set", action="append", type=_setting, default=[], metavar="NAME=VALUE",
                        help="a train_forecaster setting other than the default (a JSON value or a word)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--intervals", type=float, metavar="LEVEL",
                        help="measure the coverage of LEVEL (e.g. 0.8) prediction intervals instead of the MASE")
    args = parser.parse_args(argv)
    # One thread: these networks are small, and on a shared machine a second thread mostly spins.
    torch.set_num_threads(1)
    names = args.only or [name for name in SERIES if name != "google" or SHARED_DATA.is_dir()]
    settings = dict(args.set)
    print(f"forecast benchmark: {len(names)} series, rnnkit recipe: defaults"
          + (f" with {settings}" if settings else "") + f", seed {args.seed}")
    if args.intervals is not None:
        print(f"  {'series':<11} {'forecasts':>9} {'errors':>7} {'coverage':>12} {'width':>9} "
              f"{'(data units)':>12} {'width':>9}")
        rows = interval_coverage(names, settings, args.seed, args.intervals)
        print(f"  mean coverage: normalised {np.mean([row['normalised'][0] for row in rows]):.0%}, "
              f"data units {np.mean([row['data units'][0] for row in rows]):.0%} (nominal {args.intervals:.0%})")
        if args.json:
            with open(args.json, "w") as file:
                json.dump(rows, file, indent=1)
        return 0
    print(f"  {'series':<11}" + "".join(f"{c:>14}" for c in ["rnnkit", *baselines(1)]) + "   (MASE)")
    rows = run(names, settings, args.seed)
    text, means = table(rows)
    print(text)
    print("\n".join(goal(rows, means)))
    if args.json:
        with open(args.json, "w") as file:
            json.dump(rows, file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
