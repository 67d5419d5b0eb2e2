"""LSTMCell and LSTM (Keras gate order i, f, c, o)."""
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import torch

from ..engine.lstm import compiled_activation_reason, lstm_scan
from ..engine.native import KernelChoice
from .recurrent_cell import RecurrentCell
from .rnn import CellRNN

if TYPE_CHECKING:
    from .plan import Fold


class LSTMCell(RecurrentCell):
    """One step of a Long Short-Term Memory layer (Keras `LSTMCell`).

    Args:
        units: size of the output and of each state (h, c).
        activation: "tanh" (default); recurrent_activation: "sigmoid" (default).
        unit_forget_bias: add 1 to the forget-gate bias at initialisation (default True).
        use_bias, initializers, regularizers, dropout, recurrent_dropout, seed: as Keras.
        implementation: 1 or 2, accepted as Keras does; the results are the same either way.

    Shapes, with B batch, F input features, H units: a step maps inputs (B, F) and the states
    h, c (B, H) to the output and new states (B, H).

    Weights (Keras order): kernel (F, 4H), recurrent_kernel (H, 4H), bias (4H,), gates in the
    order i, f, c, o.
    """

    gate_count = 4
    torch_rnn_kind = "lstm"  # its PyTorch fused-RNN counterpart (layers.cudnn_route)

    def __init__(self, units: int, unit_forget_bias: bool = True, implementation: int = 2, **kwargs) -> None:
        super().__init__(units, **kwargs)
        self.unit_forget_bias = unit_forget_bias
        # Keras's choice between fused and per-gate matrix products (1 with recurrent dropout); kept
        # for compatibility, out of the config as in Keras: rnnkit's kernel is the same either way.
        self.implementation = 1 if self.recurrent_dropout else implementation

    @property
    def state_size(self) -> List[int]:
        return [self.units, self.units]

    def init_bias_(self, bias: torch.Tensor) -> None:
        super().init_bias_(bias)
        if self.unit_forget_bias:
            torch.nn.init.ones_(bias[self.units : 2 * self.units])

    def step(self, x: torch.Tensor, states: List[torch.Tensor],
             rmask: Optional[torch.Tensor]) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        h, c = states
        hd = h if rmask is None else h * rmask
        z = x @ self.kernel + hd @ self.recurrent_kernel
        if self.bias is not None:
            z = z + self.bias
        zi, zf, zg, zo = z.chunk(4, dim=-1)
        sigma, phi = self.recurrent_activation.fn, self.activation.fn
        c = sigma(zf) * c + sigma(zi) * phi(zg)
        h = sigma(zo) * phi(c)
        return h, [h, c]

    def run_kernel(self, x: torch.Tensor, states: List[torch.Tensor], mask: Optional[torch.Tensor],
                   rmask: Optional[torch.Tensor], compute_dtype: Optional[torch.dtype] = None,
                   choice: Optional[KernelChoice] = None,
                   fold: Optional["Fold"] = None) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        xp = self.input_projection(x, self.bias, fold)  # (B, T, 4H)
        hs, c_last = lstm_scan(
            xp, self.recurrent_kernel, states[0], states[1], mask, rmask, self.activation, self.recurrent_activation,
            compute_dtype, choice,
        )
        return hs, [hs[:, -1], c_last]

    def compiled_kernel_reason(self) -> Optional[str]:
        return compiled_activation_reason(self.activation, self.recurrent_activation)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class LSTM(CellRNN):
    """Long Short-Term Memory layer (Keras `LSTM`).

    Args:
        units: size of the output and states.
        activation ("tanh"), recurrent_activation ("sigmoid"), use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, unit_forget_bias (True), kernel_regularizer,
        recurrent_regularizer, bias_regularizer, dropout, recurrent_dropout, seed: as `LSTMCell`.
        return_sequences, return_state, go_backwards, stateful, unroll: as `RNN`.

    Call arguments (B batch, T time steps, F input features, H units): sequences (B, T, F),
    initial_state [h (B, H), c (B, H)], mask (B, T), training.

    Output shape: (B, H) or (B, T, H); with return_state, (output, h (B, H), c (B, H)).

    Example:
        >>> encoder = LSTM(64, return_state=True)
        >>> output, state_h, state_c = encoder(torch.randn(32, 10, 64))
    """

    cell_class = LSTMCell
    takes_use_cudnn = True
