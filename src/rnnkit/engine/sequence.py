"""Small pieces shared by the fused sequence kernels."""
from typing import Optional, Tuple

import torch


def previous_states(initial: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
    """(batch, time, units) states s_{t-1} for every step: the initial state then states[:, :-1]."""
    return torch.cat([initial.unsqueeze(1), states[:, :-1]], dim=1)


def split_mask(mask: Optional[torch.Tensor], dtype: torch.dtype) -> Tuple[Optional[torch.Tensor], ...]:
    """A (batch, time) boolean step mask as (bool (B, T, 1), float (B, T, 1), float 1 - mask)."""
    if mask is None:
        return None, None, None
    keep = mask.unsqueeze(-1)
    keep_f = keep.to(dtype)
    return keep, keep_f, 1.0 - keep_f


def carry_masked(keep_t: Optional[torch.Tensor], new: torch.Tensor, previous: torch.Tensor) -> None:
    """A masked step keeps the previous state exactly: new <- where(keep, new, previous), in place."""
    if keep_t is not None:
        new.copy_(torch.where(keep_t, new, previous))


def nested_layout(mask: Optional[torch.Tensor]) -> Optional[Tuple[torch.Tensor, torch.Tensor]]:
    """(order, counts) when the rows kept at each step of a (batch, time) mask are the first
    counts[t] rows of one ordering `order` of the batch, else None.

    That holds for right-padded sequences (order: longest first, counts falling as sequences end)
    and left-padded ones (a go_backwards pass over right-padded data): the kernels then run each
    step on its active rows only. Rows with more kept steps come first; the ordering is stable."""
    if mask is None or mask.device.type != "cpu":
        return None
    counts = mask.sum(dim=0)
    order = torch.argsort(mask.sum(dim=1), descending=True, stable=True)
    expected = torch.arange(mask.shape[0]).unsqueeze(1) < counts.unsqueeze(0)
    if not torch.equal(mask[order], expected):
        return None
    return order, counts
