"""Mixed precision (Keras's dtype policies): policy names, layer dtypes, and bfloat16 recurrent
kernels checked against float32 within bfloat16's tolerance."""
import gc
import warnings

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import layers, mixed_precision
from rnnkit.layers import dtype_policy

# bfloat16 keeps 8 significant bits (relative rounding 2^-9); products over 16-64 terms and
# 20 steps of recurrence stay within a few of those.
BF16_RTOL = 3e-2


@pytest.fixture(autouse=True)
def float32_global_policy():
    yield
    mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize(
    "name, compute, variable",
    [("mixed_bfloat16", "bfloat16", "float32"), ("mixed_float16", "float16", "float32"),
     ("float32", "float32", "float32"), ("bfloat16", "bfloat16", "bfloat16")],
)
def test_policy_name_gives_keras_compute_and_variable_dtypes(name, compute, variable):
    policy = mixed_precision.Policy(name)
    assert (policy.name, policy.compute_dtype, policy.variable_dtype) == (name, compute, variable)
    assert mixed_precision.DTypePolicy.from_config(policy.get_config()) == policy
    assert repr(policy) == f'<DTypePolicy "{name}">'


def test_unknown_policy_name_raises_value_error_listing_valid_ones():
    with pytest.raises(ValueError, match="mixed_bfloat16"):
        mixed_precision.Policy("mixed_int8")
    with pytest.raises(ValueError, match="Invalid `policy`"):
        mixed_precision.set_global_policy(3)


def test_global_policy_applies_to_layers_created_afterwards_only():
    before = layers.GRU(4)
    mixed_precision.set_global_policy("mixed_bfloat16")
    after, own = layers.GRU(4), layers.Dense(3, dtype="float32")
    assert mixed_precision.global_policy().name == "mixed_bfloat16"
    assert after.dtype_policy.name == "mixed_bfloat16" and after.cell.compute_dtype == "bfloat16"
    assert own.compute_dtype == "float32"
    assert before.get_config()["dtype"] is None


def test_mixed_layer_keeps_float32_weights_returns_compute_dtype_and_round_trips_config():
    layer = layers.LSTM(8, return_sequences=True, dtype="mixed_bfloat16")
    y = layer(torch.randn(2, 5, 3))
    assert y.dtype == torch.bfloat16
    assert all(w.dtype == torch.float32 for w in layer.weights)
    assert (layer.compute_dtype, layer.variable_dtype, layer.dtype) == ("bfloat16", "float32", "float32")
    assert layers.LSTM.from_config(layer.get_config()).dtype_policy.name == "mixed_bfloat16"


def _pair(cls, **options):
    """A float32 layer and a mixed_bfloat16 one with the same weights."""
    torch.manual_seed(0)
    reference = cls(32, return_sequences=True, **options)
    mixed = cls(32, return_sequences=True, dtype="mixed_bfloat16", **options)
    x = torch.randn(16, 20, 24)
    reference(x), mixed(x)
    mixed.set_weights(reference.get_weights())
    return reference, mixed, x


def _relative(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("cls", [layers.SimpleRNN, layers.LSTM, layers.GRU])
@pytest.mark.parametrize("padded", [False, True])
def test_mixed_bfloat16_gradients_match_float32_within_bfloat16_tolerance(cls, padded):
    reference, mixed, x = _pair(cls)
    # Right-padded sequences run on the compiled kernels' nested path.
    lengths = torch.randint(5, 21, (16, 1), generator=torch.Generator().manual_seed(1)) if padded else [[20]] * 16
    mask = torch.arange(20) < torch.as_tensor(lengths)
    x_ref, x_mixed = x.clone().requires_grad_(), x.clone().requires_grad_()
    y_ref, y_mixed = reference(x_ref, mask=mask), mixed(x_mixed, mask=mask)
    weights = torch.randn_like(y_ref)
    (y_ref * weights).sum().backward()
    (y_mixed.float() * weights).sum().backward()
    assert _relative(y_mixed.float(), y_ref) < BF16_RTOL
    assert _relative(x_mixed.grad, x_ref.grad) < BF16_RTOL
    for (name, w_ref), w_mixed in zip(reference.named_parameters(), mixed.parameters()):
        assert w_mixed.grad.dtype == torch.float32
        assert _relative(w_mixed.grad, w_ref.grad) < BF16_RTOL, name
    # The GEMMs really ran in bfloat16: float32 would agree to ~1e-6.
    assert _relative(mixed.cell.recurrent_kernel.grad, reference.cell.recurrent_kernel.grad) > 1e-4


def test_cpu_without_bfloat16_support_warns_once_and_computes_in_float32(monkeypatch):
    monkeypatch.setattr(dtype_policy, "cpu_runs_bfloat16", lambda: False)
    monkeypatch.setattr(dtype_policy, "_warned", set())
    with pytest.warns(UserWarning, match="neither AVX512-BF16 nor AMX"):
        reference, mixed, x = _pair(layers.GRU)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second warning would fail here
        y = mixed(x)
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, reference(x))


def test_fit_and_predict_under_global_mixed_bfloat16_policy():
    mixed_precision.set_global_policy("mixed_bfloat16")
    model = rnnkit.Sequential([layers.Embedding(20, 8), layers.GRU(16, return_sequences=True), layers.Dense(20)])
    model.compile("adam", rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True))
    ids = np.random.default_rng(0).integers(0, 20, size=(32, 12))
    history = model.fit(ids[:, :-1], ids[:, 1:], batch_size=16, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert history.history["loss"][1] < history.history["loss"][0]
    predictions = model.predict(ids[:4, :-1], verbose=0)
    assert predictions.dtype == np.float32 and predictions.shape == (4, 11, 20)
    assert all(w.dtype == torch.float32 for w in model.weights)


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_training_step_leaves_no_tensor_in_reference_cycles(policy):
    # Tensors held by reference cycles live until the cyclic collector runs, on top of the next
    # step's peak memory (a mixed layer call maps its inputs and outputs through engine.nest).
    mixed_precision.set_global_policy(policy)
    model = rnnkit.Sequential([rnnkit.Input(shape=(6,)), layers.Embedding(10, 4), layers.GRU(8, return_sequences=True),
                               layers.Dense(10)])
    model.compile("adam", rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True))
    ids = np.random.default_rng(0).integers(0, 10, size=(4, 7))
    model.train_on_batch(ids[:, :-1], ids[:, 1:])  # builds the optimizer's state
    enabled = gc.isenabled()
    gc.disable()
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        model.train_on_batch(ids[:, :-1], ids[:, 1:])
        gc.collect()
        cyclic = [type(o).__name__ for o in gc.garbage if isinstance(o, torch.Tensor)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()
    assert cyclic == []


def test_mixed_decoder_takes_the_encoders_returned_states_as_its_initial_state():
    # The encoder's states come back in the compute dtype (bfloat16), as Keras returns them; the decoder's
    # kernels keep states in float32 and take them as such (bfloat16 -> float32 is exact).
    torch.manual_seed(0)
    encoder = layers.LSTM(4, return_state=True, dtype="mixed_bfloat16")
    decoder = layers.LSTM(4, return_sequences=True, dtype="mixed_bfloat16")
    _, h, c = encoder(torch.randn(2, 5, 3))
    x = torch.randn(2, 6, 3)
    out = decoder(x, initial_state=[h, c])
    assert h.dtype == torch.bfloat16 and out.shape == (2, 6, 4)
    torch.testing.assert_close(out, decoder(x, initial_state=[h.float(), c.float()]), atol=0, rtol=0)
