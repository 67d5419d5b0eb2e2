"""engine.panel_linear: bfloat16 rows times a float32 weight on the panel product, checked against
float32 and torch's bfloat16 GEMM within bfloat16's tolerance; under mixed_bfloat16 a training step
runs no torch bfloat16 GEMM (oneDNN) at all."""
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import rnnkit
from rnnkit import layers, mixed_precision
from rnnkit.engine.panel_linear import panel_linear, panel_linear_available

pytestmark = pytest.mark.skipif(
    not panel_linear_available(torch.zeros(1, dtype=torch.bfloat16)),
    reason="needs the compiled kernels on a CPU with AVX512-BF16",
)

BF16_RTOL = 2e-2  # 8 significant bits; sums of up to ~300 rounded products


def close(actual, expected):
    scale = expected.abs().max().item()
    return (actual.float() - expected.float()).abs().max().item() <= BF16_RTOL * scale


@pytest.mark.parametrize("rows, K, N", [(96, 64, 10), (37, 20, 130), (24, 33, 66)])
@pytest.mark.parametrize("out_dtype", [torch.bfloat16, torch.float32])
def test_panel_linear_forward_and_gradients_match_float32_within_bfloat16_tolerance(rows, K, N, out_dtype):
    torch.manual_seed(0)
    x = torch.randn(rows, K).to(torch.bfloat16).requires_grad_()
    W = (torch.randn(K, N) / K**0.5).requires_grad_()
    b = torch.randn(N, requires_grad=True)
    g = torch.randn(rows, N)
    out = panel_linear(x, W, b, out_dtype)
    out.backward(g.to(out_dtype))
    assert out.dtype == out_dtype and x.grad.dtype == torch.bfloat16 and W.grad.dtype == torch.float32
    x32, W32, b32 = (t.detach().float().requires_grad_() for t in (x, W, b))
    ref = x32 @ W32 + b32
    ref.backward(g.to(out_dtype).float())
    assert close(out, ref) and close(x.grad, x32.grad) and close(W.grad, W32.grad) and close(b.grad, b32.grad)


def test_panel_linear_rejects_float32_input_and_mismatched_kernel():
    with pytest.raises(ValueError, match="bfloat16 CPU input"):
        panel_linear(torch.randn(2, 3), torch.randn(3, 4))
    with pytest.raises(ValueError, match="features = x.shape"):
        panel_linear(torch.randn(2, 3).to(torch.bfloat16), torch.randn(5, 4))


def test_mixed_dense_returns_bfloat16_as_keras_and_matches_torch_bfloat16_gemm():
    torch.manual_seed(1)
    dense = layers.Dense(66, dtype="mixed_bfloat16")
    x = torch.randn(4, 50, 256).to(torch.bfloat16)
    y = dense(x)
    assert y.dtype == torch.bfloat16 and dense.kernel.dtype == torch.float32
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ref = torch.nn.functional.linear(x, dense.kernel.t(), dense.bias)
    assert close(y, ref)


class BFloat16Gemms(TorchDispatchMode):
    """Records the matrix products that reach torch's dispatcher in bfloat16 (oneDNN's on the CPU),
    including those the compiled kernels call from C++."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.__name__.split(".")[0]
        if name in ("mm", "addmm", "bmm", "baddbmm", "linear", "matmul") and any(
            isinstance(a, torch.Tensor) and a.dtype == torch.bfloat16 for a in args
        ):
            self.seen.append(name)
        return func(*args, **(kwargs or {}))


def test_mixed_training_step_runs_no_torch_bfloat16_gemm():
    mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = rnnkit.Sequential([
            rnnkit.Input(shape=(12, 6)), layers.GRU(32, return_sequences=True), layers.SimpleRNN(16), layers.Dense(5),
        ])
    finally:
        mixed_precision.set_global_policy("float32")
    model.compile(optimizer="adam", loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = torch.randn(8, 12, 6).numpy(), torch.randint(0, 5, (8,)).numpy()
    with BFloat16Gemms() as gemms:
        model.train_on_batch(x, y)
    assert gemms.seen == []
