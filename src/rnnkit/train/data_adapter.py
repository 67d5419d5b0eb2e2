"""What fit/evaluate/predict accept as data, turned into batches of tensors.

Arrays (numpy, torch, nested lists of numbers) and lists/tuples/dicts of them for several inputs
are validated once here (lengths agree, no NaN or inf in floating training data, a positive batch
size) and then sliced per batch; Python generators, iterables and `torch.utils.data.DataLoader`
yield `(x, y)` or `(x, y, sample_weight)` tuples themselves."""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from ..checks import check_scalar
from ..engine.nest import flatten, map_structure
from ..layers.base import is_text


def to_tensor(
    value: Any, device: torch.device | str | None = None, float_dtype: torch.dtype | None = None,
    name: str | None = None,
) -> torch.Tensor | np.ndarray:
    """A numpy array, nested list or tensor as a tensor: floating data as `float_dtype` (the model's;
    default float32, Keras's floatx; a float tensor too, where `float_dtype` is given, as Keras casts
    inputs to the model's dtype); integers stay integers (token ids, sparse labels). Arrays of
    strings stay NumPy arrays, for the model's text layers. `name` (e.g. "y") is the argument named
    in errors."""
    where = f" in {name}" if name else ""
    if isinstance(value, torch.Tensor):
        if value.is_complex():
            raise ValueError(f"Expected real numbers{where}, got a complex tensor of shape {tuple(value.shape)}.")
        tensor = value.to(float_dtype) if float_dtype is not None and value.is_floating_point() else value
    else:
        array = np.asarray(value)
        if is_text(array):
            if name not in (None, "x"):  # targets and weights are numbers; only inputs meet text layers
                raise ValueError(f"Expected numbers{where}, got text (an array of strings of shape {array.shape}).")
            return array  # for a model starting with TextVectorization or StringLookup
        if array.dtype == object:
            raise ValueError(f"Expected numeric data{where}, got an array of Python objects of shape {array.shape}.")
        if array.dtype.kind == "c":
            raise ValueError(f"Expected real numbers{where}, got complex numbers ({array.dtype}) of shape {array.shape}.")
        if array.dtype.kind not in "biuf":
            raise ValueError(
                f"Expected numeric data or strings{where}, got an array of dtype {array.dtype} of shape {array.shape}."
            )
        array = np.ascontiguousarray(array)
        # A read-only array (np.frombuffer, a memory map) is copied: torch tensors are always writable.
        tensor = torch.from_numpy(array if array.flags.writeable else array.copy())
        # Tensor.to costs ~0.8 us even when the dtype is already right (every train_on_batch x and y)
        if array.dtype.kind in "fb" and tensor.dtype != (float_dtype or torch.float32):
            tensor = tensor.to(float_dtype or torch.float32)
    return tensor if device is None else tensor.to(device)


def to_tensors(
    structure: Any, device: torch.device | str | None = None, float_dtype: torch.dtype | None = None,
    name: str | None = None,
) -> Any:
    if structure is None:
        return None
    if isinstance(structure, (np.ndarray, torch.Tensor)):  # one array: no nesting to walk (train_on_batch's x, y)
        return to_tensor(structure, device, float_dtype, name)
    return map_structure(lambda v: to_tensor(v, device, float_dtype, name), _as_structure(structure))


def _as_structure(data):
    # A table (a pandas DataFrame or Series: anything with to_numpy) is its array of values
    if hasattr(data, "to_numpy") and not isinstance(data, (np.ndarray, torch.Tensor)):
        return data.to_numpy()
    # A plain nested list of numbers is one array, not a list of inputs.
    if isinstance(data, list) and data and _numbers_only(data):
        return np.asarray(data)
    return data


def _numbers_only(data):
    """Whether `data` is nested lists and tuples of plain numbers (and strings, refused later)."""
    if isinstance(data, (list, tuple)):
        return all(_numbers_only(item) for item in data)
    return isinstance(data, (numbers.Number, str, bytes, np.generic))


def is_array_data(x: Any) -> bool:
    leaves = flatten(_as_structure(x))
    return bool(leaves) and all(isinstance(v, (np.ndarray, torch.Tensor, list, tuple)) for v in leaves)


def sample_count(name: str, data: Any) -> int:
    """The number of samples in `data`, checking that every array in it has that many."""
    counts = {tuple(np.shape(v))[:1] for v in flatten(data)}
    if len(counts) != 1 or counts == {()}:
        shapes = [tuple(np.shape(v)) for v in flatten(data)]
        raise ValueError(f"All arrays in {name} must have the same number of samples (first axis); got shapes {shapes}.")
    return counts.pop()[0]


def check_finite(name: str, data: Any) -> None:
    """Raises for NaN or inf in floating data, naming the first offending sample."""
    for leaf in flatten(data):
        if isinstance(leaf, torch.Tensor) and leaf.is_floating_point():
            bad = ~torch.isfinite(leaf)
            if bad.any():
                index = int(bad.reshape(len(leaf), -1).any(dim=1).nonzero()[0, 0])
                raise ValueError(
                    f"{name} contains NaN or inf (first at sample {index}); clean or impute the data before training."
                )


class ArrayBatches:
    """Batches over in-memory arrays: x, y and sample_weight sliced by the same (shuffled) indices."""

    def __init__(
        self, x: Any, y: Any = None, sample_weight: Any = None, batch_size: int = 32, shuffle: bool = False,
        steps: int | None = None, device: torch.device | str | None = None, float_dtype: torch.dtype | None = None,
    ) -> None:
        batch_size = check_scalar(batch_size, "batch_size", int, min_val=1)
        self.x, self.y, self.sample_weight = (to_tensors(d, device, float_dtype, name)
                                              for d, name in ((x, "x"), (y, "y"), (sample_weight, "sample_weight")))
        self.count = sample_count("x", self.x)
        if self.count == 0:
            raise ValueError("x is empty: fit/evaluate/predict need at least one sample.")
        for name, data in (("y", self.y), ("sample_weight", self.sample_weight)):
            if data is not None and sample_count(name, data) != self.count:
                raise ValueError(
                    f"x and {name} must have the same number of samples; got {self.count} and {sample_count(name, data)}."
                )
        if self.sample_weight is not None:
            check_finite("sample_weight", self.sample_weight)  # a NaN weight makes every loss NaN
        self.batch_size, self.shuffle = batch_size, shuffle
        self.steps = steps or math.ceil(self.count / batch_size)

    def first(self) -> tuple[Any, Any, Any]:
        """A batch to build the model on (iteration is unaffected)."""
        return next(iter(self))

    def __len__(self):
        return self.steps

    def __iter__(self):
        order = torch.randperm(self.count) if self.shuffle else None
        for step in range(self.steps):
            start = (step * self.batch_size) % self.count
            index = slice(start, min(start + self.batch_size, self.count))
            if order is not None:
                index = order[index]
            yield tuple(_take(data, index) for data in (self.x, self.y, self.sample_weight))

    def split(self, fraction: float) -> list[list[Any]]:
        """(training part, validation part): Keras takes the validation samples from the end, before
        any shuffling."""
        check_scalar(fraction, "validation_split", float, min_val=0, max_val=1, include_boundaries="neither")
        cut = int(self.count * (1.0 - fraction))
        if cut == 0 or cut == self.count:
            raise ValueError(
                f"validation_split={fraction} of {self.count} samples leaves an empty training or validation set."
            )
        parts = []
        for part in (slice(0, cut), slice(cut, self.count)):
            sliced = [None if d is None else map_structure(lambda v: v[part], d) for d in (self.x, self.y, self.sample_weight)]
            parts.append(sliced)
        return parts


class IterableBatches:
    """Batches from a generator, iterable or DataLoader yielding x, (x, y) or (x, y, sample_weight).

    A DataLoader (or any re-iterable) starts over each epoch; a generator is consumed across epochs,
    `steps` batches at a time, as Keras does."""

    def __init__(
        self, source: Iterable[Any], steps: int | None = None, device: torch.device | str | None = None,
        float_dtype: torch.dtype | None = None,
    ) -> None:
        self.source, self.steps, self.device, self.float_dtype = source, steps, device, float_dtype
        self._iterator = None
        self._reiterable = not hasattr(source, "__next__")
        self._peeked = None  # a generator's item taken by first(), yielded again before the rest

    def first(self) -> tuple[Any, Any, Any]:
        """The first batch, without consuming it: the next iteration still yields it (as Keras
        peeks at a generator to build the model)."""
        if self._reiterable:
            return next(iter(self))
        if self._peeked is None:
            if self._iterator is None:
                self._iterator = iter(self.source)
            try:
                self._peeked = next(self._iterator)
            except StopIteration:
                raise ValueError("The data generator produced no batches.") from None
        return unpack(self._peeked, self.device, self.float_dtype)

    def __len__(self):
        if self.steps is not None:
            return self.steps
        if hasattr(self.source, "__len__"):
            return len(self.source)
        return 0  # unknown: the progress bar shows a count without a total

    def __iter__(self):
        if self._reiterable or self._iterator is None:
            self._iterator = iter(self.source)
        produced = 0
        while self.steps is None or produced < self.steps:
            if self._peeked is not None:
                item, self._peeked = self._peeked, None
            else:
                try:
                    item = next(self._iterator)
                except StopIteration:
                    if produced == 0:
                        raise ValueError("The data generator produced no batches.") from None
                    return
            produced += 1
            yield unpack(item, self.device, self.float_dtype)


def _take(data, index):
    """The rows `index` of every array in `data` (None stays None)."""
    if data is None:
        return None
    if isinstance(data, torch.Tensor):  # one array: no nesting to walk, ~2 us less at every batch
        return data[_on_device_of(index, data)]
    return map_structure(lambda v: v[_on_device_of(index, v)], data)


def _on_device_of(index, data):
    """A batch index usable on `data`: a slice as is, shuffled positions on its device (a tensor) or as NumPy."""
    if isinstance(index, slice):
        return index
    return index.to(data.device) if isinstance(data, torch.Tensor) else index.numpy()


def unpack(
    item: Any, device: torch.device | str | None = None, float_dtype: torch.dtype | None = None
) -> tuple[Any, Any, Any]:
    """(x, y, sample_weight) tensors from what a generator yields: as Keras, a 2- or 3-tuple (or
    list) is (x, y[, sample_weight]); anything else is x alone."""
    if isinstance(item, (list, tuple)) and len(item) in (2, 3):
        parts = list(item) + [None] * (3 - len(item))
    else:
        parts = [item, None, None]
    return tuple(to_tensors(p, device, float_dtype) for p in parts)


def batches_for(
    x: Any, y: Any = None, sample_weight: Any = None, batch_size: int = 32, shuffle: bool = False,
    steps: int | None = None, device: torch.device | str | None = None, float_dtype: torch.dtype | None = None,
) -> ArrayBatches | IterableBatches:
    """Array data -> ArrayBatches; generators, iterables and DataLoaders -> IterableBatches."""
    if x is None:
        raise ValueError("x is None: pass the input data (arrays, a generator or a DataLoader).")
    if isinstance(x, (list, tuple, dict)) and not flatten(x):
        raise ValueError(f"x is an empty {type(x).__name__}: fit/evaluate/predict need at least one sample.")
    if is_array_data(x):
        return ArrayBatches(x, y, sample_weight, batch_size, shuffle, steps, device, float_dtype)
    if y is not None or sample_weight is not None:
        raise ValueError("y and sample_weight are given by the generator/DataLoader itself; pass only x.")
    return IterableBatches(x, steps, device, float_dtype)
