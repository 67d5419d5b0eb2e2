"""Keras 3 losses on torch tensors.

A loss object is called as `loss(y_true, y_pred, sample_weight=None)` and returns a scalar tensor. It works in
two steps, as Keras's do:

1. `call(y_true, y_pred)` gives one loss per sample (the last axis of `y_pred` is reduced: features for
   regression, classes for cross-entropy), so `(batch, time, classes)` outputs give `(batch, time)` losses.
2. The reduction weights them and sums: "sum_over_batch_size" (the default) = sum(loss * weight) / number of
   loss entries, "sum", "mean_with_sample_weight" = sum(loss * weight) / sum(weight), or "none".

The per-sample functions (`mean_squared_error`, `binary_crossentropy`, ...) are public: metrics reuse them.
They validate shapes once, at the boundary, with messages that say what was expected and what was received.

Probability inputs (`from_logits=False`) are clipped to [1e-7, 1 - 1e-7] before the logarithm, as Keras does;
logit inputs go through log-softmax / log-sigmoid and stay finite, with finite gradients, for any logits.
"""
from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from ..checks import check_scalar
from ..layers.base import snake_case
from ..layers.serialization import ConfigObject
from ..ops import ArrayLike

EPSILON = 1e-7
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


# ------------------------------------------------------------------------------------- tensors and shapes
def as_float_tensor(
    x: ArrayLike, device: torch.device | str | None = None, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """`x` (array, list, number or tensor) as a floating tensor: `dtype` when given, else its own floating
    dtype, else torch's default; on `device` when given."""
    x = torch.as_tensor(x, device=device)
    if dtype is not None:
        return x.to(dtype)
    return x if x.is_floating_point() else x.to(torch.get_default_dtype())


def squeeze_or_expand_to_same_rank(
    x1: torch.Tensor, x2: torch.Tensor, expand_rank_1: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keras's rank alignment: when the ranks differ by one and the longer tensor ends in a size-1 axis, that
    axis is dropped, or, when the shorter tensor is 1-D (and `expand_rank_1`), the shorter one gains it.
    `(batch,)` labels against `(batch, 1)` predictions therefore compare sample by sample."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            x2 = x2.unsqueeze(-1)
        else:
            x1 = x1.squeeze(-1)
    elif x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            x1 = x1.unsqueeze(-1)
        else:
            x2 = x2.squeeze(-1)
    return x1, x2


def _broadcastable(shape_a, shape_b):
    try:
        torch.broadcast_shapes(shape_a, shape_b)
    except RuntimeError:
        return False
    return True


def sample_weight_error(name: str, weight_shape: Sequence[int], values_shape: Sequence[int]) -> ValueError:
    """The ValueError for a sample_weight that fits no axis of the per-sample values."""
    values_shape = tuple(values_shape)
    expected = [values_shape] + ([values_shape[:1]] if len(values_shape) > 1 else [])
    return ValueError(
        f"{name}: expected sample_weight of shape {', '.join(map(str, expected))} or a scalar, "
        f"got sample_weight of shape {tuple(weight_shape)}."
    )


def broadcast_weight(weight: torch.Tensor, shape: Sequence[int], name: str) -> torch.Tensor:
    """`weight` broadcast against values of `shape`, aligned from the left: a `(batch,)` weight applies to
    every entry of its sample in `(batch, time)` values. Raises ValueError, headed by `name`, if it cannot."""
    original = tuple(weight.shape)
    if weight.ndim < len(shape):
        weight = weight.reshape(original + (1,) * (len(shape) - weight.ndim))
    if not _broadcastable(weight.shape, shape):
        raise sample_weight_error(name, original, shape)
    return weight


def align_pair(y_true: ArrayLike, y_pred: ArrayLike, name: str, same_shape: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """y_true and y_pred as floating tensors of one dtype and device, ranks aligned the Keras way, checked to
    fit: equal shapes when `same_shape`, else shapes that broadcast. `name` (the loss or metric) heads the
    error message."""
    y_pred = as_float_tensor(y_pred)
    y_true = as_float_tensor(y_true, device=y_pred.device, dtype=y_pred.dtype)
    received = tuple(y_true.shape)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    fits = y_true.shape == y_pred.shape if same_shape else _broadcastable(y_true.shape, y_pred.shape)
    if not fits:
        hint = ""
        if same_shape and received == tuple(y_pred.shape[:-1]) and y_pred.shape[-1] > 1:
            hint = " For integer class labels use the sparse categorical variant."
        raise ValueError(
            f"{name}: expected y_true of shape {tuple(y_pred.shape)} (the shape of y_pred), "
            f"got y_true of shape {received}.{hint}"
        )
    return y_true, y_pred


def sparse_labels(y_true: ArrayLike, y_pred: ArrayLike, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer class labels of shape `y_pred.shape[:-1]` (a trailing size-1 axis is dropped), on y_pred's
    device, checked against the shape of y_pred. Values are not checked here; see `check_label_range`."""
    y_pred = as_float_tensor(y_pred)
    labels = torch.as_tensor(y_true, device=y_pred.device)
    received = tuple(labels.shape)
    if y_pred.ndim == 0:
        raise ValueError(f"{name}: expected y_pred of shape (batch, classes), got a scalar.")
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = labels.squeeze(-1)
    if labels.shape != y_pred.shape[:-1]:
        expected = tuple(y_pred.shape[:-1])
        hint = ""
        if received == tuple(y_pred.shape) and y_pred.shape[-1] > 1:
            hint = " For one-hot labels use the categorical variant."
        raise ValueError(
            f"{name}: expected integer labels of shape {expected} or {expected + (1,)} for y_pred of shape "
            f"{tuple(y_pred.shape)}, got labels of shape {received}.{hint}"
        )
    return labels.long(), y_pred  # float labels are truncated, as Keras does


def check_label_range(labels: torch.Tensor, num_classes: int, name: str, valid: torch.Tensor | None = None) -> None:
    """Raises ValueError unless every label (where `valid`, if given) lies in [0, num_classes).

    Costs one device-to-host transfer of two numbers. Out-of-range labels would otherwise be an IndexError on
    CPU and a device-side assertion, which ends the process, on CUDA."""
    if valid is not None:
        labels = labels.masked_fill(~valid, 0)
    if labels.numel() == 0:
        return
    low, high = torch.stack(torch.aminmax(labels)).tolist()
    if low < 0 or high >= num_classes:
        outside = (labels < 0) | (labels >= num_classes)
        first = tuple(outside.nonzero()[0].tolist())
        index = first[0] if len(first) == 1 else first
        raise ValueError(
            f"{name}: expected integer labels in [0, {num_classes}) for y_pred with {num_classes} classes, "
            f"got labels from {low} to {high}: the first one outside is label {labels[first].item()} at index "
            f"{index} of the batch."
        )


def divide_no_nan(numerator: torch.Tensor, denominator: torch.Tensor | float) -> torch.Tensor:
    """numerator / denominator, and 0 where the denominator is 0 (an empty batch, all weights zero).
    A Python-number denominator is decided on the host, and so is a single number in a CPU tensor of
    the numerator's floating dtype when neither needs a gradient (a metric's result: reading it costs
    nothing there, and one division replaces five operations, ~5 us); any other tensor one on its
    device, without a sync."""
    if (isinstance(denominator, torch.Tensor) and denominator.ndim == 0 and denominator.is_cpu and numerator.is_cpu
            and denominator.dtype == numerator.dtype and numerator.is_floating_point()
            and not (denominator.requires_grad or numerator.requires_grad)):
        denominator = denominator.item()
    if not isinstance(denominator, torch.Tensor):
        return numerator / denominator if denominator else torch.zeros_like(numerator)
    zero = denominator == 0
    return torch.where(zero, torch.zeros_like(numerator), numerator / torch.where(zero, 1.0, denominator))


def reduce_weighted_values(
    values: torch.Tensor, sample_weight: torch.Tensor | None = None, mask: torch.Tensor | None = None,
    reduction: str = "sum_over_batch_size", name: str = "loss",
) -> torch.Tensor:
    """Keras's loss reduction of per-sample `values` with optional `sample_weight` and boolean `mask`.

    Masked-out entries weigh 0; with the mean reductions the valid entries are scaled by total/valid, so the
    result is the mean over valid entries only. `name` heads error messages."""
    if mask is not None:
        float_mask = mask.to(values.dtype)
        if reduction in ("sum_over_batch_size", "mean"):
            # valid entries weigh total / valid, so dividing the sum by the total below averages over them
            float_mask = float_mask * (mask.numel() / float_mask.sum().clamp_min(1.0))
        if sample_weight is not None:
            float_mask, sample_weight = squeeze_or_expand_to_same_rank(float_mask, sample_weight)
            sample_weight = broadcast_weight(sample_weight, float_mask.shape, name) * float_mask
        else:
            sample_weight = float_mask
    if sample_weight is not None:
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        if sample_weight.ndim <= values.ndim:
            values = values * broadcast_weight(sample_weight, values.shape, name)
        else:  # per-sample values already reduced to fewer axes than the weights (Keras broadcasts as numpy)
            if not _broadcastable(values.shape, sample_weight.shape):
                raise sample_weight_error(name, sample_weight.shape, values.shape)
            values = values * sample_weight
    if reduction in (None, "none") or values.ndim == 0 or tuple(values.shape) == (0,):
        return values
    total = values.sum()
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return divide_no_nan(total, sample_weight.sum())
    return divide_no_nan(total, values.numel())


# ----------------------------------------------------------------------------------- per-sample functions
def mean_squared_error(y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
    """Mean over the last axis of (y_true - y_pred)^2: one loss per sample (per step for sequences)."""
    y_true, y_pred = align_pair(y_true, y_pred, "mean_squared_error", same_shape=False)
    return (y_true - y_pred).square().mean(dim=-1)


def mean_absolute_error(y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
    """Mean over the last axis of |y_true - y_pred|."""
    y_true, y_pred = align_pair(y_true, y_pred, "mean_absolute_error", same_shape=False)
    return (y_true - y_pred).abs().mean(dim=-1)


def mean_absolute_percentage_error(y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
    """100 * mean over the last axis of |y_true - y_pred| / max(|y_true|, 1e-7)."""
    y_true, y_pred = align_pair(y_true, y_pred, "mean_absolute_percentage_error", same_shape=False)
    return 100.0 * ((y_true - y_pred) / y_true.abs().clamp_min(EPSILON)).abs().mean(dim=-1)


def huber(y_true: ArrayLike, y_pred: ArrayLike, delta: float = 1.0) -> torch.Tensor:
    """Mean over the last axis of the Huber loss: e^2 / 2 where |e| <= delta, else delta * (|e| - delta / 2)."""
    y_true, y_pred = align_pair(y_true, y_pred, "huber", same_shape=False)
    y_true, y_pred = torch.broadcast_tensors(y_true, y_pred)
    return F.huber_loss(y_pred, y_true, reduction="none", delta=delta).mean(dim=-1)


def binary_crossentropy(
    y_true: ArrayLike, y_pred: ArrayLike, from_logits: bool = False, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Mean over the last axis of -(y log p + (1 - y) log(1 - p)).

    With `from_logits` p = sigmoid(y_pred), computed as log-sigmoid; else y_pred is clipped to
    [1e-7, 1 - 1e-7]. Label smoothing moves the targets towards 0.5: y * (1 - s) + s / 2."""
    y_true, y_pred = align_pair(y_true, y_pred, "binary_crossentropy", same_shape=True)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        elementwise = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    else:
        p = y_pred.clamp(EPSILON, 1.0 - EPSILON)
        elementwise = -(y_true * p.log() + (1.0 - y_true) * torch.log1p(-p))
    return elementwise.mean(dim=-1)


def categorical_crossentropy(
    y_true: ArrayLike, y_pred: ArrayLike, from_logits: bool = False, label_smoothing: float = 0.0
) -> torch.Tensor:
    """-sum over the class axis (last) of y * log p, for one-hot (or soft) y_true of y_pred's shape.

    With `from_logits` log p = log_softmax(y_pred); else y_pred is renormalised to sum to 1 and clipped to
    [1e-7, 1 - 1e-7]. Label smoothing: y * (1 - s) + s / classes."""
    y_true, y_pred = align_pair(y_true, y_pred, "categorical_crossentropy", same_shape=True)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[-1]
    if from_logits:
        log_p = F.log_softmax(y_pred, dim=-1)
    else:
        log_p = (y_pred / y_pred.sum(dim=-1, keepdim=True)).clamp(EPSILON, 1.0 - EPSILON).log()
    return -(y_true * log_p).sum(dim=-1)


def sparse_categorical_crossentropy(
    y_true: ArrayLike, y_pred: ArrayLike, from_logits: bool = False, ignore_class: int | None = None
) -> torch.Tensor:
    """-log p[label] for integer labels of shape `y_pred.shape[:-1]` (or with a trailing 1).

    Labels must lie in [0, classes); positions labelled `ignore_class` get loss 0 (the loss objects also leave
    them out of the mean)."""
    name = "sparse_categorical_crossentropy"
    labels, y_pred = sparse_labels(y_true, y_pred, name)
    valid = None if ignore_class is None else labels != ignore_class
    check_label_range(labels, y_pred.shape[-1], name, valid)
    if valid is not None:
        labels = labels.masked_fill(~valid, 0)
    if from_logits:
        log_p = F.log_softmax(y_pred, dim=-1)
    else:
        log_p = (y_pred / y_pred.sum(dim=-1, keepdim=True)).clamp(EPSILON, 1.0 - EPSILON).log()
    losses = -log_p.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    if valid is not None:
        losses = torch.where(valid, losses, torch.zeros_like(losses))
    return losses


# ------------------------------------------------------------------------------------------- loss objects
class Loss(ConfigObject):
    """Base class of losses: subclasses implement `call(y_true, y_pred)` returning per-sample losses.

    Args:
        name: the loss's name.
        reduction: "sum_over_batch_size" (default), "sum", "mean", "mean_with_sample_weight", "none" or None.

    Call arguments:
        y_true: targets (array or tensor), y_pred: predictions (tensor), sample_weight: optional weights of
        shape `(batch,)`, the per-sample loss shape (e.g. `(batch, time)`), or a scalar.

    Returns a scalar tensor (per-sample losses when reduction is "none").

    Example:
        >>> import torch
        >>> loss = MeanSquaredError()
        >>> float(loss(torch.zeros(2, 3), torch.ones(2, 3)))
        1.0
    """

    def __init__(self, name: str | None = None, reduction: str = "sum_over_batch_size") -> None:
        if reduction not in REDUCTIONS:
            raise ValueError(f"Expected reduction to be one of {REDUCTIONS}, got {reduction!r}.")
        self.name = name or snake_case(type(self).__name__)
        self.reduction = reduction

    def __call__(self, y_true: ArrayLike, y_pred: ArrayLike, sample_weight: ArrayLike | None = None) -> torch.Tensor:
        values, mask = self.call_with_mask(y_true, y_pred)
        if sample_weight is not None:
            sample_weight = as_float_tensor(sample_weight, device=values.device, dtype=values.dtype)
        return reduce_weighted_values(values, sample_weight, mask, self.reduction, self.name)

    def call(self, y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
        """Per-sample losses: y_pred's shape without its last axis."""
        raise NotImplementedError

    def call_with_mask(self, y_true: ArrayLike, y_pred: ArrayLike) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Per-sample losses and a boolean mask of the entries that count (None: all of them)."""
        return self.call(y_true, y_pred), None

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, so that `type(loss)(**loss.get_config())` rebuilds the loss."""
        return {"name": self.name, "reduction": self.reduction}



class LossFunctionWrapper(Loss):
    """A loss object around a function `fn(y_true, y_pred, **kwargs)` returning per-sample losses.

    Args:
        fn: the function. name: defaults to fn's name. reduction: as for `Loss`. **kwargs: passed to fn.
    """

    def __init__(
        self, fn: Callable[..., torch.Tensor], name: str | None = None, reduction: str = "sum_over_batch_size", **kwargs
    ) -> None:
        super().__init__(name=name or getattr(fn, "__name__", None) or type(fn).__name__, reduction=reduction)
        self.fn = fn
        self.fn_kwargs = kwargs

    def call(self, y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
        """fn's per-sample losses, y_true and y_pred first aligned in rank the Keras way."""
        y_pred = as_float_tensor(y_pred)
        y_true = as_float_tensor(y_true, device=y_pred.device, dtype=y_pred.dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self) -> dict[str, Any]:
        """Name and reduction; the function itself cannot be written into a config."""
        return {**super().get_config(), **self.fn_kwargs}


class MeanSquaredError(Loss):
    """Mean of squared errors, `mean((y_true - y_pred) ** 2)`. Keras name: "mse", "mean_squared_error".

    Args:
        reduction, name: as for `Loss`.

    Example:
        >>> import torch
        >>> float(MeanSquaredError()(torch.tensor([[0., 1.]]), torch.tensor([[1., 1.]])))
        0.5
    """

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "mean_squared_error") -> None:
        super().__init__(name=name, reduction=reduction)

    def call(self, y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
        """Per-sample mean squared error over the last axis."""
        return mean_squared_error(y_true, y_pred)


class MeanAbsoluteError(Loss):
    """Mean of absolute errors, `mean(|y_true - y_pred|)`. Keras name: "mae", "mean_absolute_error".

    Args:
        reduction, name: as for `Loss`.
    """

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "mean_absolute_error") -> None:
        super().__init__(name=name, reduction=reduction)

    def call(self, y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
        """Per-sample mean absolute error over the last axis."""
        return mean_absolute_error(y_true, y_pred)


class MeanAbsolutePercentageError(Loss):
    """`100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7))`. Keras name: "mape".

    Args:
        reduction, name: as for `Loss`.
    """

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "mean_absolute_percentage_error") -> None:
        super().__init__(name=name, reduction=reduction)

    def call(self, y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
        """Per-sample mean absolute percentage error over the last axis."""
        return mean_absolute_percentage_error(y_true, y_pred)


class Huber(Loss):
    """Huber loss: quadratic for errors up to `delta`, linear beyond. Keras name: "huber".

    Args:
        delta: where the loss turns from quadratic to linear (default 1.0).
        reduction, name: as for `Loss`.
    """

    def __init__(self, delta: float = 1.0, reduction: str = "sum_over_batch_size", name: str = "huber_loss") -> None:
        super().__init__(name=name, reduction=reduction)
        self.delta = delta

    def call(self, y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
        """Per-sample Huber loss averaged over the last axis."""
        return huber(y_true, y_pred, self.delta)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {**super().get_config(), "delta": self.delta}


class BinaryCrossentropy(Loss):
    """Binary cross-entropy for 0/1 targets. Keras name: "binary_crossentropy", "bce".

    Args:
        from_logits: y_pred holds logits (recommended: stable for any value) rather than probabilities.
        label_smoothing: in [0, 1]; targets become y * (1 - s) + s / 2.
        reduction, name: as for `Loss`.

    Example:
        >>> import torch
        >>> bce = BinaryCrossentropy(from_logits=True)
        >>> round(float(bce(torch.tensor([0., 1., 0., 0.]), torch.tensor([-18.6, 0.51, 2.94, -12.8]))), 4)
        0.8655
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, reduction: str = "sum_over_batch_size",
                 name: str = "binary_crossentropy") -> None:
        super().__init__(name=name, reduction=reduction)
        _check_label_smoothing(label_smoothing)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing

    def call(self, y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
        """Per-sample binary cross-entropy averaged over the last axis."""
        return binary_crossentropy(y_true, y_pred, self.from_logits, self.label_smoothing)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(Loss):
    """Cross-entropy for one-hot targets of y_pred's shape `(..., classes)`. Keras name:
    "categorical_crossentropy".

    Args:
        from_logits: y_pred holds logits rather than probabilities.
        label_smoothing: in [0, 1]; targets become y * (1 - s) + s / classes.
        reduction, name: as for `Loss`.
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, reduction: str = "sum_over_batch_size",
                 name: str = "categorical_crossentropy") -> None:
        super().__init__(name=name, reduction=reduction)
        _check_label_smoothing(label_smoothing)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing

    def call(self, y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
        """Per-sample categorical cross-entropy over the class axis."""
        return categorical_crossentropy(y_true, y_pred, self.from_logits, self.label_smoothing)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy for integer labels: y_pred `(batch, classes)` or `(batch, time, classes)` against labels
    `(batch,)` / `(batch, 1)` or `(batch, time)`. Keras name: "sparse_categorical_crossentropy".

    Args:
        from_logits: y_pred holds logits rather than probabilities.
        ignore_class: a label value (e.g. the padding id) whose positions are left out of the loss and of the
            mean.
        reduction, name: as for `Loss`.

    Labels outside [0, classes) raise ValueError (this check reads two numbers back from the device).

    Example:
        >>> import torch
        >>> scce = SparseCategoricalCrossentropy()
        >>> round(float(scce(torch.tensor([1, 2]), torch.tensor([[0.05, 0.95, 0.], [0.1, 0.8, 0.1]]))), 4)
        1.1769
    """

    def __init__(self, from_logits: bool = False, ignore_class: int | None = None,
                 reduction: str = "sum_over_batch_size", name: str = "sparse_categorical_crossentropy") -> None:
        super().__init__(name=name, reduction=reduction)
        self.from_logits = from_logits
        self.ignore_class = ignore_class

    def call(self, y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
        """Per-sample losses; 0 at ignored positions."""
        return sparse_categorical_crossentropy(y_true, y_pred, self.from_logits, self.ignore_class)

    def call_with_mask(self, y_true: ArrayLike, y_pred: ArrayLike) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Per-sample losses and, with `ignore_class`, the mask of the positions that count."""
        losses = self.call(y_true, y_pred)
        if self.ignore_class is None:
            return losses, None
        labels, _ = sparse_labels(y_true, y_pred, self.name)
        return losses, labels != self.ignore_class

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {**super().get_config(), "from_logits": self.from_logits, "ignore_class": self.ignore_class}


def _check_label_smoothing(label_smoothing):
    check_scalar(label_smoothing, "label_smoothing", float, min_val=0, max_val=1)


# ---------------------------------------------------------------------------------------------- lookup
_LOSS_CLASSES = (
    MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, Huber,
    BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
)
_LOSS_FUNCTIONS = {
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
    mean_absolute_percentage_error: MeanAbsolutePercentageError,
    huber: Huber,
    binary_crossentropy: BinaryCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
}
_LOSS_NAMES = {
    **{cls.__name__: cls for cls in _LOSS_CLASSES},
    **{fn.__name__: cls for fn, cls in _LOSS_FUNCTIONS.items()},
    "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
    "huber_loss": Huber,
    "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
}


def names() -> list[str]:
    """Every name `get_loss` accepts."""
    return sorted(_LOSS_NAMES)


def get_loss(identifier: Loss | str | dict[str, Any] | type | Callable[..., torch.Tensor] | None) -> Loss | None:
    """A loss object from a Keras name ("mse", "mean_squared_error", "huber", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", class names, ...), a config dict
    `{"class_name": ..., "config": {...}}`, a `Loss` (returned as is) or class, or a callable
    `fn(y_true, y_pred)` returning per-sample losses (wrapped with the default reduction).
    None gives None (no loss). Unknown names raise ValueError listing the closest valid ones.

    Example:
        >>> get_loss("mse")
        MeanSquaredError(name='mean_squared_error', reduction='sum_over_batch_size')
    """
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        if set(identifier) - {"class_name", "config", "module", "registered_name"} or "class_name" not in identifier:
            raise ValueError(
                f"Expected a loss config dict with keys 'class_name' and 'config', got keys {sorted(identifier)}."
            )
        return _loss_class(identifier["class_name"]).from_config(identifier.get("config") or {})
    if isinstance(identifier, str):
        return _loss_class(identifier)()
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        known = _LOSS_FUNCTIONS.get(identifier)
        return known() if known else LossFunctionWrapper(identifier)
    raise ValueError(f"Expected a loss name, a Loss, a config dict or a callable, got {identifier!r}.")


def _loss_class(name):
    cls = _LOSS_NAMES.get(name)
    if cls is None:
        close = difflib.get_close_matches(name, names(), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"Unknown loss {name!r}.{hint} Expected one of: {', '.join(names())}.")
    return cls
