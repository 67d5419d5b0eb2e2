"""rnnkit: Keras-style recurrent layers that are PyTorch modules, on a fused BPTT engine.

The module layout is Keras 3's, so `import rnnkit as keras` (and `from rnnkit.X import Y` for
`from keras.X import Y`) is all a Keras user changes.
"""
import sys

from . import activations, engine, layers, ops, random, saving, utils
from .layers import constraints, initializers, regularizers
from .models import Input, InputLayer, Model, Sequential
from . import mixed_precision
from .train import callbacks, losses, metrics, optimizers
from .train.plotting import plot_history

__version__ = "0.1.0"
from .io import load_model, save_model
from .layers import register_serializable
from . import models

# Keras's names for code that lives elsewhere in rnnkit: `rnnkit.layers.Input`, `rnnkit.models.load_model`.
# The higher package registers them, so layers/ and models/ never import from above.
layers.Input, layers.InputLayer = Input, InputLayer
# Keras 3's top-level classes (`class MinimalRNNCell(keras.Layer)` in Keras's RNN documentation).
Layer, KerasTensor = layers.Layer, models.KerasTensor
Initializer, Regularizer = initializers.Initializer, regularizers.Regularizer
Loss, Metric, Optimizer = losses.Loss, metrics.Metric, optimizers.Optimizer
DTypePolicy = mixed_precision.DTypePolicy
models.load_model, models.save_model = load_model, save_model
# `import rnnkit.callbacks` and `from rnnkit.losses import ...` find the modules where the code lives.
for _module in (callbacks, losses, metrics, optimizers, initializers, regularizers, constraints):
    sys.modules[f"{__name__}.{_module.__name__.rsplit('.', 1)[-1]}"] = _module
del _module
