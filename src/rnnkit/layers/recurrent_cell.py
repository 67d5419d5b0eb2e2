"""What the built-in cells (SimpleRNNCell, LSTMCell, GRUCell) share: Keras's constructor
arguments and config, weight creation, dropout masks, and the hand-off to the fused kernels."""
import contextlib
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple, Union

import torch

from ..checks import check_scalar, check_weight_shape
from ..engine.activations import Activation, get_activation
from ..engine.embedding_projection import embedding_projection
from ..engine.native import KernelChoice
from ..engine.panel_linear import panel_linear, panel_linear_available
from .base import Layer
from .constraints import get_constraint, serialize_constraint
from .initializers import get_initializer, serialize as serialize_initializer
from .regularizers import get_regularizer, serialize_regularizer

if TYPE_CHECKING:
    from .plan import Fold

# What an activation argument takes: a Keras name, None (linear), an Activation or a callable.
ActivationLike = Union[str, Activation, Callable, None]


def check_cell_arguments(label: str, units: int, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                         activation: ActivationLike = "tanh",
                         recurrent_activation: ActivationLike = "sigmoid") -> Tuple[Activation, Activation]:
    """Validates a cell's arguments, naming `label` (the cell, or the layer that owns it) in errors;
    returns the two activations."""
    check_scalar(units, f"{label}: units", int, min_val=1)
    check_weight_shape((units, units), f"{label}: units")  # the recurrent kernel holds units x units at least
    for arg, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
        check_scalar(rate, f"{label}: {arg}", float, min_val=0, max_val=1, include_boundaries="left")
    try:
        return get_activation(activation), get_activation(recurrent_activation)
    except ValueError as error:
        raise ValueError(f"{label}: {error}") from None


class DropoutRNNCell:
    """Keras's mixin for cells with dropout: masks drawn once per sequence and reused at every step.

    A cell using it sets `dropout`, `recurrent_dropout` (rates in [0, 1)) and `seed` (int or None),
    and multiplies its step input by `get_dropout_mask(inputs)` and its state by
    `get_recurrent_dropout_mask(state)` in training; the masks are scaled by 1 / (1 - rate). The
    owning RNN layer clears them after each call. One mask is shared by all gates.

    Example:
        >>> class MyCell(Layer, DropoutRNNCell):
        ...     def call(self, inputs, states, training=False):
        ...         if training:
        ...             inputs = inputs * self.get_dropout_mask(inputs)
        ...         ...
    """

    def _draw_mask(self, like: torch.Tensor, rate: float) -> torch.Tensor:
        keep = 1.0 - rate
        generator = getattr(self, "_generator", None)
        if self.seed is not None and generator is None:
            generator = self._generator = torch.Generator().manual_seed(int(self.seed))
        noise = torch.rand(like.shape, generator=generator, dtype=like.dtype)
        return ((noise < keep).to(like.dtype) / keep).to(like.device)

    def get_dropout_mask(self, step_input: torch.Tensor) -> Optional[torch.Tensor]:
        if getattr(self, "_dropout_mask", None) is None and self.dropout > 0:
            self._dropout_mask = self._draw_mask(step_input, self.dropout)
        return getattr(self, "_dropout_mask", None)

    def get_recurrent_dropout_mask(self, state: torch.Tensor) -> Optional[torch.Tensor]:
        if getattr(self, "_recurrent_dropout_mask", None) is None and self.recurrent_dropout > 0:
            self._recurrent_dropout_mask = self._draw_mask(state, self.recurrent_dropout)
        return getattr(self, "_recurrent_dropout_mask", None)

    def reset_dropout_mask(self) -> None:
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self) -> None:
        self._recurrent_dropout_mask = None

    def reset_dropout_masks(self) -> None:
        """Clears both masks; the RNN layer calls it after every sequence."""
        self.reset_dropout_mask()
        self.reset_recurrent_dropout_mask()


class RecurrentCell(DropoutRNNCell, Layer):
    """Base of the built-in cells. Subclasses set `gate_count`, implement `step()` (one time step on
    autograd, for `RNN` loops over custom structures), `run_kernel()` (the fused sequence, on the
    path the plan chose) and `compiled_kernel_reason()`."""

    gate_count = 1

    def __init__(
        self,
        units: int,
        activation: ActivationLike = "tanh",
        recurrent_activation: ActivationLike = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: Optional[int] = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.activation, self.recurrent_activation = check_cell_arguments(
            f"{type(self).__name__} '{self.name}'", units, dropout, recurrent_dropout, activation, recurrent_activation
        )
        self.units = int(units)  # a NumPy integer passes the check; the config holds a Python int
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = get_regularizer(kernel_regularizer)
        self.recurrent_regularizer = get_regularizer(recurrent_regularizer)
        self.bias_regularizer = get_regularizer(bias_regularizer)
        self.kernel_constraint = get_constraint(kernel_constraint)
        self.recurrent_constraint = get_constraint(recurrent_constraint)
        self.bias_constraint = get_constraint(bias_constraint)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed

    @property
    def state_size(self) -> Union[int, List[int]]:
        return self.units

    @property
    def output_size(self) -> int:
        return self.units

    def bias_shape(self) -> Tuple[int, ...]:
        return (self.gate_count * self.units,)

    def init_bias_(self, bias: torch.Tensor) -> None:
        get_initializer(self.bias_initializer)(bias)

    def build(self, input_shape: Tuple[Optional[int], ...]) -> None:
        if len(input_shape) != 2:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects step inputs of shape (batch, features), "
                f"got {tuple(input_shape)}."
            )
        self.input_dim = input_shape[-1]
        width = self.gate_count * self.units
        self.add_weight(shape=(self.input_dim, width), initializer=self.kernel_initializer,
                        regularizer=self.kernel_regularizer, constraint=self.kernel_constraint, name="kernel")
        self.add_weight(shape=(self.units, width), initializer=self.recurrent_initializer,
                        regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint,
                        name="recurrent_kernel")
        if self.use_bias:
            bias = self.add_weight(shape=self.bias_shape(), initializer="zeros", regularizer=self.bias_regularizer,
                                   constraint=self.bias_constraint, name="bias")
            with torch.no_grad():
                self.init_bias_(bias)
        else:
            self.bias = None

    def get_initial_state(self, batch_size: int) -> List[torch.Tensor]:
        shapes = [self.units] * (2 if isinstance(self.state_size, list) else 1)
        # Before the first call (Keras allows it) there is no kernel yet to take dtype and device from.
        like = self.kernel if self.built else torch.empty(0, dtype=self._resolved_dtype())
        return [like.new_zeros(batch_size, units) for units in shapes]

    def input_projection(self, x: torch.Tensor, bias: Optional[torch.Tensor],
                         fold: Optional["Fold"] = None) -> torch.Tensor:
        """x W + b for every (batch, time) row at once: the one GEMM over all input steps.

        x: (B, T, F); bias: (G*H,) or None; returns (B, T, G*H). With a `fold` (the plan's
        `layers.plan.Fold` of the Embedding that made x), computes `(E W + b)[ids]` instead
        (`engine.embedding_projection`): the same values, with gradients reaching E, W and b as
        through the lookup and the GEMM.
        """
        if fold is not None:
            return embedding_projection(fold.ids, fold.embeddings, self.kernel, bias)
        batch, steps, features = x.shape
        flat = x.reshape(batch * steps, features)  # (B*T, F)
        if x.dtype != self.kernel.dtype and panel_linear_available(x):
            # A mixed policy on the panel product (not oneDNN: see engine.panel_linear); xp, the
            # gates' input, in float32 (the bias added there).
            xp = panel_linear(flat, self.kernel, bias, torch.float32)
        elif x.dtype != self.kernel.dtype:
            # A mixed policy: the GEMM in x's compute dtype (float32 accumulation); xp, the gates'
            # input, in float32 (the bias added there).
            product = torch.mm(flat, self.kernel.to(x.dtype))
            xp = product.float() if bias is None else torch.add(bias, product)
        else:
            xp = torch.mm(flat, self.kernel) if bias is None else torch.addmm(bias, flat, self.kernel)
        return xp.view(batch, steps, self.kernel.shape[1])

    def compiled_kernel_reason(self) -> Optional[str]:
        """Why the compiled kernel cannot compute this cell's step, or None when it can."""
        raise NotImplementedError

    def can_scan(self) -> bool:
        """Whether the fused kernels (compiled or PyTorch-op) compute this cell: elementwise activations."""
        return self.activation.elementwise and self.recurrent_activation.elementwise

    def scan(self, sequences: torch.Tensor, states: List[torch.Tensor], mask: Optional[torch.Tensor],
             training: bool, choice: KernelChoice,
             fold: Optional["Fold"] = None) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """Runs the whole sequence on the engine path `choice` (the plan's `KernelChoice`).

        sequences: (B, T, F); states: list of (B, H); mask: (B, T) or None; fold: the plan's
        Embedding fold, or None. Returns (all outputs (B, T, H), final states).

        Under a mixed policy `sequences` come in the compute dtype (bfloat16) and the kernels get it
        as their GEMMs' dtype, with the gates and states in float32; autocast, which the layer
        enters for other layers' products, is off here: the kernels say themselves what runs in it."""
        compute = self._mixed_compute(sequences)
        if compute is not None:  # states stay in the weights' dtype (e.g. from another layer's return_state)
            states = [s.to(self.kernel.dtype) for s in states]
        device = sequences.device.type
        # Entering autocast costs ~5-15 us: small float32 steps (sine: ~0.5 ms) skip it when it is off.
        off = torch.autocast(device, enabled=False) if torch.is_autocast_enabled(device) else contextlib.nullcontext()
        with off:
            if training and self.dropout > 0:
                sequences = sequences * self.get_dropout_mask(sequences[:, 0]).unsqueeze(1)
            rmask = self.get_recurrent_dropout_mask(states[0]) if training and self.recurrent_dropout > 0 else None
            return self.run_kernel(sequences, states, mask, rmask, compute, choice, fold)

    def call(self, inputs: torch.Tensor, states: Union[torch.Tensor, List[torch.Tensor]],
             training: bool = False) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """One step on autograd: inputs (B, F), states [(B, H), ...]; returns (output (B, H), new states)."""
        states = states if isinstance(states, (list, tuple)) else [states]
        if training and self.dropout > 0:
            inputs = inputs * self.get_dropout_mask(inputs)
        rmask = self.get_recurrent_dropout_mask(states[0]) if training and self.recurrent_dropout > 0 else None
        return self.step(inputs, list(states), rmask)

    def get_config(self) -> Dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self.activation.name,
            "recurrent_activation": self.recurrent_activation.name,
            "use_bias": self.use_bias,
            "kernel_initializer": serialize_initializer(self.kernel_initializer),
            "recurrent_initializer": serialize_initializer(self.recurrent_initializer),
            "bias_initializer": serialize_initializer(self.bias_initializer),
            "kernel_regularizer": serialize_regularizer(self.kernel_regularizer),
            "recurrent_regularizer": serialize_regularizer(self.recurrent_regularizer),
            "bias_regularizer": serialize_regularizer(self.bias_regularizer),
            "kernel_constraint": serialize_constraint(self.kernel_constraint),
            "recurrent_constraint": serialize_constraint(self.recurrent_constraint),
            "bias_constraint": serialize_constraint(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }

    def extra_repr(self) -> str:
        return f"name={self.name!r}, units={self.units}, activation={self.activation.name!r}"
