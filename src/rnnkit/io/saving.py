"""rnnkit model and weight files: `save_model`/`load_model` and `save_weights`/`load_weights`.

A model file (`.rnnkit`) is a zip archive with these members and no others::

    config.json              {"format": "rnnkit", "format_version": 1, "rnnkit_version", "class_name",
                              "config" (the model's get_config()), "compile_config" (optional)}
    model.safetensors        every weight, by its state_dict name (`lstm.cell.kernel`, ...)
    optimizer.json           optional: the optimizer's class, hyperparameters and scalar state
    optimizer.safetensors    optional: the optimizer's tensor state (Adam's moments, ...)
    assets.json              optional: `model.assets` (a vocabulary, label names, scaler statistics)
    checksums.json           the sha256 of every other member

A weights file (`.weights.safetensors`) is a plain safetensors file of the same state_dict tensors
whose metadata carries the sha256 of its tensors. Both safetensors files also record each tensor's
name by structure (layer position and class), so that weights load into a model built alike whose
layers got other automatic names.

Safety. Loading never runs code from the file: the config is JSON and names classes that are looked
up only among rnnkit's layers and models and the classes registered with
`rnnkit.register_serializable`; tensors are read with safetensors, never pickle. Nothing is
extracted to disk. Member names, sizes and checksums are checked before anything is built, so a
file that is truncated, corrupted, oversized (a zip bomb) or crafted is refused with a ValueError
naming the file.

Crash safety. Every file is written to a temporary file in the target's directory, flushed and
fsynced, renamed over the target (`os.replace`, atomic), and the directory is fsynced: a crash or an
error leaves either the previous file or the new one, never a torn file.
"""
from __future__ import annotations

import collections
import hashlib
import json
import math
import os
import struct
import warnings
import zipfile
import zlib
from collections.abc import Iterable

import safetensors
import safetensors.torch
import torch

from ..layers.base import Layer
from ..files import write_atomically
from ..layers.serialization import get_registered_name, layer_class, serialize_layer
from ..models.model import Model
from ..train import losses as losses_module
from ..train import metrics as metrics_module
from ..train import optimizers as optimizers_module

__all__ = ["save_model", "load_model", "save_weights", "load_weights"]

FORMAT = "rnnkit"
FORMAT_VERSION = 1
MODEL_SUFFIX = ".rnnkit"
WEIGHTS_SUFFIX = ".weights.safetensors"

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
OPTIMIZER_CONFIG = "optimizer.json"
OPTIMIZER_WEIGHTS = "optimizer.safetensors"
ASSETS = "assets.json"
CHECKSUMS = "checksums.json"
MEMBERS = (CONFIG, WEIGHTS, OPTIMIZER_CONFIG, OPTIMIZER_WEIGHTS, ASSETS, CHECKSUMS)

# Refused on load, before anything is decompressed: a member declaring more than this many bytes,
# and members declaring in total more than MAX_EXPANSION times the file's size (beyond a floor that
# small files may always use). rnnkit stores tensors uncompressed and only JSON compressed, so its own
# files expand by far less.
MAX_MEMBER_BYTES = 4 * 2**30
MAX_EXPANSION = 100
EXPANSION_FLOOR_BYTES = 16 * 2**20
# While a model is rebuilt from its config, the tensors it makes (its weights, their initializers'
# scratch, the symbolic call on zeros) may hold at most this factor times the values its weights
# member announces, plus the floor.
ALLOCATION_FACTOR = 4
ALLOCATION_FLOOR_ELEMENTS = 2**22

# Fixed member timestamps: saving the same model twice gives the same bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


# ------------------------------------------------------------------------------------ public API
def save_model(model: Model, path: str | os.PathLike, include_optimizer: bool = False) -> None:
    """Saves `model` to one `.rnnkit` file: architecture (JSON), weights (safetensors), checksums.

    Args:
        model: an rnnkit model (`Sequential`, functional `Model`, or a subclassed model whose class
            is registered with `rnnkit.register_serializable` and whose config rebuilds it built).
        path: the file to write; must end with `.rnnkit`, or with `.keras` for a Keras 3 file
            (`rnnkit.io.keras_export.save_keras`: architecture and weights only, layers Keras has).
            An existing file is replaced atomically.
        include_optimizer: also save the optimizer's state (moments, step count), so that training
            resumes exactly where it stopped. The model must have been compiled with settings that
            have a config (names, rnnkit losses/metrics/optimizers, torch.optim optimizers).

    The compile settings (optimizer, loss, metrics, loss_weights) are saved when they have a config;
    otherwise they are left out with a warning, and the loaded model must be compiled again.
    `model.assets` (JSON) is saved with the model and comes back with it.

    Raises:
        ValueError: `path` does not end with `.rnnkit` or `.keras`, the model is not built, one of its classes
            could not be loaded back (unregistered), or `include_optimizer` was asked for a model
            whose compile settings cannot be saved.

    Example:
        >>> model.save("forecaster.rnnkit")
        >>> restored = rnnkit.load_model("forecaster.rnnkit")
    """
    path = os.fspath(path)
    if not isinstance(model, Model):
        raise ValueError(f"save_model expects an rnnkit model, got {type(model).__name__}.")
    if str(path).endswith(".keras"):
        if include_optimizer:
            raise ValueError(
                f"include_optimizer=True is not supported for the Keras file {path!r} (rnnkit writes Keras files "
                f"without optimizer state); save to a {MODEL_SUFFIX!r} path to keep the optimizer."
            )
        from .keras_export import save_keras

        return save_keras(model, path)
    if not str(path).endswith(MODEL_SUFFIX):
        raise ValueError(
            f"rnnkit model files end with {MODEL_SUFFIX!r} (or '.keras' for a Keras 3 file), got {path!r}; use "
            f"model.save_weights(...) with a {WEIGHTS_SUFFIX!r} path to save only the weights."
        )
    _check_loadable_classes(model)
    _check_built(model, "save")
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "rnnkit_version": _rnnkit_version(),
        **serialize_layer(model),
    }
    compile_config = _compile_config(model, required=include_optimizer)
    if compile_config is not None:
        config["compile_config"] = compile_config
    optimizer_record = _optimizer_record(model) if include_optimizer else None
    config_bytes = _json_bytes(config, "the model's config")
    assets_bytes = _json_bytes(model.assets, "model.assets") if model.assets else None

    members = [(CONFIG, lambda: config_bytes),
               (WEIGHTS, lambda: _safetensors_bytes(_state_tensors(model), _weights_metadata(model)))]
    if optimizer_record is not None:
        record, tensors = optimizer_record
        members += [(OPTIMIZER_CONFIG, lambda: _json_bytes(record, "the optimizer state")),
                    (OPTIMIZER_WEIGHTS, lambda: _safetensors_bytes(tensors))]
    if assets_bytes is not None:
        members.append((ASSETS, lambda: assets_bytes))
    write_atomically(path, lambda file: _write_archive(file, members))


def load_model(path: str | os.PathLike, compile: bool = True) -> Model:
    """Loads a model saved by `save_model` / `model.save`.

    The model is rebuilt from its config (only rnnkit classes and classes registered with
    `rnnkit.register_serializable`), its weights are set, and its stateful layers start from zero
    states. It predicts exactly what the saved model predicted.

    Args:
        path: a `.rnnkit` file, or a Keras 3 `.keras` file (read by `rnnkit.io.load_keras`, uncompiled).
        compile: compile the model with the saved compile settings (and restore the optimizer state
            when the file has it). With False, or when the file has none, the model is uncompiled.

    Returns:
        the model.

    Raises:
        FileNotFoundError: there is no such file.
        ValueError, naming the file: it is not an rnnkit model file, it is truncated or corrupted
            (checksums), it has unexpected, unsafe (`../x`, absolute), oversized, encrypted or
            unknown-compression members, deeply nested JSON, its config names a class that is not an
            rnnkit class or registered, asks for more weights than its weights member holds (refused
            before they are allocated), or its weights do not fit the model its config describes or
            hold NaN or inf.
    """
    path = os.fspath(path)
    if str(path).endswith(".keras"):
        from .keras_import import load_keras

        return load_keras(path)
    contents = _read_archive(path)
    config = contents[CONFIG]
    declared = _declared_elements(contents[WEIGHTS], f"{path!r} (member {WEIGHTS})")
    model = _rebuild_model(config, path, declared)
    tensors, _ = _load_safetensors(contents[WEIGHTS], f"{path!r} (member {WEIGHTS})")
    _assign_state(model, tensors, path, keep_file_dtypes=True)
    _check_finite_weights(tensors, path)
    model.reset_state()
    if ASSETS in contents:
        assets = _parse_json(contents[ASSETS], ASSETS, path)
        if not isinstance(assets, dict):
            raise ValueError(f"{path!r}: member {ASSETS} holds a {type(assets).__name__}, expected a JSON object.")
        model.assets = assets
    if compile and config.get("compile_config") is not None:
        _restore_compile(model, config["compile_config"], contents, path)
    return model


def save_weights(model: Model, path: str | os.PathLike) -> None:
    """Saves the weights of `model` (every state_dict tensor, by name) to a `.weights.safetensors`
    file, written atomically, with the sha256 of the tensors in its metadata. A `.weights.h5` path
    writes Keras 3's weights layout instead (`rnnkit.io.keras_export.save_keras_weights`).

    Raises:
        ValueError: `path` ends with neither `.weights.safetensors` nor `.weights.h5`, or the model
            is not built.
    """
    path = os.fspath(path)
    if not isinstance(model, Model):
        raise ValueError(f"save_weights expects an rnnkit model, got {type(model).__name__}.")
    if str(path).endswith(".weights.h5"):
        from .keras_export import save_keras_weights

        return save_keras_weights(model, path)
    if not str(path).endswith(WEIGHTS_SUFFIX):
        hint = " Keras weight files end with '.weights.h5'." if str(path).endswith(".h5") else ""
        raise ValueError(f"rnnkit weight files end with {WEIGHTS_SUFFIX!r}, got {path!r}.{hint}")
    _check_built(model, "save the weights of")
    tensors = _state_tensors(model)
    metadata = _weights_metadata(model, file="weights", version=_rnnkit_version(), sha256=_tensors_digest(tensors))
    write_atomically(path, lambda file: file.write(_safetensors_bytes(tensors, metadata)))


def load_weights(model: Model, path: str | os.PathLike) -> Model:
    """Loads weights into the built `model` from a file: a `.weights.safetensors` file (from
    `save_weights`, or any safetensors file with the model's state_dict names), a `.rnnkit` model
    file (its weights), or a Keras `.weights.h5` file (through `rnnkit.io.keras_import`).

    The file's tensors are matched to the model's by state_dict name, or, when the names differ (a
    model built alike whose layers got other automatic names), by structure: each layer's position
    and class. Every shape must match; values are cast to the model's dtypes.

    Returns:
        `model`.

    Raises:
        FileNotFoundError: there is no such file.
        ValueError, naming the file: it is truncated or corrupted (checksum), not a weights file, or
            its weights do not match the model's names and shapes.
    """
    path = os.fspath(path)
    if not isinstance(model, Model):
        raise ValueError(f"load_weights expects an rnnkit model, got {type(model).__name__}.")
    if str(path).endswith(".h5"):
        from .keras_import import load_keras_weights

        return load_keras_weights(model, path)
    check_file(path)
    if zipfile.is_zipfile(path):
        tensors, metadata = _load_safetensors(_read_archive(path)[WEIGHTS], f"{path!r} (member {WEIGHTS})")
    else:
        tensors, metadata = _read_weights_file(path)
    _assign_state(model, _by_model_names(model, tensors, metadata), path, keep_file_dtypes=False)
    return model


def _write_archive(file, members):
    """Writes the zip: each (name, make_bytes) member in order, then checksums.json."""
    digests = {}
    with zipfile.ZipFile(file, "w") as archive:
        for name, make_bytes in members:
            data = make_bytes()
            digests[name] = hashlib.sha256(data).hexdigest()
            archive.writestr(_zip_entry(name), data)
        archive.writestr(_zip_entry(CHECKSUMS), _json_bytes({"sha256": digests}, "the checksums"))


def _zip_entry(name):
    entry = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    # Tensors do not compress; JSON does. Keeping tensors stored also keeps the zip-bomb bound tight.
    entry.compress_type = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
    entry.external_attr = 0o644 << 16
    return entry


# ---------------------------------------------------------------------------------------- saving
def _rnnkit_version():
    from .. import __version__

    return __version__


def _json_bytes(value, what):
    try:
        return json.dumps(value, indent=2, default=_not_json).encode("utf-8")
    except (TypeError, ValueError) as error:
        raise ValueError(f"Cannot save {what} as JSON: {error}") from error


def _not_json(value):
    raise TypeError(f"{type(value).__name__} value {value!r} has no JSON form")


def _check_loadable_classes(model):
    """Refuses, before writing, a model that load_model could not rebuild: every rnnkit layer in it
    (the model included) must be found again by its class name."""
    for module in model.modules():
        if not isinstance(module, Layer):
            continue
        name = type(module).__name__
        try:
            found = layer_class(name, get_registered_name(type(module)))
        except ValueError:
            found = None
        if found is not type(module):
            raise ValueError(
                f"Cannot save model '{model.name}': its {'model' if module is model else 'layer'} "
                f"'{module.name}' is of class {type(module).__module__}.{name}, which load_model could not "
                "rebuild. Decorate the class with @rnnkit.saving.register_keras_serializable() or "
                "@rnnkit.register_serializable (and give it a get_config() returning its constructor arguments)."
            )


def _check_built(model, action):
    unbuilt = [layer.name for layer in model.layers if not layer.built]
    if unbuilt or not model.built:
        raise ValueError(
            f"Cannot {action} model '{model.name}': it is not built (unbuilt layers: {unbuilt}), so it has "
            "no weights yet. Call it on data, or give it an Input (or build() it with an input shape)."
        )


def _state_tensors(model):
    """The model's state_dict as CPU tensors that safetensors accepts: contiguous, and no two
    sharing memory (safetensors refuses shared tensors)."""
    tensors, storages = {}, set()
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().to("cpu").contiguous()
        storage = tensor.untyped_storage().data_ptr()
        if storage in storages and tensor.numel():
            tensor = tensor.clone()
        storages.add(tensor.untyped_storage().data_ptr())
        tensors[name] = tensor
    return tensors


def _weights_metadata(model, **details):
    """The safetensors metadata rnnkit writes: one key, "rnnkit", holding JSON with the structure
    names (and `details`). One key, because safetensors writes several in a random order, and saving
    the same model twice should give the same bytes."""
    return {"rnnkit": json.dumps({"structure": _structure_names(model), **details}, sort_keys=True)}


def _structure_names(model):
    """Each state_dict name of `model` -> its name by structure, where a model's layers are named by
    position and class ("1:GRU.cell.kernel") rather than by their names, which differ between two
    models built alike (automatic names count up: gru, gru_1, ...). Other submodules keep their
    attribute names (cell, forward_layer, cells.0)."""
    structural = {}

    def walk(module, path, key):
        structural[path] = key
        layers = module.layers if isinstance(module, Model) else []
        positions = {id(layer): i for i, layer in enumerate(layers)}
        for name, child in module._modules.items():
            if child is not None:
                part = f"{positions[id(child)]}:{type(child).__name__}" if id(child) in positions else name
                walk(child, f"{path}{name}.", f"{key}{part}.")

    walk(model, "", "")
    names = {}
    for name in model.state_dict():
        prefix, _, leaf = name.rpartition(".")
        names[name] = structural[f"{prefix}." if prefix else ""] + leaf
    return names


def _safetensors_bytes(tensors, metadata=None):
    return safetensors.torch.save(tensors, metadata=metadata or {"format": "pt"})


def _tensors_digest(tensors):
    """sha256 over the tensors' names, dtypes, shapes and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu").contiguous()
        digest.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode("utf-8"))
        if tensor.numel():
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


# ------------------------------------------------------------------------------- compile settings
class _NoConfig(Exception):
    """A compile setting that has no JSON form."""


def _compile_config(model, required):
    """The compile() settings as JSON-able values, or None (not compiled, or not expressible; then a
    warning, or a ValueError when `required` for saving the optimizer)."""
    compiled = getattr(model, "_compiled", None)
    if compiled is None:
        if required:
            raise ValueError(
                f"Cannot save the optimizer of model '{model.name}' (include_optimizer=True): the model has "
                "not been compiled."
            )
        return None
    try:
        optimizer = getattr(model, "optimizer", None)
        return {
            "optimizer": _optimizer_spec(optimizer if optimizer is not None else compiled.optimizer_spec),
            "loss": _training_object_spec(compiled.loss_spec, losses_module, losses_module.Loss),
            "metrics": _training_object_spec(compiled.metrics_spec, metrics_module, metrics_module.Metric),
            "loss_weights": _training_object_spec(compiled.loss_weights, None, None),
        }
    except _NoConfig as reason:
        message = f"The compile() settings of model '{model.name}' cannot be saved: {reason}"
        if required:
            raise ValueError(f"{message}; so neither can its optimizer (include_optimizer=True).") from None
        warnings.warn(f"{message}. They are left out of the file: compile the loaded model again.", stacklevel=3)
        return None


def _optimizer_spec(optimizer):
    if isinstance(optimizer, str):
        return optimizer
    if isinstance(optimizer, dict) and "class_name" in optimizer:
        return optimizer
    if isinstance(optimizer, optimizers_module.Optimizer):
        try:
            return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}
        except TypeError as error:
            raise _NoConfig(str(error)) from None
    if isinstance(optimizer, torch.optim.Optimizer) and _torch_optimizer_class(type(optimizer).__name__):
        config = dict(optimizer.defaults)
        if optimizer.param_groups:
            config["lr"] = optimizer.param_groups[0]["lr"]
        return {"class_name": f"torch.optim.{type(optimizer).__name__}", "config": _jsonable(config)}
    raise _NoConfig(f"the optimizer {optimizer!r} is neither an optimizer name, an rnnkit optimizer nor a "
                    "torch.optim optimizer")


def _torch_optimizer_class(name):
    """torch.optim's optimizer class of that name, or None: only torch's own classes are ever made."""
    cls = getattr(torch.optim, name, None)
    if isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer) and cls is not torch.optim.Optimizer:
        return cls
    return None


def _training_object_spec(value, module, base):
    """A loss/metric setting (names, objects, per-output lists and dicts) as JSON-able values; an
    object becomes {"class_name", "config"} when `module` has its class under its own name."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_training_object_spec(v, module, base) for v in value]
    if isinstance(value, dict):
        return {str(k): _training_object_spec(v, module, base) for k, v in value.items()}
    if base is not None and isinstance(value, base) and getattr(module, type(value).__name__, None) is type(value):
        return {"class_name": type(value).__name__, "config": _jsonable(value.get_config())}
    name = getattr(value, "__name__", None)
    if module is not None and callable(value) and name and getattr(module, name, None) is value:
        return name  # a function of rnnkit.losses / rnnkit.metrics, e.g. mean_squared_error
    raise _NoConfig(f"{value!r} has no config (only names and rnnkit's own losses, metrics and optimizers do)")


def _jsonable(value):
    try:
        return json.loads(json.dumps(value, default=_not_json))
    except (TypeError, ValueError) as error:
        raise _NoConfig(str(error)) from None


def _optimizer_record(model):
    """The optimizer's state as (JSON record, tensors), or None if no optimizer was made yet."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    names = {id(p): name for name, p in model.named_parameters()}
    param_names = []
    for group in optimizer.param_groups:
        for p in group["params"]:
            if id(p) not in names:
                raise ValueError(
                    f"Cannot save the optimizer of model '{model.name}': it optimizes a tensor of shape "
                    f"{tuple(p.shape)} that is not one of the model's parameters."
                )
            param_names.append(names[id(p)])
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, slots in state["state"].items():
        for key, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value.detach().to("cpu").contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    record = {
        "class_name": type(optimizer).__name__,
        "param_names": param_names,
        "param_groups": state["param_groups"],
        "state": scalars,
        "extra": {k: v for k, v in state.items() if k not in ("state", "param_groups")},
    }
    try:
        record = _jsonable(record)
    except _NoConfig as reason:
        raise ValueError(f"Cannot save the optimizer state of model '{model.name}': {reason}.") from None
    return record, tensors


# --------------------------------------------------------------------------------------- loading
def check_file(path: str) -> None:
    """Raises FileNotFoundError for a missing `path`, IsADirectoryError for a folder and OSError for
    anything else that is not a regular file (a FIFO would block the read), each naming it."""
    if not os.path.isfile(path):
        if os.path.isdir(path):
            raise IsADirectoryError(f"{path!r} is a folder, not a model file.")
        if os.path.exists(path):
            raise OSError(f"{path!r} is not a regular file (a pipe or a device?), not a model file.")
        raise FileNotFoundError(f"No such file: {path!r}.")


def _read_archive(path):
    """Opens and checks an rnnkit model file; returns {member name: bytes}, with config.json parsed.

    Checks, in order: a zip; no unsafe or duplicate member names; config.json present; every
    declared size within bounds (before anything is decompressed); config.json of the rnnkit format;
    no other members than rnnkit's; every member readable (zip CRC) and matching checksums.json."""
    check_file(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        with open(path, "rb") as file:
            looks_like_zip = file.read(4) == b"PK\x03\x04"
        if looks_like_zip:
            raise ValueError(
                f"{path!r} is truncated or corrupted: it is not a readable zip archive ({error})."
            ) from error
        raise ValueError(
            f"{path!r} is not an rnnkit model file: expected a zip archive (from rnnkit.save_model) holding "
            f"{CONFIG} and {WEIGHTS}."
        ) from error
    with archive:
        entries = archive.infolist()
        names = [entry.filename for entry in entries]
        unsafe = [name for name in names if _is_unsafe_name(name)]
        if unsafe:
            raise ValueError(
                f"{path!r} is refused: it has members with absolute or parent-directory paths {_few(unsafe, 3)} "
                "(path traversal). rnnkit files hold only " + ", ".join(MEMBERS) + "."
            )
        # Linear in the number of members: a hostile file may hold tens of thousands
        duplicates = sorted(name for name, count in collections.Counter(names).items() if count > 1)
        if duplicates:
            raise ValueError(f"{path!r} is refused: members {_few(duplicates, 3)} appear more than once.")
        if CONFIG not in names:
            hint = " It looks like a Keras file: use rnnkit.io.load_keras." if "model.weights.h5" in names else ""
            raise ValueError(
                f"{path!r} is not an rnnkit model file: the zip has no {CONFIG} (members: {_few(names, 5)}).{hint}"
            )
        by_name = {entry.filename: entry for entry in entries}
        check_archive_members(path, entries)
        config_bytes = _read_member(archive, by_name[CONFIG], path)
        config = _parse_json(config_bytes, CONFIG, path)
        _check_format(config, names, path)
        unexpected = [name for name in names if name not in MEMBERS]
        if unexpected:
            raise ValueError(
                f"{path!r} is refused: it has unexpected members {_few(unexpected, 3)}; rnnkit files hold only "
                + ", ".join(MEMBERS) + "."
            )
        for required in (WEIGHTS, CHECKSUMS):
            if required not in names:
                raise ValueError(f"{path!r} is incomplete or corrupted: it has no {required} (members: {_few(names, 5)}).")
        contents = {name: _read_member(archive, by_name[name], path) for name in names if name != CONFIG}
    contents[CONFIG] = config_bytes
    _verify_checksums(contents, path)
    contents[CONFIG] = config
    return contents


def _is_unsafe_name(name):
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


def check_archive_members(path: str | os.PathLike, entries: Iterable[zipfile.ZipInfo]) -> None:
    """Refuses, before anything is decompressed, a zip archive (`entries`: its `ZipInfo`s) with an
    encrypted member, a compression method other than stored and deflated, a member declaring more
    than MAX_MEMBER_BYTES, or members declaring in total more than MAX_EXPANSION times the file's size
    (beyond EXPANSION_FLOOR_BYTES). Used for rnnkit's files and for Keras's `.keras` files."""
    file_size = os.path.getsize(path)
    for entry in entries:
        if entry.flag_bits & 0x1:
            raise ValueError(f"{path!r} is refused: member {entry.filename} is encrypted; model files are not.")
        if entry.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ValueError(
                f"{path!r} is refused: member {entry.filename} uses zip compression method {entry.compress_type}; "
                "only stored (0) and deflated (8) members are read."
            )
        if entry.file_size > MAX_MEMBER_BYTES:
            raise ValueError(
                f"{path!r} is refused: member {entry.filename} declares {entry.file_size} bytes, more than the "
                f"limit of {MAX_MEMBER_BYTES} bytes per member."
            )
    total = sum(entry.file_size for entry in entries)
    allowed = max(MAX_EXPANSION * file_size, EXPANSION_FLOOR_BYTES)
    if total > allowed:
        raise ValueError(
            f"{path!r} is refused: its members declare {total} bytes uncompressed from a {file_size}-byte file, "
            f"more than {MAX_EXPANSION} times its size (a zip bomb?)."
        )


def _read_member(archive, entry, path):
    try:
        with archive.open(entry) as stream:
            data = stream.read(entry.file_size + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as error:
        raise ValueError(
            f"{path!r} is corrupted or truncated: member {entry.filename} cannot be read ({error})."
        ) from error
    if len(data) != entry.file_size:
        raise ValueError(
            f"{path!r} is corrupted or truncated: member {entry.filename} holds {len(data)} bytes, its entry "
            f"declares {entry.file_size}."
        )
    return data


def _parse_json(data, member, path):
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ValueError(f"{path!r} is refused: member {member} nests its JSON too deeply to be a model file.") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"{path!r}: member {member} is not valid JSON ({error}); the file is corrupted.") from error


def _check_format(config, names, path):
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        found = config.get("format") if isinstance(config, dict) else type(config).__name__
        hint = " It looks like a Keras file: use rnnkit.io.load_keras." if "model.weights.h5" in names else ""
        raise ValueError(
            f"{path!r} is not an rnnkit model file: its {CONFIG} has format {found!r}, expected {FORMAT!r}.{hint}"
        )
    version = config.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"{path!r}: {CONFIG} has format_version {version!r}, expected an integer >= 1.")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path!r} was written by rnnkit {config.get('rnnkit_version', '?')} in format version {version}; this "
            f"rnnkit ({_rnnkit_version()}) reads format version {FORMAT_VERSION}. Upgrade rnnkit."
        )


def _verify_checksums(contents, path):
    record = _parse_json(contents[CHECKSUMS], CHECKSUMS, path)
    digests = record.get("sha256") if isinstance(record, dict) else None
    if not isinstance(digests, dict):
        raise ValueError(f"{path!r} is corrupted: {CHECKSUMS} has no 'sha256' table.")
    members = sorted(name for name in contents if name != CHECKSUMS)
    if sorted(digests) != members:
        raise ValueError(
            f"{path!r} is corrupted: {CHECKSUMS} lists {sorted(digests)}, but the archive holds {members}."
        )
    for name in members:
        if hashlib.sha256(contents[name]).hexdigest() != digests[name]:
            raise ValueError(f"{path!r} is corrupted: the checksum of member {name} does not match (sha256).")


def _rebuild_model(config, path, declared_elements):
    class_name = config.get("class_name")
    if not isinstance(class_name, str) or not isinstance(config.get("config"), dict):
        raise ValueError(f"{path!r}: {CONFIG} has no model 'class_name' and 'config'.")
    try:
        cls = layer_class(class_name)
    except ValueError as error:
        raise ValueError(f"{path!r} is refused: {error}") from None
    if not issubclass(cls, Model):
        raise ValueError(f"{path!r}: its config describes a {class_name} layer, not a model.")
    # The weights member announces how many values the model holds: a config asking for far more (a
    # tiny file with `units: 100000`) is refused before its weights are allocated, not after.
    budget = _AllocationBudget(ALLOCATION_FACTOR * declared_elements + ALLOCATION_FLOOR_ELEMENTS)
    try:
        with budget:
            model = cls.from_config(config["config"])
    except _OverBudget:
        raise ValueError(
            f"{path!r} is refused: its {CONFIG} describes a model of more than {budget.limit:,} values, but its "
            f"{WEIGHTS} holds {declared_elements:,}; the file is corrupted or was altered."
        ) from None
    except RecursionError:
        raise ValueError(f"{path!r} is refused: its {CONFIG} nests layers too deeply.") from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
        raise ValueError(f"{path!r}: cannot rebuild the model from {CONFIG}: {error}") from error
    if not isinstance(model, Model):
        raise ValueError(f"{path!r}: {class_name}.from_config returned a {type(model).__name__}, not a model.")
    unbuilt = [layer.name for layer in model.layers if not layer.built]
    if unbuilt or not model.built:
        raise ValueError(
            f"{path!r}: the {class_name} model rebuilt from {CONFIG} is not built (unbuilt layers: {unbuilt}), so "
            "its weights cannot be set. A subclassed model's from_config must build it (e.g. call "
            "self.build(input_shape) in __init__ with the input shape kept in its config)."
        )
    return model


class _OverBudget(Exception):
    """Raised inside a model's construction when it asks for more memory than its file can fill."""


class _AllocationBudget(torch.overrides.TorchFunctionMode):
    """Counts the elements of the new tensors made while active (torch.empty, zeros, randn, ...) and
    raises `_OverBudget` before the one that would pass `limit`."""

    FACTORIES = {torch.empty, torch.zeros, torch.ones, torch.full, torch.rand, torch.randn, torch.randint,
                 torch.empty_strided, torch.normal}

    def __init__(self, limit):
        super().__init__()
        self.limit = limit
        self.used = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self.FACTORIES:
            self.used += _requested_elements(args, kwargs)
            if self.used > self.limit:
                raise _OverBudget()
        return func(*args, **kwargs)


def _requested_elements(args, kwargs):
    """The element count a factory call asks for: `f(2, 3)`, `f((2, 3))` or `f(size=(2, 3))`."""
    size = kwargs.get("size", args[0] if args else ())
    if isinstance(size, int):
        size = [arg for arg in args if isinstance(arg, int) and not isinstance(arg, bool)]
    try:
        return math.prod(int(n) for n in size)
    except TypeError:  # e.g. normal(mean_tensor, std_tensor): shaped like existing tensors
        return 0


def _declared_elements(data, where):
    """The number of values a safetensors file's header announces, read from the header alone, and
    never more than the bytes that follow it (a value takes at least one): a header cannot claim room
    it does not hold."""
    try:
        (length,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + length].decode("utf-8"))
        shapes = [entry["shape"] for name, entry in header.items() if name != "__metadata__"]
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for shape in shapes for n in shape):
            raise ValueError("its tensor shapes must be lists of sizes >= 0")
        return min(sum(math.prod(shape) for shape in shapes), max(len(data) - 8 - length, 0))
    except RecursionError:
        raise ValueError(f"{where} is refused: its header nests JSON too deeply.") from None
    except (struct.error, UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError) as error:
        raise ValueError(f"{where} is not a valid safetensors file (truncated or corrupted?): {error}") from None


def _check_finite_weights(tensors, path):
    """Refuses weights holding NaN or inf: a model saved from a diverged run predicts nothing useful,
    and the fault is the file's, not the input's."""
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ValueError(
                f"{path!r} is refused: its weight {name} holds NaN or inf (saved from a diverged training run); "
                "train again or use an earlier checkpoint."
            )


def _load_safetensors(data, where):
    """The tensors of a safetensors file's bytes, and its metadata."""
    try:
        tensors = safetensors.torch.load(data)
    except (safetensors.SafetensorError, ValueError, OverflowError) as error:
        raise ValueError(f"{where} is not a valid safetensors file (truncated or corrupted?): {error}") from error
    return tensors, _safetensors_metadata(data, where)


def _by_model_names(model, tensors, metadata):
    """`tensors` keyed by the model's state_dict names: as they are when the names agree, else
    matched by structure (the file's structure names against the model's), so that weights load
    into a model built alike whose layers got other automatic names."""
    targets = model.state_dict()
    file_structure = metadata.get("structure")
    if set(tensors) == set(targets) or not isinstance(file_structure, dict) or set(file_structure) != set(tensors):
        return tensors
    by_structure = {key: name for name, key in file_structure.items()}
    model_structure = _structure_names(model)
    if len(by_structure) != len(file_structure) or set(by_structure) != set(model_structure.values()):
        return tensors
    return {name: tensors[by_structure[model_structure[name]]] for name in targets}


def _read_weights_file(path):
    """The tensors of a `.weights.safetensors` file, checked against the sha256 in its metadata."""
    size = os.path.getsize(path)
    if size > MAX_MEMBER_BYTES:
        raise ValueError(f"{path!r} is refused: {size} bytes, more than the limit of {MAX_MEMBER_BYTES}.")
    with open(path, "rb") as file:
        data = file.read()
    tensors, metadata = _load_safetensors(data, f"{path!r}")
    expected = metadata.get("sha256")
    if expected is not None and _tensors_digest(tensors) != expected:
        raise ValueError(f"{path!r} is corrupted: the checksum of its tensors does not match (sha256).")
    return tensors, metadata


def _safetensors_metadata(data, where):
    """rnnkit's metadata in a valid safetensors file (the JSON under "__metadata__"/"rnnkit"), or {}.
    The file: an 8-byte little-endian header length, then the JSON header, then the tensors."""
    (length,) = struct.unpack("<Q", data[:8])
    try:
        header = json.loads(data[8:8 + length].decode("utf-8"))
    except RecursionError:
        raise ValueError(f"{where}: the safetensors header nests JSON too deeply.") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"{where}: the safetensors header is not valid JSON ({error}).") from error
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    try:
        details = json.loads(metadata["rnnkit"])
    except (TypeError, KeyError, ValueError):  # no rnnkit metadata: a safetensors file from elsewhere
        return {}
    return details if isinstance(details, dict) else {}


def _assign_state(model, tensors, path, keep_file_dtypes):
    """Sets every state_dict tensor of `model` from `tensors`, after checking that the names and
    shapes agree exactly. `keep_file_dtypes`: a tensor saved in another dtype replaces the model's
    (a model rebuilt from a config); otherwise it is cast into the model's dtype."""
    if not isinstance(model, Model):
        raise ValueError(f"Expected an rnnkit model to load {path!r} into, got {type(model).__name__}.")
    targets = model.state_dict(keep_vars=True)
    missing = sorted(set(targets) - set(tensors))
    unexpected = sorted(set(tensors) - set(targets))
    if missing or unexpected:
        unbuilt = [layer.name for layer in model.layers if not layer.built]
        hint = f" The model is not built (unbuilt layers: {unbuilt}): call it on data first." if unbuilt else ""
        raise ValueError(
            f"{path!r}: the weights do not match model '{model.name}': missing {_few(missing)}, unexpected "
            f"{_few(unexpected)}.{hint}"
        )
    wrong = [
        f"{name}: file {tuple(tensors[name].shape)}, model {tuple(target.shape)}"
        for name, target in targets.items()
        if tuple(tensors[name].shape) != tuple(target.shape)
        or tensors[name].is_floating_point() != target.is_floating_point()
    ]
    if wrong:
        raise ValueError(f"{path!r}: the weights do not fit model '{model.name}': {'; '.join(wrong[:10])}.")
    with torch.no_grad():
        for name, target in targets.items():
            value = tensors[name]
            if keep_file_dtypes and value.dtype != target.dtype:
                target.data = value.to(target.device)
            else:
                target.copy_(value)


def _few(names, limit=10):
    shown = names[:limit]
    return f"{shown}" + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _restore_compile(model, compile_config, contents, path):
    """Compiles the loaded model as it was, and restores the optimizer state if the file has it."""
    try:
        optimizer_spec = compile_config.get("optimizer", "rmsprop")
        record = contents.get(OPTIMIZER_CONFIG)
        record = None if record is None else _parse_json(record, OPTIMIZER_CONFIG, path)
        params = _trainable(model) if record is None else _optimizer_groups(model, record)
        optimizer = _make_optimizer(optimizer_spec, params)
        model.compile(
            optimizer=optimizer if optimizer is not None else optimizer_spec,
            loss=_restore_objects(compile_config.get("loss"), losses_module, losses_module.Loss),
            metrics=_restore_objects(compile_config.get("metrics"), metrics_module, metrics_module.Metric),
            loss_weights=compile_config.get("loss_weights"),
        )
        if record is not None:
            optimizer.load_state_dict({
                "state": _optimizer_slots(record, contents.get(OPTIMIZER_WEIGHTS), path),
                "param_groups": record["param_groups"],
                **record.get("extra", {}),
            })
            model.optimizer = optimizer
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RuntimeError) as error:
        raise ValueError(f"{path!r}: cannot restore the compile() settings or the optimizer state: {error}") from error


def _trainable(model):
    return [p for p in model.parameters() if p.requires_grad]


def _optimizer_groups(model, record):
    """The param groups of the saved optimizer, with the loaded model's parameters in the same order."""
    named = dict(model.named_parameters())
    names = record.get("param_names", [])
    unknown = [name for name in names if name not in named]
    if unknown:
        raise ValueError(f"the optimizer state names parameters the model lacks: {_few(unknown)}")
    groups = []
    for group in record.get("param_groups", []):
        settings = {k: v for k, v in group.items() if k != "params"}
        groups.append({**settings, "params": [named[names[i]] for i in group["params"]]})
    return groups


def _make_optimizer(spec, params):
    """The optimizer the spec names, built on `params`; None for specs compile() resolves itself
    (names and rnnkit optimizer configs) when there is no state to load."""
    if isinstance(spec, dict) and str(spec.get("class_name", "")).startswith("torch.optim."):
        cls = _torch_optimizer_class(spec["class_name"][len("torch.optim."):])
        if cls is None:
            raise ValueError(f"unknown torch optimizer {spec['class_name']!r}")
        return cls(params, **spec.get("config", {}))
    if isinstance(params, list) and params and isinstance(params[0], dict):
        return optimizers_module.get_optimizer(spec, params)
    return None


def _restore_objects(spec, module, base):
    """Loss or metric settings from their saved form: each {"class_name", "config"} becomes an object
    of the `base` subclass of that name in `module` (rnnkit.losses / rnnkit.metrics), nothing else."""
    if isinstance(spec, list):
        return [_restore_objects(s, module, base) for s in spec]
    if isinstance(spec, dict) and "class_name" in spec:
        cls = getattr(module, str(spec["class_name"]), None)
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise ValueError(f"unknown {base.__name__.lower()} class {spec['class_name']!r}")
        return cls.from_config(spec.get("config", {}))
    if isinstance(spec, dict):
        return {k: _restore_objects(v, module, base) for k, v in spec.items()}
    return spec


def _optimizer_slots(record, tensor_bytes, path):
    """torch's per-parameter optimizer state {index: {slot: value}} from the JSON scalars and the tensors."""
    slots = {int(index): dict(values) for index, values in record.get("state", {}).items()}
    if tensor_bytes is not None:
        tensors, _ = _load_safetensors(tensor_bytes, f"{path!r} (member {OPTIMIZER_WEIGHTS})")
        for key, tensor in tensors.items():
            index, _, slot = key.partition(".")
            slots.setdefault(int(index), {})[slot] = tensor
    return slots
