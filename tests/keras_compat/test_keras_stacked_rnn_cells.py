"""Keras's keras/src/layers/rnn/stacked_rnn_cells_test.py, re-expressed for rnnkit: RNN over a list of
cells (custom cells without get_initial_state, and the built-in cells with dropout), with Keras's
expected shapes, states and numbers."""
import numpy as np
import pytest
import torch
from keras_layer_test import OneStateRNNCell, TwoStatesRNNCell, assert_close, run_layer_test, tensor

from rnnkit import layers

SEQUENCE = np.arange(24).reshape((2, 3, 4)).astype("float32")


@pytest.mark.parametrize("cell_class, weights_per_cell", [(OneStateRNNCell, 2), (TwoStatesRNNCell, 3)])
@pytest.mark.parametrize("return_sequences, expected", [(False, (2, 5)), (True, (2, 3, 5))])
def test_basics_with_custom_cells(cell_class, weights_per_cell, return_sequences, expected):
    cells = [cell_class(3), cell_class(4), cell_class(5)]
    run_layer_test(
        layers.RNN, {"cell": cells, "return_sequences": return_sequences}, (2, 3, 4), expected,
        trainable_weights=3 * weights_per_cell,
    )


@pytest.mark.parametrize("cell_class", [layers.SimpleRNNCell, layers.GRUCell, layers.LSTMCell])
def test_basics_with_builtin_cells_and_dropout(cell_class):
    cells = [cell_class(units, dropout=0.1, recurrent_dropout=0.1) for units in (3, 4, 5)]
    run_layer_test(
        layers.RNN, {"cell": cells, "return_sequences": True}, (2, 3, 4), (2, 3, 5),
        trainable_weights=9, call_kwargs={"training": True},
    )


def test_single_state_stack_gives_keras_values():
    x = tensor(SEQUENCE)
    last = [[786.0, 786.0], [4386.0, 4386.0]]
    sequence = [[[18.0, 18.0], [156.0, 156.0], [786.0, 786.0]], [[162.0, 162.0], [1020.0, 1020.0], [4386.0, 4386.0]]]
    assert_close(layers.RNN([OneStateRNNCell(3), OneStateRNNCell(2)])(x), last)
    output, state_1, state_2 = layers.RNN(
        [OneStateRNNCell(3), OneStateRNNCell(2)], return_sequences=True, return_state=True
    )(x)
    assert_close(output, sequence)
    assert_close(state_1[0], [[158.0, 158.0, 158.0], [782.0, 782.0, 782.0]])
    assert_close(state_2[0], last)


def test_two_states_stack_gives_keras_values():
    x = tensor(SEQUENCE)
    assert_close(
        layers.RNN([TwoStatesRNNCell(3), TwoStatesRNNCell(2)], return_sequences=True)(x),
        [[[72.0, 72.0], [624.0, 624.0], [3144.0, 3144.0]], [[648.0, 648.0], [4080.0, 4080.0], [17544.0, 17544.0]]],
    )
    output, state_1, state_2 = layers.RNN([TwoStatesRNNCell(3), TwoStatesRNNCell(2)], return_state=True)(x)
    assert_close(output, [[3144.0, 3144.0], [17544.0, 17544.0]])
    for state in state_1:
        assert_close(state, [[158.0, 158.0, 158.0], [782.0, 782.0, 782.0]])
    for state in state_2:
        assert_close(state, [[1572.0, 1572.0], [8772.0, 8772.0]])


@pytest.mark.parametrize(
    "cell_class, expected", [(OneStateRNNCell, [[34092.0, 34092.0], [173196.0, 173196.0]]),
                             (TwoStatesRNNCell, [[136368.0, 136368.0], [692784.0, 692784.0]])]
)
def test_stateful_stack_carries_every_cells_states(cell_class, expected):
    layer = layers.RNN([cell_class(3), cell_class(2)], stateful=True)
    layer(tensor(SEQUENCE))
    assert_close(layer(tensor(SEQUENCE)), expected)


def test_return_state_of_stacked_lstm_cells_is_one_pair_per_cell():
    layer = layers.RNN([layers.LSTMCell(10), layers.LSTMCell(10)], return_state=True)
    out = layer(torch.zeros(2, 3, 5))
    assert len(out) == 3 and tuple(out[0].shape) == (2, 10)
    assert [tuple(s.shape) for s in out[1] + out[2]] == [(2, 10)] * 4
    shape = layer.compute_output_shape((2, 3, 5))
    assert shape[0] == (2, 10)
    assert [tuple(s) for s in shape[1] + shape[2]] == [(2, 10)] * 4


def test_stacked_lstm_cells_respect_the_mask():
    cells = [layers.LSTMCell(units=1, kernel_initializer="ones", recurrent_initializer="ones") for _ in range(2)]
    mask = torch.tensor([[True, True, True], [True, True, False]])
    output = layers.RNN(cells)(torch.ones(2, 3, 4), mask=mask)
    assert_close(output, [[0.7793], [0.5998]], atol=1e-4)
