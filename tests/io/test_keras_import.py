"""Keras import: `.keras` files and `.weights.h5` files written by Keras 3 itself, loaded into rnnkit.

Every model is built and saved by Keras in the test, with its weights randomised (so that biases
and forget gates are not at their initial values), and rnnkit's predictions are compared with
Keras's to 1e-5."""
import json
import os
import zipfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

import rnnkit  # noqa: E402
from keras_files import features, randomise  # noqa: E402
from rnnkit import layers as R  # noqa: E402
from rnnkit.io import load_keras, load_keras_weights  # noqa: E402

K = keras.layers
ATOL = 1e-5


def saved(model, tmp_path, name="model.keras"):
    path = tmp_path / name
    model.save(path)
    return path


def token_ids(batch, steps, vocab, seed=0, pad_from=None):
    ids = np.random.default_rng(seed).integers(1, vocab, size=(batch, steps))
    if pad_from is not None:
        for row, start in enumerate(pad_from):
            ids[row, start:] = 0
    return ids


def assert_predicts_like(keras_model, ours, x):
    expected = keras_model.predict(x, verbose=0)
    got = ours.predict(x, verbose=0)
    for e, g in zip(expected if isinstance(expected, list) else [expected], got if isinstance(got, list) else [got]):
        np.testing.assert_allclose(g, e, atol=ATOL, rtol=0)


def rewrite_member(path, member, edit):
    """A copy of the .keras file at `path` whose `member` was replaced by `edit(its bytes)`."""
    target = path.with_name("edited_" + path.name)
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w") as out:
        for item in source.infolist():
            data = source.read(item)
            out.writestr(item, edit(data) if item.filename == member else data)
    return target


def rewrite_config(path, edit):
    """A copy of the .keras file at `path` whose config.json was changed by `edit(config)`."""

    def edit_json(data):
        config = json.loads(data)
        edit(config)
        return json.dumps(config)

    return rewrite_member(path, "config.json", edit_json)


# ------------------------------------------------------------------------------------------ models
def test_sequential_embedding_gru_dense_predicts_like_keras(tmp_path):
    model = randomise(keras.Sequential([keras.Input((None,), dtype="int32"), K.Embedding(30, 8), K.GRU(6), K.Dense(4)]))
    ours = load_keras(saved(model, tmp_path))
    assert isinstance(ours, rnnkit.Sequential)
    assert_predicts_like(model, ours, token_ids(5, 7, 30))


def test_stacked_lstm_and_simple_rnn_predict_like_keras(tmp_path):
    model = randomise(keras.Sequential([
        keras.Input((6, 4)),
        K.LSTM(5, return_sequences=True),
        K.SimpleRNN(4, return_sequences=True),
        K.LSTM(3, return_sequences=True),
        K.SimpleRNN(2),
    ]))
    ours = load_keras(saved(model, tmp_path))
    assert [type(layer).__name__ for layer in ours.layers] == ["LSTM", "SimpleRNN", "LSTM", "SimpleRNN"]
    assert_predicts_like(model, ours, features(3, 6, 4))


def test_bidirectional_lstm_with_mask_zero_predicts_like_keras(tmp_path):
    model = randomise(keras.Sequential([
        keras.Input((None,), dtype="int32"),
        K.Embedding(40, 8, mask_zero=True),
        K.Bidirectional(K.LSTM(5, return_sequences=True)),
        K.Bidirectional(K.GRU(3)),
        K.Dense(2),
    ]))
    ours = load_keras(saved(model, tmp_path))
    assert_predicts_like(model, ours, token_ids(4, 9, 40, pad_from=[9, 6, 3, 1]))


def test_functional_encoder_decoder_with_initial_state_predicts_like_keras(tmp_path):
    encoder_inputs, decoder_inputs = keras.Input((None,), dtype="int32"), keras.Input((None,), dtype="int32")
    _, state_h, state_c = K.LSTM(6, return_state=True)(K.Embedding(50, 8)(encoder_inputs))
    decoded = K.LSTM(6)(K.Embedding(60, 8)(decoder_inputs), initial_state=[state_h, state_c])
    model = randomise(keras.Model([encoder_inputs, decoder_inputs], K.Dense(5)(decoded)))
    ours = load_keras(saved(model, tmp_path))
    assert isinstance(ours, rnnkit.Model)
    assert_predicts_like(model, ours, [token_ids(4, 7, 50, seed=1), token_ids(4, 5, 60, seed=2)])


def test_model_with_dropout_predicts_like_keras(tmp_path):
    model = randomise(keras.Sequential([
        keras.Input((5, 3)), K.LSTM(6, return_sequences=True, dropout=0.2, recurrent_dropout=0.1),
        K.Dropout(0.5), K.GRU(4), K.Dropout(0.3), K.Dense(2, activation="tanh"),
    ]))
    ours = load_keras(saved(model, tmp_path))
    assert [type(layer).__name__ for layer in ours.layers].count("Dropout") == 2
    assert_predicts_like(model, ours, features(4, 5, 3))


def test_rnn_over_stacked_cells_and_time_distributed_predict_like_keras(tmp_path):
    model = randomise(keras.Sequential([
        keras.Input((6, 3)),
        K.RNN([K.LSTMCell(5), K.GRUCell(4), K.SimpleRNNCell(3)], return_sequences=True),
        K.TimeDistributed(K.Dense(2)),
    ]))
    ours = load_keras(saved(model, tmp_path))
    assert_predicts_like(model, ours, features(2, 6, 3))


def test_model_nested_in_a_functional_model_predicts_like_keras(tmp_path):
    head = keras.Sequential([keras.Input((4,)), K.Dense(3, activation="relu"), K.Dense(2)], name="head")
    inputs = keras.Input((5, 3))
    model = randomise(keras.Model(inputs, head(K.LSTM(4)(inputs))))
    ours = load_keras(saved(model, tmp_path))
    assert_predicts_like(model, ours, features(3, 5, 3))


def test_loaded_layers_keep_keras_names_classes_and_configs(tmp_path):
    model = keras.Sequential([keras.Input((None, 3)), K.GRU(4, return_sequences=True, name="encoder"),
                              K.Dense(2, activation="sigmoid", name="head")])
    ours = load_keras(saved(model, tmp_path))
    assert [(layer.name, type(layer).__name__) for layer in ours.layers] == [("encoder", "GRU"), ("head", "Dense")]
    assert ours.get_layer("encoder").return_sequences is True
    assert ours.count_params() == model.count_params()


def test_weights_are_found_by_class_position_not_by_layer_name(tmp_path):
    # Keras stores layers under layers/<class>_<n>, in model order; names that sort the other way must not matter.
    model = randomise(keras.Sequential([keras.Input((4, 3)), K.LSTM(5, return_sequences=True, name="zz"),
                                        K.LSTM(2, name="aa")]))
    ours = load_keras(saved(model, tmp_path))
    assert_predicts_like(model, ours, features(2, 4, 3))


# --------------------------------------------------------------------------------- weights files
def test_load_keras_weights_reads_save_weights_into_a_model_with_other_names(tmp_path):
    model = randomise(keras.Sequential([keras.Input((None,), dtype="int32"), K.Embedding(30, 8, mask_zero=True),
                                        K.Bidirectional(K.LSTM(5)), K.Dense(3)]))
    path = tmp_path / "model.weights.h5"
    model.save_weights(path)
    ours = rnnkit.Sequential([rnnkit.Input((None,), dtype="int32"), R.Embedding(30, 8, mask_zero=True, name="tokens"),
                              R.Bidirectional(R.LSTM(5)), R.Dense(3, name="logits")])
    assert load_keras_weights(ours, path) is ours
    assert_predicts_like(model, ours, token_ids(4, 6, 30, pad_from=[6, 2, 4, 1]))


def test_load_keras_weights_reads_a_functional_encoder_decoder_built_in_rnnkit(tmp_path):
    def encoder_decoder(lib, layers):
        encoder_inputs, decoder_inputs = lib.Input((None,), dtype="int32"), lib.Input((None,), dtype="int32")
        _, state_h, state_c = layers.LSTM(6, return_state=True)(layers.Embedding(50, 8)(encoder_inputs))
        decoded = layers.LSTM(6)(layers.Embedding(60, 8)(decoder_inputs), initial_state=[state_h, state_c])
        return lib.Model([encoder_inputs, decoder_inputs], layers.Dense(5)(decoded))

    model = randomise(encoder_decoder(keras, K))
    path = tmp_path / "model.weights.h5"
    model.save_weights(path)
    ours = load_keras_weights(encoder_decoder(rnnkit, R), path)
    assert_predicts_like(model, ours, [token_ids(3, 7, 50, seed=1), token_ids(3, 4, 60, seed=2)])


def test_load_keras_weights_refuses_another_architecture_naming_the_layer(tmp_path):
    model = keras.Sequential([keras.Input((4, 3)), K.GRU(5), K.Dense(2)])
    path = tmp_path / "model.weights.h5"
    model.save_weights(path)
    ours = rnnkit.Sequential([rnnkit.Input((4, 3)), R.GRU(6, name="wide_gru"), R.Dense(2)])
    with pytest.raises(ValueError, match="wide_gru"):
        load_keras_weights(ours, path)


def test_load_keras_weights_refuses_a_file_with_layers_the_model_lacks(tmp_path):
    model = keras.Sequential([keras.Input((4, 3)), K.GRU(5), K.Dense(2), K.Dense(2)])
    path = tmp_path / "model.weights.h5"
    model.save_weights(path)
    ours = rnnkit.Sequential([rnnkit.Input((4, 3)), R.GRU(5), R.Dense(2)])
    with pytest.raises(ValueError, match="does not have.*layers/dense_1"):
        load_keras_weights(ours, path)


def test_load_keras_refuses_truncated_weights_naming_the_file(tmp_path):
    path = saved(keras.Sequential([keras.Input((3,)), K.Dense(2)]), tmp_path)
    broken = rewrite_member(path, "model.weights.h5", lambda data: data[: len(data) // 2])
    with pytest.raises(ValueError, match="model.weights.h5.*not a readable HDF5 file"):
        load_keras(broken)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.keras"):
        load_keras(tmp_path / "nothing.keras")


def test_load_keras_refuses_a_weights_file_pointing_to_load_keras_weights(tmp_path):
    model = keras.Sequential([keras.Input((3,)), K.Dense(2)])
    path = tmp_path / "model.weights.h5"
    model.save_weights(path)
    with pytest.raises(ValueError, match="load_keras_weights"):
        load_keras(path)


def test_load_keras_refuses_a_file_that_is_not_a_keras_archive(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="not a Keras .keras file"):
        load_keras(path)


# ----------------------------------------------------------------------------- code and classes
def lambda_model(tmp_path):
    model = keras.Sequential([keras.Input((3,)), K.Dense(2), K.Lambda(lambda x: x * 2, name="times_two")])
    return saved(model, tmp_path)


def test_lambda_layer_is_refused_in_safe_mode_naming_the_layer(tmp_path):
    with pytest.raises(ValueError, match=r"layer 'times_two' \(Lambda\) carries Python code.*safe_mode=False"):
        load_keras(lambda_model(tmp_path))


def test_lambda_layer_without_safe_mode_is_refused_as_an_unsupported_class(tmp_path):
    with pytest.raises(ValueError, match=r"'Lambda' \(layer 'times_two'\).*no Lambda layer"):
        load_keras(lambda_model(tmp_path), safe_mode=False)


def test_function_payload_in_a_layer_config_is_refused_in_safe_mode(tmp_path):
    path = saved(keras.Sequential([keras.Input((3,)), K.Dense(2, name="scores")]), tmp_path)

    def use_custom_activation(config):
        config["config"]["layers"][1]["config"]["activation"] = {
            "module": "builtins", "class_name": "function", "config": "my_activation", "registered_name": "function"
        }

    with pytest.raises(ValueError, match=r"layer 'scores' \(Dense\) carries Python code \(a Python function builtins.my_activation\)"):
        load_keras(rewrite_config(path, use_custom_activation))


def test_unknown_layer_class_is_refused_naming_the_class_and_layer(tmp_path):
    model = keras.Sequential([keras.Input((6, 3)), K.Conv1D(4, 3, name="conv"), K.LSTM(2)])
    with pytest.raises(ValueError, match=r"'Conv1D' \(layer 'conv'\)"):
        load_keras(saved(model, tmp_path))


def test_subclassed_keras_model_is_refused_as_an_unknown_class(tmp_path):
    path = saved(keras.Sequential([keras.Input((3,)), K.Dense(2)]), tmp_path)

    def rename(config):
        config["class_name"] = "MyModel"

    with pytest.raises(ValueError, match="'MyModel'"):
        load_keras(rewrite_config(path, rename))


def test_dense_constraint_is_carried_over_and_predictions_unchanged(tmp_path):
    model = randomise(keras.Sequential([keras.Input((4,)), K.Dense(3, kernel_constraint="non_neg", name="head")]))
    ours = load_keras(saved(model, tmp_path))
    assert_predicts_like(model, ours, features(5, 4))
    assert type(ours.get_layer("head").kernel_constraint).__name__ == "NonNeg"


def test_mixed_precision_model_loads_in_float32_with_a_warning(tmp_path):
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = randomise(keras.Sequential([keras.Input((4, 3)), K.LSTM(3), K.Dense(2, dtype="float32")]))
    finally:
        keras.config.set_dtype_policy("float32")
    with pytest.warns(UserWarning, match="mixed_float16"):
        ours = load_keras(saved(model, tmp_path))
    assert all(w.dtype == np.float32 for w in ours.get_weights())
    x = features(2, 4, 3)
    np.testing.assert_allclose(ours.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-2, rtol=0)


def test_load_keras_weights_refuses_a_legacy_keras2_hdf5_file(tmp_path):
    import h5py

    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as h5:
        h5.attrs["layer_names"] = [b"dense"]
    ours = rnnkit.Sequential([rnnkit.Input((3,)), R.Dense(2)])
    with pytest.raises(ValueError, match="legacy Keras 2"):
        load_keras_weights(ours, path)


def test_config_key_rnnkit_does_not_take_is_refused_with_a_value_error_naming_it(tmp_path):
    path = saved(keras.Sequential([keras.Input((4, 3)), K.GRU(2)]), tmp_path)

    def add_future_option(config):
        config["config"]["layers"][1]["config"]["future_option"] = 1

    with pytest.raises(ValueError, match="cannot rebuild the Keras model.*future_option"):
        load_keras(rewrite_config(path, add_future_option))
