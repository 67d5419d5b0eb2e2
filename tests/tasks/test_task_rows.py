"""Sequences of image rows: scaling, splitting, the recipes, training, the report and its files."""
import json

import numpy as np
import pytest

import rnnkit
from rnnkit.tasks.rows import build_rows_model, plot_confusion_matrix, scale_images, split_last, train_rows


def striped_digits(count, seed=0):
    """Two classes of 6x5 images told apart by which half of the rows is bright."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    images = rng.integers(0, 40, (count, 6, 5)).astype(np.uint8)
    for image, label in zip(images, labels):
        image[:3] += 200 if label == 0 else 0
        image[3:] += 200 if label == 1 else 0
    return images, labels


def test_uint8_images_scale_by_255():
    scaled, scale = scale_images(np.array([[[0, 51, 255]]], np.uint8))
    assert scale == 255.0 and scaled.dtype == np.float32 and np.allclose(scaled, [[[0, 0.2, 1]]])


def test_other_images_scale_by_their_maximum_and_test_images_by_the_training_scale():
    _, scale = scale_images(np.array([[[0.0, 2.0], [4.0, 1.0]]]))
    scaled, _ = scale_images(np.array([[[2.0, 8.0]]]), scale)
    assert scale == 4.0 and scaled.tolist() == [[[0.5, 2.0]]]


@pytest.mark.parametrize("images, message", [
    (np.zeros((4, 28 * 28)), r"expected images of shape \(samples, rows, features\).*got shape \(4, 784\)"),
    (np.zeros((0, 28, 28)), "at least one image"),
    (-np.ones((1, 2, 2)), "non-negative"),
    (np.full((1, 2, 2), np.nan), "NaN or infinite"),
])
def test_bad_images_are_refused_saying_what_was_expected(images, message):
    with pytest.raises(ValueError, match=message):
        scale_images(images)


def test_split_last_keeps_file_order_and_holds_out_the_end():
    (x_train, y_train), (x_test, y_test) = split_last(np.arange(10), np.arange(10) * 2, 3)
    assert x_train.tolist() == list(range(7)) and x_test.tolist() == [7, 8, 9] and y_test.tolist() == [14, 16, 18]


def test_split_last_refuses_a_test_size_leaving_no_training_images():
    with pytest.raises(ValueError, match=r"in \[1, 9\], for 10 images, got 10"):
        split_last(np.arange(10), np.arange(10), 10)


def test_the_seed_recipe_is_simple_rnn_256_with_dropout_sgd_and_softmax():
    model = build_rows_model("simple_rnn", 28, 28, 10)
    recurrent, dense, softmax = model.layers
    assert type(recurrent).__name__ == "SimpleRNN" and recurrent.units == 256 and recurrent.dropout == 0.2
    assert dense.units == 10 and softmax.get_config()["activation"] == "softmax"
    assert model.count_params() == 28 * 256 + 256 * 256 + 256 + 256 * 10 + 10
    model.train_on_batch(np.zeros((2, 28, 28), np.float32), np.zeros(2, int))
    assert type(model.optimizer).__name__ == "SGD" and float(model.optimizer.learning_rate) == pytest.approx(0.03)


def test_the_lstm_recipe_uses_adam():
    model = build_rows_model("lstm", 28, 28, 10, learning_rate=0.002)
    assert type(model.layers[0]).__name__ == "LSTM" and model.layers[0].units == 128 and model.layers[0].dropout == 0.2
    model.train_on_batch(np.zeros((2, 28, 28), np.float32), np.zeros(2, int))
    assert type(model.optimizer).__name__ == "Adam" and float(model.optimizer.learning_rate) == pytest.approx(0.002)


@pytest.mark.parametrize("schedule, final_rate", [("cosine", 0.0), ("constant", 0.002)])
def test_the_learning_rate_decays_to_zero_over_the_run_unless_constant(schedule, final_rate):
    x, y = striped_digits(24)
    result = train_rows(x[:16], y[:16], x[16:], y[16:], recipe="lstm", epochs=2, batch_size=8, schedule=schedule,
                        verbose=0)
    assert result.metrics["schedule"] == schedule
    assert float(result.model.optimizer.learning_rate) == pytest.approx(final_rate, abs=1e-9)


def test_an_unknown_schedule_is_refused():
    x, y = striped_digits(4)
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'step'; choose from cosine, constant"):
        train_rows(x, y, x, y, schedule="step")


def test_an_unknown_recipe_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown model recipe 'gru'; choose from simple_rnn, lstm"):
        build_rows_model("gru", 28, 28, 10)


def test_training_learns_separable_rows_and_reports_per_class_and_confusion(tmp_path):
    x, y = striped_digits(96)
    result = train_rows(x[:64], y[:64], x[64:], y[64:], recipe="lstm", epochs=6, batch_size=16,
                        learning_rate=0.02, out=tmp_path, verbose=0)
    metrics = result.metrics
    assert metrics["test_accuracy"] == 1.0
    assert metrics["per_class_accuracy"] == {"0": 1.0, "1": 1.0}
    assert np.trace(metrics["confusion_matrix"]) == 32 and metrics["confusion_matrix"].sum() == 32
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [
        "confusion_matrix.png", "history.csv", "history.png", "metrics.json", "model.rnnkit"]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["test_accuracy"] == 1.0 and saved["train_samples"] == 64 and len(saved["confusion_matrix"]) == 2


def test_the_saved_model_carries_its_pixel_scale_and_labels_and_predicts_alone(tmp_path):
    x, y = striped_digits(48)
    result = train_rows(x[:32], y[:32], x[32:], y[32:], recipe="lstm", epochs=1, batch_size=16, out=tmp_path,
                        verbose=0)
    loaded = rnnkit.load_model(tmp_path / "model.rnnkit")
    assert loaded.assets == {"task": "rows", "recipe": "lstm", "rows": 6, "features": 5, "pixel_scale": 255.0,
                             "labels": ["0", "1"]}
    scaled = x[32:].astype(np.float32) / loaded.assets["pixel_scale"]
    np.testing.assert_allclose(loaded.predict(scaled, verbose=0), result.model.predict(scaled, verbose=0), atol=1e-6)


def test_test_labels_never_seen_in_training_are_refused():
    x, y = striped_digits(20)
    with pytest.raises(ValueError, match=r"test labels \[7\] never occur in the training labels"):
        train_rows(x[:10], np.zeros(10, int), x[10:], np.full(10, 7), epochs=1, verbose=0)


def test_labels_that_are_not_class_ids_are_refused():
    x, _ = striped_digits(20)
    with pytest.raises(ValueError, match="training labels must be integers from 0"):
        train_rows(x[:10], np.full(10, 0.5), x[10:], np.zeros(10, int), epochs=1, verbose=0)


def test_test_images_of_another_size_are_refused():
    x, y = striped_digits(20)
    with pytest.raises(ValueError, match="test images are 6x4 but training images are 6x5"):
        train_rows(x[:10], y[:10], x[10:, :, :4], y[10:], epochs=1, verbose=0)


def test_confusion_matrix_plot_is_a_png(tmp_path):
    path = plot_confusion_matrix(np.array([[5, 1], [0, 4]]), ["cat", "dog"], tmp_path / "c.png", title="t")
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
