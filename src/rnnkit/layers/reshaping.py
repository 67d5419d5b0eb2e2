"""Keras 3's Flatten as a torch.nn.Module."""
from __future__ import annotations

import math
from typing import Any

import torch

from .base import Layer

DATA_FORMATS = ("channels_last", "channels_first")


class Flatten(Layer):
    """Flattens every axis but the batch axis: `(batch, d1, d2, ...)` becomes
    `(batch, d1 * d2 * ...)`, and `(batch,)` becomes `(batch, 1)`.

    Args:
        data_format: `"channels_last"` (the default, also for None) or `"channels_first"`; with
            `"channels_first"` the input `(batch, channels, ...)` is first moved to
            `(batch, ..., channels)`, so the flattened order is the same as for channels-last data.
        name, trainable, dtype: as for every `Layer`.

    Call arguments:
        inputs: tensor of rank >= 1, batch first. A mask on it is not propagated (as in Keras).

    Output shape:
        `(batch, product of the other sizes)`.

    Example:
        >>> Flatten()(torch.zeros(2, 10, 64)).shape
        torch.Size([2, 640])
    """

    def __init__(self, data_format: str | None = None, name: str | None = None, **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        data_format = data_format or "channels_last"
        if data_format not in DATA_FORMATS:
            raise ValueError(
                f"Flatten '{self.name}': expected data_format in {DATA_FORMATS} or None, got {data_format!r}."
            )
        self.data_format = data_format

    def validate_input(self, inputs: torch.Tensor) -> None:
        if inputs.dim() < 1:
            raise ValueError(f"Flatten '{self.name}': expected input of shape (batch, ...), got {tuple(inputs.shape)}.")

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.data_format == "channels_first" and inputs.dim() > 2:
            inputs = inputs.movedim(1, -1)
        return inputs.reshape(inputs.shape[0], math.prod(inputs.shape[1:]))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}

    def extra_repr(self) -> str:
        return f"data_format={self.data_format!r}, {super().extra_repr()}"
