"""The Embedding folded into the first recurrent layer's input projection (engine/embedding_projection.py,
RecurrentCell.input_projection, Bidirectional), handed to the layer as a `plan.Fold`: the same outputs
and gradients as the lookup followed by the GEMM (float32: a few ulp, the sums run in another order),
and the unfolded path whenever the plan refuses the fold (tests/layers/test_plan.py: which models hand
one over)."""
import pytest
import torch

from rnnkit import layers
from rnnkit.layers import recurrent_cell
from rnnkit.layers.plan import Fold
from rnnkit.engine import embedding_projection
from rnnkit.engine.embedding_projection import EmbeddingProjection

B, T, V, F = 4, 7, 6, 3


@pytest.fixture
def fold_calls(monkeypatch):
    """Counts the folded projections the recurrent cells run."""
    calls = []

    def counting(*args):
        calls.append(args[0].shape)
        return embedding_projection(*args)

    monkeypatch.setattr(recurrent_cell, "embedding_projection", counting)
    return calls


def padded_ids(seed=0):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, V, (B, T), generator=generator)
    for row, length in enumerate([7, 3, 5, 1]):
        ids[row, length:] = 0
    return ids


def run(make_model, ids, fold, training=False, seed=0):
    """Outputs and every weight's gradient of a fresh model, with the fold on or off."""
    torch.manual_seed(seed)
    embedding, head = make_model()
    torch.manual_seed(seed + 1)
    x = embedding(ids)
    out = head(x, training, Fold.of(embedding, ids, x) if fold else None)
    weights = [embedding.embeddings] + [w for w in head_weights(head)]
    grads = torch.autograd.grad((out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum(), weights)
    return out.detach(), grads


def head_weights(head):
    return [p for p in getattr(head, "layer", head).parameters()]


class Head:
    def __init__(self, layer, extra=None):
        self.layer, self.extra = layer, extra

    def __call__(self, x, training, fold=None):
        out = self.layer(x, training=training, _fold=fold)
        return out if self.extra is None else self.extra(x, out)


def assert_same(a, b, atol=1e-6):
    out_a, grads_a = a
    out_b, grads_b = b
    torch.testing.assert_close(out_a, out_b, atol=atol, rtol=1e-5)
    for ga, gb in zip(grads_a, grads_b):
        torch.testing.assert_close(ga, gb, atol=atol, rtol=1e-5)


def test_embedding_projection_gradients_pass_gradcheck_in_float64():
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, V, (B, T), generator=generator)
    E = torch.randn(V, F, dtype=torch.float64, generator=generator, requires_grad=True)
    W = torch.randn(F, 8, dtype=torch.float64, generator=generator, requires_grad=True)
    b = torch.randn(8, dtype=torch.float64, generator=generator, requires_grad=True)
    assert torch.autograd.gradcheck(lambda E, W, b: EmbeddingProjection.apply(ids, E, W, b), (E, W, b))
    assert torch.autograd.gradcheck(lambda E, W: EmbeddingProjection.apply(ids, E, W, None), (E, W))


def test_embedding_projection_equals_lookup_then_projection():
    ids = padded_ids()
    E, W, b = torch.randn(V, F, dtype=torch.float64), torch.randn(F, 8, dtype=torch.float64), torch.randn(8, dtype=torch.float64)
    torch.testing.assert_close(embedding_projection(ids.to(torch.int16), E, W, b), E[ids] @ W + b)


@pytest.mark.parametrize(
    "E, W, b, expected",
    [
        (torch.randn(V, F), torch.randn(F + 1, 8), None, "kernel"),
        (torch.randn(V, F), torch.randn(F, 8), torch.randn(7), "bias of shape"),
        (torch.randn(V, F, dtype=torch.float64), torch.randn(F, 8), None, "one floating dtype"),
    ],
)
def test_embedding_projection_rejects_mismatched_weights(E, W, b, expected):
    with pytest.raises(ValueError, match=expected):
        embedding_projection(padded_ids(), E, W, b)


def test_embedding_projection_rejects_float_ids():
    with pytest.raises(ValueError, match="integer ids"):
        embedding_projection(torch.zeros(2, 3), torch.randn(V, F), torch.randn(F, 8))


@pytest.mark.parametrize("cell", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("mask_zero", [True, False])
def test_folded_recurrent_layer_matches_unfolded_outputs_and_gradients(cell, mask_zero, fold_calls):
    def make():
        return layers.Embedding(V, F, mask_zero=mask_zero), Head(getattr(layers, cell)(5, return_sequences=True))

    folded = run(make, padded_ids(), True)
    assert len(fold_calls) == 1
    assert_same(folded, run(make, padded_ids(), False))


def test_folded_bidirectional_folds_both_directions_and_matches_unfolded(fold_calls):
    def make():
        return layers.Embedding(V, F, mask_zero=True), Head(layers.Bidirectional(layers.LSTM(5, return_sequences=True)))

    folded = run(make, padded_ids(), True)
    assert len(fold_calls) == 2
    assert_same(folded, run(make, padded_ids(), False))


def test_folded_bidirectional_with_states_matches_unfolded():
    def make():
        return layers.Embedding(V, F, mask_zero=True), Head(layers.Bidirectional(layers.GRU(5, return_state=True)),
                                                           extra=lambda x, out: torch.cat(out, -1))

    assert_same(run(make, padded_ids(), True), run(make, padded_ids(), False))


def test_go_backwards_layer_fed_by_embedding_matches_unfolded():
    def make():
        return layers.Embedding(V, F, mask_zero=True), Head(layers.LSTM(5, go_backwards=True, return_sequences=True))

    assert_same(run(make, padded_ids(), True), run(make, padded_ids(), False))


def test_embedding_output_used_twice_gets_both_gradients(fold_calls):
    def make():
        return layers.Embedding(V, F), Head(layers.LSTM(5), extra=lambda x, out: out + x.square().sum(1)[:, :1])

    folded = run(make, padded_ids(), True)
    assert len(fold_calls) == 1
    assert_same(folded, run(make, padded_ids(), False))


def test_input_dropout_falls_back_to_the_unfolded_projection(fold_calls):
    def make():
        return layers.Embedding(V, F), Head(layers.Bidirectional(layers.LSTM(5, dropout=0.5, seed=3)))

    folded = run(make, padded_ids(), True, training=True)
    assert fold_calls == []
    assert_same(folded, run(make, padded_ids(), False, training=True))


def test_embedding_output_changed_in_place_falls_back(fold_calls):
    embedding, lstm = layers.Embedding(V, F), layers.LSTM(5)
    with torch.no_grad():
        x = embedding(padded_ids())
        fold = Fold.of(embedding, padded_ids(), x)
        x.mul_(2)
        out = lstm(x, _fold=fold)
        assert fold_calls == []
        torch.testing.assert_close(out, lstm(embedding(padded_ids()) * 2))


def test_vocabulary_larger_than_the_batch_is_not_folded(fold_calls):
    embedding, lstm = layers.Embedding(B * T + 1, F), layers.LSTM(5)
    x = embedding(padded_ids())
    lstm(x, _fold=Fold.of(embedding, padded_ids(), x))
    assert fold_calls == []


def test_frozen_embedding_folds_without_gradient_to_its_table(fold_calls):
    embedding, lstm = layers.Embedding(V, F, trainable=False), layers.LSTM(5)
    x = embedding(padded_ids())
    out = lstm(x, _fold=Fold.of(embedding, padded_ids(), x))
    out.sum().backward()
    assert len(fold_calls) == 1
    assert embedding.embeddings.grad is None
    assert lstm.cell.kernel.grad is not None


def test_folded_float64_model_matches_unfolded():
    def make():
        return (layers.Embedding(V, F, mask_zero=True, dtype="float64"),
                Head(layers.Bidirectional(layers.LSTM(5, dtype="float64"))))

    assert_same(run(make, padded_ids(), True), run(make, padded_ids(), False), atol=1e-12)


def test_inference_mode_outputs_are_not_folded_and_match(fold_calls):
    embedding, bi = layers.Embedding(V, F, mask_zero=True), layers.Bidirectional(layers.LSTM(5))
    x = embedding(padded_ids())
    expected = bi(x, _fold=Fold.of(embedding, padded_ids(), x)).detach()
    calls_with_grad = len(fold_calls)
    with torch.inference_mode():
        x = embedding(padded_ids())
        out = bi(x, _fold=Fold.of(embedding, padded_ids(), x))
    assert calls_with_grad == 2 and len(fold_calls) == 2
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=1e-5)
