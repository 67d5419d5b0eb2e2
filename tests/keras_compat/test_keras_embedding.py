"""Keras's keras/src/layers/core/embedding_test.py, re-expressed for rnnkit: shapes and masking
support, values after setting the table, compute_mask, constraints, argument checks and the
`weights=` constructor argument. (Quantization, LoRA, sparse and ragged inputs: see README.)"""
import numpy as np
import pytest
import torch
from keras_layer_test import assert_close, run_layer_test

from rnnkit import layers
from rnnkit.layers import constraints


def test_basics():
    run_layer_test(layers.Embedding, {"input_dim": 4, "output_dim": 3}, (2,), (2, 3), trainable_weights=1, losses=0,
                   supports_masking=False, input_dtype=torch.int32)
    run_layer_test(layers.Embedding, {"input_dim": 5, "output_dim": 4, "mask_zero": True}, (2, 3), (2, 3, 4),
                   trainable_weights=1, losses=0, supports_masking=True, input_dtype=torch.int64)


def test_correctness_after_build_without_a_shape():
    layer = layers.Embedding(input_dim=3, output_dim=2)
    layer.build()
    layer.set_weights([np.array([[0.0, 0.0], [2.0, 2.0], [3.0, 3.0]])])
    assert_close(layer(torch.tensor([2, 1, 0])), [[3.0, 3.0], [2.0, 2.0], [0.0, 0.0]])


def test_compute_mask_with_and_without_mask_zero():
    ids = torch.tensor([2, 1, 0])
    assert layers.Embedding(3, 2, mask_zero=True).compute_mask(ids).tolist() == [True, True, False]
    assert layers.Embedding(3, 2, mask_zero=False).compute_mask(ids) is None


def test_embedding_constraint_by_name():
    layer = layers.Embedding(3, 2, embeddings_constraint="non_neg")
    layer.build((None, 2))
    assert isinstance(layer.embeddings_constraint, constraints.NonNeg)


@pytest.mark.parametrize("argument", ["input_dim", "output_dim"])
@pytest.mark.parametrize("bad", [3.7, 4.0, "3", None, True, False, -1, 0])
def test_invalid_dimensions_raise(argument, bad):
    kwargs = {"input_dim": 10, "output_dim": 8, argument: bad}
    with pytest.raises(ValueError, match=f"`{argument}` must be a positive integer"):
        layers.Embedding(**kwargs)
    with pytest.raises(ValueError, match=f"`{argument}` must be a positive integer"):
        layers.Embedding.from_config(kwargs)


@pytest.mark.parametrize("weights", [np.ones((3, 4)), [np.ones((3, 4))]])
def test_weights_constructor_argument(weights):
    layer = layers.Embedding(3, 4, weights=weights)
    assert layer.built
    np.testing.assert_array_equal(layer.embeddings.detach().numpy(), np.ones((3, 4)))
