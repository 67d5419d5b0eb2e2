"""PyTorch import: `from_torch` on torch.nn.RNN/LSTM/GRU gives rnnkit layers whose outputs and final
states equal torch's to 1e-5, for every mode, 1 and 2 layers, both directions, both layouts, with
and without bias."""
import itertools

import pytest
import torch

import rnnkit
from rnnkit import layers as R
from rnnkit.io import from_torch

ATOL = 1e-5
INPUT, HIDDEN, BATCH, STEPS = 5, 7, 3, 6

MODES = {
    "rnn_tanh": lambda **kw: torch.nn.RNN(nonlinearity="tanh", **kw),
    "rnn_relu": lambda **kw: torch.nn.RNN(nonlinearity="relu", **kw),
    "lstm": torch.nn.LSTM,
    "gru": torch.nn.GRU,
}
CASES = [
    pytest.param(mode, layers, bidirectional, batch_first, bias,
                 id=f"{mode}-{layers}layer-{'bi' if bidirectional else 'uni'}-"
                    f"{'batch_first' if batch_first else 'time_major'}-{'bias' if bias else 'nobias'}")
    for mode, layers, bidirectional, batch_first, bias in itertools.product(
        MODES, (1, 2), (False, True), (True, False), (True, False))
]


def torch_module(mode, num_layers=1, bidirectional=False, batch_first=True, bias=True, seed=0, **kwargs):
    torch.manual_seed(seed)
    module = MODES[mode](input_size=INPUT, hidden_size=HIDDEN, num_layers=num_layers, bidirectional=bidirectional,
                         batch_first=batch_first, bias=bias, **kwargs)
    with torch.no_grad():  # biases away from torch's small uniform init, so that a lost bias shows
        for name, p in module.named_parameters():
            if name.startswith("bias"):
                p.uniform_(-1, 1)
    return module.eval()


def run_torch(module, x):
    """torch's (output, h_n[, c_n]) for batch-major `x`, output batch-major."""
    output, states = module(x if module.batch_first else x.transpose(0, 1))
    return (output if module.batch_first else output.transpose(0, 1)), states


def batch(seed=1, dtype=torch.float32):
    return torch.randn(BATCH, STEPS, INPUT, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("mode, num_layers, bidirectional, batch_first, bias", CASES)
def test_output_sequence_equals_torch(mode, num_layers, bidirectional, batch_first, bias):
    module = torch_module(mode, num_layers, bidirectional, batch_first, bias)
    x = batch()
    expected, _ = run_torch(module, x)
    with torch.no_grad():
        got = from_torch(module)(x)
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("mode, num_layers, bidirectional, batch_first, bias", CASES)
def test_final_states_equal_torch_h_n_and_c_n(mode, num_layers, bidirectional, batch_first, bias):
    module = torch_module(mode, num_layers, bidirectional, batch_first, bias)
    x = batch()
    expected_output, states = run_torch(module, x)
    h_n, c_n = states if mode == "lstm" else (states, None)
    expected = [s for k in range(len(h_n)) for s in ([h_n[k], c_n[k]] if c_n is not None else [h_n[k]])]
    with torch.no_grad():
        output, *got = from_torch(module, return_state=True)(x)
    torch.testing.assert_close(output, expected_output, atol=ATOL, rtol=0)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, atol=ATOL, rtol=0)


@pytest.mark.parametrize("mode, cls", [("rnn_tanh", R.SimpleRNN), ("lstm", R.LSTM), ("gru", R.GRU)])
def test_single_unidirectional_layer_becomes_that_layer_returning_sequences(mode, cls):
    layer = from_torch(torch_module(mode))
    assert type(layer) is cls
    assert layer.return_sequences and layer.units == HIDDEN


def test_relu_rnn_becomes_simple_rnn_with_relu_activation():
    assert from_torch(torch_module("rnn_relu")).cell.activation.name == "relu"


def test_several_layers_or_directions_become_a_sequential_with_concat_bidirectional():
    model = from_torch(torch_module("lstm", num_layers=2, bidirectional=True))
    assert isinstance(model, rnnkit.Sequential)
    assert [type(layer) for layer in model.layers] == [R.Bidirectional, R.Bidirectional]
    assert all(layer.merge_mode == "concat" for layer in model.layers)
    assert model.count_params() == sum(p.numel() for p in torch_module("lstm", 2, True).parameters()) - 2 * 2 * 4 * HIDDEN


def test_gru_maps_to_reset_after_with_input_and_recurrent_bias_rows_in_keras_gate_order():
    module = torch_module("gru")
    layer = from_torch(module)
    kernel, recurrent_kernel, bias = layer.get_weights()
    r, z, n = (slice(i * HIDDEN, (i + 1) * HIDDEN) for i in range(3))
    assert layer.cell.reset_after and bias.shape == (2, 3 * HIDDEN)
    assert torch.equal(torch.as_tensor(bias[0, :HIDDEN]), module.bias_ih_l0[z].detach())
    assert torch.equal(torch.as_tensor(bias[1, HIDDEN : 2 * HIDDEN]), module.bias_hh_l0[r].detach())
    assert torch.equal(torch.as_tensor(kernel[:, 2 * HIDDEN :]), module.weight_ih_l0[n].detach().t())


def test_lstm_folds_torchs_two_biases_into_one():
    module = torch_module("lstm")
    _, _, bias = from_torch(module).get_weights()
    torch.testing.assert_close(torch.as_tensor(bias), (module.bias_ih_l0 + module.bias_hh_l0).detach())


def test_dropout_between_layers_becomes_a_dropout_layer_active_only_in_training():
    module = torch_module("gru", num_layers=3, dropout=0.25)
    model = from_torch(module)
    assert [type(layer) for layer in model.layers] == [R.GRU, R.Dropout, R.GRU, R.Dropout, R.GRU]
    assert all(layer.rate == 0.25 for layer in model.layers if isinstance(layer, R.Dropout))
    x = batch()
    with torch.no_grad():
        torch.testing.assert_close(model(x), run_torch(module, x)[0], atol=ATOL, rtol=0)


def test_float64_module_gives_float64_layers_equal_to_torch():
    module = torch_module("lstm", num_layers=2, bidirectional=True).double()
    x = batch(dtype=torch.float64)
    model = from_torch(module)
    assert all(w.dtype == torch.float64 for w in model.weights)
    with torch.no_grad():
        torch.testing.assert_close(model(x), run_torch(module, x)[0], atol=1e-10, rtol=0)


def test_result_trains_with_gradients_for_every_weight():
    model = from_torch(torch_module("lstm", num_layers=2, bidirectional=True))
    model(batch()).square().mean().backward()
    assert all(w.grad is not None and w.grad.abs().sum() > 0 for w in model.weights)


def test_lstm_with_projection_is_refused():
    module = torch.nn.LSTM(INPUT, HIDDEN, proj_size=3)
    with pytest.raises(ValueError, match="proj_size=3"):
        from_torch(module)


def test_module_that_is_not_rnn_lstm_or_gru_is_refused():
    with pytest.raises(ValueError, match="got Linear"):
        from_torch(torch.nn.Linear(3, 4))


def test_time_major_result_is_refused_with_a_transpose_hint():
    with pytest.raises(ValueError, match=r"batch-major.*x.transpose\(0, 1\)"):
        from_torch(torch_module("gru", batch_first=False), batch_first=False)
