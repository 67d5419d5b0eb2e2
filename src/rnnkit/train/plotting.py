"""Learning curves of a training run as a PNG."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..files import write_atomically

if TYPE_CHECKING:
    from .callbacks.logging import History


def plot_history(
    history: History | Mapping[str, Sequence[float]], path: str | os.PathLike, title: str | None = None
) -> str | os.PathLike:
    """Writes a PNG of the learning curves in `history` (a `History` or its `.history` dict): one
    panel per quantity (loss, each metric, gradient norms), training and validation curves side by
    side. The file is written atomically, so an existing plot is replaced whole.

    Example:
        >>> history = model.fit(x, y, validation_split=0.2, epochs=10)
        >>> rnnkit.plot_history(history, "curves.png")
    """
    plt = pyplot()
    curves = getattr(history, "history", history)
    if not curves:
        raise ValueError("plot_history got an empty history: train for at least one epoch first.")
    names = [k for k in curves if not k.startswith("val_")]
    names += [k[4:] for k in curves if k.startswith("val_") and k[4:] not in names]
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        for key, label in ((name, "training"), ("val_" + name, "validation")):
            if key in curves:
                values = curves[key]
                ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def pyplot() -> ModuleType:
    """`matplotlib.pyplot` on the Agg backend, which draws to files and needs no display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | os.PathLike) -> str | os.PathLike:
    """Writes the matplotlib figure `fig` to `path` as a PNG, atomically, and closes it; returns `path`."""
    try:
        write_atomically(path, lambda file: fig.savefig(file, format="png", dpi=100))
    finally:
        pyplot().close(fig)
    return path
