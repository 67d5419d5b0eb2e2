from .keras_import import load_keras, load_keras_weights
from .torch_import import from_torch
