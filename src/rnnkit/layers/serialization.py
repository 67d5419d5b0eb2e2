"""Layer configs as Keras writes them: {"class_name": ..., "config": {...}}, and back.

Only rnnkit's own layers and classes registered with `register_serializable` can be rebuilt from
a config: a config never names arbitrary code to run."""
_REGISTERED = {}


def register_serializable(cls=None, *, name=None):
    """Class decorator that lets `deserialize_layer` (and saved models) rebuild a custom layer or cell."""

    def register(c):
        _REGISTERED[name or c.__name__] = c
        return c

    return register(cls) if cls is not None else register


def serialize_layer(layer):
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def layer_class(class_name):
    """The class a config's "class_name" names: a registered class or an rnnkit layer, else ValueError."""
    from .. import layers

    if class_name in _REGISTERED:
        return _REGISTERED[class_name]
    cls = getattr(layers, class_name, None)
    if isinstance(cls, type) and issubclass(cls, layers.Layer):
        return cls
    raise ValueError(
        f"Unknown layer class {class_name!r}: only rnnkit layers and classes registered with "
        "rnnkit.layers.register_serializable can be rebuilt from a config."
    )


def deserialize_layer(spec):
    if not isinstance(spec, dict) or "class_name" not in spec:
        raise ValueError(f"Expected a layer config {{'class_name': ..., 'config': {{...}}}}, got {spec!r}.")
    return layer_class(spec["class_name"]).from_config(spec.get("config", {}))
