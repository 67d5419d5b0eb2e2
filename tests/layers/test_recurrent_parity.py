"""Recurrent layers: parity with Keras 3 itself.

Each test builds the Keras layer and ours on the same input, copies Keras's weights into ours with
`set_weights(keras_layer.get_weights())`, and compares every output (and returned state) to 1e-5 in
float32: SimpleRNN, LSTM, GRU (both reset_after), RNN(cell), StackedRNNCells and Bidirectional, with
return_sequences / return_state / go_backwards / use_bias / activations, initial states, masks
(given or from Embedding(mask_zero=True)), and parameter counts and weight shapes."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from rnnkit import layers as R  # noqa: E402

K = keras.layers
from keras_parity import randn, to_numpy  # noqa: E402

ATOL = 1e-5
BATCH, STEPS, FEATURES, UNITS = 3, 5, 4, 3


def flatten(structure):
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def assert_same_outputs(ours, theirs):
    """Same nesting length, same shapes, same values: every output and every returned state."""
    assert isinstance(ours, (list, tuple)) == isinstance(theirs, (list, tuple))
    ours, theirs = flatten(ours), flatten(theirs)
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        a, b = to_numpy(a), to_numpy(b)
        assert a.shape == b.shape, f"output {i}: shape {a.shape} != Keras {b.shape}"
        np.testing.assert_allclose(a, b, atol=ATOL, err_msg=f"output {i}")


def matched_pair(factory, x):
    """Keras's layer and ours from the same `factory(layers_module)`, built on `x`, with Keras's
    weights copied into ours."""
    theirs, ours = factory(K), factory(R)
    theirs(x)
    ours(torch.as_tensor(x))
    ours.set_weights(theirs.get_weights())
    return ours, theirs


def call_both(factory, x, mask=None, initial_state=None):
    ours, theirs = matched_pair(factory, x)
    kwargs = {}
    if mask is not None:
        kwargs["mask"] = torch.as_tensor(mask)
    if initial_state is not None:
        kwargs["initial_state"] = initial_state
    expected = theirs(torch.as_tensor(x), **kwargs)
    actual = ours(torch.as_tensor(x), **kwargs)
    return actual, expected


# ------------------------------------------------------------------------------ layer recipes
# Each kind: (factory(L, rnn_kwargs, cell_kwargs), state shapes as nested lists of (batch, size)).
def _simple(L, rnn_kw, cell_kw):
    return L.SimpleRNN(UNITS, **cell_kw, **rnn_kw)


def _lstm(L, rnn_kw, cell_kw):
    return L.LSTM(UNITS, **cell_kw, **rnn_kw)


def _gru(L, rnn_kw, cell_kw):
    return L.GRU(UNITS, **cell_kw, **rnn_kw)


def _gru_reset_before(L, rnn_kw, cell_kw):
    return L.GRU(UNITS, reset_after=False, **cell_kw, **rnn_kw)


def _rnn_simple_cell(L, rnn_kw, cell_kw):
    return L.RNN(L.SimpleRNNCell(UNITS, **cell_kw), **rnn_kw)


def _rnn_lstm_cell(L, rnn_kw, cell_kw):
    return L.RNN(L.LSTMCell(UNITS, **cell_kw), **rnn_kw)


def _rnn_gru_cell(L, rnn_kw, cell_kw):
    return L.RNN(L.GRUCell(UNITS, **cell_kw), **rnn_kw)


def _stacked(L, rnn_kw, cell_kw):
    return L.RNN([L.LSTMCell(UNITS, **cell_kw), L.GRUCell(UNITS + 1, **cell_kw)], **rnn_kw)


KINDS = {
    "SimpleRNN": (_simple, [UNITS]),
    "LSTM": (_lstm, [UNITS, UNITS]),
    "GRU": (_gru, [UNITS]),
    "GRU_reset_before": (_gru_reset_before, [UNITS]),
    "RNN_SimpleRNNCell": (_rnn_simple_cell, [UNITS]),
    "RNN_LSTMCell": (_rnn_lstm_cell, [UNITS, UNITS]),
    "RNN_GRUCell": (_rnn_gru_cell, [UNITS]),
    "RNN_stacked_LSTMCell_GRUCell": (_stacked, [[UNITS, UNITS], [UNITS + 1]]),
}


def recipe(kind, cell_kw=None, **rnn_kw):
    build = KINDS[kind][0]
    return lambda L: build(L, rnn_kw, dict(cell_kw or {}))


def initial_states(kind, seed=1):
    """Random initial states in the kind's structure (nested for stacked cells), as torch tensors."""
    rng = np.random.default_rng(seed)

    def make(sizes):
        if isinstance(sizes, list):
            return [make(s) for s in sizes]
        return torch.as_tensor(rng.standard_normal((BATCH, sizes)).astype("float32"))

    return make(KINDS[kind][1])


MASKS = {
    "right_padded": [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]],
    "left_padded": [[1, 1, 1, 1, 1], [0, 0, 1, 1, 1], [0, 0, 0, 0, 1]],
    "holes_in_the_middle": [[1, 0, 1, 0, 1], [1, 1, 0, 0, 1], [0, 1, 1, 0, 1]],
    "one_sample_all_masked": [[1, 1, 1, 1, 1], [0, 0, 0, 0, 0], [1, 1, 1, 0, 0]],
}


def mask_of(name):
    return np.asarray(MASKS[name], dtype=bool)


# ------------------------------------------------------------------- outputs, flags, use_bias
RNN_OPTIONS = {
    "last_output": {},
    "return_sequences": {"return_sequences": True},
    "return_state": {"return_state": True},
    "return_sequences_and_state": {"return_sequences": True, "return_state": True},
    "go_backwards_sequences": {"go_backwards": True, "return_sequences": True, "return_state": True},
    "go_backwards_last_output": {"go_backwards": True},
}


@pytest.mark.parametrize("options", list(RNN_OPTIONS))
@pytest.mark.parametrize("kind", list(KINDS))
def test_outputs_and_states_match_keras(kind, options):
    x = randn(BATCH, STEPS, FEATURES)
    assert_same_outputs(*call_both(recipe(kind, **RNN_OPTIONS[options]), x))


@pytest.mark.parametrize("kind", list(KINDS))
def test_layer_without_bias_matches_keras(kind):
    x = randn(BATCH, STEPS, FEATURES)
    assert_same_outputs(*call_both(recipe(kind, {"use_bias": False}, return_sequences=True, return_state=True), x))


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "linear", "elu"])
@pytest.mark.parametrize("kind", ["SimpleRNN", "RNN_SimpleRNNCell"])
def test_simple_rnn_activation_matches_keras(kind, activation):
    x = randn(BATCH, STEPS, FEATURES)
    assert_same_outputs(*call_both(recipe(kind, {"activation": activation}, return_sequences=True), x))


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "GRU_reset_before", "RNN_LSTMCell", "RNN_GRUCell"])
def test_hard_sigmoid_recurrent_activation_matches_keras(kind):
    x = 2.0 * randn(BATCH, STEPS, FEATURES)  # wide enough to reach hard_sigmoid's flat parts
    cell_kw = {"recurrent_activation": "hard_sigmoid"}
    assert_same_outputs(*call_both(recipe(kind, cell_kw, return_sequences=True, return_state=True), x))


@pytest.mark.parametrize("activation", ["relu", "elu", "linear"])
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "GRU_reset_before"])
def test_gated_layer_activation_matches_keras(kind, activation):
    x = randn(BATCH, STEPS, FEATURES)
    cell_kw = {"activation": activation}
    assert_same_outputs(*call_both(recipe(kind, cell_kw, return_sequences=True, return_state=True), x))


# ------------------------------------------------------------------------------ initial state
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("kind", list(KINDS))
def test_initial_state_tensors_match_keras(kind, go_backwards):
    x = randn(BATCH, STEPS, FEATURES)
    factory = recipe(kind, return_sequences=True, return_state=True, go_backwards=go_backwards)
    assert_same_outputs(*call_both(factory, x, initial_state=initial_states(kind)))


@pytest.mark.parametrize("kind", ["SimpleRNN", "GRU"])
def test_single_state_given_as_bare_tensor_matches_keras(kind):
    x = randn(BATCH, STEPS, FEATURES)
    (h0,) = initial_states(kind)
    assert_same_outputs(*call_both(recipe(kind, return_state=True), x, initial_state=h0))


# ---------------------------------------------------------------------------------------- masks
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
@pytest.mark.parametrize("mask", list(MASKS))
@pytest.mark.parametrize("kind", list(KINDS))
def test_masked_outputs_and_states_match_keras(kind, mask, return_sequences):
    x = randn(BATCH, STEPS, FEATURES)
    factory = recipe(kind, return_sequences=return_sequences, return_state=True)
    assert_same_outputs(*call_both(factory, x, mask=mask_of(mask)))


@pytest.mark.parametrize("mask", ["right_padded", "holes_in_the_middle", "one_sample_all_masked"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_masked_go_backwards_with_initial_state_matches_keras(kind, mask):
    x = randn(BATCH, STEPS, FEATURES)
    factory = recipe(kind, return_sequences=True, return_state=True, go_backwards=True)
    assert_same_outputs(*call_both(factory, x, mask=mask_of(mask), initial_state=initial_states(kind)))


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
def test_masked_zero_output_for_mask_matches_keras(kind):
    x = randn(BATCH, STEPS, FEATURES)
    factory = recipe(kind, return_sequences=True, return_state=True, zero_output_for_mask=True)
    assert_same_outputs(*call_both(factory, x, mask=mask_of("holes_in_the_middle")))


# -------------------------------------------------------------------------------- Bidirectional
MERGE_MODES = ["concat", "sum", "mul", "ave", None]
BIDIRECTIONAL_FLAGS = {
    "last_output": {},
    "return_sequences": {"return_sequences": True},
    "return_state": {"return_state": True},
    "return_sequences_and_state": {"return_sequences": True, "return_state": True},
}


def bidirectional(inner, merge_mode, **rnn_kw):
    return lambda L: L.Bidirectional(KINDS[inner][0](L, rnn_kw, {}), merge_mode=merge_mode)


def bidirectional_initial_states(inner):
    """Forward states then backward states, as a flat list."""
    return initial_states(inner, seed=1) + initial_states(inner, seed=2)


@pytest.mark.parametrize("flags", list(BIDIRECTIONAL_FLAGS))
@pytest.mark.parametrize("merge_mode", MERGE_MODES, ids=str)
def test_bidirectional_lstm_merge_mode_matches_keras(merge_mode, flags):
    x = randn(BATCH, STEPS, FEATURES)
    assert_same_outputs(*call_both(bidirectional("LSTM", merge_mode, **BIDIRECTIONAL_FLAGS[flags]), x))


@pytest.mark.parametrize("merge_mode", ["concat", None], ids=str)
@pytest.mark.parametrize("inner", ["SimpleRNN", "GRU", "GRU_reset_before", "RNN_LSTMCell"])
def test_bidirectional_of_each_layer_kind_matches_keras(inner, merge_mode):
    x = randn(BATCH, STEPS, FEATURES)
    factory = bidirectional(inner, merge_mode, return_sequences=True, return_state=True)
    assert_same_outputs(*call_both(factory, x))


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
@pytest.mark.parametrize("mask", list(MASKS))
@pytest.mark.parametrize("merge_mode", MERGE_MODES, ids=str)
def test_bidirectional_masked_matches_keras(merge_mode, mask, return_sequences):
    x = randn(BATCH, STEPS, FEATURES)
    factory = bidirectional("LSTM", merge_mode, return_sequences=return_sequences, return_state=True)
    assert_same_outputs(*call_both(factory, x, mask=mask_of(mask)))


@pytest.mark.parametrize("merge_mode", ["concat", "sum", None], ids=str)
@pytest.mark.parametrize("inner", ["SimpleRNN", "LSTM", "GRU"])
def test_bidirectional_initial_state_forward_then_backward_matches_keras(inner, merge_mode):
    x = randn(BATCH, STEPS, FEATURES)
    factory = bidirectional(inner, merge_mode, return_sequences=True, return_state=True)
    assert_same_outputs(*call_both(factory, x, initial_state=bidirectional_initial_states(inner)))


def test_bidirectional_masked_with_initial_state_matches_keras():
    x = randn(BATCH, STEPS, FEATURES)
    factory = bidirectional("LSTM", "concat", return_sequences=True, return_state=True)
    states = bidirectional_initial_states("LSTM")
    assert_same_outputs(*call_both(factory, x, mask=mask_of("one_sample_all_masked"), initial_state=states))


@pytest.mark.parametrize("mask", [None, "left_padded"], ids=str)
def test_bidirectional_with_a_custom_backward_layer_matches_keras(mask):
    x = randn(BATCH, STEPS, FEATURES)

    def factory(L):
        return L.Bidirectional(
            L.LSTM(UNITS, return_sequences=True),
            backward_layer=L.GRU(UNITS + 1, go_backwards=True, return_sequences=True),
        )

    assert_same_outputs(*call_both(factory, x, mask=None if mask is None else mask_of(mask)))


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "RNN_stacked_LSTMCell_GRUCell"])
def test_unroll_gives_keras_unrolled_results(kind):
    x = randn(BATCH, STEPS, FEATURES)
    factory = recipe(kind, return_sequences=True, return_state=True, unroll=True)
    assert_same_outputs(*call_both(factory, x, mask=mask_of("holes_in_the_middle")))


# --------------------------------------------------------------------- masks from an Embedding
TOKENS = np.array([[4, 2, 7, 1, 3, 5], [6, 3, 2, 0, 0, 0], [1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]], dtype="int64")


def embedding_then(rnn_factory):
    """Embedding(mask_zero=True) of each library, and the recurrent layer it feeds, with Keras's
    weights in ours; returns (ours, theirs) as callables on token ids."""
    k_emb, r_emb = K.Embedding(9, FEATURES, mask_zero=True), R.Embedding(9, FEATURES, mask_zero=True)
    k_rnn, r_rnn = rnn_factory(K), rnn_factory(R)
    k_rnn(k_emb(TOKENS))
    r_rnn(r_emb(torch.as_tensor(TOKENS)))
    r_emb.set_weights(k_emb.get_weights())
    r_rnn.set_weights(k_rnn.get_weights())
    return (lambda ids: r_rnn(r_emb(torch.as_tensor(ids)))), (lambda ids: k_rnn(k_emb(ids)))


@pytest.mark.parametrize(
    "rnn",
    ["LSTM", "LSTM_sequences", "GRU", "SimpleRNN", "Bidirectional_LSTM", "Bidirectional_GRU_sequences"],
)
def test_embedding_mask_zero_feeds_recurrent_layer_as_keras(rnn):
    recipes = {
        "LSTM": recipe("LSTM", return_state=True),
        "LSTM_sequences": recipe("LSTM", return_sequences=True, return_state=True),
        "GRU": recipe("GRU", return_state=True),
        "SimpleRNN": recipe("SimpleRNN", return_sequences=True),
        "Bidirectional_LSTM": bidirectional("LSTM", "concat"),
        "Bidirectional_GRU_sequences": bidirectional("GRU", "concat", return_sequences=True),
    }
    ours, theirs = embedding_then(recipes[rnn])
    assert_same_outputs(ours(TOKENS), theirs(TOKENS))


def test_embedding_mask_really_masks_the_padding():
    """Guards the test above: the padded samples' results depend on the mask (not merely on
    padding that happens to be harmless)."""
    emb, rnn = R.Embedding(9, FEATURES, mask_zero=True), R.LSTM(UNITS)
    embedded = emb(torch.as_tensor(TOKENS))
    masked = to_numpy(rnn(embedded))
    unmasked = to_numpy(rnn(embedded.detach().clone()))  # a fresh tensor carries no mask
    np.testing.assert_allclose(masked[0], unmasked[0], atol=ATOL)
    assert not np.allclose(masked[1], unmasked[1], atol=1e-4)


# ------------------------------------------------------------------ parameter counts and weights
@pytest.mark.parametrize(
    "factory, input_dim, expected",
    [
        (lambda L: L.GRU(1024), 256, 3_938_304),
        (lambda L: L.LSTM(64), 64, 33_024),
        (lambda L: L.SimpleRNN(256), 28, 72_960),
    ],
    ids=["GRU1024_on_256", "LSTM64_on_64", "SimpleRNN256_on_28"],
)
def test_count_params_equals_keras_figures(factory, input_dim, expected):
    theirs, ours = factory(K), factory(R)
    theirs.build((None, 2, input_dim))
    ours(torch.zeros(1, 2, input_dim))
    assert theirs.count_params() == expected
    assert ours.count_params() == expected


ALL_RECIPES = {
    **{kind: recipe(kind) for kind in KINDS},
    **{f"{kind}_no_bias": recipe(kind, {"use_bias": False}) for kind in ("SimpleRNN", "LSTM", "GRU", "GRU_reset_before")},
    "Bidirectional_LSTM": bidirectional("LSTM", "concat"),
    "Bidirectional_GRU_reset_before": bidirectional("GRU_reset_before", "sum"),
    "Bidirectional_stacked": bidirectional("RNN_stacked_LSTMCell_GRUCell", None),
}


@pytest.mark.parametrize("name", list(ALL_RECIPES))
def test_count_params_equals_keras(name):
    x = randn(BATCH, STEPS, FEATURES)
    ours, theirs = matched_pair(ALL_RECIPES[name], x)
    assert ours.count_params() == theirs.count_params()


@pytest.mark.parametrize("name", list(ALL_RECIPES))
def test_get_weights_order_and_shapes_equal_keras(name):
    x = randn(BATCH, STEPS, FEATURES)
    theirs, ours = ALL_RECIPES[name](K), ALL_RECIPES[name](R)
    theirs(x)
    ours(torch.as_tensor(x))
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    ours.set_weights(theirs.get_weights())
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU", "GRU_reset_before"])
def test_weight_names_follow_keras(kind):
    x = randn(BATCH, STEPS, FEATURES)
    theirs, ours = recipe(kind)(K), recipe(kind)(R)
    theirs(x)
    ours(torch.as_tensor(x))
    keras_names = [w.path.split("/")[-1] for w in theirs.weights]
    assert [name.split(".")[-1] for name, _ in ours.named_parameters()] == keras_names


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU", "GRU_reset_before"])
def test_fresh_bias_equals_keras_initial_bias(kind):
    """LSTM's unit_forget_bias puts ones on the forget gate (i, f, c, o order); the others start at 0."""
    x = randn(BATCH, STEPS, FEATURES)
    theirs, ours = recipe(kind)(K), recipe(kind)(R)
    theirs(x)
    ours(torch.as_tensor(x))
    np.testing.assert_array_equal(ours.get_weights()[-1], theirs.get_weights()[-1])


def test_lstm_without_unit_forget_bias_starts_at_zero_bias_as_keras():
    x = randn(BATCH, STEPS, FEATURES)
    theirs, ours = K.LSTM(UNITS, unit_forget_bias=False), R.LSTM(UNITS, unit_forget_bias=False)
    theirs(x)
    ours(torch.as_tensor(x))
    np.testing.assert_array_equal(ours.get_weights()[-1], theirs.get_weights()[-1])


# -------------------------------------------------------------------------------------- gradients
def weight_and_input_gradients(layer, params, x, mask, weighting):
    x = torch.as_tensor(x).clone().requires_grad_(True)
    kwargs = {} if mask is None else {"mask": torch.as_tensor(mask)}
    outputs = flatten(layer(x, **kwargs))
    loss = sum((o * w).sum() for o, w in zip(outputs, weighting))
    grads = torch.autograd.grad(loss, [x] + params)
    return [g.detach().numpy() for g in grads]


@pytest.mark.parametrize("mask", [None, "holes_in_the_middle", "one_sample_all_masked"], ids=str)
@pytest.mark.parametrize(
    "kind", ["SimpleRNN", "LSTM", "GRU", "GRU_reset_before", "RNN_stacked_LSTMCell_GRUCell"]
)
def test_gradients_match_keras(kind, mask):
    """The hand-derived backward passes give Keras's (autograd's) gradients for the input and
    every weight, through outputs and final states alike."""
    x = randn(BATCH, STEPS, FEATURES)
    factory = recipe(kind, return_sequences=True, return_state=True, go_backwards=(mask is None))
    ours, theirs = matched_pair(factory, x)
    mask = None if mask is None else mask_of(mask)
    shapes = [o.shape for o in flatten(ours(torch.as_tensor(x)))]
    weighting = [torch.as_tensor(randn(*s, seed=i + 10)) for i, s in enumerate(shapes)]
    theirs_params = [w.value for w in theirs.trainable_weights]
    expected = weight_and_input_gradients(theirs, theirs_params, x, mask, weighting)
    actual = weight_and_input_gradients(ours, list(ours.parameters()), x, mask, weighting)
    assert len(actual) == len(expected)
    for i, (a, b) in enumerate(zip(actual, expected)):
        np.testing.assert_allclose(a, b, atol=1e-4, err_msg=f"gradient {i}")


@pytest.mark.parametrize("merge_mode", ["concat", "mul", None], ids=str)
def test_bidirectional_gradients_match_keras(merge_mode):
    x = randn(BATCH, STEPS, FEATURES)
    ours, theirs = matched_pair(bidirectional("GRU", merge_mode, return_sequences=True), x)
    mask = mask_of("right_padded")
    shapes = [o.shape for o in flatten(ours(torch.as_tensor(x)))]
    weighting = [torch.as_tensor(randn(*s, seed=i + 10)) for i, s in enumerate(shapes)]
    expected = weight_and_input_gradients(theirs, [w.value for w in theirs.trainable_weights], x, mask, weighting)
    actual = weight_and_input_gradients(ours, list(ours.parameters()), x, mask, weighting)
    for i, (a, b) in enumerate(zip(actual, expected)):
        np.testing.assert_allclose(a, b, atol=1e-4, err_msg=f"gradient {i}")


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU", "GRU_reset_before"])
def test_gradients_with_respect_to_initial_states_match_keras(kind):
    x = torch.as_tensor(randn(BATCH, STEPS, FEATURES))
    ours, theirs = matched_pair(recipe(kind, return_sequences=True, return_state=True), x.numpy())
    mask = torch.as_tensor(mask_of("one_sample_all_masked"))

    def state_gradients(layer):
        states = [s.clone().requires_grad_(True) for s in initial_states(kind)]
        outputs = flatten(layer(x, initial_state=states, mask=mask))
        loss = sum((o * torch.as_tensor(randn(*o.shape, seed=i + 20))).sum() for i, o in enumerate(outputs))
        return [g.numpy() for g in torch.autograd.grad(loss, states)]

    for a, b in zip(state_gradients(ours), state_gradients(theirs)):
        np.testing.assert_allclose(a, b, atol=1e-4)
