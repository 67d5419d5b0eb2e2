"""Rolling-origin evaluation (backtesting) of the forecaster against the baselines.

    >>> result = backtest_forecaster(read_csv("sales.csv", columns=["units"]), "units", folds=5, horizon=12,
    ...                              season=12, interval=0.8, out="runs/backtest")
    >>> print(result.report())

The last `folds * horizon` rows are cut into `folds` consecutive forecasts of `horizon` steps. The
forecaster is trained once on the rows before the first of them (with its own validation part for
early stopping and its own test part for the interval errors), then forecasts from each fold's
origin with the true history up to it, as it would be used; the statistical baselines are fitted once
on the same rows and slid the same way. Every contender is scored per fold and over all folds by MAE,
RMSE, sMAPE and MASE (scaled by the in-sample naive forecast at the season's lag), and the empirical
coverage of the model's prediction intervals is counted.
"""
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..checks import check_scalar
from ..data.tables import Table, write_csv
from ..data.timeseries import diebold_mariano, mae, mase, persistence_forecast, rmse, seasonal_naive_forecast, smape
from ..files import write_text_atomically
from ..train.plotting import pyplot, save_figure
from .baselines import statistical_forecasts
from .forecast import Forecaster, SeriesData, _label, _number, _p_value, _verdict, as_table, train_forecaster
from .outputs import _jsonable

__all__ = ["BacktestResult", "backtest_forecaster", "plot_backtest"]

BACKTEST_CSV = "backtest.csv"
BACKTEST_JSON = "backtest.json"
BACKTEST_PLOT = "backtest.png"
SCORES = ("mae", "rmse", "smape", "mase")


@dataclass
class BacktestResult:
    """What `backtest_forecaster` returns.

    Attributes:
        metrics: per fold and overall, each contender's MAE/RMSE/sMAPE/MASE; the model's interval
            coverage; the Diebold-Mariano p-value of the model against each baseline over all folds.
        actual: the true values, (folds, horizon). forecasts: each contender's, by name, same shape.
        lower, upper: the model's interval bounds (folds, horizon), or None without an interval.
        fold_time: the time (or row) of each forecast step, (folds, horizon).
        history: the series the folds are cut from, a `Table` of the target (and its time).
        training: the `ForecastResult` of the model trained before the first fold.
        files: the files written, by name (empty without `out`).
    """

    metrics: dict
    actual: np.ndarray
    forecasts: dict
    lower: np.ndarray
    upper: np.ndarray
    fold_time: np.ndarray
    history: Table
    training: object
    files: dict = field(default_factory=dict)

    def report(self) -> str:
        """Per fold and overall scores of every contender, the interval coverage and a plain verdict."""
        m = self.metrics
        lines = [f"backtest: {m['folds']} folds of {m['horizon']} step(s) of {m['target']!r}, from row "
                 f"{m['first_origin']}, the model trained once on the rows before"]
        header = f"  {'':<22}" + "".join(f"{name.upper() if name != 'smape' else 'sMAPE %':>10}" for name in SCORES)
        for fold, scores in enumerate(m["per_fold"]):
            lines.append(f"fold {fold + 1} (from {m['fold_starts'][fold]})")
            lines.append(header)
            lines += [f"  {_label(name, m):<22}" + "".join(f"{_number(values[key]):>10}" for key in SCORES)
                      for name, values in scores.items()]
        lines.append("overall")
        lines.append(header)
        lines += [f"  {_label(name, m):<22}" + "".join(f"{_number(values[key]):>10}" for key in SCORES)
                  for name, values in m["overall"].items()]
        model_rmse = m["overall"]["model"]["rmse"]
        for name, p_value in m["p_values"].items():
            other = m["overall"][name]["rmse"]
            lines.append(f"  the model {_verdict(model_rmse, other, p_value)} {_label(name, m)}: RMSE "
                         f"{model_rmse:#.4g} vs {other:#.4g} (Diebold-Mariano {_p_value(p_value)})")
        if m["interval"] is not None:
            lines.append(f"  {m['interval']:.0%} prediction intervals covered {m['coverage']:.0%} of the "
                         f"{m['folds'] * m['horizon']} actual values")
        return "\n".join(lines)


def backtest_forecaster(data: SeriesData, target: str | int | Sequence[str | int] | None = None,
                        features: Sequence[str | int] = (), *, folds: int = 5, horizon: int = 1,
                        season: int | None = None, interval: float | None = 0.8,
                        out: str | os.PathLike[str] | None = None, verbose: int | str = 0,
                        **settings: Any) -> BacktestResult:
    """Rolling-origin evaluation of `train_forecaster`'s recipe (see the module docstring).

    Args:
        data: the series (a `Table`, dict of columns or array) with the target and feature columns.
        target: the one column to forecast (name or position; default the only or first column).
        features: other input columns, as for `train_forecaster`.
        folds: forecasts to score, each `horizon` steps, ending at the last row.
        horizon, season: as for `train_forecaster`.
        interval: the coverage level of the model's prediction intervals (None: none).
        out: a folder for the trained model's files and backtest.json, backtest.csv, backtest.png.
        verbose: progress of the training.
        settings: other `train_forecaster` arguments (window, units, members, epochs, ...).

    Returns:
        A `BacktestResult`.

    Raises:
        ValueError: fewer than 1 fold, more than one target, or too few rows before the folds to
            train on (the message says how many there are).

    Example:
        >>> result = backtest_forecaster(np.sin(np.arange(400) * 0.2), folds=4, horizon=10, season=31)
        >>> result.metrics["overall"]["model"]["mase"], result.metrics["coverage"]
    """
    check_scalar(folds, "folds", int, min_val=1)
    check_scalar(horizon, "horizon", int, min_val=1)
    check_scalar(interval, "the interval level", float, min_val=0, max_val=1, include_boundaries="neither",
                 hint="e.g. 0.8", or_none="no intervals")
    table = as_table(data)
    if isinstance(target, (list, tuple)):
        if len(target) != 1:
            raise ValueError(f"a backtest scores one target column at a time, got {len(target)}: {list(target)}.")
        target = target[0]
    target = table.names[0] if target is None else target
    if isinstance(target, (int, np.integer)):
        target = table.names[target]
    first_origin = len(table) - folds * horizon
    if first_origin < 2 * horizon:
        raise ValueError(f"{folds} folds of {horizon} step(s) leave {max(first_origin, 0)} of {len(table)} rows to "
                         "train on; use fewer --folds or a shorter --horizon.")
    training = train_forecaster(table.rows(slice(0, first_origin)), [target], features, horizon=horizon,
                                season=season, out=out, verbose=verbose, **settings)
    forecaster = Forecaster(training.model)
    values = table.values(forecaster.inputs)
    series = table.values([target])[:, 0]
    origins = first_origin + horizon * np.arange(folds)
    steps = origins[:, None] + np.arange(horizon)[None, :]
    actual = series[steps]
    forecasts = {"model": forecaster.predict_at(values, origins)[..., 0],
                 "persistence": persistence_forecast(series, origins, horizon)[..., 0]}
    if season is not None:
        forecasts["seasonal_naive"] = seasonal_naive_forecast(series, origins, horizon, season)[..., 0]
    forecasts.update(statistical_forecasts(series, origins, horizon, season))
    lower = upper = None
    if interval is not None:
        bounds = [forecaster.interval_at(predicted[:, None], interval, values[:origin])
                  for predicted, origin in zip(forecasts["model"], origins)]
        lower = np.stack([low[:, 0] for low, _ in bounds])
        upper = np.stack([high[:, 0] for _, high in bounds])
    training_rows = series[:first_origin]
    lag = season or 1

    def scores(actual_part, predicted_part):
        return {"mae": mae(actual_part, predicted_part), "rmse": rmse(actual_part, predicted_part),
                "smape": smape(actual_part, predicted_part), "mase": mase(actual_part, predicted_part,
                                                                          training_rows, lag)}

    times = table.time if table.time is not None else np.arange(len(table))
    metrics = {
        "task": "backtest", "target": target, "folds": folds, "horizon": horizon, "season": season,
        "first_origin": int(first_origin), "fold_starts": [str(times[origin]) for origin in origins],
        "interval": interval,
        "per_fold": [{name: scores(actual[fold], predicted[fold]) for name, predicted in forecasts.items()}
                     for fold in range(folds)],
        "overall": {name: scores(actual, predicted) for name, predicted in forecasts.items()},
        "p_values": {name: diebold_mariano(forecasts["model"] - actual, predicted - actual, horizon)
                     for name, predicted in forecasts.items() if name != "model"},
        "coverage": None if lower is None else float(np.mean((actual >= lower) & (actual <= upper))),
        "recipe": {key: training.metrics[key] for key in ("window", "predict", "scaler", "members", "model")},
    }
    history = Table({target: series}, time=table.time, time_column=table.time_column or "step", source=table.source)
    result = BacktestResult(metrics, actual, forecasts, lower, upper, times[steps], history, training)
    if out is not None:
        result.files = dict(training.files)
        result.files["backtest"] = os.path.join(out, BACKTEST_JSON)
        write_text_atomically(result.files["backtest"],
                              json.dumps(_jsonable(metrics), indent=2, allow_nan=False) + "\n")
        columns = {"fold": np.repeat(np.arange(1, folds + 1), horizon), "actual": actual.ravel()}
        columns.update({name: predicted.ravel() for name, predicted in forecasts.items()})
        if lower is not None:
            columns.update(model_lower=lower.ravel(), model_upper=upper.ravel())
        result.files["backtest_csv"] = write_csv(os.path.join(out, BACKTEST_CSV), columns, time=times[steps].ravel(),
                                                 time_column=table.time_column or "step")
        result.files["backtest_plot"] = plot_backtest(result, os.path.join(out, BACKTEST_PLOT))
    return result


def plot_backtest(result: BacktestResult, path: str | os.PathLike[str], context: int = 3) -> str:
    """Writes a PNG of the backtest: the series (from `context` fold lengths before the first fold),
    each fold's model forecast with its interval band, and the best baseline's forecasts. Returns the path."""
    plt = pyplot()
    m = result.metrics
    series = result.history[m["target"]]
    times = result.history.time if result.history.time is not None else np.arange(len(series))
    shown = slice(max(0, m["first_origin"] - context * m["folds"] * m["horizon"]), len(series))
    baselines = {name: values for name, values in m["overall"].items() if name != "model"}
    best = min(baselines, key=lambda name: baselines[name]["rmse"])
    fig, ax = plt.subplots(figsize=(11, 4.2))
    ax.plot(times[shown], series[shown], color="black", label="actual")
    for fold in range(m["folds"]):
        first = fold == 0
        if result.lower is not None:
            ax.fill_between(result.fold_time[fold], result.lower[fold], result.upper[fold], color="tab:blue",
                            alpha=0.2, label=f"{m['interval']:.0%} interval" if first else None)
        ax.plot(result.fold_time[fold], result.forecasts["model"][fold], color="tab:blue", marker=".",
                label=f"model, RMSE {m['overall']['model']['rmse']:.4g}" if first else None)
        ax.plot(result.fold_time[fold], result.forecasts[best][fold], color="tab:orange", linestyle="--",
                label=f"{_label(best, m)}, RMSE {baselines[best]['rmse']:.4g}" if first else None)
        ax.axvline(result.fold_time[fold][0], color="gray", alpha=0.3)
    ax.set_title(f"{m['target']}: backtest, {m['folds']} folds of {m['horizon']} step(s)")
    ax.grid(alpha=0.3)
    ax.legend()
    if np.issubdtype(np.asarray(times).dtype, np.datetime64):
        fig.autofmt_xdate()
    fig.tight_layout()
    return save_figure(fig, path)
