"""SimpleRNNCell and SimpleRNN: h_t = activation(x_t W + h_{t-1} U + b)."""
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import torch

from ..engine.native import KernelChoice
from ..engine.simple_rnn import compiled_activation_reason, simple_rnn_scan
from .recurrent_cell import ActivationLike, RecurrentCell
from .rnn import CellRNN

if TYPE_CHECKING:
    from .plan import Fold


class SimpleRNNCell(RecurrentCell):
    """One step of a fully connected RNN (Keras `SimpleRNNCell`).

    Args:
        units: size of the output and state.
        activation: "tanh" (default), "relu", "sigmoid", "linear" or any Keras activation name.
        use_bias, kernel_initializer ("glorot_uniform"), recurrent_initializer ("orthogonal"),
        bias_initializer ("zeros"), kernel_regularizer, recurrent_regularizer, bias_regularizer,
        dropout, recurrent_dropout, seed: as Keras.

    Shapes, with B batch, F input features, H units: a step maps inputs (B, F) and the state
    (B, H) to the output and new state (B, H).

    Weights (Keras order): kernel (F, H), recurrent_kernel (H, H), bias (H,).
    """

    gate_count = 1
    torch_rnn_kind = "simple_rnn"  # its PyTorch fused-RNN counterpart (layers.cudnn_route)

    def __init__(self, units: int, activation: ActivationLike = "tanh", **kwargs) -> None:
        if "recurrent_activation" in kwargs:
            raise TypeError("SimpleRNNCell has no recurrent_activation argument.")
        super().__init__(units, activation=activation, **kwargs)

    def step(self, x: torch.Tensor, states: List[torch.Tensor],
             rmask: Optional[torch.Tensor]) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        h = states[0] if rmask is None else states[0] * rmask
        z = x @ self.kernel + h @ self.recurrent_kernel
        if self.bias is not None:
            z = z + self.bias
        out = self.activation.fn(z)
        return out, [out]

    def run_kernel(self, x: torch.Tensor, states: List[torch.Tensor], mask: Optional[torch.Tensor],
                   rmask: Optional[torch.Tensor], compute_dtype: Optional[torch.dtype] = None,
                   choice: Optional[KernelChoice] = None,
                   fold: Optional["Fold"] = None) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        xp = self.input_projection(x, self.bias, fold)  # (B, T, H)
        hs = simple_rnn_scan(xp, self.recurrent_kernel, states[0], mask, rmask, self.activation, compute_dtype, choice)
        return hs, [hs[:, -1]]

    def compiled_kernel_reason(self) -> Optional[str]:
        return compiled_activation_reason(self.activation)

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        del config["recurrent_activation"]
        return config


class SimpleRNN(CellRNN):
    """Fully connected RNN whose output is fed back as input (Keras `SimpleRNN`).

    Args:
        units: size of the output and state.
        activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
        kernel_regularizer, recurrent_regularizer, bias_regularizer, dropout, recurrent_dropout,
        seed: as `SimpleRNNCell`.
        return_sequences, return_state, go_backwards, stateful, unroll: as `RNN`.

    Call arguments (B batch, T time steps, F input features, H units): sequences (B, T, F),
    initial_state [(B, H)], mask (B, T), training (see `RNN`).

    Output shape: (B, H), or (B, T, H) with return_sequences.

    Example:
        >>> rnn = SimpleRNN(256)
        >>> rnn(torch.randn(128, 28, 28)).shape
        torch.Size([128, 256])
    """

    cell_class = SimpleRNNCell
