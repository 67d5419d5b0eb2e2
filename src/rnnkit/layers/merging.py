"""Keras 3's merge layers as torch.nn.Modules: Concatenate and Add take a list of tensors and
return one, in eager code and in functional graphs (`Concatenate()([a, b])` on `rnnkit.Input`
tensors). Masks are combined from every input as Keras combines them."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .base import Layer, get_mask


def _format_shapes(shapes):
    return ", ".join(str(tuple(shape)) for shape in shapes)


class Merge(Layer):
    """What the merge layers share: a list of tensors in, one tensor out, the output mask made from
    the masks of all the inputs. Subclasses implement `check_shapes(shapes)`, `merge(inputs)` and
    `merge_masks(inputs, masks)`."""

    supports_masking = True

    def _check_list(self, inputs, what):
        if not isinstance(inputs, (list, tuple)) or not inputs:
            received = f"a tensor of shape {tuple(inputs.shape)}" if isinstance(inputs, torch.Tensor) else repr(inputs)
            raise ValueError(
                f"{type(self).__name__} '{self.name}': expected a list of at least one {what}, got {received}."
            )

    def build(self, input_shape: Sequence[Sequence[int | None]]) -> None:
        self._check_list(input_shape, "shape")
        if not all(isinstance(shape, (list, tuple, torch.Size)) for shape in input_shape):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': expected a list of shapes, one per input, got {input_shape!r}."
            )
        self.check_shapes(input_shape)

    def validate_input(self, inputs: Sequence[torch.Tensor]) -> None:
        self._check_list(inputs, "tensor")
        if not all(isinstance(x, torch.Tensor) for x in inputs):
            kinds = ", ".join(type(x).__name__ for x in inputs)
            raise ValueError(f"{type(self).__name__} '{self.name}': expected a list of tensors, got [{kinds}].")
        self.check_shapes([tuple(x.shape) for x in inputs])

    def call(self, inputs: Sequence[torch.Tensor], mask: Sequence[torch.Tensor | None] | None = None) -> torch.Tensor:
        return self.merge(list(inputs))

    def compute_mask(
        self, inputs: Sequence[torch.Tensor], mask: Sequence[torch.Tensor | None] | None = None
    ) -> torch.Tensor | None:
        # `mask` is a list only when the caller passed one mask per input; otherwise each input's own.
        masks = list(mask) if isinstance(mask, (list, tuple)) else [get_mask(x) for x in inputs]
        if len(masks) != len(inputs):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': expected one mask per input ({len(inputs)}), got {len(masks)}."
            )
        return self.merge_masks(list(inputs), masks)

    def check_shapes(self, shapes: Sequence[Sequence[int | None]]) -> None:
        raise NotImplementedError

    def merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def merge_masks(self, inputs: list[torch.Tensor], masks: list[torch.Tensor | None]) -> torch.Tensor | None:
        raise NotImplementedError


class Concatenate(Merge):
    """Concatenates a list of tensors along `axis`; all other sizes must agree.

    Args:
        axis: int, the axis to concatenate along (-1: the last, e.g. features).
        name, trainable, dtype: as for every `Layer`.

    Call arguments:
        inputs: a list of tensors of the same rank and the same shape except on `axis`.
        mask: optional list with one mask (or None) per input; by default the masks the inputs
            carry. Only the output mask depends on it.

    Output shape:
        The inputs' shape with the sizes on `axis` summed. The output mask is Keras's: each
        input's mask (all True for an unmasked input) broadcast to the input's shape, concatenated
        along `axis`, then reduced with any() over the last axis; so for `axis=-1` a position is
        kept if any input keeps it, and for the time axis the masks are joined end to end. No
        input masked: no output mask.

    Example:
        >>> Concatenate()([torch.zeros(2, 3, 4), torch.ones(2, 3, 5)]).shape
        torch.Size([2, 3, 9])
        >>> a, b = Input(shape=(None, 4)), Input(shape=(None, 5))
        >>> Model([a, b], Concatenate()([a, b])).output_shape
        (None, None, 9)
    """

    def __init__(self, axis: int = -1, name: str | None = None, **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"Concatenate '{self.name}': expected an integer axis, got {axis!r}.")
        self.axis = axis

    def check_shapes(self, shapes: Sequence[Sequence[int | None]]) -> None:
        ranks = {len(shape) for shape in shapes}
        if len(ranks) != 1:
            raise ValueError(
                f"Concatenate '{self.name}': expected inputs of the same rank, got shapes {_format_shapes(shapes)}."
            )
        (rank,) = ranks
        if not -rank <= self.axis < rank:
            raise ValueError(
                f"Concatenate '{self.name}': expected axis in [{-rank}, {rank}) for inputs of rank {rank}, "
                f"got axis={self.axis}."
            )
        axis = self.axis % rank
        for d in range(rank):
            if d != axis and len({shape[d] for shape in shapes} - {None}) > 1:
                raise ValueError(
                    f"Concatenate '{self.name}': expected inputs of the same shape except on the concatenation "
                    f"axis {self.axis}, got shapes {_format_shapes(shapes)}."
                )

    def merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(inputs, dim=self.axis)

    def merge_masks(self, inputs: list[torch.Tensor], masks: list[torch.Tensor | None]) -> torch.Tensor | None:
        if all(m is None for m in masks):
            return None
        full = []
        for x, m in zip(inputs, masks):
            if m is None:
                m = torch.ones(x.shape, dtype=torch.bool, device=x.device)
            elif m.dim() < x.dim():
                m = m.unsqueeze(-1).expand(x.shape)
            full.append(m.bool())
        return torch.cat(full, dim=self.axis).any(dim=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}

    def extra_repr(self) -> str:
        return f"axis={self.axis}, {super().extra_repr()}"


class Add(Merge):
    """Adds a list of tensors elementwise.

    As in Keras, the inputs must share the batch size; after the batch axis their shapes must be
    equal or broadcast (sizes aligned from the last axis, a size of 1 stretches), and an input of
    lower rank gets new axes after the batch axis.

    Args:
        name, trainable, dtype: as for every `Layer`.

    Call arguments:
        inputs: a list of tensors, usually of one shape.
        mask: optional list with one mask (or None) per input; by default the masks the inputs
            carry. Only the output mask depends on it.

    Output shape:
        The broadcast shape of the inputs. The output mask is Keras's: the logical OR of the
        inputs' masks when every input is masked, otherwise none.

    Example:
        >>> Add()([torch.ones(2, 3), torch.full((2, 3), 2.0)]).tolist()
        [[3.0, 3.0, 3.0], [3.0, 3.0, 3.0]]
    """

    def check_shapes(self, shapes: Sequence[Sequence[int | None]]) -> None:
        batch_sizes = {shape[0] for shape in shapes if len(shape)} - {None}
        if len(batch_sizes) > 1:
            raise ValueError(
                f"Add '{self.name}': expected inputs with the same batch size, got shapes {_format_shapes(shapes)}."
            )
        width = max(len(shape) for shape in shapes) - 1
        for d in range(1, width + 1):
            sizes = {shape[-d] for shape in shapes if len(shape) > d} - {None, 1}
            if len(sizes) > 1:
                raise ValueError(
                    f"Add '{self.name}': expected inputs of the same shape (or sizes of 1 that broadcast), "
                    f"got shapes {_format_shapes(shapes)}."
                )

    def merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        rank = max(x.dim() for x in inputs)
        total = None
        for x in inputs:
            while x.dim() < rank:
                x = x.unsqueeze(1)
            total = x if total is None else total + x
        return total

    def merge_masks(self, inputs: list[torch.Tensor], masks: list[torch.Tensor | None]) -> torch.Tensor | None:
        if any(m is None for m in masks):
            return None
        combined = masks[0]
        for m in masks[1:]:
            combined = combined | m
        return combined


def concatenate(inputs: Sequence[torch.Tensor], axis: int = -1, **kwargs) -> torch.Tensor:
    """`Concatenate(axis=axis, **kwargs)(inputs)`, Keras's functional shorthand."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def add(inputs: Sequence[torch.Tensor], **kwargs) -> torch.Tensor:
    """`Add(**kwargs)(inputs)`, Keras's functional shorthand."""
    return Add(**kwargs)(inputs)
