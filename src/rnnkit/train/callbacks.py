"""Keras 3 callbacks: hooks into fit/evaluate/predict, with Keras's semantics.

The fit loop drives a `CallbackList`, which calls every hook of every callback in order (the user's
callbacks, then `History`, then the progress bar, as Keras). Callbacks see:
- `self.model`: the model being trained. Callbacks use only `stop_training` (set it to True and the
  loop stops after the current epoch), `optimizer.learning_rate`, `get_weights()`/`set_weights()`,
  `save(path)` and `save_weights(path)`.
- `self.params`: `{"verbose": ..., "epochs": ..., "steps": ...}` (steps per epoch, None if unknown).
- `logs`: at epoch level a dict name -> float (`loss`, metric names, `val_`-prefixed ones); at batch
  level the values may be 0-d tensors, so that the loop need not wait on the device every batch:
  convert with `float()` only when a value is needed.

Batch-level logs are shared by all callbacks and must not be modified; epoch-level logs are a copy
made once per hook call and shared by the callbacks in order, so a callback may add entries for the
ones after it (ReduceLROnPlateau and LearningRateScheduler add `learning_rate`, which History records).
"""
import base64
import contextlib
import csv
import inspect
import io
import json
import math
import numbers
import os
import random
import re
import sys
import warnings

import numpy as np
import safetensors
import safetensors.numpy
import torch

from ..files import write_atomically, write_text_atomically
from ..storage import storage
from . import distributed

__all__ = [
    "Callback", "CallbackList", "History", "EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau",
    "LearningRateScheduler", "CSVLogger", "TerminateOnNaN", "LambdaCallback", "ProgbarLogger",
]

HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
    "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
    "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
    "on_predict_batch_begin", "on_predict_batch_end",
)


def _print(message):
    if not distributed.is_main_process():  # under torchrun the first process speaks for all
        return
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def _python_logs(logs):
    """A copy of `logs` with tensor and numpy scalars turned into Python floats (others kept as is)."""
    if not logs:
        return {}
    converted = {}
    for name, value in logs.items():
        if not isinstance(value, (bool, int, float, str)):
            try:
                value = float(value)
            except (TypeError, ValueError, RuntimeError):  # arrays, strings: as they are
                pass
        converted[name] = value
    return converted


def _divergence(model, logs):
    """Why the model's current state is not worth saving (a non-finite loss in `logs`, or NaN or inf
    in its weights: training diverged), or None."""
    loss = (logs or {}).get("loss")
    if loss is not None and not math.isfinite(float(loss)):
        return f"the loss is {float(loss)}"
    if not all(np.isfinite(weight).all() for weight in model.get_weights()):
        return "the weights hold NaN or inf"
    return None


# ------------------------------------------------------------------------------------------------ base
class Callback:
    """Base class of callbacks: override the hooks you need; each default does nothing.

    Attributes:
        model: the model being trained, set by `set_model` before training begins.
        params: dict of training parameters (`verbose`, `epochs`, `steps`), set by `set_params`.
        main_process_only: True for a callback that only writes files or prints (ModelCheckpoint,
            CSVLogger): under torchrun it runs in the first process alone (False by default).
        resumable_state: names of the attributes that carry training progress from epoch to epoch
            (counters, best values, best weights as a list of arrays): BackupAndRestore saves them
            with each backup and gives them back to a resumed run, so that it decides as the
            uninterrupted run would have (empty by default).

    Hooks, with `logs` a dict (see the module docstring):
        on_train_begin/end(logs), on_epoch_begin/end(epoch, logs),
        on_train_batch_begin/end(batch, logs), on_test_begin/end(logs),
        on_test_batch_begin/end(batch, logs), on_predict_begin/end(logs),
        on_predict_batch_begin/end(batch, logs).
    `on_batch_begin/end` are Keras's older names: the train-batch hooks call them by default.

    Example:
        >>> class CountBatches(Callback):
        ...     def on_train_begin(self, logs=None):
        ...         self.count = 0
        ...     def on_train_batch_end(self, batch, logs=None):
        ...         self.count += 1
    """

    main_process_only = False
    resumable_state = ()

    def __init__(self):
        self.model = None
        self.params = None

    def get_state(self):
        """The values of `resumable_state`, a dict (JSON values, or lists of NumPy arrays)."""
        return {name: getattr(self, name) for name in self.resumable_state}

    def set_state(self, state):
        """Takes back what `get_state` returned (the names of `resumable_state` found in `state`)."""
        for name in self.resumable_state:
            if name in state:
                setattr(self, name, state[name])

    def set_model(self, model):
        """Sets the model the hooks act on (`self.model`)."""
        self.model = model

    def set_params(self, params):
        """Sets the training parameters (`self.params`)."""
        self.params = params

    def on_batch_begin(self, batch, logs=None):
        """Keras's older name of `on_train_batch_begin`."""

    def on_batch_end(self, batch, logs=None):
        """Keras's older name of `on_train_batch_end`."""

    def on_train_begin(self, logs=None):
        """Called once at the start of `fit`."""

    def on_train_end(self, logs=None):
        """Called once at the end of `fit`, also after an early stop; `logs` are the last epoch's."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of epoch `epoch` (0-based)."""

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of epoch `epoch` with the epoch's metrics, `val_*` included."""

    def on_train_batch_begin(self, batch, logs=None):
        """Called before training batch `batch` (0-based within the epoch)."""
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        """Called after training batch `batch` with the running means of the epoch so far."""
        self.on_batch_end(batch, logs)

    def on_test_begin(self, logs=None):
        """Called at the start of `evaluate` and of each validation in `fit`."""

    def on_test_end(self, logs=None):
        """Called at the end of `evaluate` and of each validation in `fit`."""

    def on_test_batch_begin(self, batch, logs=None):
        """Called before each evaluation batch."""

    def on_test_batch_end(self, batch, logs=None):
        """Called after each evaluation batch."""

    def on_predict_begin(self, logs=None):
        """Called at the start of `predict`."""

    def on_predict_end(self, logs=None):
        """Called at the end of `predict`."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Called before each prediction batch."""

    def on_predict_batch_end(self, batch, logs=None):
        """Called after each prediction batch."""


class CallbackList(Callback):
    """Calls each hook on every callback, in order: what the fit loop talks to.

    Args:
        callbacks: a list of `Callback`s (or one, or None).
        model: the model, passed to every callback's `set_model` (and given `model.history`).
        add_history: append a `History` unless the list has one (then exposed as `.history`).
        add_progbar: append a `ProgbarLogger` (last) unless the list has one.
        verbose, epochs, steps: the `params` every callback receives (steps per epoch, None if unknown).

    As in Keras 3 the order is: the given callbacks, then History, then the progress bar, so History
    records what callbacks add to the logs and the epoch's line shows it.

    Example:
        >>> history_list = CallbackList([], add_history=True, epochs=1, steps=1)
        >>> history_list.on_train_begin()
        >>> history_list.on_epoch_begin(0)
        >>> history_list.on_epoch_end(0, {"loss": 0.5})
        >>> history_list.history.history
        {'loss': [0.5]}
    """

    def __init__(self, callbacks=None, model=None, add_history=False, add_progbar=False, verbose=1,
                 epochs=None, steps=None):
        super().__init__()
        from .progress import ProgbarLogger  # progress.py builds on Callback, defined above

        if callbacks is None:
            callbacks = []
        elif isinstance(callbacks, Callback):
            callbacks = [callbacks]
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(
                    "Expected callbacks to be rnnkit.callbacks.Callback instances, "
                    f"got {type(callback).__name__}: {callback!r}."
                )
        if not distributed.is_main_process():
            # Under torchrun only the first process writes files and shows progress
            self.callbacks = [c for c in self.callbacks if not (c.main_process_only or isinstance(c, ProgbarLogger))]
            add_progbar = False
        self.history = next((c for c in self.callbacks if isinstance(c, History)), None)
        if self.history is None and add_history:
            self.history = History()
            self.callbacks.append(self.history)
        if add_progbar and not any(isinstance(c, ProgbarLogger) for c in self.callbacks):
            self.callbacks.append(ProgbarLogger(verbose))
        # BackupAndRestore runs last: at an epoch's end it saves what the others made of the epoch
        # (their states), and at the start it restores their states after they have reset them
        self.callbacks.sort(key=lambda c: isinstance(c, BackupAndRestore))
        for callback in self.callbacks:
            if isinstance(callback, BackupAndRestore):
                callback.siblings = [c for c in self.callbacks if c is not callback]
        self.set_params({"verbose": verbose, "epochs": epochs, "steps": steps})
        if model is not None:
            self.set_model(model)

    def set_model(self, model):
        """Gives `model` to every callback; with a History, also sets `model.history` (as Keras)."""
        super().set_model(model)
        if self.history is not None:
            model.history = self.history
        for callback in self.callbacks:
            callback.set_model(model)

    def set_params(self, params):
        """Gives `params` to every callback."""
        super().set_params(params)
        for callback in self.callbacks:
            callback.set_params(params)

    def _dispatch(self, hook, *args):
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    def on_train_begin(self, logs=None):
        self._dispatch("on_train_begin", _python_logs(logs))

    def on_train_end(self, logs=None):
        self._dispatch("on_train_end", _python_logs(logs))

    def on_epoch_begin(self, epoch, logs=None):
        self._dispatch("on_epoch_begin", epoch, _python_logs(logs))

    def on_epoch_end(self, epoch, logs=None):
        self._dispatch("on_epoch_end", epoch, _python_logs(logs))

    def on_train_batch_begin(self, batch, logs=None):
        self._dispatch("on_train_batch_begin", batch, {} if logs is None else logs)

    def on_train_batch_end(self, batch, logs=None):
        self._dispatch("on_train_batch_end", batch, {} if logs is None else logs)

    def on_test_begin(self, logs=None):
        self._dispatch("on_test_begin", _python_logs(logs))

    def on_test_end(self, logs=None):
        self._dispatch("on_test_end", _python_logs(logs))

    def on_test_batch_begin(self, batch, logs=None):
        self._dispatch("on_test_batch_begin", batch, {} if logs is None else logs)

    def on_test_batch_end(self, batch, logs=None):
        self._dispatch("on_test_batch_end", batch, {} if logs is None else logs)

    def on_predict_begin(self, logs=None):
        self._dispatch("on_predict_begin", _python_logs(logs))

    def on_predict_end(self, logs=None):
        self._dispatch("on_predict_end", _python_logs(logs))

    def on_predict_batch_begin(self, batch, logs=None):
        self._dispatch("on_predict_batch_begin", batch, {} if logs is None else logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._dispatch("on_predict_batch_end", batch, {} if logs is None else logs)


class History(Callback):
    """Records the epoch-level logs: what `fit` returns.

    Attributes:
        history: dict name -> list of per-epoch values (floats), e.g. `{"loss": [...], "val_loss": [...]}`.
        epoch: list of the epoch indices recorded.
        params: the training parameters; model: the model.

    As Keras's, a History reused for a second `fit` keeps appending to `history` (`fit` creates a
    new one each time).
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for name, value in _python_logs(logs).items():
            self.history.setdefault(name, []).append(value)


# ------------------------------------------------------------------------------- monitored quantities
_LOWER_IS_BETTER = {"loss", "error", "mae", "mse", "rmse", "mape", "msle", "crossentropy", "hinge",
                    "divergence", "kld", "poisson", "logcosh"}
_HIGHER_IS_BETTER = {"accuracy", "acc", "auc", "precision", "recall", "f1", "fbeta", "iou", "r2"}


def _higher_is_better(monitor):
    """True/False when the name tells whether `monitor` is to be maximized, else None."""
    words = set(monitor.removeprefix("val_").split("_"))
    if words & _LOWER_IS_BETTER:
        return False
    if words & _HIGHER_IS_BETTER:
        return True
    return None


class _MonitorCallback(Callback):
    """Shared by the callbacks that watch one logged quantity (`monitor`) for improvement.

    mode "min"/"max" says which way is better; "auto" infers it from the name (losses and errors
    down; accuracy, AUC, precision, recall up). An unknown mode warns and falls back to "auto", as
    Keras. A value improves on a reference when it is better by more than `min_delta`.
    """

    def __init__(self, monitor, mode, min_delta=0, baseline=None, needs_direction=True):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto mode.",
                          stacklevel=3)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.min_delta = abs(min_delta)
        self.best = baseline
        self.higher_is_better = {"min": False, "max": True}.get(mode, _higher_is_better(monitor))
        if self.higher_is_better is None and needs_direction:
            raise ValueError(
                f"{type(self).__name__} received monitor={monitor!r} but cannot tell from its name whether it "
                "should be minimized or maximized. Pass mode='min' or mode='max'."
            )

    def _is_improvement(self, current, reference):
        if reference is None:
            return True
        if self.higher_is_better:
            return current - self.min_delta > reference
        return current + self.min_delta < reference

    def _monitor_value(self, logs, purpose):
        """The monitored value as a float, or None (with a warning naming the logged keys) when absent."""
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(
                f"{purpose} conditioned on metric `{self.monitor}` which is not available. "
                f"Available metrics are: {','.join(logs or {})}",
                stacklevel=3,
            )
            return None
        return float(value)


class EarlyStopping(_MonitorCallback):
    """Stops training when a monitored quantity has stopped improving.

    At each epoch end, a value better than the best so far by more than `min_delta` is an
    improvement; after `patience` epochs in a row without one, `model.stop_training` is set.

    Args:
        monitor: the logged quantity to watch, default "val_loss".
        min_delta: changes smaller than this (in absolute value) are not improvements.
        patience: number of epochs without improvement after which training stops.
        verbose: 1 prints when it stops and when it restores weights.
        mode: "min", "max" or "auto" (from the name of `monitor`).
        baseline: if set, training stops after `patience` epochs that do not beat it.
        restore_best_weights: at the end of training (stopped early or not), set the weights of the
            best epoch seen (an epoch is restored even if it did not beat `baseline`).
        start_from_epoch: epochs to wait before monitoring (warm-up).

    Example:
        >>> stop = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
        >>> # model.fit(x, y, validation_split=0.2, epochs=100, callbacks=[stop])
    """

    resumable_state = ("wait", "stopped_epoch", "best", "best_epoch", "best_weights")

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        # The instance may be reused across fit calls
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def _copy_weights(self):
        # get_weights() may return views of live tensors: keep copies of the best ones
        return [np.array(weight, copy=True) for weight in self.model.get_weights()]

    def on_epoch_end(self, epoch, logs=None):
        current = self._monitor_value(logs, "Early stopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Until something improves, the first monitored epoch's weights are the best
            self.best_weights = self._copy_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self._copy_weights()
            # Patience restarts only when the value beats the baseline too
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            _print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


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

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
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

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch, batch, _python_logs(logs))

    def on_epoch_end(self, epoch, logs=None):
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


# ------------------------------------------------------------------------------------- learning rate
def _get_learning_rate(optimizer):
    if hasattr(optimizer, "learning_rate"):
        return float(optimizer.learning_rate)
    if hasattr(optimizer, "param_groups"):  # a plain torch.optim.Optimizer
        return float(optimizer.param_groups[0]["lr"])
    raise ValueError(
        "Expected model.optimizer to have a learning rate (an rnnkit optimizer or a torch.optim.Optimizer), "
        f"got {optimizer!r}; compile the model first."
    )


def _set_learning_rate(optimizer, learning_rate):
    if hasattr(optimizer, "learning_rate"):
        optimizer.learning_rate = learning_rate
    else:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate


class ReduceLROnPlateau(_MonitorCallback):
    """Multiplies the learning rate by `factor` when a monitored quantity has stopped improving.

    Args:
        monitor: the logged quantity to watch, default "val_loss".
        factor: new_lr = lr * factor; must be < 1.
        patience: epochs without improvement before the rate is reduced.
        verbose: 1 prints each reduction.
        mode: "min", "max" or "auto" (from the name of `monitor`).
        min_delta: changes smaller than this are not improvements.
        cooldown: epochs to wait after a reduction before counting epochs without improvement again.
        min_lr: the rate is never reduced below this.

    Adds the current `learning_rate` to the epoch's logs (History records it), as Keras 3.

    Example:
        >>> reduce_lr = ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5, min_lr=0.001)
    """

    resumable_state = ("best", "wait", "cooldown_counter")

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}")
        self.factor = factor
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.min_lr = min_lr
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def in_cooldown(self):
        """Whether the last reduction is less than `cooldown` epochs ago."""
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        logs = {} if logs is None else logs
        logs["learning_rate"] = _get_learning_rate(self.model.optimizer)
        current = self._monitor_value(logs, "Learning rate reduction")
        if current is None:
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce(epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def _reduce(self, epoch):
        old_lr = _get_learning_rate(self.model.optimizer)
        # Compared in float32, as Keras: a rate stored as float32 min_lr counts as reached
        if old_lr <= np.float32(self.min_lr):
            return False
        new_lr = max(old_lr * self.factor, self.min_lr)
        _set_learning_rate(self.model.optimizer, new_lr)
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
        return True


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of each epoch to `schedule(epoch, lr)`.

    Args:
        schedule: a function `(epoch, lr) -> new lr` (epoch 0-based, lr the current rate as a float);
            a function of `epoch` alone is accepted too, as in Keras.
        verbose: 1 prints the rate set at each epoch.

    Adds the current `learning_rate` to the epoch's logs (History records it), as Keras 3.

    Example:
        >>> def schedule(epoch, lr):
        ...     return lr if epoch < 10 else lr * 0.9
        >>> scheduler = LearningRateScheduler(schedule)
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"Expected schedule to be a function (epoch, lr) -> lr, got {schedule!r}.")
        self.schedule = schedule
        self.verbose = verbose
        self._takes_lr = _accepts_two_arguments(schedule)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if self._takes_lr:
            learning_rate = self.schedule(epoch, _get_learning_rate(optimizer))
        else:
            learning_rate = self.schedule(epoch)
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real):
            try:  # 0-d tensors and arrays
                learning_rate = float(learning_rate)
            except (TypeError, ValueError, RuntimeError):
                raise ValueError(
                    f"The output of the `schedule` function should be a float. Got: {learning_rate!r}"
                ) from None
        learning_rate = float(learning_rate)
        _set_learning_rate(optimizer, learning_rate)
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {learning_rate}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _get_learning_rate(self.model.optimizer)


def _accepts_two_arguments(function):
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: assume the current API
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in parameters)


# --------------------------------------------------------------------------------------- the others
class CSVLogger(Callback):
    """Writes the epoch-level logs to a CSV file, one row per epoch, on disk as soon as the epoch ends.

    Each epoch rewrites the whole file atomically (a new file renamed over the old one), so a
    process killed at any moment leaves the file as it was after some epoch, never a torn row.

    The header is "epoch" then the sorted log keys of the first epoch; when the first epoch has no
    `val_*` keys, `val_` columns are added for every key (filled with "NA" until validation runs,
    e.g. with a validation frequency), as Keras. Epochs are 0-based.

    Args:
        filename: the CSV file.
        separator: the field separator.
        append: append to an existing file (no second header when it is not empty) instead of
            overwriting it: for resumed training.

    Example:
        >>> csv_logger = CSVLogger("training.csv")
    """

    main_process_only = True

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys = None
        self.writer = None
        self._content = None

    def on_train_begin(self, logs=None):
        # The file's content so far is kept in memory, to be written whole after each epoch
        self._content = io.StringIO()
        if self.append and os.path.exists(self.filename):
            with open(self.filename, encoding="utf-8", newline="") as existing:
                self._content.write(existing.read())
        self.keys = None
        self.writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = _python_logs(logs)
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys += [f"val_{key}" for key in self.keys]
        if self.writer is None:
            self.writer = csv.DictWriter(self._content, fieldnames=["epoch"] + self.keys, delimiter=self.sep,
                                         lineterminator="\n")
            if not self._content.tell():
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, _csv_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        write_text_atomically(self.filename, self._content.getvalue())

    def on_train_end(self, logs=None):
        self.writer = None
        self._content = None


def _csv_value(value):
    if isinstance(value, str) or np.ndim(value) == 0:
        return value
    return f"[{', '.join(map(str, np.ravel(value)))}]"


class TerminateOnNaN(Callback):
    """Stops training as soon as a training batch's loss is NaN or infinite, naming the epoch and batch.

    Args:
        raise_error: if False (default) sets `model.stop_training` so that training ends after the
            current epoch's bookkeeping and `on_train_end` runs; if True raises RuntimeError at once.

    Checking reads the batch loss on the host, so with this callback each batch waits for the
    device; without it, nothing does.
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if math.isnan(loss) or math.isinf(loss):
            # 1-based, as the progress bar counts
            where = f"epoch {self._epoch + 1}, batch {batch + 1}"
            if self.raise_error:
                raise RuntimeError(
                    f"NaN or Inf loss encountered in {where}. Loss value: {loss}. Terminating training "
                    "immediately."
                )
            _print(f"Invalid loss {loss} in {where}, terminating training: lower the learning rate, clip "
                   "gradients (clipnorm) or check the data. ModelCheckpoint and BackupAndRestore keep their "
                   "last good save.")
            self.model.stop_training = True


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

    POINTER = "training.json"
    # The names of the files this callback writes, and of their temporary files while being written
    _BACKUP_NAME = re.compile(r"\.?(training\.json|epoch_\d{6}\.(rnnkit|callbacks\.safetensors))(\.\d+-[0-9a-f]{16}\.tmp)?")

    def __init__(self, backup_dir, delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore needs a backup_dir.")
        self.backup_dir = os.fspath(backup_dir)
        self.delete_checkpoint = delete_checkpoint
        self.siblings = []  # the fit's other callbacks, set by CallbackList
        self._backed_up_epoch = None
        self._diverged = False
        self._created_dir = False

    def _pointer_path(self):
        return os.path.join(self.backup_dir, self.POINTER)

    def on_train_begin(self, logs=None):
        self._backed_up_epoch = None
        self._diverged = False
        distributed.barrier()  # under torchrun: the first process's writes are done before all read
        # A folder holding nothing but files named as this callback names them (an earlier run's backup,
        # and what a run killed mid-write left) was made by this callback, in that run
        self._created_dir = (os.path.isdir(self.backup_dir) and os.path.exists(self._pointer_path())
                             and all(self._BACKUP_NAME.fullmatch(name) for name in os.listdir(self.backup_dir)))
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

    def on_epoch_end(self, epoch, logs=None):
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
        prefix = f"epoch_{epoch:06d}."
        name = prefix + "rnnkit"
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

    def _stale_files(self, earlier=()):
        """What may go now: the files of the previous backup record (`earlier`) that the current one
        does not name, and in a folder this callback made, every other file named as it names its
        files (left by a run killed mid-write). A user's own files in the folder stay."""
        current = self._backup_files()
        stale = set(earlier) - current
        if self._created_dir:
            stale |= {name for name in os.listdir(self.backup_dir)
                      if self._BACKUP_NAME.fullmatch(name) and name not in current}
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

    def on_train_end(self, logs=None):
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


class LambdaCallback(Callback):
    """A callback made of functions given as arguments, for quick one-off hooks.

    Args:
        on_epoch_begin, on_epoch_end: functions `(epoch, logs)`.
        on_train_begin, on_train_end: functions `(logs)`.
        on_train_batch_begin, on_train_batch_end: functions `(batch, logs)`.
        **other_hooks: any other hook by name (e.g. `on_test_end=lambda logs: ...`).

    Example:
        >>> losses = []
        >>> record = LambdaCallback(on_epoch_end=lambda epoch, logs: losses.append(logs["loss"]))
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **other_hooks):
        super().__init__()
        unknown = sorted(set(other_hooks) - set(HOOKS) - {"on_batch_begin", "on_batch_end"})
        if unknown:
            raise TypeError(f"LambdaCallback got unknown hooks {unknown}; expected some of: {', '.join(HOOKS)}.")
        hooks = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end, "on_train_begin": on_train_begin,
                 "on_train_end": on_train_end, "on_train_batch_begin": on_train_batch_begin,
                 "on_train_batch_end": on_train_batch_end, **other_hooks}
        for name, function in hooks.items():
            if function is not None:
                setattr(self, name, function)


def __getattr__(name):
    # ProgbarLogger lives in progress.py, which imports Callback from here
    if name == "ProgbarLogger":
        from .progress import ProgbarLogger
        return ProgbarLogger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
