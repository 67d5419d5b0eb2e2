"""`TimeDistributed`: applies one layer, with one set of weights, to every time step."""
from __future__ import annotations

from typing import Any

import torch

from .base import Layer
from .serialization import deserialize_layer, serialize_layer


class TimeDistributed(Layer):
    """Applies `layer` to every time step of its input, sharing the layer's weights across steps.

    The time axis is folded into the batch, `(batch, time, ...)` -> `(batch * time, ...)`, the
    layer runs once on all steps together, and the result is unfolded to `(batch, time, ...)`.
    The wrapped layer is built on the first call from the per-step shape; the weights
    (`get_weights()`, `count_params()`) are the wrapped layer's.

    Args:
        layer: an rnnkit `Layer`, e.g. `Dense(10)`.
        name, trainable, dtype: as for every `Layer`.

    Call arguments:
        inputs: tensor `(batch, time, ...)`.
        training: passed on to the wrapped layer when its `call` takes it (e.g. `Dropout`).
        mask: optional bool tensor `(batch, time)`; defaults to the mask carried by `inputs`. It is
            passed on, folded to `(batch * time,)`, to a wrapped layer whose `call` takes a mask,
            and it is the output's mask (as in Keras 3; the wrapped layer's own mask is dropped).

    Output shape:
        `(batch, time, ...)` followed by the wrapped layer's per-step output shape.

    Example:
        >>> from rnnkit.layers import Dense
        >>> layer = TimeDistributed(Dense(3))
        >>> layer(torch.ones(2, 5, 4)).shape
        torch.Size([2, 5, 3])
        >>> [tuple(w.shape) for w in layer.get_weights()]
        [(4, 3), (3,)]
    """

    supports_masking = True

    def __init__(self, layer: Layer, name: str | None = None, **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if not isinstance(layer, Layer):
            raise TypeError(
                f"TimeDistributed '{self.name}': expected an rnnkit Layer to wrap, got {type(layer).__name__}."
            )
        self.layer = layer

    def _check_input_shape(self, shape):
        if len(shape) < 3:
            raise ValueError(
                f"TimeDistributed '{self.name}': expected input of shape (batch, time, ...), got {tuple(shape)}."
            )

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self._check_input_shape(input_shape)
        self.build_child(self.layer, (input_shape[0], *input_shape[2:]))

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        self._check_input_shape(input_shape)
        step = self.layer.compute_output_shape((input_shape[0], *input_shape[2:]))
        return (input_shape[0], input_shape[1], *step[1:])

    def call(
        self, inputs: torch.Tensor, training: bool | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        self._check_input_shape(inputs.shape)
        batch, time = inputs.shape[:2]
        kwargs = {}
        if "training" in self.layer._call_takes and training is not None:
            kwargs["training"] = training
        if mask is not None and tuple(mask.shape[:2]) != (batch, time):
            raise ValueError(
                f"TimeDistributed '{self.name}': expected a mask of shape ({batch}, {time}, ...), "
                f"got {tuple(mask.shape)}."
            )
        if "mask" in self.layer._call_takes and mask is not None:
            kwargs["mask"] = mask.reshape(batch * time, *mask.shape[2:])
        outputs = self.layer(inputs.reshape(batch * time, *inputs.shape[2:]), **kwargs)
        return outputs.reshape(batch, time, *outputs.shape[1:])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "layer": serialize_layer(self.layer)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TimeDistributed:
        return cls(deserialize_layer(config["layer"]), **{k: v for k, v in config.items() if k != "layer"})
