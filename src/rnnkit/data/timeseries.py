"""Time series for forecasting: sliding windows, a chronological split, scalers, forecast metrics
and the naive baselines a forecaster has to beat.

Positions are row indices into the series. A window's *origin* `o` is the row of its first
predicted step: the window holds rows `o - window .. o - 1`, its targets rows `o .. o + horizon - 1`.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..checks import check_scalar

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = [
    "ChronologicalSplit",
    "diebold_mariano",
    "MinMaxScaler",
    "StandardScaler",
    "forecast_metrics",
    "get_scaler",
    "input_windows",
    "mae",
    "mape",
    "mase",
    "persistence_forecast",
    "rmse",
    "scaler_from_config",
    "seasonal_naive_forecast",
    "sliding_windows",
    "smape",
]


def sliding_windows(
    inputs: npt.ArrayLike, targets: npt.ArrayLike | None = None, window: int = 60, horizon: int = 1,
    origins: npt.ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cuts a series into (input window, targets ahead) pairs.

    Args:
        inputs: the input series, (time,) or (time, input_columns).
        targets: the target series, (time,) or (time, target_columns); default `inputs`.
        window: steps of input per sample.
        horizon: steps predicted per sample.
        origins: the rows of the first predicted step of each sample (see the module docstring);
            default every origin the series allows, `window .. time - horizon`.

    Returns:
        `(x, y)`: x of shape (samples, window, input_columns), y of shape (samples, horizon,
        target_columns), both float32.

    Raises:
        ValueError: the series is shorter than `window + horizon`, or an origin is out of range.

    Example:
        >>> x, y = sliding_windows(np.arange(10.0), window=3, horizon=2)
        >>> x.shape, y.shape
        ((6, 3, 1), (6, 2, 1))
        >>> x[0, :, 0], y[0, :, 0]
        (array([0., 1., 2.], dtype=float32), array([3., 4.], dtype=float32))
    """
    inputs = _as_columns(inputs, "inputs")
    targets = inputs if targets is None else _as_columns(targets, "targets")
    _check_window(window, horizon)
    if len(targets) != len(inputs):
        raise ValueError(f"inputs and targets must have the same length, got {len(inputs)} and {len(targets)}.")
    if len(inputs) < window + horizon:
        raise ValueError(f"a series of {len(inputs)} steps is too short for windows of {window} steps "
                         f"predicting {horizon} ahead (needs at least {window + horizon}); "
                         "use a smaller window or a longer series.")
    if origins is None:
        origins = np.arange(window, len(inputs) - horizon + 1)
    origins = np.asarray(origins, dtype=np.int64)
    if origins.size and (origins.min() < window or origins.max() > len(inputs) - horizon):
        raise ValueError(f"window origins must lie in [{window}, {len(inputs) - horizon}] for a series of "
                         f"{len(inputs)} steps, got {origins.min()}..{origins.max()}.")
    y = np.lib.stride_tricks.sliding_window_view(targets, horizon, axis=0)[origins].transpose(0, 2, 1)
    return input_windows(inputs, window, origins), y.astype(np.float32)


def input_windows(
    inputs: npt.ArrayLike, window: int, origins: npt.ArrayLike, dtype: npt.DTypeLike = np.float32
) -> np.ndarray:
    """The input windows alone, for origins up to `len(inputs)` (forecasting past the end).

    Args:
        inputs: the series, (time,) or (time, columns).
        window: steps per window.
        origins: the row after each window's last one, each in [window, time].
        dtype: of the result (float64 keeps large values exact before a window is normalised).

    Returns:
        (len(origins), window, columns) of `dtype`.

    Example:
        >>> input_windows(np.arange(5.0), window=2, origins=[5])[0, :, 0]
        array([3., 4.], dtype=float32)
    """
    inputs = _as_columns(inputs, "inputs")
    _check_window(window, 1)
    origins = np.asarray(origins, dtype=np.int64)
    if origins.size and (origins.min() < window or origins.max() > len(inputs)):
        raise ValueError(f"window origins must lie in [{window}, {len(inputs)}] for windows of {window} steps "
                         f"of a series of {len(inputs)} steps, got {origins.min()}..{origins.max()}.")
    starts = np.lib.stride_tricks.sliding_window_view(inputs, window, axis=0)  # (starts, columns, window)
    return starts[origins - window].transpose(0, 2, 1).astype(dtype)


class ChronologicalSplit:
    """Training, validation and test parts of a series, in time order: rows `[0, train_end)`,
    `[train_end, validation_end)` and `[validation_end, rows)`.

    A sample belongs to a part when all its predicted steps do; its input window may reach back
    into earlier parts (that past is known when forecasting), so no target is ever seen in
    training and then tested.

    Args:
        rows: the length of the series.
        train_end: the first row after the training part.
        validation_end: the first row of the test part.

    Example:
        >>> split = ChronologicalSplit.from_sizes(100, test_size=0.2, validation_size=0.1)
        >>> split.train_end, split.validation_end
        (70, 80)
        >>> split.origins("test", window=5, horizon=1)[:3]
        array([80, 81, 82])
    """

    PARTS = ("train", "validation", "test")

    def __init__(self, rows: int, train_end: int, validation_end: int) -> None:
        if not 0 < train_end <= validation_end <= rows:
            raise ValueError(f"expected 0 < train_end <= validation_end <= rows, got train_end={train_end}, "
                             f"validation_end={validation_end}, rows={rows}.")
        self.rows, self.train_end, self.validation_end = rows, train_end, validation_end

    @classmethod
    def from_sizes(cls, rows: int, test_size: float = 0.2, validation_size: float = 0.1) -> ChronologicalSplit:
        """The split with the last `test_size` rows for testing and the `validation_size` rows before
        them for validation; each size is a fraction of `rows` (a float in [0, 1)) or a row count."""
        test = _size_in_rows(test_size, rows, "test_size")
        validation = _size_in_rows(validation_size, rows, "validation_size")
        if test + validation >= rows:
            raise ValueError(f"test ({test} rows) and validation ({validation} rows) leave no training rows "
                             f"out of {rows}; use smaller sizes.")
        return cls(rows, rows - test - validation, rows - test)

    def rows_of(self, part: str) -> slice:
        """The rows of `part` ("train", "validation" or "test") as a slice."""
        bounds = {"train": (0, self.train_end), "validation": (self.train_end, self.validation_end),
                  "test": (self.validation_end, self.rows)}
        if part not in bounds:
            raise ValueError(f"unknown part {part!r}; choose from {', '.join(self.PARTS)}.")
        return slice(*bounds[part])

    def origins(self, part: str, window: int, horizon: int) -> np.ndarray:
        """The origins of the samples of `part` whose input window starts at row 0 or later."""
        _check_window(window, horizon)
        rows = self.rows_of(part)
        return np.arange(max(rows.start, window), rows.stop - horizon + 1, dtype=np.int64)

    def __repr__(self):
        return f"ChronologicalSplit(rows={self.rows}, train_end={self.train_end}, validation_end={self.validation_end})"


class _Scaler:
    """Per-column affine scaling `(x - offset) / scale`, fitted on training data only."""

    def __init__(self) -> None:
        self.offset = self.scale = None

    def fit(self, data: npt.ArrayLike) -> _Scaler:
        """Learns the statistics of each column of `data` (..., columns) over all other axes; returns self."""
        data = _as_columns(data, "data to fit", allow_batch=True)
        flat = data.reshape(-1, data.shape[-1])
        if flat.shape[0] == 0:
            raise ValueError(f"{type(self).__name__}.fit needs at least one row, got none.")
        self._fit(flat)
        return self

    def transform(self, data: npt.ArrayLike) -> np.ndarray:
        """Scales `data` (..., columns) with the fitted statistics."""
        data = self._checked(data)
        return ((data - self.offset) / self.scale).astype(np.result_type(data, np.float32))

    def inverse_transform(self, data: npt.ArrayLike) -> np.ndarray:
        """Undoes `transform`."""
        data = self._checked(data)
        return (data * self.scale + self.offset).astype(np.result_type(data, np.float32))

    def fit_transform(self, data: npt.ArrayLike) -> np.ndarray:
        """`fit(data)` then `transform(data)`."""
        return self.fit(data).transform(data)

    def _checked(self, data):
        if self.offset is None:
            raise ValueError(f"{type(self).__name__} is not fitted yet; call fit() on the training data first.")
        data = np.asarray(data)
        columns = self.offset.shape[0]
        if data.ndim == 0 or data.shape[-1] != columns:
            raise ValueError(f"{type(self).__name__} was fitted on {columns} columns, got data of shape "
                             f"{data.shape}; the last axis must hold the {columns} columns.")
        return data


class MinMaxScaler(_Scaler):
    """Scales each column linearly so that its training minimum and maximum map to `feature_range`.

    A constant column is shifted to the range's low end, not divided by zero. Values outside the
    training range (a price above its past maximum) map outside `feature_range`.

    Args:
        feature_range: (low, high), default (0, 1).

    Example:
        >>> scaler = MinMaxScaler().fit(np.array([[0.0], [5.0], [10.0]]))
        >>> scaler.transform(np.array([[2.5], [20.0]]))[:, 0]
        array([0.25, 2.  ])
    """

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0)) -> None:
        super().__init__()
        low, high = (float(v) for v in feature_range)
        if not low < high:
            raise ValueError(f"feature_range must be (low, high) with low < high, got {tuple(feature_range)}.")
        self.feature_range = (low, high)

    def _fit(self, flat):
        data_min, data_max = flat.min(axis=0), flat.max(axis=0)
        low, high = self.feature_range
        spread = np.where(data_max > data_min, data_max - data_min, 1.0)
        self.scale = spread / (high - low)
        self.offset = data_min - low * self.scale

    def get_config(self) -> dict[str, Any]:
        """A JSON-serializable dict (with the fitted statistics) that `scaler_from_config` restores."""
        return {"class_name": "MinMaxScaler", "feature_range": list(self.feature_range),
                **_statistics(self)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MinMaxScaler:
        return _restore(cls(config["feature_range"]), config)


class StandardScaler(_Scaler):
    """Scales each column to zero mean and unit variance over the training data (a constant column
    is only centred).

    Example:
        >>> scaler = StandardScaler().fit(np.array([[1.0], [3.0]]))
        >>> scaler.transform(np.array([[1.0], [3.0]]))[:, 0]
        array([-1.,  1.])
    """

    def _fit(self, flat):
        std = flat.std(axis=0)
        self.offset = flat.mean(axis=0)
        self.scale = np.where(std > 0, std, 1.0)

    def get_config(self) -> dict[str, Any]:
        """A JSON-serializable dict (with the fitted statistics) that `scaler_from_config` restores."""
        return {"class_name": "StandardScaler", **_statistics(self)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> StandardScaler:
        return _restore(cls(), config)


SCALERS = {"minmax": MinMaxScaler, "standard": StandardScaler}


def get_scaler(name: str) -> MinMaxScaler | StandardScaler:
    """A new, unfitted scaler: "minmax" or "standard"."""
    if name not in SCALERS:
        raise ValueError(f"unknown scaler {name!r}; choose from {', '.join(SCALERS)}.")
    return SCALERS[name]()


def scaler_from_config(config: dict[str, Any]) -> MinMaxScaler | StandardScaler:
    """The fitted scaler that `get_config()` described."""
    classes = {cls.__name__: cls for cls in SCALERS.values()}
    name = config.get("class_name") if isinstance(config, dict) else None
    if name not in classes:
        raise ValueError(f"not a scaler config: expected class_name in {sorted(classes)}, got {name!r}.")
    return classes[name].from_config(config)


def _statistics(scaler):
    if scaler.offset is None:
        raise ValueError(f"{type(scaler).__name__} is not fitted yet; nothing to save.")
    return {"offset": scaler.offset.tolist(), "scale": scaler.scale.tolist()}


def _restore(scaler, config):
    if "offset" in config:
        scaler.offset = np.asarray(config["offset"], dtype=np.float64)
        scaler.scale = np.asarray(config["scale"], dtype=np.float64)
    return scaler


def mae(actual: npt.ArrayLike, predicted: npt.ArrayLike) -> float:
    """Mean absolute error."""
    actual, predicted = _pair(actual, predicted)
    return float(np.mean(np.abs(predicted - actual)))


def rmse(actual: npt.ArrayLike, predicted: npt.ArrayLike) -> float:
    """Root mean squared error."""
    actual, predicted = _pair(actual, predicted)
    return float(np.sqrt(np.mean((predicted - actual) ** 2)))


def mape(actual: npt.ArrayLike, predicted: npt.ArrayLike) -> float:
    """Mean absolute percentage error, in percent; NaN when an actual value is 0 (undefined)."""
    actual, predicted = _pair(actual, predicted)
    if np.any(actual == 0):
        return float("nan")
    return float(100 * np.mean(np.abs((predicted - actual) / actual)))


def smape(actual: npt.ArrayLike, predicted: npt.ArrayLike) -> float:
    """Symmetric mean absolute percentage error, in percent (0 to 200); a step where both values
    are 0 counts as 0."""
    actual, predicted = _pair(actual, predicted)
    denominator = np.abs(actual) + np.abs(predicted)
    ratio = np.divide(2 * np.abs(predicted - actual), denominator, out=np.zeros_like(denominator),
                      where=denominator > 0)
    return float(100 * np.mean(ratio))


def mase(actual: npt.ArrayLike, predicted: npt.ArrayLike, training: npt.ArrayLike, season: int = 1) -> float:
    """Mean absolute scaled error: the MAE divided by the in-sample MAE of the (seasonal) naive
    forecast on `training` (Hyndman & Koehler, 2006). Below 1 beats that naive forecast on
    average; NaN when the training series is constant at that lag.

    Args:
        actual, predicted: the test values and forecasts (same shape).
        training: the training series (1-D) the scale comes from.
        season: the lag of the naive forecast (1 = persistence).
    """
    training = np.asarray(training, dtype=np.float64).ravel()
    check_scalar(season, "season", int, min_val=1)
    if len(training) <= season:
        raise ValueError(f"MASE needs a training series longer than the season ({season}), got {len(training)} values.")
    scale = np.mean(np.abs(training[season:] - training[:-season]))
    return mae(actual, predicted) / scale if scale > 0 else float("nan")


def forecast_metrics(
    actual: npt.ArrayLike, predicted: npt.ArrayLike, training: npt.ArrayLike, season: int = 1
) -> dict[str, float]:
    """MAE, RMSE, MAPE, sMAPE and MASE of one series' forecasts, as a dict (see each function)."""
    return {
        "mae": mae(actual, predicted),
        "rmse": rmse(actual, predicted),
        "mape": mape(actual, predicted),
        "smape": smape(actual, predicted),
        "mase": mase(actual, predicted, training, season),
    }


def diebold_mariano(errors_a: npt.ArrayLike, errors_b: npt.ArrayLike, horizon: int = 1) -> float:
    """The two-sided p-value of the Diebold-Mariano test that forecasts a and b are equally accurate
    under squared-error loss, with the small-sample correction of Harvey, Leybourne and Newbold (1997).

    The loss differences are taken per forecast (averaged over its steps) when there are at least 3
    forecasts, their autocovariances up to lag `horizon - 1` counted because overlapping forecasts share
    errors; with fewer forecasts, per step. The statistic is compared with a normal distribution.

    Args:
        errors_a, errors_b: forecast errors of the same targets, (forecasts, steps) or (steps,).
        horizon: the steps ahead of each forecast.

    Returns:
        The p-value in [0, 1]: small (e.g. < 0.05) means the accuracy differs; 1.0 when the losses
        are identical.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> diebold_mariano(rng.normal(0, 1, 200), rng.normal(0, 3, 200)) < 0.001
        True
    """
    a, b = _pair(errors_a, errors_b)
    differences = a ** 2 - b ** 2
    if differences.ndim == 2 and len(differences) >= 3:
        differences = differences.mean(axis=1)
    differences = differences.ravel()
    count = len(differences)
    mean = differences.mean()
    centred = differences - mean
    lags = min(horizon - 1, count - 1)
    variance = np.dot(centred, centred) / count
    variance += 2 * sum(np.dot(centred[lag:], centred[:-lag]) / count for lag in range(1, lags + 1))
    if not variance > 0:
        variance = np.dot(centred, centred) / count
    if not variance > 0:
        return 1.0 if mean == 0 else 0.0
    statistic = mean / math.sqrt(variance / count)
    correction = (count + 1 - 2 * horizon + horizon * (horizon - 1) / count) / count
    if correction > 0:
        statistic *= math.sqrt(correction)
    return float(math.erfc(abs(statistic) / math.sqrt(2)))


def persistence_forecast(series: npt.ArrayLike, origins: npt.ArrayLike, horizon: int = 1) -> np.ndarray:
    """The naive forecast "every future step equals the last known value".

    Args:
        series: the full series, (time,) or (time, columns).
        origins: the row of the first predicted step of each forecast.
        horizon: steps per forecast.

    Returns:
        (len(origins), horizon, columns).

    Example:
        >>> persistence_forecast(np.arange(5.0), origins=[2, 4], horizon=2)[:, :, 0]
        array([[1., 1.],
               [3., 3.]])
    """
    series = _as_columns(series, "series")
    origins = _checked_origins(origins, 1, series)
    return np.repeat(series[origins - 1][:, None, :], horizon, axis=1)


def seasonal_naive_forecast(series: npt.ArrayLike, origins: npt.ArrayLike, horizon: int, season: int) -> np.ndarray:
    """The naive forecast "every future step equals the value one season before it" (the last
    known one of its phase when the horizon exceeds the season).

    Args:
        series: the full series, (time,) or (time, columns).
        origins: the row of the first predicted step of each forecast.
        horizon: steps per forecast.
        season: the season length in steps (e.g. 7 for daily data with a weekly cycle).

    Returns:
        (len(origins), horizon, columns).

    Example:
        >>> seasonal_naive_forecast(np.array([1.0, 2, 3, 1, 2, 3]), origins=[6], horizon=4, season=3)[0, :, 0]
        array([1., 2., 3., 1.])
    """
    check_scalar(season, "season", int, min_val=1)
    series = _as_columns(series, "series")
    origins = _checked_origins(origins, season, series)
    steps = np.arange(horizon)
    rows = origins[:, None] + steps[None, :] - season * (steps[None, :] // season + 1)
    return series[rows]


def _checked_origins(origins, lookback, series):
    origins = np.asarray(origins, dtype=np.int64)
    if origins.size and (origins.min() < lookback or origins.max() > len(series)):
        raise ValueError(f"naive forecasts need {lookback} known step(s) before each origin and origins within "
                         f"the series of {len(series)} steps, got origins {origins.min()}..{origins.max()}.")
    return origins


def _as_columns(data, what, allow_batch=False):
    data = np.asarray(data, dtype=np.float64)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 and not (allow_batch and data.ndim > 2):
        raise ValueError(f"expected {what} of shape (time,) or (time, columns), got {data.shape}.")
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{what} hold NaN or infinite values; fill or drop the gaps first.")
    return data


def _pair(actual, predicted):
    actual = np.asarray(actual, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    if actual.shape != predicted.shape:
        raise ValueError(f"actual and predicted values must have the same shape, got {actual.shape} and "
                         f"{predicted.shape}.")
    if actual.size == 0:
        raise ValueError("no values to score.")
    return actual, predicted


def _check_window(window, horizon):
    for name, value in (("window", window), ("horizon", horizon)):
        check_scalar(value, name, int, min_val=1)


def _size_in_rows(size, rows, name):
    """A size given as a fraction of `rows` (a float below 1) or as a number of rows."""
    if isinstance(size, bool) or not isinstance(size, (int, float, np.integer, np.floating)) or size < 0:
        raise ValueError(f"{name} must be a fraction in [0, 1) or a number of rows, got {size!r}.")
    if isinstance(size, (float, np.floating)) and size < 1:
        return int(round(size * rows))
    if not float(size).is_integer():
        raise ValueError(f"{name} must be a fraction in [0, 1) or a whole number of rows, got {size}.")
    return int(size)
