"""`Layer`: a torch.nn.Module with Keras's lazy build, weight order, config and mask propagation.

Masks ride on tensors the way Keras's torch backend carries them: a layer that creates or passes a
mask sets `output._keras_mask`; a layer whose `call` takes `mask` reads it from its input when no
mask is passed explicitly. So masks flow through rnnkit models and through plain torch code alike.
"""
from __future__ import annotations

import functools
import inspect
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import torch
from torch import nn

from ..checks import check_weight_shape
from ..engine.nest import flatten, map_structure
from ..ops import _dtype as _torch_dtype

from . import dtype_policy as dtype_policies
from .dtype_policy import DTypePolicy, DTypePolicyLike
from .constraints import ConstraintLike, get_constraint
from .initializers import InitializerLike, get_initializer
from .regularizers import RegularizerLike, get_regularizer, serialize_regularizer

if TYPE_CHECKING:
    import numpy.typing as npt

# One tensor's shape as Keras gives it: None for a size not known yet (the batch, a free time axis).
Shape = tuple[int | None, ...]

_Tagged = TypeVar("_Tagged")
_Layer = TypeVar("_Layer", bound="Layer")

_name_counts = defaultdict(int)


def snake_case(cls_name: str) -> str:
    """Keras's layer names: SimpleRNNCell -> simple_rnn_cell, LSTM -> lstm."""
    name = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", cls_name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _unique_name(cls_name):
    base = snake_case(cls_name)
    n = _name_counts[base]
    _name_counts[base] += 1
    return base if n == 0 else f"{base}_{n}"


def get_mask(tensor: Any) -> torch.Tensor | None:
    """The Keras mask carried by a tensor, or None."""
    return getattr(tensor, "_keras_mask", None)


def set_mask(tensor: _Tagged, mask: torch.Tensor | None) -> _Tagged:
    if isinstance(tensor, torch.Tensor):
        tensor._keras_mask = mask
    return tensor


class Layer(nn.Module):
    """Base of every rnnkit layer.

    Subclasses implement `build(input_shape)` (creating weights with `add_weight`) and
    `call(inputs, ...)`; calling the layer builds it on first use from the input's shape, dtype
    and device, picks up the input's mask, and attaches `compute_mask()` to the output.
    """

    supports_masking = False
    takes_text = False  # True for layers whose input is NumPy arrays of strings (TextVectorization)
    _auto_config = None

    def __new__(cls, *args, **kwargs):
        # As Keras 3 (Operation.__new__): record the constructor arguments of a subclass, when they
        # are all basic JSON values, so that a subclass without its own get_config() round-trips.
        instance = super().__new__(cls)
        if cls.__init__ is not Layer.__init__:
            object.__setattr__(instance, "_auto_config", _constructor_config(cls, args, kwargs))
        return instance

    def __init_subclass__(cls, **kwargs):
        # As Keras: a layer is built once its build() has run, however build() was reached.
        super().__init_subclass__(**kwargs)
        if "build" in cls.__dict__:
            original = cls.__dict__["build"]

            @functools.wraps(original)
            def build(self, *args, **kwargs):
                original(self, *args, **kwargs)
                self.built = True

            cls.build = build

    def __init__(
        self,
        name: str | None = None,
        trainable: bool = True,
        dtype: DTypePolicyLike = None,
        activity_regularizer: RegularizerLike = None,
        input_shape: Sequence[int | None] | None = None,
        input_dim: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__()
        self.name = name or _unique_name(type(self).__name__)
        if kwargs:
            unknown = ", ".join(sorted(kwargs))
            raise TypeError(f"{type(self).__name__} '{self.name}': unexpected keyword argument(s): {unknown}.")
        self.activity_regularizer = get_regularizer(activity_regularizer)
        # Keras's `LSTM(50, input_shape=(60, 1))` style: the per-sample input shape, for models.
        self.input_shape_arg = tuple(input_shape) if input_shape is not None else (
            (input_dim,) if input_dim is not None else None
        )
        self._activity_losses = []
        self._trainable = bool(trainable)
        # None: no policy, the weights take the dtype of the first input (see layers/dtype_policy.py).
        self._dtype_policy = dtype_policies.get(dtype)
        self._dtype = None if self._dtype_policy is None else self._dtype_policy.variable_dtype
        self._factory = {}
        self._placement = {}
        self._call_takes = set(inspect.signature(self.call).parameters)
        # As Keras: a layer without a build() of its own has nothing to build.
        self.built = type(self).build is Layer.build

    # ----------------------------------------------------------------------------------- weights
    def add_weight(
        self,
        shape: Sequence[int] | None = None,
        initializer: InitializerLike = None,
        dtype: Any = None,
        trainable: bool = True,
        regularizer: RegularizerLike = None,
        constraint: ConstraintLike = None,
        name: str | None = None,
    ) -> nn.Parameter:
        """Creates, initialises and registers a weight, as Keras 3's `Layer.add_weight` (Keras weight
        order is the order of creation).

        Args:
            shape: the weight's shape; `()` (a scalar) when None.
            initializer: an initializer name, object or callable; None gives Keras's default,
                "glorot_uniform" for a floating weight and "zeros" for any other.
            dtype: the weight's dtype ("float32", a torch dtype, ...); None for the layer's.
            trainable: whether training updates it (False: e.g. BatchNormalization's moving statistics).
            regularizer: adds its penalty to `losses`.
            constraint: applied by `apply_constraints()` after each update.
            name: the attribute name the weight is registered under; None gives "variable",
                "variable_1", ...

        Raises:
            ValueError: the name is passed first, as rnnkit and Keras 2 took it (Keras 3 takes the shape
                first: pass name=), or the weight is larger than any machine can hold.
        """
        if isinstance(shape, str):
            raise ValueError(f"{type(self).__name__} '{self.name}': add_weight takes the shape first, as Keras 3; "
                             f"pass the name as a keyword: add_weight(shape=..., name={shape!r}).")
        shape = tuple(shape) if shape is not None else ()
        where = {**self._factory, **self._placement}
        dtype = _torch_dtype(dtype) or where.get("dtype") or self._resolved_dtype()
        if initializer is None:
            initializer = "glorot_uniform" if dtype.is_floating_point else "zeros"
        if name is None:
            names = (f"variable_{i}" if i else "variable" for i in range(len(self._parameters) + 1))
            name = next(candidate for candidate in names if not hasattr(self, candidate))
        check_weight_shape(shape, f"{type(self).__name__} '{self.name}': weight '{name}'", dtype.itemsize)
        # A first call under predict()'s inference mode must not make inference-only weights: those
        # could never be trained afterwards (Keras lets predict() come before fit()).
        with torch.inference_mode(False), torch.no_grad():
            value = torch.empty(shape, dtype=dtype, device=where.get("device"))
            get_initializer(initializer)(value)
            param = nn.Parameter(value, requires_grad=trainable and self._trainable)
        self.register_parameter(name, param)
        if not trainable:  # e.g. BatchNormalization's moving statistics: never trained
            self._always_frozen = getattr(self, "_always_frozen", set()) | {name}
        if regularizer is not None:
            self._regularized = getattr(self, "_regularized", []) + [(name, get_regularizer(regularizer))]
        if constraint is not None:
            self._constrained = getattr(self, "_constrained", []) + [(name, get_constraint(constraint))]
        return param

    def _float_dtype(self):
        """The dtype floating input data is converted to (layers, and models in fit/predict): the
        weights' dtype, or before they exist the layer's placement or configured dtype."""
        weight = next((w for w in self.parameters() if w.is_floating_point()), None)
        return weight.dtype if weight is not None else self._placement.get("dtype") or self._resolved_dtype()

    def _resolved_dtype(self):
        if self._dtype is None:
            return torch.get_default_dtype()
        return getattr(torch, self._dtype) if isinstance(self._dtype, str) else self._dtype

    # ---------------------------------------------------------------------------- dtype policy
    @property
    def dtype_policy(self) -> DTypePolicy:
        """The layer's `DTypePolicy` (without one: that of its weights' dtype once built)."""
        if self._dtype_policy is not None:
            return self._dtype_policy
        weight = next(self.parameters(), None)
        return dtype_policies.get(weight.dtype if weight is not None else self._resolved_dtype())

    @dtype_policy.setter
    def dtype_policy(self, value: DTypePolicyLike) -> None:
        self._dtype_policy = dtype_policies.get(value)
        self._dtype = None if self._dtype_policy is None else self._dtype_policy.variable_dtype

    @property
    def compute_dtype(self) -> str:
        """The dtype the layer computes in (a string, as Keras): bfloat16 under mixed_bfloat16."""
        return self.dtype_policy.compute_dtype

    @property
    def variable_dtype(self) -> str:
        """The dtype of the layer's weights (a string, as Keras)."""
        return self.dtype_policy.variable_dtype

    @property
    def dtype(self) -> str:
        """As Keras: the variable dtype."""
        return self.variable_dtype

    def _mixed_compute(self, inputs):
        """The torch dtype of a mixed policy's computation, when it applies to this call (weights in
        float32, compute in bfloat16 or float16, on a device that runs it), else None."""
        policy = self._dtype_policy
        if policy is None or not policy.is_mixed:
            return None
        first = inputs
        while isinstance(first, (list, tuple)) and first:
            first = first[0]
        device = first.device if isinstance(first, torch.Tensor) else torch.device("cpu")
        dtype = getattr(torch, policy.compute_dtype)
        return dtype if dtype_policies.low_precision_supported(dtype, device) else None

    @property
    def weights(self) -> list[nn.Parameter]:
        return list(self.parameters())

    @property
    def trainable_weights(self) -> list[nn.Parameter]:
        return [w for w in self.parameters() if w.requires_grad]

    @property
    def non_trainable_weights(self) -> list[nn.Parameter]:
        return [w for w in self.parameters() if not w.requires_grad]

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        for module in self.modules():
            if isinstance(module, Layer):
                module._trainable = bool(value)
            frozen = getattr(module, "_always_frozen", ())
            for name, w in module.named_parameters(recurse=False):
                w.requires_grad_(bool(value) and name not in frozen)

    @property
    def losses(self) -> list[torch.Tensor]:
        """Regularisation penalties of this layer and the layers inside it, as scalar tensors: weight
        penalties, and activity penalties on the outputs of the latest call."""
        penalties = []
        for module in self.modules():
            for name, regularizer in getattr(module, "_regularized", []):
                penalties.append(regularizer(getattr(module, name)))
            penalties.extend(getattr(module, "_activity_losses", []))
        return penalties

    @torch.no_grad()
    def apply_constraints(self) -> None:
        """Projects every constrained weight (kernel_constraint, ...) of this layer and the layers
        inside it; call after `optimizer.step()` in a hand-written loop (`fit()` does it)."""
        for module in self.modules():
            for name, constraint in getattr(module, "_constrained", []):
                weight = getattr(module, name)
                weight.copy_(constraint(weight))

    def get_weights(self) -> list[np.ndarray]:
        """The weights as numpy arrays, in Keras's order and shapes."""
        return [w.detach().cpu().numpy().copy() for w in self.weights]

    def set_weights(self, weights: Sequence[npt.ArrayLike]) -> None:
        """Sets the weights from numpy arrays in Keras's order and shapes (e.g. from a Keras layer's
        `get_weights()`)."""
        own = self.weights
        if not self.built:
            raise ValueError(
                f"Layer '{self.name}' has no weights yet: call it on an input (or call "
                "build(input_shape)) before set_weights()."
            )
        if len(weights) != len(own):
            raise ValueError(
                f"Layer '{self.name}' expects {len(own)} weight arrays "
                f"({', '.join(str(tuple(w.shape)) for w in own)}), got {len(weights)}."
            )
        for i, (w, value) in enumerate(zip(own, weights)):
            value = np.asarray(value)
            if tuple(value.shape) != tuple(w.shape):
                raise ValueError(
                    f"Layer '{self.name}': weight {i} expects shape {tuple(w.shape)}, got {tuple(value.shape)}."
                )
        with torch.no_grad():
            for w, value in zip(own, weights):
                w.copy_(torch.as_tensor(np.asarray(value), dtype=w.dtype))

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"Layer '{self.name}' is not built yet: call it on an input first.")
        return sum(w.numel() for w in self.weights)

    # ------------------------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        """The layer's constructor arguments as a JSON-ready dict. A subclass that does not define
        get_config() gets, as in Keras, the arguments its constructor was called with (when they
        are all str, int, float, bool, None, or lists/dicts of them)."""
        policy = self._dtype_policy
        config = {"name": self.name, "trainable": self.trainable, "dtype": None if policy is None else policy.name}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = serialize_regularizer(self.activity_regularizer)
        if type(self).get_config is not Layer.get_config or type(self).__init__ is Layer.__init__:
            return config
        if self._auto_config is None:
            raise NotImplementedError(
                f"{type(self).__name__} was created with constructor arguments that are not plain JSON values "
                "(str, int, float, bool, None, lists/dicts of them), so its config cannot be generated: "
                "define get_config() returning them (and from_config() if they need rebuilding)."
            )
        config = {**self._auto_config, **config}
        takes = inspect.signature(type(self).__init__).parameters
        if any(p.kind is p.VAR_KEYWORD for p in takes.values()):
            return config
        return {key: value for key, value in config.items() if key in takes}  # what __init__ can take back

    @classmethod
    def from_config(cls: type[_Layer], config: dict[str, Any]) -> _Layer:
        return cls(**config)

    # ------------------------------------------------------------------------------------- calls
    def build(self, input_shape: Shape | list[Any]) -> None:
        """Creates the layer's weights for inputs of `input_shape`; called once, on first use."""
        self.built = True

    def _apply(self, fn, *args, **kwargs):
        # .to(), .double(), .cuda() before the first call decide where the lazy weights are made.
        if not self.built:
            before = torch.empty(0)
            after = fn(before)
            for key in ("dtype", "device"):
                if getattr(after, key) != getattr(before, key):
                    self._placement[key] = getattr(after, key)
        return super()._apply(fn, *args, **kwargs)

    def build_child(self, child: nn.Module, input_shape: Shape | list[Any]) -> None:
        """Builds a sub-layer (a cell, a wrapped layer) with this layer's dtype and device."""
        if isinstance(child, Layer) and not child.built:
            child._factory = self._factory
            child.build(input_shape)
            child._factory = {}

    def _build_from(self, inputs):
        first = inputs
        while isinstance(first, (list, tuple)):
            first = first[0]
        if isinstance(first, torch.Tensor):
            dtype = first.dtype if first.is_floating_point() and self._dtype is None else None
            self._factory = {"dtype": dtype, "device": first.device}
        self.build(_shapes(inputs))
        self._factory = {}

    def _check_dtype(self, inputs):
        first = inputs
        while isinstance(first, (list, tuple)) and first:
            first = first[0]
        weight = next(self.parameters(), None)
        if (
            weight is not None
            and isinstance(first, torch.Tensor)
            and first.is_floating_point()
            and first.dtype != weight.dtype
        ):
            raise ValueError(
                f"Layer '{self.name}' has {weight.dtype} weights but got {first.dtype} input; cast the "
                f"input (x.to({weight.dtype})) or the layer (layer.to({first.dtype}))."
            )

    def call(self, inputs: Any) -> Any:
        raise NotImplementedError

    def compute_mask(self, inputs: Any, mask: torch.Tensor | None = None) -> torch.Tensor | None:
        return mask if self.supports_masking else None

    def compute_output_shape(self, input_shape: Shape | list[Any]) -> Shape | list[Shape] | tuple[Shape, ...]:
        """The output shape for inputs of `input_shape` (None for unknown sizes), as Keras's.

        This default runs the layer once on zeros (building it if needed), with every unknown
        size taken as 1 and given back as None on the same axis of the output; layers whose
        output shape follows from their arguments override it without running."""
        shapes = _map_shapes(lambda s: tuple(1 if d is None else d for d in s), input_shape)
        zeros = _map_shapes(lambda s: torch.zeros(s, dtype=self._resolved_dtype()), shapes)
        with torch.no_grad():
            outputs = self(zeros)
        unknown = {i for s in _leaf_shapes(input_shape) for i, d in enumerate(s) if d is None}

        def shape_of(output):
            return tuple(None if i in unknown and d == 1 else d for i, d in enumerate(output.shape))

        if isinstance(outputs, (list, tuple)):
            return type(outputs)(shape_of(o) for o in outputs)
        return shape_of(outputs)

    def __call__(self, *args, **kwargs) -> Any:
        # Functional models: a call on symbolic inputs (rnnkit.Input) records a graph node instead
        # of computing. Symbolic tensors carry `graph_call`, so layers never import models/.
        for arg in args[:1]:
            for item in arg if isinstance(arg, (list, tuple)) else [arg]:
                if hasattr(item, "graph_call"):
                    return item.graph_call(self, args, kwargs)
        return super().__call__(*args, **kwargs)

    def validate_input(self, inputs: Any) -> None:
        """Raises ValueError for inputs this layer can never take (checked before building)."""

    def forward(self, inputs: Any, *args, **kwargs) -> Any:
        check_not_python_values(self, inputs)
        # As Keras's Layer.__call__: `training` and `mask` are accepted by every layer and passed on
        # only to a call() that takes them.
        for key in ("training", "mask"):
            if key in kwargs and key not in self._call_takes:
                kwargs.pop(key)
        if "mask" in self._call_takes and kwargs.get("mask") is None:
            kwargs["mask"] = _first_mask(inputs)
        if not self.takes_text:
            if is_text(inputs):
                raise ValueError(
                    f"Layer '{self.name}' ({type(self).__name__}) got text (an array of strings): start the model "
                    "with a TextVectorization or StringLookup layer, or turn the text into token ids first."
                )
            inputs = _from_numpy(inputs, self._float_dtype)  # as Keras, a layer takes NumPy arrays
        self.validate_input(inputs)
        if not self.built:
            self._build_from(inputs)
        compute = self._mixed_compute(inputs)
        if compute is None:
            self._check_dtype(inputs)
            outputs = self.call(inputs, *args, **kwargs)
        else:
            outputs = self._call_mixed(compute, inputs, *args, **kwargs)
        out_mask = self.compute_mask(inputs, kwargs.get("mask", _first_mask(inputs)))
        if isinstance(outputs, (list, tuple)):
            masks = out_mask if isinstance(out_mask, (list, tuple)) else [out_mask] + [None] * (len(outputs) - 1)
            for tensor, m in zip(outputs, masks):
                set_mask(tensor, m)
        else:
            set_mask(outputs, out_mask)
        if self.activity_regularizer is not None:
            # As Keras 3: one penalty per output tensor, divided by the batch size.
            flat = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            self._activity_losses = [
                self.activity_regularizer(o) / (o.shape[0] if o.dim() > 0 else 1) for o in flat
            ]
        return outputs

    def _call_mixed(self, compute, inputs, *args, **kwargs):
        """`call` under a mixed policy, as Keras's autocasting: floating inputs are cast to the compute
        dtype, matrix products on the float32 weights run in it (torch.autocast; the recurrent cells
        pass it to their kernels instead), and floating outputs come back in it."""
        first = inputs
        while isinstance(first, (list, tuple)) and first:
            first = first[0]
        device = first.device.type if isinstance(first, torch.Tensor) else "cpu"

        def cast(x):
            if not (isinstance(x, torch.Tensor) and x.is_floating_point() and x.dtype != compute):
                return x
            return set_mask(x.to(compute), get_mask(x))

        with torch.autocast(device, dtype=compute):
            outputs = self.call(map_structure(cast, inputs), *args, **kwargs)
        return map_structure(cast, outputs)

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


def _from_numpy(inputs, float_dtype):
    """NumPy arrays in `inputs` (nested in lists/tuples) as tensors, floating ones in `float_dtype()`,
    which is asked only when there is one to convert (it walks the layer's weights)."""
    if isinstance(inputs, (list, tuple)):
        return type(inputs)(_from_numpy(x, float_dtype) for x in inputs)
    if not isinstance(inputs, np.ndarray):
        return inputs
    tensor = torch.as_tensor(inputs)
    return tensor.to(float_dtype()) if tensor.is_floating_point() else tensor


def check_not_python_values(layer: Layer, inputs: Any) -> None:
    """Refuses a (nested) Python list or tuple of plain numbers or strings as a call's input, as Keras
    does, with a message saying to pass an array (a text layer takes a list of strings)."""
    if not isinstance(inputs, (list, tuple)) or not inputs:
        return
    leaves = flatten(inputs)
    if not leaves or not all(isinstance(v, (str, bytes, int, float, bool, np.generic)) for v in leaves):
        return
    strings = all(isinstance(v, (str, bytes)) for v in leaves)
    if strings and layer.takes_text:
        return
    raise ValueError(
        f"{type(layer).__name__} '{layer.name}' takes arrays or tensors, got a Python {type(inputs).__name__} of "
        f"{'strings' if strings else 'numbers'}; pass np.array([...]) (predict() and fit() convert such a list "
        "themselves)."
    )


def is_text(value: Any) -> bool:
    """Whether `value` is a NumPy array of strings (or a list/tuple whose first item is one)."""
    while isinstance(value, (list, tuple)) and value:
        value = value[0]
    if not isinstance(value, np.ndarray):
        return False
    return value.dtype.kind in "US" or (value.dtype == object and value.size > 0
                                        and isinstance(value.flat[0], (str, bytes)))


_JSON_LEAVES = (str, int, float, bool, type(None))


def _constructor_config(cls, args, kwargs):
    """The arguments of `cls(*args, **kwargs)` by name, defaults included, or None when they are
    not all plain JSON values or cannot be passed back by name."""
    signature = inspect.signature(cls.__init__)
    try:
        bound = signature.bind(None, *args, **kwargs)
    except TypeError:
        return None
    params = list(signature.parameters.values())[1:]
    if any(p.kind is p.POSITIONAL_ONLY for p in params):
        return None
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    arguments.pop(next(iter(signature.parameters)))
    for p in params:
        if p.kind is p.VAR_KEYWORD:
            arguments.update(arguments.pop(p.name, {}))
        elif p.kind is p.VAR_POSITIONAL and arguments.pop(p.name, ()):
            return None
    arguments.pop("name", None)

    def plain(value):
        if isinstance(value, (list, tuple)):
            return all(plain(v) for v in value)
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        return isinstance(value, _JSON_LEAVES)

    return arguments if plain(arguments) else None


def _is_shape(shape):
    return isinstance(shape, (tuple, list, torch.Size)) and all(isinstance(d, int) or d is None for d in shape)


def _map_shapes(fn, shapes):
    """Applies `fn` to every shape tuple in a nested list of shapes."""
    if _is_shape(shapes):
        return fn(tuple(shapes))
    return [_map_shapes(fn, s) for s in shapes]


def _leaf_shapes(shapes):
    return [tuple(shapes)] if _is_shape(shapes) else [leaf for s in shapes for leaf in _leaf_shapes(s)]


def _shapes(inputs):
    if isinstance(inputs, (list, tuple)):
        return [_shapes(x) for x in inputs]
    return tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else None


def _first_mask(inputs):
    if isinstance(inputs, (list, tuple)):
        return get_mask(inputs[0]) if inputs else None
    return get_mask(inputs)

