"""rnnkit model and weight files: `save_model`/`load_model` round trips (every layer kind, the
encoder-decoder, subclassed models, optimizer state), refusal of bad or hostile files with a
ValueError naming the file, and atomic writes that leave the previous file intact on failure."""
import hashlib
import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest
import safetensors.torch
import torch

import rnnkit
from rnnkit import layers as L
from rnnkit.io import saving


# ------------------------------------------------------------------------------------ helpers
@rnnkit.register_serializable
class SavingTestCell(L.Layer):
    """A custom cell (Keras's MinimalRNNCell) for RNN(cell), loadable because it is registered."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform",
                                      name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="orthogonal",
                                                name="recurrent_kernel")

    def call(self, inputs, states):
        output = inputs @ self.kernel + states[0] @ self.recurrent_kernel
        return output, [output]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@rnnkit.register_serializable
class SavingTestTagger(rnnkit.Model):
    """A subclassed model whose config keeps its input size, so that its __init__ builds it."""

    def __init__(self, units, features, **kwargs):
        super().__init__(**kwargs)
        self.units, self.features = units, features
        self.rnn = L.LSTM(units, return_sequences=True)
        self.head = L.TimeDistributed(L.Dense(2))
        self.build((1, 4, features))

    def call(self, inputs, training=False):
        return self.head(self.rnn(inputs, training=training))

    def get_config(self):
        return {**super().get_config(), "units": self.units, "features": self.features}


@rnnkit.register_serializable
class SavingTestLazyModel(rnnkit.Model):
    """A registered subclassed model that its config does not build."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rnn = L.GRU(3)

    def call(self, inputs, training=False):
        return self.rnn(inputs)


class UnregisteredModel(rnnkit.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rnn = L.GRU(3)

    def call(self, inputs, training=False):
        return self.rnn(inputs)


def token_model():
    """A small Sequential over token ids: Embedding(mask_zero) + GRU + Dense."""
    return rnnkit.Sequential([rnnkit.Input((None,), dtype="int64"), L.Embedding(30, 8, mask_zero=True),
                              L.GRU(6), L.Dense(3)])


def tokens(seed=0, batch=4, steps=7):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 30, (batch, steps))
    ids[:, steps - 2:] = 0  # padding, masked
    return ids


def same_predictions(first, second, x):
    a, b = first.predict(x, verbose=0), second.predict(x, verbose=0)
    a, b = (a, b) if isinstance(a, (list, tuple)) else ([a], [b])
    return len(a) == len(b) and all(torch.equal(torch.from_numpy(p), torch.from_numpy(q)) for p, q in zip(a, b))


def same_state(first, second):
    """Equal weights, in state_dict order (the names may differ: automatic layer names count up)."""
    a, b = list(first.state_dict().values()), list(second.state_dict().values())
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


def members_of(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def craft(path, members, checksums=True):
    """Writes a zip with `members` ({name: bytes}); with `checksums`, adds a checksums.json that
    matches them (so that only the check under test can refuse the file)."""
    members = dict(members)
    if checksums:
        members.pop("checksums.json", None)
        digests = {name: hashlib.sha256(data).hexdigest() for name, data in members.items()}
        members["checksums.json"] = json.dumps({"sha256": digests}).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def saved_token_model(tmp_path):
    path = tmp_path / "model.rnnkit"
    model = token_model()
    model.save(path)
    return model, path


def with_config(path, out, edit):
    """`path` rewritten to `out` with its config.json changed by `edit(config)`."""
    members = members_of(path)
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    return craft(out, members)


def refused(path, *fragments):
    """Asserts that load_model refuses `path` with a ValueError naming it (and the fragments)."""
    with pytest.raises(ValueError) as error:
        rnnkit.load_model(path)
    message = str(error.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message
    return message


class FileCreatingPayload:
    """Unpickling this would create `marker`: proof that a file was unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


# ----------------------------------------------------------------------------------- round trips
def test_model_with_every_layer_kind_predicts_identically_after_load(tmp_path):
    token_input = rnnkit.Input((7,), dtype="int64")
    x = L.Embedding(30, 8, mask_zero=True)(token_input)
    x = L.Dropout(0.2)(x)
    x = L.SimpleRNN(6, return_sequences=True)(x)
    x = L.LSTM(6, return_sequences=True)(x)
    x = L.GRU(6, return_sequences=True, reset_after=True)(x)
    x = L.GRU(6, return_sequences=True, reset_after=False)(x)
    merged = [L.Bidirectional(L.LSTM(4, return_sequences=True), merge_mode=mode)(x)
              for mode in ("concat", "sum", "mul", "ave")]
    forward, backward = L.Bidirectional(L.GRU(4, return_sequences=True), merge_mode=None)(x)
    x = L.Concatenate()([*merged, forward, backward])
    x = L.TimeDistributed(L.Dense(5))(x)
    x = L.Activation("tanh")(x)
    x = L.RNN(SavingTestCell(5))(x)
    x = L.RepeatVector(3)(x)
    x = L.RNN(L.StackedRNNCells([L.LSTMCell(4), L.GRUCell(3)]))(x)
    token_output = L.Dense(2)(x)
    float_input = rnnkit.Input((5, 3))
    float_output = L.Dense(1)(L.LSTM(3)(L.Masking(0.0)(float_input)))
    model = rnnkit.Model([token_input, float_input], [token_output, float_output])
    floats = np.random.default_rng(1).standard_normal((4, 5, 3)).astype("float32")
    floats[:, 3:] = 0.0  # masked steps
    path = tmp_path / "every_layer.rnnkit"

    model.save(path)
    loaded = rnnkit.load_model(path)

    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]
    assert same_predictions(model, loaded, [tokens(steps=7), floats])


def test_functional_encoder_decoder_predicts_identically_after_load(tmp_path):
    encoder_input = rnnkit.Input((None,), dtype="int64")
    _, state_h, state_c = L.LSTM(64, return_state=True)(L.Embedding(1000, 64)(encoder_input))
    decoder_input = rnnkit.Input((None,), dtype="int64")
    decoded = L.LSTM(64)(L.Embedding(2000, 64)(decoder_input), initial_state=[state_h, state_c])
    model = rnnkit.Model([encoder_input, decoder_input], L.Dense(10)(decoded))
    rng = np.random.default_rng(0)
    x = [rng.integers(0, 1000, (3, 6)), rng.integers(0, 2000, (3, 5))]
    path = tmp_path / "seq2seq.rnnkit"

    rnnkit.save_model(model, path)
    loaded = rnnkit.load_model(path)

    assert loaded.count_params() == 258698
    assert same_predictions(model, loaded, x)


def test_sequential_model_predicts_identically_after_load(tmp_path):
    model, path = saved_token_model(tmp_path)
    loaded = rnnkit.load_model(path)
    assert isinstance(loaded, rnnkit.Sequential)
    assert same_state(model, loaded)
    assert same_predictions(model, loaded, tokens())


def test_sequential_built_by_its_first_call_round_trips(tmp_path):
    model = rnnkit.Sequential([L.LSTM(5), L.Dense(2)])
    x = np.random.default_rng(0).standard_normal((3, 4, 2)).astype("float32")
    model.predict(x, verbose=0)
    model.save(tmp_path / "m.rnnkit")
    assert same_predictions(model, rnnkit.load_model(tmp_path / "m.rnnkit"), x)


def test_model_assets_travel_with_the_model_file(tmp_path):
    model = rnnkit.Sequential([rnnkit.Input((4, 2)), L.LSTM(3)])
    model.assets["vocabulary"] = ["", "[UNK]", "good", "bad"]
    model.assets["labels"] = {"0": "negative", "1": "positive"}
    model.save(tmp_path / "m.rnnkit")
    assert "assets.json" in zipfile.ZipFile(tmp_path / "m.rnnkit").namelist()
    assert rnnkit.load_model(tmp_path / "m.rnnkit").assets == model.assets


def test_a_model_without_assets_loads_with_an_empty_dict_and_no_assets_member(tmp_path):
    model, path = saved_token_model(tmp_path)
    assert "assets.json" not in zipfile.ZipFile(path).namelist()
    assert rnnkit.load_model(path).assets == {}


def test_assets_that_are_not_json_are_refused_before_writing(tmp_path):
    model = rnnkit.Sequential([rnnkit.Input((4, 2)), L.LSTM(3)])
    model.assets["scaler"] = object()
    with pytest.raises(ValueError, match="model.assets"):
        model.save(tmp_path / "m.rnnkit")
    assert not os.listdir(tmp_path)


def test_loaded_stateful_model_starts_from_zero_states(tmp_path):
    model = rnnkit.Sequential([rnnkit.Input((3, 2), batch_size=2), L.LSTM(4, stateful=True), L.Dense(1)])
    x = np.random.default_rng(0).standard_normal((2, 3, 2)).astype("float32")
    model.predict(x, verbose=0)  # the model now carries states
    model.save(tmp_path / "stateful.rnnkit")
    loaded = rnnkit.load_model(tmp_path / "stateful.rnnkit")
    assert loaded.get_states() == [None]
    model.reset_state()
    assert same_predictions(model, loaded, x)


def test_subclassed_model_whose_config_builds_it_round_trips(tmp_path):
    model = SavingTestTagger(5, 3)
    x = np.random.default_rng(0).standard_normal((2, 4, 3)).astype("float32")
    model.save(tmp_path / "tagger.rnnkit")
    loaded = rnnkit.load_model(tmp_path / "tagger.rnnkit")
    assert isinstance(loaded, SavingTestTagger)
    assert same_predictions(model, loaded, x)


def test_subclassed_model_that_its_config_leaves_unbuilt_is_refused_naming_the_file(tmp_path):
    model = SavingTestLazyModel()
    model(torch.zeros(1, 2, 3))
    model.save(tmp_path / "lazy.rnnkit")
    refused(tmp_path / "lazy.rnnkit", "not built", "from_config")


def test_saving_an_unregistered_subclassed_model_is_refused_before_writing(tmp_path):
    model = UnregisteredModel()
    model(torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="register_serializable"):
        model.save(tmp_path / "unregistered.rnnkit")
    assert list(tmp_path.iterdir()) == []


def test_saving_an_unbuilt_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not built"):
        rnnkit.Sequential([L.GRU(3)]).save(tmp_path / "m.rnnkit")


def test_save_requires_the_rnnkit_or_keras_suffix(tmp_path):
    with pytest.raises(ValueError, match=r"\.rnnkit.*'\.keras'"):
        token_model().save(tmp_path / "model.h5")


def test_model_file_holds_config_weights_and_checksums(tmp_path):
    model, path = saved_token_model(tmp_path)
    members = members_of(path)
    config = json.loads(members["config.json"])
    checksums = json.loads(members["checksums.json"])["sha256"]
    weights = safetensors.torch.load(members["model.safetensors"])

    assert sorted(members) == ["checksums.json", "config.json", "model.safetensors"]
    assert (config["format"], config["format_version"], config["class_name"]) == ("rnnkit", 1, "Sequential")
    assert config["rnnkit_version"] == rnnkit.__version__
    assert config["config"] == model.get_config()
    assert sorted(weights) == sorted(model.state_dict())
    assert checksums == {name: hashlib.sha256(data).hexdigest()
                         for name, data in members.items() if name != "checksums.json"}


def test_saving_the_same_model_twice_gives_identical_bytes(tmp_path):
    model = token_model()
    model.save(tmp_path / "a.rnnkit")
    rnnkit.save_model(model, tmp_path / "b.rnnkit")
    assert (tmp_path / "a.rnnkit").read_bytes() == (tmp_path / "b.rnnkit").read_bytes()


def test_loaded_model_reads_float64_weights_in_float64(tmp_path):
    model = rnnkit.Sequential([L.GRU(3), L.Dense(1)])
    x = np.random.default_rng(0).standard_normal((2, 4, 2))
    model(torch.from_numpy(x))  # built in float64 by its first input
    model.save(tmp_path / "double.rnnkit")
    loaded = rnnkit.load_model(tmp_path / "double.rnnkit")
    assert all(w.dtype == torch.float64 for w in loaded.weights)
    with torch.no_grad():
        assert torch.equal(model(torch.from_numpy(x)), loaded(torch.from_numpy(x)))


# ----------------------------------------------------------------------- compile and optimizer
def regression_model():
    torch.manual_seed(0)
    return rnnkit.Sequential([rnnkit.Input((4, 3)), L.LSTM(5), L.Dense(2)])


def regression_batches():
    rng = np.random.default_rng(0)
    return [(rng.standard_normal((8, 4, 3)).astype("float32"), rng.standard_normal((8, 2)).astype("float32"))
            for _ in range(3)]


@pytest.mark.parametrize("make_optimizer", [
    pytest.param(lambda model: "adam", id="name"),
    pytest.param(lambda model: rnnkit.optimizers.SGD(learning_rate=0.05, momentum=0.9), id="rnnkit"),
    pytest.param(lambda model: torch.optim.Adam(model.parameters(), lr=0.01), id="torch"),
])
def test_include_optimizer_round_trip_continues_training_identically(tmp_path, make_optimizer):
    model = regression_model()
    model.compile(optimizer=make_optimizer(model), loss="mse", metrics=["mae"])
    first, second, third = regression_batches()
    model.train_on_batch(*first)
    model.train_on_batch(*second)
    model.save(tmp_path / "training.rnnkit", include_optimizer=True)
    model.save(tmp_path / "weights_only.rnnkit")
    assert "optimizer.safetensors" in members_of(tmp_path / "training.rnnkit")

    loaded = rnnkit.load_model(tmp_path / "training.rnnkit")
    without_state = rnnkit.load_model(tmp_path / "weights_only.rnnkit")
    for each in (model, loaded, without_state):
        each.train_on_batch(*third)

    assert type(loaded.optimizer) is type(model.optimizer)
    assert same_state(model, loaded)
    assert not same_state(model, without_state)  # the optimizer state is what made them equal


def test_compile_settings_are_restored_without_the_optimizer_state(tmp_path):
    model = regression_model()
    model.compile(optimizer=rnnkit.optimizers.Adam(learning_rate=0.02), loss=rnnkit.losses.Huber(delta=0.5),
                  metrics=["mae", rnnkit.metrics.RootMeanSquaredError(name="rms")])
    model.save(tmp_path / "compiled.rnnkit")
    members = members_of(tmp_path / "compiled.rnnkit")
    loaded = rnnkit.load_model(tmp_path / "compiled.rnnkit")
    logs = loaded.train_on_batch(*regression_batches()[0], return_dict=True)

    assert "optimizer.json" not in members
    assert loaded.optimizer.learning_rate == pytest.approx(0.02)
    assert loaded.optimizer.iterations == 1
    assert sorted(logs) == ["loss", "mae", "rms"]


def test_load_model_with_compile_false_returns_an_uncompiled_model(tmp_path):
    model = regression_model()
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "m.rnnkit")
    loaded = rnnkit.load_model(tmp_path / "m.rnnkit", compile=False)
    with pytest.raises(ValueError, match="compile"):
        loaded.train_on_batch(*regression_batches()[0])


def test_compile_settings_without_a_config_are_left_out_with_a_warning(tmp_path):
    model = regression_model()
    model.compile(optimizer="sgd", loss=lambda y_true, y_pred: ((y_true - y_pred) ** 2).mean(-1))
    with pytest.warns(UserWarning, match="compile"):
        model.save(tmp_path / "m.rnnkit")
    assert "compile_config" not in json.loads(members_of(tmp_path / "m.rnnkit")["config.json"])
    assert same_predictions(model, rnnkit.load_model(tmp_path / "m.rnnkit"), regression_batches()[0][0])


def test_include_optimizer_without_a_savable_compile_config_is_refused(tmp_path):
    model = regression_model()
    model.compile(optimizer="sgd", loss=lambda y_true, y_pred: ((y_true - y_pred) ** 2).mean(-1))
    with pytest.raises(ValueError, match="include_optimizer"):
        model.save(tmp_path / "m.rnnkit", include_optimizer=True)
    assert not (tmp_path / "m.rnnkit").exists()


def test_include_optimizer_on_an_uncompiled_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not been compiled"):
        token_model().save(tmp_path / "m.rnnkit", include_optimizer=True)


# ------------------------------------------------------------------------------- weight files
def test_save_weights_and_load_weights_round_trip_between_models_built_alike(tmp_path):
    model, other = token_model(), token_model()  # alike, but their layers have other automatic names
    model.save_weights(tmp_path / "w.weights.safetensors")
    assert other.load_weights(tmp_path / "w.weights.safetensors") is other
    assert same_predictions(model, other, tokens())


def test_load_weights_reads_the_weights_of_a_model_file(tmp_path):
    model, path = saved_token_model(tmp_path)
    other = token_model()
    other.load_weights(path)
    assert same_state(model, other)


def test_load_weights_refuses_weights_of_other_shapes_naming_the_file(tmp_path):
    token_model().save_weights(tmp_path / "w.weights.safetensors")
    wider = rnnkit.Sequential([rnnkit.Input((None,), dtype="int64"), L.Embedding(30, 8), L.GRU(7), L.Dense(3)])
    with pytest.raises(ValueError, match="do not fit") as error:
        wider.load_weights(tmp_path / "w.weights.safetensors")
    assert str(tmp_path / "w.weights.safetensors") in str(error.value)


def test_load_weights_into_an_unbuilt_model_says_to_build_it(tmp_path):
    token_model().save_weights(tmp_path / "w.weights.safetensors")
    unbuilt = rnnkit.Sequential([L.Embedding(30, 8), L.GRU(6), L.Dense(3)])
    with pytest.raises(ValueError, match="not built"):
        unbuilt.load_weights(tmp_path / "w.weights.safetensors")


def test_corrupted_weights_file_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "w.weights.safetensors"
    token_model().save_weights(path)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # inside the last tensor's bytes
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted") as error:
        token_model().load_weights(path)
    assert str(path) in str(error.value)


def test_truncated_weights_file_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "w.weights.safetensors"
    token_model().save_weights(path)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ValueError, match="truncated") as error:
        token_model().load_weights(path)
    assert str(path) in str(error.value)


def test_save_weights_requires_the_safetensors_or_keras_h5_suffix(tmp_path):
    with pytest.raises(ValueError, match=r"\.weights\.safetensors.*'\.weights\.h5'"):
        token_model().save_weights(tmp_path / "w.h5")


def test_load_weights_hands_keras_h5_files_to_the_keras_importer(tmp_path, monkeypatch):
    from rnnkit.io import keras_import

    calls = []
    monkeypatch.setattr(keras_import, "load_keras_weights", lambda model, path: calls.append((model, path)))
    model = token_model()
    model.load_weights(str(tmp_path / "w.weights.h5"))
    assert calls == [(model, str(tmp_path / "w.weights.h5"))]


# ------------------------------------------------------------------------------- refused files
def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.rnnkit"):
        rnnkit.load_model(tmp_path / "missing.rnnkit")


def test_file_that_is_not_a_zip_is_refused_as_not_an_rnnkit_file(tmp_path):
    path = tmp_path / "notes.rnnkit"
    path.write_text("just text\n")
    refused(path, "not an rnnkit model file")


def test_zip_without_config_is_refused_as_not_an_rnnkit_file(tmp_path):
    refused(craft(tmp_path / "x.rnnkit", {"model.safetensors": b"{}"}), "not an rnnkit model file", "config.json")


def test_config_of_another_format_is_refused_as_not_an_rnnkit_file(tmp_path):
    _, path = saved_token_model(tmp_path)
    keras_like = with_config(path, tmp_path / "keras.rnnkit", lambda config: config.update(format="keras"))
    refused(keras_like, "not an rnnkit model file", "'keras'")


def test_file_of_a_newer_format_version_is_refused(tmp_path):
    _, path = saved_token_model(tmp_path)
    newer = with_config(path, tmp_path / "newer.rnnkit", lambda config: config.update(format_version=2))
    refused(newer, "format version 2")


def test_pickle_payload_member_is_refused_and_never_unpickled(tmp_path):
    marker = tmp_path / "unpickled"
    _, path = saved_token_model(tmp_path)
    members = {**members_of(path), "data.pkl": pickle.dumps(FileCreatingPayload(marker))}
    refused(craft(tmp_path / "pickle.rnnkit", members), "unexpected members", "data.pkl")
    assert not marker.exists()


def test_pickle_in_place_of_the_weights_is_refused_and_never_unpickled(tmp_path):
    marker = tmp_path / "unpickled"
    _, path = saved_token_model(tmp_path)
    payload = io.BytesIO()
    torch.save({"weights": FileCreatingPayload(marker)}, payload)
    members = {**members_of(path), "model.safetensors": payload.getvalue()}
    refused(craft(tmp_path / "pickle.rnnkit", members), "not a valid safetensors file")
    assert not marker.exists()


def test_config_naming_os_system_is_refused(tmp_path):
    _, path = saved_token_model(tmp_path)

    def name_os_system(config):
        config["class_name"] = "os.system"
        config["config"] = {"command": "touch hacked"}

    refused(with_config(path, tmp_path / "os.rnnkit", name_os_system), "os.system")


def test_layer_config_naming_os_system_is_refused(tmp_path):
    _, path = saved_token_model(tmp_path)

    def name_os_system(config):
        config["config"]["layers"][1] = {"class_name": "os.system", "config": {"command": "touch hacked"}}

    refused(with_config(path, tmp_path / "os.rnnkit", name_os_system), "os.system")


def test_config_naming_an_unregistered_class_is_refused(tmp_path):
    _, path = saved_token_model(tmp_path)

    def name_unregistered(config):
        config["config"]["layers"][2]["class_name"] = "UnregisteredGRU"

    crafted = with_config(path, tmp_path / "custom.rnnkit", name_unregistered)
    refused(crafted, "UnregisteredGRU", "register_serializable")


def test_config_naming_a_layer_instead_of_a_model_is_refused(tmp_path):
    _, path = saved_token_model(tmp_path)

    def name_layer(config):
        config["class_name"], config["config"] = "GRU", {"units": 3}

    refused(with_config(path, tmp_path / "layer.rnnkit", name_layer), "not a model")


def test_weights_whose_shapes_disagree_with_the_config_are_refused(tmp_path):
    _, path = saved_token_model(tmp_path)
    members = members_of(path)
    weights = safetensors.torch.load(members["model.safetensors"])
    kernel = next(name for name in weights if name.endswith("cell.kernel"))
    weights[kernel] = torch.zeros(8, 3)
    members["model.safetensors"] = safetensors.torch.save(weights)
    refused(craft(tmp_path / "shapes.rnnkit", members), f"{kernel}: file (8, 3), model (8, 18)")


def test_weights_whose_names_disagree_with_the_config_are_refused(tmp_path):
    _, path = saved_token_model(tmp_path)
    members = members_of(path)
    weights = safetensors.torch.load(members["model.safetensors"])
    bias = next(name for name in weights if name.endswith(".bias") and "cell" not in name)
    weights["extra.bias"] = weights.pop(bias)
    members["model.safetensors"] = safetensors.torch.save(weights)
    refused(craft(tmp_path / "names.rnnkit", members), f"missing [{bias!r}]", "unexpected ['extra.bias']")


@pytest.mark.parametrize("name", ["../evil", "/tmp/evil", "weights/../../evil", "..\\evil"])
def test_path_traversal_member_is_refused_and_nothing_is_written(tmp_path, name):
    folder = tmp_path / "files"
    folder.mkdir()
    _, path = saved_token_model(folder)
    crafted = craft(folder / "traversal.rnnkit", {**members_of(path), name: b"evil"})
    before = sorted(p.name for p in tmp_path.parent.iterdir())
    refused(crafted, "path traversal")
    assert sorted(p.name for p in tmp_path.parent.iterdir()) == before
    assert sorted(p.name for p in folder.iterdir()) == ["model.rnnkit", "traversal.rnnkit"]
    assert not (tmp_path / "evil").exists()


def test_unexpected_member_is_refused(tmp_path):
    _, path = saved_token_model(tmp_path)
    refused(craft(tmp_path / "extra.rnnkit", {**members_of(path), "notes.txt": b"hi"}), "unexpected members")


def test_corrupted_bytes_are_detected_naming_the_file(tmp_path):
    _, path = saved_token_model(tmp_path)
    data = bytearray(path.read_bytes())
    weights_start = data.index(b"model.safetensors") + len("model.safetensors") + 200
    data[weights_start] ^= 0xFF  # inside the stored tensors
    path.write_bytes(bytes(data))
    refused(path, "corrupted")


def test_member_not_matching_its_checksum_is_detected(tmp_path):
    _, path = saved_token_model(tmp_path)
    members = members_of(path)
    weights = safetensors.torch.load(members["model.safetensors"])
    weights = {name: tensor + 1 for name, tensor in weights.items()}
    members["model.safetensors"] = safetensors.torch.save(weights)
    refused(craft(tmp_path / "tampered.rnnkit", members, checksums=False), "corrupted", "checksum")


def test_truncated_file_is_refused_naming_the_file(tmp_path):
    _, path = saved_token_model(tmp_path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    refused(path, "truncated")


def test_oversized_member_is_refused(tmp_path, monkeypatch):
    _, path = saved_token_model(tmp_path)
    monkeypatch.setattr(saving, "MAX_MEMBER_BYTES", 1000)
    refused(path, "more than the limit of 1000 bytes per member")


def test_zip_bomb_is_refused_before_decompressing(tmp_path):
    _, path = saved_token_model(tmp_path)
    bomb = tmp_path / "bomb.rnnkit"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", members_of(path)["config.json"])
        archive.writestr("model.safetensors", bytes(64 * 2**20))
    assert bomb.stat().st_size < 2**20
    refused(bomb, "zip bomb")


# ------------------------------------------------------------------------------- atomic writes
def test_failed_save_leaves_the_previous_file_byte_identical(tmp_path, monkeypatch):
    model, path = saved_token_model(tmp_path)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(safetensors.torch, "save", fail)
    with torch.no_grad():
        model.layers[-1].bias.add_(1.0)
    with pytest.raises(RuntimeError, match="disk full"):
        model.save(path)

    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.rnnkit"]  # no temporary file left


def test_failed_save_weights_leaves_the_previous_file_byte_identical(tmp_path, monkeypatch):
    path = tmp_path / "w.weights.safetensors"
    model = token_model()
    model.save_weights(path)
    before = path.read_bytes()
    monkeypatch.setattr(safetensors.torch, "save", lambda *a, **k: (_ for _ in ()).throw(OSError("no space")))
    with pytest.raises(OSError, match="no space"):
        model.save_weights(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.weights.safetensors"]


def test_save_replaces_an_existing_file(tmp_path):
    model, path = saved_token_model(tmp_path)
    with torch.no_grad():
        model.layers[-1].bias.add_(1.0)
    model.save(path)
    assert same_state(model, rnnkit.load_model(path))


def test_saved_file_permissions_follow_the_umask(tmp_path):
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    umask = os.umask(0o022)
    try:
        _, path = saved_token_model(tmp_path)
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644
