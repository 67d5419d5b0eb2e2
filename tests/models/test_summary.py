"""model.summary(): Keras's layout, and the same rows and totals as Keras prints for the seeds'
models (parameter counts, output shapes, sizes)."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from keras.src.utils.summary_utils import readable_memory_size as keras_readable_memory_size  # noqa: E402

from rnnkit import Input, Model, Sequential  # noqa: E402
from rnnkit.layers import GRU, LSTM, Dense, Embedding, SimpleRNN  # noqa: E402
from rnnkit.models.summary import readable_memory_size  # noqa: E402

K = keras.layers
WIDE = 160  # wide enough that no cell wraps, so rows can be compared


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    # Keras prints through rich, which crops to the console width (80 when not a terminal).
    monkeypatch.setenv("COLUMNS", "250")


def summary_of(model, **kwargs):
    lines = []
    model.summary(print_fn=lines.append, **kwargs)
    assert len(lines) == 1
    return lines[0]


def table_cells(text):
    """The cells of each layer row of a summary, wrapped lines joined."""
    rows, current = [], None
    for line in text.splitlines():
        if line.startswith("│"):
            parts = [c.strip() for c in line.strip("│").split("│")]
            current = parts if current is None else [f"{a} {b}".strip() for a, b in zip(current, parts)]
        elif current is not None:
            rows.append(current)
            current = None
    return rows


def table_rows(text):
    """(type, output shape, params) per layer row of a summary."""
    return [(cells[0].rsplit("(", 1)[1].rstrip(")"), cells[1], cells[2]) for cells in table_cells(text)]


def totals(text):
    return [line for line in text.splitlines() if "params:" in line]


def char_model(api, layers, input_layer):
    return api([input_layer(shape=(None,)), layers.Embedding(66, 256), layers.GRU(1024), layers.Dense(66)])


def mnist_rows_model(api, layers, input_layer):
    return api([input_layer(shape=(28, 28)), layers.SimpleRNN(256), layers.Dense(10)])


def stacked_model(api, layers, input_layer):
    return api([input_layer(shape=(None,)), layers.Embedding(1000, 64), layers.GRU(256, return_sequences=True),
                layers.SimpleRNN(128), layers.Dense(10)])


def encoder_decoder(api, layers, input_layer):
    encoder_input, decoder_input = input_layer(shape=(None,)), input_layer(shape=(None,))
    _, h, c = layers.LSTM(64, return_state=True)(layers.Embedding(1000, 64)(encoder_input))
    decoded = layers.LSTM(64)(layers.Embedding(2000, 64)(decoder_input), initial_state=[h, c])
    return api([encoder_input, decoder_input], layers.Dense(10)(decoded))


class RnnkitLayers:
    Embedding, GRU, SimpleRNN, LSTM, Dense = Embedding, GRU, SimpleRNN, LSTM, Dense


SEED_MODELS = [
    (char_model, Sequential, keras.Sequential, "Total params: 4,022,850 (15.35 MB)"),
    (mnist_rows_model, Sequential, keras.Sequential, "Total params: 75,530 (295.04 KB)"),
    (stacked_model, Sequential, keras.Sequential, "Total params: 361,866 (1.38 MB)"),
    (encoder_decoder, Model, keras.Model, "Total params: 258,698 (1010.54 KB)"),
]


@pytest.mark.parametrize("recipe, ours_api, their_api, total", SEED_MODELS, ids=lambda v: getattr(v, "__name__", ""))
def test_seed_model_summary_matches_keras(recipe, ours_api, their_api, total):
    ours = summary_of(recipe(ours_api, RnnkitLayers, Input), line_length=WIDE)
    theirs = summary_of(recipe(their_api, K, keras.Input), line_length=WIDE)
    assert totals(ours) == totals(theirs)
    assert totals(ours)[0].strip() == total
    assert table_rows(ours) == table_rows(theirs)


def test_layout_has_keras_title_columns_and_totals():
    model = Sequential([Input(shape=(None, 3)), LSTM(4), Dense(2)], name="tiny")
    text = summary_of(model)
    lines = text.splitlines()
    assert lines[0] == 'Model: "tiny"'
    assert lines[1].startswith("┏") and lines[-4].startswith("└")
    header = lines[2]
    assert "Layer (type)" in header and "Output Shape" in header and "Param #" in header
    assert "Connected to" not in header
    assert f"{model.layers[0].name} (LSTM)" in text and "(None, 4)" in text
    assert lines[-3:] == [" Total params: 138 (552.00 B)", " Trainable params: 138 (552.00 B)",
                          " Non-trainable params: 0 (0.00 B)"]


def test_functional_graph_shows_connected_to():
    model = encoder_decoder(Model, RnnkitLayers, Input)
    text = summary_of(model, line_length=WIDE)
    assert "Connected to" in text.splitlines()[2]
    enc, dec, enc_embedding, dec_embedding, encoder, decoder, dense = (layer.name for layer in model.layers)
    connections = {cells[0].split(" (")[0]: cells[3] for cells in table_cells(text)}
    assert connections == {
        enc: "-", dec: "-", enc_embedding: f"{enc}[0][0]", dec_embedding: f"{dec}[0][0]",
        encoder: f"{enc_embedding}[0][0]", decoder: f"{dec_embedding}[0][0], {encoder}[0][1], {encoder}[0][2]",
        dense: f"{decoder}[0][0]",
    }


def test_plain_chain_functional_model_prints_like_keras():
    def chain(api, layers, input_layer):
        x = input_layer(shape=(None, 3))
        return api(x, layers.Dense(2)(layers.GRU(4)(x)))

    ours = summary_of(chain(Model, RnnkitLayers, Input), line_length=WIDE)
    theirs = summary_of(chain(keras.Model, K, keras.Input), line_length=WIDE)
    assert "Connected to" not in ours
    assert table_rows(ours) == table_rows(theirs)


def test_every_line_of_the_table_has_line_length():
    for line_length in (60, 88, 120):
        text = summary_of(encoder_decoder(Model, RnnkitLayers, Input), line_length=line_length)
        table = [line for line in text.splitlines()[1:] if not line.startswith(" ")]
        assert {len(line) for line in table} == {line_length}


def test_unbuilt_sequential_like_keras():
    text = summary_of(Sequential([Dense(2), Dense(3)]), line_length=WIDE)
    assert table_rows(text) == [("Dense", "?", "0 (unbuilt)")] * 2
    assert totals(text)[0] == " Total params: 0 (0.00 B)"


def test_non_trainable_weights_are_counted_apart():
    model = Sequential([Input(shape=(None,)), Embedding(10, 4), LSTM(3)])
    model.layers[0].trainable = False
    text = summary_of(model)
    assert " Trainable params: 96 (384.00 B)" in text and " Non-trainable params: 40 (160.00 B)" in text


def test_sizes_follow_dtype():
    model = Sequential([Input(shape=(3,)), Dense(2)]).to(torch.float64)
    assert " Total params: 8 (64.00 B)" in summary_of(model)


@pytest.mark.parametrize("size", [0, 1000, 1024, 16_091_400, 3 * 1024**3, 1.5 * 1024**5])
def test_memory_sizes_are_written_as_keras_writes_them(size):
    assert readable_memory_size(size) == keras_readable_memory_size(size)


def test_summary_prints_to_stdout_by_default(capsys):
    Sequential([Input(shape=(3,)), Dense(2)]).summary()
    assert "Total params: 8" in capsys.readouterr().out
