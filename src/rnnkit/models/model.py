"""`Model`: what every model shares (layers, weights in Keras order, states, summary), and
subclassed models that define their layers in `__init__` and the computation in `call()`.

`Model(inputs, outputs)` returns a functional model (`rnnkit.models.functional.Functional`);
`Sequential` is a model too. Every model is a `torch.nn.Module` whose submodules are its layers,
registered under their names (`state_dict()` keys such as `lstm.cell.kernel`).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..layers.base import Layer, check_not_python_values, is_text, set_mask
from ..layers.bidirectional import Bidirectional
from ..layers.plan import Plan, check_explain_arguments, explain_call
from ..layers.rnn import RNN
from ..engine.nest import flatten, map_structure
from ..storage import storage
from ..train.trainer import TrainingMixin
from .summary import print_summary
from .symbolic import takes_token_ids

if TYPE_CHECKING:
    import numpy.typing as npt


class Model(TrainingMixin, Layer):
    """A model: layers grouped into one callable `torch.nn.Module`.

    Two ways to make one:

    - functional: `Model(inputs, outputs, name=None)`, where `inputs` are `rnnkit.Input(...)`
      tensors (one, or a list) and `outputs` the symbolic tensors (one, or a list) that calling
      layers on them produced;
    - subclassing: define the layers in `__init__` (after `super().__init__()`) and the
      computation in `call(self, inputs, training=False)`.

    Example:
        >>> class Classifier(Model):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.rnn = LSTM(16)
        ...         self.head = Dense(3)
        ...     def call(self, inputs, training=False):
        ...         return self.head(self.rnn(inputs, training=training))
        >>> Classifier()(torch.randn(2, 5, 4)).shape
        torch.Size([2, 3])
    """

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            from .functional import Functional

            return super().__new__(Functional)
        return super().__new__(cls)

    def __init__(self, *args, name: str | None = None, trainable: bool = True, dtype: Any = None, **kwargs) -> None:
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise TypeError(
                f"{type(self).__name__}: a subclass of Model defines its layers in __init__ and its "
                "computation in call(), and takes no inputs/outputs; build a functional model with "
                "rnnkit.Model(inputs, outputs)."
            )
        super().__init__(name=name, trainable=trainable, dtype=dtype, **kwargs)
        self._observed_shapes = {}

    @property
    def assets(self) -> dict[str, Any]:
        """A JSON-serializable dict that travels with the model in its `.rnnkit` file (and in every
        checkpoint): the preprocessing a saved model needs to be used alone, such as a vocabulary,
        label names or scaler statistics. Empty unless set.

        Example:
            >>> model.assets["labels"] = ["negative", "positive"]
            >>> rnnkit.load_model("m.rnnkit").assets["labels"]
            ['negative', 'positive']
        """
        return self.__dict__.setdefault("_assets", {})

    @assets.setter
    def assets(self, value: dict[str, Any]) -> None:
        if not isinstance(value, dict):
            raise ValueError(f"model.assets must be a dict, got {type(value).__name__}.")
        self.__dict__["_assets"] = value

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Model:
        if cls is Model and "input_layers" in config:
            from .functional import Functional

            return Functional.from_config(config)
        return super().from_config(config)

    # ------------------------------------------------------------------------------------ layers
    @property
    def layers(self) -> list[Layer]:
        """The model's layers, in order (for subclassed models: in the order they were assigned)."""
        found = []

        def collect(module):
            for child in module.children():
                if isinstance(child, Layer):
                    found.append(child)
                else:
                    collect(child)  # ModuleList, ModuleDict, torch containers

        collect(self)
        return found

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """The layer called `name`, or at position `index` of `layers`."""
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"Model '{self.name}' has {len(layers)} layers, got index {index}.")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"Model '{self.name}' has no layer named {name!r}; its layers are {[l.name for l in layers]}."
        )

    def token_id_inputs(self) -> list[bool]:
        """For each model input, whether it is integer token ids (it feeds an Embedding). A
        subclassed model is taken to feed its input to its first layer."""
        layers = self.layers
        return [bool(layers) and takes_token_ids(layers[0])]

    # ----------------------------------------------------------------------------------- weights
    def _collect(self, attribute, wanted):
        """`attribute` (weights, trainable_weights, ...) of every layer in order, each weight once;
        then the parameters outside rnnkit layers (e.g. a torch module in a subclassed model) for
        which `wanted(parameter)` holds."""
        weights = list({id(w): w for layer in self.layers for w in getattr(layer, attribute)}.values())
        in_layers = {id(w) for layer in self.layers for w in layer.weights}
        return weights + [w for w in self.parameters() if id(w) not in in_layers and wanted(w)]

    @property
    def weights(self) -> list[torch.nn.Parameter]:
        """Every weight, in Keras's order: the layers' weights, layer by layer."""
        return self._collect("weights", lambda w: True)

    @property
    def trainable_weights(self) -> list[torch.nn.Parameter]:
        return self._collect("trainable_weights", lambda w: w.requires_grad)

    @property
    def non_trainable_weights(self) -> list[torch.nn.Parameter]:
        return self._collect("non_trainable_weights", lambda w: not w.requires_grad)

    def count_params(self) -> int:
        unbuilt = [layer.name for layer in self.layers if not layer.built]
        if unbuilt or not self.layers and not self.built:
            raise ValueError(
                f"Model '{self.name}' is not built yet (unbuilt layers: {unbuilt}): call it on data, or "
                "give it an input shape (an Input, input_shape= on the first layer, or build())."
            )
        return sum(w.numel() for w in self.weights)

    # ------------------------------------------------------------------------------------ states
    def _stateful_layers(self):
        """The stateful recurrent layers (a stateful Bidirectional counts as one), in layer order."""
        found, seen = [], set()

        def walk(module):
            for child in module.children():
                if getattr(child, "stateful", False) and hasattr(child, "reset_state"):
                    if id(child) not in seen:
                        seen.add(id(child))
                        found.append(child)
                else:
                    walk(child)

        walk(self)
        return found

    def reset_state(self) -> None:
        """Clears the states of every stateful layer: the next call starts from zeros."""
        for layer in self._stateful_layers():
            layer.reset_state()

    reset_states = reset_state

    def get_states(self) -> list[Any]:
        """The states of the stateful layers: one entry per layer, in layer order, each a list of
        tensors (for a Bidirectional: forward states, then backward), or None before the first call."""
        return [
            None if layer.states is None else map_structure(lambda s: s.detach().clone(), layer.states)
            for layer in self._stateful_layers()
        ]

    def set_states(self, states: Sequence[Any]) -> None:
        """Sets the states of the stateful layers from `get_states()`'s format (tensors or numpy
        arrays; None resets that layer)."""
        layers = self._stateful_layers()
        if not isinstance(states, (list, tuple)) or len(states) != len(layers):
            got = len(states) if isinstance(states, (list, tuple)) else type(states).__name__
            raise ValueError(
                f"Model '{self.name}' has {len(layers)} stateful layer(s) {[l.name for l in layers]}; "
                f"set_states expects a list with one entry per layer, got {got}."
            )
        for layer, value in zip(layers, states):
            if value is None:
                layer.reset_state()
            else:
                _assign_states(layer, value)

    # ------------------------------------------------------------------------------------ saving
    def save(self, filepath: str | os.PathLike, include_optimizer: bool = False) -> None:
        """Saves the model to one `.rnnkit` file (architecture, weights, compile settings, and the
        optimizer state with `include_optimizer=True`), or to a Keras 3 `.keras` file (architecture
        and weights), atomically; see `rnnkit.save_model`."""
        storage("save_model")(self, filepath, include_optimizer=include_optimizer)

    def save_weights(self, filepath: str | os.PathLike) -> None:
        """Saves the weights to a `.weights.safetensors` file, or to a Keras 3 `.weights.h5` file,
        atomically; see `rnnkit.io.save_weights`."""
        storage("save_weights")(self, filepath)

    def load_weights(self, filepath: str | os.PathLike) -> Model:
        """Loads weights from a `.weights.safetensors`, `.rnnkit` or Keras `.weights.h5` file into
        this built model; see `rnnkit.io.load_weights`."""
        return storage("load_weights")(self, filepath)

    # -------------------------------------------------------------------------------- generation
    def generate(
        self, prompt_ids: npt.ArrayLike | torch.Tensor, steps: int, temperature: float = 1.0, top_k: int | None = None,
        seed: int | None = None, on_token: Callable[[np.ndarray], Any] | None = None,
    ) -> np.ndarray:
        """Continues token-id prompts one token at a time, carrying the recurrent states (the
        prompt runs once); for models mapping ids (batch, time) to logits. Returns the new ids as
        numpy, (steps,) for one prompt or (batch, steps). See `rnnkit.models.generation.generate`
        for the arguments (temperature 0 is greedy; top_k; seed; on_token for streaming).

        Example:
            >>> model.generate(vocabulary.encode("ROMEO:"), 200, temperature=0.8, top_k=10, seed=1)
        """
        from .generation import generate

        return generate(self, prompt_ids, steps, temperature=temperature, top_k=top_k, seed=seed, on_token=on_token)

    def explain(self, x: Any, training: bool = False,
                print_fn: Callable[[str], Any] = print) -> list[tuple[str, Plan]]:
        """Runs the model once on `x` under no_grad and prints, per recurrent layer call, the path it
        takes and why a faster one was not (`layers.plan.Plan`); for a model of token ids, also
        whether greedy generation runs the compiled greedy decoder. Returns [(layer name, Plan)].

        Example:
            >>> model = Sequential([Embedding(66, 32), GRU(64, return_sequences=True), Dense(66)])
            >>> plans = model.explain(np.zeros((8, 100), dtype="int64"))
            gru: compiled (float32, Embedding folded into the input projection, time loop on one thread)
            greedy generation: the compiled greedy decoder
        """
        from .generation import greedy_decoder_plan

        check_explain_arguments(training, print_fn)
        if not self.built:
            with torch.no_grad():  # the first call builds the model, probing its layers on zeros
                self(x, training=False)
        plans = explain_call(self, lambda: self(x, training=training), print_fn)
        if any(self.token_id_inputs()):
            compiled, reason = greedy_decoder_plan(self)
            print_fn("greedy generation: " + ("the compiled greedy decoder" if compiled else
                                              f"one model call per token ({reason})"))
        return plans

    # ------------------------------------------------------------------------------------- calls
    def call(self, inputs: Any, training: bool = False) -> Any:
        raise NotImplementedError(
            f"{type(self).__name__} subclasses Model: define call(self, inputs, training=False)."
        )

    def forward(self, *args, **kwargs) -> Any:
        if args:
            check_not_python_values(self, args[0])
        for key in ("training", "mask"):
            if key in kwargs and key not in self._call_takes:
                kwargs.pop(key)
        from_numpy = bool(args) and any(isinstance(x, np.ndarray) for x in flatten(args[0]))
        if args:
            args = (self._as_tensors(args[0]),) + args[1:]
        if self.built:
            outputs = self.call(*args, **kwargs)
        else:
            with self._observing_shapes():
                outputs = self.call(*args, **kwargs)
            self.built = True
        if from_numpy:
            outputs = map_structure(lambda y: y.as_subclass(NumpyReadable) if isinstance(y, torch.Tensor) else y,
                                    outputs)
        return outputs

    def _observing_shapes(self):
        """While a subclassed model runs for the first time, notes each layer's output shape (for
        summary()); graph models know their shapes already."""
        return _ShapeRecorder(self)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """Builds a subclassed model by calling it once on zeros of `input_shape` (batch first;
        None sizes become 1). Models whose input is token ids are built by calling them on data."""
        shape = tuple(1 if d is None else d for d in input_shape)
        with torch.inference_mode(False), torch.no_grad():
            self(torch.zeros(shape, dtype=self._float_dtype()))

    def _as_tensors(self, inputs):
        """numpy arrays to tensors (floating ones in the weights' dtype); tensors as they are."""

        def convert(x):
            if isinstance(x, np.ndarray) and not is_text(x):
                x = torch.as_tensor(x)
                return x.to(self._float_dtype()) if x.is_floating_point() else x
            return x

        return map_structure(convert, inputs)

    # ----------------------------------------------------------------------------------- summary
    def summary(
        self, line_length: int | None = None, positions: Sequence[float] | None = None,
        print_fn: Callable[[str], Any] | None = None,
    ) -> None:
        """Prints the Keras summary: one row per layer ("Layer (type)", "Output Shape", "Param #",
        and "Connected to" for functional models that are not a plain chain), then the total,
        trainable and non-trainable parameter counts with their size in memory.

        Args:
            line_length: total width (default 88, or 108 with "Connected to", capped at the terminal's).
            positions: the right edge of each column as fractions of the width.
            print_fn: called once with the whole summary text (default: print to stdout).
        """
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn)

    def summary_rows(self) -> tuple[list[tuple[Layer, str, str | None]], bool]:
        """(layer, output shape text, "Connected to" text or None) per row of `summary()`, and
        whether the "Connected to" column is shown."""
        return [(layer, self._observed_shapes.get(layer.name, "?"), None) for layer in self.layers], False


class _ShapeRecorder:
    def __init__(self, model):
        self.model = model
        self.handles = []

    def __enter__(self):
        if type(self.model).summary_rows is Model.summary_rows:
            for layer in self.model.layers:
                self.handles.append(layer.register_forward_hook(self.record))

    def record(self, layer, args, output):
        shapes = [format_batch_free(x.shape) for x in flatten(output) if isinstance(x, torch.Tensor)]
        self.model._observed_shapes[layer.name] = shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"

    def __exit__(self, *exc):
        for handle in self.handles:
            handle.remove()


class NumpyReadable(torch.Tensor):
    """What a model called on NumPy input returns: a torch tensor (gradients flow through it as
    usual) that NumPy and matplotlib can also read while it tracks gradients (`np.asarray(y)`,
    `y.numpy()`, `plt.plot(y)`), as a Keras user reads a model's outputs."""

    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        return array if dtype is None else array.astype(dtype, copy=False)

    def numpy(self, *, force: bool = False) -> np.ndarray:
        return self.detach().as_subclass(torch.Tensor).cpu().numpy(force=force)

    def __float__(self):  # float(loss), without PyTorch's warning about a tensor that requires grad
        return float(self.numpy())


def format_batch_free(shape: Sequence[int | None]) -> str:
    return "(" + ", ".join(["None"] + [str(d) for d in shape[1:]]) + ")"


def with_mask(tensor: Any, mask: npt.ArrayLike | torch.Tensor | None) -> Any:
    """A view of `tensor` carrying `mask`, leaving the caller's tensor untouched."""
    if mask is None or not isinstance(tensor, torch.Tensor):
        return tensor
    return set_mask(tensor.view(tensor.shape), torch.as_tensor(mask, device=tensor.device).bool())


def _assign_states(layer, value):
    weight = next(layer.parameters(), None)
    where = {"device": weight.device, "dtype": weight.dtype} if weight is not None else {}
    value = map_structure(lambda s: torch.as_tensor(np.asarray(s) if not isinstance(s, torch.Tensor) else s)
                          .detach().to(**where), value)
    if isinstance(layer, Bidirectional):
        if not isinstance(value, (list, tuple)) or len(value) % 2:
            raise ValueError(
                f"Bidirectional '{layer.name}' expects its forward states followed by its backward states, "
                f"got {len(value) if isinstance(value, (list, tuple)) else type(value).__name__} item(s)."
            )
        half = len(value) // 2
        _assign_states(layer.forward_layer, list(value[:half]))
        _assign_states(layer.backward_layer, list(value[half:]))
    elif isinstance(layer, RNN):
        states = list(value) if isinstance(value, (list, tuple)) else [value]
        batch = flatten(states)[0].shape[0] if flatten(states) else 0
        layer.states = layer._check_initial_state(states, batch)
    else:
        layer.states = value
