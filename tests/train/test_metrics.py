"""Metrics: parity with Keras 3 over several batches (sample weights, sequence outputs), state handling,
the boundary errors, and name lookup with accuracy resolved from the loss."""
import os

os.environ["KERAS_BACKEND"] = "torch"

import doctest

import keras
import numpy as np
import pytest
import torch

from rnnkit.train import losses, metrics
from rnnkit.train.metrics import (
    AUC, Accuracy, BinaryAccuracy, CategoricalAccuracy, Mean, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanMetricWrapper, MeanSquaredError, Precision, Recall, RootMeanSquaredError, SparseCategoricalAccuracy,
    get_metric,
)

ATOL = 1e-5


def binary_batch(r, shape=(8, 1)):
    return (r.random(shape) > 0.5).astype("float32"), r.random(shape).astype("float32")


def one_hot_batch(r, shape=(8, 4)):
    return np.eye(shape[-1], dtype="float32")[r.integers(0, shape[-1], shape[:-1])], r.random(shape).astype("float32")


def sparse_batch(r, shape=(8, 4)):
    return r.integers(0, shape[-1], shape[:-1]), r.standard_normal(shape).astype("float32")


def regression_batch(r, shape=(8, 3)):
    return r.standard_normal(shape).astype("float32"), r.standard_normal(shape).astype("float32")


def exact_batch(r, shape=(8, 1)):
    return r.integers(0, 3, shape).astype("float32"), r.integers(0, 3, shape).astype("float32")


# (rnnkit metric factory, keras metric factory, batch maker, atol)
CASES = {
    "accuracy": (Accuracy, keras.metrics.Accuracy, exact_batch, ATOL),
    "binary_accuracy": (BinaryAccuracy, keras.metrics.BinaryAccuracy, binary_batch, ATOL),
    "binary_accuracy_threshold": (lambda: BinaryAccuracy(threshold=0.3),
                                  lambda: keras.metrics.BinaryAccuracy(threshold=0.3), binary_batch, ATOL),
    "categorical_accuracy": (CategoricalAccuracy, keras.metrics.CategoricalAccuracy, one_hot_batch, ATOL),
    "categorical_accuracy_sequence": (CategoricalAccuracy, keras.metrics.CategoricalAccuracy,
                                      lambda r: one_hot_batch(r, (8, 5, 4)), ATOL),
    "sparse_categorical_accuracy": (SparseCategoricalAccuracy, keras.metrics.SparseCategoricalAccuracy,
                                    sparse_batch, ATOL),
    "sparse_categorical_accuracy_sequence": (SparseCategoricalAccuracy, keras.metrics.SparseCategoricalAccuracy,
                                             lambda r: sparse_batch(r, (8, 5, 4)), ATOL),
    "mae": (MeanAbsoluteError, keras.metrics.MeanAbsoluteError, regression_batch, ATOL),
    "mse": (MeanSquaredError, keras.metrics.MeanSquaredError, regression_batch, ATOL),
    "mse_sequence": (MeanSquaredError, keras.metrics.MeanSquaredError, lambda r: regression_batch(r, (8, 5, 2)), ATOL),
    "rmse": (RootMeanSquaredError, keras.metrics.RootMeanSquaredError, regression_batch, ATOL),
    "mape": (MeanAbsolutePercentageError, keras.metrics.MeanAbsolutePercentageError, regression_batch, 1e-3),
    "precision": (Precision, keras.metrics.Precision, binary_batch, ATOL),
    "precision_thresholds": (lambda: Precision(thresholds=[0.2, 0.5, 0.9]),
                             lambda: keras.metrics.Precision(thresholds=[0.2, 0.5, 0.9]), binary_batch, ATOL),
    "precision_class_id": (lambda: Precision(class_id=2), lambda: keras.metrics.Precision(class_id=2),
                           one_hot_batch, ATOL),
    "recall": (Recall, keras.metrics.Recall, binary_batch, ATOL),
    "recall_multi_output": (Recall, keras.metrics.Recall, lambda r: binary_batch(r, (8, 3)), ATOL),
    "auc": (AUC, keras.metrics.AUC, binary_batch, 1e-3),
    "auc_few_thresholds": (lambda: AUC(num_thresholds=7), lambda: keras.metrics.AUC(num_thresholds=7),
                           binary_batch, 1e-3),
    "auc_pr": (lambda: AUC(curve="PR"), lambda: keras.metrics.AUC(curve="PR"), binary_batch, 1e-3),
    "auc_minoring": (lambda: AUC(summation_method="minoring"),
                     lambda: keras.metrics.AUC(summation_method="minoring"), binary_batch, 1e-3),
    "auc_from_logits": (lambda: AUC(from_logits=True), lambda: keras.metrics.AUC(from_logits=True),
                        lambda r: (binary_batch(r)[0], 3 * r.standard_normal((8, 1)).astype("float32")), 1e-3),
}


def run_both(case, weighted, batches=3, seed=0):
    make_ours, make_theirs, make_batch, _ = CASES[case]
    ours, theirs, r = make_ours(), make_theirs(), np.random.default_rng(seed)
    for _ in range(batches):
        y_true, y_pred = make_batch(r)
        weight = r.random(y_true.shape[:1]).astype("float32") if weighted else None
        ours.update_state(torch.as_tensor(y_true), torch.as_tensor(y_pred),
                          sample_weight=None if weight is None else torch.as_tensor(weight))
        theirs.update_state(y_true, y_pred, sample_weight=weight)
    return ours, theirs


@pytest.mark.parametrize("case", sorted(CASES))
def test_metric_matches_keras_over_several_batches(case):
    ours, theirs = run_both(case, weighted=False)
    np.testing.assert_allclose(ours.result().numpy(), keras.ops.convert_to_numpy(theirs.result()), atol=CASES[case][3])


@pytest.mark.parametrize("case", sorted(CASES))
def test_metric_with_sample_weights_matches_keras(case):
    ours, theirs = run_both(case, weighted=True)
    np.testing.assert_allclose(ours.result().numpy(), keras.ops.convert_to_numpy(theirs.result()), atol=CASES[case][3])


@pytest.mark.parametrize("case", ["mse_sequence", "sparse_categorical_accuracy_sequence"])
def test_per_step_weights_of_sequence_outputs_match_keras(case):
    make_ours, make_theirs, make_batch, atol = CASES[case]
    ours, theirs, r = make_ours(), make_theirs(), np.random.default_rng(5)
    for _ in range(2):
        y_true, y_pred = make_batch(r)
        weight = r.random(y_pred.shape[:2]).astype("float32")
        ours.update_state(torch.as_tensor(y_true), torch.as_tensor(y_pred), sample_weight=torch.as_tensor(weight))
        theirs.update_state(y_true, y_pred, sample_weight=weight)
    np.testing.assert_allclose(ours.result().numpy(), keras.ops.convert_to_numpy(theirs.result()), atol=atol)


def test_auc_matches_keras_on_a_large_random_problem():
    r = np.random.default_rng(7)
    y_true = (r.random(5000) > 0.3).astype("float32")
    y_pred = np.clip(0.5 * y_true + 0.6 * r.random(5000), 0, 1).astype("float32")
    ours, theirs = AUC(), keras.metrics.AUC()
    ours.update_state(torch.as_tensor(y_true), torch.as_tensor(y_pred))
    theirs.update_state(y_true, y_pred)
    np.testing.assert_allclose(ours.result().item(), keras.ops.convert_to_numpy(theirs.result()), atol=1e-3)


def test_mean_weighs_each_value_by_its_sample_weight():
    m = Mean()
    m.update_state(torch.tensor([1.0, 3.0, 5.0, 7.0]), sample_weight=torch.tensor([1.0, 1.0, 0.0, 0.0]))
    m.update_state(torch.tensor([[2.0, 4.0]]))
    assert m.result().item() == pytest.approx((1 + 3 + 3) / 3)


def test_mean_of_scalars_with_python_weights_equals_the_same_with_tensor_weights_bit_for_bit():
    # The loss tracker's form (a 0-d loss, the batch size as a float) has a shortcut; the general path decides.
    values, weights = torch.rand(20) * 7, [3.0, 0.1, 31.0, 1e-3] * 5
    shortcut, general = Mean(), Mean()
    for value, weight in zip(values, weights):
        shortcut.update_state(value, sample_weight=weight)
        general.update_state(value, sample_weight=torch.tensor(weight))
    assert shortcut.total.item() == general.total.item() and shortcut.count.item() == general.count.item()
    assert shortcut.result().item() == general.result().item()


def test_mean_metric_wrapper_averages_a_callable_per_sample():
    m = MeanMetricWrapper(lambda y_true, y_pred: (y_true - y_pred).abs(), name="abs_error")
    m.update_state(torch.tensor([[1.0, 3.0], [0.0, 0.0]]), torch.zeros(2, 2))
    assert m.result().item() == pytest.approx(1.0)


def test_result_is_zero_before_any_update():
    assert AUC().result().item() == 0 and Precision().result().item() == 0 and Mean().result().item() == 0


@pytest.mark.parametrize("case", ["binary_accuracy", "rmse", "precision_thresholds", "auc"])
def test_reset_state_starts_the_metric_over(case):
    used, _ = run_both(case, weighted=True)
    used.reset_state()
    fresh = CASES[case][0]()
    batch = [torch.as_tensor(a) for a in CASES[case][2](np.random.default_rng(9))]
    used.update_state(*batch)
    fresh.update_state(*batch)
    np.testing.assert_allclose(used.result().numpy(), fresh.result().numpy())


def test_update_does_not_track_gradients():
    y_pred = torch.rand(4, 3, requires_grad=True)
    m = MeanSquaredError()
    m.update_state(torch.zeros(4, 3), y_pred)
    assert not m.result().requires_grad and not m.total.requires_grad


def test_state_stays_a_float32_tensor_with_float64_inputs():
    m = AUC()
    m.update_state(torch.tensor([0.0, 1.0], dtype=torch.float64), torch.tensor([0.2, 0.9], dtype=torch.float64))
    assert m.true_positives.dtype == torch.float32 and m.result().dtype == torch.float32


def test_call_updates_and_returns_the_result():
    m = BinaryAccuracy()
    assert m(torch.tensor([1.0, 0.0]), torch.tensor([0.9, 0.8])).item() == pytest.approx(0.5)
    assert m(torch.tensor([1.0, 0.0]), torch.tensor([0.9, 0.1])).item() == pytest.approx(0.75)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("case", sorted(CASES))
def test_update_on_cuda_keeps_state_there_without_host_sync(case):
    make_ours, _, make_batch, _ = CASES[case]
    r, m = np.random.default_rng(0), make_ours()
    batches = [[torch.as_tensor(a, device="cuda") for a in make_batch(r)] for _ in range(3)]
    weight = torch.rand(8, device="cuda")
    m.update_state(*batches[0], sample_weight=weight)  # first update moves the state to the device
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for y_true, y_pred in batches[1:]:
            m.update_state(y_true, y_pred, sample_weight=weight)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert m.result().device.type == "cuda"


# -------------------------------------------------------------------------------------- errors
def test_categorical_accuracy_rejects_integer_labels_and_points_to_the_sparse_metric():
    with pytest.raises(
        ValueError, match=r"categorical_accuracy: expected y_true of shape \(4, 3\).*got y_true of shape \(4,\).*sparse"
    ):
        CategoricalAccuracy().update_state(torch.zeros(4), torch.rand(4, 3))


def test_sparse_categorical_accuracy_rejects_labels_of_the_wrong_shape():
    with pytest.raises(
        ValueError, match=r"expected integer labels of shape \(2, 5\) or \(2, 5, 1\).*got labels of shape \(2, 4\)"
    ):
        SparseCategoricalAccuracy().update_state(torch.zeros(2, 4), torch.rand(2, 5, 3))


def test_regression_metric_rejects_shapes_that_do_not_broadcast():
    with pytest.raises(
        ValueError, match=r"mean_squared_error: expected y_true of shape \(4, 5\).*got y_true of shape \(4, 3\)"
    ):
        MeanSquaredError().update_state(torch.zeros(4, 3), torch.zeros(4, 5))


def test_precision_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"precision: expected y_true of shape \(4, 2\).*got y_true of shape \(4, 3\)"):
        Precision().update_state(torch.zeros(4, 3), torch.rand(4, 2))


def test_mean_rejects_sample_weight_that_fits_no_axis():
    with pytest.raises(
        ValueError,
        match=r"binary_accuracy: expected sample_weight of shape \(4, 1\), \(4,\) or a scalar, got"
        r" sample_weight of shape \(3,\)",
    ):
        BinaryAccuracy().update_state(torch.zeros(4, 1), torch.rand(4, 1), sample_weight=torch.ones(3))


def test_auc_rejects_sample_weight_that_fits_no_axis():
    with pytest.raises(
        ValueError,
        match=r"auc: expected sample_weight of shape \(4, 2\), \(4,\) or a scalar, got sample_weight"
        r" of shape \(3,\)",
    ):
        AUC().update_state(torch.zeros(4, 2), torch.rand(4, 2), sample_weight=torch.ones(3))


@pytest.mark.parametrize("thresholds", [1.5, [0.2, -0.1], []])
def test_precision_rejects_thresholds_outside_zero_one(thresholds):
    with pytest.raises(ValueError, match=r"precision: expected thresholds in \[0, 1\]"):
        Precision(thresholds=thresholds)


def test_recall_rejects_a_class_id_beyond_the_classes():
    with pytest.raises(
        ValueError,
        match=r"recall: class_id=3 needs y_pred of shape \(batch, classes\) with more than 3 classes,"
        r" got y_pred of shape \(4, 3\)",
    ):
        Recall(class_id=3).update_state(torch.zeros(4, 3), torch.rand(4, 3))


@pytest.mark.parametrize("kwargs, message", [
    ({"num_thresholds": 1}, r"num_thresholds must be an integer > 1, got 1"),
    ({"curve": "PRGAIN"}, r"expected curve 'ROC' or 'PR', got 'PRGAIN'"),
    ({"summation_method": "simpson"}, r"expected summation_method .* got 'simpson'"),
])
def test_auc_rejects_unsupported_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AUC(**kwargs)


# -------------------------------------------------------------------------------------- lookup
@pytest.mark.parametrize("loss, cls", [
    ("binary_crossentropy", BinaryAccuracy), ("bce", BinaryAccuracy),
    (losses.BinaryCrossentropy(), BinaryAccuracy), (losses.binary_crossentropy, BinaryAccuracy),
    ("categorical_crossentropy", CategoricalAccuracy),
    (losses.CategoricalCrossentropy(from_logits=True), CategoricalAccuracy),
    ("sparse_categorical_crossentropy", SparseCategoricalAccuracy),
    (losses.SparseCategoricalCrossentropy(from_logits=True), SparseCategoricalAccuracy),
    ("mse", Accuracy), (None, Accuracy), (lambda y_true, y_pred: (y_true - y_pred).abs(), Accuracy),
])
@pytest.mark.parametrize("name", ["accuracy", "acc"])
def test_accuracy_kind_follows_the_loss(name, loss, cls):
    metric = get_metric(name, loss=loss)
    assert type(metric) is cls and metric.name == name


def test_accuracy_for_binary_crossentropy_on_logits_thresholds_at_zero():
    metric = get_metric("accuracy", loss=losses.BinaryCrossentropy(from_logits=True))
    metric.update_state(torch.tensor([1.0, 0.0, 1.0]), torch.tensor([0.2, -0.3, -2.0]))
    assert metric.threshold == 0.0
    assert metric.result().item() == pytest.approx(2 / 3)


@pytest.mark.parametrize("name, cls", [
    ("mae", MeanAbsoluteError), ("mse", MeanSquaredError), ("rmse", RootMeanSquaredError),
    ("mape", MeanAbsolutePercentageError), ("precision", Precision), ("recall", Recall), ("auc", AUC),
    ("AUC", AUC), ("binary_accuracy", BinaryAccuracy), ("mean_absolute_error", MeanAbsoluteError),
    ("RootMeanSquaredError", RootMeanSquaredError),
])
def test_get_metric_resolves_keras_names_and_names_the_metric_by_them(name, cls):
    metric = get_metric(name)
    assert type(metric) is cls and metric.name == name


def test_get_metric_returns_metric_objects_unchanged():
    metric = AUC(curve="PR")
    assert get_metric(metric) is metric


def test_get_metric_wraps_a_callable_in_a_mean():
    def max_error(y_true, y_pred):
        return (y_true - y_pred).abs().amax(dim=-1)

    metric = get_metric(max_error)
    metric.update_state(torch.tensor([[1.0, 3.0], [0.0, 1.0]]), torch.zeros(2, 2))
    assert metric.name == "max_error" and metric.result().item() == pytest.approx(2.0)


def test_get_metric_rejects_an_unknown_name_listing_close_matches():
    with pytest.raises(ValueError, match=r"Unknown metric 'precison'. Did you mean 'precision'"):
        get_metric("precison")


def test_get_metric_rejects_something_that_is_not_a_metric():
    with pytest.raises(ValueError, match=r"Expected a metric name, a Metric or a callable, got 3"):
        get_metric(3)


@pytest.mark.parametrize("metric", [Precision(thresholds=[0.3, 0.7], class_id=1, name="p"), AUC(50, curve="PR"),
                                    BinaryAccuracy(threshold=0.2)], ids=repr)
def test_get_config_round_trips_every_argument(metric):
    assert type(metric).from_config(metric.get_config()).get_config() == metric.get_config()


def test_docstring_examples_run():
    result = doctest.testmod(metrics, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
