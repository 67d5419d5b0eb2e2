"""Keras's cuDNN conditions: which recurrent layer calls go through PyTorch's cuDNN RNN, what
use_cudnn=True does where they cannot, and (on a CUDA machine) that the cuDNN path computes what
rnnkit's kernels do."""
import pytest
import torch

from rnnkit import layers
from rnnkit.layers.cudnn_route import cudnn_kind, cudnn_route

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def built(layer, features=3):
    layer(torch.zeros(1, 2, features))
    return layer


@pytest.mark.parametrize(
    "layer, kind",
    [
        (layers.LSTM(4), "lstm"),
        (layers.GRU(4), "gru"),
        (layers.SimpleRNN(4), "tanh"),
        (layers.SimpleRNN(4, activation="relu"), "relu"),
        (layers.LSTM(4, dropout=0.5), "lstm"),  # input dropout is applied before cuDNN, as Keras
    ],
)
def test_layers_with_keras_cudnn_conditions_take_cudnn_on_cuda(layer, kind):
    assert cudnn_kind(built(layer), "cuda") == (kind, None)


@pytest.mark.parametrize(
    "layer, reason",
    [
        (layers.LSTM(4, recurrent_dropout=0.1), "recurrent_dropout=0.1"),
        (layers.GRU(4, reset_after=False), "reset_after=False"),
        (layers.LSTM(4, activation="relu"), "activation='relu'"),
        (layers.GRU(4, recurrent_activation="hard_sigmoid"), "recurrent_activation='hard_sigmoid'"),
        (layers.SimpleRNN(4, activation="sigmoid"), "activation='sigmoid'"),
        (layers.LSTM(4, use_bias=False), "use_bias=False"),
        (layers.LSTM(4, unroll=True), "unroll=True"),
    ],
)
def test_layers_cudnn_cannot_run_exactly_say_why(layer, reason):
    kind, why = cudnn_kind(built(layer), "cuda")
    assert kind is None and reason in why


def test_cudnn_is_not_taken_on_the_cpu():
    layer = built(layers.LSTM(4))
    assert cudnn_kind(layer, "cpu") == (None, "the inputs are on cpu (cuDNN runs on CUDA)")
    assert cudnn_route(layer, torch.zeros(2, 3, 3), None) == (None, "the inputs are on cpu (cuDNN runs on CUDA)")


def test_use_cudnn_true_raises_where_cudnn_cannot_run_naming_the_reason():
    layer = layers.GRU(4, use_cudnn=True)
    with pytest.raises(ValueError, match=r"GRU '.*': use_cudnn=True, but cuDNN cannot run this call: the inputs "
                                         r"are on cpu .*use_cudnn='auto'"):
        layer(torch.zeros(2, 3, 3))


def test_an_rnn_around_a_built_in_cell_never_takes_cudnn():
    layer = built(layers.RNN(layers.LSTMCell(4)))
    assert cudnn_route(layer, torch.zeros(2, 3, 3), None) == (None, None)


@cuda
@pytest.mark.parametrize("cls", [layers.SimpleRNN, layers.LSTM, layers.GRU])
@pytest.mark.parametrize("padding", ["none", "right", "left"])
def test_on_cuda_the_layer_computes_what_the_cpu_kernels_do(cls, padding):
    torch.manual_seed(0)
    cpu = built(cls(6, return_sequences=True, return_state=True), 5)
    gpu = built(cls(6, return_sequences=True, return_state=True), 5).cuda()
    gpu.set_weights(cpu.get_weights())
    x = torch.randn(4, 8, 5)
    steps = torch.arange(8)[None, :]
    lengths = torch.tensor([8, 3, 5, 1])[:, None]
    mask = {"none": None, "right": steps < lengths, "left": steps >= 8 - lengths}[padding]
    expected = cpu(x, mask=mask)
    # PyTorch lets cuDNN run float32 RNNs in TF32 by default (Ampere and later), ~1e-3 off: the mapping is
    # checked in full float32.
    with torch.backends.cudnn.flags(enabled=None, benchmark=None, deterministic=None, allow_tf32=False):
        got = gpu(x.cuda(), mask=None if mask is None else mask.cuda())
    for a, b in zip(expected, got):
        torch.testing.assert_close(b.cpu(), a, atol=1e-5, rtol=1e-5)
    assert (cudnn_route(gpu, x.cuda(), None if mask is None else mask.cuda())[0] is None) == (padding == "left")


@cuda
def test_on_cuda_use_cudnn_true_raises_for_a_left_padded_mask():
    layer = built(layers.LSTM(4, use_cudnn=True)).cuda()
    mask = torch.tensor([[False, True, True]], device="cuda")
    with pytest.raises(ValueError, match="the mask is not right-padded"):
        layer(torch.zeros(1, 3, 3, device="cuda"), mask=mask)


def test_under_mixed_bfloat16_the_cudnn_route_computes_in_bfloat16_with_autocast_off(monkeypatch):
    # Autocast's wrapper of cuDNN's RNN casts to float16 whatever autocast's dtype, so the route gives
    # the policy's dtype itself. Checked on the CPU, where PyTorch's RNN functions run too: the route
    # forced here, the function it calls recorded.
    from rnnkit.layers.dtype_policy import low_precision_supported
    from rnnkit.engine import cudnn
    from rnnkit.layers import plan, rnn

    if not low_precision_supported(torch.bfloat16, torch.device("cpu")):
        pytest.skip("this CPU runs no bfloat16 layers")
    monkeypatch.setattr(plan, "cudnn_route", lambda layer, x, mask: ((cudnn_kind(layer, "cuda")[0], None), None))
    seen = []

    def recorded(kind, x, kernel, recurrent_kernel, bias, states, lengths):
        seen.append((torch.is_autocast_enabled("cpu"), {t.dtype for t in (x, kernel, recurrent_kernel, bias, *states)}))
        return cudnn.torch_rnn_scan(kind, x, kernel, recurrent_kernel, bias, states, lengths)

    monkeypatch.setattr(rnn, "torch_rnn_scan", recorded)
    torch.manual_seed(0)
    layer = built(layers.LSTM(4, return_sequences=True, dtype="mixed_bfloat16"))
    x = torch.randn(2, 5, 3)
    out = layer(x)
    assert seen[-1] == (False, {torch.bfloat16})
    low = [w.detach().to(torch.bfloat16) for w in (layer.cell.kernel, layer.cell.recurrent_kernel, layer.cell.bias)]
    zeros = [torch.zeros(2, 4, dtype=torch.bfloat16)] * 2
    expected, _ = cudnn.torch_rnn_scan("lstm", x.to(torch.bfloat16), *low, zeros, None)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out, expected, atol=0, rtol=0)


def test_a_stateful_mixed_layer_keeps_float32_states_from_the_cudnn_route_for_its_next_call(monkeypatch):
    # The cuDNN route computes in the policy's dtype; the states it leaves must serve the next call on
    # any route (here the compiled kernels, after the forced route is lifted).
    from rnnkit.layers import plan

    torch.manual_seed(0)
    layer = built(layers.GRU(4, stateful=True, dtype="mixed_bfloat16"))
    x = torch.randn(1, 5, 3)
    with monkeypatch.context() as patch:
        patch.setattr(plan, "cudnn_route", lambda layer, x, mask: ((cudnn_kind(layer, "cuda")[0], None), None))
        layer(x)
    assert [s.dtype for s in layer.states] == [torch.float32]
    assert layer(x).shape == (1, 4)
