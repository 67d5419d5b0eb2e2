"""What Keras's `testing.TestCase.run_layer_test` checks, for rnnkit layers, and the custom cells of
Keras's rnn_test.py written against rnnkit (all-ones weights, so the expected numbers are exact)."""
import json

import numpy as np
import torch

from rnnkit import layers


def tensor(x):
    return torch.as_tensor(np.asarray(x), dtype=torch.float32)


def assert_close(actual, expected, atol=1e-6, rtol=1e-6):
    actual = actual.detach().numpy() if isinstance(actual, torch.Tensor) else np.asarray(actual)
    np.testing.assert_allclose(actual, np.asarray(expected, dtype="float32"), atol=atol, rtol=rtol)


def shapes_of(outputs):
    if isinstance(outputs, (list, tuple)):
        return [shapes_of(o) for o in outputs]
    return tuple(outputs.shape)


def as_lists(shapes):
    return [as_lists(s) for s in shapes] if isinstance(shapes, (list, tuple)) and not all(
        isinstance(d, int) or d is None for d in shapes
    ) else tuple(shapes)


def run_layer_test(
    cls,
    init_kwargs,
    input_shape,
    expected_output_shape,
    trainable_weights=None,
    non_trainable_weights=0,
    call_kwargs=None,
    losses=None,
    supports_masking=None,
    input_dtype=torch.float32,
):
    """Builds `cls(**init_kwargs)` on a random input of `input_shape` and checks, as Keras does: the
    output shape, that compute_output_shape() predicts it, the weight counts, the number of losses,
    supports_masking, and that the config survives JSON and from_config() unchanged."""
    layer = cls(**init_kwargs)
    config = json.loads(json.dumps(layer.get_config()))  # as saved: tuples become lists
    rebuilt = cls.from_config(config)
    assert json.loads(json.dumps(rebuilt.get_config())) == config
    generator = torch.Generator().manual_seed(0)
    if input_dtype.is_floating_point:
        x = torch.randn(*input_shape, generator=generator, dtype=input_dtype)
    else:  # token ids, in range for an Embedding of init_kwargs["input_dim"]
        x = torch.randint(0, init_kwargs["input_dim"], input_shape, generator=generator, dtype=input_dtype)
    outputs = layer(x, **(call_kwargs or {}))
    assert as_lists(shapes_of(outputs)) == as_lists(expected_output_shape)
    assert as_lists(layer.compute_output_shape(input_shape)) == as_lists(expected_output_shape)
    if trainable_weights is not None:
        assert len(layer.trainable_weights) == trainable_weights
    assert len(layer.non_trainable_weights) == non_trainable_weights
    if losses is not None:
        assert len(layer.losses) == losses
    if supports_masking is not None:
        assert layer.supports_masking == supports_masking
    return layer


@layers.register_serializable
class OneStateRNNCell(layers.Layer):
    """Keras's rnn_test cell: one state, output = x @ 1 + h @ 1."""

    def __init__(self, units, state_size=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = state_size if state_size else units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="ones",
                                                name="recurrent_kernel")

    def call(self, inputs, states):
        output = inputs @ self.kernel + states[0] @ self.recurrent_kernel
        return output, [output]


@layers.register_serializable
class TwoStatesRNNCell(layers.Layer):
    """Keras's rnn_test cell with two states (both read from the first, as in Keras's test)."""

    def __init__(self, units, state_size=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = state_size if state_size else [units, units]
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones", name="kernel")
        self.recurrent_kernel_1 = self.add_weight(shape=(self.units, self.units), initializer="ones",
                                                  name="recurrent_kernel_1")
        self.recurrent_kernel_2 = self.add_weight(shape=(self.units, self.units), initializer="ones",
                                                  name="recurrent_kernel_2")

    def call(self, inputs, states):
        h = inputs @ self.kernel
        output_1 = h + states[0] @ self.recurrent_kernel_1
        output_2 = h + states[0] @ self.recurrent_kernel_2
        return output_1 + output_2, [output_1, output_2]
