"""PyTorch's fused RNN functions (cuDNN on CUDA) from Keras-layout weights: on the CPU, where the
same functions run, they match rnnkit's compiled kernels, forward and gradients."""
import pytest
import torch

from rnnkit import layers
from rnnkit.engine.cudnn import right_padded_lengths, torch_rnn_scan

LAYERS = {"tanh": layers.SimpleRNN, "relu": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}


def layer_of(kind):
    torch.manual_seed(0)
    options = {"activation": kind} if kind in ("tanh", "relu") else {}
    layer = LAYERS[kind](7, return_sequences=True, return_state=True, **options)
    if kind == "gru":
        layer(torch.zeros(1, 1, 5))
        with torch.no_grad():  # a non-zero recurrent bias, so that its mapping is checked too
            layer.cell.bias.normal_()
    return layer


@pytest.mark.parametrize("kind", ["tanh", "relu", "lstm", "gru"])
@pytest.mark.parametrize("lengths", [None, [9, 3, 6, 1]], ids=["no mask", "right-padded"])
def test_torch_rnn_matches_the_compiled_kernels_forward_and_backward(kind, lengths):
    layer = layer_of(kind)
    x = torch.randn(4, 9, 5, requires_grad=True)
    mask = None if lengths is None else torch.arange(9)[None, :] < torch.tensor(lengths)[:, None]
    output, *states = layer(x, mask=mask)
    cell = layer.cell
    zeros = [torch.zeros(4, 7) for _ in states]
    hs, final = torch_rnn_scan(kind, x, cell.kernel, cell.recurrent_kernel, cell.bias, zeros,
                               None if mask is None else right_padded_lengths(mask))
    if mask is not None:  # what the layer does to its kernel's outputs: zeros before a sequence starts
        hs = hs * torch.cummax(mask.to(torch.uint8), 1)[0].unsqueeze(-1)
    for a, b in zip([output, *states], [hs, *final]):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=0)
    weights = torch.randn_like(hs)
    inputs = [x, *layer.parameters()]
    expected = torch.autograd.grad((output * weights).sum() + sum(s.square().sum() for s in states), inputs)
    got = torch.autograd.grad((hs * weights).sum() + sum(s.square().sum() for s in final), inputs)
    for a, b in zip(expected, got):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=0)


def test_right_padded_lengths_refuses_other_masks():
    mask = torch.tensor([[True, True, False], [True, False, False]])
    assert right_padded_lengths(mask).tolist() == [2, 1]
    assert right_padded_lengths(torch.tensor([[False, True, True]])) is None  # left-padded
    assert right_padded_lengths(torch.tensor([[True, False, True]])) is None  # a hole
    assert right_padded_lengths(torch.tensor([[True, True], [False, False]])) is None  # an empty sequence
