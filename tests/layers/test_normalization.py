"""BatchNormalization, LayerNormalization (and Flatten, from layers/reshaping.py): parity with Keras 3
(outputs in both modes, moving statistics, masks, parameter counts), config round trips, input
validation, and use in Sequential and functional models."""
import os

os.environ["KERAS_BACKEND"] = "torch"

import doctest
import inspect

import keras
import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.layers import BatchNormalization, Dense, Embedding, Flatten, LayerNormalization, get_mask
from rnnkit.layers import normalization, reshaping

from keras_parity import randn, to_numpy  # noqa: E402

ATOL = 1e-5


def random_weights(layer, seed=1):
    """Random positive values for every weight (variances must be positive), Keras's shapes."""
    rng = np.random.default_rng(seed)
    return [(rng.random(w.shape) + 0.5).astype("float32") for w in layer.get_weights()]


def bn_pair(x, seed=1, **kwargs):
    """A Keras and an rnnkit BatchNormalization built on `x`, sharing random weights."""
    ours, theirs = BatchNormalization(**kwargs), keras.layers.BatchNormalization(**kwargs)
    theirs(x)
    ours(torch.as_tensor(x))
    weights = random_weights(theirs, seed)
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return ours, theirs


def sequence_mask(seed=2):
    mask = np.random.default_rng(seed).random((4, 6)) > 0.4
    mask[:, 0] = True
    return mask


# ------------------------------------------------------------------------- BatchNormalization
@pytest.mark.parametrize("shape, axis", [((8, 3), -1), ((4, 6, 3), -1), ((4, 3, 6), 1)])
def test_batch_normalization_inference_matches_keras(shape, axis):
    x = randn(*shape) * 3 + 1
    ours, theirs = bn_pair(x, axis=axis)
    np.testing.assert_allclose(ours(torch.as_tensor(x)).detach().numpy(), to_numpy(theirs(x)), atol=ATOL)


@pytest.mark.parametrize("shape, axis", [((8, 3), -1), ((4, 6, 3), -1), ((4, 3, 6), 1)])
def test_batch_normalization_training_output_matches_keras(shape, axis):
    x = randn(*shape) * 3 + 1
    ours, theirs = bn_pair(x, axis=axis)
    expected = to_numpy(theirs(x, training=True))
    np.testing.assert_allclose(ours(torch.as_tensor(x), training=True).detach().numpy(), expected, atol=ATOL)


def test_batch_normalization_training_updates_moving_statistics_as_keras():
    x = randn(4, 6, 3) * 3 + 1
    ours, theirs = bn_pair(x, momentum=0.8)
    for step in range(3):
        batch = x + step
        theirs(batch, training=True)
        ours(torch.as_tensor(batch), training=True)
    for mine, keras_weight in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, keras_weight, atol=ATOL)


def test_batch_normalization_masked_training_matches_keras_output_and_moving_statistics():
    x, mask = randn(4, 6, 3) * 3 + 1, sequence_mask()
    ours, theirs = bn_pair(x, momentum=0.5)
    expected = to_numpy(theirs(x, training=True, mask=keras.ops.convert_to_tensor(mask)))
    out = ours(torch.as_tensor(x), training=True, mask=torch.as_tensor(mask))
    np.testing.assert_allclose(out.detach().numpy(), expected, atol=ATOL)
    for mine, keras_weight in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, keras_weight, atol=ATOL)


def test_batch_normalization_masked_statistics_ignore_masked_positions():
    x, mask = torch.as_tensor(randn(4, 6, 3)), torch.as_tensor(sequence_mask())
    garbage = x.clone()
    garbage[~mask] = 1e3
    first, second = BatchNormalization(momentum=0.0), BatchNormalization(momentum=0.0)
    first(x, training=True, mask=mask)
    second(garbage, training=True, mask=mask)
    torch.testing.assert_close(first.moving_mean, second.moving_mean)
    torch.testing.assert_close(first.moving_variance, second.moving_variance)


def test_batch_normalization_uses_the_mask_the_input_carries():
    x, mask = torch.as_tensor(randn(4, 6, 3)), torch.as_tensor(sequence_mask())
    explicit, carried = BatchNormalization(), BatchNormalization()
    expected = explicit(x, training=True, mask=mask)
    x._keras_mask = mask
    out = carried(x, training=True)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(carried.moving_mean, explicit.moving_mean)
    assert torch.equal(get_mask(out), mask)


def test_batch_normalization_input_gradient_matches_keras_in_training():
    x = randn(5, 3) * 2
    ours, theirs = bn_pair(x)
    upstream = torch.as_tensor(randn(5, 3, seed=4))
    keras_input = torch.as_tensor(x).requires_grad_()
    (torch.as_tensor(theirs(keras_input, training=True)) * upstream).sum().backward()
    our_input = torch.as_tensor(x).requires_grad_()
    (ours(our_input, training=True) * upstream).sum().backward()
    torch.testing.assert_close(our_input.grad, keras_input.grad, atol=ATOL, rtol=0)


def test_batch_normalization_inference_leaves_moving_statistics_unchanged():
    layer = BatchNormalization()
    x = torch.randn(8, 3) * 5
    layer(x)
    layer(x, training=False)
    assert layer.moving_mean.tolist() == [0.0] * 3 and layer.moving_variance.tolist() == [1.0] * 3


def test_batch_normalization_ignores_torch_train_flag():
    layer = BatchNormalization().train()
    x = torch.randn(8, 3) * 5 + 2
    torch.testing.assert_close(layer(x), x / np.sqrt(1 + 1e-3))
    assert layer.moving_mean.tolist() == [0.0] * 3


def test_batch_normalization_not_trainable_runs_in_inference_mode_when_training():
    x = randn(8, 3) * 3 + 1
    ours, theirs = bn_pair(x, trainable=False)
    before = ours.get_weights()
    expected = to_numpy(theirs(x, training=True))
    np.testing.assert_allclose(ours(torch.as_tensor(x), training=True).detach().numpy(), expected, atol=ATOL)
    for after, saved in zip(ours.get_weights(), before):
        np.testing.assert_array_equal(after, saved)


@pytest.mark.parametrize("center, scale", [(False, True), (True, False), (False, False)])
def test_batch_normalization_without_center_or_scale_matches_keras(center, scale):
    x = randn(8, 3) * 3 + 1
    ours, theirs = bn_pair(x, center=center, scale=scale)
    assert len(ours.get_weights()) == 2 + center + scale
    expected = to_numpy(theirs(x, training=True))
    np.testing.assert_allclose(ours(torch.as_tensor(x), training=True).detach().numpy(), expected, atol=ATOL)


def test_batch_normalization_weights_are_in_keras_order_with_moving_statistics_non_trainable():
    layer = BatchNormalization()
    layer(torch.zeros(2, 5, 4))
    assert [(name, tuple(w.shape), w.requires_grad) for name, w in layer.named_parameters()] == [
        ("gamma", (4,), True), ("beta", (4,), True), ("moving_mean", (4,), False), ("moving_variance", (4,), False),
    ]
    assert len(layer.non_trainable_weights) == 2


def test_batch_normalization_count_params_equals_keras():
    ours, theirs = bn_pair(randn(2, 5, 7))
    assert ours.count_params() == theirs.count_params() == 28


def test_batch_normalization_passes_mask_through():
    x = torch.ones(2, 3, 4)
    mask = torch.tensor([[True, False, True], [True, True, False]])
    x._keras_mask = mask
    assert torch.equal(get_mask(BatchNormalization()(x)), mask)


@pytest.mark.parametrize("axis", [2, -3])
def test_batch_normalization_rejects_axis_out_of_range(axis):
    expected = rf"BatchNormalization 'bn': expected axis in \[-2, 2\) for input of shape \(4, 3\), got axis={axis}"
    with pytest.raises(ValueError, match=expected):
        BatchNormalization(axis=axis, name="bn")(torch.zeros(4, 3))


def test_batch_normalization_rejects_input_with_another_feature_size():
    layer = BatchNormalization(name="bn")
    layer(torch.zeros(4, 3))
    expected = r"BatchNormalization 'bn': expected input with 3 features .*got shape \(4, 5\)"
    with pytest.raises(ValueError, match=expected):
        layer(torch.zeros(4, 5))


def test_batch_normalization_rejects_mask_of_the_input_rank():
    with pytest.raises(ValueError, match=r"'bn': expected a mask with one dimension less .*got mask of shape \(4, 3\)"):
        BatchNormalization(name="bn")(torch.zeros(4, 3), mask=torch.ones(4, 3, dtype=torch.bool))


@pytest.mark.parametrize("argument", [{"renorm": True}, {"synchronized": True}])
def test_batch_normalization_rejects_renorm_and_synchronized(argument):
    with pytest.raises(ValueError, match="BatchNormalization 'bn': expected synchronized=False and renorm=False"):
        BatchNormalization(name="bn", **argument)


@pytest.mark.parametrize("momentum", [-0.1, 1.5])
def test_batch_normalization_rejects_momentum_outside_zero_one(momentum):
    with pytest.raises(ValueError, match=rf"'bn': momentum must be in \[0, 1\], got {momentum}"):
        BatchNormalization(momentum=momentum, name="bn")


# ------------------------------------------------------------------------- LayerNormalization
def ln_pair(x, seed=1, **kwargs):
    ours, theirs = LayerNormalization(**kwargs), keras.layers.LayerNormalization(**kwargs)
    theirs(x)
    ours(torch.as_tensor(x))
    weights = random_weights(theirs, seed)
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return ours, theirs


@pytest.mark.parametrize("shape, axis", [((8, 5), -1), ((4, 6, 5), -1), ((4, 6, 5), [1, 2]), ((4, 6, 5), [-2, -1])])
def test_layer_normalization_matches_keras(shape, axis):
    x = randn(*shape) * 3 + 1
    ours, theirs = ln_pair(x, axis=axis)
    np.testing.assert_allclose(ours(torch.as_tensor(x)).detach().numpy(), to_numpy(theirs(x)), atol=ATOL)


def test_layer_normalization_over_a_middle_axis_matches_the_formula():
    # Keras's torch backend cannot run this case (it hands axis=1 to F.layer_norm), so the reference
    # is the formula itself.
    x = randn(4, 6, 5) * 3 + 1
    layer = LayerNormalization(axis=1, epsilon=0.01)
    layer(torch.as_tensor(x))
    gamma, beta = random_weights(layer)
    layer.set_weights([gamma, beta])
    mean, variance = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    expected = (x - mean) / np.sqrt(variance + 0.01) * gamma[:, None] + beta[:, None]
    np.testing.assert_allclose(layer(torch.as_tensor(x)).detach().numpy(), expected, atol=ATOL)


@pytest.mark.parametrize("center, scale", [(False, True), (True, False), (False, False)])
def test_layer_normalization_without_center_or_scale_matches_keras(center, scale):
    x = randn(4, 6, 5)
    ours, theirs = ln_pair(x, center=center, scale=scale)
    assert len(ours.get_weights()) == center + scale
    np.testing.assert_allclose(ours(torch.as_tensor(x)).detach().numpy(), to_numpy(theirs(x)), atol=ATOL)


def test_layer_normalization_count_params_equals_keras():
    ours, theirs = ln_pair(randn(2, 6, 5), axis=[1, 2])
    assert ours.count_params() == theirs.count_params() == 60


def test_layer_normalization_weights_have_keras_names_and_shapes():
    layer = LayerNormalization(axis=[1, 2])
    layer(torch.zeros(2, 6, 5))
    assert [(name, tuple(w.shape)) for name, w in layer.named_parameters()] == [("gamma", (6, 5)), ("beta", (6, 5))]


def test_layer_normalization_passes_mask_through():
    x = torch.randn(2, 3, 4)
    mask = torch.tensor([[True, False, True], [True, True, False]])
    x._keras_mask = mask
    assert torch.equal(get_mask(LayerNormalization()(x)), mask)


def test_layer_normalization_rejects_axis_out_of_range():
    expected = r"LayerNormalization 'ln': expected axis in \[-3, 3\) for input of shape \(2, 6, 5\), got axis=3"
    with pytest.raises(ValueError, match=expected):
        LayerNormalization(axis=[1, 3], name="ln")(torch.zeros(2, 6, 5))


def test_layer_normalization_rejects_input_with_other_sizes_on_its_axes():
    layer = LayerNormalization(name="ln")
    layer(torch.zeros(2, 5))
    with pytest.raises(ValueError, match=r"'ln': expected sizes \(5,\) on axis -1 .*got input of shape \(2, 4\)"):
        layer(torch.zeros(2, 4))


def test_layer_normalization_rejects_rms_scaling():
    with pytest.raises(ValueError, match="LayerNormalization 'ln': expected rms_scaling=False"):
        LayerNormalization(rms_scaling=True, name="ln")


# ------------------------------------------------------------------------------------ Flatten
@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 3, 4, 5), (3, 4)])
def test_flatten_matches_keras(shape):
    x = randn(*shape)
    np.testing.assert_array_equal(Flatten()(torch.as_tensor(x)).numpy(), to_numpy(keras.layers.Flatten()(x)))


def test_flatten_channels_first_matches_keras():
    x = randn(2, 3, 4, 5)
    expected = to_numpy(keras.layers.Flatten(data_format="channels_first")(x))
    np.testing.assert_array_equal(Flatten(data_format="channels_first")(torch.as_tensor(x)).numpy(), expected)


def test_flatten_gives_a_vector_input_one_feature():
    assert Flatten()(torch.arange(3.0)).tolist() == [[0.0], [1.0], [2.0]]


def test_flatten_does_not_propagate_a_mask():
    x = torch.ones(2, 3, 4)
    x._keras_mask = torch.ones(2, 3, dtype=torch.bool)
    assert get_mask(Flatten()(x)) is None


def test_flatten_rejects_a_scalar():
    with pytest.raises(ValueError, match=r"Flatten 'f': expected input of shape \(batch, \.\.\.\), got \(\)"):
        Flatten(name="f")(torch.tensor(1.0))


def test_flatten_rejects_unknown_data_format():
    with pytest.raises(ValueError, match="Flatten 'f': expected data_format in .*got 'channels_middle'"):
        Flatten(data_format="channels_middle", name="f")


# ----------------------------------------------------------------------------------- in models
def keras_and_rnnkit_sequential():
    def layers(lib):
        return [lib.Input(shape=(6, 4)), lib.layers.LayerNormalization(), lib.layers.Dense(5),
                lib.layers.BatchNormalization(momentum=0.7), lib.layers.Flatten(), lib.layers.Dense(2)]

    theirs = keras.Sequential(layers(keras))
    ours = rnnkit.Sequential(layers(rnnkit))
    weights = [w + np.random.default_rng(i).random(w.shape).astype("float32") for i, w in
               enumerate(theirs.get_weights())]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return ours, theirs


@pytest.mark.parametrize("training", [False, True])
def test_sequential_with_normalization_and_flatten_matches_keras(training):
    ours, theirs = keras_and_rnnkit_sequential()
    x = randn(8, 6, 4)
    expected = to_numpy(theirs(x, training=training))
    np.testing.assert_allclose(ours(torch.as_tensor(x), training=training).detach().numpy(), expected, atol=1e-4)
    for mine, keras_weight in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, keras_weight, atol=ATOL)


def test_sequential_with_normalization_counts_params_as_keras():
    ours, theirs = keras_and_rnnkit_sequential()
    assert ours.count_params() == theirs.count_params()
    assert len(ours.non_trainable_weights) == len(theirs.non_trainable_weights) == 2


def test_fit_updates_moving_statistics_and_predict_leaves_them():
    model = rnnkit.Sequential([rnnkit.Input(shape=(4,)), BatchNormalization(), Dense(1)])
    model.compile("sgd", "mse")
    x = np.random.default_rng(0).normal(3.0, 1.0, (64, 4)).astype("float32")
    model.fit(x, np.zeros((64, 1), "float32"), batch_size=16, epochs=1, verbose=0)
    moving_mean = model.layers[0].moving_mean.detach().clone()
    assert (moving_mean > 0.1).all()
    model.predict(x, verbose=0)
    assert torch.equal(model.layers[0].moving_mean, moving_mean)


def test_functional_model_passes_training_and_masks_to_batch_normalization():
    ids = rnnkit.Input(shape=(None,))
    normalized = BatchNormalization(momentum=0.0)(Embedding(10, 3, mask_zero=True)(ids))
    model = rnnkit.Model(ids, normalized)
    tokens = torch.tensor([[1, 2, 0], [3, 0, 0]])
    out = model(tokens, training=True)
    assert get_mask(out).tolist() == [[True, True, False], [True, False, False]]
    embedded = model.layers[1](tokens)
    expected_mean = embedded[get_mask(out)].mean(dim=0)
    torch.testing.assert_close(model.layers[2].moving_mean, expected_mean.detach(), atol=1e-6, rtol=1e-5)


def test_normalization_layers_compute_in_float64_after_double():
    model = torch.nn.Sequential(LayerNormalization(), BatchNormalization(), Flatten())
    x = torch.randn(4, 3, 5)
    expected = model(x)
    model.double()
    out = model(x.double())
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, expected.double(), atol=ATOL, rtol=0)


# ------------------------------------------------------------------------------ config, repr
CONFIGURED = [
    lambda: BatchNormalization(axis=1, momentum=0.9, epsilon=0.01, center=False, scale=True,
                               beta_initializer="ones", gamma_initializer="zeros", moving_mean_initializer="ones",
                               moving_variance_initializer="zeros", beta_regularizer="l1", gamma_regularizer="l2",
                               beta_constraint="non_neg", gamma_constraint="max_norm", renorm_momentum=0.5,
                               name="bn", trainable=False, dtype="float64"),
    lambda: LayerNormalization(axis=[1, 2], epsilon=0.1, center=False, scale=False, beta_initializer="ones",
                               gamma_initializer="zeros", beta_regularizer="l1_l2", gamma_regularizer="l2",
                               beta_constraint="unit_norm", gamma_constraint="non_neg", name="ln"),
    lambda: Flatten(data_format="channels_first", name="f"),
]


@pytest.mark.parametrize("make", CONFIGURED, ids=lambda make: type(make()).__name__)
def test_config_round_trips_every_constructor_argument(make):
    layer = make()
    config = layer.get_config()
    arguments = [p for p in inspect.signature(type(layer).__init__).parameters if p not in ("self", "kwargs")]
    assert set(arguments) <= set(config)
    assert type(layer).from_config(config).get_config() == config


@pytest.mark.parametrize("ours, theirs", [(BatchNormalization, keras.layers.BatchNormalization),
                                          (LayerNormalization, keras.layers.LayerNormalization),
                                          (Flatten, keras.layers.Flatten)])
def test_a_keras_config_builds_a_layer_computing_the_same_function(ours, theirs):
    keras_layer = theirs()
    x = randn(4, 6, 3)
    keras_layer(x)
    layer = ours.from_config(keras_layer.get_config())
    layer(torch.as_tensor(x))
    layer.set_weights(random_weights(keras_layer))
    keras_layer.set_weights(random_weights(keras_layer))
    np.testing.assert_allclose(layer(torch.as_tensor(x)).detach().numpy(), to_numpy(keras_layer(x)), atol=ATOL)


def test_batch_normalization_rebuilt_from_config_computes_the_same_function():
    layer = BatchNormalization(momentum=0.5)
    x = torch.randn(6, 3)
    layer(x, training=True)
    clone = BatchNormalization.from_config(layer.get_config())
    clone(x)
    clone.set_weights(layer.get_weights())
    assert torch.equal(clone(x), layer(x))


def test_extra_repr_shows_the_configuration():
    layer = BatchNormalization(name="bn")
    layer(torch.zeros(2, 4))
    assert repr(layer) == (
        "BatchNormalization(features=4, axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True, name='bn')"
    )
    assert "normalized_shape=None, axis=[1, 2], epsilon=0.001" in repr(LayerNormalization(axis=[1, 2]))
    assert "data_format='channels_last'" in repr(Flatten())


@pytest.mark.parametrize("module", [normalization, reshaping], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    results = doctest.testmod(module, extraglobs={"torch": torch}, optionflags=doctest.ELLIPSIS)
    assert results.attempted > 0 and results.failed == 0


def test_toggling_trainable_keeps_moving_statistics_non_trainable():
    layer = BatchNormalization()
    layer(torch.randn(4, 3))
    layer.trainable = False
    layer.trainable = True
    assert [w.requires_grad for w in layer.weights] == [True, True, False, False]
    assert len(layer.non_trainable_weights) == 2
