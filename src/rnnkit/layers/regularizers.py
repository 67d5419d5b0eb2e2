"""Weight penalties as Keras 3's classes: `L1`, `L2`, `L1L2`, `OrthogonalRegularizer`, and the names
"l1", "l2", "l1_l2" (0.01 each). A regularizer is called on a weight and returns a scalar tensor.

Example:
    >>> layer = LSTM(8, kernel_regularizer=L2(1e-4), recurrent_regularizer="l1")
"""
from __future__ import annotations

from typing import Any, Union

import torch

from ..checks import check_scalar
from .serialization import ConfigObject


def _penalty(value, name):
    check_scalar(value, f"Regularizer argument {name}", float, min_val=0)
    return float(value)


class Regularizer(ConfigObject):
    """Base class: subclasses implement `__call__(weight) -> scalar tensor` and `get_config()`."""

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        return weight.new_zeros(())



class L1L2(Regularizer):
    """`l1 * sum(|w|) + l2 * sum(w**2)`."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1, self.l2 = _penalty(l1, "l1"), _penalty(l2, "l2")

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        penalty = weight.new_zeros(())
        if self.l1:
            penalty = penalty + self.l1 * weight.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * weight.square().sum()
        return penalty

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """`l1 * sum(|w|)`."""

    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(L1L2):
    """`l2 * sum(w**2)`."""

    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (`mode="rows"`) or columns (`"columns"`) of a 2-D weight towards orthogonality:
    `factor * 0.5 * sum(|cosine similarities of distinct pairs|) / pairs`, as Keras's."""

    def __init__(self, factor: float = 0.01, mode: str = "rows") -> None:
        if mode not in ("rows", "columns"):
            raise ValueError(f"OrthogonalRegularizer: mode must be 'rows' or 'columns', got {mode!r}.")
        self.factor, self.mode = _penalty(factor, "factor"), mode

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        if weight.dim() != 2:
            raise ValueError(f"OrthogonalRegularizer needs a 2-D weight, got shape {tuple(weight.shape)}.")
        vectors = weight if self.mode == "rows" else weight.t()
        unit = torch.nn.functional.normalize(vectors, dim=1)
        size = unit.shape[0]
        product = unit @ unit.t()  # (size, size) cosine similarities
        off_diagonal = product * (1.0 - torch.eye(size, dtype=weight.dtype, device=weight.device))
        return self.factor * 0.5 * off_diagonal.abs().sum() / (size * (size - 1.0) / 2.0)

    def get_config(self) -> dict[str, Any]:
        return {"factor": self.factor, "mode": self.mode}


l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer
# What a layer's *_regularizer argument takes (see `get_regularizer`).
RegularizerLike = Union[str, dict, Regularizer, None]

_CLASSES = {cls.__name__: cls for cls in (L1, L2, L1L2, OrthogonalRegularizer)}
_NAMES = {"l1": lambda: L1(), "l2": lambda: L2(), "l1_l2": lambda: L1L2(0.01, 0.01),
          "orthogonal_regularizer": lambda: OrthogonalRegularizer()}


def get_regularizer(identifier: Regularizer | str | dict[str, Any] | None) -> Regularizer | None:
    """None, a Regularizer, a name ("l1", "l2", "l1_l2", "orthogonal_regularizer"), a Keras-serialized
    {"class_name": "L2", "config": {...}}, or a flat {"l1": .., "l2": ..} (older rnnkit configs)."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, dict):
        if "class_name" in identifier:
            cls = _CLASSES.get(identifier["class_name"])
            if cls is None:
                raise ValueError(
                    f"Unknown regularizer class {identifier['class_name']!r}; known: {', '.join(sorted(_CLASSES))}."
                )
            return cls.from_config(identifier.get("config") or {})
        return L1L2(l1=identifier.get("l1", 0.0), l2=identifier.get("l2", 0.0))
    if isinstance(identifier, str) and identifier in _NAMES:
        return _NAMES[identifier]()
    raise ValueError(
        f"Unknown regularizer {identifier!r}: expected None, one of {', '.join(map(repr, _NAMES))}, or "
        "rnnkit.regularizers.L1(...)/L2(...)/L1L2(...)/OrthogonalRegularizer(...)."
    )


def serialize_regularizer(regularizer: Regularizer | None) -> dict[str, Any] | None:
    """A regularizer as a layer config holds it, in Keras's form {"class_name": ..., "config": {...}}."""
    if regularizer is None:
        return None
    return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}


get, serialize = get_regularizer, serialize_regularizer
