"""The whole training step of a small recurrent model in one function, without autograd.

For a model as small as the seed sine model (SimpleRNN(50) + Dense(1), batch 1) the compiled
kernels take ~40 us of a ~540 us step; the rest is the framework around them: module calls, the
loss's shape alignment and reduction, the autograd engine's graph and its Python backward. A
`WholeStep` runs forward, loss, backward and the optimizer update for the commonest small model,

    Sequential([recurrent layer (SimpleRNN, LSTM or GRU), Dense(units, linear)]) with the MSE loss,

as one call into the compiled kernels (`dense_mse_step` in engine/native_kernels.cpp, so that none
of its ~25 tensor operations pays Python's dispatch): one input-projection GEMM, the compiled
forward scan, the Dense GEMM, the loss, its gradient by hand, the Dense backward GEMMs, the
compiled backward scan, the weight-gradient GEMMs; then the model's own optimizer on those
gradients. The kernels are the ones the layer-by-layer path calls, so the gradients match it to
float32 rounding (tests hold them to 1e-6). Every model, loss, option or input outside that shape
takes the ordinary path.

Equations (B batch, T steps, F features, U units, G = gates * U, D outputs), MSE over D:
    xp = x W + b                                   (B*T, F) x (F, G)
    hs = scan(xp, U, h0 = 0)                       (B, T, U); h = hs[:, -1] unless return_sequences
    y^ = h Wd + bd                                 (..., D)
    L  = w * sum((y^ - y)^2) / (D * N)             N: the number of per-sample losses (B, or B*T)
    dy^ = (y^ - y) * 2 w / (D * N)
    dWd = h^T dy^   dbd = sum dy^   dh = dy^ Wd^T
    dxp, dU = scan_backward(dh at the outputs)     dW = x^T dxp   db = sum dxp
"""
from __future__ import annotations

from types import ModuleType
from typing import Any

import torch

from ..engine.native import native_kernels
from ..engine.simple_rnn import NATIVE_ACTIVATIONS
from ..layers.base import get_mask
from ..layers.core import Dense
from ..layers.gru import GRUCell
from ..layers.lstm import LSTMCell
from ..layers.rnn import RNN
from ..layers.simple_rnn import SimpleRNNCell
from .losses import MeanSquaredError
from .optimizers import step_under_no_grad

_CELL_CODES = {"simple_rnn": 0, "lstm": 1, "gru": 2}  # dense_mse_step's cell argument


def _free_of_extras(layer):
    """True when no module of `layer` has a weight regularizer, constraint or activity regularizer:
    the step then has no penalty to add and no projection to apply after the update."""
    return not any(
        getattr(module, "_regularized", None) or getattr(module, "_constrained", None)
        or getattr(module, "activity_regularizer", None) is not None
        for module in layer.modules()
    )


def _recurrent_kind(layer):
    """'simple_rnn', 'lstm' or 'gru' when `layer` runs its whole sequence on the compiled dense
    kernel with nothing that the whole step leaves out, else None."""
    if not isinstance(layer, RNN) or layer.stateful or layer.go_backwards or layer.return_state:
        return None
    cell = layer.cell
    if type(cell) not in (SimpleRNNCell, LSTMCell, GRUCell) or not cell.built or cell.bias is None:
        return None
    if cell.dropout or cell.recurrent_dropout:
        return None
    if type(cell) is SimpleRNNCell:
        return "simple_rnn" if cell.activation.name in NATIVE_ACTIVATIONS else None
    if cell.activation.name != "tanh" or cell.recurrent_activation.name != "sigmoid":
        return None
    if type(cell) is LSTMCell:
        return "lstm"
    return "gru" if cell.reset_after else None


class WholeStep:
    """One training step of a `Sequential([recurrent layer, Dense])` model under MSE, by hand.

    `WholeStep.of(model, x, y, sample_weight)` returns the step, or None for every model, loss,
    option or batch it does not cover (the caller then takes the ordinary path). What depends on
    the model alone is decided once per compile() and kept on the compiled configuration; the
    flags a user may still flip on layers afterwards, and the batch, are checked at every step."""

    def __init__(self, model: Any, rnn: RNN, dense: Dense, kind: str, native: ModuleType, loss_weight: float) -> None:
        self.model = model
        self.rnn, self.cell, self.dense = rnn, rnn.cell, dense
        self.kind = kind
        self.native = native
        self.loss_weight = loss_weight
        self.params = list(model.parameters())
        self._no_bias = torch.empty(0)  # the kernel's "Dense without bias"

    @classmethod
    def of(cls, model: Any, x: Any, y: Any, sample_weight: Any) -> WholeStep | None:
        """The whole step for this model and batch, or None where it does not apply."""
        compiled = model._compiled
        if compiled.losses is None:  # resolved by the first (ordinary) step
            return None
        if compiled.whole_step is None or compiled.whole_step[0] is not model.optimizer:
            compiled.whole_step = (model.optimizer, cls._for_model(model))
        step = compiled.whole_step[1]
        if step is None or sample_weight is not None or model._parallel is not None or model._grad_norm_trackers:
            return None
        return step if step._accepts(x, y) else None

    @classmethod
    def _for_model(cls, model):
        # Only a plain Sequential: its call is its layers applied in order (a subclass may differ).
        if not type(model).__dict__.get("calls_layers_in_order", False) or model.optimizer is None:
            return None
        layers = model.layers
        if len(layers) != 2:
            return None
        rnn, dense = layers
        kind = _recurrent_kind(rnn)
        if kind is None or not isinstance(dense, Dense) or dense.activation.name != "linear" or not dense.built:
            return None
        if not (_free_of_extras(rnn) and _free_of_extras(dense)):
            return None
        # The step computes in float32; a layer under a mixed-precision policy (Keras's compute_dtype)
        # takes the ordinary path, which honours it.
        if any(str(getattr(layer, "compute_dtype", "float32")).replace("torch.", "") != "float32" for layer in layers):
            return None
        compiled = model._compiled
        loss = compiled.losses[0] if len(compiled.losses) == 1 else None
        if type(loss) is not MeanSquaredError or loss.reduction != "sum_over_batch_size":
            return None
        native = native_kernels()
        if native is None:
            return None
        return cls(model, rnn, dense, kind, native, float(compiled.weights[0]))

    def _accepts(self, x, y):
        """Whether this batch, and the layers' flags as they are now, are covered."""
        rnn, cell = self.rnn, self.cell
        if rnn.stateful or rnn.go_backwards or rnn.return_state or cell.dropout or cell.recurrent_dropout:
            return False
        if not torch.is_grad_enabled():
            return False
        # is_cpu rather than device.type == "cpu", which builds a device object per tensor per step
        if not all(p.requires_grad and p.dtype == torch.float32 and p.is_cpu for p in self.params):
            return False
        if not (isinstance(x, torch.Tensor) and x.dtype == torch.float32 and x.is_cpu
                and x.dim() == 3 and x.shape[0] > 0 and x.shape[1] > 0 and x.shape[2] == cell.kernel.shape[0]
                and get_mask(x) is None):
            return False
        units = self.dense.units
        out_shape = (x.shape[0], x.shape[1], units) if rnn.return_sequences else (x.shape[0], units)
        return isinstance(y, torch.Tensor) and y.dtype == torch.float32 and tuple(y.shape) == out_shape

    @torch.no_grad()
    def run(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward, loss, backward and the optimizer update on (x, y); returns (loss, outputs)."""
        cell, dense = self.cell, self.dense
        code = NATIVE_ACTIVATIONS[cell.activation.name] if self.kind == "simple_rnn" else 0
        # Each weight read once: a module's parameters are found by nn.Module.__getattr__, ~0.4 us a read.
        weights = (cell.kernel, cell.recurrent_kernel, cell.bias, dense.kernel, dense.bias)
        loss, outputs, *grads = self.native.dense_mse_step(
            _CELL_CODES[self.kind], code, x, *weights[:4], self._no_bias if weights[4] is None else weights[4], y,
            self.loss_weight, self.rnn.return_sequences,
        )
        # Every parameter of the model gets its gradient here, which replaces zero_grad().
        for param, grad in zip(weights, grads):
            if param is not None:
                param.grad = grad
        step_under_no_grad(self.model.optimizer)
        return loss, outputs
