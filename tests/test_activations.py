"""rnnkit.activations: Keras's get/serialize/deserialize and callable activation functions."""
import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import activations

keras = pytest.importorskip("keras")


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "relu", "softmax", "elu", "selu", "softplus", "hard_sigmoid"])
def test_activation_function_computes_keras_values(name):
    x = np.linspace(-3, 3, 12, dtype="float32").reshape(3, 4)
    expected = keras.ops.convert_to_numpy(getattr(keras.activations, name)(x))
    np.testing.assert_allclose(getattr(activations, name)(torch.from_numpy(x)).numpy(), expected, rtol=1e-6, atol=1e-6)


def test_serialize_and_deserialize_round_trip_by_keras_name():
    assert activations.serialize(activations.relu) == keras.activations.serialize(keras.activations.relu) == "relu"
    assert activations.deserialize("relu") is activations.relu
    assert activations.get(None) is activations.linear


def test_activation_function_given_to_a_layer_keeps_its_name_in_the_config():
    layer = rnnkit.layers.LSTM(3, activation=activations.relu)
    assert layer.get_config()["activation"] == "relu"


def test_unknown_activation_name_is_a_value_error():
    with pytest.raises(ValueError, match="Unknown activation 'relux'"):
        activations.get("relux")
