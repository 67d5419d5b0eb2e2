"""Concatenate and Add: parity with Keras 3 (outputs, broadcasting, output masks), input validation,
configs, and use in functional graphs."""
import os

os.environ["KERAS_BACKEND"] = "torch"

import doctest

import keras
import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.layers import Add, Concatenate, Dense, add, concatenate, get_mask, merging

from keras_parity import randn, to_numpy  # noqa: E402

ATOL = 1e-5

MASK_A = [[True, True, False], [True, False, False]]
MASK_B = [[False, True, True], [True, True, False]]


def with_masks(arrays, masks):
    """Torch tensors (which Keras's torch backend also takes) carrying the given masks."""
    tensors = []
    for array, mask in zip(arrays, masks):
        tensor = torch.as_tensor(array)
        if mask is not None:
            tensor._keras_mask = torch.tensor(mask)
        tensors.append(tensor)
    return tensors


# ---------------------------------------------------------------------------------- Concatenate
@pytest.mark.parametrize("axis, shapes", [(-1, [(2, 3, 4), (2, 3, 5)]), (1, [(2, 3, 4), (2, 1, 4)]),
                                          (0, [(2, 3), (1, 3)]), (-1, [(2, 3), (2, 1), (2, 2)])])
def test_concatenate_matches_keras(axis, shapes):
    xs = [randn(*shape, seed=i) for i, shape in enumerate(shapes)]
    expected = to_numpy(keras.layers.Concatenate(axis=axis)(xs))
    np.testing.assert_array_equal(Concatenate(axis=axis)([torch.as_tensor(x) for x in xs]).numpy(), expected)


@pytest.mark.parametrize("axis", [-1, 1])
@pytest.mark.parametrize("masks", [(MASK_A, None), (None, MASK_B), (MASK_A, MASK_B)], ids=["first", "second", "both"])
def test_concatenate_output_mask_matches_keras(axis, masks):
    arrays = [randn(2, 3, 4), randn(2, 3, 4, seed=1)]
    expected = keras.layers.Concatenate(axis=axis)(with_masks(arrays, masks))._keras_mask
    out = Concatenate(axis=axis)(with_masks(arrays, masks))
    np.testing.assert_array_equal(get_mask(out).numpy(), to_numpy(expected))


def test_concatenate_of_unmasked_inputs_sets_no_mask():
    assert get_mask(Concatenate()([torch.ones(2, 3), torch.ones(2, 4)])) is None


def test_concatenate_takes_an_explicit_list_of_masks():
    a, b = torch.ones(2, 3, 4), torch.ones(2, 3, 4)
    out = Concatenate(axis=1)([a, b], mask=[torch.tensor(MASK_A), None])
    assert get_mask(out).tolist() == [row + [True] * 3 for row in MASK_A]


def test_concatenate_gradients_reach_every_input():
    a, b = torch.randn(2, 3, requires_grad=True), torch.randn(2, 4, requires_grad=True)
    (Concatenate()([a, b]) * torch.arange(7.0)).sum().backward()
    assert a.grad[0].tolist() == [0.0, 1.0, 2.0] and b.grad[0].tolist() == [3.0, 4.0, 5.0, 6.0]


def test_concatenate_rejects_shapes_that_disagree_off_the_axis():
    expected = (r"Concatenate 'cat': expected inputs of the same shape except on the concatenation axis -1, "
                r"got shapes \(2, 3, 4\), \(2, 5, 4\)")
    with pytest.raises(ValueError, match=expected):
        Concatenate(name="cat")([torch.zeros(2, 3, 4), torch.zeros(2, 5, 4)])


def test_concatenate_rejects_inputs_of_different_rank():
    expected = r"Concatenate 'cat': expected inputs of the same rank, got shapes \(2, 3\), \(2, 3, 1\)"
    with pytest.raises(ValueError, match=expected):
        Concatenate(name="cat")([torch.zeros(2, 3), torch.zeros(2, 3, 1)])


def test_concatenate_rejects_axis_out_of_range():
    expected = r"Concatenate 'cat': expected axis in \[-2, 2\) for inputs of rank 2, got axis=2"
    with pytest.raises(ValueError, match=expected):
        Concatenate(axis=2, name="cat")([torch.zeros(2, 3), torch.zeros(2, 3)])


def test_concatenate_rejects_a_single_tensor():
    expected = r"Concatenate 'cat': expected a list of at least one tensor, got a tensor of shape \(2, 3\)"
    with pytest.raises(ValueError, match=expected):
        Concatenate(name="cat")(torch.zeros(2, 3))


def test_concatenate_build_checks_a_list_of_shapes():
    layer = Concatenate(name="cat")
    layer.build([(None, 3, 4), (None, 3, 2)])
    assert layer.built
    with pytest.raises(ValueError, match=r"'cat': expected inputs of the same shape .*\(None, 3, 4\), \(None, 2, 2\)"):
        Concatenate(name="cat").build([(None, 3, 4), (None, 2, 2)])


# ------------------------------------------------------------------------------------------ Add
@pytest.mark.parametrize("shapes", [[(2, 3, 4)] * 3, [(2, 3, 4), (2, 1, 4)], [(2, 3, 4), (2, 4)], [(2, 5), (2, 1)]])
def test_add_matches_keras(shapes):
    xs = [randn(*shape, seed=i) for i, shape in enumerate(shapes)]
    expected = to_numpy(keras.layers.Add()(xs))
    np.testing.assert_allclose(Add()([torch.as_tensor(x) for x in xs]).numpy(), expected, atol=ATOL)


@pytest.mark.parametrize("masks", [(MASK_A, None), (None, MASK_B), (MASK_A, MASK_B)], ids=["first", "second", "both"])
def test_add_output_mask_matches_keras(masks):
    arrays = [randn(2, 3, 4), randn(2, 3, 4, seed=1)]
    expected = getattr(keras.layers.Add()(with_masks(arrays, masks)), "_keras_mask", None)
    out = get_mask(Add()(with_masks(arrays, masks)))
    if expected is None:
        assert out is None
    else:
        np.testing.assert_array_equal(out.numpy(), to_numpy(expected))


def test_add_of_one_input_returns_it():
    x = torch.randn(2, 3)
    assert torch.equal(Add()([x]), x)


def test_add_rejects_shapes_that_differ():
    expected = (r"Add 'sum': expected inputs of the same shape \(or sizes of 1 that broadcast\), "
                r"got shapes \(2, 3\), \(2, 4\)")
    with pytest.raises(ValueError, match=expected):
        Add(name="sum")([torch.zeros(2, 3), torch.zeros(2, 4)])


def test_add_rejects_different_batch_sizes():
    expected = r"Add 'sum': expected inputs with the same batch size, got shapes \(2, 3\), \(4, 3\)"
    with pytest.raises(ValueError, match=expected):
        Add(name="sum")([torch.zeros(2, 3), torch.zeros(4, 3)])


def test_add_rejects_a_list_holding_something_else_than_tensors():
    with pytest.raises(ValueError, match=r"Add 'sum': expected a list of tensors, got \[Tensor, str\]"):
        Add(name="sum")([torch.zeros(2, 3), "zeros"])


# ---------------------------------------------------------------------------- functional graphs
def test_functional_model_with_concatenate_and_add_computes_the_graph():
    a, b = rnnkit.Input(shape=(None, 4)), rnnkit.Input(shape=(None, 5))
    joined = Concatenate()([a, b])
    projection, skip = Dense(3), Dense(3)
    model = rnnkit.Model([a, b], Add()([projection(joined), skip(b)]))
    x, y = torch.randn(2, 7, 4), torch.randn(2, 7, 5)
    expected = projection(torch.cat([x, y], dim=-1)) + skip(y)
    torch.testing.assert_close(model([x, y]), expected)
    assert model.output_shape == (None, None, 3)
    assert [type(layer).__name__ for layer in model.layers] == [
        "InputLayer", "InputLayer", "Concatenate", "Dense", "Dense", "Add"]


def test_functional_model_with_concatenate_matches_keras_with_masks():
    def build(lib):
        left, right = lib.Input(shape=(None,)), lib.Input(shape=(None,))
        joined = lib.layers.Concatenate()([lib.layers.Embedding(10, 3, mask_zero=True)(left),
                                           lib.layers.Embedding(10, 2, mask_zero=True)(right)])
        return lib.Model([left, right], lib.layers.LSTM(4)(joined))

    theirs, ours = build(keras), build(rnnkit)
    ours.set_weights(theirs.get_weights())
    left = np.array([[1, 2, 0, 0], [3, 0, 0, 0]])
    right = np.array([[4, 5, 6, 0], [0, 0, 0, 0]])
    expected = to_numpy(theirs([left, right]))
    out = ours([torch.as_tensor(left), torch.as_tensor(right)])
    np.testing.assert_allclose(out.detach().numpy(), expected, atol=ATOL)
    assert ours.count_params() == theirs.count_params()


def test_functional_model_reports_mismatched_shapes_when_the_graph_is_built():
    a, b = rnnkit.Input(shape=(3, 4)), rnnkit.Input(shape=(5, 4))
    with pytest.raises(ValueError, match=r"Concatenate 'cat': expected inputs of the same shape except .*axis -1"):
        Concatenate(name="cat")([a, b])


def test_functional_shorthands_build_the_layers():
    a, b = rnnkit.Input(shape=(4,)), rnnkit.Input(shape=(4,))
    model = rnnkit.Model([a, b], [concatenate([a, b], axis=1), add([a, b])])
    joined, total = model([torch.ones(2, 4), torch.ones(2, 4)])
    assert joined.shape == (2, 8) and total.tolist() == [[2.0] * 4] * 2


def test_merge_layers_in_a_model_compute_in_float64_after_double():
    a, b = rnnkit.Input(shape=(3,)), rnnkit.Input(shape=(3,))
    model = rnnkit.Model([a, b], Dense(2)(Add()([Concatenate()([a, b]), Dense(6)(a)])))
    x, y = torch.randn(4, 3), torch.randn(4, 3)
    expected = model([x, y])
    model.double()
    out = model([x.double(), y.double()])
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, expected.double(), atol=ATOL, rtol=0)


def test_model_with_merges_trains_with_fit():
    a, b = rnnkit.Input(shape=(3,)), rnnkit.Input(shape=(2,))
    model = rnnkit.Model([a, b], Dense(1)(Concatenate()([Dense(4)(a), Dense(4)(b)])))
    model.compile("adam", "mse")
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 3), dtype="float32"), rng.random((32, 2), dtype="float32")
    history = model.fit([x, y], x.sum(axis=1, keepdims=True), epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


# ------------------------------------------------------------------------------- config, repr
@pytest.mark.parametrize("make", [lambda: Concatenate(axis=1, name="cat", trainable=False), lambda: Add(name="sum")],
                         ids=["Concatenate", "Add"])
def test_config_round_trips(make):
    layer = make()
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config


@pytest.mark.parametrize("ours, theirs", [(Concatenate, keras.layers.Concatenate(axis=1)), (Add, keras.layers.Add())])
def test_a_keras_config_builds_a_layer_computing_the_same_function(ours, theirs):
    xs = [randn(2, 3, 4), randn(2, 3, 4, seed=1)]
    layer = ours.from_config(theirs.get_config())
    np.testing.assert_allclose(layer([torch.as_tensor(x) for x in xs]).numpy(), to_numpy(theirs(xs)), atol=ATOL)


def test_extra_repr_shows_the_configuration():
    assert repr(Concatenate(axis=1, name="cat")) == "Concatenate(axis=1, name='cat')"
    assert repr(Add(name="sum")) == "Add(name='sum')"


def test_docstring_examples_run():
    results = doctest.testmod(merging, extraglobs={"torch": torch, "Input": rnnkit.Input, "Model": rnnkit.Model},
                              optionflags=doctest.ELLIPSIS)
    assert results.attempted > 0 and results.failed == 0
