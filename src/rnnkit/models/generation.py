"""`generate`: token-by-token sampling from a model that maps token ids to per-step logits.

The prompt runs through the model once; after that each new token is fed alone while every
recurrent layer carries its state from call to call (`layers.rnn.carrying_states`, which leaves
their `stateful` flags alone and gives their states back after), so step n costs one time step,
not n. The
recurrent layers run their usual fused kernels for the prompt and for each step, under
`torch.inference_mode()`. Greedy decoding of the common character model (Embedding -> one
SimpleRNN/LSTM/GRU -> Dense) runs its whole loop in compiled code instead, with the Embedding
folded into the input projection (`_compiled_greedy_decoder`).

Sampling: logits / temperature, optionally restricted to the `top_k` most likely tokens, then one
draw from the softmax with a `torch.Generator` of its own (seeded: reproducible, and the global
random state is left alone). Temperature 0 is greedy decoding (argmax).
"""
import contextlib
import math
from typing import Any, Callable, Optional, Tuple

import numpy as np
import torch
from torch.utils.weak import WeakIdKeyDictionary

from ..checks import check_scalar
from ..layers.base import Layer
from ..layers.bidirectional import Bidirectional
from ..layers.core import Dense, Embedding
from ..layers.gru import GRU
from ..layers.lstm import LSTM
from ..layers.rnn import carrying_states
from ..layers.simple_rnn import SimpleRNN
from ..engine.native import native_kernels
from ..engine.simple_rnn import NATIVE_ACTIVATIONS

__all__ = ["generate"]


def generate(model: Layer, prompt_ids: Any, steps: int, temperature: float = 1.0, top_k: Optional[int] = None,
             seed: Optional[int] = None, on_token: Optional[Callable[[np.ndarray], Any]] = None) -> np.ndarray:
    """Continues token sequences with `model`, one token at a time.

    Args:
        model: a model whose input is token ids `(batch, time)` (it starts with an Embedding) and
            whose output is logits `(batch, time, vocabulary)` (per step, e.g. Embedding ->
            recurrent layers with `return_sequences=True` -> Dense) or `(batch, vocabulary)` (the
            next token after the sequence). A final softmax activation is allowed: its
            probabilities are used as they are. Its recurrent layers must run forwards in time
            (no Bidirectional, no go_backwards).
        prompt_ids: the prompt, a non-empty sequence of ids `(time,)`, or a batch of prompts of
            equal length `(batch, time)`; a list, numpy array or integer tensor.
        steps: how many tokens to generate (an integer >= 0).
        temperature: > 0 divides the logits before sampling (below 1: more conservative, above 1:
            more varied); 0 picks the most likely token (greedy, deterministic).
        top_k: sample only among the `top_k` most likely tokens (None: all of them).
        seed: an integer seeds the sampling: same seed, same text. None draws a fresh seed.
        on_token: called after each step with the new ids, a numpy int64 array `(batch,)`, in
            order: for streaming the output as it is made.

    Returns:
        The generated ids (not including the prompt) as a numpy int64 array: `(steps,)` for one
        prompt given as `(time,)`, `(batch, steps)` for a batch.

    Raises:
        ValueError: for a model that does not take token ids, an empty prompt, ids outside the
            vocabulary, a temperature < 0 or top_k < 1, a negative number of steps.

    Example:
        >>> model = Sequential([Embedding(66, 32), GRU(64, return_sequences=True), Dense(66)])
        >>> model.generate([5, 12, 7], steps=20, temperature=0.8, top_k=10, seed=1).shape
        (20,)
    """
    vocabulary = _vocabulary_size(model)
    prompt, single = _check_prompt(prompt_ids, vocabulary)
    steps = _check_steps(steps)
    temperature, top_k = _check_sampling(temperature, top_k)
    check_scalar(seed, "seed", int, or_none="unseeded")
    if on_token is not None and not callable(on_token):
        raise ValueError(f"on_token must be a function of the new ids, got {type(on_token).__name__}.")

    device = model._device()
    prompt = prompt.to(device)
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(int(seed))
    probabilities_out = _outputs_probabilities(model)
    generated = torch.empty(prompt.shape[0], steps, dtype=torch.long, device=device)
    with torch.inference_mode(), _carrying_states(model):
        scores = _next_token_scores(model, prompt, vocabulary, probabilities_out)
        decoder = _compiled_greedy_decoder(model) if temperature == 0 and on_token is None and steps > 1 else None
        if decoder is not None:
            generated[:, 0] = scores.argmax(dim=-1)
            generated[:, 1:] = decoder(generated[:, 0], steps - 1)
            steps = 0
        for step in range(steps):
            token = _pick(scores, temperature, top_k, generator)
            generated[:, step] = token
            if on_token is not None:
                on_token(token.cpu().numpy())
            if step + 1 < steps:
                scores = _next_token_scores(model, token[:, None], vocabulary, probabilities_out)
    result = generated.cpu().numpy()
    return result[0] if single else result


def greedy_decoder_plan(model: Layer) -> Tuple[bool, Optional[str]]:
    """Whether greedy generation (temperature 0) from `model` runs its whole loop in compiled code
    (`_compiled_greedy_decoder`): (True, None), else (False, why not, in words to act on).

    It does for Embedding (without mask_zero) -> one SimpleRNN/LSTM/GRU -> Dense (no activation),
    float32 on the CPU, with the activations the compiled kernels have, computing in float32 or (a
    mixed_bfloat16 policy) bfloat16."""
    layers = model.layers
    if len(layers) != 3 or type(layers[0]) is not Embedding or type(layers[2]) is not Dense:
        return False, "the model is not Embedding -> one SimpleRNN/LSTM/GRU -> Dense"
    embedding, recurrent, dense = layers
    if type(recurrent) not in (SimpleRNN, LSTM, GRU):
        return False, f"its recurrent layer is a {type(recurrent).__name__}, not a SimpleRNN, LSTM or GRU"
    if embedding.mask_zero:
        return False, "the Embedding has mask_zero=True"
    if dense.activation.name != "linear":
        return False, f"the Dense layer has activation={dense.activation.name!r} (the decoder takes logits)"
    if embedding.embeddings.dtype != torch.float32 or embedding.embeddings.device.type != "cpu":
        return False, "the weights are not float32 on the CPU"
    reason = recurrent.cell.compiled_kernel_reason()
    if reason is not None:
        return False, reason
    native = native_kernels()
    if native is None:
        return False, "the compiled kernels could not be built here (or RNNKIT_NATIVE=0)"
    compute = recurrent._mixed_compute(recurrent.cell.kernel)
    if compute not in (None, torch.bfloat16):
        return False, f"the dtype policy computes in {compute}; the compiled decoder runs float32 or bfloat16"
    if compute is torch.bfloat16 and not native.panel_bfloat16:
        return False, "the compiled kernels were built without AVX512-BF16, which its bfloat16 products need"
    return True, None


def _compiled_greedy_decoder(model):
    """For a model `greedy_decoder_plan` accepts, whose recurrent layer holds its states: a
    function (first tokens (batch,), steps) -> the next `steps` tokens (batch, steps) that runs the
    whole greedy loop in compiled code, continuing from the recurrent layer's current states.
    None for any other model.

    The Embedding folds into the recurrent layer's input projection (a (vocabulary, gates * units)
    table, embeddings W + b, made once), so a step is the recurrent product, the gate arithmetic,
    the output layer and an argmax, with no Python in between. The two products read their weights
    packed in column panels (the native `pack_panels`), in bfloat16 under a mixed_bfloat16 policy as
    the layers' own kernels compute (states, gates and logits stay float32). The table and the panels
    are kept between calls while their weights are unchanged (`_derived_from`)."""
    if not greedy_decoder_plan(model)[0]:
        return None
    embedding, recurrent, dense = model.layers
    if recurrent.states is None:
        return None
    cell = recurrent.cell
    cell_code = {SimpleRNN: 0, LSTM: 1, GRU: 2}[type(recurrent)]
    activation = NATIVE_ACTIVATIONS[cell.activation.name] if cell_code == 0 else 0
    native = native_kernels()
    b_in, b_rec = cell.bias, None
    if cell_code == 2 and cell.bias is not None:
        b_in, b_rec = cell.bias[0], cell.bias[1]
    table = _derived_from(
        (embedding.embeddings, cell.kernel, cell.bias), "table",
        lambda: embedding.embeddings @ cell.kernel if b_in is None else torch.addmm(b_in, embedding.embeddings, cell.kernel),
    )
    empty = table.new_empty(0)
    states = [s.clone().contiguous() for s in recurrent.states]
    bfloat16 = recurrent._mixed_compute(table) is torch.bfloat16
    recurrent_panels, output_panels = (
        _derived_from((w,), f"panels {bfloat16}", lambda w=w: native.pack_panels(w.detach().contiguous(), bfloat16))
        for w in (cell.recurrent_kernel, dense.kernel)
    )

    def decode(first, steps):
        return native.greedy_decode(
            cell_code, activation, table, recurrent_panels, empty if b_rec is None else b_rec.contiguous(), states[0],
            states[1] if cell_code == 1 else empty, output_panels, empty if dense.bias is None else dense.bias,
            dense.units, first.contiguous(), steps,
        )

    return decode


# first weight -> {name: (the weights' versions and storages when made, what was made from them)}
_derived: WeakIdKeyDictionary = WeakIdKeyDictionary()


def _derived_from(weights: Tuple[Optional[torch.Tensor], ...], name: str, make: Callable[[], torch.Tensor]) -> torch.Tensor:
    """make() (a tensor computed from `weights`), kept while weights[0] lives and none of them has
    changed: folding the char model's Embedding takes ~1 ms and packing GRU(1024)'s recurrent matrix
    ~3 ms, the cost of ~35 generated characters, and an interactive caller generates a few characters
    a call. An optimizer step or a load changes a weight's version counter or storage: made again."""
    key = tuple((w._version, w.data_ptr()) for w in weights if w is not None)
    kept = _derived.setdefault(weights[0], {})
    if name not in kept or kept[name][0] != key:
        kept[name] = (key, make())
    return kept[name][1]


def _pick(scores, temperature, top_k, generator):
    """One token per row of `scores` (batch, vocabulary): argmax at temperature 0, else a draw."""
    if temperature == 0:
        return scores.argmax(dim=-1)
    # In float64, which holds any temperature a user can type (1e-300 is 0 in float32), shifted so the
    # best score is 0 first: a tiny temperature then sends the others to -inf, not the best to +inf
    scores = scores.double()
    scores = (scores - scores.max(dim=-1, keepdim=True).values) / temperature
    if top_k is not None and top_k < scores.shape[-1]:
        kth = scores.topk(top_k, dim=-1).values[:, -1:]
        scores = scores.masked_fill(scores < kth, -math.inf)
    probabilities = torch.softmax(scores, dim=-1)
    return torch.multinomial(probabilities, 1, generator=generator)[:, 0]


def _next_token_scores(model, ids, vocabulary, probabilities_out):
    """The model's logits for the token after `ids` (batch, time), as (batch, vocabulary)."""
    outputs = model(ids, training=False)
    if not isinstance(outputs, torch.Tensor) or outputs.dim() not in (2, 3) or outputs.shape[-1] != vocabulary:
        got = tuple(outputs.shape) if isinstance(outputs, torch.Tensor) else type(outputs).__name__
        raise ValueError(
            f"generate needs a model that outputs logits of shape (batch, time, {vocabulary}) or "
            f"(batch, {vocabulary}) (one score per token of its Embedding's vocabulary), got {got}."
        )
    scores = outputs[:, -1] if outputs.dim() == 3 else outputs
    # log of probabilities: the same distribution as logits give through the softmax.
    return torch.log(scores.clamp_min(torch.finfo(scores.dtype).tiny)) if probabilities_out else scores


def _outputs_probabilities(model):
    """Whether the model ends in a softmax (it outputs probabilities rather than logits)."""
    layers = model.layers
    activation = getattr(layers[-1], "activation", None) if layers else None
    return getattr(activation, "name", None) == "softmax"


@contextlib.contextmanager
def _carrying_states(model):
    """Makes every recurrent layer of `model` carry its states, starting from zeros, for the
    duration; then gives each layer back its own states."""
    layers = model._recurrent_layers()
    backwards = [layer.name for layer in layers if isinstance(layer, Bidirectional) or layer.go_backwards]
    if backwards:
        raise ValueError(
            f"generate runs the model forwards one token at a time, but layer(s) {backwards} read the "
            "sequence backwards (Bidirectional or go_backwards), which needs the future; generate with a "
            "model whose recurrent layers run forwards."
        )
    with carrying_states(layers, restore=True):
        yield


def _vocabulary_size(model):
    """The vocabulary size of the Embedding that takes the model's token ids."""
    inputs = model.token_id_inputs()
    if len(inputs) != 1:
        raise ValueError(f"generate needs a model with one input (token ids), model '{model.name}' has {len(inputs)}.")
    if not inputs[0]:
        raise ValueError(
            f"generate needs a model whose input is token ids, i.e. that starts with an Embedding layer; "
            f"model '{model.name}' starts with {_first_layer_name(model)}."
        )
    for module in model.modules():
        if isinstance(module, Embedding):
            return module.input_dim
    raise ValueError(f"generate found no Embedding layer in model '{model.name}' to read its vocabulary size from.")


def _first_layer_name(model):
    layers = model.layers
    return f"{type(layers[0]).__name__} '{layers[0].name}'" if layers else "no layers"


def _check_prompt(prompt_ids, vocabulary):
    """The prompt as a (batch, time) int64 tensor, and whether it was one prompt (time,)."""
    if isinstance(prompt_ids, torch.Tensor):
        prompt = prompt_ids.detach().cpu()
    else:
        try:
            prompt = torch.as_tensor(np.asarray(prompt_ids))
        except (ValueError, TypeError):
            raise ValueError(
                "prompt_ids must be a sequence of token ids (time,) or a batch of prompts of equal length "
                "(batch, time); prompts of different lengths go in separate calls."
            ) from None
    if prompt.numel() == 0:
        raise ValueError(
            f"the prompt is empty (shape {tuple(prompt.shape)}): generate needs at least one token to start from."
        )
    if prompt.is_floating_point() or prompt.is_complex() or prompt.dtype == torch.bool:
        raise ValueError(f"prompt_ids must be integer token ids, got {str(prompt.dtype).replace('torch.', '')}.")
    if prompt.dim() not in (1, 2):
        raise ValueError(
            f"prompt_ids must have shape (time,) or (batch, time), got shape {tuple(prompt.shape)}."
        )
    single = prompt.dim() == 1
    prompt = prompt.long().reshape(1, -1) if single else prompt.long()
    low, high = int(prompt.min()), int(prompt.max())
    if low < 0 or high >= vocabulary:
        raise ValueError(
            f"prompt ids must be in [0, {vocabulary}) (the model's vocabulary), got ids from {low} to {high}."
        )
    return prompt, single


def _check_steps(steps):
    return check_scalar(steps, "steps", int, min_val=0, hint="the number of tokens to generate")


def _check_sampling(temperature, top_k):
    check_scalar(temperature, "temperature", float, min_val=0, hint="0 is greedy, 1 samples the model's distribution")
    return float(temperature), check_scalar(top_k, "top_k", int, min_val=1, or_none="no restriction")
