"""Weight initializers by Keras name, with Keras's fan conventions (kernels are (in, out))."""
import difflib
import math
import re

import torch


def _fans(shape):
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _truncated_normal_(w, stddev):
    # Keras draws from a normal truncated at two standard deviations.
    return torch.nn.init.trunc_normal_(w, 0.0, stddev, -2.0 * stddev, 2.0 * stddev)


def _variance_scaling(scale=1.0, mode="fan_in", distribution="truncated_normal"):
    def init_(w):
        fan_in, fan_out = _fans(tuple(w.shape))
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
        variance = scale / max(1.0, n)
        if distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return torch.nn.init.uniform_(w, -limit, limit)
        if distribution == "untruncated_normal":
            return torch.nn.init.normal_(w, 0.0, math.sqrt(variance))
        # 0.8796... is the stddev of a standard normal truncated to (-2, 2).
        return _truncated_normal_(w, math.sqrt(variance) / 0.87962566103423978)

    return init_


def _orthogonal_(w, gain=1.0):
    """Keras's orthogonal: QR of a normal matrix, sign-corrected, transposed for wide shapes."""
    rows, cols = math.prod(w.shape[:-1]), w.shape[-1]
    a = torch.randn(max(rows, cols), min(rows, cols), dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r))
    if rows < cols:
        q = q.t()
    with torch.no_grad():
        return w.copy_((gain * q).reshape(w.shape))


def _identity_(w, gain=1.0):
    with torch.no_grad():
        return w.copy_(gain * torch.eye(*w.shape, dtype=w.dtype))


_INITIALIZERS = {
    "zeros": torch.nn.init.zeros_,
    "ones": torch.nn.init.ones_,
    "glorot_uniform": _variance_scaling(1.0, "fan_avg", "uniform"),
    "glorot_normal": _variance_scaling(1.0, "fan_avg", "normal"),
    "he_uniform": _variance_scaling(2.0, "fan_in", "uniform"),
    "he_normal": _variance_scaling(2.0, "fan_in", "normal"),
    "lecun_uniform": _variance_scaling(1.0, "fan_in", "uniform"),
    "lecun_normal": _variance_scaling(1.0, "fan_in", "normal"),
    "orthogonal": _orthogonal_,
    "identity": _identity_,
    "random_uniform": lambda w: torch.nn.init.uniform_(w, -0.05, 0.05),
    "random_normal": lambda w: torch.nn.init.normal_(w, 0.0, 0.05),
    "truncated_normal": lambda w: _truncated_normal_(w, 0.05),
}
_ALIASES = {"uniform": "random_uniform", "normal": "random_normal", "zero": "zeros", "one": "ones"}


# Keras-serialized initializers ({"class_name": ..., "config": {...}}) whose arguments matter.
_CONFIGURABLE = {
    "RandomUniform": lambda minval=-0.05, maxval=0.05, **_: lambda w: torch.nn.init.uniform_(w, minval, maxval),
    "RandomNormal": lambda mean=0.0, stddev=0.05, **_: lambda w: torch.nn.init.normal_(w, mean, stddev),
    "TruncatedNormal": lambda mean=0.0, stddev=0.05, **_: lambda w: _truncated_normal_(w, stddev).add_(mean),
    "Constant": lambda value=0.0, **_: lambda w: torch.nn.init.constant_(w, value),
    "Orthogonal": lambda gain=1.0, **_: lambda w: _orthogonal_(w, gain),
    "Identity": lambda gain=1.0, **_: lambda w: _identity_(w, gain),
    "VarianceScaling": lambda scale=1.0, mode="fan_in", distribution="truncated_normal", **_: _variance_scaling(
        scale, mode, distribution
    ),
}


def get_initializer(identifier):
    """An in-place initializer `fn(tensor)` from a Keras name, a Keras-serialized initializer
    ({"class_name": "RandomUniform", "config": {...}}), or a callable taking the tensor."""
    if callable(identifier):
        return identifier
    if isinstance(identifier, dict) and "class_name" in identifier:
        class_name, config = identifier["class_name"], identifier.get("config") or {}
        if class_name in _CONFIGURABLE:
            return _CONFIGURABLE[class_name](**config)
        identifier = re.sub("([a-z0-9])([A-Z])", r"\1_\2", class_name).lower()
    name = _ALIASES.get(identifier, identifier)
    if name not in _INITIALIZERS:
        valid = sorted(_INITIALIZERS) + sorted(_ALIASES)
        close = difflib.get_close_matches(str(identifier), valid, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"Unknown initializer {identifier!r}.{hint} Valid names: {', '.join(valid)}.")
    return _INITIALIZERS[name]
