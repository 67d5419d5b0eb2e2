"""Activation functions by Keras name, with the derivatives the fused kernels need.

The fused backward passes never build an autograd graph per step. They need `act'(z)` for every
step, which they compute once, vectorised over the whole sequence, before the reverse loop:
- for tanh, sigmoid, relu and linear the derivative is a function of the output `y = act(z)`,
  so only outputs are saved;
- for every other elementwise activation the pre-activations `z` are saved too and the derivative
  is taken by autograd on `act(z)` in one call (elementwise, so the gradient of the sum is act').
"""
import difflib
from dataclasses import dataclass
from typing import Callable, List, Optional, Union

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Activation:
    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    # act'(z) written in terms of y = act(z); None when the derivative needs z itself.
    grad_from_output: Optional[Callable[[torch.Tensor], torch.Tensor]] = None
    # False for activations that mix features (softmax): they cannot run in the fused kernels.
    elementwise: bool = True
    # fn(x, out=...) writes into a preallocated buffer without a temporary; None: copy fn(x) in.
    fn_out: Optional[Callable[..., torch.Tensor]] = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        # Callable like Keras's activation functions (`rnnkit.activations.tanh(x)`).
        return self.fn(x)

    @property
    def needs_input(self) -> bool:
        return self.grad_from_output is None

    def apply_out(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """Writes act(x) into `out` (which may be `x` itself) and returns it."""
        if self.fn_out is not None:
            return self.fn_out(x, out=out)
        return out.copy_(self.fn(x))

    def derivative(self, z: Optional[torch.Tensor], y: torch.Tensor) -> torch.Tensor:
        """act'(z) elementwise, from the output `y` where possible, else from the input `z`."""
        if self.grad_from_output is not None:
            return self.grad_from_output(y)
        with torch.enable_grad():
            z = z.detach().requires_grad_(True)
            (dz,) = torch.autograd.grad(self.fn(z).sum(), z)
        return dz


def _identity_out(x, out):
    return out if out is x else out.copy_(x)


def _hard_sigmoid(x):
    return F.relu6(x + 3.0) / 6.0


def _squareplus(x, b=4.0):
    return (x + torch.sqrt(x * x + b)) / 2.0


def _sparse_plus(x):
    return torch.where(x <= -1, torch.zeros_like(x), torch.where(x >= 1, x, (x + 1) ** 2 / 4))


_ACTIVATIONS = {
    a.name: a
    for a in [
        Activation("linear", lambda x: x, lambda y: torch.ones_like(y), fn_out=_identity_out),
        Activation("tanh", torch.tanh, lambda y: torch.square(y).neg_().add_(1.0), fn_out=torch.tanh),
        Activation("sigmoid", torch.sigmoid, lambda y: torch.addcmul(y, y, y, value=-1), fn_out=torch.sigmoid),
        Activation(
            "relu", torch.relu, lambda y: (y > 0).to(y.dtype), fn_out=lambda x, out: torch.clamp_min(x, 0, out=out)
        ),
        Activation("leaky_relu", lambda x: F.leaky_relu(x, 0.2)),
        Activation("relu6", F.relu6),
        Activation("elu", F.elu),
        Activation("selu", F.selu),
        Activation("celu", F.celu),
        Activation("softplus", F.softplus),
        Activation("softsign", F.softsign),
        Activation("silu", F.silu),
        Activation("gelu", F.gelu),
        Activation("exponential", torch.exp, lambda y: y),
        Activation("hard_sigmoid", _hard_sigmoid),
        Activation("hard_silu", lambda x: x * _hard_sigmoid(x)),
        Activation("hard_tanh", F.hardtanh),
        Activation("mish", F.mish),
        Activation("log_sigmoid", F.logsigmoid),
        Activation("tanh_shrink", F.tanhshrink),
        Activation("soft_shrink", lambda x: F.softshrink(x, 0.5)),
        Activation("hard_shrink", lambda x: F.hardshrink(x, 0.5)),
        Activation("squareplus", _squareplus),
        Activation("sparse_plus", _sparse_plus),
        Activation("softmax", lambda x: torch.softmax(x, dim=-1), elementwise=False),
        Activation("log_softmax", lambda x: torch.log_softmax(x, dim=-1), elementwise=False),
    ]
}
_ALIASES = {"swish": "silu", "hard_swish": "hard_silu", None: "linear"}


def activation_names() -> List[str]:
    return sorted(_ACTIVATIONS) + sorted(k for k in _ALIASES if k)


def get_activation(identifier: Union[str, Activation, Callable, None]) -> Activation:
    """An `Activation` from a Keras name (`"tanh"`, `"relu"`, ...), None (linear), an `Activation`,
    or any callable (treated as not known to be elementwise)."""
    if isinstance(identifier, Activation):
        return identifier
    if identifier is None or isinstance(identifier, str):
        name = _ALIASES.get(identifier, identifier)
        if name not in _ACTIVATIONS:
            close = difflib.get_close_matches(str(identifier), activation_names(), n=3)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ValueError(
                f"Unknown activation {identifier!r}.{hint} "
                f"Valid names: {', '.join(activation_names())}."
            )
        return _ACTIVATIONS[name]
    if callable(identifier):
        return Activation(getattr(identifier, "__name__", "custom"), identifier, elementwise=False)
    raise ValueError(f"Expected an activation name or a callable, got {identifier!r}.")
