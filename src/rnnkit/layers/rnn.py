"""`RNN(cell)`: the layer that runs a cell over time, and `StackedRNNCells`.

Each call runs the `Plan` of `layers.plan.plan`: built-in cells (SimpleRNNCell, LSTMCell, GRUCell
and stacks of them) on cuDNN, the compiled kernels or the PyTorch-op kernels of `rnnkit.engine`
through their `scan()`; any other cell, or a built-in cell with an activation that is not
elementwise, through the generic autograd loop. All give Keras's results.
"""
import contextlib
import contextvars
import inspect

from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch

from ..engine.cudnn import torch_rnn_scan
from ..engine.generic import cell_scan
from ..engine.native import KernelChoice
from ..engine.nest import flatten, is_nested, map_structure
from .base import Layer, _is_shape, _leaf_shapes, _map_shapes, _unique_name, snake_case
from .plan import CELL_LOOP, CUDNN, Fold, Plan, check_explain_arguments, explain_call, plan, recorded, warn_if_slow
from .recurrent_cell import DropoutRNNCell, RecurrentCell, check_cell_arguments
from .serialization import deserialize_layer, serialize_layer


# Keras 3's state_size: an int, a shape, or a list/tuple of them (see `state_shapes`).
StateSize = Union[int, Sequence[Any], torch.Size]


def state_shapes(state_size: StateSize, owner: str = "cell") -> List[Union[Tuple[int, ...], list]]:
    """Keras 3's `state_size` rules, as a list with one entry per state (batch axis left out).

    An int is one state of that size; a list or tuple holds one entry per state (so `(5, 5)` is two
    states, as in Keras 3). An entry is an int (a vector state), a tuple or `torch.Size` of ints (a
    higher-rank state, as a TensorShape in the Keras RNN guide), or a list/tuple holding further
    entries (a nested group of states). A `torch.Size` at the top is one state of that shape.
    Shapes come back as tuples, groups as lists.
    """

    def entry(size):
        if isinstance(size, int) and not isinstance(size, bool) and size > 0:
            return (size,)
        if isinstance(size, (tuple, list, torch.Size)) and size:
            if all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in size):
                return tuple(size)
            return [entry(s) for s in size]
        raise ValueError(
            f"{owner}: state_size must be a positive int, a list/tuple of them (one per state) or a shape "
            f"tuple per state, got {state_size!r}."
        )

    if isinstance(state_size, torch.Size):
        return [entry(state_size)]
    if isinstance(state_size, (list, tuple)) and state_size:
        return [entry(s) for s in state_size]
    return [entry(state_size)]


def _flat_shapes_of_states(shapes):
    """The shape tuples of a `state_shapes()` result, in the order of `nest.flatten` on the states."""
    return [leaf for s in shapes for leaf in ([s] if isinstance(s, tuple) else _flat_shapes_of_states(s))]


def _zeros_for(shapes, batch_size, like):
    return [
        like.new_zeros((batch_size,) + s) if isinstance(s, tuple) else _zeros_for(s, batch_size, like) for s in shapes
    ]


def _cell_label(cell):
    return f"{type(cell).__name__} '{getattr(cell, 'name', type(cell).__name__)}'"


class StackedRNNCells(Layer):
    """Wraps a list of cells so that they behave as one cell: the output of each cell is the input
    of the next, and the states are the list of every cell's states.

    Args:
        cells: list of RNN cells.

    Call shapes (B batch, F input features, H units of the last cell): a step's inputs (B, F)
    give outputs (B, H); states are one list per cell.

    Example:
        >>> rnn = RNN(StackedRNNCells([LSTMCell(32), LSTMCell(16)]))
    """

    def __init__(self, cells: Sequence[Layer], **kwargs) -> None:
        super().__init__(**kwargs)
        for cell in cells:
            if not hasattr(cell, "state_size") or not callable(cell):
                raise ValueError(
                    f"StackedRNNCells '{self.name}': every cell needs a `state_size` and a call(inputs, states); "
                    f"got {type(cell).__name__}."
                )
        self.cells = torch.nn.ModuleList(cells)

    @property
    def state_size(self) -> List[StateSize]:
        return [cell.state_size for cell in self.cells]

    @property
    def output_size(self) -> StateSize:
        return _output_size(self.cells[-1])

    def get_initial_state(self, batch_size: Optional[int] = None) -> List[List[torch.Tensor]]:
        """One list of initial states per cell: the cell's own `get_initial_state`, else zeros."""
        reference = next(self.parameters(), None)
        like = reference if reference is not None else torch.empty(0)
        return [_initial_state(cell, batch_size, like) for cell in self.cells]

    def build(self, input_shape: Tuple[Optional[int], ...]) -> None:
        for cell in self.cells:
            self.build_child(cell, input_shape)
            size = _output_size(cell)
            input_shape = (input_shape[0],) + (size if isinstance(size, tuple) else (size,))

    def call(self, inputs: torch.Tensor, states: List[List[torch.Tensor]],
             training: bool = False) -> Tuple[torch.Tensor, List[List[torch.Tensor]]]:
        """One step of every cell in turn: inputs (B, F), states one list per cell of (B, H)."""
        new_states = []
        for cell, cell_states in zip(self.cells, states):
            inputs, cell_new = _call_cell(cell, inputs, cell_states, training)
            new_states.append(cell_new)
        return inputs, new_states

    def scan(self, sequences: torch.Tensor, states: List[List[torch.Tensor]], mask: Optional[torch.Tensor],
             training: bool, choices: Sequence[KernelChoice],
             fold: Optional[Fold] = None) -> Tuple[torch.Tensor, List[List[torch.Tensor]]]:
        """Each built-in cell's `scan` on its engine path (`choices`, one per cell, from the plan);
        the Embedding `fold`, if any, goes to the first cell, which reads the Embedding's output."""
        final = []
        for cell, cell_states, choice in zip(self.cells, states, choices):
            sequences, cell_final = cell.scan(sequences, cell_states, mask, training, choice, fold)
            final.append(cell_final)
            fold = None
        return sequences, final

    def reset_dropout_masks(self) -> None:
        for cell in self.cells:
            if isinstance(cell, DropoutRNNCell):
                cell.reset_dropout_masks()

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "cells": [serialize_layer(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "StackedRNNCells":
        config = dict(config)
        config["cells"] = [deserialize_layer(c) for c in config["cells"]]
        return cls(**config)


def _output_size(cell):
    """The cell's `output_size`, else (as Keras) the size of its first state."""
    size = getattr(cell, "output_size", None)
    if size is not None:
        return size
    first = _flat_shapes_of_states(state_shapes(cell.state_size, _cell_label(cell)))[0]
    return first[0] if len(first) == 1 else first


def _initial_state(cell, batch_size, like):
    """A cell's initial states as a list: its own `get_initial_state(batch_size=...)` (Keras's
    signature; a bare tensor, as Keras 3 cells return for an int `state_size`, is the one state),
    else zeros like `like` in the shapes of its `state_size`. Stacks: one such list per cell."""
    if isinstance(cell, StackedRNNCells):
        return [_initial_state(c, batch_size, like) for c in cell.cells]
    if callable(getattr(cell, "get_initial_state", None)):
        states = cell.get_initial_state(batch_size=batch_size)
        return list(states) if is_nested(states) else [states]
    return _zeros_for(state_shapes(cell.state_size, _cell_label(cell)), batch_size, like)


def _call_cell(cell, inputs, states, training):
    # Every cell sees its states as a list, and its new states are taken as one: a bare tensor is
    # the single state, never a batch to index into.
    states = list(states) if is_nested(states) else [states]
    if isinstance(cell, Layer) and "training" in cell._call_takes:
        output, new_states = cell(inputs, states, training=training)
    else:
        output, new_states = cell(inputs, states)
    return output, (list(new_states) if is_nested(new_states) else [new_states])


def _check_cell_states(layer_name, cell, states, where=""):
    """Raises a one-line ValueError when the states a cell returned disagree with its state_size."""
    expected = _flat_shapes_of_states(state_shapes(cell.state_size, _cell_label(cell)))
    got = [tuple(s.shape[1:]) if isinstance(s, torch.Tensor) else None for s in flatten(states)]
    if len(got) != len(expected):
        raise ValueError(
            f"RNN '{layer_name}': {_cell_label(cell)}{where} returned {len(got)} state(s) but its state_size "
            f"{cell.state_size!r} declares {len(expected)}; make state_size match the states call() returns."
        )
    for i, (shape, want) in enumerate(zip(got, expected)):
        if shape != want:
            raise ValueError(
                f"RNN '{layer_name}': {_cell_label(cell)}{where} returned state {i} of shape (batch, "
                f"{', '.join(map(str, shape or ()))}) but its state_size {cell.state_size!r} declares "
                f"(batch, {', '.join(map(str, want))}); make state_size match the states call() returns."
            )


class RNN(Layer):
    """Base class for recurrent layers: runs `cell` over the time axis.

    Args:
        cell: an RNN cell (an object with `call(inputs, states)` or `forward`, and `state_size`), or
            a list of cells (stacked with `StackedRNNCells`). `state_size` follows Keras 3 (see
            `state_shapes`); the cell's `get_initial_state(batch_size=...)` gives the first states
            (a bare tensor is the one state), zeros when it has none.
        return_sequences: return the output of every step (batch, time, units) rather than the last.
        return_state: also return the final states, after the output.
        go_backwards: process the sequence in reverse and return the reversed sequence.
        stateful: keep each sample's last state as the initial state of the next call.
        unroll: accepted for Keras compatibility; the result is the same either way.
        zero_output_for_mask: output zeros at masked steps instead of the previous output.

    Call arguments (B batch, T time steps, F input features, H units):
        sequences: (B, T, F) tensor, or a nested structure of (B, T, ...) tensors for cells that
            take nested inputs.
        initial_state: list of initial state tensors, (B, H) each for the built-in cells (a single
            tensor for single-state cells).
        mask: (B, T) boolean tensor, True for steps to process; taken from the input's Keras mask
            (e.g. `Embedding(mask_zero=True)`) when not given.
        training: whether dropout is active.

    Output shape:
        (B, H), or (B, T, H) with `return_sequences`; with `return_state`, a tuple
        (output, *states). Which kernel runs a call, and why: `layer.explain(x)` (`layers.plan`).

    Example:
        >>> layer = RNN(LSTMCell(32), return_sequences=True)
        >>> y = layer(torch.randn(8, 20, 5))  # (8, 20, 32)
    """

    supports_masking = True
    accepts_fold = True  # a model hands it the Embedding before it (`layers.plan.Fold`)

    def __init__(
        self,
        cell: Union[Layer, Sequence[Layer]],
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(list(cell))
        if not hasattr(cell, "state_size"):
            raise ValueError(
                f"RNN '{self.name}': the cell must have a `state_size` attribute (an int, or a list "
                f"with one size per state); got {type(cell).__name__}."
            )
        for c in cell.cells if isinstance(cell, StackedRNNCells) else [cell]:
            state_shapes(c.state_size, f"RNN '{self.name}': {_cell_label(c)}")
        self.cell = cell
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.stateful = stateful
        self.unroll = unroll
        self.zero_output_for_mask = zero_output_for_mask
        self.states = None
        self._feature_shapes = None
        self._slow_paths_warned = set()  # the slow-path reasons this layer has warned about (plan.warn_if_slow)

    # -------------------------------------------------------------------------------- building
    def build(self, input_shape: Any) -> None:
        step_shape = _map_shapes(lambda s: (s[0],) + tuple(s[2:]), input_shape)
        self._feature_shapes = [s[1:] for s in _leaf_shapes(step_shape)]
        self.build_child(self.cell, step_shape)

    # ------------------------------------------------------------------------------------ states
    def reset_state(self) -> None:
        """Clears the states of a stateful layer (they restart from zeros on the next call)."""
        self.states = None

    reset_states = reset_state

    def get_initial_state(self, batch_size: int) -> list:
        """The states a call starts from when given none, as a list (Keras's `RNN.get_initial_state`):
        the cell's own `get_initial_state`, else zeros of (batch_size, *state shape) per state."""
        like = next(self.parameters(), None)
        if like is None:
            like = torch.empty(0, dtype=self._resolved_dtype())
        return _initial_state(self.cell, batch_size, like)

    def _initial_states(self, batch_size, like, initial_state):
        if initial_state is not None:
            return self._check_initial_state(initial_state if is_nested(initial_state) else [initial_state], batch_size)
        if self.carries_states() and self.states is not None:
            return self.states
        return _initial_state(self.cell, batch_size, like)

    def _check_initial_state(self, states, batch_size):
        """Validates initial states and returns them as the cell takes them: a list of tensors, or
        for stacked cells one such list per cell ([[h, c], [h]], as Keras)."""
        if not isinstance(self.cell, StackedRNNCells):
            return self._check_state_group(states, state_shapes(self.cell.state_size), batch_size, "")
        cells = self.cell.cells
        if len(states) != len(cells) or not all(is_nested(g) or isinstance(g, torch.Tensor) for g in states):
            raise ValueError(
                f"Layer '{self.name}' stacks {len(cells)} cells and expects one group of initial states per "
                f"cell, e.g. [[h, c], [h]] for [LSTMCell, GRUCell]; got {len(states)} item(s)."
            )
        return [
            self._check_state_group(group if is_nested(group) else [group], state_shapes(cell.state_size),
                                    batch_size, f" for cell {i}")
            for i, (cell, group) in enumerate(zip(cells, states))
        ]

    def _check_state_group(self, states, shapes, batch_size, where):
        shapes = _flat_shapes_of_states(shapes)
        flat = flatten(states)
        if len(flat) != len(shapes):
            raise ValueError(
                f"Layer '{self.name}' expects {len(shapes)} initial state tensor(s){where} of shapes "
                f"{[(batch_size,) + s for s in shapes]}, got {len(flat)}."
            )
        for i, (state, shape) in enumerate(zip(flat, shapes)):
            if not isinstance(state, torch.Tensor) or tuple(state.shape) != (batch_size,) + shape:
                got = tuple(state.shape) if isinstance(state, torch.Tensor) else type(state).__name__
                raise ValueError(
                    f"Layer '{self.name}': initial state {i}{where} should have shape {(batch_size,) + shape}, "
                    f"got {got}."
                )
        return list(states)

    # ------------------------------------------------------------------------------------- calls
    def validate_input(self, sequences: Any) -> None:
        # Built-in cells take (batch, time, features); custom cells any (batch, time, ...) structure.
        cells = self.cell.cells if isinstance(self.cell, StackedRNNCells) else [self.cell]
        builtin = all(isinstance(c, RecurrentCell) for c in cells)
        for x in flatten(sequences):
            if not isinstance(x, torch.Tensor):
                raise ValueError(f"Layer '{self.name}' expects tensors, got {type(x).__name__}.")
            if x.dim() < 3 or (builtin and x.dim() != 3):
                raise ValueError(
                    f"Layer '{self.name}' expects input of shape (batch, time, features), "
                    f"got a tensor of shape {tuple(x.shape)}."
                )
            if not x.is_floating_point():
                raise ValueError(
                    f"Layer '{self.name}' expects floating-point input, got {x.dtype}; "
                    "token ids go through an Embedding layer first."
                )
        if flatten(sequences)[0].shape[1] == 0:
            raise ValueError(f"Layer '{self.name}' got a sequence with 0 time steps.")

    def _check_inputs(self, sequences, mask):
        first = flatten(sequences)[0]
        got = [tuple(x.shape[2:]) for x in flatten(sequences)]
        if self._feature_shapes is not None and got != self._feature_shapes:
            expected = ", ".join(str((None, None) + s) for s in self._feature_shapes)
            received = ", ".join(str(tuple(x.shape)) for x in flatten(sequences))
            raise ValueError(
                f"Layer '{self.name}' was built for input of shape {expected} (batch, time, features), "
                f"got {received}."
            )
        if mask is not None and tuple(mask.shape) != tuple(first.shape[:2]):
            raise ValueError(
                f"Layer '{self.name}' expects a mask of shape (batch, time) = {tuple(first.shape[:2])}, "
                f"got {tuple(mask.shape)}."
            )
        if self.carries_states() and self.states is not None:
            expected = flatten(self.states)[0].shape[0]
            if first.shape[0] != expected:
                raise ValueError(
                    f"Stateful layer '{self.name}' holds states for batch size {expected}, got a batch "
                    f"of {first.shape[0]}; feed batches of {expected} or call reset_state() first."
                )

    def carries_states(self) -> bool:
        """Whether this call starts from the states the last one left: a stateful layer, or one
        inside `carrying_states` (truncated BPTT, generation)."""
        return self.stateful or id(self) in _CARRIED.get()

    def call(self, sequences: Any, initial_state: Optional[Any] = None, mask: Optional[torch.Tensor] = None,
             training: bool = False, _fold: Optional[Fold] = None) -> Any:
        if mask is not None:
            try:
                mask = torch.as_tensor(mask)  # a NumPy array or nested lists, as Keras takes
            except (TypeError, ValueError, RuntimeError):
                raise TypeError(f"Layer '{self.name}' expects a boolean mask of shape (batch, time), "
                                f"got {type(mask).__name__}.") from None
        self._check_inputs(sequences, mask)
        first = flatten(sequences)[0]
        if mask is not None:
            mask = mask.to(device=first.device, dtype=torch.bool)
        call_plan = plan(self, sequences, mask, training, _fold)
        if not recorded(self, call_plan):
            warn_if_slow(self, call_plan)
        states = self._initial_states(first.shape[0], first, initial_state)
        fold = _fold if call_plan.folded else None
        if self.go_backwards:
            sequences = map_structure(lambda x: torch.flip(x, [1]), sequences)
            mask = None if mask is None else torch.flip(mask, [1])
            fold = None if fold is None else fold.reversed()
        try:
            outputs, final_states = self._run(call_plan, sequences, states, mask, training, fold)
        finally:
            if hasattr(self.cell, "reset_dropout_masks"):
                self.cell.reset_dropout_masks()
        if self.carries_states():
            self.states = map_structure(lambda s: s.detach(), final_states)
        last = map_structure(lambda o: o[:, -1], outputs)
        output = outputs if self.return_sequences else last
        if self.return_state:
            return (output, *final_states)
        return output

    def explain(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None, training: bool = False,
                print_fn: Callable[[str], Any] = print) -> List[Tuple[str, Plan]]:
        """Runs the layer once on `x` (B, T, F) under no_grad and prints the path its call takes
        and why (`layers.plan.Plan`); returns [(layer name, Plan)].

        Example:
            >>> LSTM(32, recurrent_dropout=0.2).explain(torch.randn(8, 50, 4), training=True)
            lstm: torch_ops (float32)
              - recurrent_dropout=0.2 has no compiled kernel
        """
        check_explain_arguments(training, print_fn)
        return explain_call(self, lambda: self(x, mask=mask, training=training), print_fn)

    def _run(self, call_plan, sequences, states, mask, training, fold):
        """Executes `call_plan` over the (already reversed, for go_backwards) sequence: returns
        (outputs (B, T, H) for every step, final states)."""
        cell = self.cell
        if call_plan.path == CELL_LOOP:
            return self._cell_loop(sequences, states, mask, training)
        if call_plan.path == CUDNN:
            hs, final_states = self._cudnn_scan(call_plan.cudnn, sequences, states, training)
        elif isinstance(cell, StackedRNNCells):
            hs, final_states = cell.scan(sequences, states, mask, training, call_plan.kernels, fold)
        else:
            hs, final_states = cell.scan(sequences, states, mask, training, call_plan.kernels[0], fold)
        if mask is not None:
            # Keras emits the previous output at masked steps (zeros before the first real step).
            keep = mask if self.zero_output_for_mask else torch.cummax(mask.to(torch.uint8), 1)[0].bool()
            hs = hs * keep.unsqueeze(-1).to(hs.dtype)
        return hs, final_states

    def _cell_loop(self, sequences, states, mask, training):
        """The cell's own call, step by step on autograd (`engine.cell_scan`)."""
        cell = self.cell
        checked = False

        def step(x_t, step_states):
            nonlocal checked
            output, new_states = _call_cell(cell, x_t, step_states, training)
            if not checked:  # once per call: the first step shows whether state_size tells the truth
                self._check_returned_states(new_states)
                checked = True
            return output, new_states

        return cell_scan(step, sequences, states, mask, self.zero_output_for_mask)

    def _check_returned_states(self, new_states):
        if isinstance(self.cell, StackedRNNCells):
            for i, (cell, group) in enumerate(zip(self.cell.cells, new_states)):
                _check_cell_states(self.name, cell, group, f" (cell {i} of the stack)")
        else:
            _check_cell_states(self.name, self.cell, new_states)

    def _state_count(self):
        """How many state entries follow the output when return_state: one per state, or per stacked cell."""
        if isinstance(self.cell, StackedRNNCells):
            return len(self.cell.cells)
        return len(state_shapes(self.cell.state_size))

    def compute_output_shape(self, sequences_shape: Any, initial_state_shape: Any = None) -> Any:
        """Output shape(s) for inputs of `sequences_shape` (batch, time, ...), `None` for unknown
        sizes: the output's, then with `return_state` each state's (per cell for stacks), as Keras."""
        first = _leaf_shapes(sequences_shape)[0]
        batch, steps = first[0], first[1]
        lead = (batch, steps) if self.return_sequences else (batch,)

        def output_shape(size):
            if isinstance(size, int):
                return lead + (size,)
            if _is_shape(size):
                return lead + tuple(size)
            return [output_shape(s) for s in size]

        output = output_shape(_output_size(self.cell))
        if not self.return_state:
            return output

        def with_batch(shapes):
            return [(batch,) + s if isinstance(s, tuple) else with_batch(s) for s in shapes]

        if isinstance(self.cell, StackedRNNCells):
            states = [with_batch(state_shapes(c.state_size)) for c in self.cell.cells]
        else:
            states = with_batch(state_shapes(self.cell.state_size))
        return (output, *states)

    def _cudnn_scan(self, route, sequences, states, training):
        """The whole sequence through PyTorch's cuDNN RNN (the plan's `cudnn_route` said it runs
        this call exactly); route: (kind, lengths (B,) or None)."""
        kind, lengths = route
        cell = self.cell
        if training and cell.dropout > 0:
            sequences = sequences * cell.get_dropout_mask(sequences[:, 0]).unsqueeze(1)
        weights = (cell.kernel, cell.recurrent_kernel, cell.bias)
        compute = cell._mixed_compute(sequences)
        if compute is None:
            return torch_rnn_scan(kind, sequences, *weights, list(states), lengths)
        # A mixed policy's dtype, given by hand with autocast off: autocast's wrapper of cuDNN's RNN
        # casts to float16 whatever dtype autocast runs in (PyTorch's _cudnn_rnn_cast_reflatten), so
        # under mixed_bfloat16 cuDNN would compute in float16 while the plan says bfloat16.
        with torch.autocast(sequences.device.type, enabled=False):
            hs, final = torch_rnn_scan(kind, sequences.to(compute), *(w.to(compute) for w in weights),
                                       [s.to(compute) for s in states], lengths)
        # The states in the weights' dtype, as the other routes keep them: a stateful layer carries them
        # into its next call, which may take another route.
        return hs, [f.to(cell.kernel.dtype) for f in final]

    def compute_mask(self, inputs: Any, mask: Optional[torch.Tensor] = None) -> Any:
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * self._state_count()
        return output_mask

    def get_config(self) -> Dict[str, Any]:
        config = {
            **super().get_config(),
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        }
        if type(self) is RNN:
            config["cell"] = serialize_layer(self.cell)
        return config

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "RNN":
        if cls is RNN:
            config = dict(config)
            config["cell"] = deserialize_layer(config["cell"])
        return cls(**config)

    def extra_repr(self) -> str:
        flags = [f for f in ("return_sequences", "return_state", "go_backwards", "stateful") if getattr(self, f)]
        return ", ".join([f"name={self.name!r}"] + [f"{f}=True" for f in flags])


class CellRNN(RNN):
    """A recurrent layer built on one built-in cell (SimpleRNN, LSTM, GRU): the cell's arguments
    and the RNN's arguments in one constructor and one flat config, as Keras has them."""

    cell_class = None
    # LSTM and GRU take Keras's use_cudnn; rnnkit always runs its own fused kernel, on CPU and CUDA.
    takes_use_cudnn = False
    _rnn_args = (
        "return_sequences", "return_state", "go_backwards", "stateful", "unroll", "zero_output_for_mask",
        "activity_regularizer", "input_shape", "input_dim",
    )

    def __init__(self, units: int, name: Optional[str] = None, trainable: bool = True, dtype: Any = None,
                 **kwargs) -> None:
        name = name or _unique_name(type(self).__name__)
        label = f"{type(self).__name__} '{name}'"
        if self.takes_use_cudnn:
            self.use_cudnn = kwargs.pop("use_cudnn", "auto")
            if self.use_cudnn not in ("auto", True, False):
                raise ValueError(f"{label}: use_cudnn must be 'auto', True or False, got {self.use_cudnn!r}.")
        rnn_kwargs = {k: kwargs.pop(k) for k in self._rnn_args if k in kwargs}
        unknown = set(kwargs) - _init_arguments(self.cell_class)
        if unknown:
            raise TypeError(f"{label}: unexpected keyword argument(s): {', '.join(sorted(unknown))}.")
        check_cell_arguments(
            label,
            units,
            kwargs.get("dropout", 0.0),
            kwargs.get("recurrent_dropout", 0.0),
            kwargs.get("activation", "tanh"),
            kwargs.get("recurrent_activation", "sigmoid"),
        )
        cell = self.cell_class(units, name=snake_case(self.cell_class.__name__), trainable=trainable, dtype=dtype, **kwargs)
        super().__init__(cell, name=name, trainable=trainable, dtype=dtype, **rnn_kwargs)

    @property
    def implementation(self) -> int:
        """Keras's `implementation` (LSTM, GRU), kept on the cell."""
        return self.cell.implementation

    def __getattr__(self, name):
        # units, activation, dropout, reset_after, ...: the cell's, as on Keras's layers.
        try:
            return super().__getattr__(name)
        except AttributeError:
            cell = self._modules.get("cell")
            if cell is not None and not name.startswith("_") and name in cell.get_config():
                return getattr(cell, name)
            raise

    def get_config(self) -> Dict[str, Any]:
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key)
        config = {**super().get_config(), **cell_config}
        if self.takes_use_cudnn:
            config["use_cudnn"] = self.use_cudnn
        return config


def _init_arguments(cls):
    """Every keyword a class's constructor chain accepts (each __init__ passes **kwargs upwards)."""
    names = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            names |= {
                p.name
                for p in inspect.signature(init).parameters.values()
                if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name != "self"
            }
    return names


# The ids of the recurrent layers that carry their states from call to call in this context,
# beyond the stateful ones (`carrying_states`): read by RNN.carries_states, never a layer flag.
_CARRIED = contextvars.ContextVar("rnnkit_carried_states", default=frozenset())


def carrying_active() -> bool:
    """Whether some `carrying_states` block is open in this context."""
    return bool(_CARRIED.get())


@contextlib.contextmanager
def carrying_states(layers: Sequence[Layer], restore: bool) -> Iterator[None]:
    """Makes recurrent `layers` (and the RNNs inside them) carry their states from call to call for
    the block, without touching their `stateful` flag.

    restore=True (generation): every layer starts from zeros, and gets back the states it had before.
    restore=False (truncated BPTT): a stateful layer keeps its states running in and out of the
    block, as across batches; the others start and end from zeros."""
    saved = [(layer.stateful, layer.states) for layer in layers]
    for layer, (was_stateful, _) in zip(layers, saved):
        if restore or not was_stateful:
            layer.reset_state()
    carried = {id(module) for layer in layers for module in layer.modules() if isinstance(module, RNN)}
    token = _CARRIED.set(_CARRIED.get() | carried)
    try:
        yield
    finally:
        _CARRIED.reset(token)
        for layer, (was_stateful, states) in zip(layers, saved):
            if restore:
                layer.states = states
            elif not was_stateful:
                layer.reset_state()
