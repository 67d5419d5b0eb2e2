"""Keras's keras/src/layers/core/masking_test.py, re-expressed for rnnkit: Masking's shapes and
config, the mask it computes reaching the next layer's call, and a Masking + LSTM model that
saves, loads and gives the same output."""
import numpy as np
import torch
from keras_layer_test import run_layer_test

import rnnkit
from rnnkit import layers

X = torch.tensor([[[0.0, 0.0], [1.0, 2.0], [0.0, 0.0]], [[2.0, 2.0], [0.0, 0.0], [2.0, 1.0]]])
EXPECTED_MASK = [[False, True, False], [True, False, True]]


def test_basics_built_at_instantiation():
    layer = run_layer_test(layers.Masking, {"mask_value": 0.0}, (2, 3, 2), (2, 3, 2), trainable_weights=0, losses=0,
                           supports_masking=True)
    assert layers.Masking(mask_value=0.0).built and layer.built


def test_mask_reaches_the_next_layers_call():
    assert layers.Masking(mask_value=0.0).compute_mask(X).tolist() == EXPECTED_MASK
    seen = []

    class RecordMask(layers.Layer):
        supports_masking = True

        def call(self, inputs, mask=None):
            seen.append(mask)
            return inputs

    model = rnnkit.Sequential([layers.Masking(mask_value=0.0), RecordMask()])
    model(X)
    assert seen[0].tolist() == EXPECTED_MASK
    # Sequential's shape inference after that first call passes a mask too: a layer never gets None.
    assert len(seen) > 1 and all(mask is not None for mask in seen)
    seen.clear()
    model(X)
    assert [mask.tolist() for mask in seen] == [EXPECTED_MASK]


def test_masking_before_an_lstm_saves_and_loads(tmp_path):
    model = rnnkit.Sequential([layers.Masking(mask_value=0.0), layers.LSTM(1)])
    x = torch.tensor([[[1.0, 2.0], [0.0, 0.0], [0.0, 0.0]], [[2.0, 2.0], [2.0, 1.0], [0.0, 0.0]]])
    expected = model(x)
    rnnkit.save_model(model, tmp_path / "model.rnnkit")
    reloaded = rnnkit.load_model(tmp_path / "model.rnnkit")
    np.testing.assert_allclose(reloaded(x).detach().numpy(), expected.detach().numpy(), rtol=1e-6)
    # The masked steps change nothing: the last real step's output is the output.
    torch.testing.assert_close(model(x[:1, :1]), expected[:1])
