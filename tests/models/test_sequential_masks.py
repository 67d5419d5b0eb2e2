"""Sequential's shape inference passes masks on, so a layer that needs its mask gets one."""
import numpy as np
import torch

import rnnkit
from rnnkit import layers


class MaskedMean(layers.Layer):
    """Mean over the valid steps; refuses to run without a mask."""

    supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            raise ValueError("MaskedMean needs the mask of its input")
        weights = mask.unsqueeze(-1).to(inputs.dtype)
        return (inputs * weights).sum(1) / weights.sum(1).clamp_min(1.0)

    def compute_mask(self, inputs, mask=None):
        return None


def test_layer_needing_a_mask_gets_one_while_sequential_infers_shapes():
    model = rnnkit.Sequential([rnnkit.Input((None,), dtype="int32"), layers.Embedding(10, 4, mask_zero=True),
                               MaskedMean(), layers.Dense(2)])
    assert model.output_shape == (None, 2)
    x = np.array([[1, 2, 0, 0]])
    embedded = model.layers[0](torch.as_tensor(x)).detach()
    expected = model.layers[2](embedded[:, :2].mean(1)).detach().numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-6)
