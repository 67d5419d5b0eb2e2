"""Keras's keras/src/layers/rnn/dropout_rnn_cell_test.py, re-expressed for rnnkit: a custom cell using
the DropoutRNNCell mixin runs under RNN in training, with masks drawn once per sequence."""
import torch
from keras_layer_test import run_layer_test

from rnnkit import layers


@layers.register_serializable
class RNNCellWithDropout(layers.Layer, layers.DropoutRNNCell):
    def __init__(self, units, dropout=0.5, recurrent_dropout=0.5, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.units = units
        self.state_size = units
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="ones",
                                                name="recurrent_kernel")

    def call(self, inputs, states, training=False):
        if training:
            inputs = inputs * self.get_dropout_mask(inputs)
        previous = states[0]
        if training:
            previous = previous * self.get_recurrent_dropout_mask(previous)
        output = inputs @ self.kernel + previous @ self.recurrent_kernel
        return output, [output]


def test_basics_in_training():
    run_layer_test(
        layers.RNN, {"cell": RNNCellWithDropout(5, seed=1337)}, (3, 2, 4), (3, 5), trainable_weights=2,
        call_kwargs={"training": True},
    )


def test_masks_are_drawn_once_per_sequence_and_cleared_after_it():
    cell = RNNCellWithDropout(5, seed=1337)
    layer = layers.RNN(cell, return_sequences=True)
    x = torch.ones(3, 4, 4)
    drawn = []
    original = cell.get_dropout_mask

    def spy(step_input):
        mask = original(step_input)
        drawn.append(mask)
        return mask

    cell.get_dropout_mask = spy
    layer(x, training=True)
    assert len(drawn) == 4 and all(m is drawn[0] for m in drawn)
    assert set(drawn[0].unique().tolist()) <= {0.0, 2.0}
    assert cell._dropout_mask is None and cell._recurrent_dropout_mask is None


def test_inference_uses_no_dropout():
    layer = layers.RNN(RNNCellWithDropout(2))
    x = torch.ones(1, 2, 3)
    torch.testing.assert_close(layer(x), torch.full((1, 2), 9.0))
