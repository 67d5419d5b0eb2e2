"""model.generate: token-by-token generation carrying the recurrent states."""
import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import layers

VOCAB = 12


def char_model(*recurrent, softmax=False, seed=3):
    """Embedding -> recurrent layers -> Dense, with large input vectors and a sharp output layer so
    that the most likely token changes from step to step (a flat random model repeats one token)."""
    torch.manual_seed(seed)
    model = rnnkit.Sequential(
        [layers.Embedding(VOCAB, 8), *recurrent, layers.Dense(VOCAB, activation="softmax" if softmax else None)]
    )
    model(torch.zeros(1, 1, dtype=torch.long))
    with torch.no_grad():
        model.layers[0].embeddings.mul_(40.0)
        model.layers[-1].kernel.mul_(8.0)
    return model


RECURRENT = {
    "simple_rnn": lambda: [layers.SimpleRNN(16, return_sequences=True)],
    "lstm": lambda: [layers.LSTM(16, return_sequences=True)],
    "gru": lambda: [layers.GRU(16, return_sequences=True)],
    "stacked": lambda: [layers.GRU(16, return_sequences=True), layers.LSTM(12, return_sequences=True),
                        layers.SimpleRNN(10, return_sequences=True)],
    "last_step_only": lambda: [layers.LSTM(16, return_sequences=True), layers.GRU(16)],
}


def full_logits(model, ids):
    """The logits for the token after each row of `ids`, by running the model on the whole sequence."""
    with torch.no_grad():
        out = model(torch.as_tensor(ids, dtype=torch.long))
    return out[:, -1] if out.dim() == 3 else out


@pytest.mark.parametrize("kind", list(RECURRENT))
def test_greedy_generation_equals_rerunning_the_full_model_on_the_growing_sequence(kind):
    model = char_model(*RECURRENT[kind]())
    sequence = [[3, 7, 1]]
    expected = []
    for _ in range(15):
        token = int(full_logits(model, sequence).argmax())
        expected.append(token)
        sequence[0].append(token)
    assert len(set(expected)) >= 3  # the check would be weak on a constant sequence
    assert model.generate([3, 7, 1], 15, temperature=0).tolist() == expected


@pytest.mark.parametrize("kind", ["lstm", "stacked"])
def test_sampling_draws_from_the_full_models_softmax_with_its_own_generator(kind):
    model = char_model(*RECURRENT[kind]())
    generator = torch.Generator().manual_seed(5)
    sequence = [[2, 4]]
    expected = []
    for _ in range(20):
        probabilities = torch.softmax(full_logits(model, sequence).float(), dim=-1)
        token = int(torch.multinomial(probabilities, 1, generator=generator))
        expected.append(token)
        sequence[0].append(token)
    assert model.generate([2, 4], 20, temperature=1.0, seed=5).tolist() == expected


def test_a_model_ending_in_softmax_generates_as_its_logits_would():
    logits_model = char_model(*RECURRENT["gru"]())
    softmax_model = char_model(*RECURRENT["gru"](), softmax=True)
    softmax_model.set_weights(logits_model.get_weights())
    for kwargs in ({"temperature": 0}, {"temperature": 0.7, "top_k": 4, "seed": 3}):
        assert softmax_model.generate([1, 2], 12, **kwargs).tolist() == logits_model.generate([1, 2], 12, **kwargs).tolist()


def test_greedy_generation_is_deterministic_without_a_seed():
    model = char_model(*RECURRENT["gru"]())
    assert model.generate([5], 10, temperature=0).tolist() == model.generate([5], 10, temperature=0).tolist()


def test_the_same_seed_gives_the_same_tokens_and_another_seed_other_tokens():
    model = char_model(*RECURRENT["lstm"]())
    first = model.generate([5, 6], 30, temperature=1.5, seed=11)
    assert first.tolist() == model.generate([5, 6], 30, temperature=1.5, seed=11).tolist()
    assert first.tolist() != model.generate([5, 6], 30, temperature=1.5, seed=12).tolist()


def test_sampling_leaves_the_global_random_state_alone():
    model = char_model(*RECURRENT["gru"]())
    before = torch.get_rng_state()
    model.generate([1], 10, temperature=1.0, seed=1)
    model.generate([1], 10, temperature=1.0)
    assert torch.equal(before, torch.get_rng_state())


def test_top_k_samples_only_among_the_k_most_likely_tokens():
    model = char_model(*RECURRENT["gru"]())
    prompts = np.tile([[4, 9]], (32, 1))
    generated = model.generate(prompts, 1, temperature=5.0, top_k=3, seed=0)[:, 0]
    allowed = set(full_logits(model, prompts[:1])[0].topk(3).indices.tolist())
    assert set(generated.tolist()) <= allowed
    assert len(set(generated.tolist())) > 1  # a high temperature spreads the draws over the k tokens


def test_top_k_of_one_is_greedy_at_any_temperature():
    model = char_model(*RECURRENT["lstm"]())
    assert model.generate([3], 12, temperature=2.0, top_k=1, seed=4).tolist() == model.generate([3], 12, temperature=0).tolist()


def test_temperature_sharpens_or_flattens_the_distribution():
    model = char_model(*RECURRENT["gru"]())
    prompts = np.tile([[4, 9]], (200, 1))
    greedy = int(full_logits(model, prompts[:1]).argmax())
    cold = model.generate(prompts, 1, temperature=0.01, seed=0)[:, 0]
    hot = model.generate(prompts, 1, temperature=100.0, seed=0)[:, 0]
    assert set(cold.tolist()) == {greedy}
    assert len(set(hot.tolist())) >= VOCAB - 2


def test_a_batch_of_prompts_generates_what_each_prompt_generates_alone():
    model = char_model(*RECURRENT["stacked"]())
    prompts = np.array([[1, 2, 3], [9, 8, 7], [0, 0, 5]])
    batch = model.generate(prompts, 10, temperature=0)
    assert batch.shape == (3, 10)
    for prompt, row in zip(prompts, batch):
        assert model.generate(prompt, 10, temperature=0).tolist() == row.tolist()


def test_on_token_receives_each_new_token_in_order():
    model = char_model(*RECURRENT["gru"]())
    seen = []
    generated = model.generate([[1, 2], [3, 4]], 6, temperature=0.9, seed=2, on_token=lambda ids: seen.append(ids.tolist()))
    assert np.array(seen).T.tolist() == generated.tolist()


def test_generate_gives_stateful_layers_back_their_states():
    gru = layers.GRU(16, return_sequences=True, stateful=True)
    model = char_model(gru)
    model(torch.tensor([[1, 2, 3]]))
    states = [s.clone() for s in gru.states]
    model.generate([4, 5], 5, temperature=0)
    assert gru.stateful and all(torch.equal(a, b) for a, b in zip(states, gru.states))


def test_generate_starts_from_zero_states_even_for_a_stateful_model():
    model = char_model(layers.GRU(16, return_sequences=True, stateful=True))
    fresh = model.generate([4, 5], 8, temperature=0).tolist()
    model(torch.tensor([[7, 7, 7, 1]]))  # leaves a non-zero state in the layer
    assert model.generate([4, 5], 8, temperature=0).tolist() == fresh


def test_zero_steps_returns_no_tokens():
    model = char_model(*RECURRENT["gru"]())
    assert model.generate([1, 2], 0).shape == (0,)
    assert model.generate([[1, 2]], 0).shape == (1, 0)


@pytest.mark.parametrize(
    "prompt, kwargs, message",
    [
        ([], {}, "prompt is empty"),
        (np.zeros((2, 0), dtype=np.int64), {}, "prompt is empty"),
        ([1, VOCAB], {}, f"in \\[0, {VOCAB}\\)"),
        ([-1, 2], {}, f"in \\[0, {VOCAB}\\)"),
        ([1.0, 2.0], {}, "integer token ids"),
        ([[[1]]], {}, "shape \\(time,\\) or \\(batch, time\\)"),
        ([1], {"temperature": -0.5}, "temperature must be a number >= 0"),
        ([1], {"temperature": float("nan")}, "temperature must be a number >= 0"),
        ([1], {"temperature": "hot"}, "temperature must be a number >= 0"),
        ([1], {"top_k": 0}, "top_k must be a positive integer"),
        ([1], {"top_k": 2.5}, "top_k must be a positive integer"),
        ([1], {"steps": -1}, "steps must be an integer >= 0"),
        ([1], {"seed": 1.5}, "seed must be an integer"),
        ([1], {"on_token": "print"}, "on_token must be a function"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(prompt, kwargs, message):
    model = char_model(*RECURRENT["gru"]())
    steps = kwargs.pop("steps", 3)
    with pytest.raises(ValueError, match=message):
        model.generate(prompt, steps, **kwargs)


def test_a_model_without_an_embedding_is_refused():
    model = rnnkit.Sequential([layers.GRU(8, return_sequences=True), layers.Dense(4)])
    model(torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="input is token ids.*starts with GRU"):
        model.generate([1, 2], 3)


def test_a_model_reading_backwards_is_refused():
    model = char_model(layers.Bidirectional(layers.GRU(8, return_sequences=True)))
    with pytest.raises(ValueError, match="backwards"):
        model.generate([1, 2], 3)


def test_a_model_whose_output_is_not_vocabulary_logits_is_refused():
    torch.manual_seed(0)
    model = rnnkit.Sequential([layers.Embedding(VOCAB, 4), layers.GRU(8, return_sequences=True), layers.Dense(3)])
    with pytest.raises(ValueError, match=f"logits of shape \\(batch, time, {VOCAB}\\).*got \\(1, 2, 3\\)"):
        model.generate([1, 2], 3)


def test_a_functional_model_generates_like_the_equivalent_sequential():
    sequential = char_model(*RECURRENT["lstm"]())
    inputs = rnnkit.Input((None,), dtype="int64")
    x = layers.Embedding(VOCAB, 8)(inputs)
    x = layers.LSTM(16, return_sequences=True)(x)
    functional = rnnkit.Model(inputs, layers.Dense(VOCAB)(x))
    functional.set_weights(sequential.get_weights())
    assert functional.generate([3, 1], 10, temperature=0).tolist() == sequential.generate([3, 1], 10, temperature=0).tolist()
