"""SimpleRNN over a whole sequence, forward and backward through time by hand.

Step (Keras SimpleRNNCell), with xp_t = x_t W + b already computed for all steps in one GEMM:
    a_t = xp_t + (h_{t-1} * r) U          r: recurrent dropout mask (1 when off)
    h~_t = act(a_t)
    h_t = m_t ? h~_t : h_{t-1}            m_t: step mask (1 when no mask)

Backward, with g_t = dL/dh_t (from the output at t plus from step t+1):
    da_t = g_t * m_t * act'(a_t)          (dxp_t = da_t)
    g_{t-1} += (da_t U^T) * r + (1 - m_t) g_t
    dU = sum_t ((h_{t-1} * r)^T da_t)     one GEMM over all steps, after the loop
Padded sequences (a right- or left-padded mask, see `nested_layout`) run on the compiled kernel's
nested path: each step covers only the rows still active.
"""
from typing import Optional, Tuple, Union

import torch
from torch.autograd.function import FunctionCtx

from .activations import Activation, get_activation
from .native import (
    COMPILED, COMPILED_NESTED, RECURRENT_DROPOUT_REASON, KernelChoice, kernel_choice, kernel_mask, kernel_matrix, loop_threads,
    native_kernels,
)
from .sequence import carry_masked, previous_states, split_mask

# Activations the compiled kernel implements, by its codes.
NATIVE_ACTIVATIONS = {"tanh": 0, "relu": 1, "sigmoid": 2, "linear": 3}


def compiled_activation_reason(activation: Activation) -> Optional[str]:
    """Why the compiled SimpleRNN kernel cannot run `activation`, or None when it can."""
    if activation.name in NATIVE_ACTIVATIONS:
        return None
    return f"activation={activation.name!r} has no compiled kernel (it has {', '.join(NATIVE_ACTIVATIONS)})"


class SimpleRNNCompiled(torch.autograd.Function):
    """The compiled kernel over every row and step; a masked step carries the state through."""

    @staticmethod
    def forward(ctx: FunctionCtx, xp: torch.Tensor, U: torch.Tensor, h0: torch.Tensor, mask: Optional[torch.Tensor], code: int,
                compute_dtype: Optional[torch.dtype]) -> torch.Tensor:
        ctx.native, ctx.code = native_kernels(), code
        keep, h0, U = kernel_mask(mask), h0.contiguous(), kernel_matrix(U, compute_dtype)
        with loop_threads(xp.shape[0], *U.shape):
            states = ctx.native.simple_rnn_forward(xp.contiguous(), U, h0, keep, code)  # (B, T, H)
        ctx.save_for_backward(U, h0, states, keep)
        return states

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: FunctionCtx, d_states: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:
        U, h0, states, keep = ctx.saved_tensors
        with loop_threads(d_states.shape[0], *U.shape):
            d_pre, dU, dh0 = ctx.native.simple_rnn_backward(d_states, U, h0, states, keep, ctx.code)
        return d_pre, dU, dh0, None, None, None


class SimpleRNNCompiledNested(torch.autograd.Function):
    """The compiled kernel over padded sequences: each step runs on its active rows only (the
    `layout` (order, counts) of `nested_layout`), fully padded tails skipped."""

    @staticmethod
    def forward(ctx: FunctionCtx, xp: torch.Tensor, U: torch.Tensor, h0: torch.Tensor, order: torch.Tensor, counts: torch.Tensor, code: int,
                compute_dtype: Optional[torch.dtype]) -> torch.Tensor:
        ctx.native, ctx.code, ctx.layout = native_kernels(), code, (order, counts)
        U = kernel_matrix(U, compute_dtype)
        with loop_threads(xp.shape[0], *U.shape):
            hs, *packed = ctx.native.simple_rnn_forward_nested(xp.contiguous(), U, h0.contiguous(), order, counts, code)
        ctx.save_for_backward(U, *packed)
        return hs

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: FunctionCtx, d_states: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:
        U, *packed = ctx.saved_tensors
        with loop_threads(d_states.shape[0], *U.shape):
            d_pre, dU, dh0 = ctx.native.simple_rnn_backward_nested(d_states, U, *ctx.layout, *packed, ctx.code)
        return d_pre, dU, dh0, None, None, None, None


class SimpleRNNTorchOps(torch.autograd.Function):
    """PyTorch operations in a Python loop: any dtype and device, recurrent dropout, any
    elementwise activation."""

    @staticmethod
    def forward(ctx: FunctionCtx, xp: torch.Tensor, U: torch.Tensor, h0: torch.Tensor, mask: Optional[torch.Tensor], rmask: Optional[torch.Tensor], act: Activation) -> torch.Tensor:
        batch, steps, units = xp.shape
        keep, keep_f, skip_f = split_mask(mask, xp.dtype)
        states = torch.empty_like(xp)
        pre = torch.empty_like(xp) if act.needs_input else states
        h = h0
        for t in range(steps):
            hd = h if rmask is None else h * rmask
            a_t = torch.addmm(xp[:, t], hd, U, out=pre[:, t])
            h_t = act.apply_out(a_t, states[:, t])
            carry_masked(None if keep is None else keep[:, t], h_t, h)
            h = h_t
        ctx.act = act
        ctx.save_for_backward(U, h0, states, pre if act.needs_input else None, keep_f, skip_f, rmask)
        return states

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: FunctionCtx, d_states: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:
        U, h0, states, pre, keep_f, skip_f, rmask = ctx.saved_tensors
        steps = states.shape[1]
        # Everything that does not depend on the incoming gradient is computed once, vectorised.
        scale = ctx.act.derivative(pre, states)
        if keep_f is not None:
            scale = scale * keep_f
        d_pre = torch.empty_like(states)
        Ut = U.t()
        g_next = torch.zeros_like(h0)
        for t in range(steps - 1, -1, -1):
            g = d_states[:, t] + g_next
            da = torch.mul(g, scale[:, t], out=d_pre[:, t])
            g_next = torch.mm(da, Ut)
            if rmask is not None:
                g_next.mul_(rmask)
            if skip_f is not None:
                g_next.addcmul_(g, skip_f[:, t])
        h_prev = previous_states(h0, states)
        if rmask is not None:
            h_prev = h_prev * rmask.unsqueeze(1)
        dU = h_prev.reshape(-1, U.shape[0]).t().mm(d_pre.reshape(-1, U.shape[1]))
        return d_pre, dU, g_next, None, None, None


def simple_rnn_scan(
    xp: torch.Tensor,
    recurrent_kernel: torch.Tensor,
    h0: torch.Tensor,
    mask: Optional[torch.Tensor] = None,
    recurrent_dropout_mask: Optional[torch.Tensor] = None,
    activation: Union[str, Activation] = "tanh",
    compute_dtype: Optional[torch.dtype] = None,
    choice: Optional[KernelChoice] = None,
) -> torch.Tensor:
    """Runs a SimpleRNN over projected inputs; returns every state. The last state is `[:, -1]`
    (masked steps carry the state through).

    Shapes (B batch, T time, H units):
        xp: (B, T, H), x W + b for every step; recurrent_kernel U: (H, H); h0: (B, H);
        mask: (B, T) boolean, True for steps to process; recurrent_dropout_mask: (B, H),
        multiplied into h_{t-1} before the recurrent product. Returns (B, T, H).

    `compute_dtype` (e.g. torch.bfloat16, under a mixed policy): the dtype of the compiled kernels'
    GEMMs (recurrent product, dU), float32 accumulation; gate arithmetic and states stay in xp's
    dtype. Ignored on the PyTorch-op path, which computes in xp's dtype.

    `choice`: the engine path, as the layer's plan picked it (`rnnkit.layers.plan`); None picks it
    here with `kernel_choice`."""
    act = get_activation(activation)
    if choice is None:
        reason = RECURRENT_DROPOUT_REASON if recurrent_dropout_mask is not None else compiled_activation_reason(act)
        choice = kernel_choice(xp.dtype, xp.device, mask, reason)
    if choice.path == COMPILED_NESTED:
        return SimpleRNNCompiledNested.apply(
            xp, recurrent_kernel, h0, *choice.layout, NATIVE_ACTIVATIONS[act.name], compute_dtype
        )
    if choice.path == COMPILED:
        return SimpleRNNCompiled.apply(xp, recurrent_kernel, h0, mask, NATIVE_ACTIVATIONS[act.name], compute_dtype)
    return SimpleRNNTorchOps.apply(xp, recurrent_kernel, h0, mask, recurrent_dropout_mask, act)
