"""Keras's `keras.mixed_precision` names: dtype policies for the layers.

    >>> from rnnkit import mixed_precision
    >>> mixed_precision.set_global_policy("mixed_bfloat16")   # layers made from now on
    >>> layer = rnnkit.layers.GRU(1024)                        # float32 weights, bfloat16 GEMMs
    >>> layer.compute_dtype, layer.variable_dtype
    ('bfloat16', 'float32')

Under `mixed_bfloat16` a recurrent layer keeps its weights in float32; its input projection, its
recurrent product and its weight-gradient GEMMs run in bfloat16 with float32 accumulation, and its
gate arithmetic and states stay in float32; other layers' matrix products run in bfloat16 through
`torch.autocast`. Layer outputs come in the compute dtype; losses are computed in float32. On a CPU
without AVX512-BF16 or AMX the policy warns once and computes in float32. Under `mixed_float16`,
`compile()` wraps the optimizer in a `LossScaleOptimizer`, as Keras does.
"""
from .layers.dtype_policy import DTypePolicy, global_policy, set_dtype_policy
from .train.optimizers import LossScaleOptimizer

Policy = DTypePolicy
dtype_policy = global_policy
set_global_policy = set_dtype_policy

__all__ = [
    "DTypePolicy", "Policy", "LossScaleOptimizer", "dtype_policy", "global_policy", "set_dtype_policy",
    "set_global_policy",
]
