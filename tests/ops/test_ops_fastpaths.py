"""The fast paths of the kernels against the reference paths they replace: same results (float32
to 1e-6 against the full native kernel, 1e-5 against the PyTorch-op kernel)."""
import pytest
import torch

from rnnkit import layers
from rnnkit.ops import lstm as lstm_module
from rnnkit.ops.native import native_kernels
from rnnkit.ops.sequence import nested_layout

B, T, H = 6, 9, 5


@pytest.fixture(autouse=True)
def native():
    module = native_kernels()
    assert module is not None, "the compiled kernels did not build (see the warning above)"
    return module


def padded_mask(lengths, steps=T, left=False):
    positions = torch.arange(steps).unsqueeze(0)
    lengths = torch.tensor(lengths).unsqueeze(1)
    return positions >= steps - lengths if left else positions < lengths


MASKS = {
    "right_padded": padded_mask([9, 3, 0, 7, 3, 1]),
    "left_padded": padded_mask([9, 3, 0, 7, 3, 1], left=True),
    "all_kept": torch.ones(B, T, dtype=torch.bool),
}


def run_lstm(mask, monkeypatch, path):
    """Outputs and input gradients of lstm_scan on `path`: "nested", "native" (the full native
    kernel) or "ops" (the PyTorch-op kernel)."""
    if path != "nested":
        monkeypatch.setattr(lstm_module, "nested_layout", lambda mask: None)
    if path == "ops":
        monkeypatch.setattr(lstm_module, "native_for", lambda *args: None)
    g = torch.Generator().manual_seed(1)
    xp = torch.randn(B, T, 4 * H, generator=g).requires_grad_()
    U = (0.5 * torch.randn(H, 4 * H, generator=g)).requires_grad_()
    h0 = torch.randn(B, H, generator=g).requires_grad_()
    c0 = torch.randn(B, H, generator=g).requires_grad_()
    hs, c_last = lstm_module.lstm_scan(xp, U, h0, c0, mask)
    (1.3 * hs.square().sum() + hs.sum() + 0.7 * c_last.square().sum()).backward()
    monkeypatch.undo()
    return [hs.detach(), c_last.detach(), xp.grad, U.grad, h0.grad, c0.grad]


@pytest.mark.parametrize("mask_name", list(MASKS))
def test_lstm_nested_mask_path_matches_the_full_native_kernel_to_1e6(mask_name, monkeypatch):
    mask = MASKS[mask_name]
    for got, expected in zip(run_lstm(mask, monkeypatch, "nested"), run_lstm(mask, monkeypatch, "native")):
        torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("mask_name", list(MASKS))
def test_lstm_nested_mask_path_matches_the_pytorch_op_kernel(mask_name, monkeypatch):
    mask = MASKS[mask_name]
    for got, expected in zip(run_lstm(mask, monkeypatch, "nested"), run_lstm(mask, monkeypatch, "ops")):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_nested_layout_orders_rows_longest_first_and_counts_active_rows_per_step():
    order, counts = nested_layout(MASKS["right_padded"])
    assert order.tolist() == [0, 3, 1, 4, 5, 2]
    assert counts.tolist() == [5, 4, 4, 2, 2, 2, 2, 1, 1]
    order, counts = nested_layout(MASKS["left_padded"])
    assert order.tolist() == [0, 3, 1, 4, 5, 2]
    assert counts.tolist() == [1, 1, 2, 2, 2, 2, 4, 4, 5]


def test_nested_layout_refuses_masks_with_holes_and_no_mask():
    holes = MASKS["right_padded"].clone()
    holes[0, 4] = False
    assert nested_layout(holes) is None
    assert nested_layout(None) is None


def test_bidirectional_lstm_on_padded_ids_runs_the_nested_path_and_matches_the_full_kernel(monkeypatch):
    calls = []
    real = lstm_module.nested_layout
    monkeypatch.setattr(lstm_module, "nested_layout", lambda mask: calls.append(real(mask)) or calls[-1])
    torch.manual_seed(0)
    model = torch.nn.Sequential(layers.Embedding(20, 4, mask_zero=True), layers.Bidirectional(layers.LSTM(3)))
    ids = torch.randint(1, 20, (4, 7)) * padded_mask([7, 2, 5, 1], steps=7)
    fast = model(ids)
    fast.sum().backward()
    fast_grads = [p.grad.clone() for p in model.parameters()]
    assert len(calls) == 2 and all(c is not None for c in calls)
    model.zero_grad()
    monkeypatch.setattr(lstm_module, "nested_layout", lambda mask: None)
    reference = model(ids)
    reference.sum().backward()
    torch.testing.assert_close(fast, reference, rtol=1e-6, atol=1e-6)
    for got, expected in zip(fast_grads, [p.grad for p in model.parameters()]):
        torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)
