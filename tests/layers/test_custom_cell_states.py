"""Custom cells under RNN and StackedRNNCells: Keras 3's initial-state and state_size rules, checked
against a hand-written loop, and the error for a state_size that disagrees with the states."""
import pytest
import torch

from rnnkit import layers


class SumCell(layers.Layer):
    """h_t = h_{t-1} * decay + x_t @ W (W all ones): easy to loop by hand. `initial` (a (units,)
    offset per sample row, times the row index + 1) is returned as a bare tensor by
    get_initial_state, as Keras 3 cells with an int state_size do."""

    def __init__(self, units, bare_initial_state=False, state_size=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units if state_size is None else state_size
        self.bare_initial_state = bare_initial_state

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones", name="kernel")

    def get_initial_state(self, batch_size=None):
        rows = torch.arange(1, batch_size + 1, dtype=torch.float32).unsqueeze(1)
        state = rows.expand(batch_size, self.units).clone()  # sample i starts from i + 1
        return state if self.bare_initial_state else [state]

    def call(self, inputs, states):
        h = 0.5 * states[0] + inputs @ self.kernel
        return h, [h]


class NoInitialStateCell(SumCell):
    get_initial_state = None  # as a Keras cell that does not define it


def hand_loop(x, units, h0):
    h = h0
    for t in range(x.shape[1]):
        h = 0.5 * h + x[:, t].sum(-1, keepdim=True).expand(-1, units)
    return h


def test_bare_tensor_initial_state_is_one_state_per_sample_in_a_stack():
    x = torch.randn(3, 4, 2, generator=torch.Generator().manual_seed(0))
    layer = layers.RNN(layers.StackedRNNCells([SumCell(2, bare_initial_state=True)]))
    expected = hand_loop(x, 2, torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]))
    torch.testing.assert_close(layer(x), expected)


def test_bare_tensor_initial_state_is_one_state_per_sample_in_rnn():
    x = torch.randn(3, 4, 2, generator=torch.Generator().manual_seed(1))
    out, state = layers.RNN(SumCell(2, bare_initial_state=True), return_state=True)(x)
    expected = hand_loop(x, 2, torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]))
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(state, expected)


def test_stacked_cell_without_get_initial_state_starts_from_zeros():
    x = torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(2))
    layer = layers.RNN([NoInitialStateCell(4), layers.SimpleRNNCell(2)])
    stack_out = layer(x)
    first = hand_loop(x, 4, torch.zeros(2, 4))
    assert tuple(stack_out.shape) == (2, 2)
    _, (h1,), _ = layers.RNN([NoInitialStateCell(4), layers.SimpleRNNCell(2)], return_state=True)(x)
    torch.testing.assert_close(h1, first)


@pytest.mark.parametrize(
    "state_size, shapes",
    [
        (4, [(4,)]),
        ([4], [(4,)]),
        ((4,), [(4,)]),
        ((4, 4), [(4,), (4,)]),  # Keras 3: a tuple holds one entry per state
        ([4, (2, 3)], [(4,), (2, 3)]),  # a tuple entry is a higher-rank state (TensorShape-like)
        ((4, (2, 3)), [(4,), (2, 3)]),
        (torch.Size([2, 3]), [(2, 3)]),
        ([4, [3, (2, 2)]], [(4,), [(3,), (2, 2)]]),  # nested group of states
    ],
)
def test_state_size_follows_keras_3_rules(state_size, shapes):
    assert layers.rnn.state_shapes(state_size) == shapes


@pytest.mark.parametrize("bad", [0, -1, True, "4", [], [4, None], 2.5])
def test_invalid_state_size_is_a_one_line_error_naming_the_cell(bad):
    with pytest.raises(ValueError, match=r"SumCell.*state_size") as info:
        layers.RNN(SumCell(2, state_size=bad))
    assert "\n" not in str(info.value)


def test_state_size_that_disagrees_with_the_returned_states_names_layer_and_state():
    cell = NoInitialStateCell(3, state_size=[3, 3])
    with pytest.raises(ValueError, match=r"RNN 'looper'.*returned 1 state\(s\).*declares 2") as info:
        layers.RNN(cell, name="looper")(torch.ones(2, 3, 2))
    assert "\n" not in str(info.value)


def test_state_shape_that_disagrees_with_state_size_names_the_state():
    class WideCell(SumCell):
        def call(self, inputs, states):
            h = inputs @ self.kernel
            return h, [torch.cat([h, h], -1)]

    with pytest.raises(ValueError, match=r"returned state 0 of shape \(batch, 4\).*declares \(batch, 2\)"):
        layers.RNN(WideCell(2, bare_initial_state=True))(torch.ones(2, 3, 2))


def test_compute_output_shape_of_a_higher_rank_state():
    class GridCell(layers.Layer):
        state_size = [4, (2, 3)]
        output_size = 4

        def call(self, inputs, states):
            return inputs[:, :4], [inputs[:, :4], states[1]]

    layer = layers.RNN(GridCell(), return_state=True)
    assert layer.compute_output_shape((5, 7, 6)) == ((5, 4), (5, 4), (5, 2, 3))
    out, h, grid = layer(torch.ones(5, 7, 6))
    assert (tuple(out.shape), tuple(h.shape), tuple(grid.shape)) == ((5, 4), (5, 4), (5, 2, 3))


def test_stacking_an_object_without_state_size_names_the_stack():
    with pytest.raises(ValueError, match=r"StackedRNNCells 'stack'.*state_size.*Dense"):
        layers.StackedRNNCells([layers.SimpleRNNCell(2), layers.Dense(3)], name="stack")


def test_rnn_get_initial_state_gives_a_list_of_zero_states_as_keras():
    """Keras 3's RNN.get_initial_state(batch_size) (used by the TensorFlow text-generation tutorial)."""
    states = layers.LSTM(3).get_initial_state(4)
    assert [tuple(s.shape) for s in states] == [(4, 3), (4, 3)]
    assert all(torch.count_nonzero(s) == 0 for s in states)
    assert [tuple(s.shape) for s in layers.GRU(5).get_initial_state(2)] == [(2, 5)]


def test_rnn_get_initial_state_uses_the_cells_own_and_wraps_a_bare_tensor():
    states = layers.RNN(SumCell(2, bare_initial_state=True)).get_initial_state(3)
    assert len(states) == 1 and torch.equal(states[0][:, 0], torch.tensor([1.0, 2.0, 3.0]))
