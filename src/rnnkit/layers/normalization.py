"""Keras 3's normalization layers as torch.nn.Modules: BatchNormalization and LayerNormalization.
Arguments, defaults, weight names, shapes and order, and mask behaviour are Keras's."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from ..checks import check_scalar
from .base import Layer
from .constraints import ConstraintLike, get_constraint, serialize_constraint
from .initializers import InitializerLike
from .initializers import serialize as serialize_initializer
from .regularizers import RegularizerLike, get_regularizer, serialize_regularizer

KERAS_EPSILON = 1e-7  # Keras's backend.epsilon(): keeps the masked mean finite when every position is masked


def _normalized_axes(label, axes, shape):
    """`axes` (ints, may be negative) as sorted non-negative axes of an input of `shape`, or a
    ValueError naming the layer, the valid range and the axis received."""
    rank = len(shape)
    for axis in axes:
        if not -rank <= axis < rank:
            raise ValueError(
                f"{label}: expected axis in [{-rank}, {rank}) for input of shape {tuple(shape)}, got axis={axis}."
            )
    return sorted({axis % rank for axis in axes})


def _broadcastable(weight, rank, axes):
    """`weight` (the sizes of `axes`, in order) reshaped to broadcast against an input of `rank`."""
    shape = [1] * rank
    for axis, size in zip(axes, weight.shape):
        shape[axis] = size
    return weight.reshape(shape)


class BatchNormalization(Layer):
    """Normalizes each feature with the statistics of the batch (training) or with moving averages
    of them (inference), then scales by `gamma` and shifts by `beta`:
    `output = gamma * (inputs - mean) / sqrt(variance + epsilon) + beta`.

    With `training=True`, `mean` and `variance` are the batch's (over every axis but `axis`; the
    variance is the biased one), and the moving statistics are updated as Keras does:
    `moving = moving * momentum + batch_statistic * (1 - momentum)`. With `training=False` (the
    default), `moving_mean` and `moving_variance` are used and nothing changes. As in Keras, the
    mode comes only from the `training` argument (models pass it during `fit`; torch's
    `module.train()`/`eval()` flag is not consulted), and a layer with `trainable=False` always runs
    in inference mode.

    Args:
        axis: int, the features axis, normalized separately per index (-1: the last axis).
        momentum: float in [0, 1], the weight of the old value in the moving averages.
        epsilon: positive float added to the variance.
        center: whether to add `beta`.
        scale: whether to multiply by `gamma`.
        beta_initializer, gamma_initializer: initializers of `beta` (zeros) and `gamma` (ones).
        moving_mean_initializer, moving_variance_initializer: initializers of the moving
            statistics (zeros and ones).
        beta_regularizer, gamma_regularizer: None, `"l1"`, `"l2"`, `"l1_l2"` or a penalty.
        beta_constraint, gamma_constraint: None or a `rnnkit.layers.constraints` constraint.
        synchronized, renorm, renorm_clipping, renorm_momentum: accepted so that Keras configs
            load; only the defaults (no cross-device sync, no batch renormalization) are supported.
        name, trainable, dtype: as for every `Layer`.

    Weights (Keras's order): `gamma` (if `scale`), `beta` (if `center`), `moving_mean`,
    `moving_variance`, each of shape `(features,)`; the moving ones are non-trainable.

    Call arguments:
        inputs: float tensor of any rank, e.g. `(batch, features)` or `(batch, time, features)`.
        training: whether to normalize with the batch's statistics and update the moving ones.
        mask: optional boolean tensor of the input's shape without its last axis (by default the
            mask the input carries). In training mode the batch statistics are computed over the
            unmasked positions only, as in Keras. The mask is passed through to the output.

    Output shape:
        The input's shape.

    Example:
        >>> layer = BatchNormalization(momentum=0.9)
        >>> x = torch.tensor([[0.0, 10.0], [2.0, 30.0]])
        >>> out = layer(x, training=True)
        >>> [round(v, 4) for v in out[0].tolist()]
        [-0.9995, -1.0]
        >>> [round(v, 2) for v in layer.moving_mean.tolist()]
        [0.1, 2.0]
        >>> [tuple(w.shape) for w in layer.get_weights()]
        [(2,), (2,), (2,), (2,)]
    """

    supports_masking = True

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: InitializerLike = "zeros",
        gamma_initializer: InitializerLike = "ones",
        moving_mean_initializer: InitializerLike = "zeros",
        moving_variance_initializer: InitializerLike = "ones",
        beta_regularizer: RegularizerLike = None,
        gamma_regularizer: RegularizerLike = None,
        beta_constraint: ConstraintLike = None,
        gamma_constraint: ConstraintLike = None,
        synchronized: bool = False,
        renorm: bool = False,
        renorm_clipping: dict[str, float] | None = None,
        renorm_momentum: float = 0.99,
        name: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(name=name, **kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"{self._label}: expected an integer axis, got {axis!r}.")
        check_scalar(momentum, f"{self._label}: momentum", float, min_val=0, max_val=1)
        check_scalar(epsilon, f"{self._label}: epsilon", float, min_val=0, include_boundaries="neither")
        if synchronized or renorm:
            raise ValueError(
                f"{self._label}: expected synchronized=False and renorm=False (cross-device synchronization and "
                f"batch renormalization are not supported), got synchronized={synchronized!r}, renorm={renorm!r}."
            )
        self.axis = axis
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = beta_initializer
        self.gamma_initializer = gamma_initializer
        self.moving_mean_initializer = moving_mean_initializer
        self.moving_variance_initializer = moving_variance_initializer
        self.beta_regularizer = get_regularizer(beta_regularizer)
        self.gamma_regularizer = get_regularizer(gamma_regularizer)
        self.beta_constraint = get_constraint(beta_constraint)
        self.gamma_constraint = get_constraint(gamma_constraint)
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = renorm_momentum

    @property
    def _label(self):
        return f"BatchNormalization '{self.name}'"

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        (axis,) = _normalized_axes(self._label, [self.axis], input_shape)
        features = input_shape[axis]
        if features is None:
            raise ValueError(
                f"{self._label}: expected a known size on axis {self.axis}, got input shape {tuple(input_shape)}."
            )
        shape = (features,)
        self.gamma = (
            self.add_weight(shape=shape, initializer=self.gamma_initializer, regularizer=self.gamma_regularizer,
                            constraint=self.gamma_constraint, name="gamma")
            if self.scale
            else None
        )
        self.beta = (
            self.add_weight(shape=shape, initializer=self.beta_initializer, regularizer=self.beta_regularizer,
                            constraint=self.beta_constraint, name="beta")
            if self.center
            else None
        )
        self.moving_mean = self.add_weight(shape=shape, initializer=self.moving_mean_initializer, trainable=False,
                                           name="moving_mean")
        self.moving_variance = self.add_weight(shape=shape, initializer=self.moving_variance_initializer,
                                               trainable=False, name="moving_variance")

    def validate_input(self, inputs: torch.Tensor) -> None:
        _normalized_axes(self._label, [self.axis], inputs.shape)

    def call(self, inputs: torch.Tensor, training: bool = False, mask: torch.Tensor | None = None) -> torch.Tensor:
        rank = inputs.dim()
        axis = self.axis % rank
        features = self.moving_mean.shape[0]
        if inputs.shape[axis] != features:
            raise ValueError(
                f"{self._label}: expected input with {features} features on axis {self.axis} (the size it was "
                f"built with), got shape {tuple(inputs.shape)}."
            )
        if mask is not None and mask.dim() != rank - 1:
            raise ValueError(
                f"{self._label}: expected a mask with one dimension less than the input {tuple(inputs.shape)}, "
                f"got mask of shape {tuple(mask.shape)}."
            )
        if training and self.trainable:
            mean, variance = self._batch_moments(inputs, axis, mask)
            with torch.no_grad():
                self.moving_mean.mul_(self.momentum).add_(mean, alpha=1.0 - self.momentum)
                self.moving_variance.mul_(self.momentum).add_(variance, alpha=1.0 - self.momentum)
        else:
            mean, variance = self.moving_mean, self.moving_variance
        # gamma * (x - mean) / sqrt(var + eps) + beta, as one multiply-add over the input.
        multiplier = torch.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            multiplier = multiplier * self.gamma
        offset = -mean * multiplier
        if self.beta is not None:
            offset = offset + self.beta
        return torch.addcmul(_broadcastable(offset, rank, [axis]), inputs, _broadcastable(multiplier, rank, [axis]))

    @staticmethod
    def _batch_moments(inputs, axis, mask):
        """Mean and biased variance of each feature over every other axis; with a mask, over the
        unmasked positions only (Keras's weighted moments, mask broadcast over the last axis)."""
        reduce = [d for d in range(inputs.dim()) if d != axis]
        if mask is None:
            variance, mean = torch.var_mean(inputs, dim=reduce, correction=0)
            return mean, variance
        weights = mask.unsqueeze(-1).expand(inputs.shape).to(inputs.dtype)
        count = weights.sum(dim=reduce, keepdim=True) + KERAS_EPSILON
        mean = (inputs * weights).sum(dim=reduce, keepdim=True) / count
        variance = ((inputs - mean).square() * weights).sum(dim=reduce, keepdim=True) / count
        return mean.flatten(), variance.flatten()

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": serialize_initializer(self.beta_initializer),
            "gamma_initializer": serialize_initializer(self.gamma_initializer),
            "moving_mean_initializer": serialize_initializer(self.moving_mean_initializer),
            "moving_variance_initializer": serialize_initializer(self.moving_variance_initializer),
            "beta_regularizer": serialize_regularizer(self.beta_regularizer),
            "gamma_regularizer": serialize_regularizer(self.gamma_regularizer),
            "beta_constraint": serialize_constraint(self.beta_constraint),
            "gamma_constraint": serialize_constraint(self.gamma_constraint),
            "synchronized": False,
            "renorm": False,
            "renorm_clipping": self.renorm_clipping,
            "renorm_momentum": self.renorm_momentum,
        }

    def extra_repr(self) -> str:
        features = self.moving_mean.shape[0] if self.built else None
        return (
            f"features={features}, axis={self.axis}, momentum={self.momentum}, epsilon={self.epsilon}, "
            f"center={self.center}, scale={self.scale}, {super().extra_repr()}"
        )


class LayerNormalization(Layer):
    """Normalizes each sample over `axis` (by default its features), then scales by `gamma` and
    shifts by `beta`: `output = gamma * (inputs - mean) / sqrt(variance + epsilon) + beta`, with the
    mean and (biased) variance taken per sample over `axis`. Training and inference compute the same.

    Args:
        axis: int or list of ints, the axis or axes to normalize over (-1: the last axis).
            `gamma` and `beta` span these axes.
        epsilon: positive float added to the variance.
        center: whether to add `beta`.
        scale: whether to multiply by `gamma`.
        beta_initializer, gamma_initializer: initializers of `beta` (zeros) and `gamma` (ones).
        beta_regularizer, gamma_regularizer: None, `"l1"`, `"l2"`, `"l1_l2"` or a penalty.
        beta_constraint, gamma_constraint: None or a `rnnkit.layers.constraints` constraint.
        rms_scaling: accepted so that Keras configs load; Keras deprecated it and only False is
            supported.
        name, trainable, dtype: as for every `Layer`.

    Weights (Keras's order): `gamma` (if `scale`), `beta` (if `center`), each of the shape of the
    input's sizes on `axis`.

    Call arguments:
        inputs: float tensor of any rank that has the axes in `axis`. A mask on it is passed
            through unchanged.

    Output shape:
        The input's shape.

    Example:
        >>> layer = LayerNormalization()
        >>> [round(v, 4) for v in layer(torch.tensor([[1.0, 3.0]]))[0].tolist()]
        [-0.9995, 0.9995]
        >>> layer = LayerNormalization(axis=[1, 2])
        >>> _ = layer(torch.ones(2, 5, 4))
        >>> tuple(layer.gamma.shape)
        (5, 4)
    """

    supports_masking = True

    def __init__(
        self,
        axis: int | Sequence[int] = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: InitializerLike = "zeros",
        gamma_initializer: InitializerLike = "ones",
        beta_regularizer: RegularizerLike = None,
        gamma_regularizer: RegularizerLike = None,
        beta_constraint: ConstraintLike = None,
        gamma_constraint: ConstraintLike = None,
        rms_scaling: bool = False,
        name: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(name=name, **kwargs)
        axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if not axes or any(isinstance(a, bool) or not isinstance(a, int) for a in axes):
            raise ValueError(f"{self._label}: expected an integer axis or a list of them, got {axis!r}.")
        check_scalar(epsilon, f"{self._label}: epsilon", float, min_val=0, include_boundaries="neither")
        if rms_scaling:
            raise ValueError(
                f"{self._label}: expected rms_scaling=False (Keras deprecated it), got rms_scaling={rms_scaling!r}."
            )
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = beta_initializer
        self.gamma_initializer = gamma_initializer
        self.beta_regularizer = get_regularizer(beta_regularizer)
        self.gamma_regularizer = get_regularizer(gamma_regularizer)
        self.beta_constraint = get_constraint(beta_constraint)
        self.gamma_constraint = get_constraint(gamma_constraint)

    @property
    def _label(self):
        return f"LayerNormalization '{self.name}'"

    def _axes(self, shape):
        return _normalized_axes(self._label, self.axis if isinstance(self.axis, list) else [self.axis], shape)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.normalized_shape = tuple(input_shape[a] for a in self._axes(input_shape))
        if None in self.normalized_shape:
            raise ValueError(
                f"{self._label}: expected known sizes on axis {self.axis}, got input shape {tuple(input_shape)}."
            )
        self.gamma = (
            self.add_weight(shape=self.normalized_shape, initializer=self.gamma_initializer,
                            regularizer=self.gamma_regularizer, constraint=self.gamma_constraint, name="gamma")
            if self.scale
            else None
        )
        self.beta = (
            self.add_weight(shape=self.normalized_shape, initializer=self.beta_initializer,
                            regularizer=self.beta_regularizer, constraint=self.beta_constraint, name="beta")
            if self.center
            else None
        )

    def validate_input(self, inputs: torch.Tensor) -> None:
        self._axes(inputs.shape)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        rank = inputs.dim()
        axes = self._axes(inputs.shape)
        sizes = tuple(inputs.shape[a] for a in axes)
        if sizes != self.normalized_shape:
            raise ValueError(
                f"{self._label}: expected sizes {self.normalized_shape} on axis {self.axis} (the sizes it was "
                f"built with), got input of shape {tuple(inputs.shape)}."
            )
        if axes == list(range(rank - len(axes), rank)):
            return F.layer_norm(inputs, sizes, self.gamma, self.beta, self.epsilon)
        variance, mean = torch.var_mean(inputs, dim=axes, keepdim=True, correction=0)
        outputs = (inputs - mean) * torch.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            outputs = outputs * _broadcastable(self.gamma, rank, axes)
        if self.beta is not None:
            outputs = outputs + _broadcastable(self.beta, rank, axes)
        return outputs

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": serialize_initializer(self.beta_initializer),
            "gamma_initializer": serialize_initializer(self.gamma_initializer),
            "beta_regularizer": serialize_regularizer(self.beta_regularizer),
            "gamma_regularizer": serialize_regularizer(self.gamma_regularizer),
            "beta_constraint": serialize_constraint(self.beta_constraint),
            "gamma_constraint": serialize_constraint(self.gamma_constraint),
            "rms_scaling": False,
        }

    def extra_repr(self) -> str:
        shape = self.normalized_shape if self.built else None
        return (
            f"normalized_shape={shape}, axis={self.axis}, epsilon={self.epsilon}, center={self.center}, "
            f"scale={self.scale}, {super().extra_repr()}"
        )
