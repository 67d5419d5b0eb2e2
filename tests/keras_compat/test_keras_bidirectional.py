"""Keras's keras/src/layers/rnn/bidirectional_test.py, re-expressed for rnnkit: merge modes, custom
backward layers, statefulness, initial and returned states, masks, compute_output_shape and
use_cudnn kept on both directions, with Keras's numbers."""
import pytest
import torch
from keras_layer_test import assert_close, run_layer_test
from recurrent_cases import CONSTANTS, arange, per_unit

from rnnkit import layers
from rnnkit.layers import initializers


def test_basics_concat_and_custom_backward_layer_with_sum():
    run_layer_test(layers.Bidirectional, {"layer": layers.SimpleRNN(4)}, (3, 2, 4), (3, 8), trainable_weights=6)
    run_layer_test(
        layers.Bidirectional,
        {"layer": layers.SimpleRNN(4), "backward_layer": layers.SimpleRNN(4, go_backwards=True), "merge_mode": "sum"},
        (3, 2, 4), (3, 4), trainable_weights=6,
    )


FORWARD, BACKWARD = [0.39687276, 0.7237238], [0.10004295, 0.53391594]


def test_merge_modes_give_keras_values():
    x, forward_layer = arange(2, 3, 4), layers.SimpleRNN(2, **CONSTANTS)
    concat = torch.cat([torch.as_tensor(per_unit(FORWARD, 2)), torch.as_tensor(per_unit(BACKWARD, 2))], -1)
    assert_close(layers.Bidirectional(forward_layer)(x), concat.numpy(), atol=1e-5, rtol=1e-5)
    assert_close(layers.Bidirectional(forward_layer, merge_mode="ave")(x), per_unit([0.24845785, 0.6288199], 2),
                 atol=1e-5, rtol=1e-5)
    output_1, output_2 = layers.Bidirectional(forward_layer, merge_mode=None)(x)
    assert_close(output_1, per_unit(FORWARD, 2), atol=1e-5, rtol=1e-5)
    assert_close(output_2, per_unit(BACKWARD, 2), atol=1e-5, rtol=1e-5)
    backward_layer = layers.SimpleRNN(
        2, kernel_initializer=initializers.Constant(0.03), recurrent_initializer=initializers.Constant(0.02),
        bias_initializer=initializers.Constant(0.01), go_backwards=True,
    )
    layer = layers.Bidirectional(forward_layer, backward_layer=backward_layer, merge_mode="mul")
    assert_close(layer(x), per_unit([0.08374989, 0.6740834], 2), atol=1e-5, rtol=1e-5)


def test_sum_of_returned_sequences_gives_keras_values():
    layer = layers.Bidirectional(layers.GRU(2, return_sequences=True, **CONSTANTS), merge_mode="sum")
    expected = [[0.20937867, 0.34462988, 0.40290534], [0.59829646, 0.6734641, 0.6479671]]
    assert_close(layer(arange(2, 3, 4)), per_unit(expected, 2), atol=1e-5, rtol=1e-5)


def test_statefulness_and_reset_state():
    layer = layers.Bidirectional(layers.LSTM(2, stateful=True, **CONSTANTS))
    expected = [[0.26234663, 0.26234663, 0.16959146, 0.16959146], [0.6137073, 0.6137073, 0.5381646, 0.5381646]]
    for _ in range(2):
        layer(arange(2, 4, 3))
        assert_close(layer(arange(2, 4, 3)), expected, atol=1e-5, rtol=1e-5)
        layer.reset_state()


def test_pass_initial_state_forward_then_backward():
    states = [arange(2, 2) * k for k in (1, 2, 3, 4)]
    output = layers.Bidirectional(layers.LSTM(2, **CONSTANTS))(arange(2, 4, 3), initial_state=states)
    assert_close(output, [[0.20794602, 0.4577124, 0.14046375, 0.48191673], [0.6682636, 0.6711909, 0.60943645, 0.60950446]],
                 atol=1e-5, rtol=1e-5)


def test_masking_gives_keras_values():
    mask = torch.tensor([[True, True, False, True], [True, False, False, True]])
    output = layers.Bidirectional(layers.GRU(2, **CONSTANTS))(arange(2, 4, 3), mask=mask)
    assert_close(output, [[0.19393763, 0.19393763, 0.11669192, 0.11669192], [0.30818558, 0.30818558, 0.28380975, 0.28380975]],
                 atol=1e-5, rtol=1e-5)


def test_return_state_gives_both_directions_states():
    output, h1, c1, h2, c2 = layers.Bidirectional(layers.LSTM(2, return_state=True, **CONSTANTS))(arange(2, 4, 3))
    assert_close(output, [[0.1990008, 0.1990008, 0.12659755, 0.12659755], [0.52335435, 0.52335435, 0.44717982, 0.44717982]],
                 atol=1e-5, rtol=1e-5)
    assert_close(h1, per_unit([0.1990008, 0.52335435], 2), atol=1e-5, rtol=1e-5)
    assert_close(c1, per_unit([0.35567185, 1.0492687], 2), atol=1e-5, rtol=1e-5)
    assert_close(h2, per_unit([0.12659755, 0.44717982], 2), atol=1e-5, rtol=1e-5)
    assert_close(c2, per_unit([0.2501858, 0.941473], 2), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("merge_mode", ["ave", "concat", "mul", "sum", None])
@pytest.mark.parametrize("return_state", [False, True])
def test_compute_output_shape_matches_the_outputs(merge_mode, return_state):
    x = torch.tensor([[[101.0, 202.0], [303.0, 404.0]]])
    layer = layers.Bidirectional(layers.LSTM(2, return_state=return_state), merge_mode=merge_mode)
    output = layer(x)
    shapes = layer.compute_output_shape(tuple(x.shape))
    if isinstance(output, torch.Tensor):
        assert tuple(output.shape) == shapes
    else:
        assert [tuple(o.shape) for o in output] == list(shapes)


@pytest.mark.parametrize("rnn_class", [layers.GRU, layers.LSTM])
@pytest.mark.parametrize("use_cudnn", [True, False, "auto"])
def test_keeps_use_cudnn_on_both_directions(rnn_class, use_cudnn):
    layer = layers.Bidirectional(rnn_class(1, use_cudnn=use_cudnn))
    assert layer.forward_layer.use_cudnn == use_cudnn and layer.backward_layer.use_cudnn == use_cudnn


def test_simple_rnn_has_no_use_cudnn():
    layer = layers.Bidirectional(layers.SimpleRNN(1))
    assert not hasattr(layer.forward_layer, "use_cudnn") and not hasattr(layer.backward_layer, "use_cudnn")


@pytest.mark.parametrize("rnn_class", [layers.LSTM, layers.GRU])
def test_built_without_a_call_with_seeded_weights_any_use_cudnn_gives_the_same_output(rnn_class):
    x = torch.randn(3, 6, 4, generator=torch.Generator().manual_seed(0))

    def build(use_cudnn):
        layer = layers.Bidirectional(rnn_class(
            5, use_cudnn=use_cudnn, return_sequences=True,
            kernel_initializer=initializers.GlorotUniform(seed=1), recurrent_initializer=initializers.Orthogonal(seed=2),
        ))
        layer.build(tuple(x.shape))
        return layer

    torch.testing.assert_close(build(False)(x), build("auto")(x), atol=1e-5, rtol=0)
