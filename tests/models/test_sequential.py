"""Sequential models: building (Input, input_shape=, build(), first call), add/pop, Keras parity of
parameter counts and outputs, weights, states, config round trips, and torch.nn.Module behaviour."""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from rnnkit import Input, Model, Sequential  # noqa: E402
from rnnkit.layers import (  # noqa: E402
    GRU, LSTM, Dense, Dropout, Embedding, SimpleRNN, deserialize_layer, serialize_layer,
)

K = keras.layers


def to_numpy(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else keras.ops.convert_to_numpy(x)


def stacked_text_model():
    return Sequential([Input(shape=(None,)), Embedding(1000, 64), GRU(256, return_sequences=True), SimpleRNN(128),
                       Dense(10)])


def test_stacked_gru_simple_rnn_matches_keras_count_and_outputs():
    ours = stacked_text_model()
    theirs = keras.Sequential([keras.Input(shape=(None,)), K.Embedding(1000, 64), K.GRU(256, return_sequences=True),
                               K.SimpleRNN(128), K.Dense(10)])
    assert ours.count_params() == theirs.count_params() == 361_866
    ours.set_weights(theirs.get_weights())
    ids = np.random.default_rng(0).integers(0, 1000, size=(3, 7))
    expected = to_numpy(theirs(ids))
    np.testing.assert_allclose(to_numpy(ours(torch.as_tensor(ids))), expected, atol=1e-5)
    # numpy in works too
    np.testing.assert_allclose(to_numpy(ours(ids)), expected, atol=1e-5)


def test_char_model_count_matches_keras():
    ours = Sequential([Input(shape=(None,)), Embedding(66, 256), GRU(1024), Dense(66)])
    theirs = keras.Sequential([keras.Input(shape=(None,)), K.Embedding(66, 256), K.GRU(1024), K.Dense(66)])
    assert ours.count_params() == theirs.count_params() == 4_022_850
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]


def test_mnist_rows_model_built_from_input_shape_matches_keras():
    ours = Sequential([SimpleRNN(256, input_shape=(28, 28)), Dense(10)])
    theirs = keras.Sequential([keras.Input(shape=(28, 28)), K.SimpleRNN(256), K.Dense(10)])
    assert ours.built and ours.input_shape == (None, 28, 28) and ours.output_shape == (None, 10)
    assert ours.count_params() == theirs.count_params() == 75_530
    ours.set_weights(theirs.get_weights())
    x = np.random.default_rng(1).standard_normal((4, 28, 28)).astype("float32")
    np.testing.assert_allclose(to_numpy(ours(torch.from_numpy(x))), to_numpy(theirs(x)), atol=1e-5)


def test_add_pop_and_layers():
    model = Sequential(name="stack")
    model.add(Input(shape=(5, 3)))
    lstm, dense = LSTM(4), Dense(2)
    model.add(lstm)
    model.add(dense)
    assert model.layers == [lstm, dense]
    assert model.output_shape == (None, 2)
    assert model.pop() is dense
    assert model.layers == [lstm] and model.output_shape == (None, 4)
    assert model(torch.randn(2, 5, 3)).shape == (2, 4)
    assert list(dict(model.named_children())) == [lstm.name]


def test_pop_on_empty_model_raises():
    with pytest.raises(ValueError, match="no layers"):
        Sequential().pop()


def test_build_then_counts_and_summary_shapes():
    model = Sequential([LSTM(8, return_sequences=True), Dense(3)])
    assert not model.built
    with pytest.raises(ValueError, match="not built"):
        model.count_params()
    model.build((None, None, 5))
    assert model.built and model.output_shape == (None, None, 3)
    assert model.count_params() == 4 * (5 * 8 + 8 * 8 + 8) + 8 * 3 + 3


def test_first_call_builds_model_with_data_shape():
    model = Sequential([Embedding(20, 4), GRU(3)])
    out = model(torch.randint(0, 20, (2, 6)))
    assert out.shape == (2, 3)
    assert model.built and model.input_shape == (None, 6) and model.output_shape == (None, 3)
    assert model.inputs[0].dtype == torch.int64


def test_build_without_shape_raises():
    with pytest.raises(ValueError, match="needs an input shape"):
        Sequential([Dense(2)]).build(None)


def test_layer_with_several_outputs_is_refused():
    model = Sequential([Input(shape=(None, 3))])
    with pytest.raises(ValueError, match="return_state"):
        model.add(LSTM(4, return_state=True))
    assert model.layers == []


def test_duplicate_layer_names_are_refused():
    model = Sequential([Dense(2, name="same")])
    with pytest.raises(ValueError, match="already has a layer named 'same'"):
        model.add(Dense(3, name="same"))


def test_non_layer_is_refused():
    with pytest.raises(TypeError, match="expected an rnnkit Layer"):
        Sequential([torch.nn.Linear(2, 2)])


def test_input_only_first():
    model = Sequential([Dense(2)])
    with pytest.raises(ValueError, match="only come first"):
        model.add(Input(shape=(3,)))


def test_wrong_input_rank_at_call_raises():
    model = Sequential([Input(shape=(None, 3)), LSTM(2)])
    with pytest.raises(ValueError, match=r"expects input of shape \(None, None, 3\), got \(2, 3\)"):
        model(torch.randn(2, 3))


def test_training_reaches_dropout():
    model = Sequential([Input(shape=(50,)), Dropout(0.5)])
    x = torch.ones(4, 50)
    assert torch.equal(model(x), x)
    assert (model(x, training=True) == 0).any()


def test_model_is_a_torch_module():
    model = Sequential([Input(shape=(None, 3)), LSTM(4), Dense(2)])
    assert sum(p.numel() for p in model.parameters()) == model.count_params()
    keys = list(model.state_dict())
    assert keys[0].startswith(model.layers[0].name + ".") and keys[-1] == model.layers[1].name + ".bias"
    model = model.to(torch.float64)
    assert model(torch.randn(2, 5, 3, dtype=torch.float64)).dtype == torch.float64
    assert [w.dtype for w in model.get_weights()] == [np.float64] * 5


def test_to_before_build_places_lazy_weights():
    model = Sequential([LSTM(4), Dense(2)]).to(torch.float64)
    model.build((None, None, 3))
    assert all(p.dtype == torch.float64 for p in model.parameters())


def test_get_set_weights_round_trip():
    a = Sequential([Input(shape=(None, 3)), GRU(4), Dense(2)])
    b = Sequential([Input(shape=(None, 3)), GRU(4), Dense(2)])
    b.set_weights(a.get_weights())
    x = torch.randn(2, 5, 3)
    torch.testing.assert_close(a(x), b(x))
    with pytest.raises(ValueError, match="expects 5 weight arrays"):
        b.set_weights(a.get_weights()[:-1])


def test_get_layer_by_name_and_index():
    model = Sequential([Input(shape=(3,)), Dense(2, name="first"), Dense(1, name="second")])
    assert model.get_layer("second") is model.layers[1]
    assert model.get_layer(index=0).name == "first"
    with pytest.raises(ValueError, match="no layer named 'third'"):
        model.get_layer("third")


def test_stateful_states_get_set_reset():
    model = Sequential([Input(shape=(None, 3), batch_size=2), LSTM(4, stateful=True, return_sequences=True),
                        GRU(5, stateful=True), Dense(1)])
    assert model.get_states() == [None, None]
    x = torch.randn(2, 6, 3)
    model(x)
    saved = model.get_states()
    assert [[tuple(s.shape) for s in layer] for layer in saved] == [[(2, 4), (2, 4)], [(2, 5)]]
    after_one = model(x)
    model.set_states(saved)
    torch.testing.assert_close(model(x), after_one)
    model.set_states([[s.numpy() for s in layer] for layer in saved])  # numpy works too
    torch.testing.assert_close(model(x), after_one)
    model.reset_state()
    assert model.get_states() == [None, None]
    fresh = Sequential([Input(shape=(None, 3), batch_size=2), LSTM(4, stateful=True, return_sequences=True),
                        GRU(5, stateful=True), Dense(1)])
    fresh.set_weights(model.get_weights())
    torch.testing.assert_close(model(x), fresh(x))


def test_set_states_validates():
    model = Sequential([Input(shape=(None, 3), batch_size=2), LSTM(4, stateful=True)])
    with pytest.raises(ValueError, match="one entry per layer, got 2"):
        model.set_states([None, None])
    with pytest.raises(ValueError, match=r"initial state 0 should have shape \(2, 4\)"):
        model.set_states([[torch.zeros(2, 5), torch.zeros(2, 5)]])


def test_symbolic_build_leaves_stateful_states_alone():
    lstm = LSTM(4, stateful=True)
    lstm(torch.randn(2, 3, 3))
    before = [s.clone() for s in lstm.states]
    Sequential([Input(shape=(None, 3)), lstm])
    for a, b in zip(before, lstm.states):
        torch.testing.assert_close(a, b)


def test_config_round_trip_through_json():
    model = Sequential([Input(shape=(None,), dtype="int64"), Embedding(50, 8, mask_zero=True), LSTM(6), Dense(3)],
                       name="roundtrip")
    config = json.loads(json.dumps(model.get_config()))
    assert config["layers"][0]["class_name"] == "InputLayer" and config["build_input_shape"] == [None, None]
    clone = Sequential.from_config(config)
    assert clone.name == "roundtrip" and [type(l) for l in clone.layers] == [type(l) for l in model.layers]
    clone.set_weights(model.get_weights())
    ids = torch.tensor([[3, 4, 0, 0], [1, 2, 3, 4]])
    torch.testing.assert_close(clone(ids), model(ids))


def test_model_built_by_build_round_trips_through_layer_serialization():
    model = Sequential([GRU(3), Dense(2)])
    model.build((None, 4, 2))
    clone = deserialize_layer(serialize_layer(model))
    assert isinstance(clone, Sequential) and clone.built and clone.input_shape == (None, 4, 2)
    assert clone.count_params() == model.count_params()


def test_nested_sequential_in_functional_model():
    inner = Sequential([LSTM(3, return_sequences=True), Dense(2)])
    x = Input(shape=(None, 5))
    model = Model(x, inner(x))
    assert inner.input_shape == (None, None, 5) and inner.output_shape == (None, None, 2)
    assert model.count_params() == inner.count_params()
    assert model(torch.randn(2, 7, 5)).shape == (2, 7, 2)
    assert list(model.state_dict())[0].startswith(inner.name + ".")
