"""Words to integer ids: `TextVectorization` (Keras 3's layer of that name, in its `output_mode="int"`
form, as a plain NumPy preprocessing object). The layers `TextVectorization` and `StringLookup`
(text_preprocessing.py) run on it, and `rnnkit.data` offers it as it is.

The steps for each text are Keras's: standardize (lowercase ASCII letters, remove ASCII punctuation),
split on ASCII whitespace, look each token up in the vocabulary. Id 0 is padding (the empty token "")
and id 1 the out-of-vocabulary token "[UNK]"; the learned tokens follow, most frequent first.
"""
from __future__ import annotations

import collections
import re
import string
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Union

import numpy as np

from ..checks import check_scalar

__all__ = ["TextVectorization", "most_frequent"]

PADDING_TOKEN = ""
OOV_TOKEN = "[UNK]"
STANDARDIZE_OPTIONS = ("lower_and_strip_punctuation", "lower", "strip_punctuation")

# tf.strings.lower (which Keras calls without an encoding) lowercases ASCII letters only, and Keras's
# punctuation pattern is exactly string.punctuation: "É" and "¿" are left as they are.
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_NO_PUNCTUATION = str.maketrans("", "", string.punctuation)
# tf.strings.split without a separator splits on runs of ASCII whitespace, not on "\u00a0" and friends.
_ASCII_TOKEN = re.compile(r"[^ \t\n\v\f\r]+")
# Texts as the vectorizer takes them: one string, or strings in a list, a tuple or a NumPy array ((n,) or (n, 1)).
Texts = Union[str, Iterable[str], np.ndarray]
# A standardize argument: a mode name, a function on a NumPy array of strings, or None (texts as they are).
Standardize = Union[str, Callable[[np.ndarray], np.ndarray], None]


class TextVectorization:
    """Maps texts to sequences of token ids, with the vocabulary learned by `adapt`.

    The semantics are those of `keras.layers.TextVectorization(output_mode="int")`: the same
    standardization, the same vocabulary (same tokens, same order) and the same ids. It is not a
    layer: it turns strings into an int64 NumPy array for a model whose first layer is
    `Embedding(vocabulary_size(), ..., mask_zero=True)`.

    Args:
        max_tokens: the largest vocabulary, counting the padding and OOV tokens (so at most
            `max_tokens - 2` learned tokens); None for no limit. Must be at least 2.
        standardize: "lower_and_strip_punctuation" (default), "lower", "strip_punctuation", None, or
            a callable that takes a NumPy array of strings and returns an array of the same shape
            (as Keras's callables on non-TensorFlow backends).
        output_mode: "int", the only mode: one id per token.
        output_sequence_length: pad (with 0, at the end) or truncate (keeping the first tokens)
            every sequence to this length; None pads each call's output to its longest text.
        vocabulary: the tokens (with or without the leading "" and "[UNK]"), instead of `adapt`.

    Example:
        >>> vectorizer = TextVectorization(max_tokens=5000, output_sequence_length=4)
        >>> vectorizer.adapt(["foo bar", "bar baz", "baz bada boom"])
        >>> vectorizer.get_vocabulary()
        ['', '[UNK]', 'baz', 'bar', 'foo', 'boom', 'bada']
        >>> vectorizer(["foo qux bar", "qux baz"])
        array([[4, 1, 3, 0],
               [1, 2, 0, 0]])
    """

    def __init__(self, max_tokens: int | None = None, standardize: Standardize = "lower_and_strip_punctuation",
                 output_mode: str = "int", output_sequence_length: int | None = None,
                 vocabulary: Sequence[str] | None = None) -> None:
        max_tokens = check_scalar(max_tokens, "max_tokens", int, min_val=2, or_none="no limit",
                                  hint="the padding and OOV tokens count")
        if not (standardize is None or callable(standardize) or standardize in STANDARDIZE_OPTIONS):
            raise ValueError(
                f"standardize must be None, a callable or one of {', '.join(map(repr, STANDARDIZE_OPTIONS))}, "
                f"got {standardize!r}."
            )
        if output_mode != "int":
            raise ValueError(
                f"output_mode must be 'int' (one token id per word, for an Embedding), got {output_mode!r}; "
                "multi-hot, count and TF-IDF outputs are not provided."
            )
        output_sequence_length = check_scalar(output_sequence_length, "output_sequence_length", int, min_val=1,
                                              or_none="pad to the longest text")
        self.max_tokens = max_tokens
        self.standardize = standardize
        self.output_mode = output_mode
        self.output_sequence_length = output_sequence_length
        self._tokens = []
        self._ids = {}
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    def adapt(self, data: Texts | Iterable[Texts]) -> None:
        """Learns the vocabulary from texts, replacing any previous one.

        Tokens are ordered by descending count, ties by descending token (code point order), as
        Keras orders them; with `max_tokens`, only the `max_tokens - 2` first are kept.

        Args:
            data: a list, tuple or array of strings (shape `(n,)` or `(n, 1)`), a single string, or
                any other iterable of such batches (e.g. a generator).

        Raises:
            ValueError: for items that are not strings.
        """
        counts = collections.Counter()
        if isinstance(data, (str, bytes, list, tuple, np.ndarray)):
            data = [data]
        for batch in data:
            for tokens in self._tokenize(_texts(batch)):
                counts.update(tokens)
        counts.pop(PADDING_TOKEN, None)
        counts.pop(OOV_TOKEN, None)
        self._set_tokens(most_frequent(counts, None if self.max_tokens is None else self.max_tokens - 2))

    def __call__(self, texts: Texts) -> np.ndarray:
        """The token ids of `texts`.

        Args:
            texts: a list, tuple or array of strings (shape `(n,)` or `(n, 1)`), or one string.

        Returns:
            An int64 array of shape `(n, length)` (`(length,)` for one string), where `length` is
            `output_sequence_length`, or the longest text's number of tokens when it is None.
            Unknown tokens are 1, padding is 0 at the end.

        Raises:
            ValueError: for items that are not strings.
        """
        single = isinstance(texts, (str, bytes))
        sequences = [[self._ids.get(token, 1) for token in tokens] for tokens in self._tokenize(_texts(texts))]
        length = self.output_sequence_length
        if length is None:
            length = max((len(ids) for ids in sequences), default=0)
        ids = np.zeros((len(sequences), length), dtype=np.int64)
        for row, sequence in enumerate(sequences):
            sequence = sequence[:length]
            ids[row, : len(sequence)] = sequence
        return ids[0] if single else ids

    def _tokenize(self, texts):
        standardized = self._standardize(texts)
        return [_ASCII_TOKEN.findall(text) for text in standardized]

    def _standardize(self, texts):
        if callable(self.standardize):
            array = np.asarray(texts, dtype=str)
            result = np.asarray(self.standardize(array))
            if result.shape != array.shape:
                raise ValueError(
                    f"the standardize callable must return an array of the shape it was given, {array.shape}, "
                    f"got {result.shape}."
                )
            return [str(text) for text in result.tolist()]
        if self.standardize in ("lower", "lower_and_strip_punctuation"):
            texts = [text.translate(_ASCII_LOWER) for text in texts]
        if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            texts = [text.translate(_NO_PUNCTUATION) for text in texts]
        return texts

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[str]:
        """The tokens in id order: `["", "[UNK]", most frequent, ...]`, or without the first two."""
        return ([PADDING_TOKEN, OOV_TOKEN] if include_special_tokens else []) + list(self._tokens)

    def vocabulary_size(self) -> int:
        """The number of ids, padding and OOV included: the `input_dim` of the Embedding."""
        return len(self._tokens) + 2

    def set_vocabulary(self, vocabulary: Sequence[str]) -> None:
        """Sets the vocabulary directly instead of with `adapt`.

        Args:
            vocabulary: a list, tuple or 1-D array of distinct strings, in id order, optionally
                starting with "" and "[UNK]" (added when absent).

        Raises:
            ValueError: for an empty vocabulary, repeated tokens, "" other than first, non-strings,
                or more than `max_tokens` entries.
        """
        if isinstance(vocabulary, (str, bytes)):
            raise ValueError(
                "vocabulary must be a list of tokens, got a single string; reading a vocabulary file is not "
                "supported: pass the list of its lines."
            )
        tokens = list(vocabulary)
        if not tokens:
            raise ValueError("cannot set an empty vocabulary; pass at least one token.")
        strange = [token for token in tokens if not isinstance(token, str)]
        if strange:
            raise ValueError(f"vocabulary tokens must be strings, got {strange[:3]!r}.")
        if tokens[:2] == [PADDING_TOKEN, OOV_TOKEN]:
            tokens = tokens[2:]
        repeated = sorted(token for token, count in collections.Counter(tokens).items() if count > 1)
        if repeated:
            raise ValueError(f"the vocabulary repeats the tokens {repeated[:10]!r}; each token must appear once.")
        if PADDING_TOKEN in tokens:
            raise ValueError(
                f"the padding token '' is at position {tokens.index(PADDING_TOKEN)} of the vocabulary; it may "
                "only come first, followed by '[UNK]' (or leave both out)."
            )
        if self.max_tokens is not None and len(tokens) + 2 > self.max_tokens:
            raise ValueError(
                f"the vocabulary has {len(tokens) + 2} entries with '' and '[UNK]', more than max_tokens="
                f"{self.max_tokens}."
            )
        self._set_tokens(tokens)

    def _set_tokens(self, tokens):
        self._tokens = list(tokens)
        # An explicit "[UNK]" entry (Keras allows one) keeps its own id.
        self._ids = {token: index for index, token in enumerate(self._tokens, start=2)}

    def get_config(self) -> dict[str, Any]:
        """A JSON-serializable dict, vocabulary included, that `from_config` turns back into an equal
        vectorizer (store it in `model.assets` to keep it with a model).

        Raises:
            ValueError: when `standardize` is a callable, which cannot be written as JSON.
        """
        if callable(self.standardize):
            raise ValueError(
                "a TextVectorization with a callable standardize cannot be saved; use one of "
                f"{', '.join(map(repr, STANDARDIZE_OPTIONS))} or None, or set the callable again after loading."
            )
        return {
            "max_tokens": self.max_tokens,
            "standardize": self.standardize,
            "output_mode": self.output_mode,
            "output_sequence_length": self.output_sequence_length,
            "vocabulary": self.get_vocabulary(),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TextVectorization:
        """The vectorizer described by `get_config()`'s dict."""
        config = dict(config)
        vocabulary = config.pop("vocabulary", None)
        vectorizer = cls(**config)
        if vocabulary is not None and vocabulary != [PADDING_TOKEN, OOV_TOKEN]:
            vectorizer.set_vocabulary(vocabulary)
        return vectorizer

    def __repr__(self):
        return (f"TextVectorization({self.vocabulary_size()} tokens, max_tokens={self.max_tokens}, "
                f"output_sequence_length={self.output_sequence_length})")


def most_frequent(counts: collections.Counter, limit: int | None = None) -> list[str]:
    """The tokens of a Counter in Keras's vocabulary order: descending count, ties by descending
    token (code point order); the first `limit` of them (all for None)."""
    ordered = sorted(counts, key=lambda token: (counts[token], token), reverse=True)
    return ordered if limit is None else ordered[:limit]


def _texts(batch):
    """A batch of texts as a list of str: strings or UTF-8 bytes, shape (n,) or (n, 1), or one string."""
    if isinstance(batch, (str, bytes)):
        batch = [batch]
    array = np.asarray(batch, dtype=object)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(
            f"expected texts as a list of strings (shape (n,) or (n, 1)), got an array of shape {array.shape}."
        )
    texts = []
    for index, text in enumerate(array.tolist()):
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        elif not isinstance(text, str):
            raise ValueError(f"expected texts (strings), got {type(text).__name__} {text!r} at position {index}.")
        texts.append(text)
    return texts
