"""Helpers shared by the tests of Keras files in both directions (import, export, op nodes)."""
import numpy as np


def randomise(model, seed=0):
    """Sets every weight of `model` (rnnkit's or Keras's) to N(0, 0.5) draws, so biases and gates are
    off their initial values; returns the model."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(scale=0.5, size=w.shape).astype(w.dtype) for w in model.get_weights()])
    return model


def features(*shape, seed=0):
    """Standard-normal float32 inputs of `shape`."""
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")
