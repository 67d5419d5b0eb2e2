"""Whether a recurrent layer's call goes through PyTorch's cuDNN RNN, as Keras decides it.

Keras runs an LSTM or GRU on cuDNN when cuDNN computes exactly what the layer does: default
activations (tanh, and sigmoid for the gates), a bias, no recurrent dropout, GRU with
reset_after=True, unroll=False, and a mask (if any) that right-pads every sequence. `use_cudnn`
"auto" then takes cuDNN on CUDA and falls back otherwise; True raises where it cannot be honoured;
False never takes it. rnnkit applies the same test to SimpleRNN (tanh or relu, "auto" only, since
Keras's SimpleRNN has no use_cudnn), and says why when the answer is no.
"""
from typing import Any, Optional, Tuple

import torch

from ..engine.cudnn import right_padded_lengths
from .base import Layer

# The gate activations cuDNN's LSTM and GRU have
CUDNN_ACTIVATIONS = ("tanh", "sigmoid")


def cudnn_kind(layer: Layer, device_type: str) -> Tuple[Optional[str], Optional[str]]:
    """(PyTorch RNN kind, None) when cuDNN can run the layer on this device, else (None, reason)."""
    cell = layer.cell
    kind = getattr(cell, "torch_rnn_kind", None)
    if kind is None:
        return None, f"its cell {type(cell).__name__} is not a built-in SimpleRNN, LSTM or GRU cell"
    activation = cell.activation.name
    if kind == "simple_rnn":
        if activation not in ("tanh", "relu"):
            return None, f"activation={activation!r} (cuDNN's SimpleRNN has tanh and relu)"
        kind = activation
    elif (activation, cell.recurrent_activation.name) != CUDNN_ACTIVATIONS:
        return None, (
            f"activation={activation!r}, recurrent_activation={cell.recurrent_activation.name!r} "
            "(cuDNN has tanh and sigmoid)"
        )
    if kind == "gru" and not cell.reset_after:
        return None, "reset_after=False (cuDNN's GRU applies the reset gate after the recurrent product)"
    if not cell.use_bias:
        return None, "use_bias=False"
    if cell.recurrent_dropout:
        return None, f"recurrent_dropout={cell.recurrent_dropout} (cuDNN has no recurrent dropout)"
    if layer.unroll:
        return None, "unroll=True"
    if device_type != "cuda":
        return None, _off_cuda(device_type)
    return kind, None


def _off_cuda(device_type: str) -> str:
    return f"the inputs are on {device_type} (cuDNN runs on CUDA)"


def cudnn_route(layer: Layer, sequences: Any, mask: Optional[torch.Tensor]) -> Tuple[Optional[Tuple[str, Optional[torch.Tensor]]], Optional[str]]:
    """Whether this call of `layer` on `sequences` (B, T, F) with `mask` (B, T) goes through
    PyTorch's fused RNN (`engine.cudnn.torch_rnn_scan`): ((kind, lengths), None) when it does, else
    (None, the reason, or None where cuDNN is not a candidate at all: use_cudnn=False, a layer
    around a cell, nested inputs). `lengths` (B,) are the right-padded lengths, None without a mask.

    Raises:
        ValueError: for `use_cudnn=True` when cuDNN cannot run this call, naming the reason.
    """
    # Read from the instance: SimpleRNN has no use_cudnn, and a getattr would search its cell's
    # config (CellRNN.__getattr__) at every call.
    use_cudnn = vars(layer).get("use_cudnn", "auto")
    # Only the SimpleRNN, LSTM and GRU layers, as Keras (an RNN around a cell loops the cell).
    if use_cudnn is False or getattr(layer, "cell_class", None) is None or not isinstance(sequences, torch.Tensor):
        return None, None
    if use_cudnn == "auto" and sequences.device.type != "cuda":
        return None, _off_cuda(sequences.device.type)  # the common CPU call, without weighing the cell
    kind, reason = cudnn_kind(layer, sequences.device.type)
    lengths = None
    if kind is not None and mask is not None:
        lengths = right_padded_lengths(mask)
        if lengths is None:
            kind, reason = None, "the mask is not right-padded (or a sequence is fully masked)"
    if kind is None:
        if use_cudnn is True:
            raise ValueError(
                f"{type(layer).__name__} '{layer.name}': use_cudnn=True, but cuDNN cannot run this call: "
                f"{reason}. Pass use_cudnn='auto' to fall back to rnnkit's kernels."
            )
        return None, reason
    return (kind, lengths), None
