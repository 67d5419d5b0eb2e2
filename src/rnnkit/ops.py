"""`keras.ops` on torch tensors: the functions a custom cell or layer calls.

Names, argument names and defaults are Keras 3's (`axis=`, `keepdims=`, `dtype=` as a string or a
torch dtype), so code written against `keras.ops` runs unchanged with `from rnnkit import ops`.
Every function takes torch tensors, NumPy arrays or Python numbers and returns a torch tensor;
Python floats and float lists become float32 (Keras's floatx), NumPy arrays keep their dtype.
Gradients flow through all of them (they are torch operations).
"""
from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import Union

import numpy as np
import torch
import torch.nn.functional as F

_FLOATX = torch.float32

# What a function takes where Keras takes a tensor: a torch tensor, a NumPy array or scalar, a Python
# number, or a (nested) list or tuple of numbers.
ArrayLike = Union[torch.Tensor, np.ndarray, np.generic, float, int, bool, Sequence]
# A dtype: a Keras name ("float32", "int64", "bool"), a torch dtype, a NumPy dtype, or None for the default.
DTypeLike = Union[str, torch.dtype, np.dtype, type, None]
Axis = Union[int, Sequence[int], None]
Shape = Union[int, Sequence[int]]


# ------------------------------------------------------------------------------------ conversion
def _dtype(dtype):
    """A torch dtype from a Keras dtype name ("float32", "int64", "bool", ...) or a torch dtype."""
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    name = getattr(dtype, "name", dtype)  # numpy dtypes and Keras DTypePolicy-like objects
    if isinstance(dtype, type) and issubclass(dtype, np.generic):
        name = np.dtype(dtype).name
    resolved = getattr(torch, str(name), None)
    if not isinstance(resolved, torch.dtype):
        raise ValueError(f"Unknown dtype {dtype!r}: use a name such as 'float32', 'int32' or 'bool', or a torch dtype.")
    return resolved


def convert_to_tensor(x: ArrayLike, dtype: DTypeLike = None, sparse: bool | None = None) -> torch.Tensor:
    """`x` as a torch tensor (a tensor is returned as is unless `dtype` asks for a cast)."""
    if sparse:
        raise ValueError("convert_to_tensor(sparse=True): rnnkit has no sparse tensors; pass sparse=None.")
    dtype = _dtype(dtype)
    if isinstance(x, torch.Tensor):
        return x if dtype is None or x.dtype == dtype else x.to(dtype)
    if isinstance(x, (np.ndarray, np.generic)):
        if x.dtype.kind in "US":
            raise TypeError("convert_to_tensor: string arrays have no tensor form; vectorize text first.")
        return torch.as_tensor(np.ascontiguousarray(x), dtype=dtype)
    if isinstance(x, (list, tuple)) and builtins.any(isinstance(v, torch.Tensor) for v in x):
        return torch.stack([convert_to_tensor(v, dtype) for v in x])
    if dtype is None and _has_float(x):
        dtype = _FLOATX
    elif dtype is None and _all_int(x):
        dtype = torch.int32  # Keras: Python ints become int32
    return torch.as_tensor(x, dtype=dtype)


def _has_float(x):
    if isinstance(x, (list, tuple)):
        return builtins.any(_has_float(v) for v in x)
    return isinstance(x, float)


def _all_int(x):
    if isinstance(x, (list, tuple)):
        return builtins.all(_all_int(v) for v in x)
    return isinstance(x, int) and not isinstance(x, bool)


def convert_to_numpy(x: ArrayLike) -> np.ndarray:
    """`x` as a NumPy array (detached, on the CPU)."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _pair(x1, x2):
    """Two operands as tensors: a Python number follows the other operand's dtype, as in Keras."""
    if not isinstance(x1, torch.Tensor) and isinstance(x2, torch.Tensor) and isinstance(x1, (int, float)):
        return x1, x2
    if not isinstance(x2, torch.Tensor) and isinstance(x1, torch.Tensor) and isinstance(x2, (int, float)):
        return x1, x2
    return convert_to_tensor(x1), convert_to_tensor(x2)


def cast(x: ArrayLike, dtype: DTypeLike) -> torch.Tensor:
    return convert_to_tensor(x).to(_dtype(dtype))


def shape(x: ArrayLike) -> tuple[int, ...]:
    """The static shape as a tuple of ints."""
    return tuple(convert_to_tensor(x).shape)


def ndim(x: ArrayLike) -> int:
    return convert_to_tensor(x).dim()


def size(x: ArrayLike) -> int:
    return convert_to_tensor(x).numel()


def stop_gradient(variable: ArrayLike) -> torch.Tensor:
    return convert_to_tensor(variable).detach()


# ----------------------------------------------------------------------------------- arithmetic
def add(x1: ArrayLike, x2: ArrayLike) -> torch.Tensor:
    a, b = _pair(x1, x2)
    return a + b


def subtract(x1: ArrayLike, x2: ArrayLike) -> torch.Tensor:
    a, b = _pair(x1, x2)
    return a - b


def multiply(x1: ArrayLike, x2: ArrayLike) -> torch.Tensor:
    a, b = _pair(x1, x2)
    return a * b


def divide(x1: ArrayLike, x2: ArrayLike) -> torch.Tensor:
    a, b = _pair(x1, x2)
    return torch.true_divide(a, b)


true_divide = divide


def floor_divide(x1: ArrayLike, x2: ArrayLike) -> torch.Tensor:
    a, b = _pair(x1, x2)
    return a // b


def mod(x1: ArrayLike, x2: ArrayLike) -> torch.Tensor:
    a, b = _pair(x1, x2)
    return a % b


def power(x1: ArrayLike, x2: ArrayLike) -> torch.Tensor:
    a, b = _pair(x1, x2)
    return a ** b


def negative(x: ArrayLike) -> torch.Tensor:
    return torch.neg(convert_to_tensor(x))


def maximum(x1: ArrayLike, x2: ArrayLike) -> torch.Tensor:
    return torch.maximum(*(convert_to_tensor(v) for v in _promoted(x1, x2)))


def minimum(x1: ArrayLike, x2: ArrayLike) -> torch.Tensor:
    return torch.minimum(*(convert_to_tensor(v) for v in _promoted(x1, x2)))


def _promoted(x1, x2):
    a, b = convert_to_tensor(x1), convert_to_tensor(x2)
    common = torch.promote_types(a.dtype, b.dtype)
    return a.to(common), b.to(common)


def matmul(x1: ArrayLike, x2: ArrayLike) -> torch.Tensor:
    return torch.matmul(*_promoted(x1, x2))


def dot(x1: ArrayLike, x2: ArrayLike) -> torch.Tensor:
    """NumPy's dot: a product for scalars, the inner product for vectors, matmul otherwise
    (contracting the last axis of x1 with the second-to-last of x2)."""
    a, b = _promoted(x1, x2)
    if a.dim() == 0 or b.dim() == 0:
        return a * b
    if b.dim() == 1:
        return torch.tensordot(a, b, dims=([-1], [0]))
    return torch.tensordot(a, b, dims=([-1], [b.dim() - 2]))


def einsum(subscripts: str, *operands) -> torch.Tensor:
    return torch.einsum(subscripts, *_promoted_all(operands))


def _promoted_all(values):
    tensors = [convert_to_tensor(v) for v in values]
    common = tensors[0].dtype
    for t in tensors[1:]:
        common = torch.promote_types(common, t.dtype)
    return [t.to(common) for t in tensors]


def abs(x: ArrayLike) -> torch.Tensor:
    return torch.abs(convert_to_tensor(x))


absolute = abs


def sign(x: ArrayLike) -> torch.Tensor:
    return torch.sign(convert_to_tensor(x))


def square(x: ArrayLike) -> torch.Tensor:
    return torch.square(convert_to_tensor(x))


def _float(x):
    x = convert_to_tensor(x)
    return x if x.is_floating_point() else x.to(_FLOATX)


def sqrt(x: ArrayLike) -> torch.Tensor:
    return torch.sqrt(_float(x))


def rsqrt(x: ArrayLike) -> torch.Tensor:
    return torch.rsqrt(_float(x))


def exp(x: ArrayLike) -> torch.Tensor:
    return torch.exp(_float(x))


def log(x: ArrayLike) -> torch.Tensor:
    return torch.log(_float(x))


def log1p(x: ArrayLike) -> torch.Tensor:
    return torch.log1p(_float(x))


def sin(x: ArrayLike) -> torch.Tensor:
    return torch.sin(_float(x))


def cos(x: ArrayLike) -> torch.Tensor:
    return torch.cos(_float(x))


def floor(x: ArrayLike) -> torch.Tensor:
    return torch.floor(_float(x))


def ceil(x: ArrayLike) -> torch.Tensor:
    return torch.ceil(_float(x))


def round(x: ArrayLike, decimals: int = 0) -> torch.Tensor:
    return torch.round(_float(x), decimals=decimals)


def clip(x: ArrayLike, x_min: ArrayLike, x_max: ArrayLike) -> torch.Tensor:
    return torch.clamp(convert_to_tensor(x), x_min, x_max)


# ----------------------------------------------------------------------------------- activations
def tanh(x: ArrayLike) -> torch.Tensor:
    return torch.tanh(_float(x))


def sigmoid(x: ArrayLike) -> torch.Tensor:
    return torch.sigmoid(_float(x))


def relu(x: ArrayLike) -> torch.Tensor:
    return torch.relu(convert_to_tensor(x))


def relu6(x: ArrayLike) -> torch.Tensor:
    return F.relu6(convert_to_tensor(x))


def leaky_relu(x: ArrayLike, negative_slope: float = 0.2) -> torch.Tensor:
    return F.leaky_relu(convert_to_tensor(x), negative_slope)


def elu(x: ArrayLike, alpha: float = 1.0) -> torch.Tensor:
    return F.elu(convert_to_tensor(x), alpha)


def gelu(x: ArrayLike, approximate: bool = True) -> torch.Tensor:
    return F.gelu(convert_to_tensor(x), approximate="tanh" if approximate else "none")


def silu(x: ArrayLike) -> torch.Tensor:
    return F.silu(convert_to_tensor(x))


swish = silu


def softplus(x: ArrayLike) -> torch.Tensor:
    return F.softplus(convert_to_tensor(x))


def softsign(x: ArrayLike) -> torch.Tensor:
    return F.softsign(convert_to_tensor(x))


def softmax(x: ArrayLike, axis: int = -1) -> torch.Tensor:
    return torch.softmax(_float(x), dim=axis)


def log_softmax(x: ArrayLike, axis: int = -1) -> torch.Tensor:
    return torch.log_softmax(_float(x), dim=axis)


def one_hot(x: ArrayLike, num_classes: int, axis: int = -1, dtype: DTypeLike = None) -> torch.Tensor:
    """One-hot vectors along `axis` (float32 by default); ids outside [0, num_classes) give zeros, as Keras."""
    x = convert_to_tensor(x).long()
    valid = (x >= 0) & (x < num_classes)
    encoded = F.one_hot(torch.where(valid, x, torch.zeros_like(x)), num_classes) * valid.unsqueeze(-1)
    encoded = encoded.to(_dtype(dtype) or _FLOATX)
    return encoded if axis == -1 else torch.movedim(encoded, -1, axis)


# -------------------------------------------------------------------------------------- creation
def zeros(shape: Shape, dtype: DTypeLike = None) -> torch.Tensor:
    return torch.zeros(_shape_tuple(shape), dtype=_dtype(dtype) or _FLOATX)


def ones(shape: Shape, dtype: DTypeLike = None) -> torch.Tensor:
    return torch.ones(_shape_tuple(shape), dtype=_dtype(dtype) or _FLOATX)


def full(shape: Shape, fill_value: ArrayLike, dtype: DTypeLike = None) -> torch.Tensor:
    fill = convert_to_tensor(fill_value)
    return torch.full(_shape_tuple(shape), fill.item(), dtype=_dtype(dtype) or fill.dtype)


def _shape_tuple(shape):
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)


def zeros_like(x: ArrayLike, dtype: DTypeLike = None) -> torch.Tensor:
    return torch.zeros_like(convert_to_tensor(x), dtype=_dtype(dtype))


def ones_like(x: ArrayLike, dtype: DTypeLike = None) -> torch.Tensor:
    return torch.ones_like(convert_to_tensor(x), dtype=_dtype(dtype))


def full_like(x: ArrayLike, fill_value: ArrayLike, dtype: DTypeLike = None) -> torch.Tensor:
    return torch.full_like(convert_to_tensor(x), fill_value, dtype=_dtype(dtype))


def eye(N: int, M: int | None = None, k: int = 0, dtype: DTypeLike = None) -> torch.Tensor:
    """Ones on the k-th diagonal of an (N, M) matrix."""
    return torch.ones(N, N if M is None else M, dtype=_dtype(dtype) or _FLOATX).triu(k).tril(k)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: DTypeLike = None) -> torch.Tensor:
    if stop is None:
        start, stop = 0, start
    values = convert_to_tensor([start, stop, step])
    return torch.arange(start, stop, step, dtype=_dtype(dtype) or values.dtype)


# ------------------------------------------------------------------------------- shape handling
def reshape(x: ArrayLike, newshape: Shape) -> torch.Tensor:
    return torch.reshape(convert_to_tensor(x), _shape_tuple(newshape))


def transpose(x: ArrayLike, axes: Sequence[int] | None = None) -> torch.Tensor:
    x = convert_to_tensor(x)
    return x.permute(*(axes if axes is not None else reversed(range(x.dim()))))


def expand_dims(x: ArrayLike, axis: int | Sequence[int]) -> torch.Tensor:
    x = convert_to_tensor(x)
    for a in sorted(a % (x.dim() + len(_axes(axis))) for a in _axes(axis)):
        x = x.unsqueeze(a)
    return x


def _axes(axis):
    return list(axis) if isinstance(axis, (list, tuple)) else [axis]


def squeeze(x: ArrayLike, axis: Axis = None) -> torch.Tensor:
    x = convert_to_tensor(x)
    if axis is None:
        return torch.squeeze(x)
    for a in _axes(axis):
        if x.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} has size {x.shape[a]}, not 1 (shape {tuple(x.shape)}).")
    return torch.squeeze(x, dim=tuple(_axes(axis)))


def concatenate(xs: Sequence[ArrayLike], axis: int = 0) -> torch.Tensor:
    return torch.cat(_promoted_all(xs), dim=axis)


def stack(x: Sequence[ArrayLike], axis: int = 0) -> torch.Tensor:
    return torch.stack(_promoted_all(x), dim=axis)


def split(x: ArrayLike, indices_or_sections: int | Sequence[int], axis: int = 0) -> list[torch.Tensor]:
    """NumPy's split: an int cuts into that many equal parts (an error if the axis does not divide),
    a list gives the indices where the parts start."""
    x = convert_to_tensor(x)
    length = x.shape[axis]
    if isinstance(indices_or_sections, int):
        if length % indices_or_sections:
            raise ValueError(f"split: axis {axis} of size {length} does not divide into {indices_or_sections} parts.")
        return list(torch.split(x, length // indices_or_sections, dim=axis))
    bounds = [0, *indices_or_sections, length]
    return [x.narrow(axis, a, builtins.max(b - a, 0)) for a, b in zip(bounds[:-1], bounds[1:])]


def tile(x: ArrayLike, repeats: int | Sequence[int]) -> torch.Tensor:
    return torch.tile(convert_to_tensor(x), tuple(_axes(repeats)))


def repeat(x: ArrayLike, repeats: int | Sequence[int], axis: int | None = None) -> torch.Tensor:
    x = convert_to_tensor(x)
    return torch.repeat_interleave(x.flatten() if axis is None else x, repeats, dim=0 if axis is None else axis)


def flip(x: ArrayLike, axis: Axis = None) -> torch.Tensor:
    x = convert_to_tensor(x)
    return torch.flip(x, dims=tuple(range(x.dim())) if axis is None else tuple(_axes(axis)))


def take(x: ArrayLike, indices: ArrayLike, axis: int | None = None) -> torch.Tensor:
    x, indices = convert_to_tensor(x), convert_to_tensor(indices).long()
    if axis is None:
        return x.flatten()[indices]
    return torch.index_select(x, axis, indices.flatten()).reshape(
        *x.shape[: axis % x.dim()], *indices.shape, *x.shape[axis % x.dim() + 1:]
    )


def take_along_axis(x: ArrayLike, indices: ArrayLike, axis: int | None = None) -> torch.Tensor:
    x, indices = convert_to_tensor(x), convert_to_tensor(indices).long()
    if axis is None:
        return x.flatten()[indices.flatten()]
    return torch.take_along_dim(x, indices, dim=axis)


def slice(inputs: ArrayLike, start_indices: Sequence[int], shape: Sequence[int]) -> torch.Tensor:
    """The block of `shape` starting at `start_indices` (one index per axis)."""
    x = convert_to_tensor(inputs)
    return x[tuple(builtins.slice(int(s), int(s) + int(n)) for s, n in zip(start_indices, shape))]


def cumsum(x: ArrayLike, axis: int | None = None, dtype: DTypeLike = None) -> torch.Tensor:
    x = convert_to_tensor(x)
    return torch.cumsum(x.flatten() if axis is None else x, dim=0 if axis is None else axis, dtype=_dtype(dtype))


# ------------------------------------------------------------------------------------ reductions
def _reduce(fn, x, axis, keepdims, **kwargs):
    x = convert_to_tensor(x)
    if axis is None:
        out = fn(x, **kwargs)
        return out.reshape([1] * x.dim()) if keepdims else out
    return fn(x, dim=tuple(_axes(axis)), keepdim=keepdims, **kwargs)


def sum(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    return _reduce(torch.sum, x, axis, keepdims)


def mean(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    return _reduce(torch.mean, _float(x), axis, keepdims)


def prod(x: ArrayLike, axis: Axis = None, keepdims: bool = False, dtype: DTypeLike = None) -> torch.Tensor:
    x = convert_to_tensor(x)
    x = x if dtype is None else x.to(_dtype(dtype))
    if axis is None:
        return _reduce(torch.prod, x, None, keepdims)
    for a in sorted((a % x.dim() for a in _axes(axis)), reverse=True):
        x = torch.prod(x, dim=a, keepdim=keepdims)
    return x


def var(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    return _reduce(torch.var, _float(x), axis, keepdims, correction=0)


def std(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    return _reduce(torch.std, _float(x), axis, keepdims, correction=0)


def max(x: ArrayLike, axis: Axis = None, keepdims: bool = False, initial: float | None = None) -> torch.Tensor:
    out = _reduce(torch.amax, x, axis, keepdims)
    return out if initial is None else torch.clamp_min(out, initial)


def min(x: ArrayLike, axis: Axis = None, keepdims: bool = False, initial: float | None = None) -> torch.Tensor:
    out = _reduce(torch.amin, x, axis, keepdims)
    return out if initial is None else torch.clamp_max(out, initial)


def _arg(fn, x, axis, keepdims):
    x = convert_to_tensor(x)
    if axis is None:
        out = fn(x.flatten())
        return out.reshape([1] * x.dim()) if keepdims else out
    return fn(x, dim=axis, keepdim=keepdims)


def argmax(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    return _arg(torch.argmax, x, axis, keepdims).to(torch.int32)


def argmin(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    return _arg(torch.argmin, x, axis, keepdims).to(torch.int32)


def any(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    return _reduce(torch.any, convert_to_tensor(x).bool(), axis, keepdims)


def all(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    return _reduce(torch.all, convert_to_tensor(x).bool(), axis, keepdims)


def logsumexp(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    x = _float(x)
    dims = tuple(range(x.dim())) if axis is None else tuple(_axes(axis))
    return torch.logsumexp(x, dim=dims, keepdim=keepdims)


def norm(x: ArrayLike, ord: int | float | str | None = None, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    return torch.linalg.norm(_float(x), ord=ord, dim=None if axis is None else tuple(_axes(axis)), keepdim=keepdims)


# ------------------------------------------------------------------------- comparison and logic
def _compare(fn: Callable[..., torch.Tensor]) -> Callable[[ArrayLike, ArrayLike], torch.Tensor]:
    def compare(x1: ArrayLike, x2: ArrayLike) -> torch.Tensor:
        return fn(*_promoted(x1, x2))

    compare.__name__ = fn.__name__
    compare.__doc__ = f"Elementwise {fn.__name__}: a bool tensor."
    return compare


equal = _compare(torch.eq)
not_equal = _compare(torch.ne)
greater = _compare(torch.gt)
greater_equal = _compare(torch.ge)
less = _compare(torch.lt)
less_equal = _compare(torch.le)


def logical_and(x1: ArrayLike, x2: ArrayLike) -> torch.Tensor:
    return torch.logical_and(convert_to_tensor(x1), convert_to_tensor(x2))


def logical_or(x1: ArrayLike, x2: ArrayLike) -> torch.Tensor:
    return torch.logical_or(convert_to_tensor(x1), convert_to_tensor(x2))


def logical_xor(x1: ArrayLike, x2: ArrayLike) -> torch.Tensor:
    return torch.logical_xor(convert_to_tensor(x1), convert_to_tensor(x2))


def logical_not(x: ArrayLike) -> torch.Tensor:
    return torch.logical_not(convert_to_tensor(x))


def where(
    condition: ArrayLike, x1: ArrayLike | None = None, x2: ArrayLike | None = None
) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """x1 where condition holds, else x2; with neither, the indices where it holds (a tuple per axis)."""
    condition = convert_to_tensor(condition).bool()
    if x1 is None and x2 is None:
        return tuple(torch.nonzero(condition, as_tuple=True))
    if x1 is None or x2 is None:
        raise ValueError("where: pass both x1 and x2, or neither.")
    a, b = _promoted(x1, x2)
    return torch.where(condition, a, b)


def isnan(x: ArrayLike) -> torch.Tensor:
    return torch.isnan(convert_to_tensor(x))


def isfinite(x: ArrayLike) -> torch.Tensor:
    return torch.isfinite(convert_to_tensor(x))
