"""Greedy generation's compiled loop against the step-by-step Python loop it replaces."""
import pytest
import torch

import rnnkit
from rnnkit import layers
from rnnkit.models import generation
from rnnkit.engine.native import native_kernels

VOCAB = 12


@pytest.fixture(autouse=True)
def native():
    assert native_kernels() is not None, "the compiled kernels did not build (see the warning above)"


def sharp_model(recurrent, softmax=False, mask_zero=False, seed=3):
    """Embedding -> recurrent -> Dense with large inputs and a sharp output, so that the greedy
    token changes from step to step."""
    torch.manual_seed(seed)
    model = rnnkit.Sequential([
        layers.Embedding(VOCAB, 8, mask_zero=mask_zero), recurrent,
        layers.Dense(VOCAB, activation="softmax" if softmax else None),
    ])
    model(torch.zeros(1, 1, dtype=torch.long))
    with torch.no_grad():
        model.layers[0].embeddings.mul_(40.0)
        model.layers[-1].kernel.mul_(8.0)
    return model


RECURRENT = {
    "simple_rnn": lambda: layers.SimpleRNN(16, return_sequences=True),
    "simple_rnn_relu": lambda: layers.SimpleRNN(16, activation="relu"),
    "lstm": lambda: layers.LSTM(16, return_sequences=True),
    "gru": lambda: layers.GRU(16, return_sequences=True),
    "gru_no_bias": lambda: layers.GRU(16, use_bias=False),
}


def python_loop_tokens(model, prompt, steps, monkeypatch):
    monkeypatch.setattr(generation, "_compiled_greedy_decoder", lambda model: None)
    tokens = model.generate(prompt, steps, temperature=0)
    monkeypatch.undo()
    return tokens


@pytest.mark.parametrize("kind", list(RECURRENT))
def test_compiled_greedy_loop_gives_the_python_loops_tokens(kind, monkeypatch):
    model = sharp_model(RECURRENT[kind]())
    used = []
    real = generation._compiled_greedy_decoder
    monkeypatch.setattr(generation, "_compiled_greedy_decoder", lambda m: used.append(real(m)) or used[-1])
    fast = model.generate([[3, 7, 1], [2, 2, 9]], 25, temperature=0)
    monkeypatch.undo()
    assert used and used[0] is not None
    expected = python_loop_tokens(model, [[3, 7, 1], [2, 2, 9]], 25, monkeypatch)
    assert len(set(expected[0].tolist())) >= 3  # a constant sequence would make a weak check
    assert fast.tolist() == expected.tolist()


def test_compiled_greedy_loop_leaves_the_layers_states_as_they_were():
    model = sharp_model(layers.LSTM(16, return_sequences=True, stateful=True))
    model(torch.tensor([[1, 2]]))
    before = [s.clone() for s in model.layers[1].states]
    model.generate([4, 5], 10, temperature=0)
    for got, expected in zip(model.layers[1].states, before):
        assert torch.equal(got, expected)


@pytest.mark.parametrize(
    "model",
    [
        lambda: sharp_model(layers.GRU(16, return_sequences=True), softmax=True),
        lambda: sharp_model(layers.GRU(16, return_sequences=True), mask_zero=True),
        lambda: sharp_model(layers.GRU(16, return_sequences=True, reset_after=False)),
        lambda: sharp_model(layers.LSTM(16, return_sequences=True, activation="relu")),
    ],
    ids=["softmax_output", "mask_zero", "gru_reset_before", "lstm_relu"],
)
def test_models_outside_the_compiled_loop_take_the_python_loop(model):
    model = model()
    with torch.inference_mode(), generation._carrying_states(model):
        model(torch.tensor([[1, 2]]))
        assert generation._compiled_greedy_decoder(model) is None



@pytest.mark.skipif(not native_kernels().panel_bfloat16, reason="the kernels were built without AVX512-BF16")
@pytest.mark.parametrize("prompts", [[[3, 7, 1], [2, 2, 9]], [[3, 7, 1]]], ids=["two_prompts", "one_prompt"])
def test_compiled_greedy_loop_under_mixed_bfloat16_runs_its_products_in_bfloat16(prompts, monkeypatch):
    """Checked against the same arithmetic written out: float32 input table and states, the recurrent
    and output products from bfloat16 operands rounded to bfloat16, for one prompt as for several."""
    rnnkit.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = sharp_model(layers.SimpleRNN(16, use_bias=False))
    finally:
        rnnkit.mixed_precision.set_global_policy("float32")
    native = native_kernels()
    dtypes = []
    real = native.greedy_decode
    monkeypatch.setattr(native, "greedy_decode", lambda *a: dtypes.append((a[3].dtype, a[7].dtype)) or real(*a))
    fast = model.generate(prompts, 12, temperature=0)
    assert dtypes == [(torch.bfloat16, torch.bfloat16)]

    embedding, recurrent, dense = model.layers
    table = embedding.embeddings.detach() @ recurrent.cell.kernel.detach()
    U, K = (w.detach().to(torch.bfloat16) for w in (recurrent.cell.recurrent_kernel, dense.kernel))
    bias = dense.bias.detach()  # added in float32 to the rounded product
    h = torch.zeros(len(prompts), 16)
    tokens = torch.tensor(prompts)
    for t in range(3):
        h = torch.tanh(table[tokens[:, t]] + (h.to(torch.bfloat16) @ U).float())
    expected = []
    for _ in range(12):
        token = ((h.to(torch.bfloat16) @ K).float() + bias).argmax(dim=1)
        expected.append(token)
        h = torch.tanh(table[token] + (h.to(torch.bfloat16) @ U).float())
    expected = torch.stack(expected, dim=1)
    assert len(set(expected[0].tolist())) >= 3
    assert fast.reshape(expected.shape).tolist() == expected.tolist()


def test_compiled_greedy_loop_follows_weights_changed_in_place(monkeypatch):
    """The folded table and the packed weights are kept between calls, and made again when a weight
    changes (an optimizer step, a load): the tokens then follow the new weights."""
    model = sharp_model(layers.GRU(16, return_sequences=True))
    model.generate([3, 7, 1], 20, temperature=0)
    with torch.no_grad():
        model.layers[0].embeddings.copy_(model.layers[0].embeddings.flip(0))
        model.layers[1].cell.recurrent_kernel.mul_(-3.0)
        model.layers[2].kernel.copy_(model.layers[2].kernel.flip(1))
    fast = model.generate([3, 7, 1], 20, temperature=0)
    expected = python_loop_tokens(model, [3, 7, 1], 20, monkeypatch)
    assert fast.tolist() == expected.tolist()


def test_compiled_greedy_loop_follows_a_training_step(monkeypatch):
    """model.fit with Adam (torch's fused update) between two generate calls: the kept table and
    packed weights are made again from the trained weights."""
    model = sharp_model(layers.SimpleRNN(16, activation="relu", return_sequences=True), seed=5)
    model.generate([[3, 7]], 20, temperature=0)
    g = torch.Generator().manual_seed(0)
    model.compile(optimizer=rnnkit.optimizers.Adam(learning_rate=0.5), loss="mse")
    model.fit(torch.randint(0, VOCAB, (8, 5), generator=g), 10 * torch.randn(8, 5, VOCAB, generator=g), batch_size=8,
              epochs=1, verbose=0)
    fast = model.generate([[3, 7]], 20, temperature=0)
    assert fast.tolist() == python_loop_tokens(model, [[3, 7]], 20, monkeypatch).tolist()


def test_the_decoder_plan_names_a_policy_it_does_not_compute_in():
    rnnkit.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = sharp_model(layers.GRU(16))
    finally:
        rnnkit.mixed_precision.set_global_policy("float32")
    compiled, reason = generation.greedy_decoder_plan(model)
    assert not compiled and "float16" in reason
