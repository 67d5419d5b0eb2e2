"""compile / fit / evaluate / predict on rnnkit models, against Keras where Keras defines the numbers."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import rnnkit  # noqa: E402
from rnnkit import layers  # noqa: E402
from rnnkit.utils import set_random_seed  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.standard_normal((96, 6, 3)).astype("float32")
Y_CLASS = RNG.integers(0, 4, size=96)
Y_REG = RNG.standard_normal((96, 1)).astype("float32")


def classifier(seed=0, **rnn_kwargs):
    set_random_seed(seed)
    return rnnkit.Sequential([rnnkit.Input((6, 3)), layers.GRU(8, **rnn_kwargs), layers.Dense(4)])


def test_fit_matches_keras_fit_weights_after_one_epoch_of_sgd():
    ours = rnnkit.Sequential([rnnkit.Input((6, 3)), layers.LSTM(5), layers.Dense(1)])
    theirs = keras.Sequential([keras.Input((6, 3)), keras.layers.LSTM(5), keras.layers.Dense(1)])
    ours.set_weights(theirs.get_weights())
    ours.compile(optimizer=rnnkit.optimizers.SGD(learning_rate=0.1), loss="mse")
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    h_ours = ours.fit(X, Y_REG, batch_size=16, epochs=2, shuffle=False, verbose=0)
    h_theirs = theirs.fit(X, Y_REG, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=2e-5)
    np.testing.assert_allclose(h_ours.history["loss"], h_theirs.history["loss"], rtol=1e-4)


def test_fit_reduces_the_loss_and_records_metrics_and_validation_in_history():
    model = classifier()
    model.compile(optimizer="adam", loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(X, Y_CLASS, epochs=8, batch_size=16, validation_split=0.25, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["loss"]) == 8 and history.history["loss"][-1] < history.history["loss"][0]


def test_evaluate_returns_loss_and_metrics_as_list_or_dict():
    model = classifier()
    model.compile(optimizer="sgd", loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    loss, accuracy = model.evaluate(X, Y_CLASS, verbose=0)
    assert model.evaluate(X, Y_CLASS, verbose=0, return_dict=True) == pytest.approx({"loss": loss, "accuracy": accuracy})
    logits = torch.as_tensor(model.predict(X, verbose=0))
    expected = torch.nn.functional.cross_entropy(logits, torch.as_tensor(Y_CLASS)).item()
    assert loss == pytest.approx(expected, rel=1e-5)
    assert accuracy == pytest.approx((logits.argmax(1).numpy() == Y_CLASS).mean())


def test_predict_returns_numpy_equal_to_one_big_batch():
    model = classifier()
    batched = model.predict(X, batch_size=7, verbose=0)
    assert isinstance(batched, np.ndarray) and batched.shape == (96, 4)
    np.testing.assert_allclose(batched, model.predict_on_batch(X), atol=1e-6)


def test_train_on_batch_and_test_on_batch_report_the_batch_loss():
    model = classifier()
    model.compile(optimizer="adam", loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True))
    first = model.test_on_batch(X[:16], Y_CLASS[:16])
    for _ in range(20):
        model.train_on_batch(X[:16], Y_CLASS[:16])
    assert model.test_on_batch(X[:16], Y_CLASS[:16]) < first


def test_sample_weight_zero_removes_samples_from_the_loss():
    model = classifier()
    model.compile(optimizer="sgd", loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True))
    weights = np.zeros(96, dtype="float32")
    weights[:48] = 1.0
    weighted = model.evaluate(X, Y_CLASS, sample_weight=weights, verbose=0)
    # Keras's sum_over_batch_size divides by every sample, weighted or not.
    half = model.evaluate(X[:48], Y_CLASS[:48], verbose=0)
    assert weighted == pytest.approx(half / 2, rel=1e-5)


def test_class_weight_scales_the_loss_of_a_class():
    model = classifier()
    model.compile(optimizer=rnnkit.optimizers.SGD(learning_rate=0.0), loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True))
    plain = model.fit(X, Y_CLASS, epochs=1, batch_size=96, shuffle=False, verbose=0).history["loss"][0]
    doubled = model.fit(X, Y_CLASS, epochs=1, batch_size=96, shuffle=False, verbose=0,
                        class_weight={0: 2.0, 1: 2.0, 2: 2.0, 3: 2.0}).history["loss"][0]
    assert doubled == pytest.approx(2 * plain, rel=1e-5)


def test_fit_accepts_a_generator_and_a_dataloader():
    model = classifier()
    model.compile(optimizer="adam", loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True))

    def batches():
        while True:
            for i in range(0, 96, 32):
                yield X[i : i + 32], Y_CLASS[i : i + 32]

    assert len(model.fit(batches(), steps_per_epoch=3, epochs=2, verbose=0).history["loss"]) == 2
    dataset = torch.utils.data.TensorDataset(torch.tensor(X), torch.tensor(Y_CLASS))
    loader = torch.utils.data.DataLoader(dataset, batch_size=32)
    assert len(model.fit(loader, epochs=2, verbose=0).history["loss"]) == 2
    assert model.predict(torch.utils.data.DataLoader(torch.tensor(X), batch_size=40), verbose=0).shape == (96, 4)


def test_two_runs_with_the_same_seed_train_to_identical_weights():
    def run():
        model = classifier(seed=3, dropout=0.2)
        model.compile(optimizer="adam", loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(X, Y_CLASS, epochs=2, batch_size=16, verbose=0)
        return model.get_weights()

    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


def test_regularization_penalties_are_part_of_the_training_loss():
    set_random_seed(0)
    model = rnnkit.Sequential([rnnkit.Input((6, 3)), layers.GRU(8, kernel_regularizer=rnnkit.regularizers.L2(1.0)), layers.Dense(1)])
    model.compile(optimizer=rnnkit.optimizers.SGD(learning_rate=0.0), loss="mse")
    with_penalty = model.evaluate(X, Y_REG, verbose=0)
    plain = float(np.mean((model.predict(X, verbose=0) - Y_REG) ** 2))
    penalty = float(sum(p.detach() for p in model.losses))
    assert with_penalty == pytest.approx(plain + penalty, rel=1e-4)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda m: m.fit(X, Y_CLASS[:50], verbose=0), "same number of samples"),
        (lambda m: m.fit(X, Y_CLASS, batch_size=0, verbose=0), "batch_size must be a positive integer"),
        (lambda m: m.fit(X, Y_CLASS, validation_split=1.5, verbose=0), r"validation_split must be in \(0, 1\)"),
        (lambda m: m.fit(np.where(np.arange(96)[:, None, None] == 5, np.nan, X), Y_CLASS, verbose=0), "NaN or inf .*sample 5"),
        (lambda m: m.fit(X[:0], Y_CLASS[:0], verbose=0), "empty"),
    ],
)
def test_bad_training_input_raises_a_clear_error(call, match):
    model = classifier()
    model.compile(optimizer="adam", loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises(ValueError, match=match):
        call(model)


def test_fit_before_compile_says_to_compile():
    with pytest.raises(ValueError, match="compile"):
        classifier().fit(X, Y_CLASS, verbose=0)


def test_unknown_loss_and_optimizer_names_suggest_close_ones():
    model = classifier()
    with pytest.raises(ValueError, match="mse"):
        model.compile(optimizer="adam", loss="mes")
        model.fit(X, Y_REG, verbose=0)
    with pytest.raises(ValueError, match="adam"):
        model.compile(optimizer="adamm", loss="mse")
        model.fit(X, Y_REG, verbose=0)
