"""Time-series forecasting: windows of the past predict the next steps of one or more columns.

    >>> from rnnkit.data import read_csv
    >>> train = read_csv("google_stock_train.csv", columns=["Open"], time_column="Date")
    >>> test = read_csv("google_stock_test.csv", columns=["Open"], time_column="Date")
    >>> result = train_forecaster(train, targets=["Open"], test_data=test, window=60, out="runs/stock")
    >>> print(result.report())              # test metrics beside the naive baselines
    >>> forecast(result.model, train, steps=30).columns["Open"]

The data flow: the rows are split in time order (training, validation, test); the scalers are
fitted on the training rows only; windows of `window` rows predict `horizon` rows ahead. By
default the network predicts the *change* from the last known value, standardized: a forecaster
that has learned nothing then falls back on persistence ("tomorrow = today") instead of on an
average of the past, which on a trending series like a stock price is what separates a usable
forecast from one far off the mark. Everything needed to use the model again (columns, window,
scalers) is saved in `model.assets["forecast"]`.
"""
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import Input, Model, Sequential, optimizers
from ..checks import check_scalar
from ..models import InputLayer
from ..data.tables import Table, check_real, write_csv
from ..engine.native import one_thread
from ..data.timeseries import (ChronologicalSplit, StandardScaler, diebold_mariano, forecast_metrics, get_scaler,
                               input_windows, persistence_forecast, scaler_from_config, seasonal_naive_forecast)
from ..io.saving import load_model
from ..layers import GRU, LSTM, Concatenate, Dense, Dropout, SimpleRNN
from ..train.callbacks import EarlyStopping
from ..train.plotting import pyplot, save_figure
from .baselines import statistical_forecasts
from .runner import TaskRunner

__all__ = ["CELLS", "METHODS", "PREDICT", "SCALERS", "ForecastResult", "Forecaster", "as_table", "build_forecaster",
           "choose_defaults", "forecast", "plot_forecast", "plot_test_predictions", "train_forecaster",
           "write_forecast"]

CELLS = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}
PREDICT = ("change", "seasonal_change", "value")
SCALERS = ("window", "minmax", "standard")
METHODS = ("auto", "recursive", "direct")
SMALL_UNITS = 64  # recurrent layers up to this size train on one thread (see train_forecaster)
SIGNIFICANCE = 0.05  # the Diebold-Mariano p-value below which a difference is called a difference
TEST_PLOT = "test_predictions.png"
FORECAST_CSV = "forecast.csv"
FORECAST_PLOT = "forecast.png"
# Interval calibration (measured on benchmarks/forecast.py's series, README "Forecasting"): a step ahead
# with fewer held-out errors than this borrows those of its neighbouring steps, and a window's volatility
# counts as at least this fraction of the held-out windows' mean, so that a flat stretch neither
# divides an error by zero nor draws a zero-width interval.
POOLED_ERRORS = 20
SCALE_FLOOR = 0.1
# What the forecasting functions take as a series: a Table, columns by name, or an array (time,) or
# (time, columns)
SeriesData = Table | Mapping[str, np.ndarray] | np.ndarray


def as_table(data: SeriesData, what: str = "data", names: Sequence[str] | None = None) -> Table:
    """`data` as a `Table`: a Table as is, a dict of name -> 1-D array, or a NumPy array (1-D: one
    column; 2-D: rows x columns) whose columns are called `names` (default "value" for a 1-D array,
    "0", "1", ... for a 2-D one)."""
    if isinstance(data, Table):
        return data
    if isinstance(data, dict):
        return Table(data, source=what)
    check_real(data, what)
    try:
        array = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a Table, a dict of columns or a numeric array, "
                         f"got {type(data).__name__}.") from None
    columns = 1 if array.ndim == 1 else array.shape[-1]
    return Table.from_array(array, names=names if names is not None and len(names) == columns else None)


class Forecaster:
    """A trained forecasting model with its preprocessing, as `train_forecaster` saved it in
    `model.assets["forecast"]`.

    Args:
        model: the model (or a path to a .rnnkit file).

    Raises:
        ValueError: the model was not trained by `train_forecaster`.

    Example:
        >>> forecaster = Forecaster("runs/stock/model.rnnkit")
        >>> forecaster.targets, forecaster.window, forecaster.horizon
        (['Open'], 60, 1)
    """

    def __init__(self, model: Model | str | os.PathLike[str]) -> None:
        if not hasattr(model, "assets"):
            model = load_model(model, compile=False)
        settings = model.assets.get("forecast")
        if not isinstance(settings, dict):
            raise ValueError(f"model {model.name!r} is not a forecaster (its assets hold no 'forecast' settings); "
                             "train one with `rnnkit forecast train` or train_forecaster().")
        self.model = model
        self.settings = settings
        self.window = settings["window"]
        self.horizon = settings["horizon"]
        self.inputs = list(settings["inputs"])
        self.targets = list(settings["targets"])
        self.predict = settings["predict"]
        # models saved before window scaling, seasonal anchors and ensembles have none of these keys
        self.scaler = settings.get("scaler", "minmax")
        self.season = settings.get("season")
        self.members = settings.get("members", 1)
        self.input_scaler = scaler_from_config(settings["input_scaler"])
        self.target_scaler = scaler_from_config(settings["target_scaler"])
        self.change_scaler = scaler_from_config(settings["change_scaler"]) if settings["change_scaler"] else None
        residuals = settings.get("residuals")
        self.residuals = None if residuals is None else np.asarray(residuals, dtype=np.float64)
        # models saved before normalised intervals kept the errors alone (their intervals: in data units)
        scales = settings.get("residual_scales")
        self.residual_scales = None if scales is None else np.asarray(scales, dtype=np.float64)

    @property
    def lookback(self) -> int:
        """Rows of history one forecast needs: the window, or a season for seasonal anchors."""
        return max(self.window, self.season) if self.predict == "seasonal_change" else self.window

    def network_inputs(self, values: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """The network's input windows for `origins`: scaled globally, or with the "window" scaler each
        window minus its own last row, divided by the column's typical step, so that a level the
        training rows never reached looks like any other. (time, inputs) -> float32 (N, window, inputs)."""
        if self.scaler == "window":
            x = input_windows(values, self.window, origins, dtype=np.float64)  # (N, window, inputs)
            return ((x - x[:, -1:, :]) / self.input_scaler.scale).astype(np.float32)
        return input_windows(self.input_scaler.transform(values), self.window, origins)

    def predict_at(self, values: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """Forecasts from the windows ending just before `origins` (the median of the ensemble's members).

        Args:
            values: the input columns (`self.inputs`, in that order), (time, inputs), in data units.
            origins: the row of the first predicted step of each forecast, each in [lookback, time].

        Returns:
            (len(origins), horizon, targets), in data units.
        """
        values = self._checked_values(values)
        origins = np.asarray(origins, dtype=np.int64)
        outputs = self.model.predict(self.network_inputs(values, origins), batch_size=256, verbose=0)
        outputs = np.median(outputs.astype(np.float64).reshape(len(origins), self.members, -1), axis=1)
        if self.predict != "value":
            outputs = self.change_scaler.inverse_transform(outputs)
        outputs = outputs.reshape(len(origins), self.horizon, len(self.targets))
        if self.predict != "value":
            outputs = outputs + self._scaled_anchors(values, origins)
        return self.target_scaler.inverse_transform(outputs)

    def training_targets(self, values: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """What the network learns to output for `origins`: the scaled targets, or their standardized
        changes from the anchors (the last known values, or the values one season earlier).
        (time, inputs) -> (len(origins), horizon * targets)."""
        rows = origins[:, None] + np.arange(self.horizon)[None, :]
        scaled = self.target_scaler.transform(values[:, self._target_positions()])[rows]
        if self.predict != "value":
            scaled = scaled - self._scaled_anchors(values, origins)
        flat = scaled.reshape(len(origins), self.horizon * len(self.targets))
        return flat if self.change_scaler is None else self.change_scaler.transform(flat)

    def local_scales(self, values: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """The volatility each forecast's errors are measured in: per target, the mean absolute step
        over the input window ending just before each origin (1 for a window of one row, which has no
        step). (time, inputs) in data units -> (len(origins), targets)."""
        values = self._checked_values(values)
        if self.window < 2:
            return np.ones((len(origins), len(self.targets)))
        windows = input_windows(values[:, self._target_positions()], self.window, origins, dtype=np.float64)
        return np.mean(np.abs(np.diff(windows, axis=1)), axis=1)

    def interval_at(self, predicted: np.ndarray, level: float,
                    history: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Normalised conformal prediction intervals around `predicted` from the out-of-sample errors
        the model made on its validation and test parts (one forecast from every row). Each error is
        divided by the volatility of its input window (`local_scales`); per step ahead, the split-conformal
        (1 - level) / 2 and (1 + level) / 2 order statistics of those ratios, times the volatility of the
        window the forecast starts from, are added to the forecast, so that the band widens when the series
        moves more. A step with fewer than `POOLED_ERRORS` errors pools those of its neighbouring steps.
        Steps beyond the horizon (recursive forecasts) widen by the square root of the horizons chained.

        Args:
            predicted: the forecast, (steps, targets), in data units.
            level: the coverage wanted, in (0, 1), e.g. 0.8.
            history: the input columns the forecast started from, (time, inputs) with at least `window`
                rows; None: the median volatility of the held-out windows stands for the current one.

        Returns:
            (lower, upper), each (steps, targets), in data units.

        Raises:
            ValueError: a level outside (0, 1), a history shorter than the window, or a model that kept
                no errors (trained without validation and test parts, or saved before intervals existed).
        """
        check_scalar(level, "the interval level", float, min_val=0, max_val=1, include_boundaries="neither",
                     hint="e.g. 0.8")
        if self.residuals is None or not len(self.residuals):
            raise ValueError("this model kept no out-of-sample errors to draw intervals from; train it again with "
                             "a validation or test part (rnnkit forecast train --val-size ... --test-size ...).")
        errors, scale = self.residuals, np.ones(len(self.targets))
        if self.residual_scales is not None:
            floor = SCALE_FLOOR * np.mean(self.residual_scales, axis=0)
            floor = np.where(floor > 0, floor, 1.0)  # every held-out window flat: the errors stay in data units
            errors = errors / np.maximum(self.residual_scales, floor)[:, None, :]
            if history is None:
                scale = np.median(self.residual_scales, axis=0)
            elif len(history) < self.window:
                raise ValueError(f"the history has {len(history)} rows; the interval's volatility is measured over "
                                 f"the model's window of {self.window} rows.")
            else:
                scale = np.maximum(self.local_scales(history, [len(history)])[0], floor)
        bounds = np.stack([_conformal_bounds(_pooled_errors(errors, step), level) for step in range(self.horizon)])
        steps = np.arange(len(predicted))
        widen = np.sqrt(steps // self.horizon + 1)[:, None] * scale
        step = np.minimum(steps, self.horizon - 1)
        return predicted + widen * bounds[step, 0], predicted + widen * bounds[step, 1]

    def _scaled_anchors(self, values, origins):
        """What a change is measured from, scaled: (N, horizon, targets)."""
        targets = values[:, self._target_positions()]
        if self.predict == "seasonal_change":
            anchors = seasonal_naive_forecast(targets, origins, self.horizon, self.season)
        else:
            anchors = persistence_forecast(targets, origins, self.horizon)
        return self.target_scaler.transform(anchors)

    def _checked_values(self, values):
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2 or values.shape[1] != len(self.inputs):
            raise ValueError(f"expected the input columns {self.inputs} as an array (time, {len(self.inputs)}), "
                             f"got shape {values.shape}.")
        return values

    def _target_positions(self):
        return [self.inputs.index(name) for name in self.targets]

    def forecast(self, data: SeriesData, steps: int, method: str = "auto", interval: float | None = None) -> Table:
        """Forecasts `steps` rows past the end of `data`; see the module function `forecast`."""
        if method not in METHODS:
            raise ValueError(f"unknown forecasting method {method!r}; choose from {', '.join(METHODS)}.")
        check_scalar(steps, "steps", int, min_val=1)
        table = as_table(data, names=self.inputs)
        table.require(self.inputs)
        if len(table) < self.lookback:
            raise ValueError(f"{table.source} has {len(table)} rows; the model needs the last {self.lookback} "
                             f"(its window{' or season' if self.lookback > self.window else ''}) to forecast from.")
        values = table.values(self.inputs)
        _check_magnitude(values, table.source)
        if method == "auto":
            method = "direct" if steps <= self.horizon else "recursive"
        if method == "direct":
            if steps > self.horizon:
                raise ValueError(
                    f"direct forecasting of {steps} steps needs a model trained with a horizon of {steps} or more "
                    f"(--horizon {steps}); this one predicts {self.horizon} step(s) ahead. Use the recursive "
                    "method or train with a longer horizon.")
            predicted = self.predict_at(values, [len(values)])[0, :steps]
        else:
            predicted = self._recursive(values, steps)
        columns = dict(zip(self.targets, predicted.T))
        if interval is not None:
            lower, upper = self.interval_at(predicted, interval, values)
            for position, name in enumerate(self.targets):
                columns[f"{name}_lower"], columns[f"{name}_upper"] = lower[:, position], upper[:, position]
        times, time_column = _future_times(table, steps)
        return Table(columns, time=times, time_column=time_column, source=f"forecast of {table.source}")

    def _recursive(self, values, steps):
        extra = [name for name in self.inputs if name not in self.targets]
        if extra:
            raise ValueError(
                f"recursive forecasting feeds the predictions back as inputs, but this model also reads "
                f"{extra}, which it does not predict; use --method direct with a model trained with "
                f"--horizon >= the steps wanted.")
        history = values[-self.lookback:]
        predicted, count = [], 0
        while count < steps:  # a running count: summing the blocks each time made long forecasts quadratic
            block = self.predict_at(history, [len(history)])[0]
            predicted.append(block)
            count += len(block)
            history = np.concatenate([history, block])[-self.lookback:]
        return np.concatenate(predicted)[:steps]


def forecast(model: Forecaster | Model | str | os.PathLike[str], data: SeriesData, steps: int, method: str = "auto",
             interval: float | None = None) -> Table:
    """Forecasts `steps` rows past the end of `data` with a model trained by `train_forecaster`.

    Args:
        model: the model, a path to its .rnnkit file, or a `Forecaster`.
        data: the history to continue (a `Table`, dict of columns or array) with the model's input
            columns; at least its last `window` rows are used.
        steps: how many rows to forecast.
        method: "direct" takes them from one output of a model trained with `horizon >= steps` (no
            feedback, so errors do not compound); "recursive" feeds each prediction back as the newest
            input until `steps` rows exist (any model whose inputs are all targets); "auto" (default):
            direct when `steps <= horizon`, else recursive.
        interval: a coverage level such as 0.8 to add conformal prediction intervals, the columns
            `<target>_lower` and `<target>_upper` (see `Forecaster.interval_at`); None for none.

    Returns:
        A `Table` of the forecast target columns (and bounds); its time column continues the data's
        at its most common spacing (or numbers the steps 1..steps when the data has no time).

    Raises:
        ValueError: for a model that is not a forecaster, missing columns, too little data, or a
            method the model cannot do (both explained in the message).

    Example:
        >>> ahead = forecast("runs/demo/model.rnnkit", read_csv("runs/demo/series.csv"), steps=30, interval=0.8)
        >>> ahead.names
        ['value', 'value_lower', 'value_upper']
    """
    forecaster = model if isinstance(model, Forecaster) else Forecaster(model)
    return forecaster.forecast(data, steps, method=method, interval=interval)


def build_forecaster(window: int, inputs: int, outputs: int, cell: str = "lstm", units: int = 32, layers: int = 1,
                     dropout: float = 0.0, members: int = 1) -> Model:
    """The forecasting network: `layers` stacked recurrent layers of `units` units (each followed by
    Dropout when `dropout` > 0, as in the seed tutorial) and a Dense layer of `outputs` values; with
    `members` > 1, that many such networks side by side on the same input, their outputs concatenated
    into (batch, members * outputs): an ensemble trained in one fit (each member's loss gradient
    reaches only its own weights) whose median `Forecaster` takes.

    Args:
        window: input steps; inputs: input columns; outputs: horizon x target columns.
        cell: "simple_rnn", "lstm" or "gru". members: networks in the ensemble.

    Example:
        >>> build_forecaster(60, 1, 1, cell="lstm", units=50, layers=4, dropout=0.2).count_params()
        71051
    """
    if cell not in CELLS:
        raise ValueError(f"unknown recurrent layer {cell!r}; choose from {', '.join(CELLS)}.")
    for name, value in (("units", units), ("layers", layers), ("members", members)):
        check_scalar(value, name, int, min_val=1)
    check_scalar(dropout, "dropout", float, min_val=0, max_val=1, include_boundaries="left")

    def network():
        stack = []
        for i in range(layers):
            stack.append(CELLS[cell](units, return_sequences=i < layers - 1))
            if dropout:
                stack.append(Dropout(dropout))
        return stack + [Dense(outputs)]

    if members == 1:
        return Sequential([Input((window, inputs))] + network(), name="forecaster")
    source = Input((window, inputs))
    branches = []
    for _ in range(members):
        tensor = source
        for layer in network():
            tensor = layer(tensor)
        branches.append(tensor)
    return Model(source, Concatenate()(branches), name="forecaster")


@dataclass
class ForecastResult:
    """What `train_forecaster` returns.

    Attributes:
        model: the trained model (its preprocessing in `model.assets["forecast"]`).
        history: the `History` of `fit`.
        metrics: the report as written to metrics.json: sizes, settings, and per target the test
            MAE/RMSE/MAPE/sMAPE/MASE of the model and of each naive baseline, and which it beats.
        actual, predicted: the test targets and the model's forecasts, (samples, horizon, targets).
        baselines: the naive forecasts of the same test samples, by name.
        test_time: the time (or row) of each test sample's predicted steps, (samples, horizon).
        files: the files written, by name (empty without `out`).
    """

    model: object
    history: object
    metrics: dict
    actual: np.ndarray
    predicted: np.ndarray
    baselines: dict
    test_time: np.ndarray
    files: dict = field(default_factory=dict)

    @property
    def beats_baselines(self) -> bool:
        """Whether the model is significantly better (Diebold-Mariano) than every baseline, for every target."""
        return all(self.metrics["beats"].values())

    def report(self) -> str:
        """The test metrics of the model beside the baselines, and a plain verdict, as text: "beats" only
        when a Diebold-Mariano test on the squared errors says the difference is not noise."""
        m = self.metrics
        lines = []
        for target, scores in m["test"].items():
            lines.append(f"test: {m['samples']['test']} forecasts of {target!r}, {m['horizon']} step(s) ahead")
            lines.append(f"  {'':<22}{'MAE':>10}{'RMSE':>10}{'MAPE %':>10}{'sMAPE %':>10}{'MASE':>8}")
            for name, values in scores.items():
                lines.append(f"  {_label(name, m):<22}" + "".join(
                    f"{_number(values[key]):>{width}}" for key, width in
                    (("mae", 10), ("rmse", 10), ("mape", 10), ("smape", 10), ("mase", 8))))
            model_rmse = scores["model"]["rmse"]
            for name in scores:
                if name == "model":
                    continue
                other = scores[name]["rmse"]
                change = f"{100 * (model_rmse - other) / other:+.1f}%" if other else "n/a"
                p_value = m.get("p_values", {}).get(target, {}).get(name)
                verdict = _verdict(model_rmse, other, p_value)
                tested = f"; Diebold-Mariano {_p_value(p_value)}" if p_value is not None else ""
                lines.append(f"  the model {verdict} {_label(name, m)}: RMSE {model_rmse:#.4g} vs {other:#.4g} "
                             f"({change}{tested})")
        if not self.beats_baselines:
            lines.append("  the model is not clearly better than every baseline here: use the best baseline, or "
                         "try another window, more epochs or more data.")
        return "\n".join(lines)


def choose_defaults(rows: int, horizon: int = 1, season: int | None = None, test_rows: int | None = None,
                    window: int | None = None, test_size: int | float | None = None,
                    validation_size: int | float | None = None, batch_size: int | None = None) -> dict:
    """The settings `train_forecaster` derives from the series when they are not given.

    The test and validation parts are each a tenth of the rows but at least one horizon (so each holds
    a forecast of every step); the window covers two seasons (or two horizons, or 10 rows, whichever is
    longest) but leaves at least as many training forecasts as window rows; the batch is a quarter of
    the training forecasts, between 16 and 32, so that a short series still gets several steps an epoch.

    Args:
        rows: rows of the data; test_rows: rows of separate test data (then no test part is cut).
        horizon, season: as for `train_forecaster`. The other arguments: the user's choices (None:
            derive it).

    Returns:
        A dict with window, test_size, validation_size and batch_size, and "chosen": the names of
        those that were derived.

    Example:
        >>> choose_defaults(100, horizon=10)
        {'window': 20, 'test_size': 10, 'validation_size': 10, 'batch_size': 16, 'chosen': [...]}
    """
    chosen = []
    if test_size is None:
        test_size = 0 if test_rows is not None else max(horizon, round(0.1 * rows))
        chosen.append("test_size")
    if validation_size is None:
        validation_size = max(horizon, round(0.1 * rows))
        chosen.append("validation_size")
    test = test_size if test_rows is not None or isinstance(test_size, int) else round(test_size * rows)
    validation = validation_size if isinstance(validation_size, int) else round(validation_size * rows)
    train_rows = rows - (0 if test_rows is not None else test) - validation
    if window is None:
        wanted = max(2 * (season or 0), 2 * horizon, 10)
        # the training part keeps at least as many forecasts as the window has rows
        window = max(1, min(wanted, (train_rows - horizon + 1) // 2))
        chosen.append("window")
    if batch_size is None:
        batch_size = int(np.clip((train_rows - window - horizon + 1) // 4, 16, 32))
        chosen.append("batch_size")
    return {"window": window, "test_size": test_size, "validation_size": validation_size,
            "batch_size": batch_size, "chosen": chosen}


def train_forecaster(data: SeriesData, targets: Sequence[str | int] | None = None, features: Sequence[str | int] = (),
                     *, test_data: SeriesData | None = None, window: int | None = None, horizon: int = 1,
                     test_size: int | float | None = None, validation_size: int | float | None = None,
                     season: int | None = None, cell: str = "lstm", units: int = 32, layers: int = 1,
                     dropout: float = 0.0, predict: str = "change", scaler: str = "window", members: int = 5,
                     epochs: int = 100, patience: int | None = 20, batch_size: int | None = None,
                     learning_rate: float = 1e-3, restore_best: bool = True, statistical: bool = True, seed: int = 0,
                     out: str | os.PathLike[str] | None = None, resume: bool = False,
                     verbose: int | str = "auto") -> ForecastResult:
    """Trains a recurrent forecaster and reports it on held-out, later data against naive baselines.

    The default recipe does what the best recurrent forecasters do (DeepAR, N-BEATS, the M4
    winner): each input window is normalised by its own last value, the network predicts the
    change of all `horizon` steps at once from the last value, training stops early on the
    validation part, and the forecast is the median of an ensemble of `members` networks. A
    `season` makes the derived window span two seasons, so that the network sees the pattern.

    Args:
        data: the series: a `Table` (e.g. from `read_csv`), a dict of name -> 1-D array, or an
            array (time,) or (time, columns).
        targets: the columns to predict (names, or positions for arrays); default every column.
        features: other input columns, read but not predicted.
        test_data: a later stretch of the same series to test on (e.g. a second CSV); the windows
            of its first rows reach back into `data`. Without it the last `test_size` rows are the test.
        window: input steps per forecast. horizon: steps predicted per forecast.
        test_size, validation_size: fractions of the rows (floats below 1) or row counts; the
            validation rows come just before the test rows (just before the end of `data` when
            `test_data` is given, then `validation_size` is of `data`'s rows). 0 validation: none.
            Window, sizes and batch size left as None are derived by `choose_defaults` and listed
            in `metrics["chosen"]`.
        season: the season length in rows, for seasonal anchors, the seasonal naive baseline and
            MASE (None: no season, MASE against persistence).
        cell: "simple_rnn", "lstm" or "gru". units, layers, dropout, members: see `build_forecaster`.
        predict: "change" (from the last known value; the default, measured better than
            "seasonal_change" on every series of benchmarks/forecast.py), "seasonal_change" (from the
            value one season before each step; needs `season`) or "value".
        scaler: "window" (each window minus its last row, over the column's mean absolute step; the
            default), or "minmax" / "standard" fitted on the training rows.
        epochs, batch_size, learning_rate: training (Adam, mean squared error). patience: epochs
            without a better validation loss before training stops (None: never stop early).
        restore_best: keep the weights of the epoch with the lowest validation loss.
        statistical: also report AutoETS and AutoARIMA on the test part when statsforecast is
            installed (`rnnkit[forecast]`) and the season is at most 24 rows (`rnnkit.tasks.baselines`).
        seed: random seed (same seed, same run).
        out: a folder for model.rnnkit, metrics.json, history.csv, history.png and
            test_predictions.png (None: write nothing).
        resume: continue the unfinished run in `out`.
        verbose: progress of `fit` (0, 1, 2 or "auto").

    Returns:
        A `ForecastResult`.

    Raises:
        ValueError: bad settings, missing columns, a constant target, unordered or repeated times,
            values too large to score, or too little data for the window, horizon, split or season
            (the message says which and what to change).

    Example:
        >>> series = np.sin(np.arange(1000) * 0.1) + 0.1 * np.random.randn(1000)
        >>> result = train_forecaster(series, horizon=10, season=63, epochs=5)
        >>> result.metrics["test"]["value"]["model"]["rmse"]
    """
    if scaler not in SCALERS:
        raise ValueError(f"unknown scaler {scaler!r}; choose from {', '.join(SCALERS)}.")
    check_scalar(season, "season", int, min_val=1, or_none="no season")
    check_scalar(horizon, "horizon", int, min_val=1)
    table = as_table(data)
    targets = _column_names(table, table.names if targets is None else targets, "target")
    features = _column_names(table, features, "feature")
    inputs = targets + [name for name in features if name not in targets]
    test_rows = None if test_data is None else len(as_table(test_data, "test data", names=table.names))
    defaults = choose_defaults(len(table), horizon, season, test_rows, window, test_size, validation_size,
                               batch_size)
    window, test_size, validation_size, batch_size = (defaults[key] for key in
                                                      ("window", "test_size", "validation_size", "batch_size"))
    if predict not in PREDICT:
        raise ValueError(f"unknown prediction target {predict!r}; choose from {', '.join(PREDICT)}.")
    if predict == "seasonal_change" and season is None:
        raise ValueError("predict='seasonal_change' needs a season (--season).")
    if predict == "value" and scaler == "window":
        raise ValueError("predicting the value needs a scaler fitted on the training rows: use scaler 'minmax' or "
                         "'standard' (--scaler), or predict the change.")
    values, times, split = _series_and_split(table, inputs, test_data, test_size, validation_size)
    _check_series(values, times, inputs, targets, table.source)
    if season is not None and season > split.validation_end:
        raise ValueError(f"a season of {season} rows reaches before the first row for the first test forecast "
                         f"(row {split.validation_end}); use a shorter season or more rows before the test.")
    lookback = max(window, season) if predict == "seasonal_change" else window
    origins = {part: split.origins(part, lookback, horizon) for part in split.PARTS}
    _check_parts(origins, split, lookback, horizon, validation_size)

    train_rows = values[split.rows_of("train")]
    target_positions = [inputs.index(name) for name in targets]
    if scaler == "window":
        input_scaler = _step_scaler(train_rows)
        target_scaler = _step_scaler(train_rows[:, target_positions])
    else:
        input_scaler = get_scaler(scaler).fit(train_rows)
        target_scaler = get_scaler(scaler).fit(train_rows[:, target_positions])
    settings = {
        "window": window, "horizon": horizon, "inputs": inputs, "targets": targets, "predict": predict,
        "scaler": scaler, "season": season, "members": members,
        "input_scaler": input_scaler.get_config(), "target_scaler": target_scaler.get_config(),
        "change_scaler": None, "time_column": table.time_column, "residuals": None,
        "residual_scales": None,
    }
    runner = TaskRunner(out, resume=resume, seed=seed)
    model = build_forecaster(window, len(inputs), horizon * len(targets), cell, units, layers, dropout, members)
    model.assets["forecast"] = settings
    forecaster = Forecaster(model)  # with no change scaler yet: training_targets gives the raw changes
    if predict != "value":
        # Changes are standardized so that the network's outputs are of order 1 whatever the scale.
        changes = forecaster.training_targets(values, origins["train"])
        forecaster.change_scaler = StandardScaler().fit(changes)
        settings["change_scaler"] = forecaster.change_scaler.get_config()
    fitted = ("train", "validation")
    x = {part: forecaster.network_inputs(values, origins[part]) for part in fitted}
    # every member learns the same targets: (samples, members * horizon * targets)
    y = {part: np.tile(forecaster.training_targets(values, origins[part]), members).astype(np.float32)
         for part in fitted}

    model.compile(optimizer=optimizers.Adam(learning_rate=learning_rate), loss="mse")
    callbacks = []
    validation = (x["validation"], y["validation"]) if len(origins["validation"]) else None
    if validation and (restore_best or patience is not None):
        callbacks.append(EarlyStopping(monitor="val_loss", patience=epochs if patience is None else patience,
                                       restore_best_weights=restore_best))
    # The members are small networks side by side: every op is tiny however many weights they add up
    # to, so a second thread only adds the pool's fork and join (the demo's 8 epochs: 2.7 s on one
    # thread, 236 s on two of a 2-core machine that other jobs kept busy).
    with one_thread(units <= SMALL_UNITS):
        history = runner.fit(model, x["train"], y["train"], batch_size=batch_size, epochs=epochs,
                             validation_data=validation, callbacks=callbacks, verbose=verbose)

    test_origins = origins["test"]
    steps = test_origins[:, None] + np.arange(horizon)[None, :]
    actual = values[:, target_positions][steps]
    predicted = forecaster.predict_at(values, test_origins)
    # the errors on data the weights never fitted are what the prediction intervals are drawn from
    held_out = np.concatenate([origins["validation"], test_origins])
    held_out_steps = held_out[:, None] + np.arange(horizon)[None, :]
    residuals = values[:, target_positions][held_out_steps] - forecaster.predict_at(values, held_out)
    settings["residuals"] = residuals.tolist()
    forecaster.residuals = residuals
    forecaster.residual_scales = forecaster.local_scales(values, held_out)
    settings["residual_scales"] = forecaster.residual_scales.tolist()
    baselines = {"persistence": persistence_forecast(values[:, target_positions], test_origins, horizon)}
    if season is not None:
        baselines["seasonal_naive"] = seasonal_naive_forecast(values[:, target_positions], test_origins, horizon,
                                                              season)
    if statistical:
        baselines.update(_statistical_baselines(values[:, target_positions], test_origins, horizon, season))
    metrics = _metrics(actual, predicted, baselines, train_rows[:, target_positions], targets, season)
    metrics.update(
        task="forecast", targets=targets, features=[name for name in inputs if name not in targets],
        window=window, horizon=horizon, season=season, predict=predict, scaler=scaler, members=members,
        chosen={key: defaults[key] for key in defaults["chosen"]}, batch_size=batch_size,
        model=" -> ".join(_describe(layer) for layer in _first_member(model, members)),
        params=model.count_params(),
        rows={"train": split.train_end, "validation": split.validation_end - split.train_end,
              "test": split.rows - split.validation_end},
        samples={part: len(origins[part]) for part in split.PARTS},
        epochs=len(history.history.get("loss", [])), train_seconds=round(runner.seconds, 2),
    )
    test_time = times[steps] if times is not None else steps
    result = ForecastResult(model, history, metrics, actual, predicted, baselines, test_time)
    result.files = runner.finish(model, history, metrics, title=f"forecaster of {', '.join(targets)}",
                                 plots={"test_plot": (TEST_PLOT, lambda path: plot_test_predictions(result, path))})
    return result


def plot_test_predictions(result: ForecastResult, path: str | os.PathLike[str]) -> str:
    """Writes a PNG of the test part: actual values, the model's forecasts and the persistence
    forecasts, one panel per target (for a horizon above 1: the first and the last step ahead).
    Returns the path."""
    plt = pyplot()
    targets = result.metrics["targets"]
    horizon = result.actual.shape[1]
    fig, axes = plt.subplots(len(targets), 1, figsize=(10, 3.6 * len(targets)), squeeze=False)
    for column, (ax, target) in enumerate(zip(axes[:, 0], targets)):
        scores = result.metrics["test"][target]
        ax.plot(result.test_time[:, 0], result.actual[:, 0, column], color="black", label="actual")
        for step in sorted({0, horizon - 1}):
            ahead = f" ({step + 1} steps ahead)" if horizon > 1 else ""
            ax.plot(result.test_time[:, step], result.predicted[:, step, column], marker=".",
                    label=f"model{ahead}, RMSE {scores['model']['rmse']:.4g}")
        ax.plot(result.test_time[:, 0], result.baselines["persistence"][:, 0, column], linestyle="--",
                color="gray", label=f"persistence, RMSE {scores['persistence']['rmse']:.4g}")
        ax.set_title(f"{target}: test forecasts")
        ax.grid(alpha=0.3)
        ax.legend()
    if np.issubdtype(result.test_time.dtype, np.datetime64):
        fig.autofmt_xdate()
    fig.tight_layout()
    return save_figure(fig, path)


def plot_forecast(history: Table, predicted: Table, path: str | os.PathLike[str], targets: Sequence[str] | None = None,
                  context: int = 200) -> str:
    """Writes a PNG of the last `context` rows of `history` (a `Table`) followed by the forecast
    `predicted` (the `Table` that `forecast` returns; its interval bounds as a band), one panel per
    target. Returns the path."""
    plt = pyplot()
    if targets is None:
        targets = [name for name in predicted.names if not name.endswith(("_lower", "_upper"))]
    shown = slice(max(0, len(history) - context), len(history))
    past_time = history.time[shown] if history.time is not None else np.arange(len(history))[shown]
    future_time = predicted.time if history.time is not None else len(history) - 1 + predicted.time
    fig, axes = plt.subplots(len(targets), 1, figsize=(10, 3.6 * len(targets)), squeeze=False)
    for ax, target in zip(axes[:, 0], targets):
        ax.plot(past_time, history[target][shown], color="black", label="history")
        ax.plot(future_time, predicted[target], marker=".", label=f"forecast, {len(predicted)} steps")
        if f"{target}_lower" in predicted.names:
            ax.fill_between(future_time, predicted[f"{target}_lower"], predicted[f"{target}_upper"], alpha=0.25,
                            label="prediction interval")
        ax.set_title(f"{target}: forecast")
        ax.grid(alpha=0.3)
        ax.legend()
    if history.time is not None and np.issubdtype(history.time.dtype, np.datetime64):
        fig.autofmt_xdate()
    fig.tight_layout()
    return save_figure(fig, path)


def write_forecast(predicted: Table, path: str | os.PathLike[str]) -> str:
    """Writes a forecast `Table` to a CSV file (time column first), atomically. Returns the path."""
    return write_csv(path, predicted.columns, time=predicted.time, time_column=predicted.time_column)


def _column_names(table, names, what):
    if isinstance(names, (str, int, np.integer)):
        names = [names]
    resolved = []
    for name in names:
        if isinstance(name, (int, np.integer)) and not isinstance(name, bool):
            if not 0 <= name < len(table.names):
                raise ValueError(f"{what} column position {name} is out of range for {len(table.names)} columns.")
            name = table.names[name]
        resolved.append(name)
    table.require(resolved)
    if len(set(resolved)) != len(resolved):
        raise ValueError(f"{what} columns repeat: {resolved}.")
    if what == "target" and not resolved:
        raise ValueError("name at least one target column to forecast.")
    return resolved


def _series_and_split(table, inputs, test_data, test_size, validation_size):
    """The input columns of all rows (training data, then test data), their times, and the split."""
    values = table.values(inputs)
    times = table.time
    if test_data is None:
        return values, times, ChronologicalSplit.from_sizes(len(values), test_size, validation_size)
    test = as_table(test_data, "test data", names=table.names)
    test.require(inputs)
    if np.array_equal(test.values(inputs), values):  # without times, nothing else would tell
        raise ValueError(f"the test data {test.source} holds the same rows as {table.source}: its scores would "
                         f"measure recall, not forecasting; test on the rows that follow {table.source} in time.")
    if times is not None and test.time is not None:
        if test.time.dtype != times.dtype and not (np.issubdtype(test.time.dtype, np.datetime64)
                                                   and np.issubdtype(times.dtype, np.datetime64)):
            raise ValueError(f"the time columns of {table.source} and {test.source} are of different kinds "
                             f"({times.dtype} and {test.time.dtype}).")
        if test.time[0] <= times[-1]:
            raise ValueError(f"the test data {test.source} starts at {test.time[0]}, not after the end of "
                             f"{table.source} ({times[-1]}); the test must follow the training data in time.")
        times = np.concatenate([times, test.time])
    else:
        times = None
    validation = ChronologicalSplit.from_sizes(len(values), 0, validation_size)
    rows = len(values) + len(test)
    return np.concatenate([values, test.values(inputs)]), times, ChronologicalSplit(
        rows, validation.train_end, len(values))


def _check_parts(origins, split, window, horizon, validation_size):
    advice = "use a smaller --window or --horizon, or more data"
    if not len(origins["train"]):
        raise ValueError(f"the training part has {split.train_end} rows: too few for one window of {window} rows "
                         f"plus {horizon} ahead; {advice}.")
    if not len(origins["test"]):
        raise ValueError(f"the test part ({split.rows - split.validation_end} rows) is too short for a forecast "
                         f"{horizon} step(s) ahead; {advice}, or a larger test part.")
    if validation_size and not len(origins["validation"]):
        raise ValueError(f"the validation part ({split.validation_end - split.train_end} rows) is too short for a "
                         f"forecast {horizon} step(s) ahead; use a larger validation size, or 0 for none.")


def _metrics(actual, predicted, baselines, training, targets, season):
    """Per target: each forecaster's scores, and the Diebold-Mariano p-value of the model against each
    baseline; per baseline: whether the model is significantly better on every target."""
    mase_season = season or 1
    test, p_values = {}, {}
    horizon = actual.shape[1]
    for column, target in enumerate(targets):
        scores = {"model": forecast_metrics(actual[..., column], predicted[..., column], training[:, column],
                                            mase_season)}
        p_values[target] = {}
        for name, baseline in baselines.items():
            scores[name] = forecast_metrics(actual[..., column], baseline[..., column], training[:, column],
                                            mase_season)
            p_values[target][name] = diebold_mariano(predicted[..., column] - actual[..., column],
                                                     baseline[..., column] - actual[..., column], horizon)
        if horizon > 1:
            errors = predicted[..., column] - actual[..., column]
            scores["model"]["rmse_by_step"] = np.sqrt(np.mean(errors ** 2, axis=0)).tolist()
        test[target] = scores
    beats = {name: all(_verdict(test[t]["model"]["rmse"], test[t][name]["rmse"], p_values[t][name]) == "beats"
                       for t in targets) for name in baselines}
    return {"test": test, "beats": beats, "p_values": p_values, "mase_season": mase_season}


def _statistical_baselines(targets, origins, horizon, season):
    """AutoETS and AutoARIMA forecasts of every target, (N, horizon, targets) by name: those that all
    targets got (none without statsforecast)."""
    per_target = [statistical_forecasts(targets[:, column], origins, horizon, season)
                  for column in range(targets.shape[1])]
    names = [name for name in per_target[0] if all(name in forecasts for forecasts in per_target)]
    return {name: np.stack([forecasts[name] for forecasts in per_target], axis=-1) for name in names}


def _verdict(model_rmse, other_rmse, p_value):
    """"beats", "is worse than" or "is on par with": a difference counts only when the Diebold-Mariano
    test finds it significant (no p-value: any difference counts, as before the test existed)."""
    if model_rmse == other_rmse or (p_value is not None and not p_value < SIGNIFICANCE):
        return "is on par with"
    return "beats" if model_rmse < other_rmse else "is worse than"


def _pooled_errors(errors, step):
    """The errors (forecasts, horizon, targets) of `step` ahead, with those of the steps nearest to it
    on both sides while there are fewer than `POOLED_ERRORS`: (count, targets)."""
    horizon = errors.shape[1]
    reach = 0
    while len(errors) * (min(step + reach, horizon - 1) - max(step - reach, 0) + 1) < POOLED_ERRORS \
            and reach < horizon:
        reach += 1
    return errors[:, max(step - reach, 0):step + reach + 1].reshape(-1, errors.shape[2])


def _conformal_bounds(errors, level):
    """Split conformal: of n errors (n, targets), the floor((n + 1) a/2)-th and ceil((n + 1)(1 - a/2))-th
    smallest (a = 1 - level) bound a new exchangeable error with probability >= level; clipped to the
    extremes when n is too small for the level. Returns (2, targets): lower, upper."""
    ordered = np.sort(errors, axis=0)
    count = len(ordered)
    low = int(np.clip(np.floor((count + 1) * (1 - level) / 2), 1, count)) - 1
    high = int(np.clip(np.ceil((count + 1) * (1 + level) / 2), 1, count)) - 1
    return ordered[[low, high]]


def _step_scaler(rows):
    """The "window" scaler's statistics: no offset (each window is centred on its own last row) and,
    per column, the mean absolute step between training rows (1 for a column that never moves)."""
    steps = np.mean(np.abs(np.diff(rows, axis=0)), axis=0) if len(rows) > 1 else np.zeros(rows.shape[1])
    return StandardScaler.from_config({"offset": [0.0] * rows.shape[1],
                                       "scale": np.where(steps > 0, steps, 1.0).tolist()})


# Squares of larger values overflow float64 (RMSE, the MSE loss), so they are refused up front.
LARGEST = 1e150


def _check_magnitude(values, source):
    largest = np.max(np.abs(values)) if values.size else 0.0
    if largest > LARGEST:
        raise ValueError(f"{source} holds values up to {largest:.3g}, too large to score (their squares overflow); "
                         f"divide the column by a power of ten first (values up to {LARGEST:.0e} work).")


def _check_series(values, times, inputs, targets, source):
    """Refuses what no forecaster can learn from: values too large to square, a constant target, and
    times that are not strictly increasing (unordered or repeated rows)."""
    _check_magnitude(values, source)
    for position, name in enumerate(inputs):
        # compared as the network sees them: values differing only below float32's resolution
        # (-0 and 1e-320, say) are one constant to it
        column = values[:, position].astype(np.float32)
        if name in targets and np.all(column == column[0]):
            raise ValueError(f"the target {name!r} of {source} is constant ({values[0, position]:g} in every row): "
                             "there is nothing to learn, its forecast is that value.")
    if times is not None and len(times) > 1:
        bad = np.flatnonzero(times[1:] <= times[:-1])
        if bad.size:
            row = bad[0] + 1
            kind = "repeats" if times[row] == times[row - 1] else "goes back to"
            raise ValueError(f"the time column of {source} {kind} {times[row]} at data row {row + 1} (after "
                             f"{times[row - 1]}): sort the rows by time and drop duplicates first.")


def _future_times(table, steps):
    """The times of the `steps` rows after `table`, spaced by its most common step; or 1..steps."""
    if table.time is None or len(table.time) < 2:
        return np.arange(1, steps + 1), "step"
    spacings, counts = np.unique(np.diff(table.time), return_counts=True)
    spacing = spacings[np.argmax(counts)]
    return table.time[-1] + spacing * np.arange(1, steps + 1), table.time_column


def _first_member(model, members):
    """The layers of one network of the ensemble: the functional model lists them depth by depth, one
    per member at each depth."""
    layers = [layer for layer in model.layers if not isinstance(layer, (Concatenate, InputLayer))]
    return layers[::members]


def _describe(layer):
    size = getattr(layer, "units", getattr(layer, "rate", None))
    return f"{type(layer).__name__}({size})"


def _label(name, metrics):
    if name == "seasonal_naive":
        return f"seasonal naive ({metrics['season']})"
    return name


def _p_value(p_value):
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.2g}"


def _number(value):
    return "n/a" if value is None or not np.isfinite(value) else f"{value:#.4g}"
