"""PyTorch import: `torch.nn.RNN`, `torch.nn.LSTM` and `torch.nn.GRU` as rnnkit layers computing the same function.

The two libraries write the same equations with differently laid-out weights:

- matrices: torch keeps `weight_ih (gates*H, input)` and `weight_hh (gates*H, H)`, Keras the transposes,
  `kernel (input, gates*H)` and `recurrent_kernel (H, gates*H)`;
- gate order: LSTM i, f, g, o in torch is Keras's i, f, c, o (the same); GRU r, z, n in torch becomes
  Keras's z, r, h;
- biases: torch adds two, `bias_ih` and `bias_hh`. For SimpleRNN and LSTM they only ever appear summed,
  so they fold into Keras's one `bias`. GRU applies the reset gate to `W_hn h + b_hn`, which is Keras's
  `reset_after=True` form; its bias `(2, 3H)` holds the input bias row, then the recurrent one.

Layout: torch modules with `batch_first=False` (torch's default) take time-major input
`(time, batch, features)`; the rnnkit result always takes batch-major input `(batch, time, features)`,
so feed it `x.transpose(0, 1)` of what the torch module took and compare with its output transposed
the same way.
"""
from __future__ import annotations

import torch
from torch import nn

from ..layers.base import Layer
from ..layers.bidirectional import Bidirectional
from ..layers.core import Dropout
from ..layers.gru import GRU
from ..layers.lstm import LSTM
from ..layers.simple_rnn import SimpleRNN
from ..models.model import Model
from ..models.sequential import Sequential
from ..models.symbolic import Input

__all__ = ["from_torch"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def from_torch(module: nn.RNNBase, batch_first: bool | None = None, return_state: bool = False) -> Layer:
    """Turns a `torch.nn.RNN`, `torch.nn.LSTM` or `torch.nn.GRU` into rnnkit layers computing the same function.

    Any `num_layers`, `bidirectional`, `bias`, `batch_first`, and `nonlinearity` ("tanh" or "relu")
    are supported. Every recurrent layer returns sequences, as torch's output is the last layer's
    whole output sequence.

    - one unidirectional layer: a `SimpleRNN`, `LSTM` or `GRU` layer;
    - several layers, or bidirectional ones: a `Sequential` of them, each direction pair a
      `Bidirectional(..., merge_mode="concat")` (torch concatenates forward and backward outputs);
      torch's `dropout` between layers becomes a `Dropout` layer between them (active in training only,
      as in torch).

    The result is float32 or float64 like the module's weights, on the module's device.

    Args:
        module: a `torch.nn.RNN`, `torch.nn.LSTM` (without `proj_size`) or `torch.nn.GRU`.
        batch_first: the input layout of the result. rnnkit layers take batch-major input
            `(batch, time, features)` only, so None (default) or True; the module's own `batch_first`
            does not matter (a time-major torch module's input is `x`, the result's is `x.transpose(0, 1)`).
        return_state: also return the final states. Then the result is the one layer (with
            `return_state=True`), or a functional `Model` for several layers or directions, and
            returns `(output, *states)` with the states layer by layer, forward then backward, each
            `h` (RNN, GRU) or `h, c` (LSTM): torch's `h_n[k]` (and `c_n[k]`) in that order.

    Returns:
        an rnnkit layer or model, built, holding the module's weights.

    Raises:
        ValueError: `module` is not one of the three, is an LSTM with `proj_size > 0`, or
            `batch_first=False` was asked for.

    Example:
        >>> torch_lstm = torch.nn.LSTM(8, 16, num_layers=2, batch_first=True)
        >>> model = rnnkit.io.from_torch(torch_lstm)
        >>> x = torch.randn(4, 10, 8)
        >>> torch.allclose(model(x), torch_lstm(x)[0], atol=1e-5)
        True
    """
    _check_module(module)
    if batch_first not in (None, True):
        raise ValueError(
            f"from_torch: rnnkit layers take batch-major input (batch, time, features), so batch_first must be "
            f"None or True, got {batch_first!r}; feed the result x.transpose(0, 1) of time-major input x."
        )
    weight = module.weight_ih_l0
    dtype = str(weight.dtype).replace("torch.", "")
    if dtype not in ("float32", "float64"):
        raise ValueError(f"from_torch: expected float32 or float64 weights, got {dtype}; call module.float() first.")
    directions = 2 if module.bidirectional else 1
    input_size = module.input_size
    layers = []
    for k in range(module.num_layers):
        if k > 0 and module.dropout > 0:
            layers.append(Dropout(module.dropout))
        layer = _recurrent_layer(module, dtype, return_state)
        if directions == 2:
            layer = Bidirectional(layer, merge_mode="concat", dtype=dtype)
        layer.build((None, None, input_size))
        layer.set_weights([w for d in range(directions) for w in _keras_weights(module, k, d)])
        layers.append(layer)
        input_size = module.hidden_size * directions

    if len(layers) == 1 and directions == 1:
        result = layers[0]
    elif not return_state:
        result = Sequential([Input(shape=(None, module.input_size), dtype=dtype)] + layers, dtype=dtype)
    else:
        result = _functional_with_states(layers, module.input_size, dtype)
    return result.to(weight.device)


def _check_module(module):
    if not isinstance(module, nn.RNNBase) or module.mode not in _GATES:
        raise ValueError(
            "from_torch expects a torch.nn.RNN, torch.nn.LSTM or torch.nn.GRU, "
            f"got {type(module).__name__}."
        )
    if getattr(module, "proj_size", 0) > 0:
        raise ValueError(
            f"from_torch: LSTM with proj_size={module.proj_size} (a projected hidden state) has no rnnkit "
            "equivalent; only proj_size=0 is supported."
        )


def _recurrent_layer(module, dtype, return_state):
    """An unbuilt rnnkit layer configured like one layer of `module` (one direction)."""
    common = dict(units=module.hidden_size, use_bias=module.bias, return_sequences=True,
                  return_state=return_state, dtype=dtype)
    if module.mode == "LSTM":
        return LSTM(**common)
    if module.mode == "GRU":
        return GRU(reset_after=True, **common)
    return SimpleRNN(activation="tanh" if module.mode == "RNN_TANH" else "relu", **common)


def _keras_weights(module, layer_index, direction):
    """Keras's `[kernel, recurrent_kernel, (bias)]` as numpy arrays for one layer and direction of `module`."""
    suffix = f"_l{layer_index}" + ("_reverse" if direction else "")
    w_ih, w_hh = getattr(module, "weight_ih" + suffix), getattr(module, "weight_hh" + suffix)
    b_ih = getattr(module, "bias_ih" + suffix) if module.bias else None
    b_hh = getattr(module, "bias_hh" + suffix) if module.bias else None
    if module.mode == "GRU":
        order = _gru_gate_order(module.hidden_size, w_ih.device)
        w_ih, w_hh = w_ih[order], w_hh[order]
        bias = None if b_ih is None else torch.stack([b_ih[order], b_hh[order]])
    else:
        bias = None if b_ih is None else b_ih + b_hh
    weights = [w_ih.t(), w_hh.t()] + ([bias] if bias is not None else [])
    return [w.detach().cpu().numpy() for w in weights]


def _gru_gate_order(hidden_size, device):
    """Row indices taking torch's GRU gates r, z, n to Keras's z, r, h."""
    r, z, n = torch.arange(3 * hidden_size, device=device).chunk(3)
    return torch.cat([z, r, n])


def _functional_with_states(layers, input_size, dtype):
    """A functional model running `layers` in order and returning `[output, *every layer's final states]`."""
    inputs = Input(shape=(None, input_size), dtype=dtype)
    x, states = inputs, []
    for layer in layers:
        if isinstance(layer, Dropout):
            x = layer(x)
            continue
        x, *layer_states = layer(x)
        states.extend(layer_states)
    return Model(inputs, [x] + states)
