"""The whole-step fast path (rnnkit.train.fast_step): the same training as the layer-by-layer
path, taken exactly for the models it covers and for no other."""
import warnings

import numpy as np
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

import rnnkit
from rnnkit import layers
from rnnkit.train import fast_step, trainer

RECURRENT = {"simple_rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}


def make_model(kind, return_sequences=False, outputs=2, loss="mse", optimizer="adam", features=3, dense_bias=True,
               units=5, **layer_options):
    torch.manual_seed(0)
    model = rnnkit.Sequential([
        rnnkit.Input(shape=(6, features)),
        RECURRENT[kind](units, return_sequences=return_sequences, **layer_options),
        layers.Dense(outputs, use_bias=dense_bias),
    ])
    model.compile(optimizer=optimizer, loss=loss, metrics=["mae"])
    return model


def make_data(return_sequences=False, outputs=2, samples=8, features=3):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((samples, 6, features)).astype(np.float32)
    y_shape = (samples, 6, outputs) if return_sequences else (samples, outputs)
    return x, rng.standard_normal(y_shape).astype(np.float32)


@pytest.fixture
def whole_steps_taken(monkeypatch):
    """Counts the whole steps that ran."""
    taken = []
    run = fast_step.WholeStep.run

    def counting_run(self, x, y):
        taken.append(self.kind)
        return run(self, x, y)

    monkeypatch.setattr(fast_step.WholeStep, "run", counting_run)
    return taken


def train_ordinarily(monkeypatch, model, x, y, **fit_options):
    with monkeypatch.context() as patch:
        patch.setattr(trainer.WholeStep, "of", classmethod(lambda cls, *args: None))
        return model.fit(x, y, **fit_options).history


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_whole_step_trains_like_the_layer_by_layer_path(monkeypatch, whole_steps_taken, kind, return_sequences):
    x, y = make_data(return_sequences)
    options = dict(batch_size=2, epochs=2, verbose=0, shuffle=False)
    # SGD: the weights move by the gradients themselves (Adam would hide a wrong scale).
    fast = make_model(kind, return_sequences, optimizer=rnnkit.optimizers.SGD(learning_rate=0.1))
    fast_history = fast.fit(x, y, **options).history
    ordinary = make_model(kind, return_sequences, optimizer=rnnkit.optimizers.SGD(learning_rate=0.1))
    ordinary_history = train_ordinarily(monkeypatch, ordinary, x, y, **options)
    # Every batch but the very first (which resolves the loss) took the whole step.
    assert whole_steps_taken == [kind] * (2 * 4 - 1)
    for a, b in zip(fast.get_weights(), ordinary.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    for key in ("loss", "mae"):
        np.testing.assert_allclose(fast_history[key], ordinary_history[key], rtol=1e-6)


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize("units, samples, batch_size", [(5, 8, 4), (18, 32, 16)])
def test_whole_step_on_one_input_feature_and_a_dense_without_bias_trains_like_the_layer_by_layer_path(
        monkeypatch, whole_steps_taken, kind, units, samples, batch_size):
    # One feature takes the kernel's outer-product input projection and its one-pass weight and bias
    # gradients; 18 units make gate columns of whole vectors and a remainder (LSTM 72 = 4 x 16 + 8,
    # GRU 54 = 3 x 16 + 6), and 16 x 6 rows a batch more than one 64-row block of their sums.
    # No Dense bias: the bias-free head.
    x, y = make_data(features=1, samples=samples)
    options = dict(batch_size=batch_size, epochs=2, verbose=0, shuffle=False)
    built = [make_model(kind, features=1, dense_bias=False, units=units,
                        optimizer=rnnkit.optimizers.SGD(learning_rate=0.1)) for _ in range(2)]
    fast_history = built[0].fit(x, y, **options).history
    ordinary_history = train_ordinarily(monkeypatch, built[1], x, y, **options)
    assert whole_steps_taken == [kind] * (2 * 2 - 1)
    assert len(built[0].get_weights()) == 4  # kernel, recurrent kernel, bias, Dense kernel
    for a, b in zip(built[0].get_weights(), built[1].get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    np.testing.assert_allclose(fast_history["loss"], ordinary_history["loss"], rtol=1e-6)


def test_whole_step_on_one_feature_sliced_from_a_wider_tensor_trains_as_on_its_copy(whole_steps_taken):
    # A column of a (samples, 6, 3) tensor is a strided view; the one-feature passes read rows by pointer.
    wide = torch.from_numpy(make_data(samples=8)[0])
    y = torch.from_numpy(make_data(samples=8)[1])
    losses = []
    for x in (wide[:, :, 1:2], wide[:, :, 1:2].contiguous()):
        model = make_model("lstm", features=1, optimizer=rnnkit.optimizers.SGD(learning_rate=0.1))
        losses.append([model.train_on_batch(x, y) for _ in range(3)])
    assert not wide[:, :, 1:2].is_contiguous() and len(whole_steps_taken) == 2 * 2
    np.testing.assert_array_equal(losses[0], losses[1])


def test_train_on_batch_takes_the_whole_step_with_sgd_and_returns_the_batch_loss(whole_steps_taken):
    x, y = make_data()
    model = make_model("simple_rnn", optimizer=rnnkit.optimizers.SGD(learning_rate=0.1, momentum=0.9))
    model.train_on_batch(x, y)
    before = [w.copy() for w in model.get_weights()]
    outputs = model.predict(x, verbose=0)
    loss, mae = model.train_on_batch(x, y)
    assert whole_steps_taken == ["simple_rnn"]
    np.testing.assert_allclose(loss, np.mean((outputs - y) ** 2), rtol=1e-5)
    np.testing.assert_allclose(mae, np.mean(np.abs(outputs - y)), rtol=1e-5)
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(dict(loss="mae"), id="another loss"),
        pytest.param(dict(dropout=0.5), id="dropout"),
        pytest.param(dict(kernel_regularizer="l2"), id="regularizer"),
        pytest.param(dict(activation="softsign"), id="activation without a compiled kernel"),
        pytest.param(dict(stateful=True), id="stateful"),
    ],
)
def test_models_the_whole_step_does_not_cover_take_the_ordinary_path(whole_steps_taken, change):
    x, y = make_data()
    model = make_model("lstm", **change)
    model.fit(x, y, batch_size=2, epochs=1, verbose=0, shuffle=False)
    assert whole_steps_taken == []


def test_sample_weights_and_a_frozen_layer_take_the_ordinary_path(whole_steps_taken):
    x, y = make_data()
    model = make_model("gru")
    model.fit(x, y, batch_size=2, epochs=1, verbose=0, sample_weight=np.ones(len(x), np.float32))
    model.layers[1].trainable = False
    model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    assert whole_steps_taken == []


def test_a_subclass_of_sequential_takes_the_ordinary_path(whole_steps_taken):
    class Doubled(rnnkit.Sequential):
        def call(self, inputs, training=None, mask=None):
            return 2 * super().call(inputs, training=training, mask=mask)

    torch.manual_seed(0)
    model = Doubled([rnnkit.Input(shape=(6, 3)), layers.SimpleRNN(5), layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(*make_data(), batch_size=2, epochs=1, verbose=0)
    assert whole_steps_taken == []


def test_a_layer_computing_in_another_dtype_takes_the_ordinary_path(whole_steps_taken):
    # Keras's mixed-precision policies give a layer a compute_dtype other than its float32 variables'.
    x, y = make_data()
    model = make_model("lstm")
    model.layers[1].dtype_policy = "mixed_bfloat16"  # its compute_dtype is now "bfloat16"
    model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    assert whole_steps_taken == []


def trained_once(kind="lstm"):
    """A model whose first batch (which resolves the loss) is behind it: the next takes the whole step."""
    x, y = make_data()
    model = make_model(kind)
    model.train_on_batch(x, y)
    return model, x, y


def test_step_hooks_of_the_optimizer_and_global_ones_run_in_the_whole_step(whole_steps_taken):
    model, x, y = trained_once()
    calls = []
    optimizer = model.optimizer
    handles = [
        optimizer.register_step_pre_hook(lambda opt, args, kwargs: calls.append(("pre", opt.iterations))),
        optimizer.register_step_post_hook(lambda opt, args, kwargs: calls.append(("post", opt.iterations))),
        register_optimizer_step_pre_hook(lambda opt, args, kwargs: calls.append(("global pre", opt.iterations))),
        register_optimizer_step_post_hook(lambda opt, args, kwargs: calls.append(("global post", opt.iterations))),
    ]
    try:
        model.train_on_batch(x, y)
    finally:
        for handle in handles:
            handle.remove()
    assert whole_steps_taken == ["lstm"]
    # torch's order: global pre hooks, the optimizer's pre hooks, the step, its post hooks, global post hooks
    assert calls == [("global pre", 1), ("pre", 1), ("post", 2), ("global post", 2)]


def test_the_whole_step_updates_without_torchs_step_wrapper_only_while_it_has_nothing_to_run(
        monkeypatch, whole_steps_taken):
    model, x, y = trained_once()
    wrapped = []  # torch's wrapper calls _optimizer_step_code after every step it wraps
    monkeypatch.setattr(model.optimizer, "_optimizer_step_code", lambda: wrapped.append(True))
    model.train_on_batch(x, y)
    assert wrapped == [] and model.optimizer.iterations == 2
    handle = model.optimizer.register_step_post_hook(lambda *args: None)
    model.train_on_batch(x, y)
    handle.remove()
    assert wrapped == [True] and model.optimizer.iterations == 3 and whole_steps_taken == ["lstm"] * 2


def test_a_torch_lr_scheduler_sees_the_whole_steps_optimizer_steps(whole_steps_taken):
    model, x, y = trained_once()
    scheduler = torch.optim.lr_scheduler.StepLR(model.optimizer, step_size=1, gamma=0.5)
    model.train_on_batch(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns when scheduler.step() comes before any optimizer.step()
        scheduler.step()
    assert whole_steps_taken == ["lstm"] and model.optimizer.learning_rate == pytest.approx(0.0005)


def test_the_profiler_records_the_whole_steps_optimizer_step(whole_steps_taken):
    model, x, y = trained_once()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        model.train_on_batch(x, y)
    assert whole_steps_taken == ["lstm"]
    assert "Optimizer.step#Adam.step" in {event.name for event in profile.events()}


def test_train_on_batch_returns_the_same_loss_and_metric_as_the_ordinary_path(monkeypatch, whole_steps_taken):
    x, y = make_data()
    fast, ordinary = make_model("gru"), make_model("gru")
    results = [fast.train_on_batch(x, y), fast.train_on_batch(x, y)]
    ordinary.train_on_batch(x, y)
    with monkeypatch.context() as patch:
        patch.setattr(trainer.WholeStep, "of", classmethod(lambda cls, *args: None))
        ordinary_result = ordinary.train_on_batch(x, y)
    assert whole_steps_taken == ["gru"]
    np.testing.assert_allclose(results[1], ordinary_result, rtol=1e-6)
