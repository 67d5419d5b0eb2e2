"""`keras.activations`: the activation functions by name, and `get` / `serialize` / `deserialize`.

Each function is the engine's `Activation` for that name, callable on a tensor (`tanh(x)`); handing
one to a layer (`LSTM(8, activation=activations.relu)`) keeps the layer on its fused kernels, as
the name would. Unlike Keras's functions they take the tensor alone (no `axis=` / `max_value=`).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .engine.activations import Activation, activation_names, get_activation


def get(identifier: str | Callable | None) -> Callable:
    """The activation for a Keras name, None (linear), an activation or any callable (returned as is);
    ValueError for an unknown name."""
    if callable(identifier) and not isinstance(identifier, Activation):
        return identifier
    return get_activation(identifier)


def serialize(activation: str | Callable | None) -> str:
    """The Keras name of a built-in activation ("relu"); ValueError for any other callable."""
    activation = get(activation)
    if not isinstance(activation, Activation) or get_activation(activation.name) is not activation:
        raise ValueError(
            f"serialize: {activation!r} is not a built-in activation; register a custom function "
            "with rnnkit.saving.register_keras_serializable to save it."
        )
    return activation.name


def deserialize(config: str | dict[str, Any], custom_objects: dict[str, Callable] | None = None) -> Callable:
    """The activation a `serialize` result names (a name, or Keras's {"config": name} form)."""
    name = config.get("config") if isinstance(config, dict) else config
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    return get_activation(name)


globals().update({name: get_activation(name) for name in activation_names()})
