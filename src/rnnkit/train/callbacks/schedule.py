"""Callbacks that set the learning rate: `ReduceLROnPlateau` and `LearningRateScheduler`."""
from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from .base import Callback, _print
from .monitor import _MonitorCallback


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

    def __init__(
        self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, verbose: int = 0, mode: str = "auto",
        min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0,
    ) -> None:
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

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def in_cooldown(self) -> bool:
        """Whether the last reduction is less than `cooldown` epochs ago."""
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
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

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"Expected schedule to be a function (epoch, lr) -> lr, got {schedule!r}.")
        self.schedule = schedule
        self.verbose = verbose
        self._takes_lr = _accepts_two_arguments(schedule)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
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

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = _get_learning_rate(self.model.optimizer)


def _accepts_two_arguments(function):
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: assume the current API
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in parameters)
