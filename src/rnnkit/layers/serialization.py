"""Layer configs as Keras writes them: {"class_name": ..., "config": {...}}, and back.

Only rnnkit's own layers and classes registered with `register_serializable` can be rebuilt from
a config: a config never names arbitrary code to run."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .base import Layer

_Registered = TypeVar("_Registered")
_Configurable = TypeVar("_Configurable", bound="ConfigObject")

_REGISTERED = {}


class ConfigObject:
    """Keras's config protocol for the small configurable objects (initializers, regularizers,
    constraints, losses, metrics): `get_config()` gives the constructor arguments, `from_config()`
    rebuilds from them."""

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls: type[_Configurable], config: dict[str, Any]) -> _Configurable:
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


_REGISTERED_NAMES = {}  # class -> the name it was registered under


def register_serializable(cls: type | None = None, *, name: str | None = None) -> type | Callable[[type], type]:
    """Class decorator that lets `deserialize_layer` (and saved models) rebuild a custom layer or cell."""

    def register(c):
        registered = name or c.__name__
        _REGISTERED[registered] = c
        _REGISTERED_NAMES[c] = registered
        return c

    return register(cls) if cls is not None else register


def register_keras_serializable(
    package: str = "Custom", name: str | None = None
) -> Callable[[_Registered], _Registered]:
    """Keras's `keras.saving.register_keras_serializable`: registers a class (or function) under
    "package>name" (name defaults to its `__name__`); its configs then carry that
    "registered_name", by which a saved model finds the class again."""
    if ">" in package:
        raise ValueError(f"register_keras_serializable: package may not contain '>', got {package!r}.")

    def register(obj):
        if isinstance(obj, type) and not hasattr(obj, "get_config"):
            raise ValueError(f"Cannot register {obj.__name__}: a registered class needs a get_config() method.")
        return register_serializable(obj, name=f"{package}>{name or obj.__name__}")

    return register


def get_registered_name(obj: Any) -> str | None:
    """The name `obj` was registered under, else its `__name__`."""
    return _REGISTERED_NAMES.get(obj, getattr(obj, "__name__", None))


def get_registered_object(name: str, custom_objects: dict[str, Any] | None = None) -> Any:
    """The class or function registered under `name` (or given in `custom_objects`), else None."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    return _REGISTERED.get(name)


def serialize_layer(layer: Layer) -> dict[str, Any]:
    spec = {"class_name": type(layer).__name__, "config": layer.get_config()}
    registered = _REGISTERED_NAMES.get(type(layer))
    if registered is not None and registered != spec["class_name"]:  # e.g. "my_package>MyCell"
        spec["registered_name"] = registered
    return spec


def layer_class(class_name: str, registered_name: str | None = None) -> type[Layer]:
    """The class a config's "registered_name" or "class_name" names: a registered class or an rnnkit
    layer, else ValueError."""
    from .. import layers

    if registered_name in _REGISTERED:
        return _REGISTERED[registered_name]
    if class_name in _REGISTERED:
        return _REGISTERED[class_name]
    cls = getattr(layers, class_name, None)
    if isinstance(cls, type) and issubclass(cls, layers.Layer):
        return cls
    raise ValueError(
        f"Unknown layer class {class_name!r}: only rnnkit layers and classes registered with "
        "rnnkit.layers.register_serializable can be rebuilt from a config."
    )


def deserialize_layer(spec: dict[str, Any]) -> Layer:
    if not isinstance(spec, dict) or "class_name" not in spec:
        raise ValueError(f"Expected a layer config {{'class_name': ..., 'config': {{...}}}}, got {spec!r}.")
    return layer_class(spec["class_name"], spec.get("registered_name")).from_config(spec.get("config", {}))
