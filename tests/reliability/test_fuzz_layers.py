"""Property-based tests: recurrent layers, Bidirectional and Embedding fed random shapes (zero-size
axes included), dtypes and masks either return an output of the documented shape and dtype or
raise a ValueError naming the layer, never another exception, a crash or a silently wrong shape."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import rnnkit  # noqa: E402

# Reproducible in CI: the same examples every run, no time limit per example on a loaded machine
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

RECURRENT = {"SimpleRNN": rnnkit.layers.SimpleRNN, "LSTM": rnnkit.layers.LSTM, "GRU": rnnkit.layers.GRU}
FLOAT_DTYPES = [torch.float32, torch.float16, torch.float64, torch.bfloat16]
OTHER_DTYPES = [torch.int32, torch.int64, torch.bool, torch.uint8]
MASKS = ["none", "bool", "int", "float", "wrong_shape"]


def _input(shape, dtype, generator):
    values = torch.randn(shape, generator=generator)
    return values.to(dtype) if dtype.is_floating_point else (values > 0).to(dtype)


def _mask(kind, batch, time, generator):
    if kind == "none":
        return None
    if kind == "wrong_shape":
        return torch.ones(batch, time + 1, dtype=torch.bool)
    keep = torch.rand(batch, time, generator=generator) > 0.3
    return {"bool": keep, "int": keep.long(), "float": keep.float()}[kind]


@FUZZ
@given(
    kind=st.sampled_from(sorted(RECURRENT)),
    bidirectional=st.booleans(),
    units=st.integers(1, 5),
    return_sequences=st.booleans(),
    go_backwards=st.booleans(),
    batch=st.integers(1, 4),
    time=st.integers(0, 6),
    features=st.integers(0, 4),
    dtype=st.sampled_from(FLOAT_DTYPES + OTHER_DTYPES),
    mask=st.sampled_from(MASKS),
    seed=st.integers(0, 2**16),
)
def test_recurrent_layers_return_the_documented_shape_or_a_clear_value_error(
    kind, bidirectional, units, return_sequences, go_backwards, batch, time, features, dtype, mask, seed
):
    generator = torch.Generator().manual_seed(seed)
    layer = RECURRENT[kind](units, return_sequences=return_sequences, go_backwards=go_backwards)
    if bidirectional:
        layer = rnnkit.layers.Bidirectional(layer)
    x = _input((batch, time, features), dtype, generator)
    mask_tensor = _mask(mask, batch, time, generator)
    must_fail = not dtype.is_floating_point or time == 0 or mask == "wrong_shape"
    if must_fail:
        with pytest.raises(ValueError, match="Layer '"):
            layer(x, mask=mask_tensor)
        return
    output = layer(x, mask=mask_tensor)
    width = units * (2 if bidirectional else 1)
    assert tuple(output.shape) == ((batch, time, width) if return_sequences else (batch, width))
    assert output.dtype == dtype
    assert torch.isfinite(output.float()).all()


@FUZZ
@given(
    input_dim=st.integers(1, 10),
    output_dim=st.integers(1, 4),
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=3).map(tuple),
    dtype=st.sampled_from([torch.int64, torch.int32, torch.float32, torch.float16, torch.bool]),
    high=st.integers(-3, 14),
    mask_zero=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_embedding_returns_one_vector_per_id_or_a_clear_value_error(
    input_dim, output_dim, shape, dtype, high, mask_zero, seed
):
    generator = torch.Generator().manual_seed(seed)
    layer = rnnkit.layers.Embedding(input_dim, output_dim, mask_zero=mask_zero)
    ids = torch.randint(min(high, 0), max(high, 1), shape, generator=generator)
    out_of_range = ids.numel() > 0 and bool(((ids < 0) | (ids >= input_dim)).any())
    ids = ids.to(dtype) if dtype != torch.bool else ids.clamp(0, 1).bool()
    if dtype.is_floating_point or dtype == torch.bool:
        with pytest.raises(ValueError, match="expected integer token ids"):
            layer(ids)
        return
    if out_of_range:
        with pytest.raises(ValueError, match=rf"expected token ids in \[0, input_dim={input_dim}\)"):
            layer(ids)
        return
    output = layer(ids)
    assert tuple(output.shape) == shape + (output_dim,)
    assert output.dtype == torch.float32
    if mask_zero and len(shape) >= 1:
        assert torch.equal(layer.compute_mask(ids), ids != 0)


@FUZZ
@given(
    kind=st.sampled_from(sorted(RECURRENT)),
    batch=st.integers(1, 3),
    time=st.integers(1, 5),
    vocabulary=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_a_masked_embedding_into_a_recurrent_layer_keeps_the_state_of_the_last_unmasked_step(
    kind, batch, time, vocabulary, seed
):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocabulary, (batch, time), generator=generator)
    embedding = rnnkit.layers.Embedding(vocabulary, 3, mask_zero=True)
    layer = RECURRENT[kind](4, return_sequences=True)
    sequences = layer(embedding(ids), mask=embedding.compute_mask(ids))
    assert tuple(sequences.shape) == (batch, time, 4)
    assert torch.isfinite(sequences).all()
    # A masked step repeats the output of the step before it (zeros before the first kept step)
    previous = torch.zeros(batch, 4)
    for step in range(time):
        masked = ids[:, step] == 0
        torch.testing.assert_close(sequences[masked, step], previous[masked])
        previous = sequences[:, step]


@pytest.mark.parametrize("kind", sorted(RECURRENT))
def test_a_recurrent_layer_fed_an_empty_batch_returns_an_empty_output(kind):
    assert tuple(RECURRENT[kind](4)(torch.zeros(0, 5, 3)).shape) == (0, 4)


@pytest.mark.parametrize("dtype", [torch.int16, torch.int8, torch.uint8])
def test_embedding_accepts_narrow_integer_ids(dtype):
    assert tuple(rnnkit.layers.Embedding(10, 3)(torch.ones(2, 5, dtype=dtype)).shape) == (2, 5, 3)
