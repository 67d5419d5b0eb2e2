"""Orders of calls Keras allows: predict() before fit(), and generators whose first batch is
peeked at to build the model and still trained on."""
import numpy as np
import pytest

import rnnkit
from rnnkit import layers


def _data(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 5, 3)).astype("float32"), rng.random((n, 1)).astype("float32")


def test_predict_on_an_unbuilt_model_then_fit_trains():
    x, y = _data()
    model = rnnkit.Sequential([layers.LSTM(4), layers.Dense(1)])
    before = model.predict(x, verbose=0)
    model.compile("adam", "mse")
    model.fit(x, y, epochs=2, verbose=0)
    assert not np.allclose(model.predict(x, verbose=0), before)


class _Counting:
    """A generator of (x, y) batches that counts what was taken from it."""

    def __init__(self, batches):
        self.taken = 0
        self._batches = iter(batches)

    def __iter__(self):
        return self

    def __next__(self):
        item = next(self._batches)
        self.taken += 1
        return item


@pytest.mark.parametrize("method", ["fit", "evaluate"])
def test_generator_first_batch_builds_the_model_and_is_still_used(method, monkeypatch):
    x, y = _data(16)
    batches = [(x[i:i + 4], y[i:i + 4]) for i in range(0, 16, 4)]
    model = rnnkit.Sequential([layers.GRU(3), layers.Dense(1)])
    model.compile("sgd", "mse")
    seen = []
    step = "train_step" if method == "fit" else "test_step"
    original = getattr(type(model), step)
    monkeypatch.setattr(type(model), step, lambda self, bx, by, bw=None: (seen.append(bx.shape[0]),
                                                                       original(self, bx, by, bw))[1])
    source = _Counting(batches)
    getattr(model, method)(source, verbose=0)
    assert source.taken == 4
    assert seen == [4, 4, 4, 4]
