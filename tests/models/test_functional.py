"""Functional models (Input/Model graphs) and subclassed models: Keras parity of counts, layer order
and outputs (the seeds' encoder-decoder with return_state / initial_state), shared layers, several
inputs and outputs, masks, states, config round trips, and clear errors for bad graphs."""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from rnnkit import Input, Model, Sequential  # noqa: E402
from rnnkit.layers import (  # noqa: E402
    GRU, LSTM, Bidirectional, Dense, Dropout, Embedding, TimeDistributed, deserialize_layer, serialize_layer,
)
from rnnkit.models import Functional, KerasTensor  # noqa: E402

K = keras.layers


def to_numpy(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else keras.ops.convert_to_numpy(x)


def encoder_decoder(api, input_layer, with_state_output=False):
    """The seed's encoder-decoder, in rnnkit (api=rnnkit classes) or Keras."""
    embedding, lstm, dense = api
    encoder_input = input_layer(shape=(None,))
    decoder_input = input_layer(shape=(None,))
    encoder_embedded = embedding(input_dim=1000, output_dim=64)(encoder_input)
    _, state_h, state_c = lstm(64, return_state=True)(encoder_embedded)
    decoder_embedded = embedding(input_dim=2000, output_dim=64)(decoder_input)
    decoder_output = lstm(64)(decoder_embedded, initial_state=[state_h, state_c])
    output = dense(10)(decoder_output)
    outputs = [output, state_h] if with_state_output else output
    return [encoder_input, decoder_input], outputs


def rnnkit_encoder_decoder(**kwargs):
    inputs, outputs = encoder_decoder((Embedding, LSTM, Dense), Input, **kwargs)
    return Model(inputs, outputs)


def keras_encoder_decoder(**kwargs):
    inputs, outputs = encoder_decoder((K.Embedding, K.LSTM, K.Dense), keras.Input, **kwargs)
    return keras.Model(inputs, outputs)


def token_ids(*shape, high, seed=0):
    return np.random.default_rng(seed).integers(1, high, size=shape)


# ------------------------------------------------------------------------------- Keras parity
def test_encoder_decoder_matches_keras_count_layer_order_and_outputs():
    ours, theirs = rnnkit_encoder_decoder(with_state_output=True), keras_encoder_decoder(with_state_output=True)
    assert ours.count_params() == theirs.count_params() == 258_698
    assert [type(l).__name__ for l in ours.layers] == [type(l).__name__ for l in theirs.layers]
    ours.set_weights(theirs.get_weights())
    encoder_ids, decoder_ids = token_ids(3, 6, high=1000), token_ids(3, 4, high=2000, seed=1)
    expected = theirs([encoder_ids, decoder_ids])
    got = ours([torch.as_tensor(encoder_ids), torch.as_tensor(decoder_ids)])
    assert isinstance(got, list) and len(got) == 2
    for a, b in zip(got, expected):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-5)
    # several inputs may also be passed positionally, or by Input name
    torch.testing.assert_close(ours(torch.as_tensor(encoder_ids), torch.as_tensor(decoder_ids))[0], got[0])
    by_name = dict(zip([x.node.layer.name for x in ours.inputs], [encoder_ids, decoder_ids]))
    torch.testing.assert_close(ours(by_name)[0], got[0])


def test_config_graph_matches_keras_format():
    ours, theirs = rnnkit_encoder_decoder(), keras_encoder_decoder()
    ours_config, their_config = ours.get_config(), theirs.get_config()
    rename = {t.name: o.name for t, o in zip(theirs.layers, ours.layers)}

    def histories(config):
        found = []
        for layer in config["layers"]:
            for node in layer["inbound_nodes"]:
                for arg in json.dumps(node["args"]), json.dumps(node.get("kwargs", {}).get("initial_state")):
                    found += [tuple(h) for h in _histories(json.loads(arg))]
        return found

    assert histories(ours_config) == [(rename[n], i, t) for n, i, t in histories(their_config)]
    assert [rename[n] for n, *_ in their_config["input_layers"]] == [n for n, *_ in ours_config["input_layers"]]
    assert [rename[their_config["output_layers"][0]], *their_config["output_layers"][1:]] == ours_config[
        "output_layers"]


def _histories(value):
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            return [value["config"]["keras_history"]]
        return [h for v in value.values() for h in _histories(v)]
    if isinstance(value, list):
        return [h for v in value for h in _histories(v)]
    return []


def test_shared_embedding_matches_keras():
    def build(embedding, gru, dense, input_layer, model):
        a, b = input_layer(shape=(None,)), input_layer(shape=(None,))
        shared = embedding(100, 8)
        encoded = gru(6)(shared(a))
        decoded = gru(6)(shared(b), initial_state=encoded)
        return model([a, b], dense(3)(decoded))

    ours = build(Embedding, GRU, Dense, Input, Model)
    theirs = build(K.Embedding, K.GRU, K.Dense, keras.Input, keras.Model)
    assert ours.count_params() == theirs.count_params()
    ours.set_weights(theirs.get_weights())
    a, b = token_ids(2, 5, high=100), token_ids(2, 3, high=100, seed=2)
    np.testing.assert_allclose(to_numpy(ours([a, b])), to_numpy(theirs([a, b])), atol=1e-5)


def test_masks_from_embedding_reach_lstm_as_in_keras():
    def build(embedding, lstm, input_layer, model):
        x = input_layer(shape=(None,))
        return model(x, lstm(5)(embedding(30, 4, mask_zero=True)(x)))

    ours, theirs = build(Embedding, LSTM, Input, Model), build(K.Embedding, K.LSTM, keras.Input, keras.Model)
    ours.set_weights(theirs.get_weights())
    padded = np.array([[3, 5, 7, 0, 0], [1, 2, 3, 4, 5]])
    np.testing.assert_allclose(to_numpy(ours(torch.as_tensor(padded))), to_numpy(theirs(padded)), atol=1e-5)
    # padding changes nothing
    torch.testing.assert_close(ours(torch.as_tensor(padded[:1, :3])), ours(torch.as_tensor(padded))[:1])


def test_masks_propagate_as_in_eager_calls():
    embedding, bi, head = Embedding(30, 4, mask_zero=True), Bidirectional(LSTM(3, return_sequences=True)), \
        TimeDistributed(Dense(2))
    x = Input(shape=(None,))
    model = Model(x, head(bi(embedding(x))))
    ids = torch.tensor([[3, 5, 0, 0], [1, 2, 3, 4]])
    eager = head(bi(embedding(ids)))
    out = model(ids)
    torch.testing.assert_close(out, eager)
    assert torch.equal(out._keras_mask, ids != 0)


# ------------------------------------------------------------------------------ graph building
def test_symbolic_shapes_and_dtypes():
    x = Input(shape=(None, 8), name="seq")
    assert isinstance(x, KerasTensor) and x.shape == (None, None, 8) and x.dtype == torch.float32
    y = LSTM(16, return_sequences=True)(x)
    assert y.shape == (None, None, 16)
    fixed = Input(shape=(10, 8), batch_size=4)
    out, h, c = LSTM(16, return_state=True)(fixed)
    assert (out.shape, h.shape, c.shape) == ((4, 16), (4, 16), (4, 16))
    assert Input(shape=(None,), dtype="int32").dtype == torch.int32
    assert "shape=(None, None, 8)" in repr(x)


def test_symbolic_call_error_names_the_symbolic_shape():
    with pytest.raises(ValueError, match=r"symbolic input\(s\) of shape \(None, 28\)"):
        LSTM(4)(Input(shape=(28,)))


def test_mixing_symbolic_and_real_tensors_raises():
    x = Input(shape=(None, 3))
    with pytest.raises(ValueError, match="mix of symbolic tensors"):
        LSTM(2)(x, initial_state=[torch.zeros(1, 2), torch.zeros(1, 2)])


def test_bad_input_shapes_raise():
    with pytest.raises(ValueError, match="expected a shape of positive ints or None"):
        Input(shape=(0, 3))
    with pytest.raises(ValueError, match="expected shape as a tuple"):
        Input(shape="abc")


def test_outputs_not_connected_to_inputs_raise():
    a, b = Input(shape=(3,), name="a"), Input(shape=(3,), name="b")
    y = Dense(2)(b)
    with pytest.raises(ValueError, match="disconnected.*input 'b'"):
        Model(a, y)


def test_inputs_must_be_input_tensors():
    x = Input(shape=(3,))
    hidden = Dense(4)(x)
    with pytest.raises(ValueError, match="inputs must be the rnnkit.Input"):
        Model(hidden, Dense(1)(hidden))
    with pytest.raises(ValueError, match="inputs must be symbolic tensors"):
        Model(torch.zeros(1, 3), hidden)
    with pytest.raises(ValueError, match="outputs must be symbolic tensors"):
        Model(x, torch.zeros(1, 4))
    with pytest.raises(ValueError, match="same Input appears twice"):
        Model([x, x], hidden)


def test_wrong_input_count_and_rank_at_call_raise():
    model = rnnkit_encoder_decoder()
    with pytest.raises(ValueError, match=r"expects 2 input\(s\)"):
        model(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="expects inputs named"):
        model({"nope": torch.zeros(2, 3, dtype=torch.long)})
    with pytest.raises(ValueError, match=r"expects shape \(None, None\), got \(2, 3, 1\)"):
        model([torch.zeros(2, 3, 1, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long)])


def test_shared_layer_runs_twice_with_one_set_of_weights():
    a, b = Input(shape=(4,)), Input(shape=(4,))
    dense = Dense(2)
    model = Model([a, b], (dense(a), dense(b)))
    assert model.count_params() == 10 and model.layers[-1] is dense
    x, y = torch.randn(3, 4), torch.randn(3, 4)
    out = model([x, y])
    assert isinstance(out, tuple)
    torch.testing.assert_close(out[0], dense(x))
    torch.testing.assert_close(out[1], dense(y))


def test_unused_input_and_input_as_output():
    a, b = Input(shape=(2,)), Input(shape=(2,))
    model = Model([a, b], [Dense(1)(a), b])
    x, y = torch.ones(1, 2), torch.full((1, 2), 3.0)
    assert model([x, y])[1] is y
    unused = Model([a, b], Dense(1)(a))
    assert len(unused.layers) == 3


def test_training_flag_reaches_layers():
    x = Input(shape=(100,))
    model = Model(x, Dropout(0.5)(x))
    ones = torch.ones(2, 100)
    assert torch.equal(model(ones), ones)
    assert (model(ones, training=True) == 0).any()


def test_nested_functional_model():
    x = Input(shape=(None, 3))
    inner = Model(x, GRU(4)(x))
    outer_input = Input(shape=(None, 3))
    outer = Model(outer_input, Dense(2)(inner(outer_input)))
    assert outer.count_params() == inner.count_params() + 10
    data = torch.randn(2, 5, 3)
    torch.testing.assert_close(outer(data), outer.layers[-1](inner(data)))


def test_functional_model_is_a_torch_module():
    model = rnnkit_encoder_decoder()
    assert sum(p.numel() for p in model.parameters()) == 258_698
    assert "lstm" in "".join(model.state_dict())
    model = model.to(torch.float64)
    out = model([torch.ones(2, 3, dtype=torch.long), torch.ones(2, 4, dtype=torch.long)])
    assert out.dtype == torch.float64
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_stateful_functional_states():
    x = Input(shape=(None, 3), batch_size=2)
    model = Model(x, Dense(1)(Bidirectional(LSTM(4, stateful=True))(x)))
    data = torch.randn(2, 5, 3)
    model(data)
    (states,) = model.get_states()
    assert len(states) == 4  # forward h, c then backward h, c
    following = model(data)
    model.set_states([states])
    torch.testing.assert_close(model(data), following)
    model.reset_state()
    assert model.get_states() == [None]


# ------------------------------------------------------------------------------------ configs
def test_encoder_decoder_config_round_trip_through_json():
    model = rnnkit_encoder_decoder(with_state_output=True)
    config = json.loads(json.dumps(model.get_config()))
    clone = Model.from_config(config)
    assert isinstance(clone, Functional) and clone.name == model.name
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]
    clone.set_weights(model.get_weights())
    inputs = [torch.as_tensor(token_ids(2, 5, high=1000)), torch.as_tensor(token_ids(2, 3, high=2000))]
    for a, b in zip(clone(inputs), model(inputs)):
        torch.testing.assert_close(a, b)


def test_frozen_model_round_trips_frozen():
    x = Input(shape=(None, 2))
    model = Model(x, GRU(3)(x), trainable=False)
    assert not any(p.requires_grad for p in model.parameters())
    clone = Model.from_config(model.get_config())
    assert not clone.trainable and clone.trainable_weights == []
    assert sum(w.numel() for w in clone.non_trainable_weights) == model.count_params()


def test_shared_layers_survive_config_round_trip():
    a, b = Input(shape=(4,)), Input(shape=(4,))
    dense = Dense(2)
    hidden = Dense(4)(dense(b))  # the shared layer's second call is deeper than its first
    model = Model([a, b], [dense(a), hidden])
    clone = deserialize_layer(serialize_layer(model))
    assert clone.count_params() == model.count_params()
    clone.set_weights(model.get_weights())
    x, y = torch.randn(2, 4), torch.randn(2, 4)
    for p, q in zip(clone([x, y]), model([x, y])):
        torch.testing.assert_close(p, q)


# ----------------------------------------------------------------------------------- subclassing
class TextClassifier(Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.embedding = Embedding(50, 8, mask_zero=True)
        self.rnn = LSTM(6)
        self.head = Dense(3)

    def call(self, inputs, training=False):
        return self.head(self.rnn(self.embedding(inputs), training=training))


def test_subclassed_model_matches_keras_sequential_of_same_layers():
    model = TextClassifier(name="classifier")
    theirs = keras.Sequential([keras.Input(shape=(None,)), K.Embedding(50, 8, mask_zero=True), K.LSTM(6), K.Dense(3)])
    ids = token_ids(2, 5, high=50)
    ids[0, 3:] = 0
    model(torch.as_tensor(ids))
    assert model.name == "classifier" and [type(l) for l in model.layers] == [Embedding, LSTM, Dense]
    assert model.count_params() == theirs.count_params()
    model.set_weights(theirs.get_weights())
    np.testing.assert_allclose(to_numpy(model(torch.as_tensor(ids))), to_numpy(theirs(ids)), atol=1e-5)
    lines = []
    model.summary(print_fn=lines.append)
    assert f"{model.rnn.name} (LSTM)" in lines[0] and "(None, 6)" in lines[0] and "Total params: 781" in lines[0]


def test_subclassed_model_used_on_symbolic_inputs():
    x = Input(shape=(None,))
    model = Model(x, TextClassifier()(x))
    assert model.output_shape == (None, 3)


def test_subclass_without_call_and_with_graph_arguments_raise():
    class Empty(Model):
        pass

    with pytest.raises(NotImplementedError, match="define call"):
        Empty()(torch.zeros(1, 2))
    x = Input(shape=(2,))
    with pytest.raises(TypeError, match="takes no inputs/outputs"):
        Empty(x, Dense(1)(x))


def test_subclassed_model_build_and_layers_in_containers():
    class Stack(Model):
        def __init__(self):
            super().__init__()
            self.blocks = torch.nn.ModuleList([GRU(4, return_sequences=True), GRU(3)])

        def call(self, inputs, training=False):
            for block in self.blocks:
                inputs = block(inputs)
            return inputs

    model = Stack()
    model.build((None, None, 2))
    assert model.built and [l.units for l in model.layers] == [4, 3]
    assert model.count_params() == sum(p.numel() for p in model.parameters())


def test_sequential_inside_subclassed_model_keeps_weight_order():
    class Wrapper(Model):
        def __init__(self):
            super().__init__()
            self.body = Sequential([Input(shape=(None, 2)), LSTM(3)])
            self.head = Dense(1)

        def call(self, inputs, training=False):
            return self.head(self.body(inputs))

    model = Wrapper()
    model(torch.randn(1, 4, 2))
    assert [tuple(w.shape) for w in model.get_weights()] == [(2, 12), (3, 12), (12,), (3, 1), (1,)]
