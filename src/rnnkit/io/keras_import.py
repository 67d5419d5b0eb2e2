"""Keras 3 import: `.keras` model files and `.weights.h5` weight files into rnnkit models.

A `.keras` file is a zip holding `config.json` (the model's architecture, Keras's JSON), `metadata.json`
and `model.weights.h5`. rnnkit's layers and models take Keras's configs, so the architecture is rebuilt
by class name (only rnnkit's classes and those registered with `rnnkit.layers.register_serializable`:
nothing is imported or executed from the file). The weights are then read the way Keras's
`saving_lib` wrote them: each saveable object owns an H5 group `<path>/vars` with datasets `0..n-1`
(its own variables, in creation order), and its children live under sub-paths named after the
attribute holding them. A model's layers sit in the container `layers/`, each named by its class in
snake case with a counter (`lstm`, `lstm_1`, ...; not by its layer name), so::

    layers/embedding/vars/0                          Embedding: embeddings
    layers/gru/cell/vars/0..2                        GRU: kernel, recurrent_kernel, bias
    layers/bidirectional/forward_layer/cell/vars/..  Bidirectional: each direction's cell
    layers/rnn/cell/cells/lstm_cell_1/vars/..        RNN over StackedRNNCells: each cell
    layers/time_distributed/layer/vars/..            TimeDistributed: the wrapped layer
    layers/sequential/layers/dense/vars/..           a model nested in a model

The weights found for each layer are handed to its `set_weights()` in Keras's order, which checks
their count and shapes.
"""
from __future__ import annotations

import json
import os
import re
import warnings
import zipfile

import h5py
import numpy as np

from ..layers.bidirectional import Bidirectional
from ..layers.operation import operation_name
from ..layers.rnn import RNN, StackedRNNCells
from ..layers.serialization import layer_class, deserialize_layer
from ..layers.time_distributed import TimeDistributed
from ..models.model import Model
from ..models.sequential import Sequential
from ..models.symbolic import InputLayer
from .saving import check_archive_members, check_file

__all__ = ["load_keras", "load_keras_weights"]

# Config keys that hold the layers (or cells) nested inside a layer or model.
_NESTED_LAYER_KEYS = ("layers", "layer", "backward_layer", "cell", "cells")

# Config keys Keras 3 writes that rnnkit's layer of the same class does not take (quantization and
# LoRA, which change the stored weights): left at None they are dropped, set they are refused.
_KERAS_ONLY_KEYS = {
    "Dense": ("quantization_config", "lora_rank", "lora_alpha"),
    "Embedding": ("quantization_config", "lora_rank", "lora_alpha"),
}

# Keras's serialized forms of Python code: a lambda's marshalled bytecode, and a function imported by name.
_CODE_CLASS_NAMES = {"__lambda__": "a serialized lambda (Python bytecode)", "function": "a Python function"}


# ------------------------------------------------------------------------------------ public API
def load_keras(path: str | os.PathLike, safe_mode: bool = True) -> Model:
    """Reads a Keras 3 `.keras` model file into an equivalent rnnkit model.

    The architecture (a `Sequential` or functional model, Keras's `config.json`) is rebuilt from
    rnnkit's classes of the same names, then the weights are copied from `model.weights.h5`. The
    model comes back uncompiled (Keras's `compile_config` is not read): call `compile()` to train it.

    Args:
        path: path of a `.keras` file written by Keras 3 (`model.save("x.keras")`).
        safe_mode: refuse files carrying Python code (a `Lambda` layer, a serialized lambda or
            function), as Keras's `load_model(safe_mode=True)` does. With `safe_mode=False` such a
            config is passed on, and is only rebuilt if it names classes registered with
            `rnnkit.layers.register_serializable` (rnnkit itself never runs code from a file).

    Returns:
        an rnnkit `Sequential` or functional `Model` whose `predict` equals Keras's. rnnkit's
        `Embedding` takes integer token ids only: where Keras was fed float ids (its default float32
        `Input`, which Keras's Embedding casts), feed the rnnkit model the same ids as integers.

    Raises:
        ValueError: the file is not a Keras 3 `.keras` file, it carries code in safe mode, it names
            classes rnnkit does not have (the message lists them with their layer names), or its
            weights do not fit the architecture.

    Example:
        >>> model = rnnkit.io.load_keras("char_model.keras")
        >>> model.predict(token_ids)
    """
    path = str(path)
    check_file(path)
    if path.endswith(".weights.h5"):
        raise ValueError(
            f"{path!r} is a Keras weights file, which holds no architecture: build the same model in rnnkit "
            "and call model.load_weights(path) or rnnkit.io.load_keras_weights(model, path)."
        )
    with _open_keras_archive(path) as archive:
        config = _read_json(archive, path, "config.json")
        metadata = _read_json(archive, path, "metadata.json") if "metadata.json" in archive.namelist() else {}
        version = str(metadata.get("keras_version", "3"))
        if not version.startswith("3"):
            raise ValueError(f"{path!r} was written by Keras {version}; rnnkit reads files written by Keras 3.")
        if not _is_spec(config):
            raise ValueError(f"{path!r}: config.json is not a Keras model config ({{'class_name': ..., 'config': ...}}).")
        if safe_mode:
            _refuse_code(config, path)
        config = _operations_as_layers(config, path)
        _refuse_unknown_classes(config, path)
        try:
            model = deserialize_layer(_adapt(config))
        except (TypeError, KeyError) as error:
            raise ValueError(f"{path!r}: cannot rebuild the Keras model in rnnkit: {error}") from error
        if not isinstance(model, Model):
            raise ValueError(f"{path!r} holds a single {config['class_name']} layer, not a model.")
        input_shape = (config.get("build_config") or {}).get("input_shape")
        if not model.built and input_shape is not None:
            model.build(input_shape)
        if "model.weights.h5" not in archive.namelist():
            raise ValueError(
                f"{path!r} has no model.weights.h5 (members: {archive.namelist()}); sharded or weightless "
                "Keras files are not supported."
            )
        with archive.open("model.weights.h5") as stream, _open_h5(stream, f"{path}/model.weights.h5") as h5:
            _load_model(model, h5, _keras_layer_order(model, config))
    return model


def load_keras_weights(model: Model, path: str | os.PathLike) -> Model:
    """Loads a Keras 3 `.weights.h5` file (what `keras_model.save_weights(path)` writes) into an rnnkit
    model of the same architecture; `model.load_weights(path)` calls this for such files.

    Layers are matched as Keras matches them: by position and class among the model's layers, not
    by name, so the rnnkit model must have the same layers in the same order (names may differ).

    Args:
        model: a built rnnkit `Sequential` or functional `Model` (call it once, or give it an `Input`).
        path: path of the `.weights.h5` file.

    Returns:
        `model`, with its weights replaced.

    Raises:
        ValueError: the file is not an HDF5 file written by Keras 3, or its weights do not fit the
            model's layers (the message names the layer and the shapes).

    Example:
        >>> keras_model.save_weights("x.weights.h5")
        >>> rnnkit_model.load_weights("x.weights.h5")
    """
    path = str(path)
    if not isinstance(model, Model):
        raise ValueError(f"load_keras_weights expects an rnnkit model, got {type(model).__name__}.")
    check_file(path)
    if not h5py.is_hdf5(path):
        raise ValueError(f"{path!r} is not an HDF5 file; expected a Keras .weights.h5 file from model.save_weights().")
    with _open_h5(path, path) as h5:
        _check_keras3_weights(h5, path)
        _load_model(model, h5, list(model.layers))
    return model


# ------------------------------------------------------------------------------- reading the file
def _open_h5(source, where):
    try:
        return h5py.File(source, "r")
    except OSError as error:
        raise ValueError(f"{where!r} is not a readable HDF5 file (truncated or corrupted?): {error}") from error


def _open_keras_archive(path):
    if not zipfile.is_zipfile(path):
        hint = (" It is an HDF5 file: a legacy Keras .h5 model, or a weights file (use load_keras_weights)."
                if h5py.is_hdf5(path) else "")
        raise ValueError(f"{path!r} is not a Keras .keras file (a zip with config.json and model.weights.h5).{hint}")
    archive = zipfile.ZipFile(path)
    try:
        check_archive_members(path, archive.infolist())
    except ValueError:
        archive.close()
        raise
    if "config.json" not in archive.namelist():
        archive.close()
        raise ValueError(f"{path!r} is a zip without config.json, not a Keras .keras file.")
    return archive


def _read_json(archive, path, member):
    try:
        return json.loads(archive.read(member))
    except RecursionError:
        raise ValueError(f"{path!r} is refused: {member} nests its JSON too deeply.") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{path!r}: {member} is not valid JSON ({error}).") from error


def _check_keras3_weights(h5, path):
    if "layers" not in h5 and ("layer_names" in h5.attrs or "model_weights" in h5):
        raise ValueError(
            f"{path!r} is a legacy Keras 2 HDF5 file; rnnkit reads the weights files of Keras 3 "
            "(model.save_weights('x.weights.h5')). Load it in Keras 3 and save it again."
        )


# ------------------------------------------------------------------------------ checking the config
def _is_spec(value):
    return isinstance(value, dict) and isinstance(value.get("class_name"), str) and "config" in value


def _layer_specs(spec):
    """The layer spec, then every layer or cell spec nested in it, depth first."""
    yield spec
    config = spec["config"]
    if isinstance(config, dict):
        for key in _NESTED_LAYER_KEYS:
            value = config.get(key)
            for child in value if isinstance(value, list) else [value]:
                if _is_spec(child):
                    yield from _layer_specs(child)


def _layer_name(spec):
    config = spec["config"]
    return config.get("name", "?") if isinstance(config, dict) else "?"


def _own_config_values(spec):
    """The values in a layer's config, except the layers nested in it (they are checked on their own)."""
    config = spec["config"]
    if not isinstance(config, dict):
        return [config]
    return [value for key, value in config.items() if key not in _NESTED_LAYER_KEYS]


def _code_payloads(value):
    """Descriptions of the serialized Python code objects anywhere inside `value`."""
    found = []
    if isinstance(value, dict):
        kind = value.get("class_name")
        if kind in _CODE_CLASS_NAMES:
            named = value.get("config") if kind == "function" and isinstance(value.get("config"), str) else None
            where = f" {value.get('module')}.{named}" if named else ""
            found.append(_CODE_CLASS_NAMES[kind] + where)
        for item in value.values():
            found.extend(_code_payloads(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_code_payloads(item))
    return found


def _refuse_code(config, path):
    """Safe mode: a Lambda layer, or a lambda/function payload in any layer's config, is refused."""
    for spec in _layer_specs(config):
        payloads = [p for value in _own_config_values(spec) for p in _code_payloads(value)]
        if spec["class_name"] == "Lambda" or payloads:
            what = ", ".join(payloads) or "a Python function"
            raise ValueError(
                f"{path!r}: layer '{_layer_name(spec)}' ({spec['class_name']}) carries Python code ({what}). "
                "rnnkit.io.load_keras runs in safe mode, like keras.saving.load_model(safe_mode=True), and "
                "refuses code stored in model files. Pass safe_mode=False only for a file you trust; even "
                "then rnnkit runs no code from the file and rebuilds such a layer only from a class you "
                "registered with rnnkit.layers.register_serializable."
            )


def _operations_as_layers(config, path):
    """A copy of a functional config where each recorded keras.ops call (module keras.src.ops.*,
    e.g. the `NotEqual` that computes an Embedding's mask) is an rnnkit `Operation` layer; an
    operation outside `rnnkit.layers.operation.OPERATIONS` is refused."""
    config = json.loads(json.dumps(config))
    for spec in _layer_specs(config):
        if not str(spec.get("module") or "").startswith("keras.src.ops."):
            continue
        function = operation_name(spec["class_name"])
        if function is None:
            raise ValueError(
                f"{path!r}: node '{_layer_name(spec)}' calls keras.ops operation {spec['class_name']!r}, which "
                "rnnkit does not run from a file (only side-effect-free arithmetic, comparison, cast, shape, "
                "reduction and activation operations)."
            )
        arguments = {k: v for k, v in spec["config"].items() if k != "name"}
        spec.update(module="rnnkit.layers", class_name="Operation", registered_name=None,
                    config={"name": _layer_name(spec), "function": function, "arguments": arguments})
    return config


def _refuse_unknown_classes(config, path):
    unknown = []
    for spec in _layer_specs(config):
        try:
            layer_class(spec["class_name"])
        except ValueError:
            unknown.append(f"{spec['class_name']!r} (layer '{_layer_name(spec)}')")
    if unknown:
        lambda_hint = (" rnnkit has no Lambda layer: it never runs Python code from a file."
                       if any(u.startswith("'Lambda'") for u in unknown) else "")
        raise ValueError(
            f"{path!r} uses classes rnnkit does not have: {', '.join(unknown)}.{lambda_hint} Only rnnkit's "
            "layers and models, and classes registered with rnnkit.layers.register_serializable, can be loaded."
        )


def _adapt(spec):
    """A copy of a Keras spec whose layer configs rnnkit's classes take: Keras-only keys removed."""
    spec = json.loads(json.dumps(spec))
    mixed = set()
    for layer_spec in _layer_specs(spec):
        config = layer_spec["config"]
        if not isinstance(config, dict):
            continue
        policy = _policy_name(config.get("dtype"))
        if policy is not None and policy.startswith("mixed_"):
            # A mixed policy keeps float32 variables and computes in half precision; rnnkit computes in float32.
            config["dtype"] = "float32"
            mixed.add(policy)
        for key in _KERAS_ONLY_KEYS.get(layer_spec["class_name"], ()):
            value = config.pop(key, None)
            if value is not None:
                where = f"layer '{_layer_name(layer_spec)}' ({layer_spec['class_name']})"
                raise ValueError(
                    f"{where} has {key}={value!r}, which rnnkit does not support (it changes the stored weights)."
                )
    if mixed:
        warnings.warn(
            f"The Keras model uses the mixed-precision policy {', '.join(sorted(mixed))}: its float32 weights are "
            "loaded and rnnkit computes in float32, so results differ from Keras's by half-precision rounding."
        )
    return spec


def _policy_name(dtype):
    """The name of a Keras dtype policy, written as a string or as a serialized DTypePolicy."""
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name")
    return dtype if isinstance(dtype, str) else None


# ------------------------------------------------------------------------------ reading the weights
def _keras_layer_order(model, config):
    """The model's layers in the order of Keras's `model.layers` (the order the H5 `layers/`
    container was written in): the order of the config, where Sequential omits its InputLayer."""
    names = [_layer_name(spec) for spec in config["config"].get("layers", [])]
    if isinstance(model, Sequential):
        names = [n for n, spec in zip(names, config["config"]["layers"]) if spec["class_name"] != "InputLayer"]
    by_name = {layer.name: layer for layer in model.layers}
    return [by_name[name] for name in names]


def _load_model(model, group, layers):
    """Sets the weights of `layers` (a model's layers in Keras's order) from the model's H5 group."""
    unbuilt = [layer.name for layer in layers if not layer.built]
    if unbuilt:
        raise ValueError(
            f"Model '{model.name}' is not built (unbuilt layers: {unbuilt}): call it on data or give it an "
            "Input before loading weights."
        )
    container = group["layers"] if "layers" in group else None
    used, keys = {}, []
    for layer in layers:
        key = _unique_key(_snake_case(type(layer).__name__), used)
        keys.append(key)
        layer_group = container[key] if container is not None and key in container else None
        if isinstance(layer, Model) and hasattr(layer, "_layers"):  # a Sequential or functional model inside
            if layer_group is None:
                raise ValueError(
                    f"Model '{layer.name}' ({type(layer).__name__}) has no group {group.name.rstrip('/')}/layers/{key} "
                    "in the file."
                )
            _load_model(layer, layer_group, list(layer.layers))
            continue
        arrays = _layer_arrays(layer, layer_group, f"{group.name.rstrip('/')}/layers/{key}")
        if arrays or layer.weights:
            layer.set_weights(arrays)
    extra = [key for key in (container or []) if key not in keys and _holds_weights(container[key])]
    if extra:
        raise ValueError(
            f"The file holds weights for layers that model '{model.name}' does not have: "
            f"{[f'{container.name}/{key}' for key in extra]}; the model's layers are "
            f"{[f'{layer.name} ({type(layer).__name__})' for layer in layers]}."
        )


def _holds_weights(group):
    found = []
    group.visititems(lambda name, item: found.append(name) if isinstance(item, h5py.Dataset) else None)
    return bool(found)


def _layer_arrays(layer, group, where):
    """The weights Keras stored for `layer` under `group`, in Keras's `get_weights()` order."""
    if isinstance(layer, InputLayer):
        return []
    if group is None:
        if not layer.weights:
            return []
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) has weights but the file has no group {where}.")
    if isinstance(layer, Bidirectional):
        return (_layer_arrays(layer.forward_layer, _child(group, "forward_layer"), f"{where}/forward_layer")
                + _layer_arrays(layer.backward_layer, _child(group, "backward_layer"), f"{where}/backward_layer"))
    if isinstance(layer, RNN):
        return _own_arrays(group) + _layer_arrays(layer.cell, _child(group, "cell"), f"{where}/cell")
    if isinstance(layer, StackedRNNCells):
        cells_group, used, arrays = _child(group, "cells"), {}, []
        for cell in layer.cells:
            key = _unique_key(_snake_case(type(cell).__name__), used)
            arrays += _layer_arrays(cell, _child(cells_group, key), f"{where}/cells/{key}")
        return arrays
    if isinstance(layer, TimeDistributed):
        return _layer_arrays(layer.layer, _child(group, "layer"), f"{where}/layer")
    return _own_arrays(group)


def _child(group, key):
    return group[key] if group is not None and key in group else None


def _own_arrays(group):
    """The datasets `vars/0..n-1` of a saveable's group, in order."""
    if group is None or "vars" not in group:
        return []
    variables = group["vars"]
    return [np.asarray(variables[str(i)]) for i in range(len(variables))]


def _snake_case(class_name):
    """Keras's `naming.to_snake_case`, which names the H5 groups of a container's items."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _unique_key(name, used):
    """Keras's `_get_unique_name`: `lstm`, `lstm_1`, `lstm_2`, ... within one container."""
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name
