"""Bidirectional: runs a recurrent layer forwards and a copy of it backwards, and merges them."""
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch

from .base import Layer
from .plan import Fold, Plan, check_explain_arguments, explain_call
from .rnn import RNN
from .serialization import deserialize_layer, serialize_layer

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _with_prefix(name, prefix):
    return prefix + name[len(prefix) :] if name.startswith(prefix) else prefix + name


class Bidirectional(Layer):
    """Bidirectional wrapper for recurrent layers (Keras `Bidirectional`).

    Args:
        layer: a recurrent layer (`SimpleRNN`, `LSTM`, `GRU`, `RNN`); a fresh copy of it, built
            from its config, becomes the forward layer.
        merge_mode: how the two outputs combine: "concat" (default), "sum", "mul", "ave", or None
            (a tuple of both).
        backward_layer: optional layer for the backward direction; by default a copy of `layer`
            with `go_backwards=True`.

    Call arguments (B batch, T time steps, F input features, H units of the wrapped layer):
        sequences: (B, T, F) tensor.
        initial_state: forward states followed by backward states, (B, H) each.
        mask: (B, T) boolean tensor (taken from the input's Keras mask when not given).
        training: whether dropout is active.

    Output shape: the wrapped layer's, (B, H) or (B, T, H), with the last axis doubled for
    "concat", (B, 2H); with return_state, (output, *forward_states, *backward_states).

    Weights (Keras order): the forward layer's, then the backward layer's.

    Example:
        >>> bi = Bidirectional(LSTM(64))
        >>> bi(torch.randn(8, 200, 64)).shape
        torch.Size([8, 128])
    """

    supports_masking = True
    accepts_fold = True  # a model hands it the Embedding before it (`layers.plan.Fold`)

    def __init__(self, layer: RNN, merge_mode: Optional[str] = "concat", backward_layer: Optional[RNN] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(layer, RNN):
            raise ValueError(
                f"Bidirectional '{self.name}' wraps a recurrent layer (SimpleRNN, LSTM, GRU, RNN), "
                f"got {type(layer).__name__}."
            )
        if merge_mode not in MERGE_MODES:
            raise ValueError(
                f"Bidirectional '{self.name}': unknown merge_mode {merge_mode!r}; expected one of "
                '"concat", "sum", "mul", "ave" or None.'
            )
        spec = serialize_layer(layer)
        spec["config"]["name"] = _with_prefix(layer.name, "forward_")
        self.forward_layer = deserialize_layer(spec)
        self._custom_backward = backward_layer is not None
        if backward_layer is None:
            spec = serialize_layer(layer)
            spec["config"]["name"] = _with_prefix(layer.name, "backward_")
            spec["config"]["go_backwards"] = not layer.go_backwards
            backward_layer = deserialize_layer(spec)
        self.backward_layer = backward_layer
        if self.forward_layer.go_backwards == self.backward_layer.go_backwards:
            raise ValueError(
                f"Bidirectional '{self.name}': the forward and backward layers need different "
                f"go_backwards values, both are {self.forward_layer.go_backwards}."
            )
        for attr in ("stateful", "return_sequences", "return_state"):
            if getattr(self.forward_layer, attr) != getattr(self.backward_layer, attr):
                raise ValueError(
                    f"Bidirectional '{self.name}': forward and backward layers must agree on {attr}, got "
                    f"{getattr(self.forward_layer, attr)} and {getattr(self.backward_layer, attr)}."
                )
        # As Keras: with sequences returned, masked steps output zeros so the two directions align.
        for direction in (self.forward_layer, self.backward_layer):
            direction.zero_output_for_mask = direction.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.stateful = layer.stateful

    def explain(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None, training: bool = False,
                print_fn: Callable[[str], Any] = print) -> List[Tuple[str, Plan]]:
        """Runs the layer once on `x` (B, T, F) under no_grad and prints the path each direction's
        call takes and why (`layers.plan.Plan`); returns [(layer name, Plan)], forward first."""
        check_explain_arguments(training, print_fn)
        return explain_call(self, lambda: self(x, mask=mask, training=training), print_fn)

    def validate_input(self, sequences: Any) -> None:
        self.forward_layer.validate_input(sequences)

    def build(self, input_shape: Tuple[Optional[int], ...]) -> None:
        self.build_child(self.forward_layer, input_shape)
        self.build_child(self.backward_layer, input_shape)

    def reset_state(self) -> None:
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    reset_states = reset_state

    @property
    def states(self) -> Optional[List[torch.Tensor]]:
        if self.forward_layer.states is None or self.backward_layer.states is None:
            return None
        return list(self.forward_layer.states) + list(self.backward_layer.states)

    def call(self, sequences: torch.Tensor, initial_state: Optional[Sequence[torch.Tensor]] = None,
             mask: Optional[torch.Tensor] = None, training: bool = False, _fold: Optional[Fold] = None) -> Any:
        forward_state = backward_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_state, backward_state = list(initial_state[:half]), list(initial_state[half:])
        # Each direction plans its own call; the Embedding fold (read backwards by the backward
        # layer, as its go_backwards reads the sequence) serves both.
        y = self.forward_layer(sequences, initial_state=forward_state, mask=mask, training=training, _fold=_fold)
        y_rev = self.backward_layer(sequences, initial_state=backward_state, mask=mask, training=training, _fold=_fold)
        states = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = torch.flip(y_rev, [1])
        if self.merge_mode == "concat":
            output = torch.cat([y, y_rev], dim=-1)
        elif self.merge_mode == "sum":
            output = y + y_rev
        elif self.merge_mode == "ave":
            output = (y + y_rev) / 2
        elif self.merge_mode == "mul":
            output = y * y_rev
        else:
            output = (y, y_rev)
        if self.merge_mode is None:
            return output + states
        return (output,) + states if self.return_state else output

    def compute_output_shape(self, sequences_shape: Any, initial_state_shape: Any = None) -> Any:
        """The wrapped layer's output shape merged as `merge_mode` merges (the last axis doubled
        for "concat", a pair for None), then with return_state the forward and backward states'."""
        shapes = self.forward_layer.compute_output_shape(sequences_shape)
        output, states = (shapes[0], tuple(shapes[1:])) if self.return_state else (shapes, ())
        if self.merge_mode == "concat":
            merged = (*output[:-1], None if output[-1] is None else 2 * output[-1])
        elif self.merge_mode is None:
            return (output, output) + states * 2
        else:
            merged = output
        return (merged,) + states * 2 if self.return_state else merged

    def compute_mask(self, inputs: Any, mask: Optional[torch.Tensor] = None) -> Any:
        output_mask = mask if self.return_sequences else None
        outputs = [output_mask, output_mask] if self.merge_mode is None else [output_mask]
        if self.return_state:
            n_states = 2 * (2 if isinstance(self.forward_layer.cell.state_size, list) else 1)
            return outputs + [None] * n_states
        return outputs if self.merge_mode is None else output_mask

    def get_config(self) -> Dict[str, Any]:
        config = {**super().get_config(), "layer": serialize_layer(self.forward_layer), "merge_mode": self.merge_mode}
        config["layer"]["config"]["name"] = self.forward_layer.name[len("forward_") :]
        if self._custom_backward:
            config["backward_layer"] = serialize_layer(self.backward_layer)
        return config

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Bidirectional":
        config = dict(config)
        config["layer"] = deserialize_layer(config["layer"])
        if config.get("backward_layer") is not None:
            config["backward_layer"] = deserialize_layer(config["backward_layer"])
        return cls(**config)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, merge_mode={self.merge_mode!r}"
