"""Keras's keras/src/layers/rnn/simple_rnn_test.py, re-expressed for rnnkit: SimpleRNN shapes,
weights, losses, and its outputs with constant weights (plain, unrolled, backwards, stateful,
initial state, masked), to Keras's numbers."""
import pytest
import torch
from keras_layer_test import assert_close, run_layer_test
from recurrent_cases import CONSTANTS, arange, per_unit

from rnnkit import layers


def test_basics_with_dropout_in_training():
    run_layer_test(
        layers.SimpleRNN, {"units": 3, "dropout": 0.5, "recurrent_dropout": 0.5}, (3, 2, 4), (3, 3),
        trainable_weights=3, call_kwargs={"training": True},
    )


def test_basics_with_regularizers_give_one_loss_each():
    run_layer_test(
        layers.SimpleRNN,
        {"units": 3, "return_sequences": True, "bias_regularizer": "l1", "kernel_regularizer": "l2",
         "recurrent_regularizer": "l2"},
        (3, 2, 4), (3, 2, 3), trainable_weights=3, losses=3,
    )


@pytest.mark.parametrize(
    "options, expected",
    [({}, [0.405432, 0.73605347]), ({"unroll": True}, [0.405432, 0.73605347]),
     ({"go_backwards": True}, [0.11144729, 0.5528889]), ({"go_backwards": True, "unroll": True}, [0.11144729, 0.5528889])],
)
def test_correctness_with_constant_weights(options, expected):
    output = layers.SimpleRNN(4, **CONSTANTS, **options)(arange(2, 3, 4))
    assert_close(output, per_unit(expected, 4), atol=1e-6)


def test_statefulness_and_reset_state():
    layer = layers.SimpleRNN(4, stateful=True, **CONSTANTS)
    for _ in range(2):
        layer(arange(2, 3, 4))
        assert_close(layer(arange(2, 3, 4)), per_unit([0.40559256, 0.7361247], 4), atol=1e-6)
        layer.reset_state()


@pytest.mark.parametrize("go_backwards, expected", [(False, [0.33621645, 0.6262637]), (True, [0.07344437, 0.43043602])])
def test_pass_initial_state(go_backwards, expected):
    layer = layers.SimpleRNN(4, go_backwards=go_backwards, **CONSTANTS)
    assert_close(layer(arange(2, 4, 3), initial_state=arange(2, 4)), per_unit(expected, 4), atol=1e-6)


MASK = torch.tensor([[True, True, False, True], [True, False, False, True]])


def test_masking_last_output():
    assert_close(
        layers.SimpleRNN(4, unroll=True, **CONSTANTS)(arange(2, 4, 3), mask=MASK),
        per_unit([0.32951632, 0.61799484], 4), atol=1e-6,
    )
    assert_close(
        layers.SimpleRNN(4, go_backwards=True, **CONSTANTS)(arange(2, 4, 3), mask=MASK),
        per_unit([0.07376196, 0.43645123], 4), atol=1e-6,
    )


@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_masking_sequences_repeat_or_zero_masked_steps(zero_output_for_mask):
    layer = layers.SimpleRNN(2, return_sequences=True, zero_output_for_mask=zero_output_for_mask, **CONSTANTS)
    output = layer(arange(2, 4, 3), mask=MASK)
    first = [0.0599281, 0.15122814, 0.0 if zero_output_for_mask else 0.15122814, 0.32394567]
    second = [0.3969304] + [0.0 if zero_output_for_mask else 0.3969304] * 2 + [0.608085]
    assert_close(output, per_unit([first, second], 2), atol=1e-6)
