"""`CallbackList`: what the fit loop talks to."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import distributed
from ..progress import ProgbarLogger
from .base import Callback, _python_logs
from .logging import History

if TYPE_CHECKING:
    from ...models.model import Model


class CallbackList(Callback):
    """Calls each hook on every callback, in order: what the fit loop talks to.

    Args:
        callbacks: a list of `Callback`s (or one, or None).
        model: the model, passed to every callback's `set_model` (and given `model.history`).
        add_history: append a `History` unless the list has one (then exposed as `.history`).
        add_progbar: append a `ProgbarLogger` (last) unless the list has one.
        verbose, epochs, steps: the `params` every callback receives (steps per epoch, None if unknown).

    As in Keras 3 the order is: the given callbacks, then History, then the progress bar, so History
    records what callbacks add to the logs and the epoch's line shows it; a callback with `runs_last`
    comes after all of them. Every callback's `set_siblings` receives the others.

    Example:
        >>> history_list = CallbackList([], add_history=True, epochs=1, steps=1)
        >>> history_list.on_train_begin()
        >>> history_list.on_epoch_begin(0)
        >>> history_list.on_epoch_end(0, {"loss": 0.5})
        >>> history_list.history.history
        {'loss': [0.5]}
    """

    def __init__(
        self, callbacks: Sequence[Callback] | None = None, model: Model | None = None, add_history: bool = False,
        add_progbar: bool = False, verbose: int = 1, epochs: int | None = None, steps: int | None = None,
    ) -> None:
        super().__init__()
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
            self.callbacks = [c for c in self.callbacks if not c.main_process_only]
            add_progbar = False
        self.history = next((c for c in self.callbacks if isinstance(c, History)), None)
        if self.history is None and add_history:
            self.history = History()
            self.callbacks.append(self.history)
        if add_progbar and not any(isinstance(c, ProgbarLogger) for c in self.callbacks):
            self.callbacks.append(ProgbarLogger(verbose))
        self.callbacks.sort(key=lambda c: c.runs_last)  # a stable sort: the others keep their order
        for callback in self.callbacks:
            callback.set_siblings([c for c in self.callbacks if c is not callback])
        self.set_params({"verbose": verbose, "epochs": epochs, "steps": steps})
        if model is not None:
            self.set_model(model)
        # The training-batch hooks some callback has its own of (Callback's ignore the call): the others
        # are not dispatched at every batch, and fit computes a batch's logs (every metric's result,
        # ~5 us a batch each) only when some callback reads them.
        self._batch_hooks = {
            hook for hook, older in (("on_train_batch_begin", "on_batch_begin"), ("on_train_batch_end", "on_batch_end"))
            if any(_overrides(c, hook) or _overrides(c, older) for c in self.callbacks)
        }
        self.reads_train_batch_logs = "on_train_batch_end" in self._batch_hooks

    def set_model(self, model: Model) -> None:
        """Gives `model` to every callback; with a History, also sets `model.history` (as Keras)."""
        super().set_model(model)
        if self.history is not None:
            model.history = self.history
        for callback in self.callbacks:
            callback.set_model(model)

    def set_params(self, params: dict[str, Any]) -> None:
        """Gives `params` to every callback."""
        super().set_params(params)
        for callback in self.callbacks:
            callback.set_params(params)

    def _dispatch(self, hook, *args):
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._dispatch("on_train_begin", _python_logs(logs))

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._dispatch("on_train_end", _python_logs(logs))

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._dispatch("on_epoch_begin", epoch, _python_logs(logs))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._dispatch("on_epoch_end", epoch, _python_logs(logs))

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if "on_train_batch_begin" in self._batch_hooks:
            self._dispatch("on_train_batch_begin", batch, {} if logs is None else logs)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if "on_train_batch_end" in self._batch_hooks:
            self._dispatch("on_train_batch_end", batch, {} if logs is None else logs)

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._dispatch("on_test_begin", _python_logs(logs))

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        self._dispatch("on_test_end", _python_logs(logs))

    def on_test_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._dispatch("on_test_batch_begin", batch, {} if logs is None else logs)

    def on_test_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._dispatch("on_test_batch_end", batch, {} if logs is None else logs)

    def on_predict_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._dispatch("on_predict_begin", _python_logs(logs))

    def on_predict_end(self, logs: dict[str, Any] | None = None) -> None:
        self._dispatch("on_predict_end", _python_logs(logs))

    def on_predict_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._dispatch("on_predict_batch_begin", batch, {} if logs is None else logs)

    def on_predict_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._dispatch("on_predict_batch_end", batch, {} if logs is None else logs)


def _overrides(callback: Callback, hook: str) -> bool:
    """Whether `callback` has a `hook` of its own rather than `Callback`'s (whose batch hooks do nothing
    but call the older name's, itself empty)."""
    return getattr(getattr(callback, hook), "__func__", None) is not getattr(Callback, hook)
