"""ONNX export: `export_onnx(model, path)` writes an inference graph that onnxruntime runs with any
batch size and sequence length.

The model is traced with PyTorch's TorchScript-based exporter (`torch.onnx.export(..., dynamo=False)`).
While it is traced, every recurrent layer (SimpleRNN, LSTM, GRU, `RNN` over those cells or a stack of
them, and both directions of a `Bidirectional`) runs an export-only `call` that emits ONNX's own
`RNN` / `LSTM` / `GRU` operator, so the time loop stays a single node and the sequence length stays
dynamic. Embedding (Gather), Dense (MatMul + Add) and the merge of `Bidirectional` are exported by
PyTorch as they are. Nothing is changed on the model: the export-only `call` is set on the layer
instances for the duration of the export and removed afterwards.

Weight layouts (Keras -> ONNX): kernel (in, G*H) -> W (1, G*H, in); recurrent_kernel (H, G*H) ->
R (1, G*H, H); bias -> B (1, 2*G*H) = [input bias, recurrent bias (zeros unless GRU reset_after)].
Gate orders: LSTM Keras i, f, c, o -> ONNX i, o, f, c; GRU z, r, h in both (Keras reset_after=True is
ONNX linear_before_reset=1). The sequence is transposed to ONNX's time-major layout around each op.

Not exportable (each a ValueError naming the layer): masks (`Embedding(mask_zero=True)`, `Masking`, or
a mask passed to a recurrent layer: ONNX's `sequence_lens` does not give Keras's masking semantics),
stateful layers, activations other than ONNX's defaults (LSTM/GRU: tanh with sigmoid gates;
SimpleRNN: tanh, relu or sigmoid), and recurrent layers over custom cells.
"""
from __future__ import annotations

import importlib.util
import os
import types
import warnings
from collections.abc import Sequence

import torch

from ..files import write_atomically
from ..layers.core import Embedding, Masking
from ..layers.gru import GRUCell
from ..layers.lstm import LSTMCell
from ..layers.rnn import RNN, StackedRNNCells
from ..layers.simple_rnn import SimpleRNNCell
from ..models.model import Model

__all__ = ["export_onnx"]

_SIMPLE_RNN_ACTIVATIONS = {"tanh": "Tanh", "relu": "Relu", "sigmoid": "Sigmoid"}


# --------------------------------------------------------------------------- the ONNX operators
def _absent(g):
    """An omitted optional input of an ONNX node."""
    node = g.op("prim::Constant")
    node.setType(torch._C.OptionalType.ofTensor())
    return node


class _Spec:
    """The cell, carried through `Function.apply` as a plain Python value (the tracer refuses
    modules and None there); `has_state`: whether initial states were given."""

    def __init__(self, cell, has_state):
        self.cell, self.has_state = cell, has_state


def _run_cell(spec, X, h0, c0):
    """What the ONNX op computes, in torch, to give the tracer its outputs: X (T, B, in) ->
    Y (T, 1, B, H), Y_h (1, B, H)[, Y_c]. Runs the layer's own kernel, untraced."""
    cell = spec.cell
    state = torch._C._get_tracing_state()
    torch._C._set_tracing_state(None)
    try:
        x = X.transpose(0, 1)
        count = 2 if isinstance(cell, LSTMCell) else 1
        if spec.has_state:
            states = [h0[0], c0[0]][:count]
        else:
            states = [x.new_zeros(x.shape[0], cell.units) for _ in range(count)]
        hs, finals = cell.run_kernel(x, states, None, None)
        return (hs.transpose(0, 1).unsqueeze(1).contiguous(),) + tuple(s.unsqueeze(0).contiguous() for s in finals)
    finally:
        torch._C._set_tracing_state(state)


def _state(g, spec, value):
    return value if spec.has_state else _absent(g)


class _OnnxSimpleRNN(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, W, R, B, h0, spec):
        return _run_cell(spec, X, h0, None)

    @staticmethod
    def symbolic(g, X, W, R, B, h0, spec):
        return g.op(
            "RNN", X, W, R, B, _absent(g), _state(g, spec, h0),
            activations_s=[_SIMPLE_RNN_ACTIVATIONS[spec.cell.activation.name]], hidden_size_i=spec.cell.units,
            outputs=2,
        )


class _OnnxLSTM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, W, R, B, h0, c0, spec):
        return _run_cell(spec, X, h0, c0)

    @staticmethod
    def symbolic(g, X, W, R, B, h0, c0, spec):
        return g.op(
            "LSTM", X, W, R, B, _absent(g), _state(g, spec, h0), _state(g, spec, c0),
            hidden_size_i=spec.cell.units, outputs=3,
        )


class _OnnxGRU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, W, R, B, h0, spec):
        return _run_cell(spec, X, h0, None)

    @staticmethod
    def symbolic(g, X, W, R, B, h0, spec):
        return g.op(
            "GRU", X, W, R, B, _absent(g), _state(g, spec, h0),
            hidden_size_i=spec.cell.units, linear_before_reset_i=int(spec.cell.reset_after), outputs=2,
        )


# ------------------------------------------------------------------------ weights, Keras -> ONNX
def _onnx_weights(cell):
    """(W, R, B) in ONNX's layouts and gate order, from the cell's Keras weights."""
    kernel, recurrent = cell.kernel, cell.recurrent_kernel
    width = kernel.shape[1]
    if isinstance(cell, LSTMCell):
        order = lambda m: torch.cat(_reorder_lstm(m.chunk(4, dim=-1)), dim=-1)  # noqa: E731
        kernel, recurrent = order(kernel), order(recurrent)
        b_in = order(cell.bias) if cell.bias is not None else kernel.new_zeros(width)
        b_rec = kernel.new_zeros(width)
    elif isinstance(cell, GRUCell):
        b_in, b_rec = cell._biases()
        b_in = b_in if b_in is not None else kernel.new_zeros(width)
        b_rec = b_rec if b_rec is not None else kernel.new_zeros(width)
    else:
        b_in = cell.bias if cell.bias is not None else kernel.new_zeros(width)
        b_rec = kernel.new_zeros(width)
    W = kernel.t().unsqueeze(0)
    R = recurrent.t().unsqueeze(0)
    B = torch.cat([b_in, b_rec]).unsqueeze(0)
    return W, R, B


def _reorder_lstm(gates):
    i, f, c, o = gates
    return i, o, f, c


def _onnx_cell(cell, X, states):
    """Runs one built-in cell as its ONNX op on time-major X; returns (Y (T, B, H), final states)."""
    W, R, B = _onnx_weights(cell)
    spec = _Spec(cell, states is not None)
    # Without initial states, a placeholder stands in (the ONNX node omits the input).
    h0 = states[0].unsqueeze(0) if states is not None else X.new_empty(0)
    if isinstance(cell, LSTMCell):
        c0 = states[1].unsqueeze(0) if states is not None else X.new_empty(0)
        Y, Y_h, Y_c = _OnnxLSTM.apply(X, W, R, B, h0, c0, spec)
        finals = [Y_h.squeeze(0), Y_c.squeeze(0)]
    else:
        op = _OnnxGRU if isinstance(cell, GRUCell) else _OnnxSimpleRNN
        Y, Y_h = op.apply(X, W, R, B, h0, spec)
        finals = [Y_h.squeeze(0)]
    return Y.squeeze(1), finals


def _export_call(self, sequences, initial_state=None, mask=None, training=False, _fold=None):
    """`RNN.call` while exporting: the same outputs as `RNN.call` (no mask, not stateful), through
    ONNX's recurrent operators. The Embedding fold a model hands over (`layers.plan.Fold`) is a speed
    path only: the exported graph keeps the lookup and the input projection."""
    if mask is not None:
        raise ValueError(
            f"export_onnx: layer '{self.name}' receives a mask; masked recurrent layers cannot be "
            "exported (ONNX sequence_lens does not reproduce Keras masking). Remove mask_zero/Masking."
        )
    if not isinstance(sequences, torch.Tensor) or sequences.dim() != 3:
        raise ValueError(f"export_onnx: layer '{self.name}' expects one (batch, time, features) tensor.")
    stacked = isinstance(self.cell, StackedRNNCells)
    cells = list(self.cell.cells) if stacked else [self.cell]
    if initial_state is not None:
        groups = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        groups = [list(g) if isinstance(g, (list, tuple)) else [g] for g in groups] if stacked else [groups]
    else:
        groups = [None] * len(cells)
    x = torch.flip(sequences, [1]) if self.go_backwards else sequences
    X = x.transpose(0, 1)
    finals = []
    for cell, group in zip(cells, groups):
        X, cell_finals = _onnx_cell(cell, X, group)
        finals.append(cell_finals)
    outputs = X.transpose(0, 1)
    output = outputs if self.return_sequences else finals[-1][0]
    if self.return_state:
        return (output, *(finals if stacked else finals[0]))
    return output


# ------------------------------------------------------------------------------------- checking
def _check_exportable(model):
    """The recurrent layers to patch; ValueError for what ONNX export cannot reproduce."""
    recurrent = []
    for module in model.modules():
        name = getattr(module, "name", type(module).__name__)
        if isinstance(module, Embedding) and module.mask_zero:
            raise ValueError(
                f"export_onnx: Embedding '{name}' has mask_zero=True; masked models cannot be exported "
                "(ONNX recurrent operators do not reproduce Keras masking). Use mask_zero=False."
            )
        if isinstance(module, Masking):
            raise ValueError(
                f"export_onnx: Masking layer '{name}' cannot be exported (ONNX recurrent operators do not "
                "reproduce Keras masking)."
            )
        if not isinstance(module, RNN):
            continue
        if module.stateful:
            raise ValueError(
                f"export_onnx: layer '{name}' is stateful; only stateless recurrent layers can be exported."
            )
        cells = list(module.cell.cells) if isinstance(module.cell, StackedRNNCells) else [module.cell]
        for cell in cells:
            if not isinstance(cell, (SimpleRNNCell, LSTMCell, GRUCell)):
                raise ValueError(
                    f"export_onnx: layer '{name}' runs a custom cell ({type(cell).__name__}); only "
                    "SimpleRNN, LSTM and GRU cells can be exported."
                )
            if isinstance(cell, SimpleRNNCell):
                if cell.activation.name not in _SIMPLE_RNN_ACTIVATIONS:
                    raise ValueError(
                        f"export_onnx: layer '{name}' uses activation {cell.activation.name!r}; ONNX RNN "
                        f"supports {sorted(_SIMPLE_RNN_ACTIVATIONS)} only."
                    )
            elif cell.activation.name != "tanh" or cell.recurrent_activation.name != "sigmoid":
                raise ValueError(
                    f"export_onnx: layer '{name}' uses activation={cell.activation.name!r}, "
                    f"recurrent_activation={cell.recurrent_activation.name!r}; only the defaults "
                    "(tanh, sigmoid) can be exported."
                )
        recurrent.append(module)
    return recurrent


def _model_inputs(model):
    """The model's symbolic inputs (shape and dtype), for an example input."""
    inputs = getattr(model, "_inputs", None)
    if inputs is None:
        single = getattr(model, "_input", None)
        inputs = [single] if single is not None else None
    return inputs


def _example(spec, batch, steps):
    shape = [batch if i == 0 else (steps if d is None else d) for i, d in enumerate(spec.shape)]
    dtype = spec.dtype if isinstance(spec.dtype, torch.dtype) else torch.get_default_dtype()
    if dtype.is_floating_point:
        return torch.randn(shape, dtype=dtype)
    return torch.zeros(shape, dtype=dtype)


# ---------------------------------------------------------------------------------------- export
def export_onnx(
    model: Model, path: str | os.PathLike, sample_input: torch.Tensor | Sequence[torch.Tensor] | None = None,
    opset_version: int = 17,
) -> str:
    """Writes `model` (a built rnnkit Sequential or functional Model, in inference mode) to an ONNX
    file whose inputs and outputs have a dynamic batch size (axis 0) and sequence length (axis 1).

    Args:
        model: a built model made of SimpleRNN / LSTM / GRU / RNN over those cells / Bidirectional /
            Embedding / Dense and other layers PyTorch can export.
        path: the .onnx file to write.
        sample_input: an example input (a tensor, or a list of tensors for several inputs) to trace
            with; by default random data (zeros for token ids) of the model's input shapes.
        opset_version: ONNX opset (default 17).

    Inputs are named "input_0", "input_1", ...; outputs "output_0", ... (ids as int64, as PyTorch
    gives them). Raises ValueError for what cannot be exported faithfully (masks, stateful layers,
    non-default activations, custom cells).

    Example:
        >>> export_onnx(model, "model.onnx")
        >>> session = onnxruntime.InferenceSession("model.onnx")
        >>> y = session.run(None, {"input_0": x.numpy()})[0]
    """
    if importlib.util.find_spec("onnx") is None:
        raise ImportError("export_onnx needs the onnx package: pip install onnx (or rnnkit[onnx]).")
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"export_onnx expects an rnnkit model, got {type(model).__name__}.")
    recurrent = _check_exportable(model)
    if sample_input is None:
        specs = _model_inputs(model)
        if not specs or not getattr(model, "built", False):
            raise ValueError(
                f"export_onnx: model '{getattr(model, 'name', type(model).__name__)}' has no known input "
                "shape; build it (give an Input, or call it once on data) or pass sample_input=."
            )
        sample = [_example(spec, 2, 3) for spec in specs]
    else:
        sample = list(sample_input) if isinstance(sample_input, (list, tuple)) else [sample_input]
        sample = [torch.as_tensor(x) for x in sample]
    for x in sample:
        if not x.is_floating_point() and x.dtype != torch.int64:
            raise ValueError(f"export_onnx: token-id inputs must be int64, got {x.dtype}.")

    input_names = [f"input_{i}" for i in range(len(sample))]
    dynamic_axes = {
        name: {0: "batch", **({1: f"time_{i}"} if x.dim() >= 2 else {})}
        for i, (name, x) in enumerate(zip(input_names, sample))
    }
    with torch.no_grad():
        reference = model(*sample)
    flat_out = list(reference) if isinstance(reference, (list, tuple)) else [reference]
    output_names = [f"output_{i}" for i in range(len(flat_out))]
    for name, y in zip(output_names, flat_out):
        dynamic_axes[name] = [0, 1] if y.dim() >= 3 else [0]

    patched = []
    was_training = model.training
    try:
        for layer in recurrent:
            layer.__dict__["call"] = types.MethodType(_export_call, layer)
            patched.append(layer)
        model.eval()
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # torch.onnx.export takes a file object: written atomically like every rnnkit file.
            write_atomically(path, lambda file: torch.onnx.export(
                model,
                tuple(sample),
                file,
                input_names=input_names,
                output_names=output_names,
                dynamic_axes=dynamic_axes,
                opset_version=opset_version,
                do_constant_folding=True,
                dynamo=False,
            ))
    finally:
        for layer in patched:
            layer.__dict__.pop("call", None)
        model.train(was_training)
    return str(path)
