"""LossScaleOptimizer: Keras's dynamic loss scaling for float16 training."""
import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import layers, mixed_precision
from rnnkit.train.optimizers import SGD, Adam, LossScaleOptimizer, get_optimizer


def _wrapped(initial_scale=8.0, dynamic_growth_steps=2):
    w = torch.nn.Parameter(torch.ones(3))
    return w, LossScaleOptimizer(SGD(learning_rate=0.1), initial_scale, dynamic_growth_steps).build([w])


def _backward(w, optimizer, value=2.0):
    optimizer.zero_grad()
    optimizer.scale_loss((w * value).sum()).backward()


def test_gradients_are_unscaled_before_the_inner_step():
    w, optimizer = _wrapped()
    _backward(w, optimizer)
    assert torch.equal(w.grad, torch.full((3,), 16.0))  # 2 * scale 8
    optimizer.step()
    torch.testing.assert_close(w.detach(), torch.full((3,), 0.8))  # 1 - 0.1 * 2
    assert optimizer.iterations == 1


def test_non_finite_gradient_skips_the_step_and_halves_the_scale():
    w, optimizer = _wrapped()
    _backward(w, optimizer, value=float("inf"))
    optimizer.step()
    assert torch.equal(w.detach(), torch.ones(3))
    assert (optimizer.dynamic_scale, optimizer.iterations) == (4.0, 0)


def test_scale_doubles_after_dynamic_growth_steps_finite_steps():
    w, optimizer = _wrapped(dynamic_growth_steps=2)
    for expected in (8.0, 16.0, 16.0, 32.0):
        _backward(w, optimizer)
        optimizer.step()
        assert optimizer.dynamic_scale == expected


def test_config_round_trips_through_get_optimizer():
    optimizer = LossScaleOptimizer(Adam(learning_rate=0.01), initial_scale=128.0, dynamic_growth_steps=10)
    spec = {"class_name": "LossScaleOptimizer", "config": optimizer.get_config()}
    rebuilt = get_optimizer(spec, [torch.nn.Parameter(torch.zeros(2))])
    assert isinstance(rebuilt.inner_optimizer, Adam) and rebuilt.learning_rate == pytest.approx(0.01)
    assert (rebuilt.dynamic_scale, rebuilt.dynamic_growth_steps) == (128.0, 10)


def test_bad_arguments_raise_one_line_errors():
    with pytest.raises(TypeError, match="wraps an rnnkit optimizer"):
        LossScaleOptimizer(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1))
    with pytest.raises(ValueError, match="initial_scale"):
        LossScaleOptimizer(SGD(), initial_scale=0)


def test_compile_under_mixed_float16_wraps_the_optimizer_and_trains():
    mixed_precision.set_global_policy("mixed_float16")
    try:
        model = rnnkit.Sequential([layers.LSTM(8), layers.Dense(1)])
    finally:
        mixed_precision.set_global_policy("float32")
    model.compile("adam", "mse")
    rng = np.random.default_rng(0)
    history = model.fit(rng.random((16, 5, 3), dtype=np.float32), rng.random((16, 1), dtype=np.float32),
                        batch_size=8, epochs=2, verbose=0)
    assert isinstance(model.optimizer, LossScaleOptimizer)
    assert np.isfinite(history.history["loss"]).all() and model.optimizer.iterations == 4
    assert all(w.dtype == torch.float32 for w in model.weights)
