"""Keras export: rnnkit models saved as `.keras` / `.weights.h5` files and read by Keras 3 itself.

Every rnnkit model has its weights randomised (so that biases and gates are off their initial
values); Keras's predictions from the file are compared with rnnkit's to 1e-5."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

import rnnkit  # noqa: E402
from keras_files import features, randomise  # noqa: E402
from rnnkit import layers as R  # noqa: E402
from rnnkit.io import save_keras  # noqa: E402

K = keras.layers
ATOL = 1e-5


def keras_reads_it_alike(ours, tmp_path, x):
    path = tmp_path / "model.keras"
    ours.save(path)
    theirs = keras.saving.load_model(path)
    np.testing.assert_allclose(theirs.predict(x, verbose=0), ours.predict(x, verbose=0), atol=ATOL, rtol=0)
    return theirs


def sequential(*layers, steps=5, channels=3):
    return randomise(rnnkit.Sequential([R.Input((steps, channels)), *layers]))


# ------------------------------------------------------------------------------------------ models
@pytest.mark.parametrize("recurrent", [
    lambda: R.LSTM(4),
    lambda: R.GRU(4, reset_after=True),
    lambda: R.SimpleRNN(4),
    lambda: R.Bidirectional(R.LSTM(4)),
], ids=["lstm", "gru_reset_after", "simple_rnn", "bidirectional_lstm"])
def test_sequential_recurrent_model_is_read_by_keras_with_equal_predictions(tmp_path, recurrent):
    ours = sequential(recurrent(), R.Dense(2))
    keras_reads_it_alike(ours, tmp_path, features(3, 5, 3))


def test_stacked_return_sequences_model_is_read_by_keras_with_equal_predictions(tmp_path):
    ours = sequential(R.LSTM(4, return_sequences=True), R.GRU(3, return_sequences=True), R.TimeDistributed(R.Dense(2)))
    keras_reads_it_alike(ours, tmp_path, features(3, 5, 3))


def test_functional_embedding_mask_zero_lstm_is_read_by_keras_with_equal_predictions(tmp_path):
    ids = R.Input((None,), dtype="int32")
    outputs = R.Dense(2)(R.LSTM(4)(R.Embedding(12, 3, mask_zero=True)(ids)))
    ours = randomise(rnnkit.Model(ids, outputs))
    x = np.random.default_rng(1).integers(1, 12, size=(3, 6))
    x[0, 4:] = 0
    x[2, 2:] = 0
    keras_reads_it_alike(ours, tmp_path, x)


def test_functional_model_of_the_other_shared_layers_is_read_by_keras_with_equal_predictions(tmp_path):
    inputs = R.Input((5, 3))
    masked = R.BatchNormalization()(R.Dropout(0.2)(R.Masking(0.0)(inputs)))
    stacked = R.RNN(R.StackedRNNCells([R.LSTMCell(4), R.GRUCell(4)]))(masked)
    encoded = rnnkit.Sequential([R.Input((5, 3)), R.SimpleRNN(4)])(inputs)
    repeated = R.RepeatVector(2)(R.Add()([stacked, encoded]))
    outputs = R.Dense(2)(R.Flatten()(R.Activation("relu")(R.Concatenate()([repeated, repeated]))))
    ours = rnnkit.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    # Positive values keep BatchNormalization's moving variance a variance.
    ours.set_weights([np.abs(rng.normal(scale=0.5, size=w.shape)).astype(w.dtype) + 0.1 for w in ours.get_weights()])
    x = features(3, 5, 3)
    x[0, 3:] = 0.0
    keras_reads_it_alike(ours, tmp_path, x)


def test_keras_file_round_trips_through_rnnkit_load_model(tmp_path):
    ours = sequential(R.GRU(4, return_sequences=True), R.LayerNormalization(), R.Flatten(), R.Dense(2))
    ours.save(tmp_path / "model.keras")
    x = features(2, 5, 3)
    for load in (rnnkit.load_model, rnnkit.models.load_model, rnnkit.saving.load_model):
        back = load(tmp_path / "model.keras")
        assert [type(layer) for layer in back.layers] == [type(layer) for layer in ours.layers]
        np.testing.assert_allclose(back.predict(x, verbose=0), ours.predict(x, verbose=0), atol=ATOL, rtol=0)


def test_save_weights_h5_loads_into_a_keras_model_of_the_same_architecture(tmp_path):
    ours = sequential(R.Bidirectional(R.GRU(4, return_sequences=True)), R.LSTM(3), R.Dense(2))
    ours.save_weights(tmp_path / "model.weights.h5")
    theirs = keras.Sequential([keras.Input((5, 3)), K.Bidirectional(K.GRU(4, return_sequences=True)), K.LSTM(3),
                               K.Dense(2)])
    theirs.load_weights(tmp_path / "model.weights.h5")
    x = features(3, 5, 3)
    np.testing.assert_allclose(theirs.predict(x, verbose=0), ours.predict(x, verbose=0), atol=ATOL, rtol=0)


# ------------------------------------------------------------------------------------------ refusals
def test_rnnkit_only_layer_is_refused_naming_it_and_suggesting_rnnkit_files(tmp_path):
    ours = sequential(R.LSTM(4), R.Operation("square", name="squared"), R.Dense(2))
    with pytest.raises(ValueError, match=r"'squared' \(Operation\).*model.save\('x.rnnkit'\)"):
        ours.save(tmp_path / "model.keras")
    assert not (tmp_path / "model.keras").exists()


def test_custom_registered_layer_is_refused_naming_its_registered_name(tmp_path):
    @rnnkit.saving.register_keras_serializable("export_test")
    class Scale(R.Dense):
        pass

    ours = sequential(R.LSTM(4), Scale(2, name="scale"))
    with pytest.raises(ValueError, match=r"'scale' \(export_test>Scale\)"):
        save_keras(ours, tmp_path / "model.keras")


def test_keras_save_with_optimizer_is_refused_pointing_to_rnnkit_files(tmp_path):
    ours = sequential(R.LSTM(4))
    with pytest.raises(ValueError, match="include_optimizer.*'.rnnkit'"):
        ours.save(tmp_path / "model.keras", include_optimizer=True)


def test_unbuilt_model_is_refused_asking_to_build_it(tmp_path):
    with pytest.raises(ValueError, match="not built.*give it an Input"):
        rnnkit.Sequential([R.LSTM(3)]).save(tmp_path / "model.keras")
