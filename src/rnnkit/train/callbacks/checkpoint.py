"""Callbacks that save training to disk: `ModelCheckpoint` (the model) and `BackupAndRestore` (all of
training, to resume an interrupted run)."""
from __future__ import annotations

import base64
import contextlib
import itertools
import json
import math
import os
import random
import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import safetensors
import safetensors.numpy
import torch

from ...files import write_atomically, write_text_atomically
from ...storage import storage
from .. import distributed
from .base import Callback, _print, _python_logs
from .monitor import _MonitorCallback


def _divergence(model, logs):
    """Why the model's current state is not worth saving (a non-finite loss in `logs`, or NaN or inf
    in its weights: training diverged), or None."""
    loss = (logs or {}).get("loss")
    if loss is not None and not math.isfinite(float(loss)):
        return f"the loss is {float(loss)}"
    if not all(np.isfinite(weight).all() for weight in model.get_weights()):
        return "the weights hold NaN or inf"
    return None


class ModelCheckpoint(_MonitorCallback):
    """Saves the model (or its weights) during training: every epoch, every n batches, or the best only.

    Args:
        filepath: where to save; may hold `{epoch:02d}` (1-based), `{batch}` (with `save_freq=n`) and
            any logged key, e.g. "ckpt/model-{epoch:02d}-{val_loss:.2f}.rnnkit".
        monitor: the logged quantity that decides what is "best" (with `save_best_only`).
        verbose: 1 prints a line for each save (or each skipped save).
        save_best_only: save only when `monitor` improves on the best so far.
        save_weights_only: call `model.save_weights(path)` instead of `model.save(path)`.
        mode: "min", "max" or "auto" (from the name of `monitor`).
        save_freq: "epoch", or an integer n: save after every n training batches.
        initial_value_threshold: with `save_best_only`, the value to beat first.

    The model's save functions write atomically: an interrupted save leaves the previous file intact.
    Missing parent folders are created. Once training has diverged (a NaN or inf loss or weight, as
    when TerminateOnNaN stops it) nothing is saved, so the last good checkpoint stays; a line says
    which one that is.

    Example:
        >>> checkpoint = ModelCheckpoint("best.rnnkit", monitor="val_accuracy", save_best_only=True)
    """

    main_process_only = True
    resumable_state = ("best", "last_saved", "_batches_since_save")

    def __init__(
        self, filepath: str | os.PathLike, monitor: str = "val_loss", verbose: int = 0, save_best_only: bool = False,
        save_weights_only: bool = False, mode: str = "auto", save_freq: str | int = "epoch",
        initial_value_threshold: float | None = None,
    ) -> None:
        super().__init__(monitor, mode, baseline=initial_value_threshold, needs_direction=save_best_only)
        if save_freq != "epoch" and not (isinstance(save_freq, int) and not isinstance(save_freq, bool)
                                         and save_freq > 0):
            raise ValueError(f"Expected save_freq to be 'epoch' or a positive integer, got save_freq={save_freq!r}.")
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._current_epoch = 0
        self._batches_since_save = 0
        self.last_saved = None

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._current_epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch, batch, _python_logs(logs))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.save_freq == "epoch":
            self._save(epoch, None, logs or {})

    def _file_path(self, epoch, batch, logs):
        fields = {**logs, "epoch": epoch + 1}
        if batch is not None:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except KeyError as error:
            raise KeyError(
                f'Failed to format this callback filepath: "{self.filepath}". Reason: {error} is not a logged '
                f"key; available keys are: {', '.join(fields)}."
            ) from None

    def _should_save(self, epoch, logs, filepath):
        if not self.save_best_only:
            if self.verbose > 0:
                _print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Can save best model only with {self.monitor} available, saving anyway. "
                f"Available metrics are: {','.join(logs)}",
                stacklevel=3,
            )
            return True
        current = float(current)
        best_text = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                _print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best_text} to {current:.5f}, "
                       f"saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best_text}")
        return False

    def _save(self, epoch, batch, logs):
        filepath = self._file_path(epoch, batch, logs)
        problem = _divergence(self.model, logs)
        if problem is not None:
            kept = (f"the last good checkpoint is {self.last_saved}" if self.last_saved
                    else "no checkpoint was saved before")
            _print(f"\nEpoch {epoch + 1}: ModelCheckpoint not saving {filepath}: {problem} (training diverged); "
                   f"{kept}.")
            return
        if not self._should_save(epoch, logs, filepath):
            return
        folder = os.path.dirname(filepath)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath)
        else:
            self.model.save(filepath)
        self.last_saved = filepath


class BackupAndRestore(Callback):
    """Resumes an interrupted `fit()` where its last completed epoch left off.

    At the end of every epoch the model (weights and optimizer state), the epoch number and the
    random-number state are written to `backup_dir`; when `fit()` starts and a backup is there,
    they are restored and training continues with the next epoch. Because the random state comes
    back too, the resumed run shuffles and drops out exactly as the uninterrupted one would have;
    the other callbacks of the fit get their `resumable_state` back (EarlyStopping's patience count
    and best weights, ReduceLROnPlateau's, ModelCheckpoint's best value), so they decide as they
    would have too.
    Every file is written atomically and the pointer to the newest backup last, so a process
    killed at any moment leaves a consistent backup behind. An epoch that ends with a NaN or inf
    loss or weights (training diverged) is not backed up: the last good backup stays, and a line
    names it.

    Args:
        backup_dir: folder for the backup (created if missing).
        delete_checkpoint: remove the backup once training ends (default True, as Keras), also when
            EarlyStopping ended it; a run that diverged (NaN or inf) keeps its last good backup.

    Example (run again after an interruption, with the same arguments)::

        model.fit(x, y, epochs=50, callbacks=[rnnkit.callbacks.BackupAndRestore("backup")])
    """

    # At an epoch's end it saves what the other callbacks made of the epoch (their states), and at
    # the start it restores their states after they have reset them
    runs_last = True
    POINTER = "training.json"
    # The names of the files this callback writes, and of their temporary files while being written
    _BACKUP_NAME = re.compile(
        r"\.?(training\.json|epoch_\d{6}(-\d+)?\.(rnnkit|callbacks\.safetensors))(\.\d+-[0-9a-f]{16}\.tmp)?")

    def __init__(self, backup_dir: str | os.PathLike, delete_checkpoint: bool = True) -> None:
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore needs a backup_dir.")
        self.backup_dir = os.fspath(backup_dir)
        self.delete_checkpoint = delete_checkpoint
        self.siblings = []  # the fit's other callbacks, given by CallbackList (set_siblings)
        self._backed_up_epoch = None
        self._diverged = False
        self._created_dir = False
        self._orphans = set()  # in a folder this callback made: the files found there when training began
        self._written = set()  # the files this callback wrote in this fit

    def set_siblings(self, callbacks: Sequence[Callback]) -> None:
        """Keeps the run's other callbacks, whose resumable states each backup holds."""
        self.siblings = list(callbacks)

    def _pointer_path(self):
        return os.path.join(self.backup_dir, self.POINTER)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._backed_up_epoch = None
        self._diverged = False
        distributed.barrier()  # under torchrun: the first process's writes are done before all read
        # A folder holding nothing but files named as this callback names them (an earlier run's backup,
        # and what a run killed mid-write left) was made by this callback, in that run
        self._created_dir = (os.path.isdir(self.backup_dir) and os.path.exists(self._pointer_path())
                             and all(self._BACKUP_NAME.fullmatch(name) for name in os.listdir(self.backup_dir)))
        self._orphans = set(os.listdir(self.backup_dir)) if self._created_dir else set()
        self._written = set()
        if not os.path.exists(self._pointer_path()):
            return
        record = self._read_pointer()
        # load_model verifies the file's checksums and names the file when it is damaged
        saved_path = os.path.join(self.backup_dir, record["model"])
        saved = storage("load_model")(saved_path)
        difference = _config_difference(saved.get_config(), self.model.get_config())
        if difference is not None:
            raise ValueError(
                f"the backup {saved_path} was made by another model: {difference}. Resume with the options of "
                f"the interrupted run, or delete the folder {self.backup_dir} to train this model from the start."
            )
        self.model.set_weights(saved.get_weights())
        if getattr(saved, "optimizer", None) is not None and getattr(self.model, "optimizer", None) is not None:
            self.model.optimizer.load_state_dict(saved.optimizer.state_dict())
        # Under torchrun each process gets its own random state back (with as many processes as before)
        states = record.get("process_random_states")
        same_count = states is not None and len(states) == distributed.world_size()
        _set_random_state(states[distributed.rank()] if same_count else record["random_state"])
        self._backed_up_epoch = record["epoch"]
        self.model._resume_epoch = record["epoch"] + 1
        self._set_sibling_states(record.get("callbacks", {}), self._read_arrays(record.get("callback_arrays")))

    def _resumable_siblings(self):
        """(key, callback) for each other callback with a resumable state; the key (class name and
        ordinal) finds it again in a resumed run, also when some callbacks were added or removed."""
        counts = {}
        for callback in self.siblings:
            if callback.resumable_state:
                kind = type(callback).__name__
                counts[kind] = counts.get(kind, 0) + 1
                yield f"{kind}#{counts[kind] - 1}", callback

    def _sibling_states(self):
        """The other callbacks' states: a JSON record, and the arrays (weights) it refers to."""
        record, arrays = {}, {}
        for key, callback in self._resumable_siblings():
            entry = {}
            for field, value in callback.get_state().items():
                if isinstance(value, list) and value and all(isinstance(v, np.ndarray) for v in value):
                    arrays.update((f"{key}/{field}/{i}", np.ascontiguousarray(v)) for i, v in enumerate(value))
                    entry[field] = {"arrays": len(value)}
                else:
                    entry[field] = value
            record[key] = entry
        return record, arrays

    def _set_sibling_states(self, record, arrays):
        for key, callback in self._resumable_siblings():
            if key in record:
                callback.set_state({
                    field: [arrays[f"{key}/{field}/{i}"] for i in range(value["arrays"])]
                    if isinstance(value, dict) and set(value) == {"arrays"} else value
                    for field, value in record[key].items()
                })

    def _read_arrays(self, name):
        if name is None:
            return {}
        path = os.path.join(self.backup_dir, name)
        try:
            with open(path, "rb") as file:
                return safetensors.numpy.load(file.read())
        except (OSError, safetensors.SafetensorError) as error:
            raise ValueError(f"cannot read the callbacks' state in {path} ({error}); delete the folder "
                             f"{self.backup_dir} to train from the start.") from None

    def _read_pointer(self):
        path = self._pointer_path()
        try:
            with open(path, encoding="utf-8") as file:
                record = json.load(file)
            files = [record["model"]] + ([record["callback_arrays"]] if record.get("callback_arrays") else [])
            valid = (isinstance(record["epoch"], int) and isinstance(record["random_state"], dict)
                     and all(isinstance(f, str) and os.path.basename(f) == f for f in files))
        except (ValueError, KeyError, TypeError):
            valid = False
        if not valid:
            raise ValueError(
                f"{path} is not a backup record written by BackupAndRestore; delete the folder {self.backup_dir} "
                "to train from the start."
            )
        return record

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        problem = _divergence(self.model, logs)
        if problem is not None:
            self._diverged = True
            kept = (f"it keeps the backup of epoch {self._backed_up_epoch + 1} in {self.backup_dir}"
                    if self._backed_up_epoch is not None else "no earlier backup was written")
            _print(f"\nEpoch {epoch + 1}: BackupAndRestore not backing up: {problem} (training diverged); {kept}.")
            return
        states = distributed.gather_to_main(_random_state())  # every process's, on the first one
        if not distributed.is_main_process():
            return
        if not os.path.isdir(self.backup_dir):
            os.makedirs(self.backup_dir)
            self._created_dir = True
        earlier = self._backup_files()
        prefix = self._free_prefix(epoch, earlier)
        name = prefix + "rnnkit"
        self._written |= {name, prefix + "callbacks.safetensors"}
        self.model.save(os.path.join(self.backup_dir, name), include_optimizer=True)
        callback_states, arrays = self._sibling_states()
        record = {
            "epoch": epoch,
            "model": name,
            "random_state": states[0],
            "callbacks": callback_states,
            "callback_arrays": prefix + "callbacks.safetensors" if arrays else None,
        }
        if arrays:
            write_atomically(os.path.join(self.backup_dir, record["callback_arrays"]),
                             lambda file: file.write(safetensors.numpy.save(arrays)))
        if len(states) > 1:
            record["process_random_states"] = states
        write_text_atomically(self._pointer_path(), json.dumps(record))
        self._backed_up_epoch = epoch
        self._remove(self._stale_files(earlier))

    def _free_prefix(self, epoch, earlier):
        """'epoch_N.', or 'epoch_N-2.', ... when a file of that name is there that this callback did
        not write: a ModelCheckpoint("epoch_{epoch:06d}.rnnkit") beside it (whose epoch N+1 file it
        would overwrite one epoch later and then delete), or the user's own."""
        ours = set(earlier) | self._written | self._orphans
        for copy in itertools.count(1):
            prefix = f"epoch_{epoch:06d}{'' if copy == 1 else f'-{copy}'}."
            if all(name in ours or not os.path.exists(os.path.join(self.backup_dir, name))
                   for name in (prefix + "rnnkit", prefix + "callbacks.safetensors")):
                return prefix

    def _stale_files(self, earlier=()):
        """What may go now: the files of the previous backup record (`earlier`) that the current one
        does not name, and in a folder this callback made, the other files it wrote or found there
        named as it names its files (left by a run killed mid-write). A user's own files in the
        folder, and files others write into it while it trains, stay."""
        current = self._backup_files()
        stale = set(earlier) - current
        if self._created_dir:
            stale |= {name for name in os.listdir(self.backup_dir)
                      if name in self._orphans | self._written and self._BACKUP_NAME.fullmatch(name)
                      and name not in current}
        return stale

    def _remove(self, names):
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(self.backup_dir, name))

    def _backup_files(self):
        """The files the current backup record names (this callback's), with the record itself."""
        if not os.path.exists(self._pointer_path()):
            return set()
        try:
            record = self._read_pointer()
        except ValueError:  # not ours: touch none of the folder's files
            return set()
        return {self.POINTER, record["model"]} | ({record["callback_arrays"]} if record.get("callback_arrays") else set())

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        # A run that ends, early stopping included, needs no backup; a diverged one keeps its last good state.
        if self.delete_checkpoint and distributed.is_main_process() and os.path.isdir(self.backup_dir) and not self._diverged:
            self._remove(self._backup_files() | self._stale_files())
            # The folder goes only when this callback made it and nothing else was put in it
            if self._created_dir and not os.listdir(self.backup_dir):
                os.rmdir(self.backup_dir)


_NAMING_KEYS = ("name", "inbound_nodes", "input_layers", "output_layers")


def _config_difference(saved, current, where=""):
    """The first setting in which the config `current` differs from `saved` ("lstm.units: 32 in the
    backup, 64 now"), or None when they agree; names of layers and models (and the wiring of a
    functional model, which refers to them) are not settings: they are numbered per process."""
    if isinstance(saved, dict) and isinstance(current, dict):
        label = saved.get("name") if isinstance(saved.get("name"), str) else None
        for key in list(saved) + [key for key in current if key not in saved]:
            if key in _NAMING_KEYS:
                continue
            owner = label or where
            # a layer's settings are named after the layer: "lstm.units", not "layers.config.units"
            inner = where if key in ("config", "layers") else (f"{owner}.{key}" if owner else str(key))
            found = _config_difference(saved.get(key), current.get(key), inner)
            if found is not None:
                return found
        return None
    if isinstance(saved, list) and isinstance(current, list) and len(saved) == len(current):
        for old, new in zip(saved, current):
            found = _config_difference(old, new, where)
            if found is not None:
                return found
        return None
    if saved != current:
        return f"{where or 'the model'}: {_short(saved)} in the backup, {_short(current)} now"
    return None


def _short(value):
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _random_state():
    """The state of every generator training may draw from, as JSON: torch's (the CPU's and each
    initialized GPU's: dropout, shuffling), NumPy's global one and Python's (user generators)."""
    state = {"torch": _bytes_text(torch.get_rng_state())}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["torch_cuda"] = [_bytes_text(device_state) for device_state in torch.cuda.get_rng_state_all()]
    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    state["numpy"] = [kind, keys.tolist(), int(position), int(has_gauss), float(cached_gaussian)]
    version, internal_state, gauss_next = random.getstate()
    state["python"] = [version, list(internal_state), gauss_next]
    return state


def _set_random_state(state):
    """Restores what `_random_state` recorded (the GPUs' states where those GPUs are present)."""
    torch.set_rng_state(_text_bytes(state["torch"]))
    if "torch_cuda" in state and torch.cuda.is_available():
        for device, device_state in enumerate(state["torch_cuda"][:torch.cuda.device_count()]):
            torch.cuda.set_rng_state(_text_bytes(device_state), device)
    kind, keys, position, has_gauss, cached_gaussian = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), position, has_gauss, cached_gaussian))
    version, internal_state, gauss_next = state["python"]
    random.setstate((version, tuple(internal_state), gauss_next))


def _bytes_text(byte_tensor):
    return base64.b64encode(byte_tensor.numpy().tobytes()).decode("ascii")


def _text_bytes(text):
    return torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8)
