"""GRUCell and GRU (Keras gate order z, r, h; reset_after=True by default, as Keras 3)."""
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import torch

from ..engine.gru import compiled_activation_reason, gru_scan
from ..engine.native import KernelChoice
from .recurrent_cell import RecurrentCell
from .rnn import CellRNN

if TYPE_CHECKING:
    from .plan import Fold


class GRUCell(RecurrentCell):
    """One step of a Gated Recurrent Unit (Keras `GRUCell`).

    Args:
        units: size of the output and state.
        activation: "tanh" (default); recurrent_activation: "sigmoid" (default).
        reset_after: apply the reset gate after the recurrent matrix product (default True,
            cuDNN-compatible, bias of shape (2, 3*units)); False: before it, bias (3*units,).
        use_bias, initializers, regularizers, dropout, recurrent_dropout, seed: as Keras.
        implementation: 1 or 2, accepted as Keras does; the results are the same either way.

    Shapes, with B batch, F input features, H units: a step maps inputs (B, F) and the state
    (B, H) to the output and new state (B, H).

    Weights (Keras order): kernel (F, 3H), recurrent_kernel (H, 3H), bias (2, 3H) (reset_after) or (3H,).
    """

    gate_count = 3
    torch_rnn_kind = "gru"  # its PyTorch fused-RNN counterpart (layers.cudnn_route)

    def __init__(self, units: int, reset_after: bool = True, implementation: int = 2, **kwargs) -> None:
        super().__init__(units, **kwargs)
        self.reset_after = reset_after
        # Keras's choice between fused and per-gate matrix products (1 with recurrent dropout); kept
        # for compatibility, out of the config as in Keras: rnnkit's kernel is the same either way.
        self.implementation = 1 if self.recurrent_dropout else implementation

    def bias_shape(self) -> Tuple[int, ...]:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _biases(self):
        """(input bias, recurrent bias); the recurrent one exists only with reset_after."""
        if self.bias is None:
            return None, None
        if self.reset_after:
            return self.bias[0], self.bias[1]
        return self.bias, None

    def step(self, x: torch.Tensor, states: List[torch.Tensor],
             rmask: Optional[torch.Tensor]) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        h = states[0]
        hd = h if rmask is None else h * rmask
        b_in, b_rec = self._biases()
        xp = x @ self.kernel if b_in is None else x @ self.kernel + b_in
        xz, xr, xh = xp.chunk(3, dim=-1)
        sigma, phi = self.recurrent_activation.fn, self.activation.fn
        U = self.recurrent_kernel
        if self.reset_after:
            u = hd @ U if b_rec is None else hd @ U + b_rec
            uz, ur, uh = u.chunk(3, dim=-1)
            z, r = sigma(xz + uz), sigma(xr + ur)
            hh = phi(xh + r * uh)
        else:
            uz, ur = (hd @ U[:, : 2 * self.units]).chunk(2, dim=-1)
            z, r = sigma(xz + uz), sigma(xr + ur)
            hh = phi(xh + (r * hd) @ U[:, 2 * self.units :])
        h = z * h + (1 - z) * hh
        return h, [h]

    def run_kernel(self, x: torch.Tensor, states: List[torch.Tensor], mask: Optional[torch.Tensor],
                   rmask: Optional[torch.Tensor], compute_dtype: Optional[torch.dtype] = None,
                   choice: Optional[KernelChoice] = None,
                   fold: Optional["Fold"] = None) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        b_in, b_rec = self._biases()
        xp = self.input_projection(x, b_in, fold)  # (B, T, 3H)
        hs = gru_scan(
            xp,
            self.recurrent_kernel,
            states[0],
            b_rec,
            mask,
            rmask,
            self.activation,
            self.recurrent_activation,
            self.reset_after,
            compute_dtype,
            choice,
        )
        return hs, [hs[:, -1]]

    def compiled_kernel_reason(self) -> Optional[str]:
        return compiled_activation_reason(self.activation, self.recurrent_activation, self.reset_after)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "reset_after": self.reset_after}


class GRU(CellRNN):
    """Gated Recurrent Unit layer (Keras `GRU`).

    Args:
        units: size of the output and state.
        activation ("tanh"), recurrent_activation ("sigmoid"), use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
        bias_regularizer, dropout, recurrent_dropout, seed, reset_after (True): as `GRUCell`.
        return_sequences, return_state, go_backwards, stateful, unroll: as `RNN`.

    Call arguments (B batch, T time steps, F input features, H units): sequences (B, T, F),
    initial_state [(B, H)], mask (B, T), training.

    Output shape: (B, H), or (B, T, H) with return_sequences.

    Example:
        >>> gru = GRU(1024, return_sequences=True, stateful=True)
    """

    cell_class = GRUCell
    takes_use_cudnn = True
