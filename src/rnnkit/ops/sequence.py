"""Small pieces shared by the fused sequence kernels."""
from typing import Optional

import torch


def previous_states(initial: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
    """(batch, time, units) states s_{t-1} for every step: the initial state then states[:, :-1]."""
    return torch.cat([initial.unsqueeze(1), states[:, :-1]], dim=1)


def split_mask(mask: Optional[torch.Tensor], dtype):
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
