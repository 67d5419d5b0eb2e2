from .keras_import import load_keras, load_keras_weights
from .keras_export import save_keras, save_keras_weights
from .torch_import import from_torch
from .saving import load_model, load_weights, save_model, save_weights
from .onnx_export import export_onnx

from ..storage import register_storage

register_storage(save_model=save_model, load_model=load_model, save_weights=save_weights, load_weights=load_weights)
