"""`keras.random`: seeded random tensors, with Keras 3's seed semantics on its torch backend.

- `seed=<int>`: stateless: the same seed gives the same values on every call.
- `seed=SeedGenerator(...)`: stateful: each call draws the generator's next seed, so repeated
  calls differ but a run is reproducible from the generator's initial seed.
- `seed=None`: PyTorch's global generator (seeded by `rnnkit.utils.set_random_seed`).

A seed becomes a `torch.Generator` exactly as Keras's torch backend makes it (state `[seed, counter]`,
generator seed `(seed + counter) mod 2**32`), so on the CPU the values equal Keras's.
"""
from __future__ import annotations

import random as _python_random
from typing import Any, Union

import torch

from .checks import check_scalar
from .ops import ArrayLike, DTypeLike, Shape, _dtype, _shape_tuple, convert_to_tensor

_FLOATX = torch.float32


class SeedGenerator:
    """The state of a stream of seeds: `[seed, counter]`, the counter advancing on every draw.

    Args:
        seed: int initial seed; None draws one at random (not reproducible).
        name: kept for Keras's config.

    Example:
        >>> gen = SeedGenerator(42)
        >>> a, b = normal((2,), seed=gen), normal((2,), seed=gen)   # a != b, same every run
    """

    def __init__(self, seed: int | None = None, name: str | None = None, **kwargs) -> None:
        if kwargs:
            raise TypeError(f"SeedGenerator: unexpected keyword argument(s): {', '.join(sorted(kwargs))}.")
        self._initial_seed = seed = check_scalar(seed, "SeedGenerator: seed", int, or_none="a random seed")
        if seed is None:
            seed = _python_random.randint(1, int(1e9))
        self.name = name or "seed_generator"
        self.state = [seed, 0]

    def next(self) -> list[int]:
        """The current `[seed, counter]`, then advances the counter."""
        current = list(self.state)
        self.state[1] += 1
        return current

    def get_config(self) -> dict[str, Any]:
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SeedGenerator:
        return cls(**config)


# A seed as the functions below take it: an int (stateless), a SeedGenerator (stateful) or None (global).
Seed = Union[int, SeedGenerator, None]


def _generator(seed):
    if seed is None:
        return None
    if isinstance(seed, SeedGenerator):
        first, second = seed.next()
    elif isinstance(seed, int) and not isinstance(seed, bool):
        first, second = seed, 0
    else:
        raise ValueError(f"seed must be an integer, a SeedGenerator or None, got {seed!r}.")
    generator = torch.Generator()
    generator.manual_seed(int(first + second) & 0xFFFFFFFF)
    return generator


def normal(
    shape: Shape, mean: float = 0.0, stddev: float = 1.0, dtype: DTypeLike = None, seed: Seed = None
) -> torch.Tensor:
    """Samples of N(mean, stddev**2), float32 unless `dtype` says otherwise."""
    return torch.normal(mean, stddev, size=_shape_tuple(shape), generator=_generator(seed),
                        dtype=_dtype(dtype) or _FLOATX)


def uniform(
    shape: Shape, minval: float = 0.0, maxval: float = 1.0, dtype: DTypeLike = None, seed: Seed = None
) -> torch.Tensor:
    """Samples of U[minval, maxval)."""
    shape = _shape_tuple(shape)
    draws = torch.rand(shape or (1,), generator=_generator(seed), dtype=_dtype(dtype) or _FLOATX)
    values = (maxval - minval) * draws + minval
    return values if shape else values[0]


def randint(shape: Shape, minval: int, maxval: int, dtype: DTypeLike = "int32", seed: Seed = None) -> torch.Tensor:
    """Integers in [minval, maxval)."""
    return torch.randint(minval, maxval, _shape_tuple(shape), generator=_generator(seed), dtype=_dtype(dtype))


def truncated_normal(
    shape: Shape, mean: float = 0.0, stddev: float = 1.0, dtype: DTypeLike = None, seed: Seed = None
) -> torch.Tensor:
    """Samples of N(mean, stddev**2) redrawn until within two standard deviations of the mean."""
    shape = _shape_tuple(shape)
    # Four standard-normal candidates per value; the first inside (-2, 2) is kept, as Keras does.
    candidates = normal(shape + (4,), dtype=dtype, seed=seed)
    inside = (candidates > -2) & (candidates < 2)
    first_inside = inside.max(-1, keepdim=True)[1]
    return candidates.gather(-1, first_inside).squeeze(-1) * stddev + mean


def dropout(inputs: ArrayLike, rate: float, noise_shape: Shape | None = None, seed: Seed = None) -> torch.Tensor:
    """Zeroes a fraction `rate` of `inputs` and scales the rest by 1/(1-rate); `noise_shape`
    (None entries follow the input) shares one draw along its size-1 axes."""
    inputs = convert_to_tensor(inputs)
    check_scalar(rate, "dropout: rate", float, min_val=0, max_val=1)
    if rate == 1.0:
        return torch.zeros_like(inputs)
    if rate == 0.0:
        return inputs
    keep = 1.0 - rate
    shape = inputs.shape if noise_shape is None else [
        n if s is None else s for n, s in zip(inputs.shape, noise_shape)
    ]
    mask = torch.bernoulli(torch.full(tuple(shape), keep), generator=_generator(seed)).bool()
    return torch.where(mask.broadcast_to(inputs.shape), inputs / keep, torch.zeros_like(inputs))


def shuffle(x: ArrayLike, axis: int = 0, seed: Seed = None) -> torch.Tensor:
    """`x` with its slices along `axis` in a random order."""
    x = convert_to_tensor(x)
    order = torch.rand(x.shape[: axis + 1], generator=_generator(seed)).argsort(axis)
    order = order.reshape(*order.shape, *[1] * (x.dim() - axis - 1)).expand(x.shape)
    return x.gather(axis, order)


def categorical(logits: ArrayLike, num_samples: int, dtype: DTypeLike = "int32", seed: Seed = None) -> torch.Tensor:
    """`num_samples` class ids per row of `logits` (batch, classes), drawn with replacement."""
    probs = torch.softmax(convert_to_tensor(logits), dim=-1)
    return torch.multinomial(probs, num_samples, replacement=True, generator=_generator(seed)).to(_dtype(dtype))
