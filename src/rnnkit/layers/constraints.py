"""Weight constraints, as Keras's: projections applied to a weight after each optimizer step.

`fit()` applies them; in a hand-written PyTorch loop call `layer.apply_constraints()` after
`optimizer.step()`."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

import torch

from .serialization import ConfigObject

EPSILON = 1e-7  # Keras's backend.epsilon()


class Constraint(ConfigObject):
    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return w



class MaxNorm(Constraint):
    """Rescales each slice along `axis` to a norm of at most `max_value`."""

    def __init__(self, max_value: float = 2, axis: int | Sequence[int] = 0) -> None:
        self.max_value, self.axis = max_value, axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        norms = w.square().sum(dim=self.axis, keepdim=True).sqrt()
        return w * (norms.clamp(0, self.max_value) / (EPSILON + norms))

    def get_config(self) -> dict[str, Any]:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Clips negative weights to zero."""

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return w.clamp_min(0)


class UnitNorm(Constraint):
    """Rescales each slice along `axis` to unit norm."""

    def __init__(self, axis: int | Sequence[int] = 0) -> None:
        self.axis = axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return w / (EPSILON + w.square().sum(dim=self.axis, keepdim=True).sqrt())

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves each slice's norm towards [min_value, max_value] at `rate` (1.0: exactly into it)."""

    def __init__(
        self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0, axis: int | Sequence[int] = 0
    ) -> None:
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        norms = w.square().sum(dim=self.axis, keepdim=True).sqrt()
        desired = self.rate * norms.clamp(self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * (desired / (EPSILON + norms))

    def get_config(self) -> dict[str, Any]:
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm
# What a layer's *_constraint argument takes (see `get_constraint`).
ConstraintLike = Union[str, dict, Constraint, None]

_BY_NAME = {
    "max_norm": MaxNorm,
    "non_neg": NonNeg,
    "unit_norm": UnitNorm,
    "min_max_norm": MinMaxNorm,
}
_BY_CLASS = {cls.__name__: cls for cls in _BY_NAME.values()}


def get_constraint(identifier: Constraint | str | dict[str, Any] | None) -> Constraint | None:
    """None, a Constraint, a name ("max_norm", "non_neg", "unit_norm", "min_max_norm"), or a
    serialized {"class_name": ..., "config": ...}."""
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in _BY_CLASS:
        return _BY_CLASS[identifier["class_name"]].from_config(identifier.get("config") or {})
    raise ValueError(
        f"Unknown constraint {identifier!r}: expected None, one of {', '.join(sorted(_BY_NAME))}, or a "
        "rnnkit.layers.constraints.Constraint."
    )


def serialize_constraint(constraint: Constraint | None) -> dict[str, Any] | None:
    if constraint is None:
        return None
    return {"class_name": type(constraint).__name__, "config": constraint.get_config()}


get, serialize = get_constraint, serialize_constraint
