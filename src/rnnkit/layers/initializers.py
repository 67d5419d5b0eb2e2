"""Weight initializers as Keras 3's classes and names, with Keras's fan conventions (kernels are (in, out)).

An initializer is called as Keras's are, `init(shape, dtype=None) -> tensor`, and layers fill their
weights in place with `init.fill_(tensor)`. A seeded initializer gives the same values at every
call (as Keras's); an unseeded one draws from torch's global generator, so `torch.manual_seed`
reproduces it and two calls differ.

Example:
    >>> init = GlorotUniform(seed=1)
    >>> w = init((3, 4))                                   # (3, 4) tensor, same values every call
    >>> layer = LSTM(8, kernel_initializer=Orthogonal(gain=0.5, seed=2))
"""
from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Sequence
from typing import Any, Union

import torch

from ..checks import check_scalar
from .serialization import ConfigObject


def _fans(shape, input_axes=None, output_axes=None):
    if input_axes is not None and output_axes is not None:
        return math.prod(shape[a] for a in input_axes), math.prod(shape[a] for a in output_axes)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer(ConfigObject):
    """Base class: subclasses implement `fill_(tensor)` (in place) and `get_config()`."""

    def __call__(self, shape: Sequence[int], dtype: str | torch.dtype | None = None) -> torch.Tensor:
        """A new tensor of `shape` (and `dtype`, default torch's default) filled by this initializer."""
        value = torch.empty(tuple(shape), dtype=_torch_dtype(dtype))
        with torch.no_grad():
            self.fill_(value)
        return value

    def fill_(self, tensor: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


# What a layer's *_initializer argument takes: a Keras name, a serialized initializer, an Initializer,
# or a function that fills the tensor it is given in place.
InitializerLike = Union[str, dict, Initializer, Callable[[torch.Tensor], Any]]



def _torch_dtype(dtype):
    if dtype is None:
        return torch.get_default_dtype()
    return getattr(torch, dtype) if isinstance(dtype, str) else dtype


class Zeros(Initializer):
    """All zeros."""

    def fill_(self, tensor: torch.Tensor) -> torch.Tensor:
        return torch.nn.init.zeros_(tensor)


class Ones(Initializer):
    """All ones."""

    def fill_(self, tensor: torch.Tensor) -> torch.Tensor:
        return torch.nn.init.ones_(tensor)


class Constant(Initializer):
    """Every entry equal to `value` (a Python number)."""

    def __init__(self, value: float = 0.0) -> None:
        self.value = value

    def fill_(self, tensor: torch.Tensor) -> torch.Tensor:
        return torch.nn.init.constant_(tensor, float(self.value))

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


class Identity(Initializer):
    """`gain` times the identity matrix (2-D weights only)."""

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = gain

    def fill_(self, tensor: torch.Tensor) -> torch.Tensor:
        if tensor.dim() != 2:
            raise ValueError(f"Identity initializer needs a 2-D shape, got {tuple(tensor.shape)}.")
        return tensor.copy_(self.gain * torch.eye(*tensor.shape, dtype=tensor.dtype))

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


class RandomInitializer(Initializer):
    """Base of the random initializers: `seed` (an int) makes every call give the same values."""

    def __init__(self, seed: int | None = None) -> None:
        if isinstance(seed, dict):  # a Keras-serialized SeedGenerator, as .keras files may hold
            seed = (seed.get("config") or {}).get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ValueError(f"{type(self).__name__}: seed must be an int or None, got {seed!r}.")
        self.seed = seed

    def fill_(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.seed is None:
            return self.draw_(tensor, None)
        # A fresh CPU generator per call: the same values every call and on every device.
        generator = torch.Generator().manual_seed(self.seed)
        values = self.draw_(torch.empty(tensor.shape, dtype=tensor.dtype), generator)
        return tensor.copy_(values)

    def draw_(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Fills `tensor` in place from `generator` (None: torch's global one)."""
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


class RandomUniform(RandomInitializer):
    """Uniform on [minval, maxval)."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def draw_(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return torch.nn.init.uniform_(tensor, self.minval, self.maxval, generator=generator)

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class RandomNormal(RandomInitializer):
    """Normal with `mean` and `stddev`."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def draw_(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return torch.nn.init.normal_(tensor, self.mean, self.stddev, generator=generator)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


def _truncated_normal_(tensor, mean, stddev, generator):
    # Keras draws from a normal truncated at two standard deviations around the mean.
    return torch.nn.init.trunc_normal_(
        tensor, mean, stddev, mean - 2.0 * stddev, mean + 2.0 * stddev, generator=generator
    )


class TruncatedNormal(RandomNormal):
    """Normal with `mean` and `stddev`, redrawn beyond two standard deviations."""

    def draw_(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return _truncated_normal_(tensor, self.mean, self.stddev, generator)


class VarianceScaling(RandomInitializer):
    """Variance `scale / n`, n the fan given by `mode` ("fan_in", "fan_out", "fan_avg"), drawn from
    `distribution` ("truncated_normal", "untruncated_normal" or "uniform"). `input_axes` and
    `output_axes` (lists of axes, both or neither) say which axes count as fan-in and fan-out; by
    default the last axis is the output and the one before it the input."""

    _modes = ("fan_in", "fan_out", "fan_avg")
    _distributions = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(
        self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal", seed: int | None = None,
        input_axes: Sequence[int] | None = None, output_axes: Sequence[int] | None = None,
    ) -> None:
        super().__init__(seed)
        check_scalar(scale, f"{type(self).__name__}: scale", float, min_val=0, include_boundaries="neither")
        distribution = "truncated_normal" if distribution == "normal" else distribution
        for arg, value, allowed in (("mode", mode, self._modes), ("distribution", distribution, self._distributions)):
            if value not in allowed:
                raise ValueError(f"{type(self).__name__}: {arg} must be one of {', '.join(allowed)}, got {value!r}.")
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.input_axes, self.output_axes = input_axes, output_axes

    def draw_(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        fan_in, fan_out = _fans(tuple(tensor.shape), self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return torch.nn.init.uniform_(tensor, -limit, limit, generator=generator)
        if self.distribution == "untruncated_normal":
            return torch.nn.init.normal_(tensor, 0.0, math.sqrt(variance), generator=generator)
        # 0.8796... is the stddev of a standard normal truncated to (-2, 2).
        return _truncated_normal_(tensor, 0.0, math.sqrt(variance) / 0.87962566103423978, generator)

    def get_config(self) -> dict[str, Any]:
        return {
            "scale": self.scale, "mode": self.mode, "distribution": self.distribution, **super().get_config(),
            "input_axes": self.input_axes, "output_axes": self.output_axes,
        }


def _preset(name, scale, mode, distribution, doc):
    """A VarianceScaling with fixed scale, mode and distribution, left out of its config as in Keras's."""

    def __init__(
        self, seed: int | None = None, input_axes: Sequence[int] | None = None, output_axes: Sequence[int] | None = None
    ) -> None:
        VarianceScaling.__init__(self, scale, mode, distribution, seed, input_axes, output_axes)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config, "__doc__": doc})


GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform", "Glorot (Xavier) uniform.")
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal", "Glorot (Xavier) truncated normal.")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform", "He uniform.")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal", "He truncated normal.")
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform", "LeCun uniform.")
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal", "LeCun truncated normal.")


class Orthogonal(RandomInitializer):
    """Keras's orthogonal: QR of a normal matrix, sign-corrected, transposed for wide shapes, times `gain`."""

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        super().__init__(seed)
        self.gain = gain

    def draw_(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        rows, cols = math.prod(tensor.shape[:-1]), tensor.shape[-1]
        a = torch.randn(max(rows, cols), min(rows, cols), dtype=torch.float64, generator=generator)
        q, r = torch.linalg.qr(a)
        q = q * torch.sign(torch.diagonal(r))
        if rows < cols:
            q = q.t()
        return tensor.copy_((self.gain * q).reshape(tensor.shape))

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain, **super().get_config()}


_CLASSES = {
    cls.__name__: cls
    for cls in (
        Zeros, Ones, Constant, Identity, RandomUniform, RandomNormal, TruncatedNormal, VarianceScaling,
        GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal,
    )
}
# Keras's snake_case names of the same classes ("glorot_uniform" -> GlorotUniform), and its aliases.
_NAMES = {re.sub("([a-z0-9])([A-Z])", r"\1_\2", name).lower(): cls for name, cls in _CLASSES.items()}
_ALIASES = {"uniform": "random_uniform", "normal": "random_normal", "zero": "zeros", "one": "ones"}
zeros, ones, constant, identity = Zeros, Ones, Constant, Identity
random_uniform, random_normal, truncated_normal, variance_scaling = (
    RandomUniform, RandomNormal, TruncatedNormal, VarianceScaling
)
glorot_uniform, glorot_normal, he_uniform, he_normal = GlorotUniform, GlorotNormal, HeUniform, HeNormal
lecun_uniform, lecun_normal, orthogonal = LecunUniform, LecunNormal, Orthogonal


def get(identifier: Initializer | str | dict[str, Any]) -> Initializer:
    """An Initializer from a Keras name ("glorot_uniform"), a serialized initializer
    ({"class_name": "Orthogonal", "config": {"gain": 0.5}}), or an Initializer (returned as is)."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _CLASSES.get(identifier["class_name"])
        if cls is None:
            raise ValueError(
                f"Unknown initializer class {identifier['class_name']!r}; known: {', '.join(sorted(_CLASSES))}."
            )
        return cls.from_config(identifier.get("config") or {})
    if isinstance(identifier, str):
        name = _ALIASES.get(identifier, identifier)
        if name in _NAMES:
            return _NAMES[name]()
        valid = sorted(_NAMES) + sorted(_ALIASES)
        close = difflib.get_close_matches(identifier, valid, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"Unknown initializer {identifier!r}.{hint} Valid names: {', '.join(valid)}.")
    raise ValueError(
        f"Expected an initializer name, a serialized initializer or an rnnkit.initializers class instance, "
        f"got {identifier!r}."
    )


def get_initializer(identifier: Initializer | str | dict[str, Any] | Callable) -> Callable[[torch.Tensor], Any]:
    """An in-place initializer `fn(tensor)`: from anything `get` takes, or a callable that fills the
    tensor it is given (rnnkit's own convention for plain functions)."""
    if callable(identifier) and not isinstance(identifier, Initializer):
        return identifier
    return get(identifier).fill_


def serialize(initializer: Any) -> Any:
    """An initializer as a layer config holds it: a name stays the name, an Initializer becomes
    {"class_name": ..., "config": {...}} (Keras's form); anything else is kept as given."""
    if isinstance(initializer, Initializer):
        return {"class_name": type(initializer).__name__, "config": initializer.get_config()}
    return initializer


def deserialize(config: str | dict[str, Any]) -> Initializer:
    """The Initializer a `serialize` result describes."""
    return get(config)
