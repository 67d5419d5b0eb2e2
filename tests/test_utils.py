"""rnnkit.utils: Keras's to_categorical, pad_sequences and plot_model."""
import numpy as np
import pytest

import rnnkit
from rnnkit import utils

keras = pytest.importorskip("keras")


@pytest.mark.parametrize("labels, classes", [([0, 2, 1], None), ([[1], [0]], 3), ([[0, 1], [2, 2]], None)])
def test_to_categorical_matches_keras(labels, classes):
    expected = keras.utils.to_categorical(labels, classes)
    got = utils.to_categorical(labels, classes)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_to_categorical_refuses_ids_beyond_num_classes():
    with pytest.raises(ValueError, match=r"class ids must be in \[0, 2\)"):
        utils.to_categorical([0, 2], 2)


def test_pad_sequences_is_keras_pad_sequences():
    seqs = [[1, 2, 3], [4]]
    np.testing.assert_array_equal(utils.pad_sequences(seqs, maxlen=2), keras.utils.pad_sequences(seqs, maxlen=2))


def _functional_model():
    a = rnnkit.Input((5, 3), name="a")
    b = rnnkit.Input((5, 3), name="b")
    merged = rnnkit.layers.Concatenate(name="merge")([rnnkit.layers.LSTM(4, name="left")(a),
                                                      rnnkit.layers.GRU(2, name="right")(b)])
    return rnnkit.Model([a, b], rnnkit.layers.Dense(1, name="head")(merged))


def test_plot_model_writes_the_layer_graph_as_dot(tmp_path):
    path = utils.plot_model(_functional_model(), to_file=tmp_path / "m.dot", show_shapes=True)
    text = path.read_text()
    for edge in ('"a" -> "left"', '"b" -> "right"', '"left" -> "merge"', '"right" -> "merge"', '"merge" -> "head"'):
        assert edge in text
    assert "(None, 1)" in text


def test_plot_model_without_graphviz_says_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(utils.shutil, "which", lambda name: None)
    model = rnnkit.Sequential([rnnkit.Input((3, 2)), rnnkit.layers.LSTM(2)])
    with pytest.raises(ImportError, match="install Graphviz"):
        utils.plot_model(model, to_file=tmp_path / "m.png")


@pytest.mark.parametrize("seed", [-1, 2 ** 32])
def test_set_random_seed_refuses_a_seed_numpy_cannot_take_naming_the_range(seed):
    with pytest.raises(ValueError, match=r"^seed must be an integer in \[0, 4294967295\], got "):
        utils.set_random_seed(seed)
