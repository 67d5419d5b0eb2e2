"""Keras's keras/src/layers/rnn/lstm_test.py, re-expressed for rnnkit: LSTM shapes, weights, losses,
and its outputs with constant weights for both `implementation` values, statefulness, initial
states and masks, to Keras's numbers."""
import numpy as np
import pytest
import torch
from keras_layer_test import assert_close, run_layer_test
from recurrent_cases import CONSTANTS, arange, per_unit

from rnnkit import layers


@pytest.mark.parametrize("dropouts", [{"dropout": 0.5}, {"dropout": 0.5, "recurrent_dropout": 0.5}])
def test_basics_with_dropout_in_training(dropouts):
    run_layer_test(
        layers.LSTM, {"units": 3, **dropouts}, (3, 2, 4), (3, 3), trainable_weights=3,
        call_kwargs={"training": True},
    )


def test_basics_with_regularizers_give_one_loss_each():
    run_layer_test(
        layers.LSTM,
        {"units": 3, "return_sequences": True, "bias_regularizer": "l1", "kernel_regularizer": "l2",
         "recurrent_regularizer": "l2"},
        (3, 2, 4), (3, 2, 3), trainable_weights=3, losses=3,
    )


@pytest.mark.parametrize("implementation", [1, 2])
@pytest.mark.parametrize(
    "options, expected",
    [({}, [0.6288687, 0.86899155, 0.9460773]),
     ({"go_backwards": True}, [0.35622165, 0.74789524, 0.8872726]),
     ({"unroll": True}, [0.6288687, 0.86899155, 0.9460773]),
     ({"unit_forget_bias": False}, [0.57019705, 0.8661914, 0.9459622]),
     ({"use_bias": False}, [0.54986924, 0.86226785, 0.9443936])],
)
def test_correctness_with_constant_weights(implementation, options, expected):
    layer = layers.LSTM(3, implementation=implementation, **CONSTANTS, **options)
    assert_close(layer(arange(3, 6, 4)), per_unit(expected, 3), atol=1e-5, rtol=1e-5)


def test_statefulness_and_reset_state():
    layer = layers.LSTM(4, stateful=True, **CONSTANTS)
    for _ in range(2):
        layer(arange(2, 3, 4))
        assert_close(layer(arange(2, 3, 4)), per_unit([0.3124785, 0.6863672], 4), atol=1e-5, rtol=1e-5)
        layer.reset_state()


@pytest.mark.parametrize(
    "go_backwards, expected",
    [(False, [[0.20574439, 0.3558822], [0.64930826, 0.66276]]), (True, [[0.13281618, 0.2790356], [0.5839337, 0.5992567]])],
)
def test_pass_initial_state(go_backwards, expected):
    layer = layers.LSTM(2, go_backwards=go_backwards, **CONSTANTS)
    assert_close(layer(arange(2, 4, 3), initial_state=[arange(2, 2), arange(2, 2)]), expected, atol=1e-5, rtol=1e-5)


MASK = torch.tensor([[True, True, True, False], [True, True, False, False]])


def test_masking_last_output_forwards_and_backwards():
    assert_close(
        layers.LSTM(2, unroll=True, **CONSTANTS)(arange(2, 4, 3), mask=MASK),
        per_unit([0.11755939, 0.28556206], 2), atol=1e-5, rtol=1e-5,
    )
    backwards_mask = torch.tensor([[False, True, True, True], [False, False, True, True]])
    assert_close(
        layers.LSTM(2, go_backwards=True, **CONSTANTS)(arange(2, 4, 3), mask=backwards_mask),
        per_unit([0.15341201, 0.3844719], 2), atol=1e-5, rtol=1e-5,
    )


@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_masking_sequences_repeat_or_zero_masked_steps(zero_output_for_mask):
    layer = layers.LSTM(2, return_sequences=True, zero_output_for_mask=zero_output_for_mask, **CONSTANTS)
    output = layer(arange(2, 4, 3), mask=MASK)
    held = np.float32(0.0) if zero_output_for_mask else None
    first = [0.0158891, 0.05552048, 0.11755939, 0.11755939 if held is None else held]
    second = [0.14185596, 0.28556206] + [0.28556206 if held is None else held] * 2
    assert_close(output, per_unit([first, second], 2), atol=1e-5, rtol=1e-5)
