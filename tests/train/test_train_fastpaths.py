"""The training loop's fast paths: small steps on one thread, with the same results."""
import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import layers
from rnnkit.train import trainer


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def sine_model(seen_threads):
    """SimpleRNN(8) -> Dense(1) whose loss notes the thread count it runs under."""
    torch.manual_seed(0)
    model = rnnkit.Sequential([rnnkit.Input(shape=(10, 1)), layers.SimpleRNN(8), layers.Dense(1)])

    def mse_noting_threads(y_true, y_pred):
        seen_threads.append(torch.get_num_threads())
        return ((y_true - y_pred) ** 2).mean()

    model.compile(optimizer="adam", loss=mse_noting_threads)
    return model


def sine_data():
    wave = np.sin(np.arange(40, dtype=np.float32) * 0.3)
    x = np.stack([wave[i : i + 10] for i in range(30)])[:, :, None]
    return x, wave[10:40, None]


def test_small_training_steps_run_on_one_thread_and_the_count_is_restored(two_threads):
    seen = []
    sine_model(seen).fit(*sine_data(), batch_size=1, epochs=1, verbose=0)
    assert seen and set(seen) == {1}
    assert torch.get_num_threads() == 2


def test_train_on_batch_runs_a_small_step_on_one_thread(two_threads):
    seen = []
    x, y = sine_data()
    sine_model(seen).train_on_batch(x[:1], y[:1])
    assert seen == [1]
    assert torch.get_num_threads() == 2


def test_steps_above_the_small_step_work_keep_every_thread(two_threads, monkeypatch):
    monkeypatch.setattr(trainer, "SMALL_STEP_WORK", 10)
    seen = []
    sine_model(seen).fit(*sine_data(), batch_size=4, epochs=1, verbose=0)
    assert seen and set(seen) == {2}


def test_one_thread_steps_give_the_weights_of_the_multithreaded_steps(two_threads, monkeypatch):
    single = sine_model([])
    single.fit(*sine_data(), batch_size=2, epochs=2, verbose=0, shuffle=False)
    monkeypatch.setattr(trainer, "SMALL_STEP_WORK", 0)
    multi = sine_model([])
    multi.fit(*sine_data(), batch_size=2, epochs=2, verbose=0, shuffle=False)
    for a, b in zip(single.get_weights(), multi.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_the_thread_count_is_restored_when_a_step_fails(two_threads):
    model = sine_model([])

    def failing_loss(y_true, y_pred):
        raise RuntimeError("loss failed")

    model.compile(optimizer="adam", loss=failing_loss)
    x, y = sine_data()
    with pytest.raises(RuntimeError, match="loss failed"):
        model.train_on_batch(x[:1], y[:1])
    assert torch.get_num_threads() == 2
