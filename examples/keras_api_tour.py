"""The Keras RNN guide's snippets, translated to rnnkit by changing names only.

    .venv/bin/python examples/keras_api_tour.py            # about a minute on 2 cores
    .venv/bin/python examples/keras_api_tour.py --quick    # smaller data, a few seconds

Each part prints what Keras prints: model summaries (with Keras's parameter counts) and
training progress. The MNIST part reads ../shared/data/mnist when it is there and falls back to
random digits otherwise.
"""
import argparse
import gzip
from pathlib import Path

import numpy as np
import torch

import rnnkit
from rnnkit import layers

MNIST = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mnist"


def stacked_gru_simple_rnn():
    print("\n== Stacked GRU and SimpleRNN over word embeddings ==")
    model = rnnkit.Sequential()
    model.add(rnnkit.Input((None,), dtype="int64"))
    model.add(layers.Embedding(input_dim=1000, output_dim=64))
    model.add(layers.GRU(256, return_sequences=True))
    model.add(layers.SimpleRNN(128))
    model.add(layers.Dense(10))
    model.summary()


def encoder_decoder():
    print("\n== Encoder-decoder: the encoder's final states start the decoder ==")
    encoder_vocab, decoder_vocab = 1000, 2000
    encoder_input = rnnkit.Input(shape=(None,), dtype="int64")
    encoder_embedded = layers.Embedding(input_dim=encoder_vocab, output_dim=64)(encoder_input)
    output, state_h, state_c = layers.LSTM(64, return_state=True, name="encoder")(encoder_embedded)
    encoder_state = [state_h, state_c]
    decoder_input = rnnkit.Input(shape=(None,), dtype="int64")
    decoder_embedded = layers.Embedding(input_dim=decoder_vocab, output_dim=64)(decoder_input)
    decoder_output = layers.LSTM(64, name="decoder")(decoder_embedded, initial_state=encoder_state)
    output = layers.Dense(10)(decoder_output)
    model = rnnkit.Model([encoder_input, decoder_input], output)
    model.summary()
    return model


@rnnkit.layers.register_serializable
class NestedCell(layers.Layer):
    """The guide's cell with nested inputs and states: a vector state and a matrix state."""

    def __init__(self, unit_1, unit_2, unit_3, **kwargs):
        super().__init__(**kwargs)
        self.unit_1, self.unit_2, self.unit_3 = unit_1, unit_2, unit_3
        self.state_size = [unit_1, (unit_2, unit_3)]
        self.output_size = [unit_1, (unit_2, unit_3)]

    def build(self, input_shapes):
        # input_shapes: [(batch, i1), (batch, i2, i3)]
        i1 = input_shapes[0][1]
        i2, i3 = input_shapes[1][1], input_shapes[1][2]
        self.kernel_1 = self.add_weight(shape=(i1, self.unit_1), initializer="uniform", name="kernel_1")
        self.kernel_2_3 = self.add_weight(shape=(i2, i3, self.unit_2, self.unit_3), initializer="uniform",
                                          name="kernel_2_3")

    def call(self, inputs, states):
        input_1, input_2 = inputs
        s1, s2 = states
        output_1 = input_1 @ self.kernel_1
        output_2_3 = torch.einsum("bij,ijkl->bkl", input_2, self.kernel_2_3)
        return (output_1, output_2_3), (s1 + output_1, s2 + output_2_3)

    def get_config(self):
        return {**super().get_config(), "unit_1": self.unit_1, "unit_2": self.unit_2, "unit_3": self.unit_3}


def nested_cell(quick):
    print("\n== RNN(NestedCell): nested inputs and states, fit on random data ==")
    unit_1, unit_2, unit_3 = 10, 20, 30
    i1, i2, i3 = 32, 64, 32
    batch_size, num_batches, timestep = 64, (2 if quick else 10), (5 if quick else 50)
    rnn = layers.RNN(NestedCell(unit_1, unit_2, unit_3))
    input_1 = rnnkit.Input((None, i1))
    input_2 = rnnkit.Input((None, i2, i3))
    outputs = rnn((input_1, input_2))
    model = rnnkit.Model([input_1, input_2], outputs)
    model.compile(optimizer="adam", loss="mse", metrics=["accuracy"])
    n = batch_size * num_batches
    input_data = [np.random.random((n, timestep, i1)), np.random.random((n, timestep, i2, i3))]
    target_data = [np.random.random((n, unit_1)), np.random.random((n, unit_2, unit_3))]
    model.fit(input_data, target_data, batch_size=batch_size)
    return model


def load_mnist(quick):
    images, labels = MNIST / "t10k-images-idx3-ubyte.gz", MNIST / "t10k-labels-idx1-ubyte.gz"
    if images.exists() and labels.exists():
        with gzip.open(images) as f:
            x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28).astype("float32") / 255.0
        with gzip.open(labels) as f:
            y = np.frombuffer(f.read(), np.uint8, offset=8).astype("int64")
        source = "the 10,000 MNIST test digits, split 8,000 / 2,000"
    else:
        rng = np.random.default_rng(0)
        x, y = rng.random((10000, 28, 28), dtype=np.float32), rng.integers(0, 10, 10000)
        source = "random digits (../shared/data/mnist not found)"
    if quick:
        x, y = np.concatenate([x[:800], x[8000:8200]]), np.concatenate([y[:800], y[8000:8200]])
    cut = int(0.8 * len(x))
    print(f"data: {source}")
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def mnist_rows(quick):
    print("\n== Sequences of image rows: each 28x28 digit is 28 steps of 28 pixels ==")
    (x_train, y_train), (x_test, y_test) = load_mnist(quick)
    batch_size, input_dim, units, output_size = 64, 28, 64, 10
    lstm_layer = layers.RNN(layers.LSTMCell(units), input_shape=(None, input_dim))
    model = rnnkit.Sequential([lstm_layer, layers.BatchNormalization(), layers.Dense(output_size)])
    model.compile(
        loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True), optimizer="sgd", metrics=["accuracy"]
    )
    model.fit(x_train, y_train, validation_data=(x_test, y_test), batch_size=batch_size, epochs=1)

    simple = rnnkit.Sequential([rnnkit.Input((28, 28)), layers.SimpleRNN(256), layers.Dense(10)])
    simple.summary()
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, for a smoke test")
    args = parser.parse_args(argv)
    rnnkit.utils.set_random_seed(0)
    stacked_gru_simple_rnn()
    encoder_decoder()
    nested_cell(args.quick)
    mnist_rows(args.quick)


if __name__ == "__main__":
    main()
