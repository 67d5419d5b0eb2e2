"""rnnkit.random has keras.random's seed semantics, and on the CPU its values."""
import numpy as np
import pytest
import torch

from rnnkit import random

keras = pytest.importorskip("keras")


@pytest.mark.parametrize("name, args", [("normal", ((3, 2),)), ("uniform", ((4,),)), ("truncated_normal", ((5,),)),
                                        ("randint", ((6,), 0, 9)), ("categorical", (np.zeros((2, 5), "float32"), 3))])
def test_int_seed_gives_keras_values(name, args):
    expected = keras.ops.convert_to_numpy(getattr(keras.random, name)(*args, seed=7))
    np.testing.assert_array_equal(getattr(random, name)(*args, seed=7).numpy(), expected)


def test_seed_generator_advances_like_keras():
    ours, theirs = random.SeedGenerator(3), keras.random.SeedGenerator(3)
    for _ in range(3):
        np.testing.assert_array_equal(random.uniform((2,), seed=ours).numpy(),
                                      keras.ops.convert_to_numpy(keras.random.uniform((2,), seed=theirs)))


def test_int_seed_is_stateless_and_generator_is_not():
    assert torch.equal(random.normal((4,), seed=1), random.normal((4,), seed=1))
    gen = random.SeedGenerator(1)
    assert not torch.equal(random.normal((4,), seed=gen), random.normal((4,), seed=gen))


def test_dropout_and_shuffle_match_keras_with_a_seed():
    x = torch.arange(24, dtype=torch.float32).reshape(6, 4)
    np.testing.assert_array_equal(random.dropout(x, 0.5, seed=2).numpy(),
                                  keras.ops.convert_to_numpy(keras.random.dropout(x, 0.5, seed=2)))
    np.testing.assert_array_equal(random.shuffle(x, seed=2).numpy(),
                                  keras.ops.convert_to_numpy(keras.random.shuffle(x, seed=2)))


def test_bad_seed_is_a_one_line_error():
    with pytest.raises(ValueError, match="seed must be an integer, a SeedGenerator or None"):
        random.normal((2,), seed="x")
