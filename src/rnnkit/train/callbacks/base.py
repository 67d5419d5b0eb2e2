"""The base of every callback: `Callback`, its hooks, and what the callbacks share."""
from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import distributed

if TYPE_CHECKING:
    from ...models.model import Model

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
        runs_last: True for a callback that must act after all the others at every hook, e.g. to
            save what they made of an epoch (BackupAndRestore): `CallbackList` moves it to the end,
            keeping the order of the others (False by default).

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
    runs_last = False

    def __init__(self) -> None:
        self.model = None
        self.params = None

    def get_state(self) -> dict[str, Any]:
        """The values of `resumable_state`, a dict (JSON values, or lists of NumPy arrays)."""
        return {name: getattr(self, name) for name in self.resumable_state}

    def set_state(self, state: dict[str, Any]) -> None:
        """Takes back what `get_state` returned (the names of `resumable_state` found in `state`)."""
        for name in self.resumable_state:
            if name in state:
                setattr(self, name, state[name])

    def set_model(self, model: Model) -> None:
        """Sets the model the hooks act on (`self.model`)."""
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        """Sets the training parameters (`self.params`)."""
        self.params = params

    def set_siblings(self, callbacks: Sequence[Callback]) -> None:
        """Called by `CallbackList` with the other callbacks of the run, in the order they are called;
        by default does nothing (BackupAndRestore keeps them, to save and restore their states)."""

    def on_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Keras's older name of `on_train_batch_begin`."""

    def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Keras's older name of `on_train_batch_end`."""

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Called once at the start of `fit`."""

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        """Called once at the end of `fit`, also after an early stop; `logs` are the last epoch's."""

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Called at the start of epoch `epoch` (0-based)."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Called at the end of epoch `epoch` with the epoch's metrics, `val_*` included."""

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Called before training batch `batch` (0-based within the epoch)."""
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Called after training batch `batch` with the running means of the epoch so far."""
        self.on_batch_end(batch, logs)

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Called at the start of `evaluate` and of each validation in `fit`."""

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        """Called at the end of `evaluate` and of each validation in `fit`."""

    def on_test_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Called before each evaluation batch."""

    def on_test_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Called after each evaluation batch."""

    def on_predict_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Called at the start of `predict`."""

    def on_predict_end(self, logs: dict[str, Any] | None = None) -> None:
        """Called at the end of `predict`."""

    def on_predict_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Called before each prediction batch."""

    def on_predict_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Called after each prediction batch."""
