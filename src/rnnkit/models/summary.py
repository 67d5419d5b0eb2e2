"""`model.summary()`: Keras 3's table, drawn without dependencies.

    Model: "sequential"
    ┏━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━┓
    ┃ Layer (type)           ┃ Output Shape      ┃   Param # ┃
    ┡━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━┩
    │ gru (GRU)              │ (None, 1024)      │ 3,938,304 │
    └────────────────────────┴───────────────────┴───────────┘
     Total params: 3,938,304 (15.02 MB)
     Trainable params: 3,938,304 (15.02 MB)
     Non-trainable params: 0 (0.00 B)

Sizes are Keras's: bytes of the weights (each counted once) in powers of 1024, two decimals.
"""
from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import Model


def readable_memory_size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def _count_and_size(weights):
    return sum(w.numel() for w in weights), sum(w.numel() * w.element_size() for w in weights)


def _wrap(text, width):
    """Greedy word wrap; a word longer than the column is cut with an ellipsis."""
    lines, line = [], ""
    for word in text.split(" "):
        if len(word) > width:
            word = word[: width - 1] + "…"
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return lines


def _row(cells, widths, aligns, edge="│"):
    wrapped = [_wrap(cell, width) for cell, width in zip(cells, widths)]
    height = max(len(lines) for lines in wrapped)
    out = []
    for i in range(height):
        parts = []
        for lines, width, align in zip(wrapped, widths, aligns):
            text = lines[i] if i < len(lines) else ""
            parts.append(" " + (text.rjust(width) if align == "right" else text.ljust(width)) + " ")
        out.append(edge + edge.join(parts) + edge)
    return out


def _rule(widths, left, fill, middle, right):
    return left + middle.join(fill * (w + 2) for w in widths) + right


def _params_text(layer):
    if not getattr(layer, "built", True):
        return "0 (unbuilt)"
    return f"{layer.count_params():,}"


def summary_text(model: Model, line_length: int | None = None, positions: Sequence[float] | None = None) -> str:
    rows, connected = model.summary_rows()
    if connected:
        default_length, positions = 108, positions or [0.3, 0.56, 0.74, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        aligns = ["left", "left", "right", "left"]
    else:
        default_length, positions = 88, positions or [0.45, 0.80, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #"]
        aligns = ["left", "left", "right"]
    line_length = line_length or min(default_length, shutil.get_terminal_size().columns - 4)
    # Each column is a share of what the borders (one between columns and at each side) and
    # the one-space padding on each side of a cell leave.
    content = line_length - 3 * len(header) - 1
    edges = [int(p * content) for p in positions]
    widths = [right - left for left, right in zip([0] + edges[:-1], edges)]
    if min(widths) < 4:
        raise ValueError(f"line_length={line_length} is too narrow for the summary.")

    lines = [f'Model: "{model.name}"', _rule(widths, "┏", "━", "┳", "┓")]
    lines += _row(header, widths, aligns, edge="┃")
    lines.append(_rule(widths, "┡", "━", "╇", "┩"))
    for i, (layer, shape, connections) in enumerate(rows):
        cells = [f"{layer.name} ({type(layer).__name__})", shape, _params_text(layer)]
        if connected:
            cells.append(connections)
        if i:
            lines.append(_rule(widths, "├", "─", "┼", "┤"))
        lines += _row(cells, widths, aligns)
    lines.append(_rule(widths, "└", "─", "┴", "┘"))
    trainable, trainable_size = _count_and_size(model.trainable_weights)
    frozen, frozen_size = _count_and_size(model.non_trainable_weights)
    lines += [
        f" Total params: {trainable + frozen:,} ({readable_memory_size(trainable_size + frozen_size)})",
        f" Trainable params: {trainable:,} ({readable_memory_size(trainable_size)})",
        f" Non-trainable params: {frozen:,} ({readable_memory_size(frozen_size)})",
    ]
    return "\n".join(lines)


def print_summary(
    model: Model, line_length: int | None = None, positions: Sequence[float] | None = None,
    print_fn: Callable[[str], Any] | None = None,
) -> None:
    text = summary_text(model, line_length=line_length, positions=positions)
    (print_fn or print)(text)
