"""TimeDistributed: parity with Keras 3 (outputs, masks, parameter counts), lazy building of the
wrapped layer, how training and masks reach it, config round trips and input validation."""
import os

os.environ["KERAS_BACKEND"] = "torch"

import doctest

import keras
import numpy as np
import pytest
import torch

from rnnkit.layers import Dense, Dropout, Embedding, Layer, Masking, TimeDistributed, get_mask, time_distributed

from keras_parity import matched_pair, randn, to_numpy  # noqa: E402

ATOL = 1e-5


class MaskRecorder(Layer):
    """Identity that records the mask its call receives."""

    def call(self, inputs, mask=None):
        self.received_mask = mask
        return inputs * 1


# -------------------------------------------------------------------------------- Keras parity
@pytest.mark.parametrize("shape", [(2, 5, 4), (2, 3, 6, 4)], ids=["3d", "4d"])
def test_time_distributed_dense_matches_keras(shape):
    x = randn(*shape)
    ours, theirs = matched_pair(TimeDistributed(Dense(3, activation="tanh")),
                                keras.layers.TimeDistributed(keras.layers.Dense(3, activation="tanh")), x)
    np.testing.assert_allclose(ours(torch.as_tensor(x)).detach().numpy(), to_numpy(theirs(x)), atol=ATOL)


def test_time_distributed_embedding_matches_keras():
    ids = np.array([[[1, 2, 0], [3, 3, 4]], [[0, 0, 1], [4, 2, 1]]])
    ours, theirs = matched_pair(TimeDistributed(Embedding(5, 2)),
                                keras.layers.TimeDistributed(keras.layers.Embedding(5, 2)), ids)
    np.testing.assert_allclose(ours(torch.as_tensor(ids)).detach().numpy(), to_numpy(theirs(ids)), atol=ATOL)


def test_time_distributed_count_params_equals_keras():
    ours, theirs = matched_pair(TimeDistributed(Dense(7)), keras.layers.TimeDistributed(keras.layers.Dense(7)),
                                randn(2, 3, 5))
    assert ours.count_params() == theirs.count_params() == 42


def test_time_distributed_with_a_mask_matches_keras_output_and_mask():
    x = randn(3, 4, 2)
    x[0, 1] = 0.0
    x[2, 2:] = 0.0
    theirs = keras.layers.TimeDistributed(keras.layers.Dense(3))
    expected = theirs(keras.layers.Masking()(x))
    ours = TimeDistributed(Dense(3))
    ours(torch.as_tensor(x))
    ours.set_weights(theirs.get_weights())
    out = ours(Masking()(torch.as_tensor(x)))
    np.testing.assert_allclose(out.detach().numpy(), to_numpy(expected), atol=ATOL)
    np.testing.assert_array_equal(get_mask(out).numpy(), to_numpy(expected._keras_mask))


# ------------------------------------------------------------------------ weights and building
def test_time_distributed_weights_are_the_inner_layers():
    inner = Dense(3)
    layer = TimeDistributed(inner)
    layer(torch.zeros(2, 5, 4))
    assert [tuple(w.shape) for w in layer.get_weights()] == [(4, 3), (3,)]
    assert all(a is b for a, b in zip(layer.weights, inner.weights))


def test_time_distributed_builds_the_inner_layer_lazily_from_the_per_step_shape():
    inner = Dense(3)
    layer = TimeDistributed(inner)
    assert not inner.built
    layer(torch.zeros(2, 5, 4, dtype=torch.float64))
    assert inner.built and inner.kernel.shape == (4, 3) and inner.kernel.dtype == torch.float64


def test_time_distributed_build_from_a_shape_allows_set_weights_before_any_call():
    layer = TimeDistributed(Dense(2))
    layer.build((None, 5, 3))
    layer.set_weights([np.ones((3, 2), "float32"), np.zeros(2, "float32")])
    assert layer(torch.ones(1, 5, 3)).tolist() == [[[3.0, 3.0]] * 5]


# ------------------------------------------------------------------------- training and masks
def test_time_distributed_passes_training_to_the_inner_layer():
    layer = TimeDistributed(Dropout(0.5, seed=0))
    x = torch.ones(4, 6, 8)
    assert torch.equal(layer(x), x)
    assert (layer(x, training=True) == 0).any()


def test_time_distributed_passes_the_folded_mask_to_an_inner_layer_that_takes_one():
    recorder = MaskRecorder()
    mask = torch.tensor([[True, False, True], [False, True, True]])
    TimeDistributed(recorder)(torch.ones(2, 3, 4), mask=mask)
    assert torch.equal(recorder.received_mask, mask.reshape(6))


def test_time_distributed_output_carries_the_input_mask_not_the_inner_layers():
    ids = torch.tensor([[[1, 0], [0, 0]]])
    mask = torch.tensor([[True, False]])
    ids._keras_mask = mask
    out = TimeDistributed(Embedding(5, 2, mask_zero=True))(ids)
    assert torch.equal(get_mask(out), mask)


def test_time_distributed_rejects_a_mask_of_the_wrong_shape():
    expected = r"TimeDistributed 'td': expected a mask of shape \(2, 3, \.\.\.\), got \(3, 2\)"
    with pytest.raises(ValueError, match=expected):
        TimeDistributed(Dense(2), name="td")(torch.ones(2, 3, 4), mask=torch.ones(3, 2, dtype=torch.bool))


# ------------------------------------------------------------------------- validation, config
def test_time_distributed_rejects_input_without_a_time_axis():
    expected = r"TimeDistributed 'td': expected input of shape \(batch, time, \.\.\.\), got \(2, 4\)"
    with pytest.raises(ValueError, match=expected):
        TimeDistributed(Dense(2), name="td")(torch.ones(2, 4))


def test_time_distributed_rejects_a_wrapped_object_that_is_not_a_layer():
    with pytest.raises(TypeError, match="TimeDistributed .*expected an rnnkit Layer to wrap, got Linear"):
        TimeDistributed(torch.nn.Linear(2, 2))


def test_time_distributed_config_nests_the_inner_layer_config():
    inner = Dense(3, activation="relu", name="head")
    config = TimeDistributed(inner, name="td").get_config()
    assert config["name"] == "td"
    assert config["layer"] == {"class_name": "Dense", "config": inner.get_config()}


def test_time_distributed_from_config_rebuilds_the_inner_layer():
    layer = TimeDistributed(Dropout(0.3, noise_shape=(None, 4), seed=2), name="td", trainable=False)
    clone = TimeDistributed.from_config(layer.get_config())
    assert isinstance(clone.layer, Dropout) and clone.layer is not layer.layer
    assert clone.get_config() == layer.get_config()


def test_time_distributed_from_config_rejects_an_unknown_class_name():
    config = TimeDistributed(Dense(2)).get_config()
    config["layer"]["class_name"] = "Conv2D"
    expected = "Unknown layer class 'Conv2D'"
    with pytest.raises(ValueError, match=expected):
        TimeDistributed.from_config(config)


# ------------------------------------------------------------------------------- torch interop
def test_time_distributed_works_in_a_torch_sequential_after_double():
    model = torch.nn.Sequential(Embedding(10, 4, mask_zero=True), TimeDistributed(Dense(3)))
    ids = torch.tensor([[1, 2, 0]])
    expected = model(ids)
    model.double()
    out = model(ids)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, expected.double(), atol=ATOL, rtol=0)
    assert get_mask(out).tolist() == [[True, True, False]]


def test_time_distributed_passes_gradients_to_the_inner_weights():
    layer = TimeDistributed(Dense(2))
    layer(torch.randn(2, 3, 4)).sum().backward()
    assert all(w.grad is not None for w in layer.weights)


def test_docstring_examples_run():
    results = doctest.testmod(time_distributed, extraglobs={"torch": torch})
    assert results.attempted > 0 and results.failed == 0
