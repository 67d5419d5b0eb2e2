"""`Sequential`: a plain stack of layers, each feeding the next."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..layers.base import Layer
from ..layers.plan import model_fold
from ..layers.serialization import deserialize_layer, register_serializable, serialize_layer
from .functional import _register
from .model import Model, with_mask
from .symbolic import Input, InputLayer, KerasTensor, format_shape, takes_token_ids


@register_serializable
class Sequential(Model):
    """A linear stack of layers.

    The input shape can be given by an `Input(...)` as the first entry, by `input_shape=` on the
    first layer (Keras style, `LSTM(50, input_shape=(60, 1))`), by `build((batch, ...))`, or by
    the first call on data. Once it is known the model is built: every layer's weights exist and
    `summary()` shows each layer's output shape.

    Args:
        layers: optional list of layers (an `Input` may come first).
        name: optional name (default `sequential`, `sequential_1`, ...).

    Call arguments:
        inputs: a tensor (numpy arrays are converted).
        training: passed to every layer that takes it (dropout); None leaves each layer's default.
        mask: optional mask for the input.

    Example:
        >>> model = Sequential([Input(shape=(None,)), Embedding(66, 256), GRU(1024), Dense(66)])
        >>> model.count_params()
        4022850
    """

    # Its call is its layers applied in order (train.fast_step.WholeStep relies on it; a subclass
    # that overrides call() does not inherit the promise, as it is read from this class's own dict).
    calls_layers_in_order = True

    def __init__(
        self, layers: Sequence[Layer | KerasTensor] | None = None, name: str | None = None, trainable: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self._layers = []
        self._input = None  # the symbolic input, once the input shape is known
        self._symbolic_outputs = []  # each layer's symbolic output, when built
        for layer in layers or []:
            self.add(layer)
        if not trainable:
            self.trainable = False  # freezes the layers too

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    @property
    def inputs(self) -> list[KerasTensor] | None:
        return [self._input] if self._input is not None else None

    @property
    def outputs(self) -> list[KerasTensor] | None:
        return [self._symbolic_outputs[-1]] if self._symbolic_outputs else None

    @property
    def input_shape(self) -> tuple[int | None, ...] | None:
        return self._input.shape if self._input is not None else None

    @property
    def output_shape(self) -> tuple[int | None, ...] | None:
        return self._symbolic_outputs[-1].shape if self._symbolic_outputs else None

    def token_id_inputs(self) -> list[bool]:
        return [bool(self._layers) and takes_token_ids(self._layers[0])]

    def add(self, layer: Layer | KerasTensor) -> None:
        """Appends a layer (or, first, an `Input`). With the input shape known, the layer is built
        at once."""
        if isinstance(layer, InputLayer):
            layer = layer.output
        if isinstance(layer, KerasTensor):
            if not layer.node.is_input:
                raise ValueError(
                    f"Sequential '{self.name}': only an rnnkit.Input(...) tensor can be added, not the output "
                    f"of layer '{layer.node.layer.name}'."
                )
            if self._layers or self._input is not None:
                raise ValueError(f"Sequential '{self.name}': an Input can only come first.")
            self._input = layer
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential '{self.name}': expected an rnnkit Layer, got {type(layer).__name__}.")
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(
                f"Sequential '{self.name}' already has a layer named '{layer.name}'; layer names must be unique."
            )
        if not self._layers and self._input is None and layer.input_shape_arg is not None:
            self._input = Input(shape=layer.input_shape_arg)
        _register(self, layer)
        self._layers.append(layer)
        if self._input is not None:
            try:
                self._call_symbolically(layer)
            except Exception:
                self._layers.pop()
                del self._modules[layer.name]
                raise

    def pop(self) -> Layer:
        """Removes and returns the last layer."""
        if not self._layers:
            raise ValueError(f"Sequential '{self.name}' has no layers to pop.")
        layer = self._layers.pop()
        del self._modules[layer.name]
        del self._symbolic_outputs[len(self._layers):]
        return layer

    def build(self, input_shape: tuple[int | None, ...] | None = None) -> None:
        """Builds every layer for inputs of `input_shape`, batch dimension first (None where unknown)."""
        if self._input is None:
            if input_shape is None:
                raise ValueError(
                    f"Sequential '{self.name}' needs an input shape: start it with rnnkit.Input(...), pass "
                    "input_shape= to the first layer, or call build((batch, ...))."
                )
            self._input = Input(batch_shape=tuple(input_shape))
        self._build_graph()

    def build_for_symbolic_input(self, x: Any) -> None:
        """Called on a symbolic first call: an unbuilt model takes that input's shape and dtype."""
        if self._input is None and isinstance(x, KerasTensor):
            self._input = Input(batch_shape=x.shape, dtype=x.dtype)
            self._build_graph()

    def _build_graph(self):
        self._symbolic_outputs = []
        for layer in self._layers:
            self._call_symbolically(layer)
        self.built = True

    def _call_symbolically(self, layer):
        x = self._symbolic_outputs[-1] if self._symbolic_outputs else self._input
        y = layer(x)
        if not isinstance(y, KerasTensor):
            raise ValueError(
                f"Sequential '{self.name}': every layer must return one tensor, but layer '{layer.name}' returns "
                f"{len(y) if isinstance(y, (list, tuple)) else type(y).__name__} (e.g. return_state=True); use a "
                "functional Model for layers with several outputs."
            )
        self._symbolic_outputs.append(y)
        self.built = True

    def call(
        self, inputs: torch.Tensor, training: bool | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        if not self._layers:
            raise ValueError(f"Sequential '{self.name}' has no layers: add() some before calling it.")
        if not isinstance(inputs, (torch.Tensor, np.ndarray)):  # NumPy: strings, for a TextVectorization
            raise ValueError(
                f"Sequential '{self.name}' takes one tensor, got {type(inputs).__name__}; use a functional "
                "Model for several inputs."
            )
        if self._input is not None and inputs.ndim != self._input.ndim:
            raise ValueError(
                f"Sequential '{self.name}' expects input of shape {format_shape(self._input.shape)}, "
                f"got {tuple(inputs.shape)}."
            )
        x = with_mask(inputs, mask)
        fold = None  # an Embedding's lookup, handed to the recurrent layer right after it
        for layer, following in zip(self._layers, self._layers[1:] + [None]):
            kwargs = {} if fold is None else {"_fold": fold}
            if training is not None and "training" in layer._call_takes:
                kwargs["training"] = training
            y = layer(x, **kwargs)
            fold = model_fold(layer, x, y, following)
            x = y
        if len(self._symbolic_outputs) < len(self._layers):
            # Built by this first call (weights made on the data's device); the graph gives summary() its shapes.
            if self._input is None:
                self._input = Input(shape=tuple(inputs.shape[1:]), dtype=inputs.dtype)
            self._build_graph()
        return x

    # ------------------------------------------------------------------------------------ summary
    def summary_rows(self) -> tuple[list[tuple[Layer, str, str | None]], bool]:
        shapes = [format_shape(y.shape) for y in self._symbolic_outputs]
        shapes += ["?"] * (len(self._layers) - len(shapes))
        return [(layer, shape, None) for layer, shape in zip(self._layers, shapes)], False

    # ------------------------------------------------------------------------------------- config
    def get_config(self) -> dict[str, Any]:
        layers = [serialize_layer(layer) for layer in self._layers]
        config = {"name": self.name, "trainable": self.trainable, "dtype": self._dtype}
        if self._input is not None:
            layers.insert(0, serialize_layer(self._input.node.layer))
            config["build_input_shape"] = list(self._input.shape)
        config["layers"] = layers
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        layers = [deserialize_layer(spec) for spec in config.get("layers", [])]
        model = cls(layers, name=config.get("name"), trainable=config.get("trainable", True), dtype=config.get("dtype"))
        if model._input is None and config.get("build_input_shape") is not None:
            model.build(config["build_input_shape"])
        return model
