"""`keras.saving`: save and load whole models, and register custom classes for loading.

`register_keras_serializable(package, name)` registers a layer or cell under "package>name", as
Keras does; configs of its instances carry that name and `load_model` rebuilds them from it.
"""
from .io import load_model, load_weights, save_model, save_weights  # noqa: F401
from .layers.serialization import (  # noqa: F401
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
