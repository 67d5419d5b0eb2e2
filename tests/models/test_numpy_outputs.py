"""A model called on NumPy input gives outputs NumPy and matplotlib can read, gradients intact."""
import warnings

import numpy as np
import torch

import rnnkit
from rnnkit import layers


def _model():
    return rnnkit.Sequential([rnnkit.Input((4, 3)), layers.LSTM(2)])


def test_output_of_a_call_on_numpy_converts_with_np_asarray_and_numpy():
    model = _model()
    x = np.random.default_rng(0).random((5, 4, 3)).astype("float32")
    y = model(x)
    assert y.requires_grad
    np.testing.assert_allclose(np.asarray(y), model.predict(x, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(y.numpy(), model.predict(x, verbose=0), rtol=1e-6)


def test_output_of_a_call_on_numpy_still_backpropagates():
    model = _model()
    model(np.ones((2, 4, 3), "float32")).sum().backward()
    assert all(w.grad is not None for w in model.trainable_weights)


def test_call_on_a_tensor_returns_a_plain_tensor():
    assert type(_model()(torch.ones(2, 4, 3))) is torch.Tensor


def test_float_of_a_scalar_computed_from_the_output_gives_its_value_without_warnings():
    y = _model()(np.ones((2, 4, 3), "float32"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert float(y.sum()) == float(y.detach().sum())
