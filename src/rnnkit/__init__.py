"""rnnkit: Keras-style recurrent layers that are PyTorch modules, on a fused BPTT engine."""
from . import engine, layers, utils
from .layers import constraints, initializers, regularizers
from .models import Input, Model, Sequential
from . import mixed_precision
from .train import callbacks, losses, metrics, optimizers
from .train.plotting import plot_history

__version__ = "0.1.0"
from .io import load_model, save_model
from .layers import register_serializable
