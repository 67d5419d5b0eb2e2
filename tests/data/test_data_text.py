"""TextVectorization and pad_sequences against Keras 3.

keras.layers.TextVectorization needs TensorFlow, which the test environment does not install, so its
outputs below were recorded once with keras 3.15.1 on tensorflow-cpu 2.20.0 (`layer.adapt(CORPUS)`,
`layer.get_vocabulary()`, `layer(QUERIES)`); keras.utils.pad_sequences runs live.
"""
import hashlib
import json
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rnnkit.data import TextVectorization, pad_sequences  # noqa: E402

SENTIMENT = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "sentiment"

CORPUS = [
    "The movie was GREAT, great acting!!",
    "Worst movie ever... the plot? Terrible.",
    "Café ÉCOLE naïve Straße ÀÉÎ café",
    "tab\tseparated\nnew-line  double  space\u00a0nbsp\u2003em",
    "don't stop-believing [UNK] [unk] <br/> e-mail 3.5 $100 50%",
    "b a c b a c d d e e f",
    "¿Qué? ¡Sí! — “quoted” ‘single’ …",
    "",
    "   ",
]
QUERIES = [
    "the GREAT plot",
    "café Café CAFÉ ÉCOLE école",
    "unseen words only",
    "",
    "new-line tab\tseparated nbsp\u00a0nbsp",
    "a b c d e f g h i j k l",
]
DEFAULT_VOCABULARY = [
    "", "[UNK]", "unk", "the", "movie", "great", "e", "d", "café", "c", "b", "a", "…", "“quoted”", "‘single’", "—",
    "École", "ÀÉÎ", "¿qué", "¡sí", "worst", "was", "terrible", "tab", "straße", "stopbelieving",
    "space\xa0nbsp\u2003em", "separated", "plot", "newline", "naïve", "f", "ever", "email", "double", "dont", "br",
    "acting", "50", "35", "100",
]
DEFAULT_IDS = [
    [3, 5, 28, 0, 0, 0, 0, 0, 0, 0, 0, 0], [8, 8, 1, 16, 1, 0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [29, 23, 27, 1, 0, 0, 0, 0, 0, 0, 0, 0],
    [11, 10, 9, 7, 6, 31, 1, 1, 1, 1, 1, 1],
]
# Other options: (arguments, the first tokens of Keras's vocabulary and its size, Keras's ids).
KERAS_OPTIONS = [
    ({"max_tokens": 8}, ["", "[UNK]", "unk", "the", "movie", "great", "e", "d"], 8,
     [[3, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
      [1, 1, 1, 7, 6, 1, 1, 1, 1, 1, 1, 1]]),
    ({"standardize": "lower"}, ["", "[UNK]", "the", "movie", "e", "d", "café", "c", "b", "a", "[unk]", "…"], 42,
     [[2, 31, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], [6, 6, 1, 15, 1, 0, 0, 0, 0, 0, 0, 0],
      [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [28, 22, 26, 1, 0, 0, 0, 0, 0, 0, 0, 0],
      [9, 8, 7, 5, 4, 32, 1, 1, 1, 1, 1, 1]]),
    ({"standardize": None}, ["", "[UNK]", "movie", "e", "d", "c", "b", "a", "…", "“quoted”", "‘single’", "—"], 44,
     [[17, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], [31, 39, 1, 12, 1, 0, 0, 0, 0, 0, 0, 0],
      [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      [23, 18, 21, 1, 0, 0, 0, 0, 0, 0, 0, 0], [7, 6, 5, 4, 3, 26, 1, 1, 1, 1, 1, 1]]),
    ({"standardize": "strip_punctuation"}, ["", "[UNK]", "movie", "e", "d", "c", "b", "a", "…", "“quoted”"], 45,
     [[18, 40, 23, 0, 0, 0, 0, 0, 0, 0, 0, 0], [32, 41, 1, 12, 1, 0, 0, 0, 0, 0, 0, 0],
      [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      [24, 19, 22, 1, 0, 0, 0, 0, 0, 0, 0, 0], [7, 6, 5, 4, 3, 27, 1, 1, 1, 1, 1, 1]]),
    ({"output_sequence_length": 3}, DEFAULT_VOCABULARY, 41,
     [[3, 5, 28], [8, 8, 1], [1, 1, 1], [0, 0, 0], [29, 23, 27], [11, 10, 9]]),
    ({"output_sequence_length": 20, "max_tokens": 12}, DEFAULT_VOCABULARY[:12], 12,
     [ids + [0] * (20 - len(ids)) for ids in
      ([3, 5, 1], [8, 8, 1, 1, 1], [1, 1, 1], [], [1, 1, 1, 1], [11, 10, 9, 7, 6, 1, 1, 1, 1, 1, 1, 1])]),
]


def adapted(**options):
    vectorizer = TextVectorization(**options)
    vectorizer.adapt(CORPUS)
    return vectorizer


def test_default_vocabulary_and_ids_equal_keras_including_ascii_only_lowercasing_and_whitespace():
    vectorizer = adapted()
    assert vectorizer.get_vocabulary() == DEFAULT_VOCABULARY
    ids = vectorizer(QUERIES)
    assert ids.dtype == np.int64 and ids.tolist() == DEFAULT_IDS


@pytest.mark.parametrize("options, head, size, ids", KERAS_OPTIONS, ids=lambda value: str(value)[:40])
def test_options_give_keras_vocabulary_and_ids(options, head, size, ids):
    vectorizer = adapted(**options)
    vocabulary = vectorizer.get_vocabulary()
    assert vocabulary[: len(head)] == head and len(vocabulary) == size == vectorizer.vocabulary_size()
    assert vectorizer(QUERIES).tolist() == ids


@pytest.mark.skipif(not SENTIMENT.exists(), reason="../shared/data/sentiment not present")
def test_sentiment_sentences_give_keras_vocabulary_and_ids():
    texts = []
    for name in ("amazon_cells", "imdb", "yelp"):
        lines = (SENTIMENT / f"{name}_labelled.txt").read_text(encoding="utf-8").splitlines()
        texts += [line.rsplit("\t", 1)[0] for line in lines if line]
    vectorizer = TextVectorization(max_tokens=3000)
    vectorizer.adapt(texts)
    ids = vectorizer(texts)
    vocabulary = vectorizer.get_vocabulary()
    assert vocabulary[:8] == ["", "[UNK]", "the", "and", "i", "a", "is", "to"] and ids.shape == (3000, 70)
    # sha256 of Keras's "\n".join(get_vocabulary()) and of its int64 ids' bytes.
    assert hashlib.sha256("\n".join(vocabulary).encode()).hexdigest() == (
        "6e53ac658d708b3fc193b106ec2d4209a9e5bfd06166b2d32d3807b4ae908832")
    assert hashlib.sha256(ids.tobytes()).hexdigest() == (
        "263bf6a6b9fbcddf0a22e981205d79eaeeee5782f5630c15dbde12c66e52e27d")


def test_callable_standardize_receives_a_numpy_string_array_and_replaces_the_default():
    vectorizer = TextVectorization(standardize=lambda x: np.char.replace(np.char.lower(x), "film", "movie"))
    vectorizer.adapt(["A FILM, a film", "Ünïcode FILM"])
    assert vectorizer.get_vocabulary() == ["", "[UNK]", "movie", "a", "ünïcode", "movie,"]  # as Keras
    assert vectorizer(["Film ÜNÏCODE", "the movie"]).tolist() == [[2, 4], [1, 2]]


def test_given_vocabulary_with_or_without_special_tokens_as_keras():
    vectorizer = TextVectorization(vocabulary=["earth", "wind", "and", "fire"], output_sequence_length=4)
    assert vectorizer.get_vocabulary() == ["", "[UNK]", "earth", "wind", "and", "fire"]
    assert vectorizer(["Earth, wind & FIRE and rain"]).tolist() == [[2, 3, 5, 4]]
    vectorizer.set_vocabulary(["", "[UNK]", "earth", "[UNK]x"])
    assert vectorizer.get_vocabulary(include_special_tokens=False) == ["earth", "[UNK]x"]
    assert vectorizer(["earth [UNK]x mars"]).tolist() == [[2, 1, 1, 0]]


def test_dynamic_padding_pads_each_call_to_its_longest_text_and_a_single_string_gives_one_row():
    vectorizer = TextVectorization(vocabulary=["a", "b"])
    assert vectorizer(["a", "b a b"]).tolist() == [[2, 0, 0], [3, 2, 3]]
    assert vectorizer("b a").tolist() == [3, 2]
    assert vectorizer([["a"], ["b"]]).shape == (2, 1)


def test_adapt_takes_an_iterable_of_batches_and_replaces_the_vocabulary():
    vectorizer = TextVectorization(vocabulary=["old"])
    vectorizer.adapt(batch for batch in (["x y"], ["y z", "y"]))
    assert vectorizer.get_vocabulary() == ["", "[UNK]", "y", "z", "x"]


def test_config_round_trip_keeps_vocabulary_and_options_as_json():
    vectorizer = adapted(max_tokens=20, standardize="lower", output_sequence_length=7)
    again = TextVectorization.from_config(json.loads(json.dumps(vectorizer.get_config())))
    assert again.get_vocabulary() == vectorizer.get_vocabulary()
    assert again.get_config() == vectorizer.get_config()
    assert np.array_equal(again(QUERIES), vectorizer(QUERIES))


def test_config_of_an_unadapted_vectorizer_round_trips():
    assert TextVectorization.from_config(TextVectorization().get_config()).vocabulary_size() == 2


@pytest.mark.parametrize("options, message", [
    ({"max_tokens": 1}, "max_tokens must be an integer >= 2"),
    ({"standardize": "upper"}, "standardize must be"),
    ({"output_mode": "multi_hot"}, "output_mode must be 'int'"),
    ({"output_sequence_length": 0}, "output_sequence_length must be"),
    ({"vocabulary": []}, "empty vocabulary"),
    ({"vocabulary": ["a", "b", "a"]}, r"repeats the tokens \['a'\]"),
    ({"vocabulary": ["a", ""]}, "padding token '' is at position 1"),
    ({"vocabulary": ["a", "b"], "max_tokens": 3}, "4 entries .* max_tokens=3"),
    ({"vocabulary": "words.txt"}, "single string"),
])
def test_bad_arguments_are_refused_naming_the_problem(options, message):
    with pytest.raises(ValueError, match=message):
        TextVectorization(**options)


def test_non_string_texts_are_refused_naming_the_position():
    with pytest.raises(ValueError, match="got int 3 at position 1"):
        TextVectorization().adapt(["fine", 3])


def test_a_callable_standardize_cannot_be_saved():
    with pytest.raises(ValueError, match="callable standardize cannot be saved"):
        TextVectorization(standardize=str.lower).get_config()


SEQUENCES = [[1], [2, 3], [4, 5, 6], [], [7, 8, 9, 10, 11]]


@pytest.mark.parametrize("options", [
    {},
    {"maxlen": 2},
    {"maxlen": 3, "padding": "post"},
    {"maxlen": 3, "truncating": "post"},
    {"maxlen": 7, "padding": "post", "truncating": "post", "value": -1},
    {"dtype": "float32", "value": 0.5},
    {"dtype": "int64", "maxlen": 1},
])
def test_pad_sequences_equals_keras(options):
    expected = keras.utils.pad_sequences(SEQUENCES, **options)
    padded = pad_sequences(SEQUENCES, **options)
    assert padded.dtype == expected.dtype and padded.tolist() == expected.tolist()


def test_pad_sequences_equals_keras_for_sequences_of_vectors_and_strings():
    vectors = [np.ones((2, 3)), np.arange(12.0).reshape(4, 3)]
    assert np.array_equal(pad_sequences(vectors, maxlen=3, dtype="float32"),
                          keras.utils.pad_sequences(vectors, maxlen=3, dtype="float32"))
    words = [["a"], ["b", "c"]]
    assert pad_sequences(words, dtype=object, value="<pad>").tolist() == keras.utils.pad_sequences(
        words, dtype=object, value="<pad>").tolist()


@pytest.mark.parametrize("sequences, options, message", [
    (SEQUENCES, {"padding": "middle"}, "padding must be 'pre' or 'post'"),
    (SEQUENCES, {"truncating": "both"}, "truncating must be 'pre' or 'post'"),
    ([[1], 2], {}, "the item at position 1 is 2"),
    ([], {}, "pass maxlen"),
    (SEQUENCES, {"value": "x"}, "needs dtype=object"),
    ([np.ones((2, 3)), np.ones((2, 4))], {}, r"shape \(4,\).*\(3,\)"),
])
def test_pad_sequences_refuses_bad_input_naming_it(sequences, options, message):
    with pytest.raises(ValueError, match=message):
        pad_sequences(sequences, **options)
