"""TextVectorization and StringLookup as layers inside models: the values of Keras's documented
examples, strings through fit/predict, and the vocabulary saved with the model."""
import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import layers


def test_text_vectorization_adapt_gives_keras_documented_ids():
    layer = layers.TextVectorization(max_tokens=5000, output_sequence_length=4)
    layer.adapt(["foo bar", "bar baz", "baz bada boom"])
    assert layer.get_vocabulary() == ["", "[UNK]", "baz", "bar", "foo", "boom", "bada"]
    np.testing.assert_array_equal(layer(np.array(["foo qux bar", "qux baz"])).numpy(), [[4, 1, 3, 0], [1, 2, 0, 0]])


def test_text_vectorization_with_a_given_vocabulary_gives_keras_documented_ids():
    layer = layers.TextVectorization(output_sequence_length=4, vocabulary=["earth", "wind", "and", "fire"])
    ids = layer(np.array([["earth wind and fire"], ["fire and earth michigan"]]))
    assert ids.dtype == torch.int64
    np.testing.assert_array_equal(ids.numpy(), [[2, 3, 4, 5], [5, 4, 2, 1]])


def test_string_lookup_gives_keras_documented_ids_with_and_without_mask():
    vocabulary = ["a", "b", "c", "d"]
    plain = layers.StringLookup(vocabulary=vocabulary)
    np.testing.assert_array_equal(plain(np.array([["a", "c", "d"], ["d", "z", "b"]])).numpy(), [[1, 3, 4], [4, 0, 2]])
    masked = layers.StringLookup(vocabulary=vocabulary, mask_token="")
    np.testing.assert_array_equal(masked(np.array([["a", "c", "d"], ["d", "", "b"]])).numpy(), [[2, 4, 5], [5, 0, 3]])
    assert masked.get_vocabulary() == ["", "[UNK]", "a", "b", "c", "d"]


def test_string_lookup_invert_maps_ids_back_with_oov_token():
    inverse = layers.StringLookup(vocabulary=["a", "b", "c", "d"], invert=True)
    np.testing.assert_array_equal(inverse(torch.tensor([[1, 3, 4], [4, 0, 2]])), [["a", "c", "d"], ["d", "[UNK]", "b"]])


def test_string_lookup_adapt_orders_by_count_then_token_like_keras():
    layer = layers.StringLookup()
    layer.adapt(np.array([["a", "c", "d"], ["d", "z", "b"]]))
    assert layer.get_vocabulary() == ["[UNK]", "d", "z", "c", "b", "a"]


def test_string_lookup_without_oov_ids_refuses_an_unknown_string():
    with pytest.raises(ValueError, match="'z' is not in the vocabulary and num_oov_indices=0"):
        layers.StringLookup(vocabulary=["a"], num_oov_indices=0)(np.array(["z"]))


def test_unsupported_keras_argument_value_is_a_one_line_error():
    with pytest.raises(ValueError, match=r"TextVectorization 'text_vectorization': ngrams=2 is not supported"):
        layers.TextVectorization(ngrams=2)


TEXTS = np.array(["the cat sat on the mat", "a dog ran off", "the cat ran", "dogs bark", "cats purr", "a mat"])
LABELS = np.array([1, 0, 1, 0, 1, 0])


def _text_classifier():
    encoder = layers.TextVectorization(max_tokens=40)
    encoder.adapt(TEXTS)
    model = rnnkit.Sequential([encoder, layers.Embedding(len(encoder.get_vocabulary()), 8, mask_zero=True),
                               layers.Bidirectional(layers.LSTM(4)), layers.Dense(1)])
    model.compile(loss=rnnkit.losses.BinaryCrossentropy(from_logits=True), optimizer="adam")
    return model


def test_model_starting_with_text_vectorization_fits_and_predicts_raw_strings():
    model = _text_classifier()
    history = model.fit(TEXTS, LABELS, epochs=3, batch_size=2, shuffle=True, verbose=0)
    assert len(history.history["loss"]) == 3
    assert model.predict(np.array(["the cat sat"]), verbose=0).shape == (1, 1)
    assert model.output_shape == (None, 1)


def test_vocabulary_is_saved_with_the_model(tmp_path):
    model = _text_classifier()
    model.fit(TEXTS, LABELS, epochs=1, verbose=0)
    rnnkit.save_model(model, tmp_path / "text.rnnkit")
    loaded = rnnkit.load_model(tmp_path / "text.rnnkit")
    assert loaded.layers[0].get_vocabulary() == model.layers[0].get_vocabulary()
    x = np.array(["the dog sat", "cats"])
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_functional_model_takes_a_string_input():
    encoder = layers.TextVectorization(vocabulary=["hello", "cat"])
    text = rnnkit.Input(shape=(1,), dtype="string")
    model = rnnkit.Model(text, layers.GRU(2)(layers.Embedding(4, 3, mask_zero=True)(encoder(text))))
    assert model.predict(np.array([["hello cat"], ["cat"]]), verbose=0).shape == (2, 2)


def test_model_called_on_a_python_list_of_strings_says_to_pass_an_array_and_predict_takes_the_list():
    model = _text_classifier()
    with pytest.raises(ValueError, match=r"^Sequential '\w+' takes arrays or tensors, got a Python list of strings; "
                                         r"pass np\.array\(\[\.\.\.\]\) \(predict\(\) and fit\(\) convert"):
        model(["the cat", "a dog"])
    np.testing.assert_allclose(model.predict(["the cat", "a dog"], verbose=0),
                               model.predict(np.array(["the cat", "a dog"]), verbose=0))
