"""Calls Keras allows on any layer: NumPy inputs (floats in the layer's dtype) and `training=`."""
import numpy as np
import torch

from rnnkit import layers


def test_layer_called_on_a_float64_numpy_array_computes_in_its_float32_weights():
    layer = layers.LSTM(3)
    x = np.random.default_rng(0).random((2, 5, 4))
    out = layer(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, layer(torch.as_tensor(x, dtype=torch.float32)))


def test_layer_without_training_argument_accepts_training_keyword():
    dense = layers.Dense(2)
    x = torch.ones(1, 3)
    torch.testing.assert_close(dense(x, training=True), dense(x))
