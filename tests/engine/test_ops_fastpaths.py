"""The fast paths of the kernels against the reference paths they replace. Against the full native
kernel: within 1e-6 absolute or 5e-6 relative, a few float32 ulp (MKL's GEMM rounding depends on
the number of rows it is given, as it does when the same sample runs in a batch of another size);
against the PyTorch-op kernel: 1e-5, as tests/engine/test_native.py."""
import pytest
import torch

from rnnkit import layers
from rnnkit.engine import gru as gru_module
from rnnkit.engine import lstm as lstm_module
from rnnkit.engine import simple_rnn as simple_rnn_module
from rnnkit.engine import native as native_module
from rnnkit.engine.native import KernelChoice, native_kernels
from rnnkit.engine.sequence import nested_layout

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


MODULES = {"simple_rnn": simple_rnn_module, "lstm": lstm_module, "gru": gru_module}


def run_kernel(kind, mask, path, **options):
    """Outputs and input gradients of a kernel on `path`: "nested", "native" (the full native
    kernel) or "ops" (the PyTorch-op kernel)."""
    choice = {
        "nested": KernelChoice("compiled_nested", layout=nested_layout(mask)),
        "native": KernelChoice("compiled"),
        "ops": KernelChoice("torch_ops"),
    }[path]
    g = torch.Generator().manual_seed(1)
    gates = {"simple_rnn": 1, "lstm": 4, "gru": 3}[kind]
    xp = torch.randn(B, T, gates * H, generator=g).requires_grad_()
    U = (0.5 * torch.randn(H, gates * H, generator=g)).requires_grad_()
    h0 = torch.randn(B, H, generator=g).requires_grad_()
    c0 = torch.randn(B, H, generator=g).requires_grad_()
    b_rec = torch.randn(gates * H, generator=g).requires_grad_()
    if kind == "simple_rnn":
        outs, leaves = [simple_rnn_module.simple_rnn_scan(xp, U, h0, mask, choice=choice, **options)], [xp, U, h0]
    elif kind == "lstm":
        outs, leaves = list(lstm_module.lstm_scan(xp, U, h0, c0, mask, choice=choice)), [xp, U, h0, c0]
    else:
        outs, leaves = [gru_module.gru_scan(xp, U, h0, b_rec, mask, choice=choice)], [xp, U, h0, b_rec]
    sum(1.3 * o.square().sum() + o.sum() for o in outs).backward()
    return [o.detach() for o in outs] + [leaf.grad for leaf in leaves]


@pytest.mark.parametrize("kind", list(MODULES))
@pytest.mark.parametrize("mask_name", list(MASKS))
def test_nested_mask_path_matches_the_full_native_kernel_to_1e6(kind, mask_name):
    mask = MASKS[mask_name]
    nested, native = run_kernel(kind, mask, "nested"), run_kernel(kind, mask, "native")
    for got, expected in zip(nested, native):
        torch.testing.assert_close(got, expected, rtol=5e-6, atol=1e-6)


@pytest.mark.parametrize("kind", list(MODULES))
@pytest.mark.parametrize("mask_name", list(MASKS))
def test_nested_mask_path_matches_the_pytorch_op_kernel(kind, mask_name):
    mask = MASKS[mask_name]
    for got, expected in zip(run_kernel(kind, mask, "nested"), run_kernel(kind, mask, "ops")):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "linear"])
def test_nested_simple_rnn_matches_the_full_kernel_for_each_compiled_activation(activation):
    mask = MASKS["right_padded"]
    nested = run_kernel("simple_rnn", mask, "nested", activation=activation)
    native = run_kernel("simple_rnn", mask, "native", activation=activation)
    for got, expected in zip(nested, native):
        torch.testing.assert_close(got, expected, rtol=5e-6, atol=1e-6)


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
    real = native_module.nested_layout
    monkeypatch.setattr(native_module, "nested_layout", lambda mask: calls.append(real(mask)) or calls[-1])
    torch.manual_seed(0)
    model = torch.nn.Sequential(layers.Embedding(20, 4, mask_zero=True), layers.Bidirectional(layers.LSTM(3)))
    ids = torch.randint(1, 20, (4, 7)) * padded_mask([7, 2, 5, 1], steps=7)
    fast = model(ids)
    fast.sum().backward()
    fast_grads = [p.grad.clone() for p in model.parameters()]
    assert len(calls) == 2 and all(c is not None for c in calls)
    model.zero_grad()
    monkeypatch.setattr(native_module, "nested_layout", lambda mask: None)
    reference = model(ids)
    reference.sum().backward()
    torch.testing.assert_close(fast, reference, rtol=1e-6, atol=1e-6)
    for got, expected in zip(fast_grads, [p.grad for p in model.parameters()]):
        torch.testing.assert_close(got, expected, rtol=5e-6, atol=1e-6)


class _ThreadRecorder:
    """Stands in for the compiled module, noting the thread count each kernel call runs under."""

    def __init__(self, module, seen):
        self._module, self._seen = module, seen

    def __getattr__(self, name):
        kernel = getattr(self._module, name)

        def call(*args):
            self._seen.append(torch.get_num_threads())
            return kernel(*args)

        return call


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def record_kernel_threads(kind, monkeypatch):
    seen = []
    module = MODULES[kind]
    real = module.native_kernels
    monkeypatch.setattr(module, "native_kernels", lambda: _ThreadRecorder(real(), seen))
    run_kernel(kind, MASKS["right_padded"], "nested")
    return seen


@pytest.mark.parametrize("kind", list(MODULES))
def test_kernel_loops_with_small_step_gemms_run_on_one_thread_and_restore_the_count(kind, two_threads, monkeypatch):
    assert record_kernel_threads(kind, monkeypatch) == [1, 1]  # forward and backward
    assert torch.get_num_threads() == 2


def test_kernel_loops_with_large_step_gemms_keep_every_thread(two_threads, monkeypatch):
    monkeypatch.setattr(native_module, "SMALL_STEP_FLOPS", 0)
    assert record_kernel_threads("gru", monkeypatch) == [2, 2]
