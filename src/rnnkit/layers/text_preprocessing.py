"""Text preprocessing as layers that live inside a model: `TextVectorization` and `StringLookup`.

They take NumPy arrays of strings (what `model.predict(np.array(["raw text"]))` passes on) and
give int64 tensors of ids; their vocabulary is part of their config, so it is saved with the model.
`TextVectorization` is `text_vectorizer.TextVectorization` (also offered as
`rnnkit.data.TextVectorization`: Keras's standardization, split and vocabulary order) behind the
Keras layer interface.
"""
from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from . import text_vectorizer as text
from .base import Layer


def _refuse_unsupported(layer_name, **given):
    """Keras arguments rnnkit accepts at their defaults only: {name: (default, given)}."""
    for argument, (default, value) in given.items():
        if value != default:
            raise ValueError(f"{layer_name}: {argument}={value!r} is not supported (only {argument}={default!r}).")


def _strings(values):
    """A NumPy object array of str (bytes decoded as UTF-8), any shape, from strings or arrays of them."""
    array = np.asarray(values, dtype=object)
    flat = [v.decode("utf-8") if isinstance(v, bytes) else v for v in array.reshape(-1).tolist()]
    strange = next((v for v in flat if not isinstance(v, str)), None)
    if strange is not None:
        raise ValueError(f"expected strings, got {type(strange).__name__} {strange!r}.")
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(array.shape)


class TextVectorization(Layer):
    """Keras's `TextVectorization` layer in its `output_mode="int"` form: strings -> token ids.

    Args:
        max_tokens: the largest vocabulary, counting the padding ("") and OOV ("[UNK]") tokens.
        standardize: "lower_and_strip_punctuation" (default), "lower", "strip_punctuation", None or
            a callable on a NumPy array of strings.
        split: "whitespace" (the only mode).
        output_mode: "int" (the only mode).
        output_sequence_length: pad with 0 (at the end) or truncate to this length; None pads each
            batch to its longest text.
        vocabulary: the tokens instead of `adapt` (with or without the leading "" and "[UNK]").
        ngrams, pad_to_max_tokens, idf_weights, sparse, ragged, encoding: Keras's, accepted at their
            defaults only.

    Call arguments:
        inputs: strings, shape `(N,)` or `(N, 1)` (a NumPy array or a list).

    Output shape: `(N, L)` int64 token ids, `L = output_sequence_length` or the longest text.

    Example:
        >>> vectorize = TextVectorization(output_sequence_length=4)
        >>> vectorize.adapt(["the cat sat", "the dog"])
        >>> vectorize(np.array(["the dog sat"]))
        tensor([[2, 4, 5, 0]])
    """

    takes_text = True

    def __init__(self, max_tokens: int | None = None, standardize: text.Standardize = "lower_and_strip_punctuation",
                 split: str = "whitespace", ngrams: int | None = None, output_mode: str = "int",
                 output_sequence_length: int | None = None, pad_to_max_tokens: bool = False,
                 vocabulary: Sequence[str] | None = None, idf_weights: Any = None, sparse: bool = False,
                 ragged: bool = False, encoding: str = "utf-8", **kwargs) -> None:
        label = f"TextVectorization '{kwargs.get('name') or 'text_vectorization'}'"
        _refuse_unsupported(label, split=("whitespace", split), ngrams=(None, ngrams),
                            pad_to_max_tokens=(False, pad_to_max_tokens), idf_weights=(None, idf_weights),
                            sparse=(False, sparse), ragged=(False, ragged), encoding=("utf-8", encoding))
        super().__init__(**kwargs)
        self._vectorizer = text.TextVectorization(max_tokens, standardize, output_mode, output_sequence_length,
                                                  vocabulary)
        self.built = True  # no weights; the vocabulary comes from adapt() or `vocabulary`

    def adapt(
        self, data: text.Texts | Iterable[text.Texts], batch_size: int | None = None, steps: int | None = None
    ) -> None:
        """Learns the vocabulary from `data` (strings, or an iterable of batches of strings)."""
        self._vectorizer.adapt(data)

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[str]:
        return self._vectorizer.get_vocabulary(include_special_tokens)

    def set_vocabulary(self, vocabulary: Sequence[str], idf_weights: Any = None) -> None:
        _refuse_unsupported(f"TextVectorization '{self.name}'", idf_weights=(None, idf_weights))
        self._vectorizer.set_vocabulary(vocabulary)

    def vocabulary_size(self) -> int:
        return self._vectorizer.vocabulary_size()

    def call(self, inputs: text.Texts) -> torch.Tensor:
        return torch.from_numpy(self._vectorizer(_strings(inputs)))

    def get_config(self) -> dict[str, Any]:
        config = self._vectorizer.get_config()
        return {**super().get_config(), **config, "split": "whitespace"}


class StringLookup(Layer):
    """Keras's `StringLookup` layer in its `output_mode="int"` form: strings -> ids, or back with
    `invert=True`.

    Ids, as Keras: the mask token (if `mask_token` is set) is 0, then `num_oov_indices` OOV ids,
    then the vocabulary in order. `get_vocabulary()` lists the token of every id.

    Args:
        max_tokens: the largest vocabulary, mask and OOV tokens included.
        num_oov_indices: 1 (unknown strings map to one OOV id) or 0 (unknown strings are an error).
        mask_token: a token that maps to id 0 (None: no mask id).
        oov_token: the token `get_vocabulary()` and `invert=True` give for the OOV id.
        vocabulary: the tokens instead of `adapt` (optionally led by the mask and OOV tokens, as
            `get_vocabulary()` gives them).
        invert: map ids back to strings (unknown ids give `oov_token`).
        output_mode: "int" (the only mode); idf_weights, pad_to_max_tokens, sparse, encoding:
            accepted at their defaults only.

    Call arguments:
        inputs: strings (or ids with `invert=True`) of any shape.

    Output: int64 ids of the input's shape (a tensor), or with `invert=True` a NumPy array of str.

    Example:
        >>> lookup = StringLookup(vocabulary=["a", "b", "c"])
        >>> lookup(np.array([["a", "z"], ["c", "b"]]))
        tensor([[1, 0], [3, 2]])
    """

    takes_text = True

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1, mask_token: str | None = None,
                 oov_token: str = "[UNK]", vocabulary: Sequence[str] | None = None, idf_weights: Any = None,
                 invert: bool = False, output_mode: str = "int", pad_to_max_tokens: bool = False, sparse: bool = False,
                 encoding: str = "utf-8", **kwargs) -> None:
        label = f"StringLookup '{kwargs.get('name') or 'string_lookup'}'"
        if num_oov_indices not in (0, 1):
            raise ValueError(f"{label}: num_oov_indices must be 0 or 1 (hashed OOV buckets are not provided), "
                             f"got {num_oov_indices!r}.")
        _refuse_unsupported(label, output_mode=("int", output_mode), idf_weights=(None, idf_weights),
                            pad_to_max_tokens=(False, pad_to_max_tokens), sparse=(False, sparse),
                            encoding=("utf-8", encoding))
        super().__init__(**kwargs)
        self.max_tokens, self.num_oov_indices = max_tokens, num_oov_indices
        self.mask_token, self.oov_token, self.invert = mask_token, oov_token, bool(invert)
        self._special = ([mask_token] if mask_token is not None else []) + [oov_token] * num_oov_indices
        if max_tokens is not None and max_tokens <= len(self._special):
            raise ValueError(f"{label}: max_tokens={max_tokens} leaves no room beside the {len(self._special)} "
                             "mask and OOV tokens.")
        self._tokens = []
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)
        self.built = True

    def adapt(
        self, data: text.Texts | Iterable[text.Texts], batch_size: int | None = None, steps: int | None = None
    ) -> None:
        """Learns the vocabulary from the strings in `data`, most frequent first."""
        counts = collections.Counter(_strings(data).reshape(-1).tolist())
        for token in self._special:
            counts.pop(token, None)
        limit = None if self.max_tokens is None else self.max_tokens - len(self._special)
        self._tokens = text.most_frequent(counts, limit)

    def set_vocabulary(self, vocabulary: Sequence[str], idf_weights: Any = None) -> None:
        _refuse_unsupported(f"StringLookup '{self.name}'", idf_weights=(None, idf_weights))
        tokens = _strings(list(vocabulary)).tolist()
        if tokens[: len(self._special)] == self._special:  # another lookup's get_vocabulary(), as Keras allows
            tokens = tokens[len(self._special):]
        repeated = sorted(t for t, n in collections.Counter(tokens).items() if n > 1)
        special = sorted(set(tokens) & set(self._special))
        if repeated or special:
            raise ValueError(f"StringLookup '{self.name}': the vocabulary repeats {repeated[:5]!r} or holds the "
                             f"mask/OOV tokens {special!r}; give each ordinary token once.")
        if self.max_tokens is not None and len(tokens) + len(self._special) > self.max_tokens:
            raise ValueError(f"StringLookup '{self.name}': {len(tokens)} tokens and {len(self._special)} mask/OOV "
                             f"tokens exceed max_tokens={self.max_tokens}.")
        self._tokens = tokens

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[str]:
        return (list(self._special) if include_special_tokens else []) + list(self._tokens)

    def vocabulary_size(self) -> int:
        return len(self._special) + len(self._tokens)

    def call(self, inputs: text.Texts | torch.Tensor) -> torch.Tensor | np.ndarray:
        vocabulary = self.get_vocabulary()
        if self.invert:
            ids = inputs.cpu().numpy() if isinstance(inputs, torch.Tensor) else np.asarray(inputs)
            known = (ids >= 0) & (ids < len(vocabulary))
            table = np.array(vocabulary + [self.oov_token], dtype=object)
            return table[np.where(known, ids, len(vocabulary))].astype(str)
        ids = {token: index for index, token in enumerate(vocabulary)}
        strings = _strings(inputs)
        oov = len(self._special) - 1 if self.num_oov_indices else None
        unknown = [s for s in strings.reshape(-1).tolist() if s not in ids]
        if unknown and oov is None:
            raise ValueError(f"StringLookup '{self.name}': {unknown[0]!r} is not in the vocabulary and "
                             "num_oov_indices=0.")
        looked_up = [ids.get(s, oov) for s in strings.reshape(-1).tolist()]
        return torch.tensor(looked_up, dtype=torch.int64).reshape(strings.shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "max_tokens": self.max_tokens, "num_oov_indices": self.num_oov_indices,
                "mask_token": self.mask_token, "oov_token": self.oov_token, "vocabulary": list(self._tokens),
                "invert": self.invert, "output_mode": "int"}
