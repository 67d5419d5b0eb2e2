"""The planner: which path one call of a recurrent layer takes, and why a faster one was not taken.

Every call of `RNN` (and so of SimpleRNN, LSTM, GRU, RNN(cell), StackedRNNCells, Bidirectional)
runs `plan(layer, inputs, mask, training, fold)` once and executes the `Plan` it returns; nothing
else picks a path. The paths, fastest first:

    cudnn            PyTorch's fused RNN (cuDNN on CUDA) for the whole sequence (`cudnn_route`)
    compiled         rnnkit's compiled kernel over every row and step (float32 on the CPU)
    compiled_nested  the compiled kernel over right- or left-padded sequences: each step runs on
                     the rows still active
    torch_ops        the hand-derived kernel written with PyTorch operations: any dtype and device,
                     recurrent dropout, any elementwise activation
    cell_loop        the cell's own call, step by step on autograd: custom cells, activations
                     that are not elementwise

An Embedding folded into the input projection is a fact the model hands in (`Fold`), never an
attribute of a tensor. `layer.explain(x)` and `model.explain(x)` print the plans; a layer that
runs a path far slower than the fast one for a reason its user can change warns once.
"""
import contextvars
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Tuple

import torch

from ..engine.native import COMPILED, COMPILED_NESTED, TORCH_OPS, KernelChoice, kernel_choice, runs_on_one_thread
from ..engine.nest import flatten
from .base import Layer
from .core import Embedding
from .cudnn_route import cudnn_route
from .recurrent_cell import RecurrentCell

CUDNN, CELL_LOOP = "cudnn", "cell_loop"
PATHS = (CUDNN, COMPILED, COMPILED_NESTED, TORCH_OPS, CELL_LOOP)
_SLOWNESS = {CUDNN: 0, COMPILED: 1, COMPILED_NESTED: 1, TORCH_OPS: 2, CELL_LOOP: 3}


@dataclass(frozen=True)
class Fold:
    """An Embedding's lookup, handed by a model to the one recurrent layer its output feeds, so
    that layer computes its input projection as a per-token table (`engine.embedding_projection`).

    embeddings: (V, F) table; ids: (B, T) token ids; output: the (B, T, F) Embedding output as the
    model passed it on, and its version counter then (an in-place change since refuses the fold).
    """

    embeddings: torch.Tensor
    ids: torch.Tensor
    output: torch.Tensor = field(repr=False)
    version: int = field(repr=False)

    @classmethod
    def of(cls, embedding: Embedding, ids: torch.Tensor, output: torch.Tensor) -> Optional["Fold"]:
        """The fold of `embedding`'s call on `ids` that gave `output`; None for inference tensors,
        which have no version counter to prove them unchanged."""
        if not isinstance(ids, torch.Tensor) or not isinstance(output, torch.Tensor) or output.is_inference():
            return None
        return cls(embedding.embeddings, ids, output, output._version)

    def reversed(self) -> "Fold":
        """The same fold for the sequence read backwards in time (go_backwards)."""
        return Fold(self.embeddings, torch.flip(self.ids, [1]), self.output, self.version)


def model_fold(layer: Layer, ids: Any, output: Any, consumer: Optional[Layer]) -> Optional[Fold]:
    """The fold a model hands to `consumer` when `layer` is an Embedding whose `output` (of `ids`)
    goes only into `consumer`, a recurrent layer (RNN or Bidirectional); else None. Models call it:
    only they know where an output goes."""
    if not isinstance(layer, Embedding) or not getattr(consumer, "accepts_fold", False):
        return None
    return Fold.of(layer, ids, output)


@dataclass(frozen=True)
class Plan:
    """How one call of a recurrent layer runs.

    Attributes:
        layer: the layer's name.
        path: one of PATHS (module docstring).
        reasons: why each faster path was not taken (and the fold refused), in words to act on.
        compute_dtype: the dtype the GEMMs run in ("float32"; "bfloat16" under mixed_bfloat16).
        folded: whether the Embedding before the layer is folded into its input projection.
        one_thread: whether the compiled time loop runs on one thread (small steps: see
            `engine.native.SMALL_STEP_FLOPS`).
        slow_reason: the reason, among `reasons`, that costs 5x or more and that the user can
            change (the layer warns once with it), or None.
    """

    layer: str
    path: str
    reasons: Tuple[str, ...] = ()
    compute_dtype: str = "float32"
    folded: bool = False
    one_thread: bool = False
    slow_reason: Optional[str] = None
    kernels: Tuple[KernelChoice, ...] = field(default=(), repr=False, compare=False)
    cudnn: Optional[Tuple[str, Any]] = field(default=None, repr=False, compare=False)

    def __str__(self) -> str:
        facts = [self.compute_dtype]
        if self.folded:
            facts.append("Embedding folded into the input projection")
        if self.one_thread:
            facts.append("time loop on one thread")
        lines = [f"{self.layer}: {self.path} ({', '.join(facts)})"]
        lines += [f"  - {reason}" for reason in self.reasons]
        return "\n".join(lines)


# When the PyTorch-op kernel or the per-step cell loop is 5x+ slower than the compiled kernel.
# Both pay a fixed dispatch cost per step that the compiled loop does not, so the ratio depends on
# how little work a step does. Measured forward + backward, training=True, one thread, process CPU
# time, AMD EPYC (2 shared cores), as ratios to the compiled kernel. PyTorch-op kernel
# (recurrent_dropout=0.2 / activation='elu' / float64; 'gelu' alike), then the cell loop
# (activation='softmax'):
#                         SimpleRNN              LSTM                    GRU
#   H50,  b1 x 10:        2.0 / 1.8 / 1.6, 2.6   4.0 / 4.2 / 3.7, 5.1    3.6 / 4.0 / 3.6, 5.4
#   H64,  b32 x 50, F16:  1.7 / 1.4 / 2.4, 2.3   2.4 / 2.7 / 4.4, 2.3    2.5 / 2.7 / 3.6, 3.1
#   H128, b64 x 100, F64: 1.5 / 1.1 / 2.7, 1.3   1.2 / 1.1 / 2.2, 1.2    1.3 / 1.4 / 2.4, 1.4
#   H32,  b8 x 200, F8:   3.0 / 2.9 / 3.0, 7.8   12.1 / 12.8 / 13.3, 21  6.8 / 8.2 / 8.0, 20
# So 5x+ takes a step GEMM under SLOW_STEP_FLOPS (b8 x H32: 0.02-0.07 MFLOP; b32 x H64: 0.26-1
# MFLOP) over SLOW_MIN_STEPS steps or more, and for the PyTorch-op kernel an LSTM or GRU cell.
SLOW_STEP_FLOPS = 200_000
SLOW_MIN_STEPS = 50


def _runs_5x_slower(path: str, cells, batch: int, steps: int) -> bool:
    """Whether `path` (TORCH_OPS or CELL_LOOP) runs 5x+ slower than the compiled kernel here."""
    flops = max(2 * batch * c.units * c.gate_count * c.units for c in cells)
    if steps < SLOW_MIN_STEPS or flops >= SLOW_STEP_FLOPS:
        return False
    return path == CELL_LOOP or any(c.gate_count > 1 for c in cells)


def plan(layer: Layer, inputs: Any, mask: Optional[torch.Tensor] = None, training: bool = False,
         fold: Optional[Fold] = None) -> Plan:
    """The path one call of the recurrent `layer` on `inputs` takes.

    Args:
        layer: an `RNN` (SimpleRNN, LSTM, GRU, RNN(cell)), built.
        inputs: (B, T, F) tensor, or a nested structure of (B, T, ...) tensors for custom cells.
        mask: (B, T) boolean step mask or None, as the call receives it (before go_backwards).
        training: whether dropout is active.
        fold: the Embedding fold the model offers for this call, or None.

    Raises:
        ValueError: for `use_cudnn=True` when cuDNN cannot run this call (as Keras).
    """
    cell = layer.cell
    cells = [cell] if isinstance(cell, RecurrentCell) else list(getattr(cell, "cells", [cell]))
    first = flatten(inputs)[0]
    if not all(isinstance(c, RecurrentCell) for c in cells):
        custom = next(c for c in cells if not isinstance(c, RecurrentCell))
        reason = f"{type(custom).__name__} is a custom cell: its call() runs step by step on autograd"
        return Plan(layer.name, CELL_LOOP, (reason,), _dtype_name(first.dtype))
    compute = cells[0]._mixed_compute(first)
    compute_dtype = _dtype_name(compute or cells[0].kernel.dtype)
    # The mask as the kernels see it: in the order the sequence runs.
    step_mask = None if mask is None else mask.to(device=first.device, dtype=torch.bool)
    if step_mask is not None and layer.go_backwards:
        step_mask = torch.flip(step_mask, [1])
    reasons = []
    route, why_not_cudnn = cudnn_route(layer, inputs, step_mask)
    if route is not None:
        return Plan(layer.name, CUDNN, (), compute_dtype, cudnn=route)
    if why_not_cudnn is not None and first.device.type == "cuda":
        reasons.append(f"not cuDNN: {why_not_cudnn}")
    batch, steps = first.shape[0], first.shape[1]
    loop = next((c for c in cells if not c.can_scan()), None)
    if loop is not None:
        name = loop.activation.name if not loop.activation.elementwise else loop.recurrent_activation.name
        reason = f"activation={name!r} is not elementwise: per-step cell loop"
        fix = "use an elementwise activation ('tanh' and 'sigmoid' have compiled kernels)"
        return Plan(layer.name, CELL_LOOP, tuple(reasons) + (reason,), compute_dtype,
                    slow_reason=f"{reason}; {fix}" if _runs_5x_slower(CELL_LOOP, cells, batch, steps) else None)
    cell_reasons = [_cell_reason(c, training) for c in cells]
    kernels = tuple(kernel_choice(c.kernel.dtype, c.kernel.device, step_mask, reason)
                    for c, (reason, _) in zip(cells, cell_reasons))
    path = max((k.path for k in kernels), key=_SLOWNESS.__getitem__)
    reasons += [k.reason for k in kernels if k.reason is not None and k.reason not in reasons]
    # Only the cell's own options are the user's to change for speed; a dtype (float64 is chosen
    # for precision), a device or a missing compiler are not, and never warn.
    changeable = [(reason, fix) for reason, fix in cell_reasons if reason]
    slow = path == TORCH_OPS and changeable and _runs_5x_slower(TORCH_OPS, cells, batch, steps)
    slow_reason = f"{changeable[0][0]}; {changeable[0][1]}" if slow else None
    folded = False
    if fold is not None:
        refusal = _fold_refusal(fold, cells[0], first, training)
        folded = refusal is None
        if refusal is not None:
            reasons.append(f"Embedding not folded: {refusal}")
    one_thread = path != TORCH_OPS and runs_on_one_thread(batch, *cells[0].recurrent_kernel.shape)
    return Plan(layer.name, path, tuple(reasons), compute_dtype, folded, one_thread, slow_reason, kernels)


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def _cell_reason(cell: RecurrentCell, training: bool) -> Tuple[Optional[str], Optional[str]]:
    """(why the compiled kernel cannot run `cell` in this call, what the user can do), or (None, None);
    every reason at once, so that fixing one does not reveal the next."""
    found = []
    if training and cell.recurrent_dropout:
        found.append((f"recurrent_dropout={cell.recurrent_dropout:g} has no compiled kernel",
                      "recurrent_dropout=0 runs compiled (dropout= on the inputs does too)"))
    reason = cell.compiled_kernel_reason()
    if reason:
        found.append((reason, "the defaults (activation='tanh', recurrent_activation='sigmoid', reset_after=True) "
                              "run compiled"))
    if not found:
        return None, None
    return "; ".join(r for r, _ in found), "; ".join(f for _, f in found)


def _fold_refusal(fold: Fold, cell: RecurrentCell, x: torch.Tensor, training: bool) -> Optional[str]:
    """Why the fold cannot stand in for the first cell's input projection in this call, or None."""
    embeddings, ids = fold.embeddings, fold.ids
    if training and cell.dropout > 0:
        return f"dropout={cell.dropout:g} changes the inputs after the lookup"
    if fold.output._version != fold.version:
        return "the Embedding's output was changed in place"
    if fold.output.requires_grad != (embeddings.requires_grad and torch.is_grad_enabled()):
        return "the Embedding's output and table disagree on gradients"
    if embeddings.dtype != cell.kernel.dtype or embeddings.device != cell.kernel.device:
        return (f"the table ({_dtype_name(embeddings.dtype)} on {embeddings.device.type}) and the kernel "
                f"({_dtype_name(cell.kernel.dtype)} on {cell.kernel.device.type}) differ")
    if tuple(ids.shape) != tuple(x.shape[:-1]):
        return f"ids of shape {tuple(ids.shape)} do not match the inputs {tuple(x.shape)}"
    if ids.numel() <= embeddings.shape[0]:
        return (f"the vocabulary ({embeddings.shape[0]} rows) is not smaller than batch x time "
                f"({ids.numel()}): the per-token table would not pay")
    return None


def warn_if_slow(layer: Layer, layer_plan: Plan) -> None:
    """Warns once per layer and reason when `layer_plan` runs a path 5x+ slower than the fast one
    for a reason the user can change. Only calls that record a backward pass warn: the ratios were
    measured forward + backward, and a model's shape probes (one sample, no_grad) are no evidence."""
    reason = layer_plan.slow_reason
    if reason is None or reason in layer._slow_paths_warned or not torch.is_grad_enabled():
        return
    layer._slow_paths_warned.add(reason)
    warnings.warn(
        f"{type(layer).__name__} '{layer.name}' runs the '{layer_plan.path}' path, 5x or more slower than the "
        f"compiled kernel at this size: {reason}. layer.explain(x) or model.explain(x) shows every layer's path.",
        stacklevel=7,  # the user's call of the layer (through Layer.__call__, nn.Module, forward, call)
    )


# While `explain_call` runs: the list each recurrent call appends (layer name, Plan) to.
_RECORDING = contextvars.ContextVar("rnnkit_recorded_plans", default=None)


def recorded(layer: Layer, layer_plan: Plan) -> bool:
    """Notes `layer_plan` when an `explain_call` is recording; returns whether one is."""
    plans = _RECORDING.get()
    if plans is None:
        return False
    plans.append((layer.name, layer_plan))
    return True


def check_explain_arguments(training: Any, print_fn: Any) -> None:
    """Refuses an `explain` call's `training` that is not a bool (a truthy string would silently
    explain training) and a `print_fn` that cannot be called, before anything runs."""
    if not isinstance(training, bool):
        raise TypeError(f"explain: training must be True or False, got {training!r} ({type(training).__name__}).")
    if not callable(print_fn):
        raise TypeError(f"explain: print_fn must be callable (e.g. print or a list's append), got {print_fn!r} "
                        f"({type(print_fn).__name__}).")


def explain_call(owner: torch.nn.Module, run: Callable[[], Any],
                 print_fn: Callable[[str], Any] = print) -> List[Tuple[str, Plan]]:
    """Runs `run()` once under no_grad, recording the plan of every recurrent call it makes;
    prints each plan with `print_fn` and returns [(layer name, Plan)] in call order.

    The call leaves `owner` (the layer or model `run` calls) and the random generators as it found
    them: its recurrent layers' carried states, its non-trainable weights (BatchNormalization's
    moving statistics) and the generators that draw dropout masks (torch's and those of layers
    given a seed), so the next real call computes what it would have without explain."""
    plans = []
    carried = [(module, module.states) for module in owner.modules() if hasattr(module, "carries_states")]
    fixed = [(t, t.detach().clone()) for t in (*owner.buffers(), *(p for p in owner.parameters() if not p.requires_grad))]
    # A layer given seed= draws its dropout masks from a generator of its own (created on first use).
    seeded = [(module, generator, generator and generator.get_state()) for module in owner.modules()
              if getattr(module, "seed", None) is not None
              for generator in [getattr(module, "_generator", None)]]
    token = _RECORDING.set(plans)
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=range(torch.cuda.device_count())):
            run()
    finally:
        _RECORDING.reset(token)
        for module, states in carried:
            module.states = states
        for module, generator, state in seeded:
            module._generator = generator
            if generator is not None:
                generator.set_state(state)
        with torch.no_grad():
            for tensor, saved in fixed:
                tensor.copy_(saved)
    for _, layer_plan in plans:
        print_fn(str(layer_plan))
    return plans
