"""Keras 3 optimizers and learning-rate schedules that are `torch.optim` optimizers.

    opt = rnnkit.optimizers.Adam(learning_rate=1e-3, clipnorm=1.0)   # a Keras config, no parameters yet
    opt.build(model.parameters())                                    # now a torch.optim.Optimizer (returns opt)
    loss.backward(); opt.step(); opt.zero_grad()                     # one Keras `apply_gradients`

Why not hand the work to `torch.optim.Adam` and friends: their equations differ from Keras's, so
the same hyperparameters train differently.
- Adam/AdamW/Nadam: Keras adds epsilon to sqrt(v) *before* the sqrt(1 - beta_2^t) bias correction
  (torch: after), so Keras's epsilon is torch's epsilon * sqrt(1 - beta_2^t) and shrinks with t.
- RMSprop and Adagrad: Keras divides by sqrt(v + epsilon), torch by sqrt(v) + epsilon.
- SGD and RMSprop momentum: Keras accumulates lr * gradient in the momentum buffer, torch the bare
  gradient, which differs as soon as the learning rate changes (schedules, ReduceLROnPlateau).
- weight_decay: Keras decays the weights directly (decoupled, `w -= lr * wd * w` before the update)
  for every optimizer; torch's SGD/Adam/RMSprop/Adagrad add `wd * w` to the gradient instead.
- Adam's bias correction uses the optimizer's global step count, not a per-parameter one.
So each optimizer here writes Keras's update itself, with torch's `_foreach` kernels (one call per
operation for all parameters, as torch.optim does), and follows Keras's order within a step:
learning rate from the schedule at the current step count, clip the gradients, decay the weights,
update, count the step.

Learning rate and weight decay live in the torch param groups, as in torch: `torch.optim.lr_scheduler`
works on these optimizers, and a param group with `weight_decay=0.0` is how to exclude parameters from
decay (Keras's `exclude_from_weight_decay`).
"""
from __future__ import annotations

import bisect
import difflib
import inspect
import math
import numbers
import types
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Union

import torch
import torch.optim.optimizer as _torch_optimizer

from ..checks import check_scalar

__all__ = [
    "LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay", "CosineDecay", "InverseTimeDecay",
    "schedules", "Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Nadam", "LossScaleOptimizer",
    "get_optimizer",
]


# ------------------------------------------------------------------------------- learning-rate schedules
class LearningRateSchedule:
    """Base class of learning-rate schedules: a callable `schedule(step) -> float`.

    `step` is the optimizer's count of completed steps, starting at 0 for the first update (Keras's
    `optimizer.iterations`). Subclasses implement `__call__` and `get_config`.
    """

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments as a JSON-able dict."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        """Rebuilds a schedule from `get_config()`'s output."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


# What `learning_rate=` takes: a float, or a schedule (any callable of the step count).
LearningRate = Union[float, LearningRateSchedule, Callable[[int], float]]


def _check_decay_steps(decay_steps):
    check_scalar(decay_steps, "Argument `decay_steps`", float, min_val=0, include_boundaries="neither")


class ExponentialDecay(LearningRateSchedule):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)`, as Keras's `ExponentialDecay`.

    Args:
        initial_learning_rate: float, the learning rate at step 0.
        decay_steps: positive number of steps over which the rate is multiplied by `decay_rate`.
        decay_rate: float, the factor per `decay_steps` steps.
        staircase: if True, `step / decay_steps` is floored: the rate drops in steps.
        name: kept for Keras config compatibility.

    Example:
        >>> schedule = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
        >>> schedule(0), schedule(9), schedule(10)
        (0.1, 0.1, 0.05)
    """

    def __init__(
        self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False,
        name: str = "ExponentialDecay",
    ) -> None:
        _check_decay_steps(decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step: int) -> float:
        p = float(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate**p

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """A constant rate per interval of steps, as Keras's `PiecewiseConstantDecay`.

    The rate is `values[0]` while `step <= boundaries[0]`, `values[i]` while
    `boundaries[i-1] < step <= boundaries[i]`, and `values[-1]` after `boundaries[-1]`.

    Args:
        boundaries: strictly increasing step numbers.
        values: the rates, one more than `boundaries`.
        name: kept for Keras config compatibility.

    Example:
        >>> schedule = PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
        >>> schedule(100), schedule(101), schedule(500)
        (1.0, 0.5, 0.1)
    """

    def __init__(self, boundaries: Sequence[int], values: Sequence[float], name: str = "PiecewiseConstant") -> None:
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "Expected one more value than boundaries, got "
                f"{len(boundaries)} boundaries {boundaries} and {len(values)} values {values}."
            )
        if any(b >= c for b, c in zip(boundaries, boundaries[1:])):
            raise ValueError(f"Expected strictly increasing boundaries, got {boundaries}.")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step: int) -> float:
        # bisect_left counts the boundaries strictly below step: a boundary step still uses the rate before it
        return self.values[bisect.bisect_left(self.boundaries, float(step))]

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Optional linear warmup, then cosine decay, as Keras's `CosineDecay`.

    Without `warmup_target` the rate decays from `initial_learning_rate` to
    `alpha * initial_learning_rate` over `decay_steps` steps and stays there. With it, the rate first
    rises linearly from `initial_learning_rate` to `warmup_target` over `warmup_steps` steps, then
    decays from `warmup_target` to `alpha * warmup_target` over `decay_steps` steps.

        decayed(s) = start * ((1 - alpha) * 0.5 * (1 + cos(pi * min(s, decay_steps) / decay_steps)) + alpha)

    Args:
        initial_learning_rate: float, the rate at step 0.
        decay_steps: positive number of steps to decay over.
        alpha: the final rate as a fraction of the rate the decay starts from.
        name: kept for Keras config compatibility.
        warmup_target: float or None (no warmup), the rate reached at the end of the warmup.
        warmup_steps: number of warmup steps.

    Example:
        >>> schedule = CosineDecay(0.0, decay_steps=10, warmup_target=0.1, warmup_steps=5)
        >>> round(schedule(5), 6), round(schedule(15), 6)
        (0.1, 0.0)
    """

    def __init__(
        self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0, name: str = "CosineDecay",
        warmup_target: float | None = None, warmup_steps: int = 0,
    ) -> None:
        _check_decay_steps(decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def __call__(self, step: int) -> float:
        step = float(step)
        if self.warmup_target is None:
            return self._decayed(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            rise = self.warmup_target - self.initial_learning_rate
            return self.initial_learning_rate + rise * step / self.warmup_steps
        return self._decayed(step - self.warmup_steps, self.warmup_target)

    def _decayed(self, step, start):
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return start * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class InverseTimeDecay(LearningRateSchedule):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)`, as Keras's `InverseTimeDecay`.

    Args:
        initial_learning_rate: float, the rate at step 0.
        decay_steps: positive number, the step unit of the decay.
        decay_rate: float.
        staircase: if True, `step / decay_steps` is floored.
        name: kept for Keras config compatibility.

    Example:
        >>> InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.5)(2)
        0.05
    """

    def __init__(
        self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False,
        name: str = "InverseTimeDecay",
    ) -> None:
        _check_decay_steps(decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step: int) -> float:
        p = float(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


_SCHEDULES = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay, CosineDecay, InverseTimeDecay)}

# Keras spells these `keras.optimizers.schedules.X`; the same path works here
schedules = types.SimpleNamespace(LearningRateSchedule=LearningRateSchedule, **_SCHEDULES)


def _deserialize_schedule(spec):
    cls = _SCHEDULES.get(spec.get("class_name"))
    if cls is None:
        raise ValueError(
            f"Unknown learning-rate schedule {spec.get('class_name')!r}: expected one of {sorted(_SCHEDULES)}."
        )
    return cls.from_config(spec.get("config", {}))


def _check_learning_rate(learning_rate):
    if callable(learning_rate):
        return learning_rate
    if isinstance(learning_rate, numbers.Real) and not isinstance(learning_rate, bool):
        return float(learning_rate)
    raise ValueError(
        "Argument `learning_rate` must be a float, a LearningRateSchedule or a callable step -> float, "
        f"got {learning_rate!r}."
    )


# ------------------------------------------------------------------------------------------- optimizers
_KERAS_ONLY_DEFAULTS = {"use_ema": False, "loss_scale_factor": None, "gradient_accumulation_steps": None}


class Optimizer(torch.optim.Optimizer):
    """Base class: a Keras 3 optimizer config that becomes a `torch.optim.Optimizer` on `build(params)`.

    Constructed without parameters, like a Keras optimizer. `build(params)` attaches the parameters
    (tensors or torch param-group dicts) and returns the optimizer itself; from then on it is an
    ordinary torch optimizer: `step()`, `zero_grad()`, `state_dict()`, `param_groups`, lr schedulers.
    Each `step()` is one Keras `apply_gradients`: schedule, clipping, weight decay, update.

    Args:
        learning_rate: float, a `LearningRateSchedule`, or any callable `step -> float` evaluated before
            every step with the number of steps taken so far (0 for the first).
        weight_decay: float or None. Decoupled decay `w -= learning_rate * weight_decay * w` applied before
            each update (per param group, key "weight_decay").
        clipnorm: float or None. Each parameter's gradient is rescaled so that its L2 norm is at most this.
        clipvalue: float or None. Every gradient element is clipped to [-clipvalue, clipvalue].
        global_clipnorm: float or None. All gradients are rescaled together so that the norm of their
            concatenation is at most this. At most one of clipnorm, clipvalue, global_clipnorm may be set.
        use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps:
            accepted so that Keras configs load; only their defaults (features off) are supported.
        name: str, defaults to the lower-cased class name.
    """

    # Optimizer-wide values that `state_dict()` carries besides the per-parameter state
    _scalar_state = ("iterations",)

    def __init__(
        self, learning_rate: LearningRate, weight_decay: float | None = None, clipnorm: float | None = None,
        clipvalue: float | None = None, global_clipnorm: float | None = None, use_ema: bool = False,
        ema_momentum: float = 0.99, ema_overwrite_frequency: int | None = None, loss_scale_factor: float | None = None,
        gradient_accumulation_steps: int | None = None, name: str | None = None,
    ) -> None:
        clip_options = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        if sum(value is not None for value in clip_options.values()) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set, got "
                + ", ".join(f"{k}={v}" for k, v in clip_options.items()) + "."
            )
        received = {"use_ema": use_ema, "loss_scale_factor": loss_scale_factor,
                    "gradient_accumulation_steps": gradient_accumulation_steps}
        for key, value in received.items():
            if value != _KERAS_ONLY_DEFAULTS[key]:
                raise ValueError(
                    f"rnnkit optimizers do not support {key}; expected {key}={_KERAS_ONLY_DEFAULTS[key]}, "
                    f"got {key}={value!r}."
                )
        self._learning_rate = _check_learning_rate(learning_rate)
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = use_ema
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.name = name if name is not None else type(self).__name__.lower()
        self.iterations = 0
        self.built = False

    def __getattr__(self, name):
        # Only reached for missing attributes: before build() that is all of torch's optimizer state
        if not self.__dict__.get("built", False):
            raise AttributeError(
                f"{type(self).__name__} has no attribute {name!r} yet: call build(params) to attach the "
                "parameters before using it as a torch optimizer."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # ----------------------------------------------------------------------------- torch side
    def build(self, params: Iterable[torch.Tensor] | Iterable[dict[str, Any]]) -> Optimizer:
        """Attaches the parameters and returns `self`, now a working `torch.optim.Optimizer`.

        Args:
            params: an iterable of tensors or of torch param-group dicts (which may set their own
                "lr" or "weight_decay"; a schedule overrides every group's "lr").

        Building again on the same parameters is a no-op (as recompiling a Keras model with the same
        optimizer); building on other parameters raises ValueError: create a new optimizer instead.
        """
        params = list(params)
        if self.built:
            if _parameter_ids(params) != _parameter_ids(self.param_groups):
                raise ValueError(
                    f"{type(self).__name__} was already built on other parameters; "
                    "create a new optimizer for a new set of parameters."
                )
            return self
        defaults = {"lr": self.learning_rate, "weight_decay": self.weight_decay or 0.0}
        torch.optim.Optimizer.__init__(self, params, defaults)
        self.built = True
        return self

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        """Applies the gradients in `.grad` to the parameters, as Keras's `apply_gradients`.

        In order: the learning rate from the schedule at `self.iterations`, then `clip_gradients`
        (do not clip again beforehand), weight decay, the update, `self.iterations += 1`.
        Parameters whose `.grad` is None are left untouched.

        Args:
            closure: optional callable that re-evaluates the model and returns the loss (torch API).
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self._apply_gradients()
        return loss

    def _apply_gradients(self):
        """`step()`'s update without the closure, for a caller already under torch.no_grad()."""
        if callable(self._learning_rate):
            learning_rate = float(self._learning_rate(self.iterations))
            for group in self.param_groups:
                group["lr"] = learning_rate
        groups = [(group, [p for p in group["params"] if p.grad is not None]) for group in self.param_groups]
        self.clip_gradients(p for _, params in groups for p in params)
        self._begin_step()
        for group, params in groups:
            if not params:
                continue
            if group["weight_decay"]:
                torch._foreach_mul_(params, 1.0 - group["weight_decay"] * group["lr"])
            for p in params:
                if not self.state[p]:
                    self.state[p].update(self._new_state(p))
            self._update(params, [p.grad for p in params], group["lr"])
        self.iterations += 1

    @torch.no_grad()
    def clip_gradients(self, params: Iterable[torch.Tensor]) -> None:
        """Clips the `.grad` of `params` in place with this optimizer's clipnorm, global_clipnorm or clipvalue.

        `step()` already calls this on all its parameters; call it yourself only to clip without stepping.
        Keras semantics: `clipnorm` rescales each gradient to norm <= clipnorm; `global_clipnorm`
        rescales all of them by `global_clipnorm / max(global_norm, global_clipnorm)` (a non-finite
        global norm turns every gradient into NaN, as in Keras); `clipvalue` clamps each element.
        """
        if not (self.clipnorm or self.global_clipnorm or self.clipvalue):  # first: nothing to gather
            return
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        if self.clipnorm and self.clipnorm > 0:
            # g * c / max(||g||, c): gradients already inside the ball stay as they are
            scales = torch._foreach_clamp_min(torch._foreach_norm(grads), self.clipnorm)
            torch._foreach_reciprocal_(scales)
            torch._foreach_mul_(scales, self.clipnorm)
            torch._foreach_mul_(grads, scales)
        elif self.global_clipnorm and self.global_clipnorm > 0:
            norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
            # (norm - norm) is NaN for an infinite or NaN norm, which Keras propagates into every gradient
            scale = self.global_clipnorm / torch.clamp(norm, min=self.global_clipnorm) + (norm - norm)
            torch._foreach_mul_(grads, scale)
        elif self.clipvalue and self.clipvalue > 0:
            torch._foreach_clamp_min_(grads, -self.clipvalue)
            torch._foreach_clamp_max_(grads, self.clipvalue)

    def _begin_step(self):
        """Updates optimizer-wide values once per step, before the per-group updates."""

    def _new_state(self, param):
        """Returns the per-parameter slots (Keras's optimizer variables) of a parameter's first update."""
        return {}

    def _update(self, params, grads, lr):
        """Applies the optimizer's update rule to one param group, in place."""
        raise NotImplementedError

    def _slots(self, params, name):
        return [self.state[p][name] for p in params]

    def state_dict(self) -> dict[str, Any]:
        """torch's `state_dict()` plus the step count (and any other optimizer-wide value)."""
        state = super().state_dict()
        state.update({name: getattr(self, name) for name in self._scalar_state})
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores what `state_dict()` returned, the step count included."""
        super().load_state_dict(state_dict)
        for name in self._scalar_state:
            if name in state_dict:
                setattr(self, name, state_dict[name])

    def __getstate__(self):
        # torch's version keeps only defaults/state/param_groups and would drop the Keras configuration;
        # the step hooks and an lr scheduler's instance-level step wrapper stay behind, as in torch.
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_optimizer_") and k != "step"}

    def __setstate__(self, state):
        if state.get("built"):
            super().__setstate__(state)
        else:
            self.__dict__.update(state)

    # ------------------------------------------------------------------------------ Keras side
    @property
    def learning_rate(self) -> float:
        """The learning rate of the next step (a float).

        Setting a float updates every param group (as ReduceLROnPlateau does in Keras); setting a
        schedule or callable replaces the schedule. As in Keras, an optimizer created with a schedule
        refuses a float: TypeError.
        """
        if callable(self._learning_rate):
            return float(self._learning_rate(self.iterations))
        if self.built:
            return self.param_groups[0]["lr"]
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate: LearningRate) -> None:
        learning_rate = _check_learning_rate(learning_rate)
        if not callable(learning_rate) and callable(self._learning_rate):
            raise TypeError(
                f"This optimizer was created with the learning-rate schedule {self._learning_rate!r}, so its "
                "learning rate cannot be set to a float; create the optimizer with a float learning_rate."
            )
        self._learning_rate = learning_rate
        if self.built:
            current = float(learning_rate(self.iterations)) if callable(learning_rate) else learning_rate
            for group in self.param_groups:
                group["lr"] = current

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments (Keras's keys) as a JSON-able dict; `from_config` inverts it.

        A float learning rate is saved at its current value; a `LearningRateSchedule` as
        `{"class_name", "config"}`. A plain callable cannot be saved: TypeError.
        """
        if isinstance(self._learning_rate, LearningRateSchedule):
            learning_rate = {"class_name": type(self._learning_rate).__name__,
                             "config": self._learning_rate.get_config()}
        elif callable(self._learning_rate):
            raise TypeError(
                f"Cannot save the learning rate {self._learning_rate!r} of {self.name!r}: only floats and "
                "rnnkit LearningRateSchedule objects have a config."
            )
        else:
            learning_rate = self.learning_rate
        return {
            "name": self.name,
            "learning_rate": learning_rate,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        """Creates an (unbuilt) optimizer from `get_config()`'s output or a Keras optimizer config."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = _deserialize_schedule(config["learning_rate"])
        return cls(**config)

    def __repr__(self):
        learning_rate = self._learning_rate if callable(self._learning_rate) else self.learning_rate
        shown = {"learning_rate": learning_rate}
        for klass in (type(self), Optimizer):
            for key, parameter in inspect.signature(klass.__init__).parameters.items():
                if key in shown or parameter.default is inspect.Parameter.empty or key == "kwargs":
                    continue
                value = getattr(self, key)
                if value != parameter.default and not (key == "name" and value == type(self).__name__.lower()):
                    shown[key] = value
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


# rnnkit's own step() as the class defines it, before torch wraps it (below) on the first build().
_KERAS_STEP = Optimizer.__dict__["step"]


def step_under_no_grad(optimizer: torch.optim.Optimizer) -> None:
    """`optimizer.step()` for a caller already under `torch.no_grad()` (the whole-step fast path).

    torch wraps every optimizer class's `step` (`torch.optim.Optimizer.profile_hook_step`) in a
    profiler range and the loops over the global and the optimizer's own step pre/post hooks, and
    rnnkit's `step` re-enters no_grad: ~15 us a call, a tenth of a small model's whole training step.
    When that wrapper provably does nothing (no profiler running, no step hook registered, no
    instance-level `step` such as an lr scheduler's counting wrapper, and a class that keeps rnnkit's
    `step`) the update runs directly; otherwise `optimizer.step()` runs as usual.
    """
    if (
        isinstance(optimizer, Optimizer)
        and getattr(type(optimizer).step, "__wrapped__", type(optimizer).step) is _KERAS_STEP
        and "step" not in optimizer.__dict__
        and not optimizer._optimizer_step_pre_hooks and not optimizer._optimizer_step_post_hooks
        and _no_global_step_hooks()
        and not torch._C._autograd._profiler_enabled()
    ):
        optimizer._apply_gradients()
    else:
        optimizer.step()


def _no_global_step_hooks() -> bool:
    """Whether torch's registries of the step hooks every optimizer runs
    (register_optimizer_step_pre_hook/_post_hook) are empty; False where this torch keeps them
    elsewhere (private names), so that the wrapper then runs."""
    registries = [getattr(_torch_optimizer, name, None)
                  for name in ("_global_optimizer_pre_hooks", "_global_optimizer_post_hooks")]
    return all(registry is not None and not registry for registry in registries)


# torch.autograd.graph.increment_version takes a list from torch 2.5: one call, 0.4 us for 6 tensors
# (2.5 us one at a time, ~10% of a small model's Adam step).
_VERSIONS_IN_ONE_CALL = torch.torch_version.TorchVersion(torch.__version__) >= "2.5"


def _advance_versions(tensors):
    """Advances each tensor's version counter, as an in-place torch operation does."""
    if _VERSIONS_IN_ONE_CALL:
        torch.autograd.graph.increment_version(tensors)
        return
    for tensor in tensors:
        torch.autograd.graph.increment_version(tensor)


def _fusable(params, grads):
    """Whether torch's fused CPU update kernels can take these parameters and gradients: dense,
    contiguous, all float32 or all float64 on the CPU (elsewhere the _foreach path runs)."""
    dtype = params[0].dtype
    if dtype not in (torch.float32, torch.float64):
        return False
    # A loop over tensor attributes (is_cpu rather than device.type, which builds a device object):
    # asked at every step, where the generator form cost ~5 us for a small model's ten tensors.
    for t in (*params, *grads):
        if not (t.is_cpu and t.dtype == dtype and t.layout == torch.strided and t.is_contiguous()):
            return False
    return True


def _parameter_ids(params):
    ids = set()
    for item in params:
        group = item["params"] if isinstance(item, dict) else [item]
        ids.update(id(p) for p in ([group] if isinstance(group, torch.Tensor) else group))
    return ids


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum, as Keras's `SGD`.

        m = momentum * m - lr * g
        w = w + m                          (nesterov: w = w + momentum * m - lr * g)
    and `w = w - lr * g` when momentum is 0.

    Args:
        learning_rate: float or schedule, default 0.01.
        momentum: float in [0, 1], default 0.0.
        nesterov: bool, default False.
        weight_decay, clipnorm, clipvalue, global_clipnorm, **kwargs: see `Optimizer`.

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> opt = SGD(learning_rate=0.1).build([w])
        >>> w.grad = torch.tensor([2.0]); opt.step(); w.data
        tensor([0.8000])
    """

    def __init__(
        self, learning_rate: LearningRate = 0.01, momentum: float = 0.0, nesterov: bool = False,
        weight_decay: float | None = None, clipnorm: float | None = None, clipvalue: float | None = None,
        global_clipnorm: float | None = None, **kwargs,
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, **kwargs)
        check_scalar(momentum, "Argument `momentum`", float, min_val=0, max_val=1)
        self.momentum = momentum
        self.nesterov = nesterov

    def _new_state(self, param):
        return {"momentum": torch.zeros_like(param)} if self.momentum != 0 else {}

    def _update(self, params, grads, lr):
        if self.momentum == 0:
            torch._foreach_add_(params, grads, alpha=-lr)
            return
        m = self._slots(params, "momentum")
        torch._foreach_mul_(m, self.momentum)
        torch._foreach_add_(m, grads, alpha=-lr)
        if self.nesterov:
            torch._foreach_add_(params, m, alpha=self.momentum)
            torch._foreach_add_(params, grads, alpha=-lr)
        else:
            torch._foreach_add_(params, m)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config


class Adam(Optimizer):
    """Adam, as Keras's `Adam` (epsilon inside the bias correction: Kingma & Ba's "epsilon hat").

        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g^2                  (amsgrad: v_max = max(v_max, v), used for v)
        w = w - lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)
    with t the number of this step, counting from 1.

    Args:
        learning_rate: float or schedule, default 0.001.
        beta_1: float, default 0.9.
        beta_2: float, default 0.999.
        epsilon: float, default 1e-7.
        amsgrad: bool, default False.
        weight_decay, clipnorm, clipvalue, global_clipnorm, **kwargs: see `Optimizer`.

    Example:
        >>> model = torch.nn.Linear(3, 1)
        >>> opt = Adam(learning_rate=1e-3, global_clipnorm=1.0).build(model.parameters())
        >>> model(torch.ones(2, 3)).sum().backward(); opt.step(); opt.iterations
        1
    """

    def __init__(
        self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
        amsgrad: bool = False, weight_decay: float | None = None, clipnorm: float | None = None,
        clipvalue: float | None = None, global_clipnorm: float | None = None, **kwargs,
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad

    def _new_state(self, param):
        state = {"momentum": torch.zeros_like(param), "velocity": torch.zeros_like(param)}
        if self.amsgrad:
            state["velocity_hat"] = torch.zeros_like(param)
        return state

    def _update(self, params, grads, lr):
        t = self.iterations + 1
        m, v = self._slots(params, "momentum"), self._slots(params, "velocity")
        if _fusable(params, grads):
            # torch's fused Adam (one call for every parameter instead of seven) takes its denominator as
            # sqrt(v) / sqrt(1 - beta_2^t) + eps; with eps / sqrt(1 - beta_2^t) in place of eps that is
            # Keras's (sqrt(v) + epsilon) / sqrt(1 - beta_2^t), the same update up to float rounding.
            torch._fused_adam_(
                params, grads, m, v, self._slots(params, "velocity_hat") if self.amsgrad else [],
                [torch.scalar_tensor(float(t))] * len(params), lr=lr, beta1=self.beta_1, beta2=self.beta_2,
                weight_decay=0.0, eps=self.epsilon / math.sqrt(1 - self.beta_2**t), amsgrad=self.amsgrad,
                maximize=False,
            )
            # The fused kernel writes the parameters without advancing their version counters (which
            # every other update here does): without this, what is kept while a weight is unchanged
            # (the greedy decoder's packed panels, autograd's saved-tensor check) would miss the step.
            _advance_versions(params)
            return
        alpha = lr * math.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        torch._foreach_lerp_(m, grads, 1 - self.beta_1)
        torch._foreach_mul_(v, self.beta_2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - self.beta_2)
        if self.amsgrad:
            v_max = self._slots(params, "velocity_hat")
            torch._foreach_maximum_(v_max, v)
            v = v_max
        denominator = torch._foreach_sqrt(v)
        torch._foreach_add_(denominator, self.epsilon)
        torch._foreach_addcdiv_(params, m, denominator, value=-alpha)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                       "amsgrad": self.amsgrad})
        return config


class AdamW(Adam):
    """Adam with decoupled weight decay, as Keras's `AdamW`: `Adam` whose weight_decay defaults to 0.004.

    Before each update `w = w - lr * weight_decay * w` (Loshchilov & Hutter), then Adam's update.

    Args:
        learning_rate: float or schedule, default 0.001.
        weight_decay: float, default 0.004 (None is refused).
        beta_1, beta_2, epsilon, amsgrad: as `Adam` (0.9, 0.999, 1e-7, False).
        clipnorm, clipvalue, global_clipnorm, **kwargs: see `Optimizer`.

    Example:
        >>> AdamW().build([torch.nn.Parameter(torch.zeros(2))]).param_groups[0]["weight_decay"]
        0.004
    """

    def __init__(
        self, learning_rate: LearningRate = 0.001, weight_decay: float | None = 0.004, beta_1: float = 0.9,
        beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False, clipnorm: float | None = None,
        clipvalue: float | None = None, global_clipnorm: float | None = None, **kwargs,
    ) -> None:
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` of AdamW must be a float, got weight_decay=None.")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, clipnorm, clipvalue,
                         global_clipnorm, **kwargs)


class RMSprop(Optimizer):
    """RMSprop, as Keras's `RMSprop` (epsilon inside the square root; lr inside the momentum buffer).

        v = rho * v + (1 - rho) * g^2
        a = rho * a + (1 - rho) * g                          (centered only)
        step = lr * g / sqrt(v + epsilon)                    (centered: sqrt(v - a^2 + epsilon))
        b = momentum * b + step; w = w - b                   (momentum 0: w = w - step)

    Args:
        learning_rate: float or schedule, default 0.001.
        rho: float, default 0.9.
        momentum: float, default 0.0.
        epsilon: float, default 1e-7.
        centered: bool, default False.
        weight_decay, clipnorm, clipvalue, global_clipnorm, **kwargs: see `Optimizer`.

    Example:
        >>> RMSprop(learning_rate=0.01, centered=True)
        RMSprop(learning_rate=0.01, centered=True)
    """

    def __init__(
        self, learning_rate: LearningRate = 0.001, rho: float = 0.9, momentum: float = 0.0, epsilon: float = 1e-7,
        centered: bool = False, weight_decay: float | None = None, clipnorm: float | None = None,
        clipvalue: float | None = None, global_clipnorm: float | None = None, **kwargs,
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def _new_state(self, param):
        state = {"velocity": torch.zeros_like(param)}
        if self.momentum > 0:
            state["momentum"] = torch.zeros_like(param)
        if self.centered:
            state["average_gradient"] = torch.zeros_like(param)
        return state

    def _update(self, params, grads, lr):
        v = self._slots(params, "velocity")
        torch._foreach_mul_(v, self.rho)
        torch._foreach_addcmul_(v, grads, grads, value=1 - self.rho)
        if self.centered:
            a = self._slots(params, "average_gradient")
            torch._foreach_lerp_(a, grads, 1 - self.rho)
            denominator = torch._foreach_addcmul(v, a, a, value=-1)
            torch._foreach_add_(denominator, self.epsilon)
        else:
            denominator = torch._foreach_add(v, self.epsilon)
        torch._foreach_sqrt_(denominator)
        if self.momentum > 0:
            b = self._slots(params, "momentum")
            torch._foreach_mul_(b, self.momentum)
            torch._foreach_addcdiv_(b, grads, denominator, value=lr)
            torch._foreach_sub_(params, b)
        else:
            torch._foreach_addcdiv_(params, grads, denominator, value=-lr)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                       "centered": self.centered})
        return config


class Adagrad(Optimizer):
    """Adagrad, as Keras's `Adagrad` (epsilon inside the square root).

        acc = acc + g^2                                      (acc starts at initial_accumulator_value)
        w = w - lr * g / sqrt(acc + epsilon)

    Args:
        learning_rate: float or schedule, default 0.001.
        initial_accumulator_value: float, default 0.1.
        epsilon: float, default 1e-7.
        weight_decay, clipnorm, clipvalue, global_clipnorm, **kwargs: see `Optimizer`.

    Example:
        >>> Adagrad(learning_rate=0.01, clipvalue=0.5)
        Adagrad(learning_rate=0.01, clipvalue=0.5)
    """

    def __init__(
        self, learning_rate: LearningRate = 0.001, initial_accumulator_value: float = 0.1, epsilon: float = 1e-7,
        weight_decay: float | None = None, clipnorm: float | None = None, clipvalue: float | None = None,
        global_clipnorm: float | None = None, **kwargs,
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def _new_state(self, param):
        return {"accumulator": torch.full_like(param, self.initial_accumulator_value)}

    def _update(self, params, grads, lr):
        accumulator = self._slots(params, "accumulator")
        torch._foreach_addcmul_(accumulator, grads, grads)
        denominator = torch._foreach_add(accumulator, self.epsilon)
        torch._foreach_sqrt_(denominator)
        torch._foreach_addcdiv_(params, grads, denominator, value=-lr)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon})
        return config


class Nadam(Optimizer):
    """Adam with Nesterov momentum, as Keras's `Nadam` (Dozat's momentum schedule, decay 0.96 per step).

        u_t = beta_1 * (1 - 0.5 * 0.96^t),  U_t = u_1 * ... * u_t
        m = beta_1 * m + (1 - beta_1) * g,  v = beta_2 * v + (1 - beta_2) * g^2
        m_hat = u_{t+1} * m / (1 - U_{t+1}) + (1 - u_t) * g / (1 - U_t)
        w = w - lr * m_hat / (sqrt(v / (1 - beta_2^t)) + epsilon)
    (torch's NAdam with momentum_decay=1.0 and decoupled weight decay computes the same thing.)

    Args:
        learning_rate: float or schedule, default 0.001.
        beta_1: float, default 0.9.
        beta_2: float, default 0.999.
        epsilon: float, default 1e-7.
        weight_decay, clipnorm, clipvalue, global_clipnorm, **kwargs: see `Optimizer`.

    Example:
        >>> Nadam(learning_rate=2e-3)
        Nadam(learning_rate=0.002)
    """

    _scalar_state = ("iterations", "u_product")

    def __init__(
        self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
        weight_decay: float | None = None, clipnorm: float | None = None, clipvalue: float | None = None,
        global_clipnorm: float | None = None, **kwargs,
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.u_product = 1.0

    def _momentum_at(self, t):
        return self.beta_1 * (1.0 - 0.5 * 0.96**t)

    def _begin_step(self):
        self.u_product *= self._momentum_at(self.iterations + 1)

    def _new_state(self, param):
        return {"momentum": torch.zeros_like(param), "velocity": torch.zeros_like(param)}

    def _update(self, params, grads, lr):
        t = self.iterations + 1
        u_t, u_next = self._momentum_at(t), self._momentum_at(t + 1)
        u_product_next = self.u_product * u_next
        m, v = self._slots(params, "momentum"), self._slots(params, "velocity")
        torch._foreach_lerp_(m, grads, 1 - self.beta_1)
        torch._foreach_mul_(v, self.beta_2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - self.beta_2)
        denominator = torch._foreach_div(v, 1 - self.beta_2**t)
        torch._foreach_sqrt_(denominator)
        torch._foreach_add_(denominator, self.epsilon)
        torch._foreach_addcdiv_(params, m, denominator, value=-lr * u_next / (1 - u_product_next))
        torch._foreach_addcdiv_(params, grads, denominator, value=-lr * (1 - u_t) / (1 - self.u_product))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config


class LossScaleOptimizer(Optimizer):
    """Dynamic loss scaling around another optimizer, as Keras's `LossScaleOptimizer`: what float16
    training needs so that small gradients do not underflow (bfloat16 has float32's range and
    does not). `compile()` wraps the optimizer in one when the model's policy is mixed_float16.

    The loss is multiplied by `dynamic_scale` before backward (`scale_loss`); `step()` divides the
    gradients by it and applies the inner optimizer when all are finite, else skips the step and
    halves the scale; after `dynamic_growth_steps` finite steps in a row the scale doubles.

    Args:
        inner_optimizer: the rnnkit `Optimizer` to wrap (clipping, decay and schedules are its own).
        initial_scale: float, the first loss scale (default 2**15).
        dynamic_growth_steps: int, finite steps between doublings of the scale (default 2000).
        name: str, default "loss_scale_optimizer".

    Example:
        >>> w = torch.nn.Parameter(torch.ones(2))
        >>> opt = LossScaleOptimizer(SGD(learning_rate=0.5), initial_scale=1024.0).build([w])
        >>> opt.scale_loss(w.sum()).backward(); opt.step(); w.grad
        tensor([1., 1.])
        >>> w.detach()
        tensor([0.5000, 0.5000])
    """

    def __init__(
        self, inner_optimizer: Optimizer, initial_scale: float = 2.0**15, dynamic_growth_steps: int = 2000,
        name: str | None = None,
    ) -> None:
        if not isinstance(inner_optimizer, Optimizer) or isinstance(inner_optimizer, LossScaleOptimizer):
            raise TypeError(
                f"LossScaleOptimizer wraps an rnnkit optimizer such as rnnkit.optimizers.Adam(), got {inner_optimizer!r}."
            )
        check_scalar(initial_scale, "initial_scale", float, min_val=0, include_boundaries="neither")
        dynamic_growth_steps = check_scalar(dynamic_growth_steps, "dynamic_growth_steps", int, min_val=1)
        self.inner_optimizer = inner_optimizer
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = dynamic_growth_steps
        self.dynamic_scale = float(initial_scale)
        self.step_counter = 0
        self.name = name or "loss_scale_optimizer"
        self.built = False

    def build(self, params: Iterable[torch.Tensor] | Iterable[dict[str, Any]]) -> Optimizer:
        """Builds the inner optimizer on `params` and shares its param groups and state."""
        inner = self.inner_optimizer.build(params)
        if not self.built:
            torch.optim.Optimizer.__init__(self, inner.param_groups, {})
            self.built = True
        # One set of param groups and state: learning-rate changes and zero_grad() act on the inner's.
        self.param_groups, self.state = inner.param_groups, inner.state
        return self

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        """The loss times the current scale: call backward() on this."""
        return loss * self.dynamic_scale

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        """Unscales the gradients and steps the inner optimizer if all are finite (then maybe doubles
        the scale), else skips the step and halves the scale."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        grads = [p.grad for group in self.param_groups for p in group["params"] if p.grad is not None]
        finite = bool(torch.stack([torch.isfinite(g).all() for g in grads]).all()) if grads else True
        if not finite:
            self.step_counter = 0
            self.dynamic_scale /= 2.0
            return loss
        torch._foreach_div_(grads, self.dynamic_scale)
        self.inner_optimizer.step()
        if self.step_counter == self.dynamic_growth_steps - 1:
            self.step_counter = 0
            self.dynamic_scale *= 2.0
        else:
            self.step_counter += 1
        return loss

    @property
    def iterations(self) -> int:
        return self.inner_optimizer.iterations

    @property
    def learning_rate(self) -> float:
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate: LearningRate) -> None:
        self.inner_optimizer.learning_rate = learning_rate

    def state_dict(self) -> dict[str, Any]:
        return {"inner": self.inner_optimizer.state_dict(), "dynamic_scale": self.dynamic_scale,
                "step_counter": self.step_counter}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.inner_optimizer.load_state_dict(state_dict["inner"])
        self.dynamic_scale, self.step_counter = state_dict["dynamic_scale"], state_dict["step_counter"]

    def get_config(self) -> dict[str, Any]:
        inner = self.inner_optimizer
        return {
            "name": self.name,
            "inner_optimizer": {"class_name": type(inner).__name__, "config": inner.get_config()},
            "initial_scale": self.initial_scale,
            "dynamic_growth_steps": self.dynamic_growth_steps,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LossScaleOptimizer:
        config = dict(config)
        inner = config.pop("inner_optimizer")
        return cls(_optimizer_class(inner["class_name"]).from_config(inner.get("config", {})), **config)

    def __repr__(self):
        return f"LossScaleOptimizer({self.inner_optimizer!r}, dynamic_scale={self.dynamic_scale})"


_OPTIMIZERS = {cls.__name__.lower(): cls for cls in (SGD, Adam, RMSprop, AdamW, Adagrad, Nadam, LossScaleOptimizer)}


def get_optimizer(
    identifier: Optimizer | torch.optim.Optimizer | str | dict[str, Any] | type,
    params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
) -> torch.optim.Optimizer:
    """Resolves what `compile(optimizer=...)` accepts into a `torch.optim.Optimizer` over `params`.

    Args:
        identifier: a name ("sgd", "adam", "rmsprop", "adamw", "adagrad", "nadam", any case) giving
            that optimizer with Keras's defaults; a Keras-style config dict
            `{"class_name": "Adam", "config": {...}}`; an rnnkit `Optimizer` (built on `params` here);
            or any other `torch.optim.Optimizer`, returned as is (it already holds its parameters).
        params: the parameters to optimize (tensors or torch param-group dicts).

    Returns:
        A `torch.optim.Optimizer`.

    Example:
        >>> get_optimizer("adam", [torch.nn.Parameter(torch.zeros(2))])
        Adam(learning_rate=0.001)
    """
    if isinstance(identifier, Optimizer):
        return identifier.build(params)
    if isinstance(identifier, torch.optim.Optimizer):
        return identifier
    if isinstance(identifier, dict) and "class_name" in identifier:
        return _optimizer_class(identifier["class_name"]).from_config(identifier.get("config", {})).build(params)
    if isinstance(identifier, str):
        return _optimizer_class(identifier)().build(params)
    raise ValueError(
        "Expected an optimizer name, an rnnkit optimizer, an optimizer config dict or a torch.optim.Optimizer, "
        f"got {identifier!r}."
    )


def _optimizer_class(name):
    cls = _OPTIMIZERS.get(str(name).lower())
    if cls is None:
        close = difflib.get_close_matches(str(name).lower(), list(_OPTIMIZERS), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"Unknown optimizer {name!r}.{hint} Expected one of: {', '.join(_OPTIMIZERS)}.")
    return cls
