"""The compiled LSTM kernel against the PyTorch-op kernel it replaces (float32, CPU)."""
import pytest
import torch

from rnnkit import layers
from rnnkit.ops import lstm as lstm_module
from rnnkit.ops.native import native_lstm

B, T, H = 5, 7, 6


@pytest.fixture
def native():
    module = native_lstm()
    assert module is not None, "the compiled LSTM kernel did not build (see the warning above)"
    return module


def _run(mask, use_native, monkeypatch):
    if not use_native:
        monkeypatch.setattr(lstm_module, "_native_for", lambda *args: None)
    g = torch.Generator().manual_seed(1)
    xp = torch.randn(B, T, 4 * H, generator=g).requires_grad_()
    U = (0.5 * torch.randn(H, 4 * H, generator=g)).requires_grad_()
    h0 = torch.randn(B, H, generator=g).requires_grad_()
    c0 = torch.randn(B, H, generator=g).requires_grad_()
    hs, c_last = lstm_module.lstm_scan(xp, U, h0, c0, mask)
    (hs.square().sum() + 1.3 * c_last.sum()).backward()
    monkeypatch.undo()
    return [hs.detach(), c_last.detach(), xp.grad, U.grad, h0.grad, c0.grad]


def _mask(kind):
    if kind is None:
        return None
    mask = torch.rand(B, T, generator=torch.Generator().manual_seed(2)) > 0.4
    mask[0] = False  # one sample with every step masked
    return mask


@pytest.mark.parametrize("mask_kind", [None, "random_with_empty_sample"])
def test_native_lstm_matches_the_pytorch_op_kernel_forward_and_backward(native, mask_kind, monkeypatch):
    mask = _mask(mask_kind)
    for a, b in zip(_run(mask, True, monkeypatch), _run(mask, False, monkeypatch)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_lstm_layer_uses_the_native_kernel_for_default_float32(native, monkeypatch):
    calls = []
    original = native.lstm_forward
    monkeypatch.setattr(lstm_module, "_native_for", lambda *args: _Recorder(native, calls))
    layers.LSTM(4)(torch.randn(2, 3, 5))
    assert calls == ["lstm_forward"] and original is native.lstm_forward


def test_native_kernel_is_not_used_for_float64_or_other_activations():
    act, ract = lstm_module.get_activation("tanh"), lstm_module.get_activation("sigmoid")
    assert lstm_module._native_for(torch.zeros(1, dtype=torch.float64), act, ract, None) is None
    relu = lstm_module.get_activation("relu")
    assert lstm_module._native_for(torch.zeros(1), relu, ract, None) is None
    assert lstm_module._native_for(torch.zeros(1), act, ract, torch.ones(1)) is None


def test_rnnkit_native_0_selects_the_pytorch_op_kernel(monkeypatch):
    monkeypatch.setenv("RNNKIT_NATIVE", "0")
    native_lstm.cache_clear()
    try:
        assert native_lstm() is None
    finally:
        monkeypatch.delenv("RNNKIT_NATIVE")
        native_lstm.cache_clear()


class _Recorder:
    def __init__(self, module, calls):
        self._module, self._calls = module, calls

    def __getattr__(self, name):
        self._calls.append(name)
        return getattr(self._module, name)
