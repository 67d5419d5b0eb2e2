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
import time
from dataclasses import dataclass, field

import numpy as np

from .. import Input, Sequential, optimizers
from ..data.tables import Table, write_csv
from ..data.timeseries import (ChronologicalSplit, StandardScaler, forecast_metrics, get_scaler, input_windows,
                               persistence_forecast, scaler_from_config, seasonal_naive_forecast)
from ..io.saving import load_model
from ..layers import GRU, LSTM, Dense, Dropout, SimpleRNN
from ..train.callbacks import EarlyStopping
from ..train.plotting import pyplot, save_figure
from ..utils import set_random_seed
from .outputs import RunDirectory

__all__ = ["CELLS", "METHODS", "PREDICT", "ForecastResult", "Forecaster", "as_table", "build_forecaster",
           "forecast", "plot_forecast", "plot_test_predictions", "train_forecaster", "write_forecast"]

CELLS = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}
PREDICT = ("change", "value")
METHODS = ("recursive", "direct")
TEST_PLOT = "test_predictions.png"
FORECAST_CSV = "forecast.csv"
FORECAST_PLOT = "forecast.png"


def as_table(data, what="data", names=None):
    """`data` as a `Table`: a Table as is, a dict of name -> 1-D array, or a NumPy array (1-D: one
    column; 2-D: rows x columns) whose columns are called `names` (default "value" for a 1-D array,
    "0", "1", ... for a 2-D one)."""
    if isinstance(data, Table):
        return data
    if isinstance(data, dict):
        return Table(data, source=what)
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

    def __init__(self, model):
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
        self.input_scaler = scaler_from_config(settings["input_scaler"])
        self.target_scaler = scaler_from_config(settings["target_scaler"])
        self.change_scaler = scaler_from_config(settings["change_scaler"]) if settings["change_scaler"] else None

    def predict_at(self, values, origins):
        """Forecasts from the windows ending just before `origins`.

        Args:
            values: the input columns (`self.inputs`, in that order), (time, inputs), in data units.
            origins: the row of the first predicted step of each forecast, each in [window, time].

        Returns:
            (len(origins), horizon, targets), in data units.
        """
        values = self._checked_values(values)
        origins = np.asarray(origins, dtype=np.int64)
        x = input_windows(self.input_scaler.transform(values), self.window, origins)
        outputs = self.model.predict(x, batch_size=256, verbose=0).astype(np.float64)
        outputs = outputs.reshape(len(origins), self.horizon, len(self.targets))
        if self.predict == "change":
            flat = outputs.reshape(len(origins), -1)
            changes = self.change_scaler.inverse_transform(flat).reshape(outputs.shape)
            outputs = self._last_scaled_targets(values, origins)[:, None, :] + changes
        return self.target_scaler.inverse_transform(outputs)

    def training_targets(self, values, origins):
        """What the network learns to output for `origins`: the scaled targets, or their standardized
        changes from the last known values. (time, inputs) -> (len(origins), horizon * targets)."""
        rows = origins[:, None] + np.arange(self.horizon)[None, :]
        scaled = self.target_scaler.transform(values[:, self._target_positions()])[rows]
        if self.predict == "change":
            scaled = scaled - self._last_scaled_targets(values, origins)[:, None, :]
        flat = scaled.reshape(len(origins), self.horizon * len(self.targets))
        return flat if self.change_scaler is None else self.change_scaler.transform(flat)

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

    def _last_scaled_targets(self, values, origins):
        return self.target_scaler.transform(values[origins - 1][:, self._target_positions()])

    def forecast(self, data, steps, method="recursive"):
        """Forecasts `steps` rows past the end of `data`; see the module function `forecast`."""
        if method not in METHODS:
            raise ValueError(f"unknown forecasting method {method!r}; choose from {', '.join(METHODS)}.")
        if not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps!r}.")
        table = as_table(data, names=self.inputs)
        table.require(self.inputs)
        if len(table) < self.window:
            raise ValueError(f"{table.source} has {len(table)} rows; the model needs the last {self.window} "
                             f"(its window) to forecast from.")
        values = table.values(self.inputs)
        if method == "direct":
            if steps > self.horizon:
                raise ValueError(
                    f"direct forecasting of {steps} steps needs a model trained with a horizon of {steps} or more "
                    f"(--horizon {steps}); this one predicts {self.horizon} step(s) ahead. Use the recursive "
                    "method or train with a longer horizon.")
            predicted = self.predict_at(values, [len(values)])[0, :steps]
        else:
            predicted = self._recursive(values, steps)
        times, time_column = _future_times(table, steps)
        return Table(dict(zip(self.targets, predicted.T)), time=times, time_column=time_column,
                     source=f"forecast of {table.source}")

    def _recursive(self, values, steps):
        extra = [name for name in self.inputs if name not in self.targets]
        if extra:
            raise ValueError(
                f"recursive forecasting feeds the predictions back as inputs, but this model also reads "
                f"{extra}, which it does not predict; use --method direct with a model trained with "
                f"--horizon >= the steps wanted.")
        history = values[-self.window:]
        predicted = []
        while sum(len(block) for block in predicted) < steps:
            block = self.predict_at(history, [len(history)])[0]
            predicted.append(block)
            history = np.concatenate([history, block])[-self.window:]
        return np.concatenate(predicted)[:steps]


def forecast(model, data, steps, method="recursive"):
    """Forecasts `steps` rows past the end of `data` with a model trained by `train_forecaster`.

    Args:
        model: the model, a path to its .rnnkit file, or a `Forecaster`.
        data: the history to continue (a `Table`, dict of columns or array) with the model's input
            columns; at least its last `window` rows are used.
        steps: how many rows to forecast.
        method: "recursive" feeds each prediction back as the newest input until `steps` rows
            exist (any model whose inputs are all targets); "direct" takes them from one output of a
            model trained with `horizon >= steps` (no feedback, so errors do not compound).

    Returns:
        A `Table` of the forecast target columns; its time column continues the data's at its most
        common spacing (or numbers the steps 1..steps when the data has no time).

    Raises:
        ValueError: for a model that is not a forecaster, missing columns, too little data, or a
            method the model cannot do (both explained in the message).

    Example:
        >>> forecast("runs/demo/model.rnnkit", read_csv("runs/demo/series.csv"), steps=30).columns
    """
    forecaster = model if isinstance(model, Forecaster) else Forecaster(model)
    return forecaster.forecast(data, steps, method=method)


def build_forecaster(window, inputs, outputs, cell="lstm", units=32, layers=1, dropout=0.0):
    """The forecasting network: `layers` stacked recurrent layers of `units` units (each followed by
    Dropout when `dropout` > 0, as in the seed tutorial) and a Dense layer of `outputs` values.

    Args:
        window: input steps; inputs: input columns; outputs: horizon x target columns.
        cell: "simple_rnn", "lstm" or "gru".

    Example:
        >>> build_forecaster(60, 1, 1, cell="lstm", units=50, layers=4, dropout=0.2).count_params()
        71051
    """
    if cell not in CELLS:
        raise ValueError(f"unknown recurrent layer {cell!r}; choose from {', '.join(CELLS)}.")
    for name, value in (("units", units), ("layers", layers)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}.")
    stack = [Input((window, inputs))]
    for i in range(layers):
        stack.append(CELLS[cell](units, return_sequences=i < layers - 1))
        if dropout:
            stack.append(Dropout(dropout))
    stack.append(Dense(outputs))
    return Sequential(stack, name="forecaster")


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
    def beats_baselines(self):
        """Whether the model's test RMSE is below every baseline's, for every target."""
        return all(self.metrics["beats"].values())

    def report(self):
        """The test metrics of the model beside the baselines, and a plain verdict, as text."""
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
                change = 100 * (model_rmse - other) / other if other else float("inf")
                verdict = "beats" if model_rmse < other else "does NOT beat"
                lines.append(f"  the model {verdict} {_label(name, m)}: RMSE {model_rmse:#.4g} vs {other:#.4g} "
                             f"({change:+.1f}%)")
        if not self.beats_baselines:
            lines.append("  a naive forecast is at least as good as the model here: try another window length, "
                         "more epochs or more data.")
        return "\n".join(lines)


def train_forecaster(data, targets=None, features=(), *, test_data=None, window=60, horizon=1, test_size=0.2,
                     validation_size=0.1, season=None, cell="lstm", units=32, layers=1, dropout=0.0,
                     predict="change", scaler="minmax", epochs=30, batch_size=32, learning_rate=1e-3,
                     restore_best=True, seed=0, out=None, resume=False, verbose="auto"):
    """Trains a recurrent forecaster and reports it on held-out, later data against naive baselines.

    Args:
        data: the series: a `Table` (e.g. from `read_csv`), a dict of name -> 1-D array, or a NumPy
            array (1-D, or 2-D rows x columns whose columns are named "0", "1", ...).
        targets: the columns to predict (names, or positions for arrays); default every column.
        features: other input columns, read but not predicted.
        test_data: a later stretch of the same series to test on (e.g. a second CSV); the windows
            of its first rows reach back into `data`. Without it the last `test_size` rows are the test.
        window: input steps per forecast. horizon: steps predicted per forecast.
        test_size, validation_size: fractions of the rows (floats below 1) or row counts; the
            validation rows come just before the test rows (just before the end of `data` when
            `test_data` is given, then `validation_size` is of `data`'s rows). 0 validation: none.
        season: the season length in rows, for the seasonal naive baseline and MASE (None: no
            seasonal baseline, MASE against persistence).
        cell: "simple_rnn", "lstm" or "gru". units, layers, dropout: see `build_forecaster`.
        predict: "change" (the change from the last known value; the default) or "value".
        scaler: "minmax" or "standard", fitted on the training rows.
        epochs, batch_size, learning_rate: training (Adam, mean squared error).
        restore_best: keep the weights of the epoch with the lowest validation loss.
        seed: random seed (same seed, same run).
        out: a folder for model.rnnkit, metrics.json, history.csv, history.png and
            test_predictions.png (None: write nothing).
        resume: continue the unfinished run in `out`.
        verbose: progress of `fit` (0, 1, 2 or "auto").

    Returns:
        A `ForecastResult`.

    Raises:
        ValueError: bad settings, missing columns, or too little data for the window, horizon,
            split or season (the message says which and what to change).

    Example:
        >>> series = np.sin(np.arange(1000) * 0.1) + 0.1 * np.random.randn(1000)
        >>> result = train_forecaster(series, window=30, season=63, epochs=5)
        >>> result.metrics["test"]["value"]["model"]["rmse"]
    """
    if predict not in PREDICT:
        raise ValueError(f"unknown prediction target {predict!r}; choose from {', '.join(PREDICT)}.")
    table = as_table(data)
    targets = _column_names(table, table.names if targets is None else targets, "target")
    features = _column_names(table, features, "feature")
    inputs = targets + [name for name in features if name not in targets]
    values, times, split = _series_and_split(table, inputs, test_data, test_size, validation_size)
    origins = {part: split.origins(part, window, horizon) for part in split.PARTS}
    _check_parts(origins, split, window, horizon, validation_size)
    if season is not None:
        if not isinstance(season, (int, np.integer)) or season < 1:
            raise ValueError(f"season must be a positive integer, got {season!r}.")
        if season > origins["test"][0]:
            raise ValueError(f"a season of {season} rows reaches before the first row for the first test forecast "
                             f"(row {origins['test'][0]}); use a shorter season or more rows before the test.")

    train_rows = values[split.rows_of("train")]
    target_positions = [inputs.index(name) for name in targets]
    settings = {
        "window": window, "horizon": horizon, "inputs": inputs, "targets": targets, "predict": predict,
        "input_scaler": get_scaler(scaler).fit(train_rows).get_config(),
        "target_scaler": get_scaler(scaler).fit(train_rows[:, target_positions]).get_config(),
        "change_scaler": None, "time_column": table.time_column,
    }
    set_random_seed(seed)
    model = build_forecaster(window, len(inputs), horizon * len(targets), cell, units, layers, dropout)
    model.assets["forecast"] = settings
    forecaster = Forecaster(model)  # with no change scaler yet: training_targets gives the raw changes
    if predict == "change":
        # Changes are standardized so that the network's outputs are of order 1 whatever the scale.
        changes = forecaster.training_targets(values, origins["train"])
        forecaster.change_scaler = StandardScaler().fit(changes)
        settings["change_scaler"] = forecaster.change_scaler.get_config()
    scaled = forecaster.input_scaler.transform(values)
    fitted = ("train", "validation")
    x = {part: input_windows(scaled, window, origins[part]) for part in fitted}
    y = {part: forecaster.training_targets(values, origins[part]).astype(np.float32) for part in fitted}

    model.compile(optimizer=optimizers.Adam(learning_rate=learning_rate), loss="mse")
    run = RunDirectory(out, resume=resume) if out is not None else None
    callbacks = run.training_callbacks() if run else []
    validation = (x["validation"], y["validation"]) if len(origins["validation"]) else None
    if validation and restore_best:
        # A patience of every epoch never stops training (a stopped run would keep its resume
        # backup); it only brings back the best epoch's weights at the end.
        callbacks.append(EarlyStopping(monitor="val_loss", patience=epochs, restore_best_weights=True))
    start = time.perf_counter()
    history = model.fit(x["train"], y["train"], batch_size=batch_size, epochs=epochs, validation_data=validation,
                        callbacks=callbacks, verbose=verbose)
    seconds = time.perf_counter() - start

    test_origins = origins["test"]
    steps = test_origins[:, None] + np.arange(horizon)[None, :]
    actual = values[:, target_positions][steps]
    predicted = forecaster.predict_at(values, test_origins)
    baselines = {"persistence": persistence_forecast(values[:, target_positions], test_origins, horizon)}
    if season is not None:
        baselines["seasonal_naive"] = seasonal_naive_forecast(values[:, target_positions], test_origins, horizon,
                                                              season)
    metrics = _metrics(actual, predicted, baselines, train_rows[:, target_positions], targets, season)
    metrics.update(
        task="forecast", targets=targets, features=[name for name in inputs if name not in targets],
        window=window, horizon=horizon, season=season, predict=predict, scaler=scaler,
        model=" -> ".join(_describe(layer) for layer in model.layers), params=model.count_params(),
        rows={"train": split.train_end, "validation": split.validation_end - split.train_end,
              "test": split.rows - split.validation_end},
        samples={part: len(origins[part]) for part in split.PARTS},
        epochs=len(history.history.get("loss", [])), train_seconds=round(seconds, 2),
    )
    test_time = times[steps] if times is not None else steps
    result = ForecastResult(model, history, metrics, actual, predicted, baselines, test_time)
    if run is not None:
        result.files = {
            "model": run.save_model(model),
            "metrics": run.write_metrics(metrics),
            "history": run.write_history(history),
            "history_plot": run.plot_history(history, title=f"forecaster of {', '.join(targets)}"),
            "test_plot": plot_test_predictions(result, run.file(TEST_PLOT)) if run.writes else run.file(TEST_PLOT),
        }
    return result


def plot_test_predictions(result, path):
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


def plot_forecast(history, predicted, path, targets=None, context=200):
    """Writes a PNG of the last `context` rows of `history` (a `Table`) followed by the forecast
    `predicted` (the `Table` that `forecast` returns), one panel per target. Returns the path."""
    plt = pyplot()
    targets = predicted.names if targets is None else targets
    shown = slice(max(0, len(history) - context), len(history))
    past_time = history.time[shown] if history.time is not None else np.arange(len(history))[shown]
    future_time = predicted.time if history.time is not None else len(history) - 1 + predicted.time
    fig, axes = plt.subplots(len(targets), 1, figsize=(10, 3.6 * len(targets)), squeeze=False)
    for ax, target in zip(axes[:, 0], targets):
        ax.plot(past_time, history[target][shown], color="black", label="history")
        ax.plot(future_time, predicted[target], marker=".", label=f"forecast, {len(predicted)} steps")
        ax.set_title(f"{target}: forecast")
        ax.grid(alpha=0.3)
        ax.legend()
    if history.time is not None and np.issubdtype(history.time.dtype, np.datetime64):
        fig.autofmt_xdate()
    fig.tight_layout()
    return save_figure(fig, path)


def write_forecast(predicted, path):
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
    """Per target: each forecaster's scores; and per baseline: whether the model beats it on every target."""
    mase_season = season or 1
    test = {}
    for column, target in enumerate(targets):
        scores = {"model": forecast_metrics(actual[..., column], predicted[..., column], training[:, column],
                                            mase_season)}
        for name, baseline in baselines.items():
            scores[name] = forecast_metrics(actual[..., column], baseline[..., column], training[:, column],
                                            mase_season)
        if actual.shape[1] > 1:
            errors = predicted[..., column] - actual[..., column]
            scores["model"]["rmse_by_step"] = np.sqrt(np.mean(errors ** 2, axis=0)).tolist()
        test[target] = scores
    beats = {name: all(test[t]["model"]["rmse"] < test[t][name]["rmse"] for t in targets) for name in baselines}
    return {"test": test, "beats": beats, "mase_season": mase_season}


def _future_times(table, steps):
    """The times of the `steps` rows after `table`, spaced by its most common step; or 1..steps."""
    if table.time is None or len(table.time) < 2:
        return np.arange(1, steps + 1), "step"
    spacings, counts = np.unique(np.diff(table.time), return_counts=True)
    spacing = spacings[np.argmax(counts)]
    return table.time[-1] + spacing * np.arange(1, steps + 1), table.time_column


def _describe(layer):
    size = getattr(layer, "units", getattr(layer, "rate", None))
    return f"{type(layer).__name__}({size})"


def _label(name, metrics):
    if name == "seasonal_naive":
        return f"seasonal naive ({metrics['season']})"
    return name


def _number(value):
    return "n/a" if value is None or not np.isfinite(value) else f"{value:#.4g}"
