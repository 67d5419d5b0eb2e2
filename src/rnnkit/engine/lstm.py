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
from typing import Optional

import torch

from .activations import Activation, get_activation
from .native import kernel_matrix, loop_threads, native_for
from .sequence import carry_masked, nested_layout, previous_states, split_mask


class LSTMScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xp, U, h0, c0, mask, rmask, act: Activation, ract: Activation, compute_dtype):
        ctx.native = native_for(xp, rmask, act.name == "tanh" and ract.name == "sigmoid")
        ctx.nested = nested_layout(mask) if ctx.native is not None else None
        if ctx.native is not None:
            h0, c0 = h0.contiguous(), c0.contiguous()
            U = kernel_matrix(U, compute_dtype)
            if ctx.nested is not None:
                # Padded sequences: each step runs on its active rows only (fully padded tails skipped).
                order, counts = ctx.nested
                with loop_threads(xp.shape[0], *U.shape):
                    hs, c_last, *packed = ctx.native.lstm_forward_nested(
                        xp.contiguous(), U, h0, c0, order, counts
                    )
                ctx.save_for_backward(U, *packed)
                return hs, c_last
            keep = mask.contiguous() if mask is not None else torch.empty(0, dtype=torch.bool)
            with loop_threads(xp.shape[0], *U.shape):
                gates, hs, cs = ctx.native.lstm_forward(xp.contiguous(), U, h0, c0, keep)
            ctx.save_for_backward(U, h0, c0, gates, hs, cs, keep)
            return hs, cs[:, -1]
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
    def backward(ctx, d_hs, d_c_last):
        if ctx.nested is not None:
            U, *packed = ctx.saved_tensors
            d_c_last = d_hs.new_zeros(d_hs.shape[0], d_hs.shape[2]) if d_c_last is None else d_c_last
            with loop_threads(d_hs.shape[0], *U.shape):
                d_gates, dU, dh0, dc0 = ctx.native.lstm_backward_nested(d_hs, d_c_last, U, *ctx.nested, *packed)
            return d_gates, dU, dh0, dc0, None, None, None, None, None
        if ctx.native is not None:
            U, h0, c0, gates, hs, cs, keep = ctx.saved_tensors
            d_c_last = torch.zeros_like(c0) if d_c_last is None else d_c_last
            with loop_threads(d_hs.shape[0], *U.shape):
                d_gates, dU, dh0, dc0 = ctx.native.lstm_backward(d_hs, d_c_last, U, h0, c0, gates, hs, cs, keep)
            return d_gates, dU, dh0, dc0, None, None, None, None, None
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
        return d_gates, dU, gh_next, gc, None, None, None, None, None


def lstm_scan(
    xp: torch.Tensor,
    recurrent_kernel: torch.Tensor,
    h0: torch.Tensor,
    c0: torch.Tensor,
    mask: Optional[torch.Tensor] = None,
    recurrent_dropout_mask: Optional[torch.Tensor] = None,
    activation="tanh",
    recurrent_activation="sigmoid",
    compute_dtype: Optional[torch.dtype] = None,
):
    """Runs an LSTM over projected inputs `xp` (batch, time, 4*units); returns every hidden state
    (batch, time, units) and the last carry state c_T (batch, units). Arguments as `simple_rnn_scan`."""
    return LSTMScan.apply(
        xp,
        recurrent_kernel,
        h0,
        c0,
        mask,
        recurrent_dropout_mask,
        get_activation(activation),
        get_activation(recurrent_activation),
        compute_dtype,
    )
