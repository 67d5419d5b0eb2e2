"""Weight penalties, as Keras's `l1`, `l2` and `l1_l2` (string names default to 0.01)."""
import torch


class Regularizer:
    def __init__(self, l1=0.0, l2=0.0):
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        penalty = weight.new_zeros(())
        if self.l1:
            penalty = penalty + self.l1 * weight.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * weight.square().sum()
        return penalty

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}

    def __repr__(self):
        return f"{type(self).__name__}(l1={self.l1}, l2={self.l2})"


def L1(l1=0.01):
    return Regularizer(l1=l1)


def L2(l2=0.01):
    return Regularizer(l2=l2)


def L1L2(l1=0.0, l2=0.0):
    return Regularizer(l1=l1, l2=l2)


l1, l2, l1_l2 = L1, L2, L1L2


def get_regularizer(identifier):
    """None, a Regularizer, a config dict ({"l1": .., "l2": ..}, or Keras-serialized
    {"class_name": "L2", "config": {...}}), or one of "l1", "l2", "l1_l2"."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, dict):
        config = identifier.get("config", identifier) if "class_name" in identifier else identifier
        return Regularizer(l1=config.get("l1", 0.0), l2=config.get("l2", 0.0))
    named = {"l1": L1(), "l2": L2(), "l1_l2": L1L2(0.01, 0.01)}
    if identifier in named:
        return named[identifier]
    raise ValueError(
        f"Unknown regularizer {identifier!r}: expected None, 'l1', 'l2', 'l1_l2' or "
        "rnnkit.regularizers.L1(...)/L2(...)/L1L2(...)."
    )


def serialize_regularizer(regularizer):
    return None if regularizer is None else regularizer.get_config()
