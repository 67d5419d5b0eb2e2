"""Keras's keras/src/layers/rnn/rnn_test.py, re-expressed for rnnkit: RNN(cell) with custom cells of
one and two states; shapes, compute_output_shape, forward values, initial states, statefulness,
go_backwards, masking and serialization, with Keras's expected numbers."""
import numpy as np
import pytest
import torch
from keras_layer_test import OneStateRNNCell, TwoStatesRNNCell, assert_close, run_layer_test, tensor

from rnnkit import layers


@pytest.mark.parametrize(
    "cell_factory, extra, expected",
    [
        (lambda: OneStateRNNCell(5, state_size=5), {}, (3, 5)),
        (lambda: OneStateRNNCell(5, state_size=[5]), {}, (3, 5)),
        (lambda: OneStateRNNCell(5, state_size=(5,)), {}, (3, 5)),
        (lambda: OneStateRNNCell(5), {"return_sequences": True}, (3, 2, 5)),
        (lambda: OneStateRNNCell(5), {"go_backwards": True, "unroll": True}, (3, 5)),
        (lambda: TwoStatesRNNCell(5, state_size=[5, 5]), {}, (3, 5)),
        (lambda: TwoStatesRNNCell(5, state_size=(5, 5)), {}, (3, 5)),
        (lambda: TwoStatesRNNCell(5), {"return_sequences": True}, (3, 2, 5)),
    ],
)
def test_basics_give_keras_shapes_weight_counts_and_config_round_trip(cell_factory, extra, expected):
    cell = cell_factory()
    run_layer_test(
        layers.RNN, {"cell": cell, **extra}, (3, 2, 4), expected,
        trainable_weights=3 if isinstance(cell, TwoStatesRNNCell) else 2,
    )


@pytest.mark.parametrize("cell_class, n_states", [(OneStateRNNCell, 1), (TwoStatesRNNCell, 2)])
@pytest.mark.parametrize("batch, steps", [(3, 4), (None, None)])
def test_compute_output_shape_for_every_return_option(cell_class, n_states, batch, steps):
    shape = (batch, steps, 5)
    assert layers.RNN(cell_class(8)).compute_output_shape(shape) == (batch, 8)
    assert layers.RNN(cell_class(8), return_sequences=True).compute_output_shape(shape) == (batch, steps, 8)
    out = layers.RNN(cell_class(8), return_state=True).compute_output_shape(shape)
    assert out == ((batch, 8),) + ((batch, 8),) * n_states
    out = layers.RNN(cell_class(8), return_sequences=True, return_state=True).compute_output_shape(shape)
    assert out == ((batch, steps, 8),) + ((batch, 8),) * n_states


def test_forward_pass_single_state_gives_keras_values():
    x = tensor(np.ones((1, 2, 3)))
    assert_close(layers.RNN(OneStateRNNCell(2))(x), [[9.0, 9.0]])
    assert_close(layers.RNN(OneStateRNNCell(2), return_sequences=True)(x), [[[3.0, 3.0], [9.0, 9.0]]])
    output, state = layers.RNN(OneStateRNNCell(2), return_state=True)(x)
    assert_close(output, [[9.0, 9.0]])
    assert_close(state, [[9.0, 9.0]])
    output, state = layers.RNN(OneStateRNNCell(2), return_sequences=True, return_state=True)(x)
    assert_close(output, [[[3.0, 3.0], [9.0, 9.0]]])
    assert_close(state, [[9.0, 9.0]])


def test_forward_pass_two_states_gives_keras_values():
    x = tensor(np.ones((1, 2, 3)))
    assert_close(layers.RNN(TwoStatesRNNCell(2))(x), [[18.0, 18.0]])
    assert_close(layers.RNN(TwoStatesRNNCell(2), return_sequences=True)(x), [[[6.0, 6.0], [18.0, 18.0]]])
    output, state_1, state_2 = layers.RNN(TwoStatesRNNCell(2), return_sequences=True, return_state=True)(x)
    assert_close(output, [[[6.0, 6.0], [18.0, 18.0]]])
    assert_close(state_1, [[9.0, 9.0]])
    assert_close(state_2, [[9.0, 9.0]])


def test_initial_state_single_state_gives_keras_values():
    x, state = tensor(np.ones((2, 3, 2))), tensor(np.ones((2, 2)))
    assert_close(layers.RNN(OneStateRNNCell(2))(x, initial_state=state), [[22.0, 22.0]] * 2)
    output, final = layers.RNN(OneStateRNNCell(2), return_state=True)(x, initial_state=state)
    assert_close(output, [[22.0, 22.0]] * 2)
    assert_close(final, [[22.0, 22.0]] * 2)


def test_initial_state_two_states_gives_keras_values():
    x, states = tensor(np.ones((2, 3, 2))), [tensor(np.ones((2, 2))), tensor(np.ones((2, 2)))]
    assert_close(layers.RNN(TwoStatesRNNCell(2))(x, initial_state=states), [[44.0, 44.0]] * 2)
    output, state_1, state_2 = layers.RNN(TwoStatesRNNCell(2), return_state=True)(x, initial_state=states)
    assert_close(output, [[44.0, 44.0]] * 2)
    assert_close(state_1, [[22.0, 22.0]] * 2)
    assert_close(state_2, [[22.0, 22.0]] * 2)


def test_statefulness_carries_states_into_the_next_call():
    x = tensor(np.ones((1, 2, 3)))
    layer = layers.RNN(OneStateRNNCell(2), stateful=True, return_state=True)
    layer(x)
    output, state = layer(x)
    assert_close(output, [[45.0, 45.0]])
    assert_close(state, [[45.0, 45.0]])
    layer = layers.RNN(TwoStatesRNNCell(2), stateful=True, return_state=True)
    layer(x)
    output, state_1, state_2 = layer(x)
    assert_close(output, [[90.0, 90.0]])
    assert_close(state_1, [[45.0, 45.0]])
    assert_close(state_2, [[45.0, 45.0]])


def test_go_backwards_and_stateful_give_keras_values():
    x = tensor(np.arange(24).reshape((2, 3, 4)))
    layer = layers.RNN(OneStateRNNCell(2), go_backwards=True)
    layer(x)
    assert_close(layer(x), [[202.0, 202.0], [538.0, 538.0]])
    layer = layers.RNN(OneStateRNNCell(2), stateful=True, return_state=True)
    layer(x)
    output, state = layer(x)
    assert_close(output, [[954.0, 954.0], [3978.0, 3978.0]])
    assert_close(state, [[954.0, 954.0], [3978.0, 3978.0]])


def test_serialization_round_trips_custom_cells_without_their_own_get_config():
    for cell in (TwoStatesRNNCell(2), OneStateRNNCell(2)):
        layer = layers.RNN(cell)
        rebuilt = layers.RNN.from_config(layer.get_config())
        assert rebuilt.get_config() == layer.get_config()
        assert type(rebuilt.cell) is type(cell) and rebuilt.cell.units == 2


def test_stateful_batch_size_mismatch_raises():
    layer = layers.RNN(TwoStatesRNNCell(2), stateful=True)
    layer(torch.rand(4, 5, 3))
    with pytest.raises(ValueError, match="batch size"):
        layer(torch.rand(1, 5, 3))


@pytest.mark.parametrize("unroll", [False, True])
def test_masking_keeps_the_last_unmasked_output(unroll):
    x = tensor(np.arange(24).reshape((2, 4, 3)))
    mask = torch.tensor([[True, True, True, False], [True, True, False, False]])
    assert_close(layers.RNN(OneStateRNNCell(2), unroll=unroll)(x, mask=mask), [[57.0, 57.0], [126.0, 126.0]])
    output = layers.RNN(OneStateRNNCell(2), return_sequences=True, unroll=unroll)(x, mask=mask)
    assert_close(
        output,
        [[[3.0, 3.0], [18.0, 18.0], [57.0, 57.0], [57.0, 57.0]],
         [[39.0, 39.0], [126.0, 126.0], [126.0, 126.0], [126.0, 126.0]]],
    )
