from .keras_import import load_keras, load_keras_weights
from .torch_import import from_torch
from .saving import load_model, load_weights, save_model, save_weights
from .onnx_export import export_onnx
