"""An Embedding folded into the input projection of the recurrent layer it feeds.

With x = E[ids], the projection x W + b of every (batch, time) row equals T[ids] with the table
T = E W + b: one (vocab x features x width) GEMM instead of a (batch * time x features x width)
one, and a gather instead of the embedding lookup. Backward scatters dL/dxp into dT by id, then
    dE = dT W^T        dW = E^T dT        db = sum over rows of dT
so the batch * time rows meet the weights only through the scatter. It pays off when the
vocabulary has fewer rows than the batch has (batch, time) positions.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch.autograd.function import FunctionCtx


class EmbeddingProjection(torch.autograd.Function):
    @staticmethod
    def forward(ctx: FunctionCtx, ids: torch.Tensor, E: torch.Tensor, W: torch.Tensor, b: Optional[torch.Tensor]) -> torch.Tensor:
        table = torch.mm(E, W) if b is None else torch.addmm(b, E, W)
        ctx.save_for_backward(ids, E, W)
        ctx.has_bias = b is not None
        return F.embedding(ids, table)

    @staticmethod
    def backward(ctx: FunctionCtx, d_xp: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:
        ids, E, W = ctx.saved_tensors
        width = W.shape[1]
        d_table = d_xp.new_zeros(E.shape[0], width)
        d_table.index_add_(0, ids.reshape(-1), d_xp.reshape(-1, width))
        d_E = torch.mm(d_table, W.t()) if ctx.needs_input_grad[1] else None
        d_W = torch.mm(E.t(), d_table) if ctx.needs_input_grad[2] else None
        d_b = d_table.sum(0) if ctx.has_bias and ctx.needs_input_grad[3] else None
        return None, d_E, d_W, d_b


def embedding_projection(ids: torch.Tensor, embeddings: torch.Tensor, kernel: torch.Tensor,
                         bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """`embeddings[ids] @ kernel + bias` computed as `(embeddings @ kernel + bias)[ids]`.

    Args (B batch, T time steps, V vocabulary, F features, G*H the recurrent layer's gate width):
        ids: integer tensor, (B, T) from a model, any shape in general, values in `[0, V)`.
        embeddings: (V, F) embedding table.
        kernel: (F, G*H) input kernel of the recurrent layer.
        bias: None or (G*H,).

    Returns:
        (B, T, G*H) tensor (ids' shape + (G*H,)), differentiable with respect to `embeddings`,
        `kernel` and `bias`.

    Raises:
        ValueError: when the shapes or dtypes do not fit together.

    Example:
        >>> E, W, b = torch.randn(10, 4), torch.randn(4, 8), torch.randn(8)
        >>> ids = torch.tensor([[1, 2, 0]])
        >>> torch.allclose(embedding_projection(ids, E, W, b), E[ids] @ W + b, atol=1e-6)
        True
    """
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise ValueError(f"embedding_projection: expected integer ids, got {ids.dtype}; convert them with ids.long().")
    if embeddings.dim() != 2 or kernel.dim() != 2 or embeddings.shape[1] != kernel.shape[0]:
        raise ValueError(
            f"embedding_projection: expected embeddings (vocab, features) and kernel (features, width), "
            f"got {tuple(embeddings.shape)} and {tuple(kernel.shape)}."
        )
    if bias is not None and tuple(bias.shape) != (kernel.shape[1],):
        raise ValueError(
            f"embedding_projection: expected a bias of shape ({kernel.shape[1]},), got {tuple(bias.shape)}."
        )
    if embeddings.dtype != kernel.dtype or (bias is not None and bias.dtype != kernel.dtype):
        raise ValueError(
            f"embedding_projection: expected one floating dtype, got embeddings {embeddings.dtype}, "
            f"kernel {kernel.dtype}" + ("" if bias is None else f", bias {bias.dtype}") + "; cast them to one."
        )
    return EmbeddingProjection.apply(ids.long(), embeddings, kernel, bias)
