"""What the callbacks that watch one logged quantity for improvement share."""
from __future__ import annotations

import warnings

from .base import Callback

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

    def __init__(
        self, monitor: str, mode: str, min_delta: float = 0, baseline: float | None = None, needs_direction: bool = True
    ) -> None:
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
