"""The planner (rnnkit.layers.plan): for each option combination that decides a path, the plan names
the path and why, and the call runs exactly that engine Function (spied on); which models hand an
Embedding fold over; explain's output; the one-time slow-path warning. The numbers each path
computes are proved against each other and Keras in tests/engine and tests/layers/test_recurrent_parity.py."""
import functools
import warnings

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import layers
from rnnkit.engine import gru as gru_module
from rnnkit.engine import lstm as lstm_module
from rnnkit.engine import simple_rnn as simple_rnn_module
from rnnkit.layers import plan as plan_module
from rnnkit.layers import rnn as rnn_module
from rnnkit.layers.rnn import carrying_states

B, T, F, H = 3, 5, 2, 4
CELLS = ["SimpleRNN", "LSTM", "GRU"]
RIGHT_PADDED = torch.arange(T)[None, :] < torch.tensor([5, 2, 3])[:, None]


def _record(calls, path, apply, *args):
    calls.append(path)
    return apply(*args)


@pytest.fixture
def ran(monkeypatch):
    """The engine paths the calls ran, in order: every per-path autograd Function and the cell loop."""
    calls = []
    for module, prefix in ((simple_rnn_module, "SimpleRNN"), (lstm_module, "LSTM"), (gru_module, "GRU")):
        for suffix, path in (("Compiled", "compiled"), ("CompiledNested", "compiled_nested"), ("TorchOps", "torch_ops")):
            function = getattr(module, prefix + suffix)
            monkeypatch.setattr(function, "apply", functools.partial(_record, calls, path, function.apply))
    monkeypatch.setattr(rnn_module, "cell_scan", functools.partial(_record, calls, "cell_loop", rnn_module.cell_scan))
    return calls


def explain(layer, x, **kwargs):
    return [p for _, p in layer.explain(x, print_fn=lambda line: None, **kwargs)]


def x_of(dtype=torch.float32, batch=B, steps=T):
    return torch.randn(batch, steps, F, dtype=dtype)


CASES = {
    # name: (layer options, call options, expected path, a word of the reason or None)
    "defaults": ({}, {}, "compiled", None),
    "right_padded_mask": ({}, {"mask": RIGHT_PADDED}, "compiled_nested", None),
    "go_backwards_over_right_padding": ({"go_backwards": True}, {"mask": RIGHT_PADDED}, "compiled_nested", None),
    "mask_with_holes": ({}, {"mask": torch.tensor([[1, 0, 1, 1, 1], [1, 1, 1, 0, 1], [1, 1, 1, 1, 1]]).bool()},
                        "compiled",
                        "not right- or left-padded"),
    "recurrent_dropout_training": ({"recurrent_dropout": 0.2}, {"training": True}, "torch_ops",
                                   "recurrent_dropout=0.2 has no compiled kernel"),
    "recurrent_dropout_inference": ({"recurrent_dropout": 0.2}, {}, "compiled", None),
    "dropout_training": ({"dropout": 0.2}, {"training": True}, "compiled", None),
    "float64": ({"dtype": "float64"}, {}, "torch_ops", "float64 weights"),
    "elementwise_without_kernel": ({"activation": "elu"}, {}, "torch_ops", "activation='elu'"),
    "not_elementwise": ({"activation": "softmax"}, {}, "cell_loop", "activation='softmax' is not elementwise"),
    "stateful": ({"stateful": True}, {}, "compiled", None),
}


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("case", list(CASES))
def test_plan_names_the_path_and_reason_and_the_call_runs_that_path(cell, case, ran):
    options, call, path, reason = CASES[case]
    layer = getattr(layers, cell)(H, **options)
    x = x_of(torch.float64 if options.get("dtype") == "float64" else torch.float32)
    (plan,) = explain(layer, x, **call)
    assert plan.path == path
    assert ran == [path]
    assert (reason is None and plan.reasons == ()) or any(reason in r for r in plan.reasons)


def test_every_reason_against_the_compiled_kernel_is_named_at_once(ran):
    (plan,) = explain(layers.LSTM(H, recurrent_dropout=0.2, activation="elu"), x_of(), training=True)
    assert plan.path == "torch_ops"
    assert "recurrent_dropout=0.2 has no compiled kernel" in plan.reasons[0] and "activation='elu'" in plan.reasons[0]


def test_gru_reset_before_runs_the_pytorch_op_kernel(ran):
    (plan,) = explain(layers.GRU(H, reset_after=False), x_of())
    assert (plan.path, ran, plan.reasons) == ("torch_ops", ["torch_ops"], ("reset_after=False has no compiled kernel",))


def test_mixed_bfloat16_runs_compiled_with_bfloat16_gemms(ran):
    layer = layers.LSTM(H, dtype="mixed_bfloat16")
    if layer(x_of()).dtype != torch.bfloat16:
        pytest.skip("this CPU runs no bfloat16")
    ran.clear()
    (plan,) = explain(layer, x_of())
    assert (plan.path, plan.compute_dtype, ran) == ("compiled", "bfloat16", ["compiled"])


class MinimalCell(layers.Layer):
    state_size = H

    def build(self, input_shape):
        self.kernel = torch.nn.Parameter(torch.randn(input_shape[-1], H))

    def call(self, inputs, states):
        h = torch.tanh(inputs @ self.kernel + states[0])
        return h, [h]


def test_custom_cell_runs_the_cell_loop_and_never_warns(ran):
    layer = layers.RNN(MinimalCell())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer(x_of(batch=8, steps=60))
    (plan,) = explain(layer, x_of())
    assert (plan.path, ran[-1], plan.slow_reason) == ("cell_loop", "cell_loop", None)
    assert "MinimalCell is a custom cell" in plan.reasons[0]


def test_stacked_cells_run_each_cell_on_its_kernel(ran):
    layer = layers.RNN(layers.StackedRNNCells([layers.LSTMCell(H), layers.GRUCell(H, reset_after=False)]))
    (plan,) = explain(layer, x_of())
    assert plan.path == "torch_ops" and ran == ["compiled", "torch_ops"]


def test_stack_with_a_custom_cell_runs_the_cell_loop(ran):
    (plan,) = explain(layers.RNN([layers.LSTMCell(H), MinimalCell()]), x_of())
    assert plan.path == "cell_loop" and ran == ["cell_loop"]


def test_bidirectional_plans_each_direction_without_flipping_go_backwards(ran, monkeypatch):
    seen = []
    real = rnn_module.plan
    monkeypatch.setattr(rnn_module, "plan", lambda layer, *a: seen.append(layer.go_backwards) or real(layer, *a))
    bi = layers.Bidirectional(layers.GRU(H))
    plans = explain(bi, x_of(), mask=RIGHT_PADDED)
    assert [p.path for p in plans] == ["compiled_nested", "compiled_nested"] == ran
    assert seen == [False, True] and bi.backward_layer.go_backwards


def ids_of(vocabulary=6, batch=B, steps=T):
    return torch.randint(1, vocabulary, (batch, steps), generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("wrap", [lambda layer: layer, layers.Bidirectional], ids=["direct", "bidirectional"])
def test_sequential_folds_an_embedding_that_feeds_a_recurrent_layer(wrap):
    model = rnnkit.Sequential([layers.Embedding(6, F), wrap(layers.LSTM(H)), layers.Dense(1)])
    plans = [p for _, p in model.explain(ids_of(), print_fn=lambda line: None)]
    assert plans and all(p.folded for p in plans)


def test_functional_model_folds_only_an_embedding_output_read_by_one_recurrent_layer():
    ids = rnnkit.Input(shape=(T,), dtype="int64")
    once = layers.Embedding(6, F)(ids)
    twice = layers.Embedding(6, F)(ids)
    out = layers.Concatenate()([layers.LSTM(H, name="folded")(once), layers.GRU(H, name="unfolded")(twice),
                                layers.SimpleRNN(H, name="also_unfolded")(twice)])
    plans = dict(rnnkit.Model(ids, out).explain(ids_of(), print_fn=lambda line: None))
    assert plans["folded"].folded and not plans["unfolded"].folded


def test_layer_called_by_hand_on_an_embedding_output_does_not_fold():
    embedding = layers.Embedding(6, F)
    (plan,) = explain(layers.LSTM(H), embedding(ids_of()))
    assert not plan.folded and "folded" not in str(plan)


def test_plan_says_why_a_fold_was_refused():
    model = rnnkit.Sequential([layers.Embedding(B * T + 1, F), layers.GRU(H)])
    (plan,) = [p for _, p in model.explain(ids_of(vocabulary=B * T + 1), print_fn=lambda line: None)]
    assert not plan.folded and any("vocabulary (16 rows) is not smaller than batch x time (15)" in r for r in plan.reasons)


def test_carrying_states_carries_without_flipping_stateful():
    layer = layers.GRU(H)
    x = x_of()
    with carrying_states([layer], restore=True):
        assert not layer.stateful and layer.carries_states()
        layer(x[:, :2])
        continued = layer(x[:, 2:])
    assert not layer.carries_states() and layer.states is None
    torch.testing.assert_close(continued, layer(x), atol=1e-6, rtol=1e-5)


def test_model_explain_prints_each_layer_path_and_the_greedy_decoder():
    lines = []
    model = rnnkit.Sequential([layers.Embedding(6, F), layers.GRU(H, return_sequences=True), layers.Dense(6)])
    plans = model.explain(np.asarray(ids_of()), print_fn=lines.append)
    assert [name for name, _ in plans] == [model.layers[1].name]
    assert lines[0].startswith(f"{model.layers[1].name}: compiled (float32, Embedding folded into the input projection")
    assert lines[-1] == "greedy generation: the compiled greedy decoder"


def test_model_explain_says_why_greedy_generation_is_not_compiled():
    lines = []
    model = rnnkit.Sequential([layers.Embedding(6, F, mask_zero=True), layers.LSTM(H, return_sequences=True),
                               layers.Dense(6)])
    model.explain(ids_of(), print_fn=lines.append)
    assert lines[-1] == "greedy generation: one model call per token (the Embedding has mask_zero=True)"


def test_slow_path_warns_once_per_layer_and_reason_naming_the_fix_and_explain():
    layer = layers.LSTM(H, recurrent_dropout=0.2)
    x = x_of(batch=8, steps=plan_module.SLOW_MIN_STEPS)
    with pytest.warns(UserWarning) as caught:
        layer(x, training=True)
    (warning,) = [w for w in caught if "slower" in str(w.message)]
    message = str(warning.message)
    assert f"LSTM '{layer.name}'" in message and "recurrent_dropout=0.2" in message
    assert "recurrent_dropout=0 runs compiled" in message and "explain" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer(x, training=True)


@pytest.mark.parametrize(
    "make, x",
    [
        (lambda: layers.LSTM(H, dtype="float64"), x_of(torch.float64, batch=8, steps=60)),  # precision: a choice
        (lambda: layers.LSTM(32, recurrent_dropout=0.2), x_of(batch=32, steps=50)),  # larger steps: under 5x
        (lambda: layers.LSTM(H, recurrent_dropout=0.2), x_of(batch=8, steps=10)),  # few steps: under 5x
        (lambda: layers.SimpleRNN(H, activation="elu"), x_of(batch=8, steps=60)),  # SimpleRNN: under 5x
    ],
    ids=["float64", "large_steps", "few_steps", "simple_rnn_ops"],
)
def test_no_warning_for_unchangeable_reasons_or_paths_under_5x(make, x):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make()(x, training=True)


def test_plan_str_lists_the_path_facts_and_reasons():
    plan = plan_module.Plan("gru", "torch_ops", ("recurrent_dropout=0.2 has no compiled kernel",), "float32",
                            one_thread=True)
    assert str(plan) == "gru: torch_ops (float32, time loop on one thread)\n  - recurrent_dropout=0.2 has no compiled kernel"


def _quiet(line):
    pass


@pytest.mark.parametrize("wrap", [lambda layer: layer, layers.Bidirectional], ids=["direct", "bidirectional"])
@pytest.mark.parametrize("warm", [True, False], ids=["carried", "fresh"])
def test_layer_explain_leaves_a_stateful_layers_states_as_they_were(wrap, warm):
    layer = wrap(layers.GRU(H, stateful=True))
    x = x_of()
    if warm:
        layer(x)
    before = None if layer.states is None else [s.clone() for s in layer.states]
    layer.explain(x_of(), print_fn=_quiet)
    if before is None:
        assert layer.states is None
    else:
        assert all(torch.equal(a, b) for a, b in zip(before, layer.states))


def test_model_explain_leaves_a_stateful_layers_states_as_they_were():
    model = rnnkit.Sequential([layers.LSTM(H, stateful=True, return_sequences=True), layers.Dense(1)])
    x = x_of()
    model(x)
    before = [s.clone() for s in model.layers[0].states]
    model.explain(x_of(), print_fn=_quiet)
    assert all(torch.equal(a, b) for a, b in zip(before, model.layers[0].states))


def test_layer_explain_in_training_leaves_the_dropout_masks_of_the_next_call_unchanged():
    layer = layers.LSTM(H, dropout=0.3, recurrent_dropout=0.3)
    x = x_of()
    layer(x)
    torch.manual_seed(1)
    expected = layer(x, training=True)
    torch.manual_seed(1)
    layer.explain(x, training=True, print_fn=_quiet)
    torch.testing.assert_close(layer(x, training=True), expected, atol=0, rtol=0)


def test_model_explain_in_training_leaves_moving_statistics_and_dropout_unchanged():
    model = rnnkit.Sequential([layers.GRU(H, return_sequences=True), layers.BatchNormalization(),
                               layers.Dropout(0.5), layers.Dense(1)])
    x = x_of()
    model(x)
    weights = model.get_weights()
    torch.manual_seed(1)
    expected = model(x, training=True)
    model.set_weights(weights)  # the training call moved BatchNormalization's statistics
    torch.manual_seed(1)
    model.explain(x, training=True, print_fn=_quiet)
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    torch.testing.assert_close(model(x, training=True), expected, atol=0, rtol=0)


def test_layer_explain_takes_a_numpy_mask():
    layer = layers.LSTM(H)
    mask = RIGHT_PADDED.numpy()
    (plan,) = [p for _, p in layer.explain(x_of().numpy(), mask=mask, print_fn=_quiet)]
    assert plan.path == "compiled_nested"


def test_explain_of_an_unbuilt_model_in_training_builds_it_without_moving_its_statistics():
    model = rnnkit.Sequential([layers.GRU(H, return_sequences=True), layers.BatchNormalization()])
    model.explain(x_of(), training=True, print_fn=_quiet)
    norm = model.layers[1]
    assert torch.equal(norm.moving_mean, torch.zeros(H)) and torch.equal(norm.moving_variance, torch.ones(H))


@pytest.mark.parametrize("explain", [
    lambda kwargs: layers.GRU(H).explain(x_of(), **kwargs),
    lambda kwargs: layers.Bidirectional(layers.GRU(H)).explain(x_of(), **kwargs),
    lambda kwargs: rnnkit.Sequential([layers.GRU(H)]).explain(x_of(), **kwargs),
], ids=["layer", "bidirectional", "model"])
@pytest.mark.parametrize("kwargs, message", [
    ({"training": "no"}, r"^explain: training must be True or False, got 'no' \(str\)\.$"),
    ({"print_fn": "log.txt"}, r"^explain: print_fn must be callable \(e\.g\. print or a list's append\), got 'log.txt' \(str\)\.$"),
], ids=["training", "print_fn"])
def test_explain_refuses_a_training_flag_or_print_fn_of_the_wrong_type(explain, kwargs, message):
    with pytest.raises(TypeError, match=message):
        explain(kwargs)


def test_a_recurrent_layer_refuses_a_mask_that_is_not_an_array_naming_it():
    with pytest.raises(TypeError, match=r"^Layer 'gru\w*' expects a boolean mask of shape \(batch, time\), got str\.$"):
        layers.GRU(H)(x_of(), mask="all")


@pytest.mark.parametrize("used", [True, False], ids=["used", "unused"])
def test_explain_in_training_leaves_seeded_dropout_generators_as_they_were(used):
    def make():
        return rnnkit.Sequential([layers.GRU(H, dropout=0.3, seed=1, return_sequences=True), layers.Dropout(0.5, seed=2)])

    explained, fresh = make(), make()
    x = x_of()
    explained(x)
    fresh(x)
    fresh.set_weights(explained.get_weights())
    if used:  # the generators exist (they are made on a layer's first call in training)
        explained(x, training=True)
        fresh(x, training=True)
    explained.explain(x, training=True, print_fn=_quiet)
    expected = fresh(x, training=True)
    torch.testing.assert_close(explained(x, training=True), expected, atol=0, rtol=0)
    assert not torch.equal(expected, fresh(x, training=True))  # the generators do advance between calls
