"""Small user-facing utilities."""
from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from .checks import check_scalar
from .data.text import pad_sequences  # noqa: F401  (keras.utils.pad_sequences)
from .files import write_text_atomically

if TYPE_CHECKING:
    import numpy.typing as npt
    from .models.model import Model


def set_random_seed(seed: int) -> None:
    """Seeds Python's, NumPy's and PyTorch's generators, so that two runs with the same seed build
    the same weights, draw the same dropout masks and shuffle the same way (as Keras's
    `keras.utils.set_random_seed`)."""
    seed = check_scalar(seed, "seed", int, min_val=0, max_val=2**32 - 1)  # NumPy's range
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def to_categorical(x: npt.ArrayLike, num_classes: int | None = None) -> np.ndarray:
    """Class ids -> one-hot float64 rows (Keras's dtype), as Keras's `to_categorical`: the result has shape
    `x.shape + (num_classes,)`, except that a trailing axis of size 1 is replaced (labels of shape
    (n, 1) give (n, num_classes)). `num_classes` defaults to max(x) + 1."""
    x = np.asarray(x)
    if x.dtype.kind not in "iub" and not (x.dtype.kind == "f" and np.all(np.mod(x, 1) == 0)):
        raise ValueError(f"to_categorical expects integer class ids, got dtype {x.dtype}.")
    x = x.astype("int64")
    if x.ndim > 1 and x.shape[-1] == 1:
        x = x.reshape(x.shape[:-1])
    if num_classes is None:
        num_classes = int(x.max()) + 1 if x.size else 0
    if x.size and (x.min() < 0 or x.max() >= num_classes):
        raise ValueError(f"to_categorical: class ids must be in [0, {num_classes}), got {x.min()}..{x.max()}.")
    return np.eye(num_classes)[x]


def model_to_dot_source(
    model: Model, show_shapes: bool = False, show_layer_names: bool = True, rankdir: str = "TB"
) -> str:
    """The Graphviz DOT text of a model's layer graph: one box per layer, an arrow per connection
    (from the functional graph, or the layer order of a Sequential model)."""
    rows, _ = model.summary_rows()  # (layer, output shape text, connections), in order
    names = [layer.name for layer, _, _ in rows]
    config = model.get_config() if hasattr(model, "get_config") else {}
    edges = []
    if config.get("layers") and "inbound_nodes" in config["layers"][-1]:
        for spec in config["layers"]:
            for source in sorted(_history_names(spec.get("inbound_nodes", []))):
                edges.append((source, spec["name"]))
    else:
        edges = list(zip(names, names[1:]))
    lines = [f'digraph "{model.name}" {{', f"  rankdir={rankdir};", "  node [shape=record];"]
    for layer, shape, _ in rows:
        label = f"{layer.name}|{type(layer).__name__}" if show_layer_names else type(layer).__name__
        if show_shapes:
            label += f"|{_dot_escape(shape)}"
        lines.append(f'  "{layer.name}" [label="{{{label}}}"];')
    lines += [f'  "{a}" -> "{b}";' for a, b in edges]
    return "\n".join(lines + ["}"]) + "\n"


def _dot_escape(text):
    # Braces, bars and angle brackets structure a Graphviz record label.
    return "".join("\\" + c if c in "{}|<>\"" else c for c in str(text))


def _history_names(value):
    """Names of the layers whose outputs a serialized call argument refers to."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            return {value["config"]["keras_history"][0]}
        return set().union(*(_history_names(v) for v in value.values())) if value else set()
    if isinstance(value, (list, tuple)):
        return set().union(*(_history_names(v) for v in value)) if value else set()
    return set()


def plot_model(model: Model, to_file: str | os.PathLike = "model.png", show_shapes: bool = False,
               show_layer_names: bool = True, rankdir: str = "TB", dpi: int = 200, **kwargs) -> Path:
    """Draws the model's layer graph to `to_file` (as Keras's `plot_model`): `.dot` files are
    written directly; other formats (png, svg, pdf) are rendered by Graphviz's `dot` program, and
    without it this raises ImportError saying to install Graphviz."""
    unknown = set(kwargs) - {"show_dtype", "expand_nested", "show_layer_activations", "show_trainable"}
    if unknown:
        raise TypeError(f"plot_model: unexpected keyword argument(s): {', '.join(sorted(unknown))}.")
    source = model_to_dot_source(model, show_shapes, show_layer_names, rankdir)
    path = Path(to_file)
    fmt = path.suffix.lstrip(".").lower() or "png"
    if fmt == "dot":
        write_text_atomically(path, source)
        return path
    dot = shutil.which("dot")
    if dot is None:
        raise ImportError(
            f"plot_model needs Graphviz's `dot` program to draw a .{fmt} file; install Graphviz "
            "(e.g. `apt install graphviz`) or write a .dot file."
        )
    subprocess.run([dot, f"-T{fmt}", f"-Gdpi={dpi}", "-o", str(path)], input=source.encode(), check=True)
    return path
