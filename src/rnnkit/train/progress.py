"""Progress display for fit/evaluate/predict, as Keras 3 prints it.

    verbose=1   Epoch 1/10
                32/32 ━━━━━━━━━━━━━━━━━━━━ 1s 12ms/step - loss: 0.1234 - accuracy: 0.9500
                (one line per epoch, redrawn in place with carriage returns, ETA while running)
    verbose=2   32/32 - 1s - 12ms/step - loss: 0.1234 - val_loss: 0.2345   (one line per epoch)
    verbose=0   nothing
    "auto"      1 when stdout is a terminal, 2 otherwise

The bar shows the values it is given as they are: the loop passes each metric's running mean over
the epoch, as Keras's does. Redraws are throttled to one per `interval` seconds (plus the last one of
the epoch), and a skipped update costs one clock read: batch logs may hold 0-d tensors, which are
converted to floats only when a line is drawn, so training does not wait on the device every batch.
"""
from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .callbacks.base import Callback

__all__ = ["ProgressBar", "ProgbarLogger", "resolve_verbose"]

# The clock for throttling and timings (a module attribute so that tests can drive time)
_clock = time.monotonic


def resolve_verbose(verbose: int | str | None) -> int:
    """Returns the verbosity `fit` runs with: 0, 1 or 2.

    Args:
        verbose: 0 (silent), 1 (live bar), 2 (one line per epoch) or "auto": 1 when `sys.stdout` is
            a terminal, else 2 (log files and notebooks get one line per epoch, not a stream of redraws).

    Raises:
        ValueError: for any other value.
    """
    if isinstance(verbose, str):
        if verbose == "auto":
            isatty = getattr(sys.stdout, "isatty", None)
            return 1 if isatty is not None and isatty() else 2
    elif verbose in (0, 1, 2):
        return int(verbose)
    raise ValueError(f"Expected verbose to be 0, 1, 2 or 'auto', got verbose={verbose!r}.")


def _format_value(value):
    """A metric as Keras shows it: 4 decimals, or scientific notation for magnitudes up to 1e-3."""
    try:
        value = float(value)
    except (TypeError, ValueError, RuntimeError):  # non-scalar values are shown as they are
        return str(value)
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def _format_time_per_unit(seconds, unit_name):
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit_name}"
    return f"{seconds * 1e6:.0f}us/{unit_name}"


def _format_eta(seconds):
    if seconds > 3600:
        return "%d:%02d:%02d" % (seconds // 3600, (seconds % 3600) // 60, seconds % 60)
    if seconds > 60:
        return "%d:%02d" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


class ProgressBar:
    """One progress display (an epoch, an evaluation, a prediction) written to `sys.stdout`.

    Args:
        target: total number of steps, or None when unknown (the count is shown as "n/Unknown").
        verbose: 1 draws a live bar, redrawn in place; 2 writes one line when finalized; 0 nothing.
        width: number of characters of the bar.
        interval: minimum number of seconds between two redraws (verbose=1); the final update
            always draws.
        unit_name: what a step is called in the time per step ("step" gives "12ms/step").

    The bar is colored (as Keras's) only when stdout is a terminal; otherwise the remaining part is
    drawn with a lighter line so that progress stays visible without colors.

    Example:
        bar = ProgressBar(target=3, verbose=2)
        for step in range(1, 4):
            bar.update(step, {"loss": 1.0 / step})   # prints "3/3 - 0s - 5us/step - loss: 0.3333"
    """

    def __init__(
        self, target: int | None, verbose: int = 1, width: int = 20, interval: float = 0.1, unit_name: str = "step"
    ) -> None:
        self.target = target
        self.verbose = verbose
        self.width = width
        self.interval = interval
        self.unit_name = unit_name
        self.redraws = 0
        self._start = _clock()
        self._last_draw = -math.inf
        self._time_after_first_step = None
        self._previous_width = 0

    def update(
        self, current: int, values: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        finalize: bool | None = None,
    ) -> None:
        """Reports that `current` steps are done; draws if `interval` has passed or when finalizing.

        Args:
            current: number of steps done (1 after the first).
            values: dict (or list of pairs) name -> value to show as is: floats or 0-d tensors.
            finalize: whether this is the last update; defaults to `current >= target`.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        if self.verbose == 1:
            now = _clock()
            if now - self._last_draw < self.interval and not finalize:
                return
            self._draw_bar(current, values, now, finalize)
            self._last_draw = now
        elif self.verbose == 2 and finalize:
            self._draw_line(current, values, _clock())

    def _time_per_step(self, current, now):
        # The first step (graph warm-up, allocations) is left out of the average once there are others
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            return (now - self._time_after_first_step) / (current - 1)
        if current == 1:
            self._time_after_first_step = now
        return (now - self._start) / current

    def _metrics_text(self, values):
        items = values.items() if isinstance(values, dict) else (values or ())
        return "".join(f" - {name}: {_format_value(value)}" for name, value in items)

    def _draw_bar(self, current, values, now, finalize):
        stream = sys.stdout
        color = bool(getattr(stream, "isatty", None) and stream.isatty())
        time_per_step = self._time_per_step(current, now)
        if self.target:
            count = f"{current:{len(str(self.target))}d}/{self.target}"
            done = min(int(self.width * current / self.target), self.width)
            if color:
                bar = (f"\x1b[1m{count}\x1b[0m \x1b[32m{'━' * done}\x1b[0m"
                       f"\x1b[37m{'━' * (self.width - done)}\x1b[0m")
            else:
                bar = f"{count} {'━' * done}{'─' * (self.width - done)}"
            visible = len(count) + 1 + self.width
        else:
            bar = f"{current:7d}/Unknown"
            visible = len(bar)
        if self.target and not finalize:
            clock_text = _format_eta(time_per_step * (self.target - current))
        else:
            clock_text = f"{now - self._start:.0f}s"
        step_text = _format_time_per_unit(time_per_step, self.unit_name)
        info = f" \x1b[1m{clock_text}\x1b[0m {step_text}" if color else f" {clock_text} {step_text}"
        metrics = self._metrics_text(values)
        visible += 2 + len(clock_text) + len(step_text) + len(metrics)
        padding = " " * max(self._previous_width - visible, 0)
        self._previous_width = visible
        stream.write("\r" + bar + info + metrics + padding + ("\n" if finalize else ""))
        stream.flush()
        self.redraws += 1

    def _draw_line(self, current, values, now):
        count = f"{current:{len(str(self.target))}d}/{self.target}" if self.target else f"{current}/Unknown"
        line = (f"{count} - {now - self._start:.0f}s - "
                f"{_format_time_per_unit(self._time_per_step(current, now), self.unit_name)}"
                f"{self._metrics_text(values)}\n")
        sys.stdout.write(line)
        sys.stdout.flush()
        self.redraws += 1


class ProgbarLogger(Callback):
    """The callback that shows training progress: an "Epoch i/n" line, then a `ProgressBar` per epoch.

    Inside `fit`, validation is silent (its metrics appear on the epoch's final line as `val_*`);
    `evaluate` and `predict` outside `fit` get a bar of their own.

    Args:
        verbose: 0, 1, 2 or "auto" (see `resolve_verbose`); None takes `params["verbose"]` (fit's).
        interval: minimum seconds between redraws of the live bar.

    Reads `params["epochs"]` and `params["steps"]` (steps per epoch; None when unknown, in which
    case the first epoch's count becomes the target of the next ones).
    """

    main_process_only = True  # under torchrun the first process shows progress for all

    def __init__(self, verbose: int | str | None = None, interval: float = 0.1) -> None:
        super().__init__()
        self.verbose = None if verbose is None else resolve_verbose(verbose)
        self._requested_verbose = verbose
        self.interval = interval
        self.epochs = None
        self.target = None
        self.seen = 0
        self.progbar = None
        self._called_in_fit = False

    def set_params(self, params: dict[str, Any]) -> None:
        """Takes epochs, steps and (when not given to the constructor) verbose from `params`."""
        super().set_params(params)
        params = params or {}
        if self._requested_verbose is None:
            self.verbose = resolve_verbose(params.get("verbose", "auto"))
        self.epochs = params.get("epochs")
        self.target = params.get("steps")

    def _new_bar(self):
        self.seen = 0
        self.progbar = ProgressBar(self.target, verbose=self.verbose or 0, interval=self.interval)

    def _update(self, batch, logs):
        if self.progbar is None:
            self._new_bar()
        self.seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(self.seen, logs, finalize=False)

    def _finalize(self, logs):
        if self.progbar is None:
            self._new_bar()
        if self.target is None:
            self.target = self.seen
            self.progbar.target = self.seen
        self.progbar.update(self.target, logs, finalize=True)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._called_in_fit = True

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._called_in_fit = False

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._new_bar()
        if self.verbose and self.epochs is not None and self.epochs > 1:
            sys.stdout.write(f"Epoch {epoch + 1}/{self.epochs}\n")
            sys.stdout.flush()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._update(batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._finalize(logs)

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        if not self._called_in_fit:
            self._new_bar()

    def on_test_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        if not self._called_in_fit:
            self._finalize(logs)

    def on_predict_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._new_bar()

    def on_predict_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._update(batch, None)  # predictions are not metrics

    def on_predict_end(self, logs: dict[str, Any] | None = None) -> None:
        self._finalize(None)
