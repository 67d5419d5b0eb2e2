"""rnnkit.ops computes what keras.ops computes (torch backend), with Keras's argument names."""
import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import ops

keras = pytest.importorskip("keras")

RNG = np.random.default_rng(0)
A = RNG.normal(size=(2, 3, 4)).astype("float32")
B = RNG.normal(size=(2, 3, 4)).astype("float32")
M = RNG.normal(size=(4, 5)).astype("float32")
I = np.array([[1, 0, 3], [2, 2, 0]], dtype="int32")

# (name, args, kwargs): each is called the same way on keras.ops and rnnkit.ops.
CASES = [
    ("add", (A, B), {}), ("subtract", (A, 2.0), {}), ("multiply", (A, B), {}), ("divide", (A, 3.0), {}),
    ("divide", (I, 2), {}), ("power", (A, 2), {}), ("negative", (A,), {}), ("maximum", (A, B), {}),
    ("minimum", (A, 0.0), {}), ("matmul", (A, M), {}), ("dot", (A, M), {}), ("dot", (M[0], M[0]), {}),
    ("einsum", ("bti,ij->btj", A, M), {}), ("abs", (A,), {}), ("sign", (A,), {}), ("square", (A,), {}),
    ("sqrt", (np.abs(A),), {}), ("exp", (A,), {}), ("log", (np.abs(A) + 1,), {}), ("clip", (A, -0.5, 0.5), {}),
    ("tanh", (A,), {}), ("sigmoid", (A,), {}), ("relu", (A,), {}), ("softmax", (A,), {"axis": 1}),
    ("log_softmax", (A,), {}), ("leaky_relu", (A,), {}), ("gelu", (A,), {}), ("silu", (A,), {}),
    ("softplus", (A,), {}), ("elu", (A,), {}),
    ("concatenate", ([A, B],), {"axis": -1}), ("stack", ([A, B],), {"axis": 1}), ("reshape", (A, (6, -1)), {}),
    ("transpose", (A,), {}), ("transpose", (A, (0, 2, 1)), {}), ("expand_dims", (A, 1), {}),
    ("expand_dims", (A, -1), {}), ("squeeze", (A[:, :1],), {"axis": 1}), ("squeeze", (A[:1, :1],), {}),
    ("tile", (M, (2, 1)), {}), ("repeat", (M, 2), {"axis": 0}), ("flip", (A,), {"axis": 1}),
    ("take", (M, I), {"axis": 0}), ("cumsum", (A,), {"axis": 1}),
    ("zeros_like", (A,), {}), ("ones_like", (I,), {}), ("full_like", (A, 2.0), {}),
    ("sum", (A,), {}), ("sum", (A,), {"axis": 1, "keepdims": True}), ("sum", (A,), {"axis": (0, 2)}),
    ("mean", (A,), {"axis": -1}), ("mean", (I,), {}), ("max", (A,), {"axis": 0}), ("min", (A,), {"axis": 1, "keepdims": True}),
    ("argmax", (A,), {"axis": -1}), ("argmin", (A,), {}), ("prod", (M,), {"axis": 1}), ("var", (A,), {"axis": 1}),
    ("std", (A,), {}), ("logsumexp", (A,), {"axis": 2}), ("any", (A > 1,), {"axis": 0}), ("all", (A > -3,), {}),
    ("equal", (I, 2), {}), ("not_equal", (I, 0), {}), ("greater", (A, B), {}), ("greater_equal", (A, 0.0), {}),
    ("less", (A, B), {}), ("less_equal", (I, 1), {}), ("logical_and", (A > 0, B > 0), {}),
    ("logical_or", (A > 0, B > 0), {}), ("logical_not", (A > 0,), {}), ("logical_xor", (A > 0, B > 0), {}),
    ("where", (A > 0, A, B), {}), ("where", (A > 0, A, 0.0), {}), ("one_hot", (I, 4), {}),
    ("cast", (A, "int32"), {}), ("cast", (I, "float32"), {}), ("isnan", (A,), {}),
]


@pytest.mark.parametrize("name, args, kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_op_matches_keras_ops_in_value_shape_and_dtype(name, args, kwargs):
    expected = keras.ops.convert_to_numpy(getattr(keras.ops, name)(*args, **kwargs))
    got = getattr(ops, name)(*args, **kwargs)
    assert isinstance(got, torch.Tensor)
    got = got.numpy()
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("sections", [3, [1, 2]])
def test_split_matches_keras_for_sections_and_indices(sections):
    x = np.arange(12.0, dtype="float32").reshape(2, 6)
    for ours, theirs in zip(ops.split(x, sections, axis=1), keras.ops.split(x, sections, axis=1), strict=True):
        np.testing.assert_array_equal(ours.numpy(), keras.ops.convert_to_numpy(theirs))


def test_creation_ops_default_to_float32_like_keras():
    assert ops.zeros((2, 3)).dtype == torch.float32
    assert ops.ones(4, dtype="int32").dtype == torch.int32
    assert ops.convert_to_tensor(1.5).dtype == torch.float32
    assert ops.convert_to_tensor([1, 2]).dtype == torch.int32
    assert ops.shape(ops.zeros((2, 3))) == (2, 3)
    np.testing.assert_array_equal(ops.eye(3, 4, k=1).numpy(), keras.ops.convert_to_numpy(keras.ops.eye(3, 4, k=1)))
    np.testing.assert_array_equal(ops.arange(1, 7, 2).numpy(), keras.ops.convert_to_numpy(keras.ops.arange(1, 7, 2)))


def test_ops_keep_gradients_flowing():
    x = torch.randn(3, 4, requires_grad=True)
    ops.sum(ops.tanh(ops.matmul(x, ops.ones((4, 2))))).backward()
    assert x.grad is not None and x.grad.shape == (3, 4)


def test_squeeze_of_an_axis_longer_than_one_names_the_axis():
    with pytest.raises(ValueError, match="axis 1 has size 3"):
        ops.squeeze(np.zeros((2, 3)), axis=1)


def test_unknown_dtype_name_is_a_one_line_error():
    with pytest.raises(ValueError, match="Unknown dtype 'float33'"):
        ops.cast(np.zeros(2), "float33")


def test_keras_guide_minimal_rnn_cell_runs_on_rnnkit_ops():
    # The "MinimalRNNCell" of Keras's RNN layer documentation, written against keras.ops.
    class MinimalRNNCell(rnnkit.Layer):  # keras.Layer, as the documentation writes it
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform", name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform",
                                                    name="recurrent_kernel")

        def call(self, inputs, states):
            prev_output = states[0]
            h = ops.matmul(inputs, self.kernel)
            output = h + ops.matmul(prev_output, self.recurrent_kernel)
            return output, [output]

    layer = rnnkit.layers.RNN(MinimalRNNCell(4))
    x = np.random.default_rng(1).random((3, 5, 2)).astype("float32")
    out = layer(torch.from_numpy(x))
    kernel, recurrent = (w.detach().numpy() for w in layer.weights)
    h = np.zeros((3, 4), "float32")
    for t in range(5):
        h = x[:, t] @ kernel + h @ recurrent
    np.testing.assert_allclose(out.detach().numpy(), h, rtol=1e-5, atol=1e-6)
