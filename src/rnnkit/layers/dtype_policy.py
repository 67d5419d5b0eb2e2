"""Dtype policies (Keras's `DTypePolicy`): the dtype a layer computes in and the dtype of its weights.

`"mixed_bfloat16"` keeps the weights in float32 and runs the layer's matrix products in bfloat16
(`"mixed_float16"`: float16); a plain dtype name (`"float32"`, `"bfloat16"`, `"float64"`) is both.
The public names are in `rnnkit.mixed_precision`; this module is their home below the layers.

A layer built with no `dtype` while the global policy is the default float32 keeps rnnkit's lazy
rule: its weights take the dtype of its first floating-point input (`float64` inputs, `float64`
weights); a layer with a policy (its own `dtype=`, or a global policy set before it was made) uses
the policy's dtypes as Keras does.
"""
from __future__ import annotations

import functools
import warnings
from typing import Any, Union

import torch

_MIXED = {"mixed_float16": ("float16", "float32"), "mixed_bfloat16": ("bfloat16", "float32")}
_FLOATS = ("float16", "bfloat16", "float32", "float64")
_global_policy = None


class DTypePolicy:
    """A layer's dtype policy (Keras `DTypePolicy`).

    Args:
        name: str, `"mixed_bfloat16"` (float32 weights, bfloat16 compute), `"mixed_float16"`
            (float32 weights, float16 compute) or a float dtype name such as `"float32"` (both).
            Defaults to the global policy's name.

    Example:
        >>> policy = DTypePolicy("mixed_bfloat16")
        >>> policy.compute_dtype, policy.variable_dtype
        ('bfloat16', 'float32')
    """

    def __init__(self, name: str | None = None) -> None:
        if name is None:
            name = global_policy().name
        if not isinstance(name, str):
            raise TypeError(
                f"'name' must be a string, such as 'mixed_bfloat16'; got {name!r} (of type {type(name).__name__})."
            )
        if name in _MIXED:
            compute, variable = _MIXED[name]
        elif name in _FLOATS:
            compute = variable = name
        else:
            raise ValueError(
                f"Cannot convert '{name}' to a DTypePolicy. Valid policies include 'mixed_float16', "
                f"'mixed_bfloat16', and the name of a float dtype: {', '.join(_FLOATS)}."
            )
        self._name, self._compute_dtype, self._variable_dtype = name, compute, variable

    @property
    def name(self) -> str:
        return self._name

    @property
    def compute_dtype(self) -> str:
        """The dtype the layer computes in and returns, as a string."""
        return self._compute_dtype

    @property
    def variable_dtype(self) -> str:
        """The dtype of the layer's weights, as a string."""
        return self._variable_dtype

    @property
    def quantization_mode(self) -> None:
        """None: rnnkit has no quantized policies (Keras's int8/float8 ones)."""
        return None

    @property
    def is_mixed(self) -> bool:
        """True when weights and computation differ in dtype (`mixed_*` policies)."""
        return self._compute_dtype != self._variable_dtype

    def get_config(self) -> dict[str, Any]:
        return {"name": self._name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DTypePolicy:
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(self._name)

    def __repr__(self):
        return f'<DTypePolicy "{self._name}">'


# What a layer's `dtype` argument takes (see `get`): a policy, its name or config, a torch dtype, or None.
DTypePolicyLike = Union[DTypePolicy, str, torch.dtype, dict[str, Any], None]


def set_dtype_policy(policy: DTypePolicy | str) -> None:
    """Sets the global policy (Keras `set_dtype_policy`, `mixed_precision.set_global_policy`): the
    policy of layers created afterwards without a `dtype`.

    Args:
        policy: a `DTypePolicy` or a policy name such as `"mixed_bfloat16"`.
    """
    global _global_policy
    if isinstance(policy, str):
        policy = DTypePolicy(policy)
    if not isinstance(policy, DTypePolicy):
        raise ValueError(
            "Invalid `policy` argument: expected the name of a policy (such as 'mixed_bfloat16') or a "
            f"DTypePolicy, got {policy!r} (of type {type(policy).__name__})."
        )
    _global_policy = policy


def global_policy() -> DTypePolicy:
    """The global policy (Keras `dtype_policy`, `mixed_precision.global_policy`); float32 by default."""
    return _global_policy if _global_policy is not None else DTypePolicy("float32")


def get(identifier: DTypePolicy | str | torch.dtype | dict[str, Any] | None) -> DTypePolicy | None:
    """A layer's `dtype` argument as a policy: None (the global policy when one other than float32
    is set, else None: the dtype follows the first input), a name, a `torch.dtype`, a `DTypePolicy`
    or its config (`{"class_name": "DTypePolicy", "config": {"name": ...}}`)."""
    if identifier is None:
        policy = global_policy()
        return None if policy.name == "float32" else policy
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        return DTypePolicy(identifier.get("config", identifier).get("name"))
    if isinstance(identifier, torch.dtype):
        return DTypePolicy(str(identifier).replace("torch.", ""))
    return DTypePolicy(identifier)


_warned = set()


@functools.lru_cache(maxsize=None)
def cpu_runs_bfloat16() -> bool:
    """Whether this CPU has AVX512-BF16 or AMX-BF16 (asked once: it is checked at every layer call)."""
    capability = getattr(torch._C._cpu, "_get_cpu_capability", dict)()
    return bool(capability.get("avx512_bf16") or capability.get("amx_bf16"))


def low_precision_supported(dtype: torch.dtype, device: torch.device) -> bool:
    """Whether `device` runs GEMMs in `dtype` (a torch dtype) at speed; warns once where it does not.

    bfloat16 on the CPU needs AVX512-BF16 or AMX (oneDNN then accumulates in float32); elsewhere
    PyTorch would emulate it, slower than float32, so mixed_bfloat16 computes in float32 there.
    """
    if dtype != torch.bfloat16 or device.type != "cpu" or cpu_runs_bfloat16():
        return True
    if "bfloat16" not in _warned:
        _warned.add("bfloat16")
        warnings.warn(
            "rnnkit: this CPU has neither AVX512-BF16 nor AMX; the mixed_bfloat16 policy computes in "
            "float32 here (weights are float32 either way)."
        )
    return False
