"""Helpers shared by the tests that compare rnnkit layers with Keras's own."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402


def to_numpy(x):
    """A torch tensor (ours) or a Keras tensor as numpy."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return keras.ops.convert_to_numpy(x)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def matched_pair(ours, theirs, x):
    """Builds both layers on `x` and copies Keras's weights into ours."""
    theirs(x)
    ours(torch.as_tensor(x))
    ours.set_weights(theirs.get_weights())
    return ours, theirs
