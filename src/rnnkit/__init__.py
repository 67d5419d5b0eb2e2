"""rnnkit: Keras-style recurrent layers that are PyTorch modules, on a fused BPTT engine."""
from . import layers, ops
from .layers import constraints, initializers, regularizers

__version__ = "0.1.0"
from .train import optimizers
from .train import losses, metrics
from .models import Input, Model, Sequential
from .train import callbacks
from . import utils
