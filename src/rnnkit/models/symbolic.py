"""Symbolic tensors: `Input(...)`, and the graph nodes that calling layers on them records.

Calling any rnnkit layer on a `KerasTensor` computes nothing: `Layer.__call__` sees the tensor's
`graph_call` and hands the call over, and `symbolic_call` records a `Node` (the layer and its
arguments, with the symbolic tensors in place) and returns new symbolic outputs. `Model(inputs,
outputs)` later runs the recorded nodes in order on real tensors, so masks, `initial_state=` and
`return_state=True` behave exactly as in eager calls.

How output shapes are found: the layer is run for real, without gradients, on zero tensors of the
recorded shapes: once with every unknown dimension (None) set to 1 and once set to 2; a dimension
that differs between the two runs is unknown (None) in the output. The inputs of an `Embedding`
(or of a wrapper or model that starts with one) are integer zeros, i.e. token id 0, whatever the
`Input`'s dtype. As in Keras, this builds the layer; the states of stateful layers and the activity
penalties are restored afterwards, and `training` is False for the probe runs.
"""
from __future__ import annotations

import contextlib
import itertools
from typing import Any

import numpy as np
import torch

from ..layers.base import Layer, get_mask, set_mask
from ..layers.core import Embedding
from ..layers.rnn import RNN
from ..layers.serialization import register_serializable
from ..layers.time_distributed import TimeDistributed
from ..engine.nest import flatten, map_structure

_node_order = itertools.count()


# The dtype of a symbolic input of text: NumPy arrays of strings, for a TextVectorization or StringLookup.
STRING = "string"


def dtype_name(dtype: torch.dtype | str) -> str:
    return str(dtype).replace("torch.", "")


def parse_dtype(dtype: Any) -> torch.dtype | str:
    """None (float32, Keras's default), a torch dtype, a name such as "int32", or "string" (also
    NumPy's str, bytes and object dtypes) for text."""
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (STRING, str, bytes, object) or (isinstance(dtype, np.dtype) and dtype.kind in "USO"):
        return STRING
    resolved = getattr(torch, dtype, None) if isinstance(dtype, str) else None
    if not isinstance(resolved, torch.dtype):
        raise ValueError(f"Unknown dtype {dtype!r}: expected a torch dtype or a name such as 'float32' or 'int32'.")
    return resolved


def format_shape(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


class KerasTensor:
    """A symbolic tensor: the shape (batch dimension first, None where unknown) and dtype of a value
    a model will compute, and the node that computes it (`node`, and `index` among its outputs).

    Calling an rnnkit layer on it records the call instead of computing (see `graph_call`)."""

    def __init__(
        self, shape: tuple[int | None, ...], dtype: torch.dtype | str, node: Node, index: int = 0,
        mask_ndim: int | None = None,
    ) -> None:
        self.shape = tuple(shape)
        self.dtype = dtype
        self.node = node
        self.index = index
        self.mask_ndim = mask_ndim  # the value carries a Keras mask of shape shape[:mask_ndim]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def name(self) -> str:
        return self.node.layer.name if self.node.is_input else f"{self.node.layer.name}/{self.index}"

    def graph_call(self, layer: Layer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Called by `Layer.__call__` when this tensor is (part of) the first argument."""
        return symbolic_call(layer, args, kwargs)

    def __repr__(self):
        return f"<KerasTensor shape={format_shape(self.shape)}, dtype={dtype_name(self.dtype)}, name={self.name}>"


class Node:
    """One recorded call: `layer(*args, **kwargs)` with `KerasTensor`s among the arguments.

    `inputs` are those tensors in `flatten((args, kwargs))` order; `outputs` the structure of
    symbolic outputs the call returned, `flat_outputs` the same flattened."""

    def __init__(self, layer: Layer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.layer = layer
        self.args = tuple(args)
        self.kwargs = dict(kwargs)
        self.inputs = [leaf for leaf in flatten((self.args, self.kwargs)) if isinstance(leaf, KerasTensor)]
        self.outputs = None
        self.flat_outputs = []
        self.order = next(_node_order)

    @property
    def is_input(self) -> bool:
        return isinstance(self.layer, InputLayer)

    def set_outputs(self, outputs: Any) -> None:
        self.outputs = outputs
        self.flat_outputs = [leaf for leaf in flatten(outputs) if isinstance(leaf, KerasTensor)]


@register_serializable
class InputLayer(Layer):
    """The layer behind `Input(...)`: it has no weights, its one output is the symbolic input.

    Args:
        shape: the shape of one sample (without the batch dimension); None for unknown sizes.
        batch_size: optional fixed batch size.
        dtype: the input's dtype (default float32; token ids may stay float32, an `Embedding`
            takes the integer tensors a model is called with).
        batch_shape: the full shape, batch dimension first, instead of `shape` and `batch_size`.
        name: optional name (default `input_layer`, `input_layer_1`, ...).
    """

    def __init__(
        self, shape: int | tuple[int | None, ...] | None = None, batch_size: int | None = None, dtype: Any = None,
        batch_shape: tuple[int | None, ...] | None = None, name: str | None = None, sparse: bool = False,
        ragged: bool = False, optional: bool = False, **kwargs,
    ) -> None:
        super().__init__(name=name, **kwargs)
        if sparse or ragged or optional:
            raise ValueError(f"InputLayer '{self.name}': sparse, ragged and optional inputs are not supported.")
        if batch_shape is None:
            if shape is None:
                raise ValueError(f"InputLayer '{self.name}': expected a shape, e.g. Input(shape=(None, 8)).")
            shape = (shape,) if isinstance(shape, int) else shape
            if not isinstance(shape, (tuple, list, torch.Size)):
                raise ValueError(
                    f"InputLayer '{self.name}': expected shape as a tuple of ints or None (without the "
                    f"batch dimension), got {shape!r}."
                )
            batch_shape = (batch_size, *shape)
        batch_shape = tuple(batch_shape)
        if not batch_shape or not all(
            d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in batch_shape
        ):
            raise ValueError(
                f"InputLayer '{self.name}': expected a shape of positive ints or None, got {batch_shape!r}."
            )
        self.batch_shape = batch_shape
        self.input_dtype = parse_dtype(dtype)
        self.built = True
        node = Node(self, (), {})
        node.set_outputs(KerasTensor(batch_shape, self.input_dtype, node))
        self.output = node.outputs

    def call(self, inputs: Any) -> None:
        raise TypeError(f"InputLayer '{self.name}' is not called: its output is the symbolic input.")

    def get_config(self) -> dict[str, Any]:
        return {"batch_shape": list(self.batch_shape), "dtype": dtype_name(self.input_dtype), "name": self.name}


def Input(
    shape: int | tuple[int | None, ...] | None = None, batch_size: int | None = None, dtype: Any = None,
    name: str | None = None, batch_shape: tuple[int | None, ...] | None = None,
) -> KerasTensor:
    """A symbolic input for a functional `Model` (or the first entry of a `Sequential`).

    Args:
        shape: the shape of one sample, without the batch dimension, e.g. `(None, 8)` for
            sequences of any length with 8 features, `(None,)` for token ids.
        batch_size: optional fixed batch size (stateful models).
        dtype: float32 by default; any torch dtype or its name.
        name: optional name, shown in `summary()` and used by `get_config()`.
        batch_shape: the full shape, batch first, instead of `shape` and `batch_size`.

    Returns:
        A `KerasTensor` of shape `(batch_size, *shape)`.

    Example:
        >>> x = Input(shape=(None, 8))
        >>> x.shape
        (None, None, 8)
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape, name=name).output


def is_symbolic(value: Any) -> bool:
    return isinstance(value, KerasTensor)


def symbolic_call(layer: Layer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Records `layer(*args, **kwargs)` as a `Node` and returns its symbolic outputs."""
    leaves = flatten((tuple(args), dict(kwargs)))
    if any(isinstance(leaf, torch.Tensor) for leaf in leaves):
        raise ValueError(
            f"Layer '{layer.name}' was called on a mix of symbolic tensors (from rnnkit.Input) and real "
            "tensors; in a functional model every tensor argument must come from the graph."
        )
    build_for = getattr(layer, "build_for_symbolic_input", None)
    if build_for is not None and args:
        build_for(args[0])
    specs = _output_specs(layer, args, kwargs)
    node = Node(layer, args, kwargs)
    indices = itertools.count()
    node.set_outputs(map_structure(
        lambda spec: KerasTensor(spec.shape, spec.dtype, node, next(indices), spec.mask_ndim)
        if isinstance(spec, _Spec) else spec,
        specs,
    ))
    return node.outputs


# ----------------------------------------------------------------------------- shape inference
def takes_token_ids(layer: Any) -> bool:
    """Whether `layer`'s first input is integer token ids: an Embedding, or a wrapper or model
    whose first input goes to one."""
    if isinstance(layer, Embedding):
        return True
    if isinstance(layer, TimeDistributed):
        return takes_token_ids(layer.layer)
    token_inputs = getattr(layer, "token_id_inputs", None)
    return bool(token_inputs and token_inputs()[0])


def _placement(layer):
    """The device and floating dtype the layer's weights live in (or will be made in)."""
    for weight in layer.parameters():
        return weight.device, (weight.dtype if weight.is_floating_point() else None)
    placement = getattr(layer, "_placement", {})
    return placement.get("device", torch.device("cpu")), placement.get("dtype")


@contextlib.contextmanager
def _kept_layer_state(layer):
    """Runs a probe from zero states, then leaves stateful layers' states and activity penalties as
    they were."""
    recurrent = [m for m in layer.modules() if isinstance(m, RNN)]
    states = [m.states for m in recurrent]
    penalized = [m for m in layer.modules() if isinstance(m, Layer)]
    penalties = [m._activity_losses for m in penalized]
    for module in recurrent:
        module.states = None  # the probe's batch need not match the states' batch
    try:
        yield
    finally:
        for module, saved in zip(recurrent, states):
            module.states = saved
        for module, saved in zip(penalized, penalties):
            module._activity_losses = saved


def _probe(layer, args, kwargs, unknown):
    device, float_dtype = _placement(layer)
    first = args[0] if args else None
    token_leaves = {id(leaf) for leaf in flatten(first)} if first is not None and takes_token_ids(layer) else set()

    def zeros(leaf):
        if not isinstance(leaf, KerasTensor):
            return leaf
        shape = tuple(unknown if d is None else d for d in leaf.shape)
        dtype = leaf.dtype
        if dtype == STRING:
            # Texts of `unknown` words, so that a text layer's output length shows up as unknown too.
            return np.full(shape, " ".join(["a"] * unknown), dtype=object)
        if id(leaf) in token_leaves and (dtype.is_floating_point or dtype == torch.bool):
            dtype = torch.long
        elif dtype.is_floating_point and float_dtype is not None:
            dtype = float_dtype
        probe = torch.zeros(shape, dtype=dtype, device=device)
        if leaf.mask_ndim is not None:
            # The value will carry a mask (after an Embedding(mask_zero=True), a Masking layer): the
            # probe carries one too, every step valid, so a layer that needs its mask gets one.
            set_mask(probe, torch.ones(shape[: leaf.mask_ndim], dtype=torch.bool, device=device))
        return probe

    call_args, call_kwargs = map_structure(zeros, (tuple(args), dict(kwargs)))
    if "training" in getattr(layer, "_call_takes", ()):
        call_kwargs["training"] = False
    with torch.inference_mode(False), torch.no_grad(), _kept_layer_state(layer):
        return layer(*call_args, **call_kwargs)


class _Spec:
    def __init__(self, shape, dtype, mask_ndim=None):
        self.shape = shape
        self.dtype = dtype
        self.mask_ndim = mask_ndim


def _output_specs(layer, args, kwargs):
    """The structure of the layer's outputs, with a `_Spec` (shape, dtype) at each tensor."""
    inputs = [leaf for leaf in flatten((tuple(args), dict(kwargs))) if isinstance(leaf, KerasTensor)]
    try:
        small = _probe(layer, args, kwargs, 1)
        has_unknown = any(d is None for leaf in inputs for d in leaf.shape)
        large = _probe(layer, args, kwargs, 2) if has_unknown else small
    except (ValueError, TypeError) as error:
        if type(error) not in (ValueError, TypeError):
            raise
        shapes = ", ".join(format_shape(leaf.shape) for leaf in inputs)
        raise type(error)(
            f"{error} [while calling layer '{layer.name}' on symbolic input(s) of shape {shapes}; "
            "output shapes are found by running the layer on zeros with unknown dimensions set to 1]"
        ) from error
    large_leaves = iter(flatten(large))

    def spec(value):
        other = next(large_leaves)
        if not isinstance(value, torch.Tensor):
            return value
        if isinstance(other, torch.Tensor) and other.dim() == value.dim():
            shape = tuple(a if a == b else None for a, b in zip(value.shape, other.shape))
        else:
            shape = (None,) * value.dim()
        mask = get_mask(value)
        return _Spec(shape, value.dtype, mask.dim() if isinstance(mask, torch.Tensor) else None)

    return map_structure(spec, small)
