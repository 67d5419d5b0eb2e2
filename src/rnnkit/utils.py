"""Small user-facing utilities."""
import random

import numpy as np
import torch


def set_random_seed(seed):
    """Seeds Python's, NumPy's and PyTorch's generators, so that two runs with the same seed build
    the same weights, draw the same dropout masks and shuffle the same way (as Keras's
    `keras.utils.set_random_seed`)."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an integer, got {seed!r}.")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
