"""Keras's keras/src/layers/rnn/time_distributed_test.py, re-expressed for rnnkit: shapes and weights,
values with a constant Dense, the mask passed to the wrapped layer, training with an
Embedding(mask_zero=True) in front, and the mask shape checks."""
import numpy as np
import pytest
import torch
from keras_layer_test import assert_close, run_layer_test

import rnnkit
from rnnkit import layers
from rnnkit.layers import initializers


def test_basics():
    run_layer_test(
        layers.TimeDistributed, {"layer": layers.Dense(1, use_bias=False)}, (3, 2, 4), (3, 2, 1), trainable_weights=1,
    )


def test_correctness_with_a_constant_dense():
    layer = layers.TimeDistributed(layers.Dense(1, kernel_initializer=initializers.Constant(0.01), use_bias=False))
    output = layer(torch.arange(24, dtype=torch.float32).reshape(3, 2, 4))
    assert_close(output, [[[0.06], [0.22]], [[0.38], [0.54]], [[0.7], [0.86]]])


class MaskedDense(layers.Layer):
    """Keras's test wrapper: a constant Dense whose outputs are zeroed where the mask is False."""

    supports_masking = True

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(units, kernel_initializer=initializers.Constant(0.01), use_bias=False)

    def call(self, inputs, training=False, mask=None):
        unmasked = self.dense(inputs)
        return unmasked if mask is None else unmasked * mask.to(inputs.dtype).unsqueeze(-1)


def test_mask_reaches_the_wrapped_layer():
    mask = torch.tensor([[False, True], [True, False], [True, True]])
    output = layers.TimeDistributed(MaskedDense(1))(torch.arange(24, dtype=torch.float32).reshape(3, 2, 4), mask=mask)
    assert_close(output, [[[0.0], [0.22]], [[0.38], [0.0]], [[0.7], [0.86]]])


def test_trains_behind_an_embedding_with_mask_zero():
    model = rnnkit.Sequential([
        rnnkit.Input(shape=(20,)),
        layers.Embedding(input_dim=10, output_dim=5, mask_zero=True),
        layers.TimeDistributed(layers.Dense(units=5, activation="softmax")),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    history = model.fit(rng.integers(1, 10, size=(22, 20)), rng.integers(1, 2, size=(22, 20)), epochs=1,
                        batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("mask_shape", [(4, 5), (4, 5, 1), (4, 5, 2)])
def test_mask_with_matching_batch_and_steps_is_accepted(mask_shape):
    layer = layers.TimeDistributed(layers.Dense(units=5, activation="softmax"))
    assert tuple(layer(torch.zeros(4, 5, 3), mask=torch.ones(mask_shape, dtype=torch.bool)).shape) == (4, 5, 5)
    assert tuple(layer(torch.zeros(4, 5, 3), mask=None).shape) == (4, 5, 5)


@pytest.mark.parametrize("mask_shape", [(4, 6), (5, 5), (5, 6), (4, 6, 2)])
def test_mask_with_other_batch_or_steps_raises(mask_shape):
    layer = layers.TimeDistributed(layers.Dense(units=5, activation="softmax"))
    with pytest.raises(ValueError, match="TimeDistributed.*mask"):
        layer(torch.zeros(4, 5, 3), mask=torch.ones(mask_shape, dtype=torch.bool))
