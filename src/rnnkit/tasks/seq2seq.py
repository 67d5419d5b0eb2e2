"""Character-level sequence-to-sequence: an encoder RNN reads the source characters, its final output
is repeated once per target position (RepeatVector), a decoder RNN unrolls it, and a per-step
softmax over the target characters (TimeDistributed Dense) spells the target. Decoding is greedy:
the most likely character at each position, up to the first padding character.

Two sources of pairs: the addition task of Keras's "addition_rnn" example (`addition_pairs`: the
question "a+b" and its answer), and any list of (source, target) strings (`read_pairs` reads a
file of source<TAB>target lines).

    >>> train, test = addition_pairs(100_000, 5_000, digits=3)
    >>> result = train_seq2seq(train, test, codec=addition_codec(3), epochs=15, batch_size=128,
    ...                        learning_rate=0.003, out="runs/addition")
    >>> result.metrics["exact_match"]
    >>> translate(result.model, ["12+345"])
    ['357']
"""
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import Input, Model, Sequential, layers, optimizers
from ..checks import check_scalar
from ..data import CharVocabulary
from ..train.callbacks import History
from .runner import TaskRunner

__all__ = ["PAD", "Seq2SeqCodec", "Seq2SeqResult", "addition_codec", "addition_pairs", "build_seq2seq_model",
           "evaluate_pairs", "read_pairs", "split_pairs", "train_seq2seq", "translate"]

# Fills sources and targets to their fixed lengths; id 0 of both vocabularies.
PAD = "\0"
RECURRENT_LAYERS = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "SimpleRNN"}


class Seq2SeqCodec:
    """Strings to fixed-length id arrays and back, for both sides of a seq2seq model.

    Sources are padded on the left (after reversing them, if `reverse`), so that the source's own
    characters are the last ones the encoder reads before its final output; targets are padded on
    the right and decoded up to their first padding character.

    Args:
        source_vocabulary, target_vocabulary: `CharVocabulary`s whose id 0 is `PAD`.
        source_length, target_length: the longest source and target, in characters.
        reverse: read sources backwards (the addition example's trick: the first digits of the
            answer depend most on the last digits of the question).

    Example:
        >>> codec = Seq2SeqCodec.from_pairs([("1+2", "3"), ("10+20", "30")], reverse=True)
        >>> codec.source_vocabulary.decode(codec.encode_sources(["1+2"])[0]).replace(PAD, ".")
        '..2+1'
        >>> codec.decode_targets(codec.encode_targets(["30"]))
        ['30']
    """

    def __init__(self, source_vocabulary: CharVocabulary, target_vocabulary: CharVocabulary, source_length: int,
                 target_length: int, reverse: bool = True) -> None:
        for side, vocabulary in (("source", source_vocabulary), ("target", target_vocabulary)):
            if vocabulary.characters[0] != PAD:
                raise ValueError(f"the {side} vocabulary must have the padding character {PAD!r} as id 0.")
        self.source_vocabulary = source_vocabulary
        self.target_vocabulary = target_vocabulary
        self.source_length = int(source_length)
        self.target_length = int(target_length)
        self.reverse = bool(reverse)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]], reverse: bool = True) -> "Seq2SeqCodec":
        """The codec that fits every (source, target) pair of `pairs`."""
        pairs = _checked_pairs(pairs, "pairs")
        sources, targets = zip(*pairs)
        return cls(
            _vocabulary(sources), _vocabulary(targets), max(map(len, sources)), max(map(len, targets)), reverse
        )

    def encode_sources(self, sources: Sequence[str]) -> np.ndarray:
        """`(len(sources), source_length)` int64 ids.

        Raises:
            ValueError: for a source longer than `source_length` or with characters outside the
                source vocabulary.
        """
        return self._encode(sources, self.source_vocabulary, self.source_length, "source", left=True)

    def encode_targets(self, targets: Sequence[str]) -> np.ndarray:
        """`(len(targets), target_length)` int64 ids."""
        return self._encode(targets, self.target_vocabulary, self.target_length, "target", left=False)

    def decode_targets(self, ids: np.ndarray) -> list[str]:
        """The strings of `(samples, target_length)` ids, each cut at its first padding character."""
        return [self.target_vocabulary.decode(row).split(PAD, 1)[0] for row in np.asarray(ids)]

    def _encode(self, texts, vocabulary, length, side, left):
        ids = np.zeros((len(texts), length), dtype=np.int64)
        for row, text in enumerate(texts):
            if not isinstance(text, str):
                raise ValueError(f"expected {side} strings, got {type(text).__name__} {text!r}.")
            if len(text) > length:
                raise ValueError(
                    f"the {side} {_quoted(text)} has {len(text)} characters; the model takes at most {length}."
                )
            if PAD in text:
                raise ValueError(f"the {side} {_quoted(text)} holds the padding character {PAD!r}; remove it.")
            try:
                # errors quote the text as the user typed it, not reversed
                encoded = vocabulary.encode(text[::-1] if self.reverse and side == "source" else text)
            except ValueError as error:
                raise ValueError(f"the {side} {_quoted(text)}: {error}") from None
            if len(encoded):
                if left:
                    ids[row, length - len(encoded):] = encoded
                else:
                    ids[row, :len(encoded)] = encoded
        return ids

    def get_config(self) -> dict[str, Any]:
        """A JSON-serializable dict (kept in `model.assets`) that `from_config` turns back into the codec."""
        return {
            "source_vocabulary": self.source_vocabulary.get_config(),
            "target_vocabulary": self.target_vocabulary.get_config(),
            "source_length": self.source_length,
            "target_length": self.target_length,
            "reverse": self.reverse,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Seq2SeqCodec":
        return cls(
            CharVocabulary.from_config(config["source_vocabulary"]),
            CharVocabulary.from_config(config["target_vocabulary"]),
            config["source_length"], config["target_length"], config["reverse"],
        )


@dataclass
class Seq2SeqResult:
    """What `train_seq2seq` returns.

    Attributes:
        model: the trained model; `model.assets["seq2seq"]` holds the codec, so `translate` needs
            nothing else.
        history: the `History` of `fit` (its validation curves are on the test pairs).
        metrics: exact match and character accuracy on the test pairs, sizes, settings and timing.
        examples: (source, target, prediction) of the first test pairs.
        files: the files written, by name (empty without `out`; see `TaskRunner.finish`).
    """

    model: Model
    history: History
    metrics: dict
    examples: list
    files: dict = field(default_factory=dict)


def addition_pairs(train_size: int, test_size: int, digits: int = 3,
                   seed: int = 0) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Questions "a+b" and answers "c" of Keras's addition example, split into distinct training and
    test questions.

    As in Keras's example each number has 1 to `digits` digits (length drawn uniformly, then each
    digit), and a+b and b+a count as the same question, so no test question, in either order,
    occurs in training.

    Args:
        train_size, test_size: the number of training and test questions.
        digits: the largest number of digits of a and b.
        seed: the random seed of the draw.

    Returns:
        `(train, test)`: lists of (question, answer) string pairs.

    Raises:
        ValueError: when more distinct questions are asked for than a fair draw provides (half
            of the distinct pairs of numbers with `digits` digits).

    Example:
        >>> train, test = addition_pairs(3, 1, digits=2, seed=1)
        >>> len(train), len(test), all(str(eval(q)) == a for q, a in train + test)
        (3, 1, True)
    """
    for name, value in (("digits", digits), ("train_size", train_size), ("test_size", test_size)):
        check_scalar(value, name, int, min_val=1)
    numbers = 10 ** digits
    available = numbers * (numbers + 1) // 2 // 2
    wanted = train_size + test_size
    if wanted > available:
        raise ValueError(
            f"{wanted} distinct questions asked for, but with {digits}-digit numbers at most {available} can be "
            "drawn fairly; use fewer questions or more digits."
        )
    rng = np.random.default_rng(seed)
    seen = {}
    while len(seen) < wanted:
        batch = max(2 * (wanted - len(seen)), 1024)
        a, b = _random_numbers(rng, batch, digits), _random_numbers(rng, batch, digits)
        for x, y in zip(a.tolist(), b.tolist()):
            key = (min(x, y), max(x, y))
            if key not in seen:
                seen[key] = (f"{x}+{y}", str(x + y))
                if len(seen) == wanted:
                    break
    pairs = list(seen.values())
    return pairs[:train_size], pairs[train_size:]


def addition_codec(digits: int = 3, reverse: bool = True) -> Seq2SeqCodec:
    """The codec of the addition task: questions of up to `2 * digits + 1` characters ("a+b"),
    answers of up to `digits + 1`, whatever numbers a particular draw holds.

    Example:
        >>> addition_codec(3).source_length, addition_codec(3).target_length
        (7, 4)
    """
    return Seq2SeqCodec(CharVocabulary(PAD + "+0123456789"), CharVocabulary(PAD + "0123456789"),
                        2 * digits + 1, digits + 1, reverse)


def read_pairs(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """Reads source<TAB>target lines (UTF-8, a leading byte-order mark dropped) into a list of
    (source, target) pairs.

    Blank lines are skipped and columns after the second are ignored (so the sentence-pair files
    of Tatoeba/Anki, with an attribution column, read as they are).

    Raises:
        ValueError: naming the file and line, for a line without a tab, with an empty source or
            target, for a file that is not UTF-8 or holds no pairs.

    Example:
        >>> read_pairs("pairs.tsv")[:2]
        [('hello', 'bonjour'), ('cat', 'chat')]
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8-sig") as file:
            lines = file.read().split("\n")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path!r} is not UTF-8 text ({error.reason} at byte {error.start}).") from None
    pairs = []
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        columns = line.split("\t")
        if len(columns) < 2:
            raise ValueError(f"{path!r} line {number}: expected source<TAB>target, found no tab in {line[:60]!r}.")
        source, target = columns[0], columns[1]
        if not source or not target:
            raise ValueError(f"{path!r} line {number}: the {'source' if not source else 'target'} is empty.")
        pairs.append((source, target))
    if not pairs:
        raise ValueError(f"{path!r} holds no source<TAB>target pairs.")
    return pairs


def split_pairs(pairs: Iterable[tuple[str, str]], test_fraction: float = 0.1,
                seed: int = 0) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Splits pairs into training and test parts, keeping all pairs of one source on the same side,
    so that no test source is seen in training.

    Returns:
        `(train, test)`, each a list of (source, target) pairs, in shuffled order.

    Raises:
        ValueError: when the pairs have fewer than two distinct sources or `test_fraction` is not
            strictly between 0 and 1.

    Example:
        >>> train, test = split_pairs(read_pairs("pairs.tsv"), test_fraction=0.2)
    """
    pairs = _checked_pairs(pairs, "pairs")
    check_scalar(test_fraction, "test_fraction", float, min_val=0, max_val=1, include_boundaries="neither")
    sources = list(dict.fromkeys(source for source, _ in pairs))
    if len(sources) < 2:
        raise ValueError(f"need at least 2 distinct sources to hold some out for testing, got {len(sources)}.")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(sources))
    held_out = max(1, min(len(sources) - 1, round(test_fraction * len(sources))))
    test_sources = {sources[i] for i in order[:held_out]}
    shuffled = [pairs[i] for i in rng.permutation(len(pairs))]
    return ([p for p in shuffled if p[0] not in test_sources], [p for p in shuffled if p[0] in test_sources])


def build_seq2seq_model(codec: Seq2SeqCodec, units: int = 128, layer: str = "lstm", embedding_dim: int = 32,
                        learning_rate: float = 0.001, decay_steps: int | None = None) -> Model:
    """Encoder RNN -> RepeatVector -> decoder RNN -> TimeDistributed(Dense(softmax)), compiled with
    Adam, sparse categorical cross-entropy and per-character accuracy.

    The source characters enter through an `Embedding`: the same function class as the one-hot
    vectors of Keras's example (an embedding as wide as the vocabulary can be one-hot), without
    building them.

    Args:
        codec: the `Seq2SeqCodec` giving the vocabularies and lengths (kept in `model.assets`).
        units: the width of the encoder and the decoder.
        layer: "lstm", "gru" or "simple_rnn".
        embedding_dim: the width of the character embedding.
        learning_rate: Adam's learning rate.
        decay_steps: when given, the learning rate falls to 0 along a cosine over this many steps.

    Example:
        >>> model = build_seq2seq_model(Seq2SeqCodec.from_pairs([("1+2", "3")]), units=64)
    """
    if layer not in RECURRENT_LAYERS:
        raise ValueError(f"unknown recurrent layer {layer!r}; choose from {', '.join(RECURRENT_LAYERS)}.")
    recurrent = getattr(layers, RECURRENT_LAYERS[layer])
    model = Sequential(
        [
            Input((codec.source_length,), dtype="int64"),
            layers.Embedding(len(codec.source_vocabulary), embedding_dim, name="characters"),
            recurrent(units, name="encoder"),
            layers.RepeatVector(codec.target_length),
            recurrent(units, return_sequences=True, name="decoder"),
            layers.TimeDistributed(layers.Dense(len(codec.target_vocabulary), activation="softmax"), name="spell"),
        ],
        name=f"seq2seq_{layer}",
    )
    if decay_steps:
        learning_rate = optimizers.CosineDecay(learning_rate, decay_steps)
    model.compile(optimizer=optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.assets["seq2seq"] = codec.get_config()
    return model


def translate(model: Model, sources: str | Sequence[str], batch_size: int = 256) -> list[str]:
    """Greedy decoding of `sources` (strings) with a model from `train_seq2seq` or `load_model`.

    Raises:
        ValueError: when the model holds no seq2seq codec in its assets, or for a source the model
            cannot read (too long, unknown characters; for an addition model, anything but "a+b"
            with a and b of at most the trained number of digits).

    Example:
        >>> translate(rnnkit.load_model("runs/addition/model.rnnkit"), ["12+345", "999+1"])
        ['357', '1000']
    """
    codec = _codec_of(model)
    if isinstance(sources, str):
        raise ValueError("translate takes a list of source strings, got a single string; wrap it in a list.")
    sources = list(sources)
    if model.assets.get("task") == "addition":
        _check_questions(sources, model.assets["digits"])
    ids = codec.encode_sources(sources)
    if not len(ids):
        return []
    probabilities = model.predict(ids, batch_size=batch_size, verbose=0)
    return codec.decode_targets(probabilities.argmax(axis=-1))


def evaluate_pairs(model: Model, pairs: Iterable[tuple[str, str]],
                   batch_size: int = 256) -> tuple[float, float, list[str]]:
    """Exact match and character accuracy of the model on (source, target) pairs.

    Returns:
        `(exact_match, character_accuracy, predictions)`: the fraction of targets decoded exactly,
        the fraction of target positions (padding included, as Keras's accuracy counts them)
        predicted right, and the decoded strings.

    Example:
        >>> exact, characters, predicted = evaluate_pairs(model, [("1+2", "3"), ("5+5", "10")])
    """
    codec = _codec_of(model)
    pairs = _checked_pairs(pairs, "pairs")
    sources, targets = zip(*pairs)
    ids = codec.encode_sources(sources)
    expected = codec.encode_targets(targets)
    predicted_ids = model.predict(ids, batch_size=batch_size, verbose=0).argmax(axis=-1)
    predicted = codec.decode_targets(predicted_ids)
    exact = float(np.mean([p == t for p, t in zip(predicted, targets)]))
    return exact, float(np.mean(predicted_ids == expected)), predicted


def train_seq2seq(train_pairs: Iterable[tuple[str, str]], test_pairs: Iterable[tuple[str, str]], *,
                  reverse: bool = True, units: int = 128, layer: str = "lstm", embedding_dim: int = 32,
                  epochs: int = 40, batch_size: int = 32, learning_rate: float = 0.001, schedule: str = "cosine",
                  seed: int = 0,
                  out: str | os.PathLike[str] | None = None, resume: bool = False, verbose: int | str = "auto",
                  codec: Seq2SeqCodec | None = None, settings: Mapping[str, Any] | None = None) -> Seq2SeqResult:
    """Trains a character-level seq2seq model on `train_pairs` and scores it on `test_pairs`.

    Unless `codec` is given, the vocabularies and lengths come from both parts (a test character
    unseen in training can only be predicted wrong, but it is not an error).

    Args:
        train_pairs, test_pairs: lists of (source, target) strings.
        reverse: read sources backwards (see `Seq2SeqCodec`).
        units, layer, embedding_dim, learning_rate: the model (see `build_seq2seq_model`).
        schedule: "cosine" (the learning rate falls from `learning_rate` to 0 along a cosine over
            the run, which steadies the last epochs) or "constant".
        epochs, batch_size, seed: training settings.
        out: a folder for model.rnnkit, metrics.json, history.csv and history.png (None: no files).
        resume: continue the unfinished run in `out`.
        verbose: progress of `fit` (0, 1, 2 or "auto").
        codec: a `Seq2SeqCodec` fixing the vocabularies and lengths (e.g. `addition_codec(3)`).
        settings: extra entries for `model.assets` and the metrics (e.g. the addition task's digits).

    Returns:
        A `Seq2SeqResult`.

    Example:
        >>> train, test = split_pairs(read_pairs("pairs.tsv"))
        >>> result = train_seq2seq(train, test, epochs=30, out="runs/pairs")
        >>> result.metrics["exact_match"], result.metrics["character_accuracy"]
    """
    if schedule not in ("cosine", "constant"):
        raise ValueError(f"unknown learning-rate schedule {schedule!r}; choose cosine or constant.")
    train_pairs = _checked_pairs(train_pairs, "training pairs")
    test_pairs = _checked_pairs(test_pairs, "test pairs")
    codec = codec or Seq2SeqCodec.from_pairs(train_pairs + test_pairs, reverse=reverse)
    sources, targets = zip(*train_pairs)
    test_sources, test_targets = zip(*test_pairs)

    runner = TaskRunner(out, resume=resume, seed=seed)
    decay_steps = epochs * math.ceil(len(train_pairs) / batch_size) if schedule == "cosine" else None
    model = build_seq2seq_model(codec, units, layer, embedding_dim, learning_rate, decay_steps)
    model.assets.update(settings or {})
    history = runner.fit(
        model, codec.encode_sources(sources), codec.encode_targets(targets), batch_size=batch_size, epochs=epochs,
        validation_data=(codec.encode_sources(test_sources), codec.encode_targets(test_targets)), verbose=verbose,
    )

    exact, characters, predicted = evaluate_pairs(model, test_pairs)
    metrics = {
        **(settings or {}),
        "exact_match": exact, "character_accuracy": characters,
        "train_pairs": len(train_pairs), "test_pairs": len(test_pairs),
        "source_length": codec.source_length, "target_length": codec.target_length,
        "source_characters": len(codec.source_vocabulary) - 1, "target_characters": len(codec.target_vocabulary) - 1,
        "reverse": codec.reverse, "layer": layer, "units": units, "embedding_dim": embedding_dim, "epochs": epochs,
        "batch_size": batch_size, "learning_rate": learning_rate, "schedule": schedule, "train_seconds": runner.seconds,
        "note": "no test source occurs in training; character accuracy counts the padded target positions; the "
                "validation curves in history.csv are on the test pairs, which no training decision uses",
    }
    examples = [(s, t, p) for (s, t), p in zip(test_pairs[:10], predicted[:10])]
    files = runner.finish(model, history, metrics, title=f"seq2seq {layer}({units}): exact match {exact:.2%}")
    return Seq2SeqResult(model, history, metrics, examples, files)


def _check_questions(questions, digits):
    question = re.compile(rf"[0-9]{{1,{digits}}}\+[0-9]{{1,{digits}}}")
    for text in questions:
        if not isinstance(text, str) or not question.fullmatch(text):
            raise ValueError(
                f"the question {text!r} is not a+b with a and b of 1 to {digits} digits, which is what this "
                "addition model was trained on."
            )


def _random_numbers(rng, count, digits):
    # Keras's draw: a length from 1 to `digits`, then that many uniform digits (so leading zeros
    # make shorter numbers more likely than a uniform draw would).
    lengths = rng.integers(1, digits + 1, size=count)
    values = rng.integers(0, 10, size=(count, digits))
    powers = 10 ** np.arange(digits)
    return np.where(np.arange(digits) < lengths[:, None], values, 0) @ powers


def _vocabulary(texts):
    characters = sorted(set("".join(texts)))
    if PAD in characters:
        raise ValueError(f"the texts hold the padding character {PAD!r} (NUL); remove it.")
    return CharVocabulary([PAD] + characters)


def _checked_pairs(pairs, what):
    pairs = [tuple(pair) for pair in pairs]
    if not pairs:
        raise ValueError(f"expected at least one (source, target) pair in the {what}, got none.")
    for pair in pairs:
        if len(pair) != 2 or not all(isinstance(text, str) and text for text in pair):
            raise ValueError(f"expected (source, target) pairs of non-empty strings in the {what}, got {pair!r}.")
    return pairs


def _codec_of(model):
    config = model.assets.get("seq2seq")
    if config is None:
        raise ValueError(
            "this model holds no seq2seq vocabularies in its assets; use a model trained by `rnnkit seq2seq`."
        )
    return Seq2SeqCodec.from_config(config)


def _quoted(text):
    """`text` quoted for a message; a long one shows its start and end and says that it is cut."""
    return repr(text) if len(text) <= 60 else f"{text[:30]!r}...{text[-20:]!r} (cut)"
