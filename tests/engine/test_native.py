"""The compiled kernels against the PyTorch-op kernels they replace (float32, CPU)."""
import os
import resource
import subprocess
import sys

import pytest
import torch
from torch.utils.cpp_extension import _get_build_directory

from rnnkit import layers
from rnnkit.engine import gru as gru_module
from rnnkit.engine import lstm as lstm_module
from rnnkit.engine import simple_rnn as simple_rnn_module
from rnnkit.engine.activations import get_activation
from rnnkit.engine.native import KernelChoice, kernel_choice, native_kernels

B, T, H = 5, 7, 6
MODULES = {"simple_rnn": simple_rnn_module, "lstm": lstm_module, "gru": gru_module}


@pytest.fixture(autouse=True)
def native():
    module = native_kernels()
    assert module is not None, "the compiled kernels did not build (see the warning above)"
    return module


def _mask(kind):
    if kind is None:
        return None
    mask = torch.rand(B, T, generator=torch.Generator().manual_seed(2)) > 0.4
    mask[0] = False  # one sample with every step masked
    return mask


def _run(kind, mask, use_native, units=H, batch=B, steps=T, **options):
    choice = KernelChoice("compiled" if use_native else "torch_ops")
    g = torch.Generator().manual_seed(1)
    gates = {"simple_rnn": 1, "lstm": 4, "gru": 3}[kind]
    xp = torch.randn(batch, steps, gates * units, generator=g).requires_grad_()
    U = (0.5 * (H / units) ** 0.5 * torch.randn(units, gates * units, generator=g)).requires_grad_()
    h0 = torch.randn(batch, units, generator=g).requires_grad_()
    extra = torch.randn(batch, units, generator=g).requires_grad_()  # c0 for LSTM
    b_rec = torch.randn(gates * units, generator=g).requires_grad_()
    if kind == "simple_rnn":
        outs, leaves = [simple_rnn_module.simple_rnn_scan(xp, U, h0, mask, choice=choice, **options)], [xp, U, h0]
    elif kind == "lstm":
        outs, leaves = list(lstm_module.lstm_scan(xp, U, h0, extra, mask, choice=choice)), [xp, U, h0, extra]
    else:
        outs, leaves = [gru_module.gru_scan(xp, U, h0, b_rec, mask, choice=choice)], [xp, U, h0, b_rec]
    sum(1.3 * o.square().sum() + o.sum() for o in outs).backward()
    return [o.detach() for o in outs] + [leaf.grad for leaf in leaves]


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize("mask_kind", [None, "random_with_empty_sample"])
@pytest.mark.parametrize("units", [H, 130], ids=["one_panel", "several_panels"])
def test_native_kernel_matches_the_pytorch_op_kernel_forward_and_backward(kind, mask_kind, units):
    """The step products run on packed panels of 64 columns: 6 units fit one (16 wide), 130 need
    three (64 + 64 + 16 wide); 5 samples are four rows at a time and one alone."""
    mask = _mask(mask_kind)
    for a, b in zip(_run(kind, mask, True, units), _run(kind, mask, False, units)):
        # To each tensor's scale: U's gradient sums B x T products, and at 130 units both kernels end
        # ~1.1e-5 from a float64 run of the same case (GRU), in different summation orders.
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * max(1.0, b.abs().max().item()))


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru"])
def test_native_kernel_on_one_row_step_matches_the_pytorch_op_kernel(kind):
    """One sample, one step of 130 units (a token fed alone): packing U would cost more than the
    product it serves, so the kernels take their other branch, torch's GEMM on row views."""
    for a, b in zip(_run(kind, None, True, 130, 1, 1), _run(kind, None, False, 130, 1, 1)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "linear"])
def test_native_simple_rnn_matches_for_each_activation_it_implements(activation):
    mask = _mask("random_with_empty_sample")
    native = _run("simple_rnn", mask, True, activation=activation)
    reference = _run("simple_rnn", mask, False, activation=activation)
    for a, b in zip(native, reference):
        # Tolerance to each tensor's scale: under "linear" the states grow to ~1e3 and a gradient entry
        # that is a difference of such sums carries ~1e-4 of float32 rounding in either kernel (both
        # are within 1.2e-5 of a float64 run; the two differ only in their summation order).
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * max(1.0, b.abs().max().item()))


@pytest.mark.parametrize("layer", [layers.SimpleRNN(4), layers.LSTM(4), layers.GRU(4)])
def test_default_float32_layers_run_on_the_native_kernels(layer, native, monkeypatch):
    calls = []
    module = MODULES[{"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}[type(layer).__name__]]
    monkeypatch.setattr(module, "native_kernels", lambda: _Recorder(native, calls))
    layer(torch.randn(2, 3, 5))
    assert calls and calls[0].endswith("_forward")


def test_native_kernels_are_not_used_for_float64_recurrent_dropout_or_other_activations():
    cpu = torch.device("cpu")
    assert kernel_choice(torch.float64, cpu, None).path == "torch_ops"
    assert kernel_choice(torch.float32, cpu, None, "recurrent dropout has no compiled kernel").path == "torch_ops"
    assert kernel_choice(torch.float32, cpu, None).path == "compiled"
    gru_reset_before = layers.GRU(2, reset_after=False)
    assert gru_reset_before(torch.randn(2, 3, 2)).shape == (2, 2)  # runs on the PyTorch-op kernel
    assert get_activation("elu").name not in simple_rnn_module.NATIVE_ACTIVATIONS


def test_rnnkit_native_0_selects_the_pytorch_op_kernels(monkeypatch):
    monkeypatch.setenv("RNNKIT_NATIVE", "0")
    native_kernels.cache_clear()
    try:
        assert native_kernels() is None
    finally:
        monkeypatch.delenv("RNNKIT_NATIVE")
        native_kernels.cache_clear()


class _Recorder:
    def __init__(self, module, calls):
        self._module, self._calls = module, calls

    def __getattr__(self, name):
        self._calls.append(name)
        return getattr(self._module, name)


def test_native_tanh_is_within_5e7_of_torch_tanh_over_the_whole_range(native):
    # With U = 0 and h0 = 0 a SimpleRNN step is exactly tanh(xp).
    xp = torch.linspace(-12, 12, 64 * 4096).view(64, 1, 4096)
    hs = native.simple_rnn_forward(xp, torch.zeros(4096, 4096), torch.zeros(64, 4096), torch.empty(0, dtype=torch.bool), 0)
    error = (hs.double() - torch.tanh(xp.double())).abs()
    assert error.max() < 5e-7
    small = xp.abs() < 1e-2
    assert (error[small] / xp.double().abs()[small].clamp_min(1e-30)).max() < 1e-6


def test_native_sigmoid_is_within_3e7_of_torch_sigmoid_over_the_whole_range(native):
    # (1 + tanh(x / 2)) / 2 on the rational tanh; a sigmoid SimpleRNN step with U = 0 is sigmoid(xp).
    xp = torch.linspace(-30, 30, 16 * 4096).view(16, 1, 4096)
    hs = native.simple_rnn_forward(xp, torch.zeros(4096, 4096), torch.zeros(16, 4096), torch.empty(0, dtype=torch.bool), 2)
    assert (hs.double() - torch.sigmoid(xp.double())).abs().max() < 3e-7


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru"])
def test_a_nan_pre_activation_reaches_the_states_as_in_torch(native, kind):
    """Under -ffast-math's finite-math assumption the rational tanh's clamp turned NaN into -1, so a
    diverged layer went on with finite states; NaN must reach the outputs (and the loss)."""
    gates = {"simple_rnn": 1, "lstm": 4, "gru": 3}[kind]
    xp = torch.zeros(2, 3, gates * 4)
    xp[0, 1] = float("nan")
    U, h0, keep = torch.zeros(4, gates * 4), torch.zeros(2, 4), torch.empty(0, dtype=torch.bool)
    if kind == "simple_rnn":
        hs = native.simple_rnn_forward(xp, U, h0, keep, 0)
    elif kind == "lstm":
        hs = native.lstm_forward(xp, U, h0, h0, keep)[1]
    else:
        hs = native.gru_forward(xp, U, torch.zeros(gates * 4), h0, keep)[2]
    assert torch.isnan(hs[0, 1:]).all() and not torch.isnan(hs[0, 0]).any() and not torch.isnan(hs[1]).any()


def test_large_kernel_outputs_reuse_a_released_buffer_and_never_one_still_held(native):
    # 8M float32 states (32 MB, the size from which the kernels keep their buffers), cheap to compute.
    xp, U = torch.randn(1024, 128, 64), torch.full((64, 64), 0.01)
    h0, keep = torch.zeros(1024, 64), torch.empty(0, dtype=torch.bool)
    first = native.simple_rnn_forward(xp, U, h0, keep, 0)
    second = native.simple_rnn_forward(xp, U, h0, keep, 0)
    assert second.data_ptr() != first.data_ptr()  # the first is still held: a buffer of its own
    torch.testing.assert_close(second, first, rtol=0, atol=0)
    held, released = first.clone(), first.data_ptr()
    del first
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    third = native.simple_rnn_forward(xp, U, h0, keep, 0)
    # A fresh 32 MB buffer faults in 8192 pages; the reused one is already mapped.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults < 2048
    assert third.data_ptr() == released
    torch.testing.assert_close(third, held, rtol=0, atol=0)


def test_a_stale_build_lock_left_by_a_killed_build_does_not_hang_the_next_run(native):
    """torch's build lock is a plain file: a first compile killed midway leaves it, and torch
    alone would then wait for it forever. rnnkit removes it when no rnnkit build holds the OS lock."""
    stale = os.path.join(_get_build_directory("rnnkit_native", False), "lock")
    open(stale, "w").close()
    code = "from rnnkit.engine.native import native_kernels; assert native_kernels() is not None"
    # Before the fix this waited forever; another rnnkit process may legitimately hold the lock after.
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("B", [1, 3, 4, 9])
@pytest.mark.parametrize("K, N", [(1, 1), (7, 33), (16, 64), (33, 130), (256, 65)])
def test_panel_products_equal_the_float32_product_for_every_shape(native, B, K, N):
    """Panels of 64 columns, a last panel of any width, rows four at a time and the rest one by one."""
    torch.manual_seed(K * N + B)
    a, w, addend = torch.randn(B, K), torch.randn(K, N), torch.randn(N)
    out = torch.full((B, N), float("nan"))
    native.panel_addmm(out, addend, a, native.pack_panels(w, False))
    torch.testing.assert_close(out, torch.addmm(addend, a, w), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("B", [1, 5])
@pytest.mark.parametrize("K, N", [(7, 33), (256, 65)])
def test_bfloat16_panel_products_equal_a_bfloat16_product_rounded_to_bfloat16(native, B, K, N):
    if not native.panel_bfloat16:
        pytest.skip("the kernels were built without AVX512-BF16")
    torch.manual_seed(K * N + B)
    a, w = torch.randn(B, K), torch.randn(K, N)
    out = torch.empty(B, N)
    native.panel_addmm(out, torch.Tensor(), a, native.pack_panels(w, True))
    expected = (a.bfloat16() @ w.bfloat16()).float()
    assert out.bfloat16().float().equal(out)  # rounded to bfloat16, as a bfloat16 GEMM's output
    torch.testing.assert_close(out, expected, rtol=2 ** -7, atol=1e-3)  # one bfloat16 step: summation order
