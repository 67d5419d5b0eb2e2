"""Keras 3 functional models that record keras.ops calls as nodes (an Embedding(mask_zero=True)'s
`NotEqual`, arithmetic, casts, reshapes) load through rnnkit.ops; other operations are refused.
Each model is built and saved by Keras in the test."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

import rnnkit  # noqa: E402
from keras_files import randomise  # noqa: E402
from rnnkit.io import load_keras  # noqa: E402


def test_functional_embedding_mask_zero_model_loads_and_predicts_like_keras(tmp_path):
    ids = keras.Input((None,), dtype="int32")
    hidden = keras.layers.LSTM(5)(keras.layers.Embedding(20, 4, mask_zero=True)(ids))
    model = randomise(keras.Model(ids, keras.layers.Dense(2)(hidden)))
    model.save(tmp_path / "m.keras")
    ours = load_keras(tmp_path / "m.keras")
    x = np.array([[3, 5, 0, 0], [1, 2, 3, 4], [7, 0, 0, 0]])
    np.testing.assert_allclose(ours.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    assert [layer.function for layer in ours.layers if isinstance(layer, rnnkit.layers.Operation)] == ["not_equal"]


def test_arithmetic_cast_reshape_and_reduction_nodes_compute_like_keras(tmp_path):
    x_in = keras.Input((5, 3))
    joined = keras.ops.concatenate([x_in, x_in * 2.0], axis=-1)
    summed = keras.ops.cast(keras.ops.sum(joined, axis=1, keepdims=True), "float32")
    out = keras.ops.tanh(keras.ops.reshape(keras.ops.transpose(summed, (0, 2, 1)), (-1, 6)))
    model = keras.Model(x_in, out)
    model.save(tmp_path / "m.keras")
    x = np.random.default_rng(1).random((2, 5, 3)).astype("float32")
    np.testing.assert_allclose(load_keras(tmp_path / "m.keras").predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)


def test_loaded_operation_nodes_survive_rnnkit_save_and_load(tmp_path):
    ids = keras.Input((None,), dtype="int32")
    model = keras.Model(ids, keras.layers.GRU(3)(keras.layers.Embedding(9, 4, mask_zero=True)(ids)))
    model.save(tmp_path / "m.keras")
    ours = load_keras(tmp_path / "m.keras")
    rnnkit.save_model(ours, tmp_path / "m.rnnkit")
    x = np.array([[1, 2, 0], [4, 0, 0]])
    np.testing.assert_allclose(rnnkit.load_model(tmp_path / "m.rnnkit").predict(x, verbose=0),
                               ours.predict(x, verbose=0), rtol=1e-6)


def test_operation_outside_the_allow_list_is_refused_naming_it(tmp_path):
    image = keras.Input((4, 4, 1))
    model = keras.Model(image, keras.ops.image.resize(image, (2, 2)))
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="keras.ops operation 'Resize'"):
        load_keras(tmp_path / "m.keras")


def test_operation_layer_refuses_a_function_not_on_the_allow_list():
    with pytest.raises(ValueError, match="'eval' is not an operation rnnkit runs"):
        rnnkit.layers.Operation("eval")
