"""CharVocabulary: characters to ids and back."""
import numpy as np
import pytest

from rnnkit.data import CharVocabulary


def test_from_text_sorts_the_distinct_characters_and_round_trips():
    vocabulary = CharVocabulary.from_text("hello world")
    assert vocabulary.characters == sorted(set("hello world")) and len(vocabulary) == 8
    ids = vocabulary.encode("hold")
    assert ids.dtype == np.int64 and vocabulary.decode(ids) == "hold"


def test_unknown_characters_are_an_error_naming_them_unless_an_unknown_character_is_set():
    vocabulary = CharVocabulary.from_text("abc")
    with pytest.raises(ValueError, match=r"\['z'\] are not in the model's vocabulary"):
        vocabulary.encode("abz")
    lenient = CharVocabulary.from_text("abc ", unknown=" ")
    assert lenient.decode(lenient.encode("abz")) == "ab "


def test_config_round_trip_keeps_order_and_unknown():
    vocabulary = CharVocabulary("zyx ", unknown=" ")
    again = CharVocabulary.from_config(vocabulary.get_config())
    assert again.characters == vocabulary.characters and again.unknown == " "


@pytest.mark.parametrize("characters, message", [
    ("", "at least one character"),
    ("aa", "repeated"),
    (["ab"], "single characters"),
])
def test_bad_tables_are_refused(characters, message):
    with pytest.raises(ValueError, match=message):
        CharVocabulary(characters)


def test_decode_refuses_out_of_range_ids():
    with pytest.raises(ValueError, match=r"ids must be in \[0, 3\)"):
        CharVocabulary("abc").decode([0, 3])


def test_empty_text_is_refused():
    with pytest.raises(ValueError, match="empty text"):
        CharVocabulary.from_text("")
