"""Keras 3 metrics on torch tensors: stateful objects with `update_state(y_true, y_pred, sample_weight=None)`,
`result()` and `reset_state()`.

State lives in float32 tensors on the device of the predictions (moved there on the first update) and every
update is tensor arithmetic, so a training loop can update metrics each batch without waiting for the device;
`result()` returns a 0-d tensor (call `float()` on it to read it, which is when the host waits).

Mean-style metrics (accuracies, mae, mse, mape) average one value per sample: a per-sample function gives values
of shape `(batch, ...)`, each sample's values are averaged, and samples are weighted by `sample_weight`, as
Keras's `MeanMetricWrapper` does. Precision, Recall and AUC accumulate weighted confusion counts.
"""
from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..checks import check_scalar
from ..layers.base import snake_case
from ..layers.serialization import ConfigObject
from ..ops import ArrayLike
from . import losses
from .losses import align_pair, as_float_tensor, divide_no_nan, squeeze_or_expand_to_same_rank

STATE_DTYPE = torch.float32


class Metric(ConfigObject):
    """Base class of stateful metrics.

    Subclasses create their accumulators with `add_state` in `__init__` and implement `update_state` and
    `result`; `reset_state` zeroes every accumulator.

    Args:
        name: the metric's name (the key in training logs).
    """

    def __init__(self, name: str | None = None) -> None:
        self.name = name or snake_case(type(self).__name__)
        self._state_names = []

    def add_state(self, name: str, shape: tuple[int, ...] = ()) -> None:
        """Creates a zero accumulator `self.<name>` of `shape`."""
        setattr(self, name, torch.zeros(shape, dtype=STATE_DTYPE))
        self._state_names.append(name)

    def _move_state_to(self, device):
        """Moves the accumulators to `device` (once, when the first batch arrives from there)."""
        if getattr(self, self._state_names[0]).device != device:
            for name in self._state_names:
                setattr(self, name, getattr(self, name).to(device))

    def update_state(self, y_true: ArrayLike, y_pred: ArrayLike, sample_weight: ArrayLike | None = None) -> None:
        """Accumulates the statistics of one batch."""
        raise NotImplementedError

    def result(self) -> torch.Tensor:
        """The metric over everything accumulated since the last reset, as a 0-d tensor."""
        raise NotImplementedError

    def reset_state(self) -> None:
        """Zeroes the accumulators (start of an epoch)."""
        for name in self._state_names:
            getattr(self, name).zero_()

    def __call__(self, *args, **kwargs) -> torch.Tensor:
        """Updates with one batch and returns the result so far."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, so that `type(metric)(**metric.get_config())` rebuilds the metric."""
        return {"name": self.name}



# ------------------------------------------------------------------------------------------ mean metrics
class Mean(Metric):
    """The (weighted) mean of the values given to `update_state(values, sample_weight=None)`.

    Values of shape `(batch, ...)` count as one value per sample (the mean of each sample's entries); with
    `sample_weight` each sample counts by its weight. A weight of shape `(batch, time)` weighs each entry of
    `(batch, time)` values.

    Args:
        name: the metric's name.

    Example:
        >>> m = Mean()
        >>> m.update_state([1., 3., 5., 7.], sample_weight=[1., 1., 0., 0.])
        >>> float(m.result())
        2.0
    """

    def __init__(self, name: str = "mean") -> None:
        super().__init__(name=name)
        self.add_state("total")
        self.add_state("count")

    @torch.no_grad()
    def update_state(self, values: ArrayLike, sample_weight: ArrayLike | None = None) -> None:
        """Adds the batch's weighted per-sample means to the total and its weight (or size) to the count."""
        if (isinstance(values, torch.Tensor) and values.ndim == 0 and values.dtype == STATE_DTYPE
                and isinstance(sample_weight, float)):
            # One value and a Python weight (the batch loss and the batch size, at every training step):
            # the same two sums in float32 as below, without its six tensor operations around them.
            self._move_state_to(values.device)
            self.total += values * sample_weight
            self.count += sample_weight
            return
        values = as_float_tensor(values).detach().to(STATE_DTYPE)
        self._move_state_to(values.device)
        if sample_weight is None:
            if values.ndim > 1:
                values = values.mean(dim=tuple(range(1, values.ndim)))
            self.total += values.sum()
            self.count += values.shape[0] if values.ndim else 1
            return
        weight = as_float_tensor(sample_weight, device=values.device, dtype=STATE_DTYPE)
        received, values_shape = weight.shape, values.shape
        values, weight = squeeze_or_expand_to_same_rank(values, weight)
        if values.ndim > weight.ndim:
            values = values.mean(dim=tuple(range(weight.ndim, values.ndim)))
        try:
            weight = torch.broadcast_to(weight, values.shape)
        except RuntimeError:
            raise losses.sample_weight_error(self.name, received, values_shape) from None
        values = values * weight
        if values.ndim > 1:
            values = values.mean(dim=tuple(range(1, values.ndim)))
            weight = weight.mean(dim=tuple(range(1, weight.ndim)))
        self.total += values.sum()
        self.count += weight.sum()

    def result(self) -> torch.Tensor:
        """total / count (0 before any update)."""
        return divide_no_nan(self.total, self.count)


class MeanMetricWrapper(Mean):
    """The mean over samples of a function `fn(y_true, y_pred, **kwargs)` that returns per-sample values.

    Args:
        fn: the per-sample function. name: defaults to fn's name. **kwargs: passed to fn.
    """

    def __init__(self, fn: Callable[..., torch.Tensor], name: str | None = None, **kwargs) -> None:
        super().__init__(name=name or getattr(fn, "__name__", None) or type(fn).__name__)
        self.fn = fn
        self.fn_kwargs = kwargs

    @torch.no_grad()
    def update_state(self, y_true: ArrayLike, y_pred: ArrayLike, sample_weight: ArrayLike | None = None) -> None:
        """Accumulates fn's values for one batch."""
        super().update_state(self.fn(y_true, y_pred, **self.fn_kwargs), sample_weight)

    def get_config(self) -> dict[str, Any]:
        """The name and fn's keyword arguments (the function itself cannot be written into a config)."""
        return {**super().get_config(), **self.fn_kwargs}


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
    """1 where y_pred equals y_true, else 0 (element by element)."""
    y_true, y_pred = align_pair(y_true, y_pred, "accuracy", same_shape=False)
    return (y_true == y_pred).to(STATE_DTYPE)


def binary_accuracy(y_true: ArrayLike, y_pred: ArrayLike, threshold: float = 0.5) -> torch.Tensor:
    """1 where (y_pred > threshold) equals the 0/1 label, else 0."""
    y_true, y_pred = align_pair(y_true, y_pred, "binary_accuracy", same_shape=False)
    return (y_true == (y_pred > threshold).to(y_true.dtype)).to(STATE_DTYPE)


def categorical_accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
    """1 where the arg-max class of y_pred is that of the one-hot y_true, per sample (per step)."""
    y_true, y_pred = align_pair(y_true, y_pred, "categorical_accuracy", same_shape=True)
    return (y_true.argmax(dim=-1) == y_pred.argmax(dim=-1)).to(STATE_DTYPE)


def sparse_categorical_accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
    """1 where the arg-max class of y_pred is the integer label, per sample (per step). Labels outside the
    classes never match."""
    labels, y_pred = losses.sparse_labels(y_true, y_pred, "sparse_categorical_accuracy")
    return (labels == y_pred.argmax(dim=-1)).to(STATE_DTYPE)


class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels exactly.

    Args:
        name: the metric's name.

    Example:
        >>> m = Accuracy()
        >>> m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]])
        >>> float(m.result())
        0.75
    """

    def __init__(self, name: str = "accuracy") -> None:
        super().__init__(accuracy, name=name)


class BinaryAccuracy(MeanMetricWrapper):
    """How often `y_pred > threshold` matches 0/1 labels.

    Args:
        name: the metric's name.
        threshold: the decision threshold on y_pred (0.5 for probabilities; 0 for logits).

    Example:
        >>> m = BinaryAccuracy()
        >>> m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
        >>> float(m.result())
        0.75
    """

    def __init__(self, name: str = "binary_accuracy", threshold: float = 0.5) -> None:
        super().__init__(binary_accuracy, name=name, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max of y_pred is the hot class of one-hot labels. Works on logits and probabilities.

    Args:
        name: the metric's name.

    Example:
        >>> m = CategoricalAccuracy()
        >>> m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
        >>> float(m.result())
        0.5
    """

    def __init__(self, name: str = "categorical_accuracy") -> None:
        super().__init__(categorical_accuracy, name=name)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max of y_pred is the integer label; labels `(batch,)`, `(batch, 1)` or, for
    sequence outputs `(batch, time, classes)`, `(batch, time)`.

    Args:
        name: the metric's name.

    Example:
        >>> m = SparseCategoricalAccuracy()
        >>> m.update_state([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
        >>> float(m.result())
        0.5
    """

    def __init__(self, name: str = "sparse_categorical_accuracy") -> None:
        super().__init__(sparse_categorical_accuracy, name=name)


class MeanSquaredError(MeanMetricWrapper):
    """Mean squared error over samples. Args: name."""

    def __init__(self, name: str = "mean_squared_error") -> None:
        super().__init__(losses.mean_squared_error, name=name)


class MeanAbsoluteError(MeanMetricWrapper):
    """Mean absolute error over samples. Args: name."""

    def __init__(self, name: str = "mean_absolute_error") -> None:
        super().__init__(losses.mean_absolute_error, name=name)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """Mean absolute percentage error, `100 * |y_true - y_pred| / max(|y_true|, 1e-7)`, over samples.
    Args: name."""

    def __init__(self, name: str = "mean_absolute_percentage_error") -> None:
        super().__init__(losses.mean_absolute_percentage_error, name=name)


class RootMeanSquaredError(Mean):
    """sqrt of the (weighted) mean squared error over everything seen since the last reset.

    Args:
        name: the metric's name.

    Example:
        >>> m = RootMeanSquaredError()
        >>> m.update_state([[0., 1.], [0., 0.]], [[1., 1.], [0., 0.]], sample_weight=[1., 0.])
        >>> round(float(m.result()), 6)
        0.707107
    """

    def __init__(self, name: str = "root_mean_squared_error") -> None:
        super().__init__(name=name)

    @torch.no_grad()
    def update_state(self, y_true: ArrayLike, y_pred: ArrayLike, sample_weight: ArrayLike | None = None) -> None:
        """Accumulates the batch's squared errors."""
        y_true, y_pred = align_pair(y_true, y_pred, self.name, same_shape=False)
        super().update_state((y_pred - y_true).square(), sample_weight)

    def result(self) -> torch.Tensor:
        """sqrt(total / count)."""
        return super().result().sqrt()


# -------------------------------------------------------------------------------------- confusion counts
def _classification_pair(y_true, y_pred, name, sample_weight, class_id=None):
    """Flat float32 labels (1 for any non-zero y_true), predictions and weights, the Keras way: ranks
    aligned, `class_id` selecting one column, weights broadcast from the left (`(batch,)` weights apply to
    every output of a sample)."""
    y_true, y_pred = align_pair(y_true, y_pred, name, same_shape=True)
    y_pred = y_pred.detach().to(STATE_DTYPE)
    labels = (y_true != 0).to(STATE_DTYPE)
    if class_id is not None:
        if y_pred.ndim < 2 or not 0 <= class_id < y_pred.shape[-1]:
            raise ValueError(
                f"{name}: class_id={class_id} needs y_pred of shape (batch, classes) with more than {class_id} "
                f"classes, got y_pred of shape {tuple(y_pred.shape)}."
            )
        labels, y_pred = labels[..., class_id:class_id + 1], y_pred[..., class_id:class_id + 1]
    if sample_weight is None:
        weight = torch.ones_like(y_pred)
    else:
        weight = as_float_tensor(sample_weight, device=y_pred.device, dtype=STATE_DTYPE)
        weight = losses.broadcast_weight(weight, y_pred.shape, name).expand(y_pred.shape)
    return labels.reshape(-1), y_pred.reshape(-1), weight.reshape(-1)


def _parse_thresholds(thresholds, name):
    thresholds = [0.5] if thresholds is None else thresholds
    thresholds = [thresholds] if isinstance(thresholds, (int, float)) else list(thresholds)
    if not thresholds or any(not 0.0 <= t <= 1.0 for t in thresholds):
        raise ValueError(f"{name}: expected thresholds in [0, 1], got {thresholds!r}.")
    return thresholds


class _ThresholdMetric(Metric):
    """Weighted true-positive, false-positive and false-negative counts at each of `thresholds`, a prediction
    being positive when strictly above the threshold. The base of Precision and Recall."""

    def __init__(
        self, thresholds: float | Sequence[float] | None = None, class_id: int | None = None, name: str | None = None
    ) -> None:
        super().__init__(name=name)
        self.init_thresholds = thresholds
        self.thresholds = _parse_thresholds(thresholds, self.name)
        self.class_id = class_id
        self._threshold_tensor = torch.tensor(self.thresholds, dtype=STATE_DTYPE)
        for count in ("true_positives", "false_positives", "false_negatives"):
            self.add_state(count, (len(self.thresholds),))

    @torch.no_grad()
    def update_state(self, y_true: ArrayLike, y_pred: ArrayLike, sample_weight: ArrayLike | None = None) -> None:
        """Accumulates the batch's confusion counts at every threshold."""
        labels, y_pred, weight = _classification_pair(y_true, y_pred, self.name, sample_weight, self.class_id)
        self._move_state_to(y_pred.device)
        if self._threshold_tensor.device != y_pred.device:
            self._threshold_tensor = self._threshold_tensor.to(y_pred.device)
        predicted_positive = (y_pred[None, :] > self._threshold_tensor[:, None]).to(STATE_DTYPE)
        positive_weight = labels * weight
        true_positives = predicted_positive @ positive_weight
        self.true_positives += true_positives
        self.false_positives += predicted_positive @ (weight - positive_weight)
        self.false_negatives += positive_weight.sum() - true_positives

    def _per_threshold(self, values):
        return values[0] if len(self.thresholds) == 1 else values

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {**super().get_config(), "thresholds": self.init_thresholds, "class_id": self.class_id}


class Precision(_ThresholdMetric):
    """Precision = TP / (TP + FP) of predictions above `thresholds` against non-zero labels.

    Args:
        thresholds: a float or list of floats in [0, 1] (default 0.5); with a list, `result()` is a vector.
        class_id: compute the metric for this column of `(batch, classes)` outputs only.
        name: the metric's name.

    Example:
        >>> m = Precision()
        >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
        >>> round(float(m.result()), 4)
        0.6667
    """

    def __init__(
        self, thresholds: float | Sequence[float] | None = None, class_id: int | None = None, name: str = "precision"
    ) -> None:
        super().__init__(thresholds, class_id, name)

    def result(self) -> torch.Tensor:
        """TP / (TP + FP), 0 where nothing was predicted positive."""
        return self._per_threshold(divide_no_nan(self.true_positives, self.true_positives + self.false_positives))


class Recall(_ThresholdMetric):
    """Recall = TP / (TP + FN) of predictions above `thresholds` against non-zero labels.

    Args:
        thresholds: a float or list of floats in [0, 1] (default 0.5); with a list, `result()` is a vector.
        class_id: compute the metric for this column of `(batch, classes)` outputs only.
        name: the metric's name.

    Example:
        >>> m = Recall()
        >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
        >>> round(float(m.result()), 4)
        0.6667
    """

    def __init__(
        self, thresholds: float | Sequence[float] | None = None, class_id: int | None = None, name: str = "recall"
    ) -> None:
        super().__init__(thresholds, class_id, name)

    def result(self) -> torch.Tensor:
        """TP / (TP + FN), 0 where there were no positive labels."""
        return self._per_threshold(divide_no_nan(self.true_positives, self.true_positives + self.false_negatives))


class AUC(Metric):
    """Area under the ROC (or precision-recall) curve, approximated as Keras does: confusion counts at
    `num_thresholds` evenly spaced thresholds (the end ones just outside [0, 1]) and a Riemann sum between
    them.

    Args:
        num_thresholds: number of thresholds, > 1 (default 200).
        curve: "ROC" (default) or "PR".
        summation_method: "interpolation" (default; trapezoids for ROC, Davis & Goadrich's interpolation for
            PR), "minoring" or "majoring" (left or right rectangles).
        name: the metric's name.
        from_logits: y_pred holds logits; sigmoid is applied first.

    Predictions are clipped to [0, 1]; labels count as positive when non-zero. Multi-dimensional outputs are
    flattened into one binary problem.

    Example:
        >>> m = AUC(num_thresholds=3)
        >>> m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
        >>> float(m.result())
        0.75
    """

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC", summation_method: str = "interpolation",
                 name: str = "auc", from_logits: bool = False) -> None:
        super().__init__(name=name)
        num_thresholds = check_scalar(num_thresholds, f"{name}: num_thresholds", int, min_val=1,
                                      include_boundaries="neither")
        curve, summation_method = str(curve).upper(), str(summation_method).lower()
        if curve not in ("ROC", "PR"):
            raise ValueError(f"{name}: expected curve 'ROC' or 'PR', got {curve!r}.")
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(
                f"{name}: expected summation_method 'interpolation', 'minoring' or 'majoring', "
                f"got {summation_method!r}."
            )
        self.num_thresholds = num_thresholds
        self.curve = curve
        self.summation_method = summation_method
        self.from_logits = from_logits
        for count in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
            self.add_state(count, (num_thresholds,))

    @torch.no_grad()
    def update_state(self, y_true: ArrayLike, y_pred: ArrayLike, sample_weight: ArrayLike | None = None) -> None:
        """Accumulates the batch's confusion counts at every threshold, in one pass over the predictions."""
        labels, y_pred, weight = _classification_pair(y_true, y_pred, self.name, sample_weight)
        self._move_state_to(y_pred.device)
        if self.from_logits:
            y_pred = torch.sigmoid(y_pred)
        # Threshold i (0 < i < n-1) is i / (n-1), the first is just below 0 and the last just above 1, so a
        # prediction p is above thresholds 0 .. ceil(p (n-1)) - 1. Histogram the predictions by that last
        # index; a reversed cumulative sum then counts, for every threshold, the predictions above it.
        last_threshold_below = ((y_pred.clamp(0.0, 1.0) * (self.num_thresholds - 1)).ceil() - 1).clamp_min(0).long()
        positive_weight = labels * weight
        negative_weight = weight - positive_weight
        zeros = torch.zeros(self.num_thresholds, dtype=STATE_DTYPE, device=y_pred.device)
        true_positives = zeros.index_add(0, last_threshold_below, positive_weight).flip(0).cumsum(0).flip(0)
        false_positives = zeros.index_add(0, last_threshold_below, negative_weight).flip(0).cumsum(0).flip(0)
        self.true_positives += true_positives
        self.false_positives += false_positives
        self.true_negatives += negative_weight.sum() - false_positives
        self.false_negatives += positive_weight.sum() - true_positives

    def result(self) -> torch.Tensor:
        """The area under the curve over everything accumulated since the last reset."""
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolated_pr_auc()
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, divide_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2
        elif self.summation_method == "minoring":
            heights = torch.minimum(y[:-1], y[1:])
        else:
            heights = torch.maximum(y[:-1], y[1:])
        return ((x[:-1] - x[1:]) * heights).sum()

    def _interpolated_pr_auc(self):
        # Davis & Goadrich (2006): between neighbouring thresholds TP and P = TP + FP vary linearly, so
        # precision = (intercept + slope * P) / P integrates in closed form: slope * (dTP + intercept *
        # log(P_a / P_b)), divided by the number of positives.
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        slope = divide_no_nan(dtp, (p[:-1] - p[1:]).clamp_min(0))
        intercept = tp[1:] - slope * p[1:]
        both_positive = (p[:-1] > 0) & (p[1:] > 0)
        p_ratio = torch.where(both_positive, divide_no_nan(p[:-1], p[1:].clamp_min(0)), torch.ones_like(p[1:]))
        return divide_no_nan(slope * (dtp + intercept * p_ratio.log()), (tp[1:] + fn[1:]).clamp_min(0)).sum()

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                "summation_method": self.summation_method, "from_logits": self.from_logits}


# ---------------------------------------------------------------------------------------------- lookup
_METRIC_CLASSES = (
    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, MeanSquaredError,
    MeanAbsoluteError, MeanAbsolutePercentageError, RootMeanSquaredError, Precision, Recall, AUC,
)
_METRIC_NAMES = {
    **{cls.__name__: cls for cls in _METRIC_CLASSES},
    **{snake_case(cls.__name__): cls for cls in _METRIC_CLASSES},
    "auc": AUC,
    "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
    "rmse": RootMeanSquaredError, "RMSE": RootMeanSquaredError,
}
_ACCURACY_NAMES = ("accuracy", "acc")


def metric_names() -> list[str]:
    """Every name `get_metric` accepts."""
    return sorted(set(_METRIC_NAMES) | set(_ACCURACY_NAMES))


def get_metric(identifier: Metric | str | type | Callable[..., torch.Tensor], loss: Any = None) -> Metric:
    """A metric object from a Keras name, a `Metric` (returned as is) or class, or a callable
    `fn(y_true, y_pred)` returning per-sample values (averaged by `MeanMetricWrapper`).

    Names: "mae", "mse", "rmse", "mape", "precision", "recall", "auc", the class names and their snake_case
    forms ("binary_accuracy", "mean_squared_error", ...), and "accuracy"/"acc", which take their kind from
    `loss` (a loss name, object or function): binary cross-entropy gives BinaryAccuracy (threshold 0 when the
    loss takes logits), categorical cross-entropy CategoricalAccuracy, sparse categorical cross-entropy
    SparseCategoricalAccuracy, any other loss (or none) Accuracy. A metric made from a name is named by it,
    as in Keras's training logs. Unknown names raise ValueError listing the closest valid ones.

    Example:
        >>> get_metric("accuracy", loss="sparse_categorical_crossentropy")
        SparseCategoricalAccuracy(name='accuracy')
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier.lower() in _ACCURACY_NAMES:
            return _accuracy_for_loss(loss, identifier)
        cls = _METRIC_NAMES.get(identifier)
        if cls is None:
            close = difflib.get_close_matches(identifier, metric_names(), n=3, cutoff=0.5)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise ValueError(f"Unknown metric {identifier!r}.{hint} Expected one of: {', '.join(metric_names())}.")
        return cls(name=identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ValueError(f"Expected a metric name, a Metric or a callable, got {identifier!r}.")


def _accuracy_for_loss(loss, name):
    loss = losses.get_loss(loss)
    if isinstance(loss, losses.BinaryCrossentropy):
        return BinaryAccuracy(name=name, threshold=0.0 if loss.from_logits else 0.5)
    if isinstance(loss, losses.CategoricalCrossentropy):
        return CategoricalAccuracy(name=name)
    if isinstance(loss, losses.SparseCategoricalCrossentropy):
        return SparseCategoricalAccuracy(name=name)
    return Accuracy(name=name)
