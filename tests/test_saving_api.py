"""rnnkit.saving: Keras's register_keras_serializable package>name semantics, through save and load."""
import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import saving


@saving.register_keras_serializable(package="tests_pkg")
class DoublingCell(rnnkit.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform",
                                      name="kernel")

    def call(self, inputs, states):
        h = rnnkit.ops.matmul(inputs, self.kernel) + 2.0 * states[0]
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_registered_name_is_package_and_class_name():
    assert saving.get_registered_name(DoublingCell) == "tests_pkg>DoublingCell"
    assert saving.get_registered_object("tests_pkg>DoublingCell") is DoublingCell


def test_model_with_registered_cell_saves_and_loads_with_same_outputs(tmp_path):
    model = rnnkit.Sequential([rnnkit.Input((4, 3)), rnnkit.layers.RNN(DoublingCell(2))])
    x = np.random.default_rng(0).random((2, 4, 3)).astype("float32")
    saving.save_model(model, tmp_path / "m.rnnkit")
    loaded = saving.load_model(tmp_path / "m.rnnkit")
    assert isinstance(loaded.layers[0].cell, DoublingCell)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_package_with_separator_is_refused():
    with pytest.raises(ValueError, match="package may not contain '>'"):
        saving.register_keras_serializable(package="a>b")
