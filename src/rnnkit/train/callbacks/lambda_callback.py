"""`LambdaCallback`: a callback made of functions."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import HOOKS, Callback


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

    def __init__(
        self, on_epoch_begin: Callable[..., Any] | None = None, on_epoch_end: Callable[..., Any] | None = None,
        on_train_begin: Callable[..., Any] | None = None, on_train_end: Callable[..., Any] | None = None,
        on_train_batch_begin: Callable[..., Any] | None = None, on_train_batch_end: Callable[..., Any] | None = None,
        **other_hooks,
    ) -> None:
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
