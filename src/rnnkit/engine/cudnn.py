"""SimpleRNN, LSTM and GRU through PyTorch's own RNN functions (cuDNN on CUDA), from Keras-layout weights.

PyTorch's fused RNN (`torch._VF.rnn_tanh / rnn_relu / lstm / gru`, what `nn.RNN/LSTM/GRU` call)
runs cuDNN on CUDA and its own kernels on the CPU, with the same results; so the weight mapping
below is tested on the CPU against rnnkit's compiled kernels and needs no GPU to be checked.

Keras layout -> PyTorch layout (W: kernel (F, G*H), U: recurrent_kernel (H, G*H), columns by gate):
    SimpleRNN  h = act(x W + b + h U)            weight_ih = W^T, weight_hh = U^T, bias_ih = b, bias_hh = 0
    LSTM       gates i, f, c, o                  the same order in PyTorch (i, f, g, o): W^T, U^T, b, 0
    GRU        gates z, r, h (reset_after)       PyTorch's order is r, z, n: the first two column blocks
               bias (2, 3H): input, recurrent    swap; bias_ih = b[0], bias_hh = b[1] with the same swap
The GRU equations agree: r and z from both products and biases, n = tanh(x W_n + b_in + r (h U_n + b_hn)),
h' = z h + (1 - z) n.

Masks: right-padded sequences (every row True for its first `length` steps, False after, length >= 1)
run as a packed sequence, so each sequence stops at its length; rnnkit's kernels carry the state
through masked steps, so the padded tail of the outputs is filled with the final state to match.
"""
from typing import List, Optional, Tuple

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

# PyTorch's function for each cell kind (SimpleRNN by its activation)
FUNCTIONS = {"tanh": torch._VF.rnn_tanh, "relu": torch._VF.rnn_relu, "lstm": torch._VF.lstm, "gru": torch._VF.gru}


def right_padded_lengths(mask: torch.Tensor) -> Optional[torch.Tensor]:
    """The length of each sequence (batch,) int64 on the CPU when the (batch, time) boolean `mask`
    is right-padded with no empty sequence, else None (the layout the fused RNN cannot run)."""
    lengths = mask.sum(dim=1)
    steps = torch.arange(mask.shape[1], device=mask.device)
    if bool((lengths == 0).any()) or not bool(torch.equal(mask, steps[None, :] < lengths[:, None])):
        return None
    return lengths.cpu()


def _swap_first_two_gates(weight: torch.Tensor, units: int) -> torch.Tensor:
    """Keras GRU gate blocks z, r, h -> PyTorch's r, z, n along the last axis."""
    return torch.cat([weight[..., units : 2 * units], weight[..., :units], weight[..., 2 * units :]], dim=-1)


def torch_weights(kind: str, kernel: torch.Tensor, recurrent_kernel: torch.Tensor,
                  bias: Optional[torch.Tensor]) -> List[torch.Tensor]:
    """[weight_ih, weight_hh, bias_ih, bias_hh] for PyTorch's RNN function of `kind` ("tanh", "relu",
    "lstm", "gru") from Keras's kernel (F, G*H), recurrent_kernel (H, G*H) and bias ((G*H,), or
    (2, 3H) for a reset_after GRU); gradients flow back to the Keras weights."""
    units = recurrent_kernel.shape[0]
    if kind == "gru":
        kernel, recurrent_kernel = (_swap_first_two_gates(w, units) for w in (kernel, recurrent_kernel))
        bias_ih, bias_hh = _swap_first_two_gates(bias, units).unbind(0)
    else:
        bias_ih, bias_hh = bias, torch.zeros_like(bias)  # Keras has one bias: the recurrent one is 0
    return [kernel.t(), recurrent_kernel.t(), bias_ih, bias_hh]


def torch_rnn_scan(
    kind: str,
    x: torch.Tensor,
    kernel: torch.Tensor,
    recurrent_kernel: torch.Tensor,
    bias: torch.Tensor,
    states: List[torch.Tensor],
    lengths: Optional[torch.Tensor] = None,
) -> Tuple[torch.Tensor, List[torch.Tensor]]:
    """Runs a recurrent layer over `x` (batch, time, features) with PyTorch's fused RNN.

    Args:
        kind: "tanh" or "relu" (SimpleRNN with that activation), "lstm", or "gru" (reset_after).
        kernel, recurrent_kernel, bias: the Keras-layout weights (see the module docstring).
        states: the initial states, [h0] or for LSTM [h0, c0], each (batch, units).
        lengths: for right-padded sequences, each one's length (batch,) int64 on the CPU
            (`right_padded_lengths`); None when every step of every sequence runs.

    Returns:
        (hs (batch, time, units), final states): as rnnkit's kernels give them, i.e. past a
        sequence's length its outputs repeat its final state.
    """
    params = torch_weights(kind, kernel, recurrent_kernel, bias)
    hx = tuple(s.unsqueeze(0).contiguous() for s in states)  # (1, batch, units): one layer, one direction
    hx = hx if kind == "lstm" else hx[0]
    function = FUNCTIONS[kind]
    # (input, [batch_sizes,] hx, params, has_biases, num_layers, dropout, train, bidirectional[, batch_first])
    if lengths is None:
        out, *final = function(x, hx, params, True, 1, 0.0, False, False, True)
        return out, [f[0] for f in final]
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    hx = tuple(h[:, packed.sorted_indices] for h in hx) if kind == "lstm" else hx[:, packed.sorted_indices]
    out, *final = function(packed.data, packed.batch_sizes, hx, params, True, 1, 0.0, False, False)
    final = [f[0, packed.unsorted_indices] for f in final]
    out = packed._replace(data=out)
    hs, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])  # zeros past each length
    steps = torch.arange(x.shape[1], device=x.device)
    running = (steps[None, :] < lengths.to(x.device)[:, None]).unsqueeze(-1)  # (batch, time, 1)
    return torch.where(running, hs, final[0].unsqueeze(1)), final
