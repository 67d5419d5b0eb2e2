"""ONNX export: `export_onnx` graphs run by onnxruntime equal `model.predict` to 1e-4 for two batch
sizes and two sequence lengths each (dynamic axes), and unsupported models raise clear errors."""
import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import layers as L
from rnnkit.io import export_onnx

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

ATOL = 1e-4
FEATURES = 4
SHAPES = [(3, 7), (1, 2), (5, 11)]  # (batch, time): the exported graph is traced at (2, 3)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)


def _session(model, tmp_path, **kwargs):
    path = tmp_path / "model.onnx"
    export_onnx(model, path, **kwargs)
    onnx.checker.check_model(onnx.load(str(path)))
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _randomize(model):
    # Non-zero biases everywhere, so that bias layouts (input and recurrent) are checked too.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)


def _check(model, tmp_path, make_input=None, **kwargs):
    _randomize(model)
    session = _session(model, tmp_path, **kwargs)
    make_input = make_input or (lambda b, t: [np.random.randn(b, t, FEATURES).astype("float32")])
    for batch, steps in SHAPES:
        xs = make_input(batch, steps)
        got = session.run(None, {f"input_{i}": x for i, x in enumerate(xs)})
        expected = model.predict(xs[0] if len(xs) == 1 else xs, verbose=0)
        expected = list(expected) if isinstance(expected, (list, tuple)) else [expected]
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            e = e.numpy() if isinstance(e, torch.Tensor) else np.asarray(e)
            assert g.shape == e.shape
            np.testing.assert_allclose(g, e, atol=ATOL, rtol=0)
    return session


def _sequential(*layers):
    return rnnkit.Sequential([rnnkit.Input((None, FEATURES)), *layers])


def _op_types(path):
    return [n.op_type for n in onnx.load(str(path)).graph.node]


@pytest.mark.parametrize("return_sequences", [False, True])
def test_simple_rnn(tmp_path, return_sequences):
    _check(_sequential(L.SimpleRNN(6, return_sequences=return_sequences)), tmp_path)
    assert "RNN" in _op_types(tmp_path / "model.onnx")


def test_simple_rnn_relu_no_bias(tmp_path):
    _check(_sequential(L.SimpleRNN(5, activation="relu", use_bias=False)), tmp_path)


@pytest.mark.parametrize("return_sequences", [False, True])
def test_lstm(tmp_path, return_sequences):
    _check(_sequential(L.LSTM(6, return_sequences=return_sequences)), tmp_path)
    ops = _op_types(tmp_path / "model.onnx")
    assert "LSTM" in ops and "Loop" not in ops


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru(tmp_path, reset_after):
    _check(_sequential(L.GRU(6, reset_after=reset_after, return_sequences=True)), tmp_path)
    assert "GRU" in _op_types(tmp_path / "model.onnx")


def test_go_backwards(tmp_path):
    _check(_sequential(L.GRU(5, go_backwards=True, return_sequences=True), L.LSTM(3, go_backwards=True)), tmp_path)


def test_bidirectional_lstm_concat(tmp_path):
    # Dropout is inactive at inference and does not reach the graph.
    _check(_sequential(L.Bidirectional(L.LSTM(5, dropout=0.2, recurrent_dropout=0.1)), L.Dense(2)), tmp_path)


def test_bidirectional_sequences_sum(tmp_path):
    _check(_sequential(L.Bidirectional(L.GRU(4, return_sequences=True), merge_mode="sum")), tmp_path)


def test_embedding_lstm_dense(tmp_path):
    model = rnnkit.Sequential([
        rnnkit.Input((None,), dtype="int64"), L.Embedding(20, 8), L.LSTM(6), L.Dense(3, activation="softmax"),
    ])
    _check(model, tmp_path, make_input=lambda b, t: [np.random.randint(0, 20, size=(b, t)).astype("int64")])


def test_stacked_return_sequences(tmp_path):
    model = _sequential(
        L.LSTM(6, return_sequences=True), L.GRU(5, return_sequences=True), L.SimpleRNN(4, return_sequences=True),
        L.Dense(2),
    )
    _check(model, tmp_path)


def test_rnn_over_stacked_cells(tmp_path):
    _check(_sequential(L.RNN([L.LSTMCell(5), L.GRUCell(4)], return_sequences=True)), tmp_path)


def test_functional_encoder_decoder_states(tmp_path):
    enc_in = rnnkit.Input((None, FEATURES))
    dec_in = rnnkit.Input((None, 3))
    _, h, c = L.LSTM(6, return_state=True)(enc_in)
    seq, h2, c2 = L.LSTM(6, return_sequences=True, return_state=True)(dec_in, initial_state=[h, c])
    model = rnnkit.Model([enc_in, dec_in], [L.Dense(2)(seq), h2, c2])

    def make(b, t):
        return [np.random.randn(b, t, FEATURES).astype("float32"), np.random.randn(b, t + 1, 3).astype("float32")]

    _check(model, tmp_path, make_input=make)


def test_sample_input_and_layers_restored(tmp_path):
    model = rnnkit.Sequential([L.LSTM(4)])
    x = torch.randn(2, 5, FEATURES)
    before = model(x)
    _randomize(model)
    export_onnx(model, tmp_path / "model.onnx", sample_input=x)
    assert "call" not in vars(model.layers[0])  # the export-only call is removed afterwards
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    x2 = np.random.randn(3, 9, FEATURES).astype("float32")
    np.testing.assert_allclose(session.run(None, {"input_0": x2})[0], model.predict(x2, verbose=0), atol=ATOL)
    assert before.shape == model(x).shape


# ------------------------------------------------------------------------------------ refusals
def test_mask_zero_refused(tmp_path):
    model = rnnkit.Sequential([rnnkit.Input((None,), dtype="int64"), L.Embedding(10, 4, mask_zero=True), L.LSTM(3)])
    with pytest.raises(ValueError, match="mask_zero"):
        export_onnx(model, tmp_path / "m.onnx")


def test_masking_refused(tmp_path):
    with pytest.raises(ValueError, match="Masking"):
        export_onnx(_sequential(L.Masking(0.0), L.GRU(3)), tmp_path / "m.onnx")


def test_stateful_refused(tmp_path):
    model = rnnkit.Sequential([rnnkit.Input((None, FEATURES), batch_size=2), L.GRU(3, stateful=True)])
    with pytest.raises(ValueError, match="stateful"):
        export_onnx(model, tmp_path / "m.onnx")


@pytest.mark.parametrize("layer", [
    lambda: L.LSTM(3, activation="relu"),
    lambda: L.GRU(3, recurrent_activation="hard_sigmoid"),
    lambda: L.SimpleRNN(3, activation="elu"),
])
def test_non_default_activation_refused(tmp_path, layer):
    with pytest.raises(ValueError, match="activation"):
        export_onnx(_sequential(layer()), tmp_path / "m.onnx")


def test_custom_cell_refused(tmp_path):
    class Cell(rnnkit.layers.Layer):
        state_size = 3

        def build(self, input_shape):
            self.add_weight(shape=(input_shape[-1], 3), initializer="glorot_uniform", name="kernel")

        def call(self, inputs, states):
            h = torch.tanh(inputs @ self.kernel + states[0])
            return h, [h]

    with pytest.raises(ValueError, match="custom cell"):
        export_onnx(_sequential(L.RNN(Cell())), tmp_path / "m.onnx")


def test_unbuilt_model_refused(tmp_path):
    with pytest.raises(ValueError, match="sample_input"):
        export_onnx(rnnkit.Sequential([L.LSTM(3)]), tmp_path / "m.onnx")


def test_export_without_the_onnx_package_says_how_to_install_it(monkeypatch, tmp_path):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real_find_spec(name, *a))
    model = rnnkit.Sequential([rnnkit.Input((5, 3)), L.LSTM(4), L.Dense(1)])
    with pytest.raises(ImportError, match=r"pip install onnx"):
        export_onnx(model, tmp_path / "m.onnx")
