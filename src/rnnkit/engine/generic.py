"""The recurrence for any cell, on autograd: a Python loop over steps calling `step`.

Used for user-defined cells (nested inputs and states of any rank) and for activations the fused
kernels cannot take. Mask semantics are Keras's: a masked step keeps every state unchanged and
emits the previous step's output (zeros before the first unmasked step), or zeros when
`zero_output_for_mask`.
"""
from typing import Any, Callable, Optional, Tuple

import torch

from .nest import flatten, map_structure, pack_as


def _select(keep_t: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    return torch.where(keep_t.view(-1, *([1] * (new.dim() - 1))), new, old)


def cell_scan(
    step: Callable,
    inputs: Any,
    initial_states: Any,
    mask: Optional[torch.Tensor] = None,
    zero_output_for_mask: bool = False,
) -> Tuple[Any, Any]:
    """Runs `step(inputs_t, states) -> (output_t, new_states)` over the time axis (axis 1) of every
    tensor in `inputs`. Returns (outputs stacked on axis 1, in the structure of output_t;
    final states, in the structure of `initial_states`).

    Shapes (B batch, T time): inputs, a structure of (B, T, ...) tensors; mask (B, T), True for
    steps to process; each output (B, T, ...)."""
    steps = flatten(inputs)[0].shape[1]
    states = initial_states
    outputs = []
    for t in range(steps):
        output, new_states = step(map_structure(lambda x: x[:, t], inputs), states)
        if mask is not None:
            keep_t = mask[:, t]
            flat_out = flatten(output)
            if zero_output_for_mask or not outputs:
                fallback = [torch.zeros_like(o) for o in flat_out]
            else:
                fallback = flatten(outputs[-1])
            output = pack_as(output, [_select(keep_t, o, f) for o, f in zip(flat_out, fallback)])
            new_states = pack_as(
                states, [_select(keep_t, n, s) for n, s in zip(flatten(new_states), flatten(states))]
            )
        else:
            new_states = pack_as(states, flatten(new_states))
        outputs.append(output)
        states = new_states
    stacked = pack_as(outputs[0], [torch.stack(o, dim=1) for o in zip(*(flatten(o) for o in outputs))])
    return stacked, states
