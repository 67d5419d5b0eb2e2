"""LSTM over a whole sequence, forward and backward through time by hand (Keras gate order i, f, c, o).

Step (Keras LSTMCell), with xp_t = x_t W + b for all steps in one GEMM, sigma = recurrent_activation,
phi = activation:
    z_t = xp_t + (h_{t-1} * r) U = [z_i, z_f, z_g, z_o]
    i = sigma(z_i)  f = sigma(z_f)  g = phi(z_g)  o = sigma(z_o)
    c~_t = f c_{t-1} + i g              h~_t = o phi(c~_t)
    (h_t, c_t) = m_t ? (h~_t, c~_t) : (h_{t-1}, c_{t-1})

Backward, with gh = dL/dh_t and gc = dL/dc_t arriving at step t:
    dc~ = m (gc + gh o phi'(c~))        dz_o = m gh phi(c~) sigma'(o)
    dz_i = dc~ g sigma'(i)   dz_f = dc~ c_{t-1} sigma'(f)   dz_g = dc~ i phi'(g)
    gc_{t-1} = dc~ f + (1 - m) gc       gh_{t-1} = (dz U^T) * r + (1 - m) gh
    dU = sum_t ((h_{t-1} * r)^T dz_t)   one GEMM after the loop
The factors that do not depend on gh, gc (o phi'(c~), g sigma'(i), ...) are computed for all steps
at once before the reverse loop, so the loop does one GEMM and five elementwise products per step.
Padded sequences (a right- or left-padded mask, see `nested_layout`) run on the compiled kernel's
nested path: each step's GEMM and gate arithmetic cover only the rows still active.
"""
from typing import Optional, Tuple, Union

import torch
from torch.autograd.function import FunctionCtx

from .activations import Activation, get_activation
from .native import (
    COMPILED, COMPILED_NESTED, RECURRENT_DROPOUT_REASON, KernelChoice, kernel_choice, kernel_mask, kernel_matrix,
    loop_threads, native_kernels,
)
from .sequence import carry_masked, previous_states, split_mask


def compiled_activation_reason(activation: Activation, recurrent_activation: Activation) -> Optional[str]:
    """Why the compiled LSTM kernel cannot run these activations (it has tanh and sigmoid), or None."""
    if (activation.name, recurrent_activation.name) == ("tanh", "sigmoid"):
        return None
    return (f"activation={activation.name!r}, recurrent_activation={recurrent_activation.name!r} has no compiled "
            "kernel (it has 'tanh', 'sigmoid')")


class LSTMCompiled(torch.autograd.Function):
    """The compiled kernel over every row and step; a masked step carries h and c through."""

    @staticmethod
    def forward(ctx: FunctionCtx, xp: torch.Tensor, U: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor, mask: Optional[torch.Tensor],
                compute_dtype: Optional[torch.dtype]) -> Tuple[torch.Tensor, torch.Tensor]:
        ctx.native = native_kernels()
        keep, h0, c0, U = kernel_mask(mask), h0.contiguous(), c0.contiguous(), kernel_matrix(U, compute_dtype)
        with loop_threads(xp.shape[0], *U.shape):
            gates, hs, cs = ctx.native.lstm_forward(xp.contiguous(), U, h0, c0, keep)  # (B, T, 4H), (B, T, H) x2
        ctx.save_for_backward(U, h0, c0, gates, hs, cs, keep)
        return hs, cs[:, -1]

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: FunctionCtx, d_hs: torch.Tensor, d_c_last: Optional[torch.Tensor]) -> Tuple[Optional[torch.Tensor], ...]:
        U, h0, c0, gates, hs, cs, keep = ctx.saved_tensors
        d_c_last = torch.zeros_like(c0) if d_c_last is None else d_c_last
        with loop_threads(d_hs.shape[0], *U.shape):
            d_gates, dU, dh0, dc0 = ctx.native.lstm_backward(d_hs, d_c_last, U, h0, c0, gates, hs, cs, keep)
        return d_gates, dU, dh0, dc0, None, None


class LSTMCompiledNested(torch.autograd.Function):
    """The compiled kernel over padded sequences: each step's GEMM and gate arithmetic cover only
    the rows still active (the `layout` (order, counts) of `nested_layout`)."""

    @staticmethod
    def forward(ctx: FunctionCtx, xp: torch.Tensor, U: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor, order: torch.Tensor, counts: torch.Tensor,
                compute_dtype: Optional[torch.dtype]) -> Tuple[torch.Tensor, torch.Tensor]:
        ctx.native, ctx.layout = native_kernels(), (order, counts)
        U = kernel_matrix(U, compute_dtype)
        with loop_threads(xp.shape[0], *U.shape):
            hs, c_last, *packed = ctx.native.lstm_forward_nested(
                xp.contiguous(), U, h0.contiguous(), c0.contiguous(), order, counts
            )
        ctx.save_for_backward(U, *packed)
        return hs, c_last

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: FunctionCtx, d_hs: torch.Tensor, d_c_last: Optional[torch.Tensor]) -> Tuple[Optional[torch.Tensor], ...]:
        U, *packed = ctx.saved_tensors
        d_c_last = d_hs.new_zeros(d_hs.shape[0], d_hs.shape[2]) if d_c_last is None else d_c_last
        with loop_threads(d_hs.shape[0], *U.shape):
            d_gates, dU, dh0, dc0 = ctx.native.lstm_backward_nested(d_hs, d_c_last, U, *ctx.layout, *packed)
        return d_gates, dU, dh0, dc0, None, None, None


class LSTMTorchOps(torch.autograd.Function):
    """PyTorch operations in a Python loop: any dtype and device, recurrent dropout, any
    elementwise activations."""

    @staticmethod
    def forward(ctx: FunctionCtx, xp: torch.Tensor, U: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor, mask: Optional[torch.Tensor], rmask: Optional[torch.Tensor],
                act: Activation, ract: Activation) -> Tuple[torch.Tensor, torch.Tensor]:
        batch, steps, four_units = xp.shape
        units = four_units // 4
        keep, keep_f, skip_f = split_mask(mask, xp.dtype)
        gates = torch.empty_like(xp)
        pre = torch.empty_like(xp) if (act.needs_input or ract.needs_input) else None
        hs = xp.new_empty(batch, steps, units)
        cs = torch.empty_like(hs)
        h, c = h0, c0
        for t in range(steps):
            hd = h if rmask is None else h * rmask
            z = torch.addmm(xp[:, t], hd, U, out=gates[:, t])
            if pre is not None:
                pre[:, t].copy_(z)
            ract.apply_out(z[:, : 2 * units], z[:, : 2 * units])
            act.apply_out(z[:, 2 * units : 3 * units], z[:, 2 * units : 3 * units])
            ract.apply_out(z[:, 3 * units :], z[:, 3 * units :])
            i, f, g, o = z.chunk(4, dim=1)
            c_t = torch.mul(f, c, out=cs[:, t]).addcmul_(i, g)
            h_t = act.apply_out(c_t, hs[:, t]).mul_(o)
            if keep is not None:
                carry_masked(keep[:, t], c_t, c)
                carry_masked(keep[:, t], h_t, h)
            h, c = h_t, c_t
        ctx.acts = (act, ract)
        ctx.save_for_backward(U, h0, c0, gates, pre, hs, cs, keep_f, skip_f, rmask)
        return hs, cs[:, -1]

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: FunctionCtx, d_hs: torch.Tensor, d_c_last: Optional[torch.Tensor]) -> Tuple[Optional[torch.Tensor], ...]:
        U, h0, c0, gates, pre, hs, cs, keep_f, skip_f, rmask = ctx.saved_tensors
        act, ract = ctx.acts
        steps, units = hs.shape[1], hs.shape[2]
        i, f, g, o = gates.chunk(4, dim=2)
        zi, zf, zg, zo = (None,) * 4 if pre is None else pre.chunk(4, dim=2)
        phi_c = act.fn(cs)
        # Per-step factors, independent of the incoming gradient, for all steps at once.
        h_factor = act.derivative(cs, phi_c).mul_(o)  # o phi'(c~)
        o_factor = ract.derivative(zo, o).mul_(phi_c)  # phi(c~) sigma'(o)
        cell_factors = hs.new_empty(*hs.shape[:2], 3, units)
        torch.mul(ract.derivative(zi, i), g, out=cell_factors[:, :, 0])
        torch.mul(ract.derivative(zf, f), previous_states(c0, cs), out=cell_factors[:, :, 1])
        torch.mul(act.derivative(zg, g), i, out=cell_factors[:, :, 2])
        if keep_f is not None:
            h_factor = h_factor * keep_f
            o_factor = o_factor * keep_f
        d_gates = torch.empty_like(gates)
        Ut = U.t()
        gh_next = torch.zeros_like(h0)
        gc = d_c_last.clone() if d_c_last is not None else torch.zeros_like(c0)
        for t in range(steps - 1, -1, -1):
            gh = d_hs[:, t] + gh_next
            if keep_f is None:
                dc = torch.addcmul(gc, gh, h_factor[:, t])
            else:
                dc = torch.addcmul(gc * keep_f[:, t], gh, h_factor[:, t])
            dz = d_gates[:, t]
            torch.mul(dc.unsqueeze(1), cell_factors[:, t], out=dz[:, : 3 * units].view(-1, 3, units))
            torch.mul(gh, o_factor[:, t], out=dz[:, 3 * units :])
            gh_next = torch.mm(dz, Ut)
            if rmask is not None:
                gh_next.mul_(rmask)
            if skip_f is None:
                gc = dc.mul_(f[:, t])
            else:
                gh_next.addcmul_(gh, skip_f[:, t])
                gc = torch.addcmul(gc * skip_f[:, t], dc, f[:, t])
        h_prev = previous_states(h0, hs)
        if rmask is not None:
            h_prev = h_prev * rmask.unsqueeze(1)
        dU = h_prev.reshape(-1, units).t().mm(d_gates.reshape(-1, 4 * units))
        return d_gates, dU, gh_next, gc, None, None, None, None


def lstm_scan(
    xp: torch.Tensor,
    recurrent_kernel: torch.Tensor,
    h0: torch.Tensor,
    c0: torch.Tensor,
    mask: Optional[torch.Tensor] = None,
    recurrent_dropout_mask: Optional[torch.Tensor] = None,
    activation: Union[str, Activation] = "tanh",
    recurrent_activation: Union[str, Activation] = "sigmoid",
    compute_dtype: Optional[torch.dtype] = None,
    choice: Optional[KernelChoice] = None,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Runs an LSTM over projected inputs; returns every hidden state and the last carry state.

    Shapes (B batch, T time, H units): xp (B, T, 4H), x W + b for every step, gates i, f, c, o;
    recurrent_kernel U (H, 4H); h0, c0 (B, H); mask (B, T); recurrent_dropout_mask (B, H).
    Returns (hs (B, T, H), c_T (B, H)). Other arguments as `simple_rnn_scan`."""
    act, ract = get_activation(activation), get_activation(recurrent_activation)
    if choice is None:
        reason = RECURRENT_DROPOUT_REASON if recurrent_dropout_mask is not None else compiled_activation_reason(act, ract)
        choice = kernel_choice(xp.dtype, xp.device, mask, reason)
    if choice.path == COMPILED_NESTED:
        return LSTMCompiledNested.apply(xp, recurrent_kernel, h0, c0, *choice.layout, compute_dtype)
    if choice.path == COMPILED:
        return LSTMCompiled.apply(xp, recurrent_kernel, h0, c0, mask, compute_dtype)
    return LSTMTorchOps.apply(xp, recurrent_kernel, h0, c0, mask, recurrent_dropout_mask, act, ract)
