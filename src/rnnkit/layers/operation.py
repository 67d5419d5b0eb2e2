"""`Operation`: one `keras.ops` call recorded in a functional model, run through `rnnkit.ops`.

Keras 3 records a `keras.ops` call on symbolic tensors (`ops.not_equal(ids, 0)` for an Embedding's
mask, `x * 2.0`, `ops.concatenate(...)`) as a node of its own in the functional config. Such a
node becomes an `Operation` naming the rnnkit.ops function and its keyword arguments. Only the
side-effect-free functions in `OPERATIONS` can be named: a config never chooses code to run.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from .. import ops
from .base import Layer, snake_case

# keras.ops functions a saved model may call: arithmetic, comparisons and logic, casts, shape
# changes, joins, reductions and elementwise activations. Nothing that reads, writes or runs code.
OPERATIONS = frozenset({
    "add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "mod", "power", "negative", "abs",
    "absolute", "sign", "square", "sqrt", "rsqrt", "exp", "log", "log1p", "sin", "cos", "floor", "ceil", "round",
    "maximum", "minimum", "clip", "matmul", "dot", "einsum",
    "equal", "not_equal", "greater", "greater_equal", "less", "less_equal",
    "logical_and", "logical_or", "logical_xor", "logical_not", "where", "isnan", "isfinite",
    "cast", "reshape", "transpose", "expand_dims", "squeeze", "concatenate", "stack", "split", "tile", "repeat",
    "flip", "take", "take_along_axis", "cumsum", "zeros_like", "ones_like", "full_like", "one_hot", "stop_gradient",
    "sum", "mean", "max", "min", "prod", "var", "std", "argmax", "argmin", "any", "all", "logsumexp", "norm",
    "tanh", "sigmoid", "relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "softplus", "softsign", "softmax",
    "log_softmax",
})


def operation_name(keras_class_name: str) -> str | None:
    """The rnnkit.ops function of a Keras operation class ("NotEqual" -> "not_equal"), or None if it
    is not one a model may call."""
    name = snake_case(keras_class_name)
    return name if name in OPERATIONS else None


class Operation(Layer):
    """Calls `rnnkit.ops.<function>(*inputs, **arguments)`; no weights.

    Args:
        function: the name of an rnnkit.ops function in `OPERATIONS` (e.g. "not_equal").
        arguments: keyword arguments fixed at construction (Keras's operation config: `axis`,
            `keepdims`, `dtype`, `newshape`, ...).
        name: the layer's name.

    Call arguments: the operation's positional and keyword arguments, as recorded in the model.
    Output: whatever the function returns (a tensor, or a list of tensors for `split`).
    """

    def __init__(self, function: str, arguments: Mapping[str, Any] | None = None, **kwargs) -> None:
        if function not in OPERATIONS:
            raise ValueError(
                f"Operation: {function!r} is not an operation rnnkit runs from a config; allowed: "
                f"{', '.join(sorted(OPERATIONS))}."
            )
        super().__init__(**kwargs)
        self.function = function
        self.arguments = dict(arguments or {})

    def call(self, *args, **kwargs) -> torch.Tensor | list[torch.Tensor] | tuple[torch.Tensor, ...]:
        return getattr(ops, self.function)(*args, **kwargs, **self.arguments)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "function": self.function, "arguments": dict(self.arguments)}
