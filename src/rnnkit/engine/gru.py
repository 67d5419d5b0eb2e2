"""GRU over a whole sequence, forward and backward through time by hand (Keras gate order z, r, h).

With xp_t = x_t W + b_in for all steps in one GEMM, sigma = recurrent_activation, phi = activation,
hd = h_{t-1} * r_mask (recurrent dropout; 1 when off):

reset_after=True (Keras 3 default, cuDNN-compatible; recurrent bias b_rec):
    u = hd U + b_rec = [u_z, u_r, u_h]
    z = sigma(xp_z + u_z)   r = sigma(xp_r + u_r)   hh = phi(xp_h + r u_h)
reset_after=False:
    z = sigma(xp_z + hd U_z)   r = sigma(xp_r + hd U_r)   hh = phi(xp_h + (r hd) U_h)
both:
    h~_t = z h_{t-1} + (1 - z) hh        h_t = m_t ? h~_t : h_{t-1}

Backward, g = dL/dh_t arriving at step t (m folded into the factors):
    dz' = g m (h_{t-1} - hh) sigma'(z)   da_h = g m (1 - z) phi'(hh)
    reset_after=True:  dr' = da_h u_h sigma'(r);  du = [dz', dr', r da_h]
                       g_{t-1} = (du U^T) * r_mask + g (m z + 1 - m)
    reset_after=False: d(r hd) = da_h U_h^T;  dr' = d(r hd) hd sigma'(r)
                       g_{t-1} = ([dz', dr'] U_zr^T + r d(r hd)) * r_mask + g (m z + 1 - m)
    dU (and db_rec) are one GEMM (one sum) over all steps after the loop.
Padded sequences (a right- or left-padded mask, see `nested_layout`) run on the compiled kernel's
nested path: each step covers only the rows still active.
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


def compiled_activation_reason(activation: Activation, recurrent_activation: Activation,
                               reset_after: bool) -> Optional[str]:
    """Why the compiled GRU kernel cannot run this cell (it has tanh, sigmoid, reset_after=True), or None."""
    if not reset_after:
        return "reset_after=False has no compiled kernel"
    if (activation.name, recurrent_activation.name) == ("tanh", "sigmoid"):
        return None
    return (f"activation={activation.name!r}, recurrent_activation={recurrent_activation.name!r} has no compiled "
            "kernel (it has 'tanh', 'sigmoid')")


def _blend_(h_t: torch.Tensor, h_prev: torch.Tensor, z: torch.Tensor, hh: torch.Tensor) -> torch.Tensor:
    """h_t <- z h_prev + (1 - z) hh, written as hh + z (h_prev - hh) to use two in-place ops."""
    return torch.sub(h_prev, hh, out=h_t).mul_(z).add_(hh)


class GRUCompiled(torch.autograd.Function):
    """The compiled kernel (reset_after=True) over every row and step; a masked step carries the state."""

    @staticmethod
    def forward(ctx: FunctionCtx, xp: torch.Tensor, U: torch.Tensor, b_rec: Optional[torch.Tensor], h0: torch.Tensor, mask: Optional[torch.Tensor],
                compute_dtype: Optional[torch.dtype]) -> torch.Tensor:
        ctx.native, ctx.has_b_rec = native_kernels(), b_rec is not None
        keep, bias = kernel_mask(mask), b_rec.contiguous() if b_rec is not None else xp.new_empty(0)
        h0, U = h0.contiguous(), kernel_matrix(U, compute_dtype)
        with loop_threads(xp.shape[0], *U.shape):
            gates, inner, hs = ctx.native.gru_forward(xp.contiguous(), U, bias, h0, keep)  # (B, T, 3H), (B, T, H) x2
        ctx.save_for_backward(U, h0, gates, inner, hs, keep)
        return hs

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: FunctionCtx, d_hs: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:
        U, h0, gates, inner, hs, keep = ctx.saved_tensors
        with loop_threads(d_hs.shape[0], *U.shape):
            d_xp, dU, d_b_rec, dh0 = ctx.native.gru_backward(d_hs, U, h0, gates, inner, hs, keep)
        return d_xp, dU, d_b_rec if ctx.has_b_rec else None, dh0, None, None


class GRUCompiledNested(torch.autograd.Function):
    """The compiled kernel (reset_after=True) over padded sequences: each step covers only the rows
    still active (the `layout` (order, counts) of `nested_layout`)."""

    @staticmethod
    def forward(ctx: FunctionCtx, xp: torch.Tensor, U: torch.Tensor, b_rec: Optional[torch.Tensor], h0: torch.Tensor, order: torch.Tensor, counts: torch.Tensor,
                compute_dtype: Optional[torch.dtype]) -> torch.Tensor:
        ctx.native, ctx.has_b_rec, ctx.layout = native_kernels(), b_rec is not None, (order, counts)
        bias = b_rec.contiguous() if b_rec is not None else xp.new_empty(0)
        U = kernel_matrix(U, compute_dtype)
        with loop_threads(xp.shape[0], *U.shape):
            hs, *packed = ctx.native.gru_forward_nested(xp.contiguous(), U, bias, h0.contiguous(), order, counts)
        ctx.save_for_backward(U, *packed)
        return hs

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: FunctionCtx, d_hs: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:
        U, *packed = ctx.saved_tensors
        with loop_threads(d_hs.shape[0], *U.shape):
            d_xp, dU, d_b_rec, dh0 = ctx.native.gru_backward_nested(d_hs, U, *ctx.layout, *packed)
        return d_xp, dU, d_b_rec if ctx.has_b_rec else None, dh0, None, None, None


class GRUTorchOps(torch.autograd.Function):
    """PyTorch operations in a Python loop: any dtype and device, recurrent dropout, any
    elementwise activations, reset_after True or False."""

    @staticmethod
    def forward(ctx: FunctionCtx, xp: torch.Tensor, U: torch.Tensor, b_rec: Optional[torch.Tensor], h0: torch.Tensor, mask: Optional[torch.Tensor], rmask: Optional[torch.Tensor],
                act: Activation, ract: Activation, reset_after: bool) -> torch.Tensor:
        batch, steps, three_units = xp.shape
        units = three_units // 3
        keep, keep_f, skip_f = split_mask(mask, xp.dtype)
        gates = torch.empty_like(xp)
        pre = torch.empty_like(xp) if (act.needs_input or ract.needs_input) else None
        hs = xp.new_empty(batch, steps, units)
        # reset_after: u_h for every step; reset_before: r * hd for every step.
        inner = torch.empty_like(hs)
        U_zr, U_h = U[:, : 2 * units], U[:, 2 * units :]
        h = h0
        for t in range(steps):
            hd = h if rmask is None else h * rmask
            g_t, xp_t = gates[:, t], xp[:, t]
            zr, hh = g_t[:, : 2 * units], g_t[:, 2 * units :]
            if reset_after:
                u = torch.mm(hd, U) if b_rec is None else torch.addmm(b_rec, hd, U)
                torch.add(xp_t[:, : 2 * units], u[:, : 2 * units], out=zr)
                if pre is not None:
                    pre[:, t, : 2 * units].copy_(zr)
                ract.apply_out(zr, zr)
                u_h = inner[:, t].copy_(u[:, 2 * units :])
                torch.addcmul(xp_t[:, 2 * units :], zr[:, units:], u_h, out=hh)
            else:
                torch.addmm(xp_t[:, : 2 * units], hd, U_zr, out=zr)
                if pre is not None:
                    pre[:, t, : 2 * units].copy_(zr)
                ract.apply_out(zr, zr)
                rh = torch.mul(zr[:, units:], hd, out=inner[:, t])
                torch.addmm(xp_t[:, 2 * units :], rh, U_h, out=hh)
            if pre is not None:
                pre[:, t, 2 * units :].copy_(hh)
            act.apply_out(hh, hh)
            h_t = _blend_(hs[:, t], h, zr[:, :units], hh)
            carry_masked(None if keep is None else keep[:, t], h_t, h)
            h = h_t
        ctx.config = (act, ract, reset_after, b_rec is not None)
        ctx.save_for_backward(U, h0, gates, pre, hs, inner, keep_f, skip_f, rmask)
        return hs

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: FunctionCtx, d_hs: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:
        U, h0, gates, pre, hs, inner, keep_f, skip_f, rmask = ctx.saved_tensors
        act, ract, reset_after, has_b_rec = ctx.config
        batch, steps, units = hs.shape
        z, r, hh = gates.chunk(3, dim=2)
        pz, pr, ph = (None,) * 3 if pre is None else pre.chunk(3, dim=2)
        h_prev = previous_states(h0, hs)
        hd_prev = h_prev if rmask is None else h_prev * rmask.unsqueeze(1)
        # Factors independent of the incoming gradient, for all steps at once.
        k_z = torch.sub(h_prev, hh).mul_(ract.derivative(pz, z))
        k_h = torch.rsub(z, 1.0).mul_(act.derivative(ph, hh))
        k_carry = z
        if keep_f is not None:
            k_z, k_h = k_z * keep_f, k_h * keep_f
            k_carry = z * keep_f + skip_f
        d_r = ract.derivative(pr, r)
        Ut = U.t()
        d_gates = torch.empty_like(gates)
        g_next = torch.zeros_like(h0)
        if reset_after:
            # du = g [k_z, k_r, r k_h] is the gradient of u = hd U + b_rec; dxp differs only in its
            # h part (g k_h), so du is written into d_gates and that part is overwritten afterwards.
            k_u = torch.empty_like(gates).view(batch, steps, 3, units)
            k_u[:, :, 0] = k_z
            torch.mul(k_h, inner, out=k_u[:, :, 1]).mul_(d_r)
            torch.mul(r, k_h, out=k_u[:, :, 2])
            g_all = torch.empty_like(hs)
            d_u = d_gates.view(batch, steps, 3, units)
            for t in range(steps - 1, -1, -1):
                g = torch.add(d_hs[:, t], g_next, out=g_all[:, t])
                du = torch.mul(g.unsqueeze(1), k_u[:, t], out=d_u[:, t])
                g_next = torch.mm(du.view(batch, 3 * units), Ut)
                if rmask is not None:
                    g_next.mul_(rmask)
                g_next.addcmul_(g, k_carry[:, t])
            dU = hd_prev.reshape(-1, units).t().mm(d_gates.view(-1, 3 * units))
            d_b_rec = d_gates.sum(dim=(0, 1)) if has_b_rec else None
            torch.mul(g_all, k_h, out=d_u[:, :, 2])
        else:
            U_zr_t, U_h_t = U[:, : 2 * units].t(), U[:, 2 * units :].t()
            k_r = hd_prev * d_r
            for t in range(steps - 1, -1, -1):
                g = d_hs[:, t] + g_next
                dg = d_gates[:, t]
                da_h = torch.mul(g, k_h[:, t], out=dg[:, 2 * units :])
                d_rh = torch.mm(da_h, U_h_t)
                torch.mul(g, k_z[:, t], out=dg[:, :units])
                torch.mul(d_rh, k_r[:, t], out=dg[:, units : 2 * units])
                g_next = torch.addmm(d_rh * r[:, t], dg[:, : 2 * units], U_zr_t)
                if rmask is not None:
                    g_next.mul_(rmask)
                g_next.addcmul_(g, k_carry[:, t])
            dU = torch.cat(
                [
                    hd_prev.reshape(-1, units).t().mm(d_gates[:, :, : 2 * units].reshape(-1, 2 * units)),
                    inner.reshape(-1, units).t().mm(d_gates[:, :, 2 * units :].reshape(-1, units)),
                ],
                dim=1,
            )
            d_b_rec = None
        return d_gates, dU, d_b_rec, g_next, None, None, None, None, None


def gru_scan(
    xp: torch.Tensor,
    recurrent_kernel: torch.Tensor,
    h0: torch.Tensor,
    recurrent_bias: Optional[torch.Tensor] = None,
    mask: Optional[torch.Tensor] = None,
    recurrent_dropout_mask: Optional[torch.Tensor] = None,
    activation: Union[str, Activation] = "tanh",
    recurrent_activation: Union[str, Activation] = "sigmoid",
    reset_after: bool = True,
    compute_dtype: Optional[torch.dtype] = None,
    choice: Optional[KernelChoice] = None,
) -> torch.Tensor:
    """Runs a GRU over projected inputs; returns every state.

    Shapes (B batch, T time, H units): xp (B, T, 3H), x W + b_in for every step, gates z, r, h;
    recurrent_kernel U (H, 3H); h0 (B, H); recurrent_bias (3H,), Keras's second bias row, used
    only with reset_after=True; mask (B, T); recurrent_dropout_mask (B, H). Returns (B, T, H).
    Other arguments as `simple_rnn_scan`."""
    act, ract = get_activation(activation), get_activation(recurrent_activation)
    b_rec = recurrent_bias if reset_after else None
    if choice is None:
        reason = (RECURRENT_DROPOUT_REASON if recurrent_dropout_mask is not None
                  else compiled_activation_reason(act, ract, reset_after))
        choice = kernel_choice(xp.dtype, xp.device, mask, reason)
    if choice.path == COMPILED_NESTED:
        return GRUCompiledNested.apply(xp, recurrent_kernel, b_rec, h0, *choice.layout, compute_dtype)
    if choice.path == COMPILED:
        return GRUCompiled.apply(xp, recurrent_kernel, b_rec, h0, mask, compute_dtype)
    return GRUTorchOps.apply(xp, recurrent_kernel, b_rec, h0, mask, recurrent_dropout_mask, act, ract, reset_after)
