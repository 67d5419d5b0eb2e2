"""The fused kernels against autograd: gradcheck in float64 for every cell kind and option, and
agreement with the generic autograd loop over the same cell's single step."""
import itertools

import pytest
import torch

from rnnkit import layers
from rnnkit.engine.gru import gru_scan
from rnnkit.engine.lstm import lstm_scan
from rnnkit.engine.simple_rnn import simple_rnn_scan

B, T, H = 3, 5, 4


def _mask(kind):
    if kind is None:
        return None
    mask = torch.ones(B, T, dtype=torch.bool)
    if kind == "holes":
        mask[0, 1] = mask[1, 3] = False
        mask[2, 0] = False
    elif kind == "all_masked_sample":
        mask[1] = False
        mask[0, 3:] = False
    return mask


def _tensors(gates, seed=0):
    g = torch.Generator().manual_seed(seed)
    xp = torch.randn(B, T, gates * H, dtype=torch.float64, generator=g).requires_grad_()
    U = (0.5 * torch.randn(H, gates * H, dtype=torch.float64, generator=g)).requires_grad_()
    h0 = torch.randn(B, H, dtype=torch.float64, generator=g).requires_grad_()
    c0 = torch.randn(B, H, dtype=torch.float64, generator=g).requires_grad_()
    rmask = (torch.rand(B, H, generator=g) > 0.3).double() / 0.7
    return xp, U, h0, c0, rmask


MASKS = [None, "holes", "all_masked_sample"]


@pytest.mark.parametrize(
    "mask_kind,recurrent_dropout,activation",
    list(itertools.product(MASKS, [False, True], ["tanh", "relu", "sigmoid", "linear", "elu", "gelu"])),
)
def test_simple_rnn_kernel_passes_gradcheck(mask_kind, recurrent_dropout, activation):
    xp, U, h0, _, rmask = _tensors(1)
    mask, rmask = _mask(mask_kind), rmask if recurrent_dropout else None
    assert torch.autograd.gradcheck(lambda a, u, h: simple_rnn_scan(a, u, h, mask, rmask, activation), (xp, U, h0))


@pytest.mark.parametrize(
    "mask_kind,recurrent_dropout,activations",
    list(itertools.product(MASKS, [False, True], [("tanh", "sigmoid"), ("relu", "hard_sigmoid"), ("elu", "sigmoid")])),
)
def test_lstm_kernel_passes_gradcheck(mask_kind, recurrent_dropout, activations):
    xp, U, h0, c0, rmask = _tensors(4)
    mask, rmask = _mask(mask_kind), rmask if recurrent_dropout else None
    assert torch.autograd.gradcheck(
        lambda a, u, h, c: lstm_scan(a, u, h, c, mask, rmask, *activations), (xp, U, h0, c0)
    )


@pytest.mark.parametrize(
    "mask_kind,recurrent_dropout,reset_after,activations",
    list(
        itertools.product(
            MASKS, [False, True], [True, False], [("tanh", "sigmoid"), ("relu", "hard_sigmoid"), ("gelu", "sigmoid")]
        )
    ),
)
def test_gru_kernel_passes_gradcheck(mask_kind, recurrent_dropout, reset_after, activations):
    xp, U, h0, _, rmask = _tensors(3)
    b_rec = torch.randn(3 * H, dtype=torch.float64, requires_grad=True)
    mask, rmask = _mask(mask_kind), rmask if recurrent_dropout else None
    if reset_after:
        fn = lambda a, u, h, b: gru_scan(a, u, h, b, mask, rmask, *activations, reset_after=True)  # noqa: E731
        inputs = (xp, U, h0, b_rec)
    else:
        fn = lambda a, u, h: gru_scan(a, u, h, None, mask, rmask, *activations, reset_after=False)  # noqa: E731
        inputs = (xp, U, h0)
    assert torch.autograd.gradcheck(fn, inputs)


def test_masked_steps_carry_the_state_through_bit_for_bit():
    xp, U, h0, c0, _ = _tensors(4)
    mask = torch.zeros(B, T, dtype=torch.bool)
    hs, c_last = lstm_scan(xp, U, h0, c0, mask)
    assert torch.equal(hs[:, -1], h0) and torch.equal(c_last, c0)


LAYER_CASES = [
    ("SimpleRNN", {}),
    ("SimpleRNN", {"activation": "relu", "use_bias": False}),
    ("LSTM", {}),
    ("LSTM", {"recurrent_activation": "hard_sigmoid"}),
    ("GRU", {}),
    ("GRU", {"reset_after": False}),
]


def _double_layer(name, kwargs, x, **layer_kwargs):
    torch.manual_seed(0)
    layer = getattr(layers, name)(H, **kwargs, **layer_kwargs).double()
    layer(x)
    with torch.no_grad():
        for w in layer.parameters():
            w.add_(0.1 * torch.randn_like(w))  # non-zero biases too
    return layer


@pytest.mark.parametrize("name,kwargs", LAYER_CASES)
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("mask_kind", MASKS)
def test_layer_gradients_pass_gradcheck_with_initial_state(name, kwargs, go_backwards, mask_kind):
    x = torch.randn(B, T, 2, dtype=torch.float64, requires_grad=True)
    layer = _double_layer(name, kwargs, x, return_sequences=True, return_state=True, go_backwards=go_backwards)
    n_states = 2 if name == "LSTM" else 1
    states = [torch.randn(B, H, dtype=torch.float64, requires_grad=True) for _ in range(n_states)]
    mask = _mask(mask_kind)
    names = [n for n, _ in layer.named_parameters()]

    def run(x, *tensors):
        # The weights enter as inputs so that gradcheck covers dW, dU and db as well.
        weights = dict(zip(names, tensors[n_states:]))
        kwargs = {"initial_state": list(tensors[:n_states]), "mask": mask}
        return tuple(torch.func.functional_call(layer, weights, (x,), kwargs))

    weights = [p.detach().clone().requires_grad_() for p in layer.parameters()]
    assert torch.autograd.gradcheck(run, (x, *states, *weights))


@pytest.mark.parametrize("name,kwargs", LAYER_CASES)
@pytest.mark.parametrize("mask_kind", MASKS)
def test_fused_path_equals_generic_autograd_loop(name, kwargs, mask_kind, monkeypatch):
    x = torch.randn(B, T, 2, dtype=torch.float64, requires_grad=True)
    layer = _double_layer(name, kwargs, x, return_sequences=True, return_state=True)
    mask = _mask(mask_kind)

    def outputs_and_grads():
        x.grad = None
        layer.zero_grad()
        outs = layer(x, mask=mask)
        sum(o.square().sum() for o in outs).backward()
        return [o.detach() for o in outs] + [x.grad.clone()] + [p.grad.clone() for p in layer.parameters()]

    fused = outputs_and_grads()
    monkeypatch.setattr(type(layer.cell), "can_scan", lambda self: False)
    generic = outputs_and_grads()
    for a, b in zip(fused, generic):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
