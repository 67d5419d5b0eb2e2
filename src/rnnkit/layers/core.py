"""Keras 3's core layers as torch.nn.Modules: Dense, Embedding, Dropout, Activation, RepeatVector,
Masking. Arguments, defaults, weight names, shapes and order, and mask behaviour are Keras's."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

import torch
import torch.nn.functional as F

from ..checks import check_scalar, check_weight_shape
from ..engine.activations import activation_names, get_activation
from ..engine.panel_linear import panel_linear, panel_linear_available
from .base import Layer, Shape
from .constraints import ConstraintLike, get_constraint, serialize_constraint
from .initializers import InitializerLike
from .initializers import serialize as serialize_initializer
from .regularizers import RegularizerLike, get_regularizer, serialize_regularizer

if TYPE_CHECKING:
    from .recurrent_cell import ActivationLike


def _activation_config(activation):
    # A registered activation serialises by its Keras name; a custom callable is kept as itself.
    if activation.name in activation_names() and get_activation(activation.name) is activation:
        return activation.name
    return activation.fn


class Dense(Layer):
    """A densely-connected layer: `output = activation(inputs @ kernel + bias)`.

    Applied to the last axis of an input of any rank >= 2: `(batch, ..., input_dim)` becomes
    `(batch, ..., units)`. The input dimension is taken from the first call.

    Args:
        units: positive int, the output dimension.
        activation: activation name (`"tanh"`, `"relu"`, ...) or callable; None is linear.
        use_bias: whether to add a bias vector.
        kernel_initializer: initializer of `kernel`, shape `(input_dim, units)`.
        bias_initializer: initializer of `bias`, shape `(units,)`.
        kernel_regularizer: None, `"l1"`, `"l2"`, `"l1_l2"` or a `rnnkit.layers.regularizers`
            penalty applied to `kernel`.
        bias_regularizer: the same, for `bias`.
        name, trainable, dtype: as for every `Layer`.

    Call arguments:
        inputs: float tensor `(batch, ..., input_dim)`. A mask on it is passed through unchanged.

    Output shape:
        `(batch, ..., units)`.

    Example:
        >>> layer = Dense(3, activation="relu")
        >>> layer(torch.ones(2, 5, 4)).shape
        torch.Size([2, 5, 3])
        >>> [tuple(w.shape) for w in layer.get_weights()]
        [(4, 3), (3,)]
    """

    supports_masking = True

    def __init__(
        self,
        units: int,
        activation: ActivationLike = None,
        use_bias: bool = True,
        kernel_initializer: InitializerLike = "glorot_uniform",
        bias_initializer: InitializerLike = "zeros",
        kernel_regularizer: RegularizerLike = None,
        bias_regularizer: RegularizerLike = None,
        kernel_constraint: ConstraintLike = None,
        bias_constraint: ConstraintLike = None,
        name: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(name=name, **kwargs)
        units = check_scalar(units, f"Dense '{self.name}': units", int, min_val=1)
        check_weight_shape((1, units), f"Dense '{self.name}': units")  # the kernel: units per input feature
        self.units = units
        self.activation = get_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = get_regularizer(kernel_regularizer)
        self.bias_regularizer = get_regularizer(bias_regularizer)
        self.kernel_constraint = get_constraint(kernel_constraint)
        self.bias_constraint = get_constraint(bias_constraint)

    def build(self, input_shape: Shape) -> None:
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
                                      name="kernel")
        self.bias = (
            self.add_weight(shape=(self.units,), initializer=self.bias_initializer,
                            regularizer=self.bias_regularizer, constraint=self.bias_constraint, name="bias")
            if self.use_bias
            else None
        )

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape[:-1]) + (self.units,)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        input_dim = self.kernel.shape[0]
        if inputs.dim() < 2 or inputs.shape[-1] != input_dim:
            raise ValueError(
                f"Dense '{self.name}': expected input of shape (batch, ..., {input_dim}) (the last "
                f"dimension it was built with), got {tuple(inputs.shape)}."
            )
        if self.kernel.dtype == torch.float32 and panel_linear_available(inputs):
            # A mixed policy's bfloat16 inputs on the panel product rather than torch's bfloat16
            # GEMM (oneDNN, whose code and per-shape kernels would raise the peak memory).
            outputs = panel_linear(inputs, self.kernel, self.bias)
        else:
            # F.linear fuses the bias add into the GEMM; it takes the weight as (out, in).
            outputs = F.linear(inputs, self.kernel.t(), self.bias)
        return outputs if self.activation.name == "linear" else self.activation.fn(outputs)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": _activation_config(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": serialize_initializer(self.kernel_initializer),
            "bias_initializer": serialize_initializer(self.bias_initializer),
            "kernel_regularizer": serialize_regularizer(self.kernel_regularizer),
            "bias_regularizer": serialize_regularizer(self.bias_regularizer),
            "kernel_constraint": serialize_constraint(self.kernel_constraint),
            "bias_constraint": serialize_constraint(self.bias_constraint),
        }

    def extra_repr(self) -> str:
        input_dim = self.kernel.shape[0] if self.built else None
        return (
            f"input_dim={input_dim}, units={self.units}, activation={self.activation.name!r}, "
            f"use_bias={self.use_bias}, {super().extra_repr()}"
        )


class Embedding(Layer):
    """Maps non-negative integer token ids to dense vectors: `output = embeddings[inputs]`.

    Args:
        input_dim: positive int, the vocabulary size (largest id + 1).
        output_dim: positive int, the size of each vector.
        embeddings_initializer: initializer of `embeddings`, shape `(input_dim, output_dim)`.
        embeddings_regularizer: None, `"l1"`, `"l2"`, `"l1_l2"` or a penalty applied to
            `embeddings`.
        mask_zero: if True, id 0 is padding: the output carries the mask `inputs != 0`, which
            downstream layers (recurrent layers, TimeDistributed, ...) respect. Id 0 still has a
            vector, so the vocabulary must reserve it.
        weights: optional pretrained matrix `(input_dim, output_dim)` (or a list holding it), as
            Keras takes it; the layer is built with it at once.
        name, trainable, dtype: as for every `Layer`.

    Call arguments:
        inputs: integer tensor of any shape `(batch, ...)` with ids in `[0, input_dim)`.

    Output shape:
        `(batch, ..., output_dim)`, with mask `(batch, ...)` when `mask_zero`.

    Example:
        >>> layer = Embedding(10, 4, mask_zero=True)
        >>> out = layer(torch.tensor([[3, 1, 0]]))
        >>> out.shape, out._keras_mask.tolist()
        (torch.Size([1, 3, 4]), [[True, True, False]])
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer: Any = "uniform",
        embeddings_regularizer: Any = None,
        embeddings_constraint: Any = None,
        mask_zero: bool = False,
        weights: Any = None,
        name: Optional[str] = None,
        **kwargs,
    ) -> None:
        super().__init__(name=name, **kwargs)
        input_dim, output_dim = (check_scalar(value, f"Embedding '{self.name}': `{arg}`", int, min_val=1)
                                 for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)))
        check_weight_shape((input_dim, output_dim), f"Embedding '{self.name}': `input_dim` x `output_dim`")
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.embeddings_initializer = embeddings_initializer
        self.embeddings_regularizer = get_regularizer(embeddings_regularizer)
        self.embeddings_constraint = get_constraint(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        if weights is not None:
            # As Keras: a pretrained matrix (or [matrix]) builds the layer now.
            self.build()
            self.set_weights(weights if isinstance(weights, list) and len(weights) == 1 else [weights])

    def build(self, input_shape: Optional[Tuple[Optional[int], ...]] = None) -> None:
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint, name="embeddings")

    def compute_output_shape(self, input_shape: Tuple[Optional[int], ...]) -> Tuple[Optional[int], ...]:
        return tuple(input_shape) + (self.output_dim,)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.is_floating_point() or inputs.is_complex() or inputs.dtype == torch.bool:
            raise ValueError(
                f"Embedding '{self.name}': expected integer token ids, got {str(inputs.dtype).replace('torch.', '')}; "
                "convert them with ids.long()."
            )
        if inputs.numel():
            low, high = torch.aminmax(inputs)
            if low < 0 or high >= self.input_dim:
                raise ValueError(
                    f"Embedding '{self.name}': expected token ids in [0, input_dim={self.input_dim}), "
                    f"got min id {int(low)} and max id {int(high)}."
                )
        if inputs.dtype not in (torch.int32, torch.int64):
            # F.embedding takes only int32/int64 ids.
            inputs = inputs.long()
        # A model whose Embedding feeds only a recurrent layer hands that layer a `plan.Fold`
        # instead, which folds this lookup into its input projection.
        return F.embedding(inputs, self.embeddings)

    def compute_mask(self, inputs: torch.Tensor, mask: Optional[torch.Tensor] = None) -> Optional[torch.Tensor]:
        return inputs != 0 if self.mask_zero else None

    def get_config(self) -> Dict[str, Any]:
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": serialize_initializer(self.embeddings_initializer),
            "embeddings_regularizer": serialize_regularizer(self.embeddings_regularizer),
            "embeddings_constraint": serialize_constraint(self.embeddings_constraint),
            "mask_zero": self.mask_zero,
        }

    def extra_repr(self) -> str:
        return (
            f"input_dim={self.input_dim}, output_dim={self.output_dim}, mask_zero={self.mask_zero}, "
            f"{super().extra_repr()}"
        )


class Dropout(Layer):
    """Zeroes a random `rate` fraction of its inputs during training and scales the rest by
    `1 / (1 - rate)`, so the expected value is unchanged; the identity otherwise.

    As in Keras, the layer is active only when called with `training=True` (Sequential models
    pass it during `fit`); torch's `module.train()`/`eval()` flag is not consulted.

    Args:
        rate: float in `[0, 1)`, the fraction of inputs to drop.
        noise_shape: None, or a tuple as long as the input's rank giving the shape of the keep
            mask, broadcast over the input; `None` entries take the input's size. E.g.
            `(batch, 1, features)` drops the same features at every time step.
        seed: None (use torch's global generator) or an int seeding a generator owned by this
            layer, so that a fresh layer with the same seed drops the same units.
        name, trainable, dtype: as for every `Layer`.

    Call arguments:
        inputs: tensor of any shape. A mask on it is passed through unchanged.
        training: whether to drop (True) or pass inputs through unchanged (False, the default).

    Output shape:
        The input's shape.

    Example:
        >>> layer = Dropout(0.5, seed=0)
        >>> out = layer(torch.ones(2, 3), training=True)
        >>> sorted(set(out.flatten().tolist())) in ([0.0, 2.0], [0.0], [2.0])
        True
        >>> layer(torch.ones(2, 3)).tolist()
        [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """

    supports_masking = True

    def __init__(
        self,
        rate: float,
        noise_shape: Sequence[int | None] | None = None,
        seed: int | None = None,
        name: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(name=name, **kwargs)
        check_scalar(rate, f"Dropout '{self.name}': rate", float, min_val=0, max_val=1, include_boundaries="left")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._generator = None

    def call(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        if not training or self.rate == 0:
            return inputs
        if self.noise_shape is None and self.seed is None:
            return F.dropout(inputs, self.rate, training=True)
        shape = inputs.shape
        if self.noise_shape is not None:
            shape = [size if n is None else n for n, size in zip(self.noise_shape, inputs.shape)]
        keep = torch.empty(shape, dtype=inputs.dtype, device=inputs.device)
        keep.bernoulli_(1.0 - self.rate, generator=self._generator_on(inputs.device))
        return inputs * keep / (1.0 - self.rate)

    def _generator_on(self, device):
        if self.seed is None:
            return None
        if self._generator is None or self._generator.device != device:
            self._generator = torch.Generator(device=device).manual_seed(self.seed)
        return self._generator

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}

    def extra_repr(self) -> str:
        return f"rate={self.rate}, noise_shape={self.noise_shape}, seed={self.seed}, {super().extra_repr()}"


class Activation(Layer):
    """Applies an activation function elementwise (or over the last axis, for softmax).

    Args:
        activation: activation name (`"tanh"`, `"relu"`, `"softmax"`, ...) or callable.
        name, trainable, dtype: as for every `Layer`.

    Call arguments:
        inputs: tensor of any shape. A mask on it is passed through unchanged.

    Output shape:
        The input's shape.

    Example:
        >>> Activation("relu")(torch.tensor([-1.0, 2.0])).tolist()
        [0.0, 2.0]
    """

    supports_masking = True

    def __init__(self, activation: ActivationLike, name: str | None = None, **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.activation = get_activation(activation)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.activation.fn(inputs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": _activation_config(self.activation)}

    def extra_repr(self) -> str:
        return f"activation={self.activation.name!r}, {super().extra_repr()}"


class RepeatVector(Layer):
    """Repeats a vector `n` times along a new time axis: `(batch, features)` becomes
    `(batch, n, features)` (e.g. to feed an encoder's summary to every decoder step).

    Args:
        n: positive int, the number of repetitions.
        name, trainable, dtype: as for every `Layer`.

    Call arguments:
        inputs: 2D tensor `(batch, features)`.

    Output shape:
        `(batch, n, features)`. Masks are not propagated (as in Keras).

    Example:
        >>> RepeatVector(3)(torch.ones(2, 4)).shape
        torch.Size([2, 3, 4])
    """

    def __init__(self, n: int, name: str | None = None, **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        n = check_scalar(n, f"RepeatVector '{self.name}': n", int, min_val=1)
        self.n = n

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], self.n, input_shape[1])

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.dim() != 2:
            raise ValueError(
                f"RepeatVector '{self.name}': expected input of shape (batch, features), "
                f"got {tuple(inputs.shape)}."
            )
        return inputs.unsqueeze(1).expand(-1, self.n, -1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n": self.n}

    def extra_repr(self) -> str:
        return f"n={self.n}, {super().extra_repr()}"


class Masking(Layer):
    """Marks time steps to skip: a step whose features all equal `mask_value` is masked, and its
    output is zeroed. Downstream layers that take a mask (recurrent layers) skip those steps.

    Args:
        mask_value: the padding value.
        name, trainable, dtype: as for every `Layer`.

    Call arguments:
        inputs: tensor `(batch, time, features)` (any rank >= 2; the last axis is features).

    Output shape:
        The input's shape, with mask `any(inputs != mask_value, axis=-1)` of shape
        `(batch, time)`. An incoming mask is replaced, as in Keras.

    Example:
        >>> out = Masking(0.0)(torch.tensor([[[1.0, 2.0], [0.0, 0.0]]]))
        >>> out._keras_mask.tolist()
        [[True, False]]
    """

    supports_masking = True

    def __init__(self, mask_value: float = 0.0, name: str | None = None, **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.mask_value = mask_value

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        keep = self.compute_mask(inputs).unsqueeze(-1)
        return torch.where(keep, inputs, torch.zeros((), dtype=inputs.dtype, device=inputs.device))

    def compute_mask(self, inputs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return (inputs != self.mask_value).any(dim=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mask_value": self.mask_value}

    def extra_repr(self) -> str:
        return f"mask_value={self.mask_value}, {super().extra_repr()}"
