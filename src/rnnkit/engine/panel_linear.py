"""x W + b for bfloat16 rows x on the compiled kernels' bfloat16 panel product.

Under `mixed_bfloat16` the Dense layers and the input projections that are not folded would
otherwise run torch's bfloat16 GEMM, i.e. oneDNN, whose first call maps ~12 MB of its code and
whose every GEMM shape keeps ~0.6 MB for the life of the process: the whole excess of a mixed
step's peak memory over float32's. The panel product (`native_kernels.cpp`, "panel products")
computes the same thing, float32 accumulation and each product rounded to bfloat16 as a bfloat16
GEMM's output is, with W packed per call (a vectorised pass, ~0.1 ns an element):

    forward   out = round(x W) + b                      x (R, K) bfloat16 rows, W (K, N) float32
    backward  dx = round(g W^T)                         in x's dtype
              dW = sum over blocks of 1024 rows of round(x^T g), or of round(g^T x)^T
              db = sum over rows of g
"""
from typing import Optional, Tuple

import torch
from torch.autograd.function import FunctionCtx

from .native import native_kernels



def panel_linear_available(x: torch.Tensor) -> bool:
    """Whether `panel_linear` runs for x: bfloat16 on the CPU, with the compiled kernels built
    where the CPU has AVX512-BF16."""
    if x.dtype != torch.bfloat16 or x.device.type != "cpu":
        return False
    native = native_kernels()
    return native is not None and bool(native.panel_bfloat16)


class PanelLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx: FunctionCtx, x: torch.Tensor, W: torch.Tensor, b: Optional[torch.Tensor],
                out_dtype: torch.dtype) -> torch.Tensor:
        native = native_kernels()
        K, N = W.shape
        rows = x.reshape(-1, K).contiguous()
        out = torch.empty(rows.shape[0], N, dtype=out_dtype)
        native.panel_addmm(out, b if b is not None else rows.new_empty(0, dtype=torch.float32), rows,
                           native.pack_panels(W, True))
        ctx.save_for_backward(rows, W)
        ctx.has_bias, ctx.input_shape = b is not None, x.shape
        return out.view(*x.shape[:-1], N)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: FunctionCtx, g: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:
        native = native_kernels()
        rows, W = ctx.saved_tensors
        K, N = W.shape
        g = g.reshape(-1, N).contiguous()
        none = g.new_empty(0, dtype=torch.float32)
        d_x = d_W = d_b = None
        if ctx.needs_input_grad[0]:
            d_x = torch.empty(rows.shape, dtype=rows.dtype)
            native.panel_addmm(d_x, none, g, native.pack_panels(W.t(), True))
            d_x = d_x.view(ctx.input_shape)
        if ctx.needs_input_grad[1]:
            # Summed over blocks of the compiled kernels' weight_gradient_rows, as their weight
            # gradients are: each block's transposed or packed operand is small enough to be reused
            # from the heap, where a full-size one would be new pages (page faults) every step. The
            # panels are the output's columns: the wider side keeps them full (N = 66 outputs of a
            # Dense against K = 1024 inputs: panels over x, rows of g^T).
            wide = N >= K
            d_W = torch.zeros(K, N) if wide else torch.zeros(N, K)
            block = native.weight_gradient_rows
            for start in range(0, rows.shape[0], block):
                x_block, g_block = rows[start:start + block], g[start:start + block]
                if wide:
                    native.panel_addmm(d_W, d_W, x_block.t().contiguous(), native.pack_panels(g_block, True))
                else:
                    native.panel_addmm(d_W, d_W, g_block.t().contiguous(), native.pack_panels(x_block, True))
            d_W = d_W if wide else d_W.t()
        if ctx.has_bias and ctx.needs_input_grad[2]:
            d_b = g.sum(0, dtype=torch.float32)
        return d_x, d_W, d_b, None


def panel_linear(x: torch.Tensor, kernel: torch.Tensor, bias: Optional[torch.Tensor] = None,
                 out_dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
    """`x @ kernel + bias` with bfloat16 operands and float32 accumulation on the panel product.

    Args (R rows, K features, N outputs):
        x: (..., K) bfloat16 CPU tensor (see `panel_linear_available`).
        kernel: (K, N) float32, rounded to bfloat16 as it is packed.
        bias: None or (N,) float32, added in float32 to the product rounded to bfloat16.
        out_dtype: torch.bfloat16 (a Dense layer's output under the policy) or torch.float32 (an
            input projection, whose gates stay float32).

    Returns:
        (..., N) tensor of `out_dtype`, differentiable with respect to x, kernel and bias.
    """
    if not panel_linear_available(x):
        raise ValueError(
            f"panel_linear: expected bfloat16 CPU input with the compiled bfloat16 kernels, got {x.dtype} on "
            f"{x.device.type}; check panel_linear_available(x) first."
        )
    if kernel.dim() != 2 or x.shape[-1] != kernel.shape[0] or kernel.dtype != torch.float32:
        raise ValueError(
            f"panel_linear: expected a float32 kernel (features, outputs) with features = x.shape[-1] "
            f"({x.shape[-1]}), got {kernel.dtype} {tuple(kernel.shape)}."
        )
    if bias is not None and (tuple(bias.shape) != (kernel.shape[1],) or bias.dtype != torch.float32):
        raise ValueError(f"panel_linear: expected a float32 bias of shape ({kernel.shape[1]},), got "
                         f"{bias.dtype} {tuple(bias.shape)}.")
    if out_dtype not in (torch.bfloat16, torch.float32):
        raise ValueError(f"panel_linear: out_dtype must be torch.bfloat16 or torch.float32, got {out_dtype}.")
    return PanelLinear.apply(x, kernel, bias, out_dtype)
