"""Core layers: parity with Keras 3 (outputs, masks, parameter counts), config round trips, input
validation, Dropout's training behaviour, and use inside plain torch code."""
import os

os.environ["KERAS_BACKEND"] = "torch"

import doctest
import inspect

import keras
import numpy as np
import pytest
import torch

from rnnkit.layers import Activation, Dense, Dropout, Embedding, Masking, RepeatVector, core, get_mask

from keras_parity import matched_pair, randn, to_numpy  # noqa: E402

ATOL = 1e-5


# --------------------------------------------------------------------------------------- Dense
@pytest.mark.parametrize("activation", [None, "relu", "tanh", "softmax"])
def test_dense_matches_keras_on_3d_input(activation):
    x = randn(2, 5, 4)
    ours, theirs = matched_pair(Dense(3, activation=activation), keras.layers.Dense(3, activation=activation), x)
    np.testing.assert_allclose(ours(torch.as_tensor(x)).detach().numpy(), to_numpy(theirs(x)), atol=ATOL)


def test_dense_without_bias_matches_keras():
    x = randn(6, 4)
    ours, theirs = matched_pair(Dense(3, use_bias=False), keras.layers.Dense(3, use_bias=False), x)
    assert len(ours.get_weights()) == 1
    np.testing.assert_allclose(ours(torch.as_tensor(x)).detach().numpy(), to_numpy(theirs(x)), atol=ATOL)


@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_count_params_equals_keras(use_bias):
    ours, theirs = matched_pair(Dense(7, use_bias=use_bias), keras.layers.Dense(7, use_bias=use_bias), randn(2, 5))
    assert ours.count_params() == theirs.count_params()


def test_dense_weights_have_keras_names_and_shapes():
    layer = Dense(3)
    layer(torch.zeros(2, 4))
    assert [(name, tuple(w.shape)) for name, w in layer.named_parameters()] == [("kernel", (4, 3)), ("bias", (3,))]


def test_dense_build_from_a_shape_allows_set_weights_before_any_call():
    layer = Dense(2)
    layer.build((None, 3))
    layer.set_weights([np.ones((3, 2), "float32"), np.full(2, 0.5, "float32")])
    assert layer(torch.ones(1, 3)).tolist() == [[3.5, 3.5]]


def test_dense_passes_mask_through():
    x = torch.ones(2, 3, 4)
    mask = torch.tensor([[True, False, True], [True, True, False]])
    x._keras_mask = mask
    assert torch.equal(get_mask(Dense(2)(x)), mask)


def test_dense_kernel_regularizer_adds_its_penalty_to_losses():
    layer = Dense(3, kernel_regularizer="l2")
    layer(torch.ones(1, 4))
    (penalty,) = layer.losses
    assert penalty.item() == pytest.approx(0.01 * layer.kernel.detach().square().sum().item())


def test_dense_rejects_input_with_a_different_last_dimension():
    layer = Dense(3, name="proj")
    layer(torch.zeros(2, 4))
    expected = r"Dense 'proj': expected input of shape \(batch, \.\.\., 4\).*got \(2, 5\)"
    with pytest.raises(ValueError, match=expected):
        layer(torch.zeros(2, 5))


def test_dense_rejects_non_positive_units():
    with pytest.raises(ValueError, match=r"Dense .*units must be a positive integer, got 0"):
        Dense(0)


# ----------------------------------------------------------------------------------- Embedding
def test_embedding_matches_keras():
    ids = np.array([[1, 2, 0, 9], [4, 4, 3, 0]])
    ours, theirs = matched_pair(Embedding(10, 3), keras.layers.Embedding(10, 3), ids)
    np.testing.assert_allclose(ours(torch.as_tensor(ids)).detach().numpy(), to_numpy(theirs(ids)), atol=ATOL)


def test_embedding_mask_zero_mask_matches_keras():
    ids = np.array([[1, 2, 0, 0], [4, 0, 3, 0]])
    ours, theirs = matched_pair(Embedding(10, 3, mask_zero=True), keras.layers.Embedding(10, 3, mask_zero=True),
                                ids)
    out = ours(torch.as_tensor(ids))
    np.testing.assert_array_equal(get_mask(out).numpy(), to_numpy(theirs.compute_mask(ids)))
    np.testing.assert_allclose(out.detach().numpy(), to_numpy(theirs(ids)), atol=ATOL)


def test_embedding_without_mask_zero_sets_no_mask():
    assert get_mask(Embedding(10, 3)(torch.tensor([[0, 1]]))) is None


def test_embedding_count_params_equals_keras():
    ours, theirs = matched_pair(Embedding(50, 8), keras.layers.Embedding(50, 8), np.array([[1, 2]]))
    assert ours.count_params() == theirs.count_params() == 400


def test_embedding_default_initializer_is_keras_uniform_within_0_05():
    layer = Embedding(100, 16)
    layer(torch.tensor([[1]]))
    assert layer.embeddings.abs().max().item() <= 0.05


def test_embedding_rejects_float_ids():
    with pytest.raises(ValueError, match="Embedding 'tokens': expected integer token ids, got float32"):
        Embedding(10, 3, name="tokens")(torch.tensor([[1.0, 2.0]]))


def test_embedding_rejects_negative_ids():
    expected = r"Embedding 'tokens': expected token ids in \[0, input_dim=10\), got min id -1"
    with pytest.raises(ValueError, match=expected):
        Embedding(10, 3, name="tokens")(torch.tensor([[-1, 2]]))


def test_embedding_rejects_ids_at_or_above_input_dim():
    with pytest.raises(ValueError, match=r"Embedding 'tokens': .*input_dim=10.*max id 12"):
        Embedding(10, 3, name="tokens")(torch.tensor([[1, 12, 10]]))


# ------------------------------------------------------------------------------------- Dropout
def test_dropout_is_identity_when_not_training():
    x = torch.randn(4, 5)
    layer = Dropout(0.5)
    assert torch.equal(layer(x), x)
    assert torch.equal(layer(x, training=False), x)


@pytest.mark.parametrize("seed", [None, 3])
def test_dropout_zeroes_about_rate_fraction_and_scales_survivors_when_training(seed):
    x = torch.ones(200, 100)
    out = Dropout(0.3, seed=seed)(x, training=True)
    dropped = (out == 0).float().mean().item()
    assert dropped == pytest.approx(0.3, abs=0.02)
    assert torch.allclose(out[out != 0], torch.tensor(1 / 0.7))


def test_dropout_with_seed_drops_the_same_units_in_a_fresh_layer():
    x = torch.ones(8, 16)
    assert torch.equal(Dropout(0.5, seed=7)(x, training=True), Dropout(0.5, seed=7)(x, training=True))


def test_dropout_noise_shape_drops_the_same_features_at_every_time_step():
    out = Dropout(0.5, noise_shape=(None, 1, None), seed=1)(torch.ones(4, 6, 8), training=True)
    assert torch.equal(out, out[:, :1, :].expand_as(out))
    assert (out == 0).any() and (out != 0).any()


def test_dropout_rate_zero_is_identity_when_training():
    x = torch.randn(3, 4)
    assert torch.equal(Dropout(0.0)(x, training=True), x)


def test_dropout_passes_mask_through():
    x = torch.ones(2, 3, 4)
    mask = torch.tensor([[True, False, True], [True, True, False]])
    x._keras_mask = mask
    assert torch.equal(get_mask(Dropout(0.5)(x, training=True)), mask)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_rejects_rate_outside_zero_one(rate):
    with pytest.raises(ValueError, match=rf"Dropout 'drop': rate must be in \[0, 1\), got {rate}"):
        Dropout(rate, name="drop")


# ---------------------------------------------------------------------------------- Activation
@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid", "softmax", "gelu", "elu", "selu", "softplus"])
def test_activation_matches_keras(name):
    x = randn(3, 7) * 3
    expected = to_numpy(keras.layers.Activation(name)(x))
    np.testing.assert_allclose(Activation(name)(torch.as_tensor(x)).numpy(), expected, atol=ATOL)


def test_activation_rejects_unknown_name():
    with pytest.raises(ValueError, match="Unknown activation 'tahn'.*Did you mean 'tanh'"):
        Activation("tahn")


def test_activation_passes_mask_through():
    x = torch.ones(1, 2, 3)
    mask = torch.tensor([[True, False]])
    x._keras_mask = mask
    assert torch.equal(get_mask(Activation("relu")(x)), mask)


# -------------------------------------------------------------------------------- RepeatVector
def test_repeat_vector_matches_keras():
    x = randn(2, 4)
    expected = to_numpy(keras.layers.RepeatVector(3)(x))
    np.testing.assert_array_equal(RepeatVector(3)(torch.as_tensor(x)).numpy(), expected)


def test_repeat_vector_rejects_non_2d_input():
    expected = r"RepeatVector 'rep': expected input of shape \(batch, features\), got \(2, 3, 4\)"
    with pytest.raises(ValueError, match=expected):
        RepeatVector(3, name="rep")(torch.zeros(2, 3, 4))


def test_repeat_vector_does_not_propagate_a_mask():
    x = torch.ones(2, 4)
    x._keras_mask = torch.tensor([True, False])
    assert get_mask(RepeatVector(3)(x)) is None


# ------------------------------------------------------------------------------------- Masking
@pytest.mark.parametrize("mask_value", [0.0, -1.0])
def test_masking_output_and_mask_match_keras(mask_value):
    x = randn(3, 5, 2)
    x[0, 1] = mask_value
    x[2, 3:] = mask_value
    x[1, 2, 0] = mask_value  # only one feature equal: the step is kept
    theirs = keras.layers.Masking(mask_value)(x)
    ours = Masking(mask_value)(torch.as_tensor(x))
    np.testing.assert_array_equal(ours.numpy(), to_numpy(theirs))
    np.testing.assert_array_equal(get_mask(ours).numpy(), to_numpy(theirs._keras_mask))


def test_masking_zeroes_masked_steps():
    x = torch.tensor([[[5.0, 5.0], [1.0, 2.0]]])
    out = Masking(5.0)(x)
    assert out.tolist() == [[[0.0, 0.0], [1.0, 2.0]]]


# ------------------------------------------------------------------------------ config, repr
CONFIGURED = [
    lambda: Dense(4, activation="tanh", use_bias=False, kernel_initializer="orthogonal", bias_initializer="ones",
                  kernel_regularizer="l2", bias_regularizer="l1", name="d", trainable=False, dtype="float64"),
    lambda: Embedding(20, 5, embeddings_initializer="glorot_normal", embeddings_regularizer="l1_l2",
                      mask_zero=True, name="e"),
    lambda: Dropout(0.25, noise_shape=(None, 1, 4), seed=11, name="p"),
    lambda: Activation("softmax", name="a"),
    lambda: RepeatVector(6, name="r"),
    lambda: Masking(-1.0, name="m"),
]


@pytest.mark.parametrize("make", CONFIGURED, ids=lambda make: type(make()).__name__)
def test_config_round_trips_every_constructor_argument(make):
    layer = make()
    config = layer.get_config()
    # Embedding's `weights` are values, not configuration: Keras leaves them out of the config too.
    skip = ("self", "kwargs", "weights")
    arguments = [p for p in inspect.signature(type(layer).__init__).parameters if p not in skip]
    assert set(arguments) <= set(config)
    assert type(layer).from_config(config).get_config() == config


def test_dense_rebuilt_from_config_computes_the_same_function():
    layer = Dense(3, activation="sigmoid")
    x = torch.randn(2, 4)
    expected = layer(x)
    clone = Dense.from_config(layer.get_config())
    clone(x)
    clone.set_weights(layer.get_weights())
    assert torch.equal(clone(x), expected)


def test_extra_repr_shows_the_configuration():
    layer = Dense(3, activation="relu", name="head")
    layer(torch.zeros(1, 4))
    assert repr(layer) == "Dense(input_dim=4, units=3, activation='relu', use_bias=True, name='head')"
    assert "input_dim=10, output_dim=3, mask_zero=True" in repr(Embedding(10, 3, mask_zero=True))
    assert "rate=0.5" in repr(Dropout(0.5))


# ------------------------------------------------------------------------------- torch interop
def test_layers_compose_in_a_torch_sequential_and_carry_the_mask():
    model = torch.nn.Sequential(Embedding(10, 4, mask_zero=True), Dense(8, activation="relu"), Dropout(0.5),
                                Activation("tanh"), Dense(2))
    out = model(torch.tensor([[3, 1, 0], [2, 0, 0]]))
    assert out.shape == (2, 3, 2)
    assert get_mask(out).tolist() == [[True, True, False], [True, False, False]]
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_layers_compute_in_float64_after_double():
    model = torch.nn.Sequential(Embedding(10, 4), Dense(3), RepeatVector(2), Masking(), Activation("tanh"))
    ids = torch.tensor([1, 2])
    expected = model(ids)
    model.double()
    out = model(ids)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, expected.double(), atol=ATOL, rtol=0)


def test_dense_builds_in_the_dtype_of_its_first_input():
    layer = Dense(2)
    layer(torch.zeros(1, 3, dtype=torch.float64))
    assert layer.kernel.dtype == torch.float64


def test_docstring_examples_run():
    results = doctest.testmod(core, extraglobs={"torch": torch}, optionflags=doctest.ELLIPSIS)
    assert results.attempted > 0 and results.failed == 0
