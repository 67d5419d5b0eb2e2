"""Shared by the SimpleRNN, LSTM and GRU modules: Keras's tests build their layers with constant
weights (kernel 0.01, recurrent 0.02, bias 0.03) so every unit carries the same number."""
import numpy as np
import torch

from rnnkit.layers import initializers

CONSTANTS = {
    "kernel_initializer": initializers.Constant(0.01),
    "recurrent_initializer": initializers.Constant(0.02),
    "bias_initializer": initializers.Constant(0.03),
}


def arange(*shape):
    return torch.as_tensor(np.arange(np.prod(shape)).reshape(shape).astype("float32"))


def per_unit(values, units):
    """Keras's expected arrays repeat one value per sample over the units."""
    return np.repeat(np.asarray(values, dtype="float32")[..., None], units, axis=-1)
