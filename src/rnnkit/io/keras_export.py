"""Keras 3 export: rnnkit models into `.keras` model files and `.weights.h5` weight files.

The inverse of `rnnkit.io.keras_import`. rnnkit's layers already write Keras's configs, so a
`.keras` file is rnnkit's config with the keys Keras's deserializer reads added to each layer spec
(`module`, `registered_name`, `build_config`), plus `metadata.json` and the weights in the H5 layout
of Keras's `saving_lib` (see `keras_import` for the layout: `layers/<snake_case class>[_n]/vars/0..n`,
cells under `cell/`, Bidirectional's `forward_layer/` and `backward_layer/`, ...).

Only the classes rnnkit shares with Keras can be written; a model holding any other layer (an
rnnkit-only layer, a custom registered class, a text layer whose vocabulary Keras keeps in assets)
is refused, naming the layer, with the advice to save it as `.rnnkit`.
"""
from __future__ import annotations

import datetime
import io
import json
import os
import zipfile

import h5py

from ..files import write_atomically
from ..layers.bidirectional import Bidirectional
from ..layers.rnn import RNN, StackedRNNCells
from ..layers.serialization import serialize_layer
from ..layers.time_distributed import TimeDistributed
from ..models.model import Model
from ..models.sequential import Sequential
from .keras_import import _NESTED_LAYER_KEYS, _is_spec, _keras_layer_order, _snake_case, _unique_key
from .saving import _check_built

__all__ = ["save_keras", "save_keras_weights"]

# The Keras version the files claim: the layout is that of Keras 3's saving_lib, which load_keras reads.
KERAS_VERSION = "3.0.0"

# rnnkit classes that Keras 3 has under the same name and config, by the module Keras writes for them.
_KERAS_MODULES = {
    **dict.fromkeys(
        ("InputLayer", "Dense", "Embedding", "SimpleRNN", "LSTM", "GRU", "SimpleRNNCell", "LSTMCell", "GRUCell",
         "RNN", "StackedRNNCells", "Bidirectional", "TimeDistributed", "Dropout", "Masking", "RepeatVector",
         "Activation", "Flatten", "LayerNormalization", "BatchNormalization", "Add", "Concatenate"),
        "keras.layers"),
    "Sequential": "keras.src.models.sequential",
    "Functional": "keras.src.models.functional",
}


# ------------------------------------------------------------------------------------ public API
def save_keras(model: Model, path: str | os.PathLike) -> None:
    """Writes `model` as a Keras 3 `.keras` file (`config.json`, `metadata.json`, `model.weights.h5`)
    that `keras.saving.load_model` and `rnnkit.io.load_keras` read; `model.save("x.keras")` calls this.

    Args:
        model: a built rnnkit `Sequential` or functional `Model` made only of layers Keras has
            (Input, Dense, Embedding, SimpleRNN/LSTM/GRU and their cells, RNN, StackedRNNCells,
            Bidirectional, TimeDistributed, Dropout, Masking, RepeatVector, Activation, Flatten,
            LayerNormalization, BatchNormalization, Add, Concatenate, and models of these).
        path: the file to write, ending with `.keras`; an existing file is replaced atomically.

    The compile settings are not written: the Keras model loads uncompiled.

    Raises:
        ValueError: `path` does not end with `.keras`, the model is not built, or it holds a layer
            Keras does not have (the message names it and suggests `.rnnkit`).

    Example:
        >>> model.save("model.keras")
        >>> keras.saving.load_model("model.keras").predict(x)
    """
    path, config, weights = _keras_parts(model, path, "save_keras", ".keras", "model")
    metadata = {"keras_version": KERAS_VERSION,
                "date_saved": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d@%H:%M:%S")}

    def write(file):
        with zipfile.ZipFile(file, "w") as archive:
            archive.writestr("metadata.json", json.dumps(metadata))
            archive.writestr("config.json", json.dumps(config))
            archive.writestr("model.weights.h5", weights)

    write_atomically(path, write)


def save_keras_weights(model: Model, path: str | os.PathLike) -> None:
    """Writes the weights of `model` as a Keras 3 `.weights.h5` file, which a Keras model of the same
    architecture reads with `keras_model.load_weights(path)` (layers matched by position and class);
    `model.save_weights("x.weights.h5")` calls this.

    Args:
        model: a built rnnkit `Sequential` or functional `Model` of layers Keras has (see `save_keras`).
        path: the file to write, ending with `.weights.h5`; an existing file is replaced atomically.

    Raises:
        ValueError: `path` does not end with `.weights.h5`, the model is not built, or it holds a
            layer Keras does not have.
    """
    path, _, weights = _keras_parts(model, path, "save_keras_weights", ".weights.h5", "weight")
    write_atomically(path, lambda file: file.write(weights))


# ------------------------------------------------------------------------------------ the config
def _keras_parts(model, path, caller, suffix, kind):
    """What both Keras files are made of, the arguments checked: (path as a string, the Keras config,
    the weights file's bytes)."""
    path = os.fspath(path)
    if not isinstance(model, Model):
        raise ValueError(f"{caller} expects an rnnkit model, got {type(model).__name__}.")
    if not str(path).endswith(suffix):
        raise ValueError(f"Keras {kind} files end with '{suffix}', got {path!r}.")
    config = _keras_spec(serialize_layer(model), model)
    _check_built(model, "write a Keras file of")
    return path, config, _weights_bytes(model, _keras_layer_order(model, config))


def _keras_spec(spec, model):
    """A copy of an rnnkit layer spec with Keras's keys added to it and every spec nested in it;
    ValueError naming the first layer whose class Keras does not have."""
    spec = json.loads(json.dumps(spec))
    _add_keras_keys(spec, model)
    return spec


def _add_keras_keys(spec, model):
    class_name = spec["class_name"]
    config = spec["config"]
    name = config.get("name", "?") if isinstance(config, dict) else "?"
    if class_name not in _KERAS_MODULES or spec.get("registered_name") not in (None, class_name):
        raise ValueError(
            f"Layer '{name}' ({spec.get('registered_name') or class_name}) of model '{model.name}' is not a Keras "
            "layer rnnkit can write, so the model cannot be saved as a Keras file: save it with "
            "model.save('x.rnnkit')."
        )
    spec["module"] = _KERAS_MODULES[class_name]
    spec["registered_name"] = None
    if isinstance(config, dict):
        for key in _NESTED_LAYER_KEYS:
            value = config.get(key)
            for child in value if isinstance(value, list) else [value]:
                if _is_spec(child):
                    _add_keras_keys(child, model)


# ----------------------------------------------------------------------------------- the weights
def _weights_bytes(model, layers):
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        _write_model(model, h5, layers)
    return buffer.getvalue()


def _write_model(model, group, layers):
    """Writes a model's group as Keras's saving_lib does: its own (empty) `vars`, then each layer under
    `layers/<snake_case class>[_n]`, in `layers`' order (Keras's `model.layers`)."""
    _write_vars(group, model.name, [])
    container, used = group.create_group("layers"), {}
    for layer in layers:
        layer_group = container.create_group(_unique_key(_snake_case(type(layer).__name__), used))
        if isinstance(layer, Model):
            inner = _keras_layer_order(layer, serialize_layer(layer)) if isinstance(layer, Sequential) else layer.layers
            _write_model(layer, layer_group, list(inner))
        else:
            _write_layer(layer, layer_group)


def _write_layer(layer, group):
    """Writes `layer`'s variables under `group` split among its children as Keras's layers own them."""
    if isinstance(layer, Bidirectional):
        _write_vars(group, layer.name, [])
        _write_layer(layer.forward_layer, group.create_group("forward_layer"))
        _write_layer(layer.backward_layer, group.create_group("backward_layer"))
    elif isinstance(layer, RNN):
        arrays = layer.get_weights()
        own = len(arrays) - len(layer.cell.weights)
        _write_vars(group, layer.name, arrays[:own])
        _write_layer(layer.cell, group.create_group("cell"))
    elif isinstance(layer, StackedRNNCells):
        _write_vars(group, layer.name, [])
        cells, used = group.create_group("cells"), {}
        for cell in layer.cells:
            _write_layer(cell, cells.create_group(_unique_key(_snake_case(type(cell).__name__), used)))
    elif isinstance(layer, TimeDistributed):
        _write_vars(group, layer.name, [])
        _write_layer(layer.layer, group.create_group("layer"))
    else:
        _write_vars(group, layer.name, layer.get_weights())


def _write_vars(group, name, arrays):
    variables = group.create_group("vars")
    variables.attrs["name"] = name
    for index, array in enumerate(arrays):
        variables.create_dataset(str(index), data=array)
