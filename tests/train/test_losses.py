"""Losses: parity with Keras 3 (reductions, sample weights, logits, label smoothing, sequence outputs), finite
gradients at extreme logits, the boundary errors, and name lookup."""
import os

os.environ["KERAS_BACKEND"] = "torch"

import doctest

import keras
import numpy as np
import pytest
import torch

from rnnkit.train import losses
from rnnkit.train.losses import (
    BinaryCrossentropy, CategoricalCrossentropy, Huber, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredError, SparseCategoricalCrossentropy, divide_no_nan, get_loss,
)

ATOL = 1e-5


def rng(seed=0):
    return np.random.default_rng(seed)


def keras_value(loss, y_true, y_pred, sample_weight=None):
    return keras.ops.convert_to_numpy(loss(y_true, y_pred, sample_weight=sample_weight))


def our_value(loss, y_true, y_pred, sample_weight=None):
    sample_weight = None if sample_weight is None else torch.as_tensor(sample_weight)
    return loss(torch.as_tensor(y_true), torch.as_tensor(y_pred), sample_weight=sample_weight).numpy()


def regression_data(shape, seed=0):
    r = rng(seed)
    return r.standard_normal(shape).astype("float32"), r.standard_normal(shape).astype("float32")


def binary_data(shape, seed=0, logits=False):
    r = rng(seed)
    y_true = (r.random(shape) > 0.5).astype("float32")
    y_pred = (4 * r.standard_normal(shape) if logits else r.random(shape)).astype("float32")
    return y_true, y_pred


def categorical_data(shape, seed=0, logits=False):
    r = rng(seed)
    y_true = np.eye(shape[-1], dtype="float32")[r.integers(0, shape[-1], shape[:-1])]
    y_pred = r.standard_normal(shape).astype("float32") * 3 if logits else r.dirichlet(np.ones(shape[-1]), shape[:-1])
    return y_true, y_pred.astype("float32")


def sparse_data(shape, seed=0, logits=False):
    y_onehot, y_pred = categorical_data(shape, seed, logits)
    return y_onehot.argmax(-1), y_pred


# (rnnkit loss, keras loss, data) covering every loss and option
CASES = {
    "mse": (MeanSquaredError(), keras.losses.MeanSquaredError(), regression_data((6, 3))),
    "mae": (MeanAbsoluteError(), keras.losses.MeanAbsoluteError(), regression_data((6, 3))),
    "mape": (MeanAbsolutePercentageError(), keras.losses.MeanAbsolutePercentageError(), regression_data((6, 3))),
    "huber": (Huber(), keras.losses.Huber(), regression_data((6, 3))),
    "huber_delta": (Huber(delta=0.3), keras.losses.Huber(delta=0.3), regression_data((6, 3))),
    "mse_sequence": (MeanSquaredError(), keras.losses.MeanSquaredError(), regression_data((6, 4, 2))),
    "bce_probs": (BinaryCrossentropy(), keras.losses.BinaryCrossentropy(), binary_data((6, 1))),
    "bce_logits": (BinaryCrossentropy(from_logits=True), keras.losses.BinaryCrossentropy(from_logits=True),
                   binary_data((6, 3), logits=True)),
    "bce_smoothing": (BinaryCrossentropy(label_smoothing=0.2), keras.losses.BinaryCrossentropy(label_smoothing=0.2),
                      binary_data((6, 3))),
    "bce_logits_smoothing": (BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
                             keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
                             binary_data((6, 3), logits=True)),
    "cce_probs": (CategoricalCrossentropy(), keras.losses.CategoricalCrossentropy(), categorical_data((6, 4))),
    "cce_logits": (CategoricalCrossentropy(from_logits=True), keras.losses.CategoricalCrossentropy(from_logits=True),
                   categorical_data((6, 4), logits=True)),
    "cce_smoothing": (CategoricalCrossentropy(label_smoothing=0.1),
                      keras.losses.CategoricalCrossentropy(label_smoothing=0.1), categorical_data((6, 4))),
    "cce_logits_sequence": (CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
                            keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
                            categorical_data((6, 5, 4), logits=True)),
    "scce_probs": (SparseCategoricalCrossentropy(), keras.losses.SparseCategoricalCrossentropy(),
                   sparse_data((6, 4))),
    "scce_logits": (SparseCategoricalCrossentropy(from_logits=True),
                    keras.losses.SparseCategoricalCrossentropy(from_logits=True), sparse_data((6, 4), logits=True)),
    "scce_logits_sequence": (SparseCategoricalCrossentropy(from_logits=True),
                             keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                             sparse_data((6, 5, 4), logits=True)),
    "scce_ignore_class": (SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
                          keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
                          sparse_data((6, 5, 4), logits=True)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_loss_matches_keras(case):
    ours, theirs, (y_true, y_pred) = CASES[case]
    np.testing.assert_allclose(our_value(ours, y_true, y_pred), keras_value(theirs, y_true, y_pred), atol=ATOL)


@pytest.mark.parametrize("case", sorted(CASES))
def test_loss_with_per_sample_weights_matches_keras(case):
    ours, theirs, (y_true, y_pred) = CASES[case]
    per_sample_shape = y_pred.shape[:-1] if y_pred.shape[-1] > 1 else y_pred.shape[:1]
    weight = rng(1).random(per_sample_shape).astype("float32")
    np.testing.assert_allclose(
        our_value(ours, y_true, y_pred, weight), keras_value(theirs, y_true, y_pred, weight), atol=ATOL
    )


@pytest.mark.parametrize("reduction", ["sum", "none", "mean_with_sample_weight", "mean", None])
@pytest.mark.parametrize("case", ["mse_sequence", "bce_logits", "scce_logits_sequence", "scce_ignore_class"])
def test_reduction_matches_keras(case, reduction):
    _, _, (y_true, y_pred) = CASES[case]
    ours, theirs = type(CASES[case][0]), type(CASES[case][1])
    config = {k: v for k, v in CASES[case][0].get_config().items() if k not in ("name", "reduction")}
    weight = rng(2).random(y_pred.shape[:-1]).astype("float32")
    np.testing.assert_allclose(
        our_value(ours(**config, reduction=reduction), y_true, y_pred, weight),
        keras_value(theirs(**config, reduction=reduction), y_true, y_pred, weight),
        atol=ATOL,
    )


def test_batch_weights_apply_to_every_step_of_a_sequence():
    y_true, y_pred = sparse_data((6, 5, 4), logits=True)
    weight = rng(3).random(6).astype("float32")
    loss = SparseCategoricalCrossentropy(from_logits=True)
    np.testing.assert_allclose(
        our_value(loss, y_true, y_pred, weight),
        our_value(loss, y_true, y_pred, np.repeat(weight[:, None], 5, axis=1)),
        atol=ATOL,
    )


def test_scalar_sample_weight_scales_the_loss():
    y_true, y_pred = regression_data((6, 3))
    loss = MeanSquaredError()
    np.testing.assert_allclose(our_value(loss, y_true, y_pred, 2.5), 2.5 * our_value(loss, y_true, y_pred), rtol=1e-6)


def test_sparse_labels_of_shape_batch_and_batch_by_one_give_the_same_loss():
    y_true, y_pred = sparse_data((6, 4), logits=True)
    loss = SparseCategoricalCrossentropy(from_logits=True)
    np.testing.assert_allclose(our_value(loss, y_true, y_pred), our_value(loss, y_true[:, None], y_pred))


def test_binary_labels_of_shape_batch_match_predictions_of_shape_batch_by_one():
    y_true, y_pred = binary_data((6, 1))
    loss = BinaryCrossentropy()
    np.testing.assert_allclose(our_value(loss, y_true[:, 0], y_pred), our_value(loss, y_true, y_pred))


def test_sparse_equals_categorical_on_one_hot_labels():
    y_true, y_pred = sparse_data((6, 5, 4), logits=True)
    sparse = our_value(SparseCategoricalCrossentropy(from_logits=True), y_true, y_pred)
    dense = our_value(CategoricalCrossentropy(from_logits=True), np.eye(4, dtype="float32")[y_true], y_pred)
    np.testing.assert_allclose(sparse, dense, atol=ATOL)


def test_ignore_class_leaves_those_positions_out_of_the_mean():
    y_true, y_pred = sparse_data((6, 5, 4), logits=True)
    y_true[:, -2:] = -1  # padding
    per_position = SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1, reduction="none")
    values = our_value(per_position, y_true, y_pred)
    assert np.all(values[:, -2:] == 0)
    mean = our_value(SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1), y_true, y_pred)
    np.testing.assert_allclose(mean, values[:, :-2].mean(), atol=ATOL)


def test_loss_keeps_float64_inputs_in_float64():
    y_true, y_pred = regression_data((4, 3))
    y_true, y_pred = torch.as_tensor(y_true, dtype=torch.float64), torch.as_tensor(y_pred, dtype=torch.float64)
    value = MeanSquaredError()(y_true, y_pred)
    assert value.dtype == torch.float64


# -------------------------------------------------------------------------------------- numerics
EXTREME_LOGITS = torch.tensor([[-1e4, 0.0, 1e4], [3e3, -3e3, 50.0]])


@pytest.mark.parametrize("loss, y_true", [
    (BinaryCrossentropy(from_logits=True), torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])),
    (BinaryCrossentropy(from_logits=True, label_smoothing=0.1), torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])),
    (CategoricalCrossentropy(from_logits=True), torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])),
    (CategoricalCrossentropy(from_logits=True, label_smoothing=0.2), torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])),
    (SparseCategoricalCrossentropy(from_logits=True), torch.tensor([0, 1])),
], ids=["bce", "bce_smoothing", "cce", "cce_smoothing", "scce"])
def test_loss_and_gradient_are_finite_at_extreme_logits(loss, y_true):
    logits = EXTREME_LOGITS.clone().requires_grad_()
    value = loss(y_true, logits)
    value.backward()
    assert torch.isfinite(value) and value > 100  # confidently wrong costs a lot, but stays finite
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("loss, y_true", [
    (BinaryCrossentropy(), torch.tensor([[1.0, 0.0, 0.0]])),
    (CategoricalCrossentropy(), torch.tensor([[0.0, 1.0, 0.0]])),
    (SparseCategoricalCrossentropy(), torch.tensor([1])),
], ids=["bce", "cce", "scce"])
def test_probabilities_of_exactly_zero_and_one_are_clipped_like_keras(loss, y_true):
    probs = torch.tensor([[1.0, 0.0, 0.0]], requires_grad=True)
    value = loss(y_true, probs)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(probs.grad).all()
    keras_loss = getattr(keras.losses, type(loss).__name__)()
    np.testing.assert_allclose(value.detach().numpy(), keras_value(keras_loss, y_true.numpy(), probs.detach().numpy()),
                               rtol=1e-5)


# -------------------------------------------------------------------------------------- errors
def test_regression_loss_rejects_shapes_that_do_not_broadcast():
    with pytest.raises(
        ValueError, match=r"mean_squared_error: expected y_true of shape \(4, 5\).*got y_true of shape \(4, 3\)"
    ):
        MeanSquaredError()(torch.zeros(4, 3), torch.zeros(4, 5))


def test_binary_crossentropy_rejects_mismatched_shapes():
    with pytest.raises(
        ValueError, match=r"binary_crossentropy: expected y_true of shape \(4, 2\).*got y_true of shape \(4, 3\)"
    ):
        BinaryCrossentropy()(torch.zeros(4, 3), torch.full((4, 2), 0.5))


def test_categorical_crossentropy_rejects_integer_labels_and_points_to_the_sparse_loss():
    with pytest.raises(ValueError, match=r"expected y_true of shape \(4, 3\).*got y_true of shape \(4,\).*sparse"):
        CategoricalCrossentropy()(torch.zeros(4), torch.full((4, 3), 1 / 3))


def test_sparse_crossentropy_rejects_one_hot_labels_and_points_to_the_categorical_loss():
    with pytest.raises(
        ValueError,
        match=r"expected integer labels of shape \(4,\) or \(4, 1\).*got labels of shape \(4, 3\)"
        r".*categorical",
    ):
        SparseCategoricalCrossentropy()(torch.eye(3)[[0, 1, 2, 0]], torch.full((4, 3), 1 / 3))


def test_sparse_crossentropy_rejects_labels_of_the_wrong_sequence_shape():
    with pytest.raises(
        ValueError, match=r"expected integer labels of shape \(2, 5\) or \(2, 5, 1\).*got labels of shape \(2, 4\)"
    ):
        SparseCategoricalCrossentropy(from_logits=True)(torch.zeros(2, 4, dtype=torch.long), torch.zeros(2, 5, 3))


@pytest.mark.parametrize("bad_label", [3, 7, -1])
def test_sparse_crossentropy_rejects_labels_out_of_range(bad_label):
    labels = torch.tensor([0, 2, bad_label, 1])
    with pytest.raises(
        ValueError,
        match=rf"expected integer labels in \[0, 3\)"
        rf".*3 classes, got labels from {min(bad_label, 0)} to {max(bad_label, 2)}",
    ):
        SparseCategoricalCrossentropy(from_logits=True)(labels, torch.zeros(4, 3))


def test_sparse_crossentropy_accepts_an_ignore_class_outside_the_label_range():
    loss = SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    value = loss(torch.tensor([0, -1, 2]), torch.zeros(3, 3))
    np.testing.assert_allclose(value.item(), np.log(3), rtol=1e-6)


def test_loss_rejects_sample_weight_that_fits_no_axis():
    with pytest.raises(
        ValueError,
        match=r"mean_squared_error: expected sample_weight of shape \(4,\) or a scalar, got"
        r" sample_weight of shape \(3,\)",
    ):
        MeanSquaredError()(torch.zeros(4, 2), torch.zeros(4, 2), sample_weight=torch.ones(3))


def test_loss_rejects_unknown_reduction():
    with pytest.raises(ValueError, match=r"Expected reduction to be one of .* got 'avg'"):
        MeanSquaredError(reduction="avg")


def test_crossentropy_rejects_label_smoothing_outside_zero_one():
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\], got 1.5"):
        CategoricalCrossentropy(label_smoothing=1.5)


# -------------------------------------------------------------------------------------- lookup
@pytest.mark.parametrize("name, cls", [
    ("mse", MeanSquaredError), ("mean_squared_error", MeanSquaredError), ("MeanSquaredError", MeanSquaredError),
    ("mae", MeanAbsoluteError), ("mean_absolute_error", MeanAbsoluteError), ("mape", MeanAbsolutePercentageError),
    ("huber", Huber), ("Huber", Huber), ("binary_crossentropy", BinaryCrossentropy), ("bce", BinaryCrossentropy),
    ("categorical_crossentropy", CategoricalCrossentropy),
    ("sparse_categorical_crossentropy", SparseCategoricalCrossentropy),
])
def test_get_loss_resolves_keras_names(name, cls):
    assert type(get_loss(name)) is cls


def test_get_loss_returns_loss_objects_unchanged():
    loss = SparseCategoricalCrossentropy(from_logits=True)
    assert get_loss(loss) is loss


def test_get_loss_maps_the_per_sample_functions_to_their_classes():
    assert type(get_loss(losses.binary_crossentropy)) is BinaryCrossentropy


def test_get_loss_wraps_a_callable_with_the_default_reduction():
    def squared_log_error(y_true, y_pred):
        return (torch.log1p(y_pred) - torch.log1p(y_true)).square().mean(dim=-1)

    loss = get_loss(squared_log_error)
    y_true, y_pred = np.abs(regression_data((6, 3))[0]), np.abs(regression_data((6, 3), seed=1)[0])
    weight = rng(4).random(6).astype("float32")
    expected = keras_value(keras.losses.MeanSquaredLogarithmicError(), y_true, y_pred, weight)
    np.testing.assert_allclose(our_value(loss, y_true, y_pred, weight), expected, atol=ATOL)
    assert loss.name == "squared_log_error"


def test_get_loss_builds_a_loss_from_a_config_dict():
    loss = get_loss({"class_name": "CategoricalCrossentropy", "config": {"from_logits": True, "label_smoothing": 0.1}})
    assert isinstance(loss, CategoricalCrossentropy) and loss.from_logits and loss.label_smoothing == 0.1


@pytest.mark.parametrize("loss", [Huber(delta=0.5, reduction="sum"),
                                  SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
                                  BinaryCrossentropy(from_logits=True, label_smoothing=0.1)], ids=repr)
def test_get_config_round_trips_every_argument(loss):
    assert type(loss).from_config(loss.get_config()).get_config() == loss.get_config()


def test_get_loss_rejects_an_unknown_name_listing_close_matches():
    with pytest.raises(ValueError, match=r"Unknown loss 'mean_squared_eror'. Did you mean 'mean_squared_error'"):
        get_loss("mean_squared_eror")


def test_get_loss_rejects_something_that_is_not_a_loss():
    with pytest.raises(ValueError, match=r"Expected a loss name, a Loss, a config dict or a callable, got 3"):
        get_loss(3)


def test_docstring_examples_run():
    result = doctest.testmod(losses, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_divide_no_nan_of_a_cpu_scalar_read_on_the_host_equals_the_division_on_the_device():
    # A denominator that needs a gradient stays on the device; the same numbers must come out either way.
    torch.manual_seed(0)
    numerators, denominators = torch.randn(200) * 1e3, torch.cat([torch.rand(199) * 100, torch.zeros(1)])
    on_host = torch.stack([divide_no_nan(n, d) for n, d in zip(numerators, denominators)])
    on_device = torch.stack([divide_no_nan(n, d.clone().requires_grad_()) for n, d in zip(numerators, denominators)])
    assert torch.equal(on_host, on_device.detach()) and on_host[-1].item() == 0.0
