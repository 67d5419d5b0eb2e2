"""Calls Keras allows on any layer: NumPy inputs (floats in the layer's dtype) and `training=`."""
import numpy as np
import pytest
import torch

import rnnkit
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


@pytest.mark.parametrize("make, x", [
    (lambda: layers.Dense(2), [[1.0, 2.0]]),
    (lambda: layers.LSTM(2), [[[1.0, 2.0]]]),
    (lambda: layers.Embedding(5, 2), [[1, 2]]),
    (lambda: rnnkit.Sequential([layers.Dense(2)]), [[1.0, 2.0]]),
], ids=["Dense", "LSTM", "Embedding", "Sequential"])
def test_call_on_a_python_list_of_numbers_says_to_pass_an_array_as_keras_refuses_it(make, x):
    layer = make()
    with pytest.raises(ValueError, match=rf"^{type(layer).__name__} '\w+' takes arrays or tensors, got a Python list "
                                         r"of numbers; pass np\.array\(\[\.\.\.\]\)"):
        layer(x)
    assert layer(np.array(x)).shape[0] == 1
