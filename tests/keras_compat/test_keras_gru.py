"""Keras's keras/src/layers/rnn/gru_test.py, re-expressed for rnnkit: GRU shapes, weights, losses,
and its outputs with constant weights for both `implementation` values (reset_after on and off),
statefulness, initial and returned states, masks and the legacy `implementation` config key."""
import pytest
import torch
from keras_layer_test import assert_close, run_layer_test
from recurrent_cases import CONSTANTS, arange, per_unit

from rnnkit import layers


@pytest.mark.parametrize("dropouts", [{"dropout": 0.5}, {"dropout": 0.5, "recurrent_dropout": 0.5}])
def test_basics_with_dropout_in_training(dropouts):
    run_layer_test(
        layers.GRU, {"units": 3, **dropouts}, (3, 2, 4), (3, 3), trainable_weights=3,
        call_kwargs={"training": True},
    )


def test_basics_with_regularizers_give_one_loss_each():
    run_layer_test(
        layers.GRU,
        {"units": 3, "return_sequences": True, "bias_regularizer": "l1", "kernel_regularizer": "l2",
         "recurrent_regularizer": "l2"},
        (3, 2, 4), (3, 2, 3), trainable_weights=3, losses=3,
    )


FORWARD = [0.5217289, 0.6371659, 0.39384964]


@pytest.mark.parametrize("implementation", [1, 2])
@pytest.mark.parametrize(
    "options, expected",
    [({}, FORWARD), ({"go_backwards": True}, [0.24406259, 0.611516, 0.3928808]), ({"unroll": True}, FORWARD),
     ({"reset_after": False}, [0.51447755, 0.6426879, 0.40208298]),
     ({"use_bias": False}, [0.49988455, 0.64701194, 0.4103359])],
)
def test_correctness_with_constant_weights(implementation, options, expected):
    layer = layers.GRU(3, implementation=implementation, **CONSTANTS, **options)
    assert_close(layer(arange(3, 6, 4)), per_unit(expected, 3), atol=1e-5, rtol=1e-5)


def test_statefulness_and_reset_state():
    layer = layers.GRU(4, stateful=True, **CONSTANTS)
    for _ in range(2):
        layer(arange(2, 3, 4))
        assert_close(layer(arange(2, 3, 4)), per_unit([0.29542392, 0.5885018], 4), atol=1e-5, rtol=1e-5)
        layer.reset_state()


@pytest.mark.parametrize(
    "go_backwards, expected",
    [(False, [[0.23774096, 0.33508456], [0.83659905, 1.0227708]]), (True, [[0.13486053, 0.23261218], [0.78257304, 0.9691353]])],
)
def test_pass_initial_state_and_return_state(go_backwards, expected):
    layer = layers.GRU(2, go_backwards=go_backwards, return_state=True, **CONSTANTS)
    output, state = layer(arange(2, 4, 3), initial_state=arange(2, 2))
    assert_close(output, expected, atol=1e-5, rtol=1e-5)
    assert_close(state, expected, atol=1e-5, rtol=1e-5)


MASK = torch.tensor([[True, True, False, True], [True, False, False, True]])


def test_masking_last_output_forwards_and_backwards():
    assert_close(
        layers.GRU(2, unroll=True, **CONSTANTS)(arange(2, 4, 3), mask=MASK),
        per_unit([0.19393763, 0.30818558], 2), atol=1e-5, rtol=1e-5,
    )
    assert_close(
        layers.GRU(2, go_backwards=True, **CONSTANTS)(arange(2, 4, 3), mask=MASK),
        per_unit([0.11669192, 0.28380975], 2), atol=1e-5, rtol=1e-5,
    )


@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_masking_sequences_repeat_or_zero_masked_steps(zero_output_for_mask):
    layer = layers.GRU(2, return_sequences=True, zero_output_for_mask=zero_output_for_mask, **CONSTANTS)
    output = layer(arange(2, 4, 3), mask=MASK)
    first = [0.03606692, 0.09497581, 0.0 if zero_output_for_mask else 0.09497581, 0.19393763]
    second = [0.16051409] + [0.0 if zero_output_for_mask else 0.16051409] * 2 + [0.30818558]
    assert_close(output, per_unit([first, second], 2), atol=1e-5, rtol=1e-5)


def test_legacy_implementation_argument_in_a_config_is_accepted():
    config = layers.GRU(3, **CONSTANTS).get_config()
    config["implementation"] = 0
    layer = layers.GRU.from_config(config)
    assert_close(layer(arange(3, 6, 4)), per_unit(FORWARD, 3), atol=1e-5, rtol=1e-5)


def test_stateful_backward_twice_through_the_carried_state():
    # Keras's test_stateful_backward (#23462): the carried state must not be a tensor that a later
    # in-place update invalidates for backward. Its cuDNN spy is CUDA-only; the behaviour holds here.
    layer = layers.GRU(5, stateful=True)
    x = torch.randn(2, 3, 4)
    for _ in range(2):
        layer(x, training=True).sum().backward()
    assert layer.cell.kernel.grad is not None and not layer.states[0].requires_grad
