"""Recurrent layers: behaviour beyond one forward call. Stateful layers, dropout and recurrent
dropout, config round trips, padding invariance, fully masked samples, float64, custom cells
through RNN(cell), use as plain torch modules, and the error messages at the boundary."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import copy  # noqa: E402
import re  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from rnnkit import layers as R  # noqa: E402

ATOL = 1e-5
BATCH, STEPS, FEATURES, UNITS = 3, 6, 4, 5


def randn(*shape, seed=0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=dtype)


def flatten(structure):
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def assert_close(actual, expected, atol=ATOL):
    actual, expected = flatten(actual), flatten(expected)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        torch.testing.assert_close(a.detach(), e.detach(), atol=atol, rtol=0)


def built(layer, x=None):
    layer(randn(BATCH, STEPS, FEATURES) if x is None else x)
    return layer


def twin(layer, factory, x=None):
    """A second layer from `factory`, built like `layer` and holding the same weights."""
    other = built(factory(), x)
    other.set_weights(layer.get_weights())
    return other


LAYER_FACTORIES = {
    "SimpleRNN": lambda **kw: R.SimpleRNN(UNITS, **kw),
    "LSTM": lambda **kw: R.LSTM(UNITS, **kw),
    "GRU": lambda **kw: R.GRU(UNITS, **kw),
    "GRU_reset_before": lambda **kw: R.GRU(UNITS, reset_after=False, **kw),
    "RNN_stacked": lambda **kw: R.RNN([R.LSTMCell(UNITS), R.GRUCell(UNITS)], **kw),
}


# ======================================================================================= stateful
@pytest.mark.parametrize("kind", list(LAYER_FACTORIES))
def test_stateful_two_halves_equal_one_call_on_the_whole_sequence(kind):
    x = randn(BATCH, 2 * STEPS, FEATURES)
    stateful = built(LAYER_FACTORIES[kind](stateful=True, return_sequences=True, return_state=True), x[:, :1])
    whole_layer = twin(stateful, lambda: LAYER_FACTORIES[kind](return_sequences=True, return_state=True), x[:, :1])
    stateful.reset_state()
    first = stateful(x[:, :STEPS])
    second = stateful(x[:, STEPS:])
    whole = whole_layer(x)
    assert_close(torch.cat([first[0], second[0]], dim=1), whole[0])
    assert_close(second[1:], whole[1:])


def test_stateful_halves_with_a_mask_carry_the_state_through_masked_steps():
    x = randn(BATCH, 2 * STEPS, FEATURES)
    mask = torch.ones(BATCH, 2 * STEPS, dtype=torch.bool)
    mask[1, STEPS - 2 : STEPS + 2] = False
    mask[2, 3:] = False
    stateful = built(R.LSTM(UNITS, stateful=True, return_state=True), x)
    whole_layer = twin(stateful, lambda: R.LSTM(UNITS, return_state=True), x)
    stateful.reset_state()
    stateful(x[:, :STEPS], mask=mask[:, :STEPS])
    second = stateful(x[:, STEPS:], mask=mask[:, STEPS:])
    assert_close(second[1:], whole_layer(x, mask=mask)[1:])


@pytest.mark.parametrize("method", ["reset_state", "reset_states"])
@pytest.mark.parametrize("kind", list(LAYER_FACTORIES))
def test_stateful_reset_returns_to_the_zero_state(kind, method):
    x = randn(BATCH, STEPS, FEATURES)
    layer = built(LAYER_FACTORIES[kind](stateful=True), x)
    getattr(layer, method)()
    fresh = layer(x)
    carried = layer(x)
    assert not torch.allclose(carried, fresh, atol=1e-4)
    getattr(layer, method)()
    assert_close(layer(x), fresh)
    stateless = twin(layer, LAYER_FACTORIES[kind], x)
    assert_close(fresh, stateless(x))


def test_stateful_layer_exposes_its_states_after_a_call():
    x = randn(BATCH, STEPS, FEATURES)
    layer = built(R.LSTM(UNITS, stateful=True, return_state=True), x)
    _, h, c = layer(x)
    assert [tuple(s.shape) for s in layer.states] == [(BATCH, UNITS), (BATCH, UNITS)]
    assert_close(list(layer.states), [h, c])


def test_stateful_states_are_detached_so_each_call_backpropagates_alone():
    x = randn(BATCH, STEPS, FEATURES)
    layer = built(R.GRU(UNITS, stateful=True), x)
    layer(x).sum().backward()
    layer.zero_grad()
    layer(x).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in layer.parameters())


def test_explicit_initial_state_overrides_the_stateful_state():
    x = randn(BATCH, STEPS, FEATURES)
    layer = built(R.SimpleRNN(UNITS, stateful=True), x)
    layer(x)
    stateless = twin(layer, lambda: R.SimpleRNN(UNITS), x)
    h0 = randn(BATCH, UNITS, seed=3)
    assert_close(layer(x, initial_state=[h0]), stateless(x, initial_state=[h0]))


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "Bidirectional"])
def test_stateful_batch_of_another_size_raises_naming_the_expected_size(kind):
    factory = {
        "LSTM": lambda: R.LSTM(UNITS, stateful=True, name="tagger"),
        "GRU": lambda: R.GRU(UNITS, stateful=True, name="tagger"),
        "Bidirectional": lambda: R.Bidirectional(R.LSTM(UNITS, stateful=True, name="tagger")),
    }[kind]
    layer = factory()
    layer(randn(4, STEPS, FEATURES))
    with pytest.raises(ValueError, match=r"tagger.*batch size 4.*batch of 2"):
        layer(randn(2, STEPS, FEATURES))


def test_stateful_layer_accepts_a_new_batch_size_after_reset():
    layer = R.LSTM(UNITS, stateful=True)
    layer(randn(4, STEPS, FEATURES))
    layer.reset_state()
    assert tuple(layer(randn(2, STEPS, FEATURES)).shape) == (2, UNITS)


def test_bidirectional_stateful_carries_both_directions_between_calls():
    x = randn(BATCH, STEPS, FEATURES)
    layer = built(R.Bidirectional(R.LSTM(UNITS, stateful=True, return_sequences=True)), x)
    layer.reset_state()
    first = layer(x)
    second = layer(x)
    assert len(layer.states) == 4
    assert not torch.allclose(first[..., :UNITS], second[..., :UNITS], atol=1e-4)
    assert not torch.allclose(first[..., UNITS:], second[..., UNITS:], atol=1e-4)
    layer.reset_states()
    assert layer.states is None or all(torch.count_nonzero(s) == 0 for s in layer.states)
    assert_close(layer(x), first)


def test_bidirectional_stateful_forward_direction_equals_one_call_on_the_whole_sequence():
    x = randn(BATCH, 2 * STEPS, FEATURES)
    bi = built(R.Bidirectional(R.GRU(UNITS, stateful=True, return_sequences=True)), x)
    forward = twin(bi.forward_layer, lambda: R.GRU(UNITS, return_sequences=True), x)
    bi.reset_state()
    halves = torch.cat([bi(x[:, :STEPS]), bi(x[:, STEPS:])], dim=1)
    assert_close(halves[..., :UNITS], forward(x))


# ========================================================================= dropout and recurrent
DROPOUT_KINDS = ["SimpleRNN", "LSTM", "GRU", "GRU_reset_before"]


def with_dropout(kind, **kw):
    return lambda: LAYER_FACTORIES[kind](dropout=0.3, recurrent_dropout=0.4, return_sequences=True, **kw)


@pytest.mark.parametrize("kind", DROPOUT_KINDS)
def test_dropout_off_when_not_training_equals_layer_without_dropout(kind):
    x = randn(BATCH, STEPS, FEATURES)
    layer = built(with_dropout(kind)(), x)
    plain = twin(layer, lambda: LAYER_FACTORIES[kind](return_sequences=True), x)
    assert_close(layer(x, training=False), plain(x))
    assert_close(layer(x), plain(x))


@pytest.mark.parametrize("kind", DROPOUT_KINDS)
def test_dropout_when_training_changes_the_output(kind):
    x = randn(BATCH, STEPS, FEATURES)
    layer = built(with_dropout(kind, seed=1)(), x)
    assert not torch.allclose(layer(x, training=True), layer(x, training=False), atol=1e-4)


@pytest.mark.parametrize("rates", [(0.3, 0.0), (0.0, 0.4), (0.3, 0.4)], ids=["dropout", "recurrent", "both"])
@pytest.mark.parametrize("kind", DROPOUT_KINDS)
def test_dropout_with_the_same_seed_is_reproducible(kind, rates):
    x = randn(BATCH, STEPS, FEATURES)
    make = lambda seed: LAYER_FACTORIES[kind](  # noqa: E731
        dropout=rates[0], recurrent_dropout=rates[1], seed=seed, return_sequences=True
    )
    a = built(make(7), x)
    b = twin(a, lambda: make(7), x)
    c = twin(a, lambda: make(8), x)
    out_a, out_b, out_c = a(x, training=True), b(x, training=True), c(x, training=True)
    assert_close(out_a, out_b)
    assert not torch.allclose(out_a, out_c, atol=1e-4)


def test_dropout_draws_a_fresh_mask_on_each_call():
    x = randn(BATCH, STEPS, FEATURES)
    layer = built(R.LSTM(UNITS, dropout=0.5, seed=3), x)
    assert not torch.allclose(layer(x, training=True), layer(x, training=True), atol=1e-4)


# A linear SimpleRNN with a zero recurrent kernel maps every step on its own; a Python callable
# activation (not known to be elementwise) takes the generic autograd loop instead of the fused one.
IDENTITY_ACTIVATIONS = {"fused_linear": "linear", "generic_loop_callable": lambda z: z}


@pytest.mark.parametrize("activation", list(IDENTITY_ACTIVATIONS))
def test_dropout_uses_one_input_mask_for_all_steps(activation):
    step = randn(BATCH, 1, FEATURES)
    x = step.expand(BATCH, STEPS, FEATURES).contiguous()
    layer = R.SimpleRNN(
        16,
        activation=IDENTITY_ACTIVATIONS[activation],
        recurrent_initializer="zeros",
        dropout=0.5,
        recurrent_dropout=0.0,
        seed=0,
        return_sequences=True,
    )
    out = layer(x, training=True)
    for t in range(1, STEPS):
        assert_close(out[:, t], out[:, 0])
    assert not torch.allclose(out[:, 0], layer(x, training=False)[:, 0], atol=1e-4)


@pytest.mark.parametrize("activation", list(IDENTITY_ACTIVATIONS))
def test_recurrent_dropout_uses_one_state_mask_for_all_steps(activation):
    """h_t = (h_{t-1} * r) I: with one mask r (entries 0 or 2), h_t = h_0 * r**t."""
    x = torch.zeros(BATCH, STEPS, FEATURES)
    layer = R.SimpleRNN(
        16,
        activation=IDENTITY_ACTIVATIONS[activation],
        use_bias=False,
        recurrent_initializer="identity",
        recurrent_dropout=0.5,
        seed=0,
        return_sequences=True,
    )
    out = layer(x, initial_state=[torch.ones(BATCH, 16)], training=True)
    r = out[:, 0]
    assert set(r.unique().tolist()) == {0.0, 2.0}
    for t in range(STEPS):
        assert_close(out[:, t], r ** (t + 1))


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("kind", DROPOUT_KINDS + ["RNN_stacked_dropout_cells"])
def test_gradients_flow_with_dropout_on(kind, masked):
    x = randn(BATCH, STEPS, FEATURES).requires_grad_(True)
    if kind == "RNN_stacked_dropout_cells":
        cells = [R.LSTMCell(UNITS, dropout=0.3, recurrent_dropout=0.3), R.GRUCell(UNITS, recurrent_dropout=0.3)]
        layer = R.RNN(cells, return_sequences=True)
    else:
        layer = with_dropout(kind, seed=0)()
    mask = torch.ones(BATCH, STEPS, dtype=torch.bool)
    if masked:
        mask[1, 3:] = False
    out = layer(x, mask=mask, training=True)
    (out * randn(*out.shape, seed=5)).sum().backward()
    grads = [x.grad] + [p.grad for p in layer.parameters()]
    assert all(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)


def test_dropout_gradient_matches_autograd_through_the_same_masks():
    """The fused backward with dropout masks equals autograd through the per-step cell."""
    x = randn(BATCH, STEPS, FEATURES, dtype=torch.float64).requires_grad_(True)
    fused = R.LSTM(UNITS, dropout=0.3, recurrent_dropout=0.4, seed=11, return_sequences=True)
    fused(x)
    # Same seed, so the same masks; a callable activation forces the generic autograd loop.
    looped = twin(
        fused,
        lambda: R.LSTM(
            UNITS, activation=lambda z: torch.tanh(z), dropout=0.3, recurrent_dropout=0.4, seed=11,
            return_sequences=True,
        ),
        x,
    )
    weighting = randn(BATCH, STEPS, UNITS, seed=4, dtype=torch.float64)
    g_fused = torch.autograd.grad((fused(x, training=True) * weighting).sum(), [x, *fused.parameters()])
    g_loop = torch.autograd.grad((looped(x, training=True) * weighting).sum(), [x, *looped.parameters()])
    assert_close(g_fused, g_loop, atol=1e-10)


# ================================================================================ config round trip
CONFIG_LAYERS = {
    "SimpleRNN": lambda: R.SimpleRNN(UNITS, activation="relu", use_bias=False, dropout=0.1, go_backwards=True),
    "LSTM": lambda: R.LSTM(
        UNITS, recurrent_activation="hard_sigmoid", unit_forget_bias=False, return_sequences=True,
        recurrent_dropout=0.2, seed=3, kernel_initializer="he_normal", kernel_regularizer="l2",
    ),
    "GRU": lambda: R.GRU(UNITS, reset_after=False, return_state=True, stateful=True, bias_initializer="ones"),
    "GRU_defaults": lambda: R.GRU(UNITS),
    "RNN_cell": lambda: R.RNN(R.GRUCell(UNITS, activation="elu"), return_sequences=True, zero_output_for_mask=True),
    "RNN_list_of_cells": lambda: R.RNN([R.LSTMCell(UNITS), R.SimpleRNNCell(2)], return_state=True),
    "RNN_StackedRNNCells": lambda: R.RNN(R.StackedRNNCells([R.GRUCell(UNITS), R.LSTMCell(2)]), go_backwards=True),
    "Bidirectional": lambda: R.Bidirectional(R.LSTM(UNITS, return_sequences=True), merge_mode="ave"),
    "Bidirectional_none_merge": lambda: R.Bidirectional(R.GRU(UNITS, return_state=True), merge_mode=None),
    "Bidirectional_custom_backward": lambda: R.Bidirectional(
        R.LSTM(UNITS, return_sequences=True),
        backward_layer=R.GRU(UNITS + 1, go_backwards=True, return_sequences=True, name="my_backward"),
        merge_mode="concat",
    ),
}


def rebuilt(layer):
    return type(layer).from_config(layer.get_config())


@pytest.mark.parametrize("name", list(CONFIG_LAYERS))
def test_config_round_trip_rebuilds_an_equal_layer(name):
    layer = CONFIG_LAYERS[name]()
    clone = rebuilt(layer)
    assert type(clone) is type(layer)
    assert clone.get_config() == layer.get_config()


@pytest.mark.parametrize("name", list(CONFIG_LAYERS))
def test_config_round_trip_layer_with_copied_weights_gives_the_same_outputs(name):
    x = randn(BATCH, STEPS, FEATURES)
    layer = built(CONFIG_LAYERS[name](), x)
    clone = built(rebuilt(layer), x)
    clone.set_weights(layer.get_weights())
    for stateful in (layer, clone):
        if getattr(stateful, "stateful", False):
            stateful.reset_state()
    assert_close(clone(x), layer(x))


def test_config_round_trip_keeps_the_custom_backward_layer():
    layer = CONFIG_LAYERS["Bidirectional_custom_backward"]()
    clone = rebuilt(layer)
    assert isinstance(clone.backward_layer, R.GRU)
    assert clone.backward_layer.units == UNITS + 1
    assert clone.backward_layer.name == "my_backward"


def test_config_round_trip_survives_json():
    import json

    layer = CONFIG_LAYERS["RNN_StackedRNNCells"]()
    config = json.loads(json.dumps(layer.get_config()))
    assert R.RNN.from_config(config).get_config() == layer.get_config()


CELLS = {
    "SimpleRNNCell": (lambda: R.SimpleRNNCell(UNITS, activation="sigmoid", dropout=0.2), 1),
    "LSTMCell": (lambda: R.LSTMCell(UNITS, recurrent_activation="hard_sigmoid", use_bias=False), 2),
    "GRUCell": (lambda: R.GRUCell(UNITS, reset_after=False, seed=5), 1),
    "StackedRNNCells": (lambda: R.StackedRNNCells([R.LSTMCell(UNITS), R.GRUCell(UNITS)]), None),
}


def cell_states(name, batch):
    if name == "StackedRNNCells":
        return [[randn(batch, UNITS, seed=1), randn(batch, UNITS, seed=2)], [randn(batch, UNITS, seed=3)]]
    return [randn(batch, UNITS, seed=i + 1) for i in range(CELLS[name][1])]


@pytest.mark.parametrize("name", list(CELLS))
def test_cell_config_round_trip_gives_the_same_step(name):
    cell = CELLS[name][0]()
    clone = rebuilt(cell)
    assert clone.get_config() == cell.get_config()
    x_t = randn(BATCH, FEATURES)
    states = cell_states(name, BATCH)
    cell(x_t, states)
    clone(x_t, states)
    clone.set_weights(cell.get_weights())
    assert_close(clone(x_t, states), cell(x_t, states))


@pytest.mark.parametrize("name", ["SimpleRNNCell", "LSTMCell", "GRUCell"])
def test_cell_step_equals_one_step_of_its_rnn(name):
    cell = CELLS[name][0]()
    layer = R.RNN(cell, return_state=True)
    x = randn(BATCH, 1, FEATURES)
    states = cell_states(name, BATCH)
    from_layer = layer(x, initial_state=states)
    output, new_states = cell(x[:, 0], states)
    assert_close(output, from_layer[0])
    assert_close(new_states, from_layer[1:])


# ============================================================================ padding invariance
SHORT = [5, 3, 8]
LONG = [2, 7, 1, 9, 4, 4, 6, 3, 8, 2, 5, 1, 7, 7, 9, 2, 6, 3, 1, 4, 8, 5, 2, 9, 6, 3, 7, 1, 4, 2]


def text_model(recurrent):
    torch.manual_seed(0)
    return torch.nn.Sequential(R.Embedding(10, 8, mask_zero=True), recurrent, R.Dense(2))


PADDING_MODELS = {
    "LSTM": lambda: R.LSTM(UNITS),
    "GRU": lambda: R.GRU(UNITS),
    "GRU_reset_before": lambda: R.GRU(UNITS, reset_after=False),
    "SimpleRNN": lambda: R.SimpleRNN(UNITS),
    "Bidirectional_LSTM": lambda: R.Bidirectional(R.LSTM(UNITS)),
    "Bidirectional_GRU_sum": lambda: R.Bidirectional(R.GRU(UNITS), merge_mode="sum"),
}


@pytest.mark.parametrize("kind", list(PADDING_MODELS))
def test_short_sentence_scores_the_same_alone_and_padded_next_to_a_long_one(kind):
    model = text_model(PADDING_MODELS[kind]())
    alone = model(torch.tensor([SHORT]))
    padded = torch.tensor([SHORT + [0] * (len(LONG) - len(SHORT)), LONG])
    together = model(padded)
    torch.testing.assert_close(together[:1], alone, atol=1e-6, rtol=0)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["LSTM", "Bidirectional_LSTM"])
def test_padded_sequence_outputs_equal_unpadded_ones_on_the_real_steps(bidirectional):
    rnn = R.LSTM(UNITS, return_sequences=True)
    rnn = R.Bidirectional(rnn) if bidirectional else rnn
    emb = R.Embedding(10, 8, mask_zero=True)
    alone = rnn(emb(torch.tensor([SHORT])))
    together = rnn(emb(torch.tensor([SHORT + [0] * 7, LONG[:10]])))
    torch.testing.assert_close(together[:1, : len(SHORT)], alone, atol=1e-6, rtol=0)


@pytest.mark.parametrize("kind", list(PADDING_MODELS))
def test_gradients_of_a_short_sentence_are_the_same_alone_and_padded(kind):
    model = text_model(PADDING_MODELS[kind]())
    model(torch.tensor([SHORT])).sum().backward()
    alone = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    padded = torch.tensor([SHORT + [0] * 12, LONG[:15]])
    model(padded)[:1].sum().backward()
    for a, b in zip(alone, [p.grad for p in model.parameters()]):
        torch.testing.assert_close(b, a, atol=1e-6, rtol=0)


# ======================================================================== fully masked samples
FULLY_MASKED_KINDS = {
    "SimpleRNN": (lambda **kw: R.SimpleRNN(UNITS, **kw), 1),
    "LSTM": (lambda **kw: R.LSTM(UNITS, **kw), 2),
    "GRU": (lambda **kw: R.GRU(UNITS, **kw), 1),
    "RNN_softmax_cell_generic_loop": (lambda **kw: R.RNN(R.SimpleRNNCell(UNITS, activation="softmax"), **kw), 1),
}


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
@pytest.mark.parametrize("kind", list(FULLY_MASKED_KINDS))
def test_fully_masked_sample_returns_its_initial_state_and_zero_output(kind, return_sequences, go_backwards):
    factory, n_states = FULLY_MASKED_KINDS[kind]
    layer = factory(return_sequences=return_sequences, return_state=True, go_backwards=go_backwards)
    x = randn(BATCH, STEPS, FEATURES)
    mask = torch.ones(BATCH, STEPS, dtype=torch.bool)
    mask[1] = False
    h0 = [randn(BATCH, UNITS, seed=i + 1) for i in range(n_states)]
    output, *states = layer(x, mask=mask, initial_state=h0)
    assert torch.count_nonzero(output[1]) == 0
    assert_close([s[1] for s in states], [h[1] for h in h0], atol=0)
    assert torch.count_nonzero(output[0]) > 0


@pytest.mark.parametrize("kind", list(FULLY_MASKED_KINDS))
def test_fully_masked_batch_runs_and_gives_finite_zero_gradients(kind):
    factory, _ = FULLY_MASKED_KINDS[kind]
    layer = factory(return_sequences=True)
    x = randn(BATCH, STEPS, FEATURES).requires_grad_(True)
    out = layer(x, mask=torch.zeros(BATCH, STEPS, dtype=torch.bool))
    assert torch.count_nonzero(out) == 0
    (out + 1).sum().backward()
    assert torch.count_nonzero(x.grad) == 0
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters() if p.grad is not None)


def test_bidirectional_fully_masked_sample_returns_zeros_and_initial_states():
    layer = R.Bidirectional(R.LSTM(UNITS, return_sequences=True, return_state=True))
    x = randn(BATCH, STEPS, FEATURES)
    mask = torch.ones(BATCH, STEPS, dtype=torch.bool)
    mask[0] = False
    h0 = [randn(BATCH, UNITS, seed=i + 1) for i in range(4)]
    output, *states = layer(x, mask=mask, initial_state=h0)
    assert torch.count_nonzero(output[0]) == 0
    assert_close([s[0] for s in states], [h[0] for h in h0], atol=0)


# ======================================================================================= float64
FLOAT64_KINDS = {
    "SimpleRNN": lambda: R.SimpleRNN(UNITS, return_sequences=True, return_state=True),
    "LSTM": lambda: R.LSTM(UNITS, return_sequences=True, return_state=True),
    "GRU": lambda: R.GRU(UNITS, return_sequences=True, return_state=True),
    "GRU_reset_before": lambda: R.GRU(UNITS, reset_after=False, return_sequences=True, return_state=True),
    "Bidirectional_LSTM": lambda: R.Bidirectional(R.LSTM(UNITS, return_sequences=True, return_state=True)),
}
FLOAT64_MASK = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [0, 1, 0, 1, 1, 1]], dtype=torch.bool)


def reference_step(kind, weights, x_t, states):
    """Keras's cell equations written out plainly (gate orders: LSTM i, f, c, o; GRU z, r, h)."""
    W, U, b = weights
    if kind == "SimpleRNN":
        h = torch.tanh(x_t @ W + states[0] @ U + b)
        return [h]
    if kind == "LSTM":
        h, c = states
        i, f, g, o = (x_t @ W + h @ U + b).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return [torch.sigmoid(o) * torch.tanh(c), c]
    h = states[0]
    if kind == "GRU":
        xz, xr, xh = (x_t @ W + b[0]).chunk(3, dim=-1)
        uz, ur, uh = (h @ U + b[1]).chunk(3, dim=-1)
        z, r = torch.sigmoid(xz + uz), torch.sigmoid(xr + ur)
        hh = torch.tanh(xh + r * uh)
    else:
        xz, xr, xh = (x_t @ W + b).chunk(3, dim=-1)
        uz, ur = (h @ U[:, : 2 * UNITS]).chunk(2, dim=-1)
        z, r = torch.sigmoid(xz + uz), torch.sigmoid(xr + ur)
        hh = torch.tanh(xh + (r * h) @ U[:, 2 * UNITS :])
    return [z * h + (1 - z) * hh]


def reference_run(kind, weights, x, mask, reverse=False, zero_output_for_mask=False):
    """(outputs (batch, time, units), final states) with Keras's masking: a masked step keeps the
    state and emits the previous output (or zeros)."""
    n_states = 2 if kind == "LSTM" else 1
    states = [x.new_zeros(x.shape[0], UNITS) for _ in range(n_states)]
    output = x.new_zeros(x.shape[0], UNITS)
    outputs = []
    steps = range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])
    for t in steps:
        keep = mask[:, t : t + 1]
        new = reference_step(kind, weights, x[:, t], states)
        states = [torch.where(keep, n, s) for n, s in zip(new, states)]
        output = torch.where(keep, new[0], torch.zeros_like(output) if zero_output_for_mask else output)
        outputs.append(output)
    return torch.stack(outputs, dim=1), states


def float64_reference(kind, layer, x, mask):
    weights = [torch.as_tensor(w, dtype=torch.float64) for w in layer.get_weights()]
    if kind != "Bidirectional_LSTM":
        outputs, states = reference_run(kind, weights, x, mask)
        return [outputs, *states]
    fwd, fwd_states = reference_run("LSTM", weights[:3], x, mask, zero_output_for_mask=True)
    bwd, bwd_states = reference_run("LSTM", weights[3:], x, mask, reverse=True, zero_output_for_mask=True)
    return [torch.cat([fwd, bwd.flip(1)], dim=-1), *fwd_states, *bwd_states]


@pytest.mark.parametrize("kind", list(FLOAT64_KINDS))
def test_layer_built_on_float64_input_runs_in_float64_and_matches_a_float64_reference(kind):
    x = randn(BATCH, STEPS, FEATURES, dtype=torch.float64)
    layer = FLOAT64_KINDS[kind]()
    layer(x)
    assert all(p.dtype == torch.float64 for p in layer.parameters())
    actual = layer(x, mask=FLOAT64_MASK)
    assert all(a.dtype == torch.float64 for a in flatten(actual))
    assert_close(actual, float64_reference(kind, layer, x, FLOAT64_MASK), atol=1e-12)


@pytest.mark.parametrize("kind", list(FLOAT64_KINDS))
def test_layer_converted_with_double_after_build_matches_a_float64_reference(kind):
    x = randn(BATCH, STEPS, FEATURES, dtype=torch.float64)
    layer = FLOAT64_KINDS[kind]()
    layer(x.float())
    layer.double()
    assert all(p.dtype == torch.float64 for p in layer.parameters())
    actual = layer(x, mask=FLOAT64_MASK)
    assert all(a.dtype == torch.float64 for a in flatten(actual))
    assert_close(actual, float64_reference(kind, layer, x, FLOAT64_MASK), atol=1e-12)


def test_float64_reference_agrees_with_keras_in_float32():
    """Guards the reference itself against Keras (to float32 precision)."""
    x = randn(BATCH, STEPS, FEATURES)
    theirs = keras.layers.GRU(UNITS, reset_after=False, return_sequences=True, return_state=True)
    expected = theirs(x, mask=FLOAT64_MASK)
    ours = FLOAT64_KINDS["GRU_reset_before"]()
    ours(x)
    ours.set_weights(theirs.get_weights())
    assert_close(float64_reference("GRU_reset_before", ours, x.double(), FLOAT64_MASK), [
        e.double() for e in flatten(expected)
    ])


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU", "GRU_reset_before", "Bidirectional_LSTM"])
def test_float64_layer_passes_gradcheck_with_a_mask(kind):
    layer = FLOAT64_KINDS[kind]()
    x = randn(2, 4, 3, dtype=torch.float64).requires_grad_(True)
    layer(x)
    mask = torch.tensor([[1, 0, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    assert torch.autograd.gradcheck(lambda inp: tuple(flatten(layer(inp, mask=mask))), (x,))


def test_double_before_the_first_call_creates_float64_weights():
    layer = R.Bidirectional(R.GRU(UNITS)).double()
    out = layer(randn(BATCH, STEPS, FEATURES, dtype=torch.float64))
    assert out.dtype == torch.float64
    assert all(p.dtype == torch.float64 for p in layer.parameters())


def test_float64_initial_state_and_input_give_float64_states():
    layer = R.LSTM(UNITS, return_state=True)
    x = randn(BATCH, STEPS, FEATURES, dtype=torch.float64)
    h0 = [torch.zeros(BATCH, UNITS, dtype=torch.float64)] * 2
    out, h, c = layer(x, initial_state=h0)
    assert out.dtype == h.dtype == c.dtype == torch.float64


# ============================================================================ custom nested cell
class NestedCell(R.Layer):
    """The Keras RNN guide's cell with nested inputs and states, on rnnkit."""

    def __init__(self, unit_1, unit_2, unit_3, **kwargs):
        super().__init__(**kwargs)
        self.unit_1, self.unit_2, self.unit_3 = unit_1, unit_2, unit_3
        self.state_size = [unit_1, (unit_2, unit_3)]
        self.output_size = [unit_1, (unit_2, unit_3)]

    def build(self, input_shapes):
        # input_shapes: [(batch, i1), (batch, i2, i3)]
        i1 = input_shapes[0][1]
        i2, i3 = input_shapes[1][1], input_shapes[1][2]
        self.kernel_1 = self.add_weight(name="kernel_1", shape=(i1, self.unit_1), initializer="random_uniform")
        self.kernel_2_3 = self.add_weight(
            name="kernel_2_3", shape=(i2, i3, self.unit_2, self.unit_3), initializer="random_uniform"
        )

    def call(self, inputs, states):
        input_1, input_2 = inputs
        s1, s2 = states
        output_1 = torch.matmul(input_1, self.kernel_1)
        output_2_3 = torch.einsum("bij,ijkl->bkl", input_2, self.kernel_2_3)
        return (output_1, output_2_3), (s1 + output_1, s2 + output_2_3)


NESTED_T = 3


def nested_inputs(batch=2, seed=0):
    return [randn(batch, NESTED_T, 32, seed=seed), randn(batch, NESTED_T, 64, 32, seed=seed + 1)]


def test_nested_cell_returns_nested_outputs_of_the_guides_shapes():
    layer = R.RNN(NestedCell(10, 20, 30))
    out1, out2 = layer(nested_inputs())
    assert tuple(out1.shape) == (2, 10)
    assert tuple(out2.shape) == (2, 20, 30)
    cell = layer.cell
    assert [tuple(w.shape) for w in layer.get_weights()] == [(32, 10), (64, 32, 20, 30)]
    assert tuple(cell.kernel_1.shape) == (32, 10)


def test_nested_cell_output_is_the_last_step_and_state_the_running_sum():
    layer = R.RNN(NestedCell(10, 20, 30), return_sequences=True, return_state=True)
    inputs = nested_inputs()
    (seq1, seq2), s1, s2 = layer(inputs)
    assert tuple(seq1.shape) == (2, NESTED_T, 10)
    assert tuple(seq2.shape) == (2, NESTED_T, 20, 30)
    assert_close(s1, seq1.sum(dim=1))
    assert_close(s2, seq2.sum(dim=1), atol=1e-4)
    assert_close(seq1, inputs[0] @ layer.cell.kernel_1)


def test_nested_cell_trains_with_sgd():
    torch.manual_seed(0)
    layer = R.RNN(NestedCell(10, 20, 30))
    inputs = nested_inputs()
    targets = [randn(2, 10, seed=7), randn(2, 20, 30, seed=8)]
    layer(inputs)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.05)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        out1, out2 = layer(inputs)
        loss = torch.nn.functional.mse_loss(out1, targets[0]) + torch.nn.functional.mse_loss(out2, targets[1])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert all(b <= a for a, b in zip(losses, losses[1:]))


def test_nested_cell_respects_a_mask():
    layer = R.RNN(NestedCell(10, 20, 30), return_sequences=True, return_state=True)
    inputs = nested_inputs()
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]], dtype=torch.bool)
    (seq1, seq2), s1, s2 = layer(inputs, mask=mask)
    (alone1, alone2), a1, a2 = layer([x[1:, :1] for x in inputs])
    assert_close(s1[1], a1[0])
    assert_close(s2[1], a2[0])
    # Keras: masked steps repeat the previous output.
    assert_close(seq1[1, 2], seq1[1, 0])
    assert_close(seq2[1, 1], alone2[0, 0], atol=1e-5)


def test_nested_cell_accepts_nested_initial_states():
    layer = R.RNN(NestedCell(10, 20, 30), return_state=True)
    inputs = nested_inputs()
    init = [torch.ones(2, 10), torch.ones(2, 20, 30)]
    _, s1, s2 = layer(inputs, initial_state=init)
    _, z1, z2 = layer(inputs)
    assert_close(s1, z1 + 1)
    assert_close(s2, z2 + 1, atol=1e-4)


# ====================================================================== layers are torch modules
@pytest.mark.parametrize(
    "kind, names",
    [
        ("SimpleRNN", ["cell.kernel", "cell.recurrent_kernel", "cell.bias"]),
        ("LSTM", ["cell.kernel", "cell.recurrent_kernel", "cell.bias"]),
        ("RNN_stacked", [f"cell.cells.{i}.{w}" for i in (0, 1) for w in ("kernel", "recurrent_kernel", "bias")]),
    ],
)
def test_parameters_are_registered_torch_parameters(kind, names):
    layer = built(LAYER_FACTORIES[kind]())
    assert [n for n, _ in layer.named_parameters()] == names
    assert all(isinstance(p, torch.nn.Parameter) and p.requires_grad for p in layer.parameters())
    assert sum(p.numel() for p in layer.parameters()) == layer.count_params()


@pytest.mark.parametrize("kind", list(LAYER_FACTORIES) + ["Bidirectional"])
def test_state_dict_round_trip_gives_the_same_outputs(kind):
    factory = (lambda: R.Bidirectional(R.GRU(UNITS))) if kind == "Bidirectional" else LAYER_FACTORIES[kind]
    x = randn(BATCH, STEPS, FEATURES)
    layer, other = built(factory(), x), built(factory(), x)
    assert not torch.allclose(layer(x), other(x))
    other.load_state_dict(copy.deepcopy(layer.state_dict()))
    assert_close(other(x), layer(x))


def test_deepcopy_gives_an_independent_equal_layer():
    x = randn(BATCH, STEPS, FEATURES)
    layer = built(R.LSTM(UNITS), x)
    clone = copy.deepcopy(layer)
    assert_close(clone(x), layer(x))
    with torch.no_grad():
        clone.cell.kernel.add_(1.0)
    assert not torch.allclose(clone(x), layer(x))


@pytest.mark.parametrize(
    "recurrent",
    [lambda: R.LSTM(UNITS), lambda: R.GRU(UNITS, return_sequences=True), lambda: R.Bidirectional(R.SimpleRNN(UNITS))],
    ids=["LSTM", "GRU_sequences", "Bidirectional_SimpleRNN"],
)
def test_works_inside_torch_sequential_with_a_dense_after(recurrent):
    model = torch.nn.Sequential(recurrent(), R.Dense(2))
    out = model(randn(BATCH, STEPS, FEATURES))
    assert out.shape[0] == BATCH and out.shape[-1] == 2
    assert len(list(model.parameters())) == len(model[0].get_weights()) + 2


def test_to_float64_converts_parameters_and_computes_in_float64():
    x = randn(BATCH, STEPS, FEATURES)
    model = torch.nn.Sequential(R.GRU(UNITS), R.Dense(2))
    out32 = model(x)
    model.to(torch.float64)
    assert all(p.dtype == torch.float64 for p in model.parameters())
    out64 = model(x.double())
    assert out64.dtype == torch.float64
    torch.testing.assert_close(out64.float(), out32, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "recurrent",
    [lambda: R.SimpleRNN(8), lambda: R.LSTM(8), lambda: R.GRU(8), lambda: R.Bidirectional(R.LSTM(8))],
    ids=["SimpleRNN", "LSTM", "GRU", "Bidirectional_LSTM"],
)
def test_training_with_adam_reduces_the_loss(recurrent):
    torch.manual_seed(0)
    x = randn(16, 5, 3)
    y = x.sum(dim=(1, 2)).unsqueeze(-1) / 4  # a target the model can learn
    model = torch.nn.Sequential(recurrent(), R.Dense(1))
    model(x)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_embedding_mask_rides_through_torch_sequential():
    model = text_model(R.LSTM(UNITS))
    ids = torch.tensor([SHORT + [0, 0]])
    rnn_in = model[0](ids)
    assert rnn_in._keras_mask.tolist() == [[True, True, True, False, False]]
    torch.testing.assert_close(model(ids), model(torch.tensor([SHORT])), atol=1e-6, rtol=0)


def test_runs_under_inference_mode_without_building_a_graph():
    layer = built(R.LSTM(UNITS, return_sequences=True))
    with torch.inference_mode():
        out = layer(randn(BATCH, STEPS, FEATURES))
    assert not out.requires_grad
    assert tuple(out.shape) == (BATCH, STEPS, UNITS)


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
def test_non_contiguous_input_and_float_mask_give_the_same_results(kind):
    x = randn(STEPS, BATCH, FEATURES).transpose(0, 1)
    mask = torch.ones(BATCH, STEPS)
    mask[1, 4:] = 0
    layer = LAYER_FACTORIES[kind](return_sequences=True)
    assert_close(layer(x, mask=mask), layer(x.contiguous(), mask=mask.bool()), atol=0)


def test_recurrent_layer_propagates_the_mask_only_with_return_sequences():
    emb = R.Embedding(10, 4, mask_zero=True)
    ids = torch.tensor([SHORT + [0]])
    assert R.LSTM(UNITS, return_sequences=True)(emb(ids))._keras_mask.tolist() == [[True, True, True, False]]
    assert getattr(R.LSTM(UNITS)(emb(ids)), "_keras_mask", None) is None


# ======================================================================================== errors
def test_2d_input_to_a_built_layer_raises_showing_the_expected_and_received_shapes():
    layer = built(R.GRU(UNITS, name="encoder"))
    with pytest.raises(ValueError, match=r"encoder.*\(batch, time, features\).*\(3, 4\)"):
        layer(randn(3, 4))


def test_wrong_feature_size_after_build_raises_naming_both_sizes():
    layer = built(R.LSTM(UNITS, name="encoder"))
    with pytest.raises(ValueError, match=rf"encoder.*{FEATURES}.*\(3, 6, 7\)"):
        layer(randn(3, 6, 7))


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32])
def test_integer_input_raises_pointing_to_embedding(dtype):
    layer = R.SimpleRNN(UNITS, name="reader")
    with pytest.raises(ValueError, match=r"reader.*floating-point.*int"):
        layer(torch.ones(2, 3, 4, dtype=dtype))


def test_input_of_another_float_dtype_than_the_weights_raises_naming_both():
    layer = built(R.LSTM(UNITS, name="encoder"))
    with pytest.raises(ValueError, match=r"encoder.*float32.*float64"):
        layer(randn(BATCH, STEPS, FEATURES, dtype=torch.float64))


def test_initial_state_of_wrong_shape_raises_with_both_shapes():
    layer = R.LSTM(UNITS, name="decoder")
    with pytest.raises(ValueError, match=rf"decoder.*\(3, {UNITS}\).*\(3, 2\)"):
        layer(randn(3, 6, 4), initial_state=[torch.zeros(3, 2), torch.zeros(3, UNITS)])


def test_initial_state_with_wrong_batch_raises():
    layer = R.GRU(UNITS, name="decoder")
    with pytest.raises(ValueError, match=rf"decoder.*\(3, {UNITS}\).*\(2, {UNITS}\)"):
        layer(randn(3, 6, 4), initial_state=[torch.zeros(2, UNITS)])


@pytest.mark.parametrize("count", [1, 3])
def test_initial_state_of_wrong_count_raises_with_the_expected_count(count):
    layer = R.LSTM(UNITS, name="decoder")
    with pytest.raises(ValueError, match=rf"decoder.*expects 2 initial state.*got {count}"):
        layer(randn(3, 6, 4), initial_state=[torch.zeros(3, UNITS)] * count)


def test_mask_of_wrong_shape_raises_with_both_shapes():
    layer = R.LSTM(UNITS, name="encoder")
    with pytest.raises(ValueError, match=r"encoder.*\(3, 6\).*\(3, 5\)"):
        layer(randn(3, 6, 4), mask=torch.ones(3, 5, dtype=torch.bool))


@pytest.mark.parametrize(
    "factory, typo, suggestion",
    [
        (lambda a: R.SimpleRNN(UNITS, activation=a), "rellu", "relu"),
        (lambda a: R.LSTM(UNITS, recurrent_activation=a), "hard_sigmod", "hard_sigmoid"),
        (lambda a: R.GRUCell(UNITS, activation=a), "tahn", "tanh"),
    ],
)
def test_unknown_activation_raises_listing_close_matches(factory, typo, suggestion):
    with pytest.raises(ValueError, match=rf"{typo}.*Did you mean.*'{suggestion}'"):
        factory(typo)


def test_bidirectional_unknown_merge_mode_raises_listing_the_modes():
    with pytest.raises(ValueError, match=r"bi_encoder.*'avg'.*concat.*sum.*mul.*ave.*None"):
        R.Bidirectional(R.LSTM(UNITS), merge_mode="avg", name="bi_encoder")


def test_bidirectional_of_a_non_recurrent_layer_raises():
    with pytest.raises(ValueError, match=r"bi_encoder.*Dense"):
        R.Bidirectional(R.Dense(3), name="bi_encoder")


def test_set_weights_with_wrong_count_raises_listing_the_expected_shapes():
    layer = built(R.LSTM(UNITS, name="encoder"))
    with pytest.raises(ValueError, match=rf"encoder.*expects 3 weight arrays.*\({FEATURES}, {4 * UNITS}\).*got 2"):
        layer.set_weights(layer.get_weights()[:2])


def test_set_weights_with_wrong_shape_raises_with_both_shapes():
    layer = built(R.GRU(UNITS, name="encoder"))
    weights = layer.get_weights()
    weights[2] = np.zeros(3 * UNITS, dtype="float32")  # reset_after=True wants (2, 3*units)
    with pytest.raises(ValueError, match=rf"encoder.*weight 2.*\(2, {3 * UNITS}\).*\({3 * UNITS},\)"):
        layer.set_weights(weights)


def test_set_weights_before_build_raises():
    with pytest.raises(ValueError, match=r"encoder.*no weights yet"):
        R.LSTM(UNITS, name="encoder").set_weights([])


@pytest.mark.parametrize("units", [0, -3])
@pytest.mark.parametrize("cls", [R.SimpleRNNCell, R.LSTMCell, R.GRUCell])
def test_cell_units_not_positive_raises(cls, units):
    with pytest.raises(ValueError, match=rf"my_cell.*units must be a positive integer.*{units}"):
        cls(units, name="my_cell")


@pytest.mark.parametrize("cls", [R.SimpleRNN, R.LSTM, R.GRU])
def test_layer_units_not_positive_raises(cls):
    with pytest.raises(ValueError, match=r"units must be a positive integer.*0"):
        cls(0)


@pytest.mark.parametrize("arg, rate", [("dropout", 1.0), ("dropout", -0.1), ("recurrent_dropout", 1.5)])
@pytest.mark.parametrize("cls", [R.SimpleRNNCell, R.LSTMCell, R.GRUCell])
def test_cell_dropout_outside_0_1_raises(cls, arg, rate):
    with pytest.raises(ValueError, match=rf"my_cell.*{arg} must be in \[0, 1\).*{rate}"):
        cls(UNITS, name="my_cell", **{arg: rate})


def test_rnn_of_an_object_without_state_size_raises():
    with pytest.raises(ValueError, match=r"looper.*state_size"):
        R.RNN(R.Dense(3), name="looper")


def test_sequence_with_zero_steps_raises():
    with pytest.raises(ValueError, match=r"encoder.*0 time steps"):
        R.LSTM(UNITS, name="encoder")(torch.zeros(2, 0, 4))


# ======================================================== errors name the layer, before it is built
@pytest.mark.parametrize("shape", [(3, 4), (3, 4, 2, 2)])
@pytest.mark.parametrize("cls", [R.SimpleRNN, R.LSTM, R.GRU])
def test_input_not_3d_raises_before_build_naming_the_layer_and_the_received_shape(cls, shape):
    layer = cls(UNITS, name="encoder")
    with pytest.raises(ValueError, match=rf"'encoder'.*\(batch, time, features\).*{re.escape(str(shape))}"):
        layer(torch.randn(*shape))
    assert not layer.built


def test_input_not_3d_to_a_built_layer_raises_showing_the_4d_shape():
    layer = built(R.LSTM(UNITS, name="encoder"))
    with pytest.raises(ValueError, match=r"'encoder'.*\(batch, time, features\).*\(3, 6, 4, 1\)"):
        layer(randn(BATCH, STEPS, FEATURES, 1))


def test_bidirectional_2d_input_raises_naming_the_forward_layer():
    layer = R.Bidirectional(R.GRU(2, name="tagger"))
    with pytest.raises(ValueError, match=r"'forward_tagger'.*\(batch, time, features\).*\(3, 4\)"):
        layer(torch.randn(3, 4))
    assert not layer.built


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: R.LSTM(0, name="encoder"), r"LSTM 'encoder'.*units must be a positive integer.*0"),
        (lambda: R.GRU(3, dropout=1.0, name="encoder"), r"GRU 'encoder'.*dropout must be in \[0, 1\).*1\.0"),
        (lambda: R.GRU(3, recurrent_dropout=-0.5, name="encoder"), r"GRU 'encoder'.*recurrent_dropout.*-0\.5"),
        (lambda: R.SimpleRNN(3, activation="rellu", name="encoder"), r"SimpleRNN 'encoder'.*'rellu'.*'relu'"),
        (lambda: R.LSTM(3, recurrent_activation="sigmod", name="encoder"), r"LSTM 'encoder'.*'sigmod'.*'sigmoid'"),
    ],
)
def test_invalid_layer_argument_raises_naming_the_layer(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("cls", [R.SimpleRNN, R.LSTM, R.GRU])
def test_unknown_keyword_argument_raises_type_error_naming_the_class_and_the_argument(cls):
    with pytest.raises(TypeError, match=rf"{cls.__name__}.*unexpected keyword argument.*foo"):
        cls(3, foo=1)


def test_stacked_cells_with_a_flat_list_of_initial_states_raises_asking_for_one_group_per_cell():
    layer = R.RNN([R.LSTMCell(3), R.GRUCell(2)], name="stack")
    flat = [torch.zeros(BATCH, 3), torch.zeros(BATCH, 3), torch.zeros(BATCH, 2)]
    grouping = r"'stack' stacks 2 cells.*one group of initial states per cell.*\[\[h, c\], \[h\]\].*got 3"
    with pytest.raises(ValueError, match=grouping):
        layer(randn(BATCH, STEPS, FEATURES), initial_state=flat)


def test_stacked_cells_with_grouped_initial_states_equal_keras():
    x = randn(BATCH, STEPS, FEATURES)
    initial = [[randn(BATCH, 3, seed=1), randn(BATCH, 3, seed=2)], randn(BATCH, 2, seed=3)]
    theirs = keras.layers.RNN([keras.layers.LSTMCell(3), keras.layers.GRUCell(2)], return_sequences=True,
                              return_state=True)
    expected = theirs(x, initial_state=initial)
    ours = built(R.RNN([R.LSTMCell(3), R.GRUCell(2)], return_sequences=True, return_state=True), x)
    ours.set_weights(theirs.get_weights())
    assert_close(ours(x, initial_state=initial), expected)


# ============================================================== dtype chosen before the first call
@pytest.mark.parametrize("convert", [lambda m: m.double(), lambda m: m.to(torch.float64)])
def test_model_converted_to_float64_before_its_first_call_creates_float64_weights(convert):
    model = convert(torch.nn.Sequential(R.Embedding(10, 4), R.LSTM(3)))
    assert not model[1].built
    out = model(torch.tensor([[1, 2, 3], [4, 5, 0]]))
    assert out.dtype == torch.float64
    assert [p.dtype for p in model.parameters()] == [torch.float64] * 4


def test_float32_input_to_a_float64_built_layer_raises_naming_the_layer_and_both_dtypes():
    layer = built(R.GRU(UNITS, name="encoder"), randn(BATCH, STEPS, FEATURES, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"'encoder'.*torch\.float64 weights.*torch\.float32 input"):
        layer(randn(BATCH, STEPS, FEATURES))


def test_float32_input_to_a_layer_made_float64_before_build_raises_naming_both_dtypes():
    layer = R.LSTM(UNITS, name="encoder").double()
    with pytest.raises(ValueError, match=r"'encoder'.*torch\.float64 weights.*torch\.float32 input"):
        layer(randn(BATCH, STEPS, FEATURES))
