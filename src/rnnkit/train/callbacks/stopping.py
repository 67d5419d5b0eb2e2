"""Callbacks that end training: `EarlyStopping` (no more improvement) and `TerminateOnNaN` (divergence)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import Callback, _print
from .monitor import _MonitorCallback


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

    def __init__(
        self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0, verbose: int = 0, mode: str = "auto",
        baseline: float | None = None, restore_best_weights: bool = False, start_from_epoch: int = 0,
    ) -> None:
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

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        # The instance may be reused across fit calls
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def _copy_weights(self):
        # get_weights() may return views of live tensors: keep copies of the best ones
        return [np.array(weight, copy=True) for weight in self.model.get_weights()]

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
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

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            _print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class TerminateOnNaN(Callback):
    """Stops training as soon as a training batch's loss is NaN or infinite, naming the epoch and batch.

    Args:
        raise_error: if False (default) sets `model.stop_training` so that training ends after the
            current epoch's bookkeeping and `on_train_end` runs; if True raises RuntimeError at once.

    Checking reads the batch loss on the host, so with this callback each batch waits for the
    device; without it, nothing does.
    """

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        self.raise_error = raise_error
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch

    def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
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
