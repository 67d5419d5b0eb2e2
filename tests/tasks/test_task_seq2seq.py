"""Character-level seq2seq: the addition data, the codec, pair files, splits, training and decoding."""
import json

import numpy as np
import pytest

import rnnkit
from rnnkit.data import CharVocabulary
from rnnkit.tasks.seq2seq import (
    PAD, Seq2SeqCodec, addition_codec, addition_pairs, build_seq2seq_model, evaluate_pairs, read_pairs, split_pairs,
    train_seq2seq, translate,
)

# Reversing short strings and capitalising them: learnt by heart in a second.
PAIRS = [("ab", "BA"), ("abc", "CBA"), ("ca", "AC"), ("bca", "ACB"), ("c", "C"), ("ba", "AB")]


@pytest.fixture(scope="module")
def memorised(tmp_path_factory):
    """One run trained on PAIRS and scored on them, with its files; shared by the tests that read it."""
    out = tmp_path_factory.mktemp("memorised")
    result = train_seq2seq(PAIRS, PAIRS, units=32, embedding_dim=4, epochs=80, batch_size=8, learning_rate=0.03,
                           out=out, verbose=0)
    return result, out


def test_addition_answers_are_the_sums():
    train, test = addition_pairs(200, 50, digits=3, seed=1)
    assert all(str(int(q.split("+")[0]) + int(q.split("+")[1])) == a for q, a in train + test)
    assert max(len(q) for q, _ in train) <= 7 and max(len(a) for _, a in train) <= 4


def test_no_held_out_addition_question_is_a_training_question_in_either_order():
    train, test = addition_pairs(2000, 500, digits=2, seed=0)
    key = lambda question: tuple(sorted(map(int, question.split("+"))))  # noqa: E731
    assert len(train) == 2000 and len(test) == 500
    assert not {key(q) for q, _ in train} & {key(q) for q, _ in test}
    assert len({key(q) for q, _ in train}) == 2000


def test_addition_draw_is_fixed_by_its_seed():
    assert addition_pairs(50, 10, seed=3) == addition_pairs(50, 10, seed=3) != addition_pairs(50, 10, seed=4)


def test_asking_for_more_questions_than_exist_is_refused():
    with pytest.raises(ValueError, match="with 1-digit numbers at most 27 can be drawn"):
        addition_pairs(25, 5, digits=1)


def test_sources_are_reversed_and_padded_on_the_left_targets_padded_on_the_right():
    codec = addition_codec(3)
    source = codec.source_vocabulary.decode(codec.encode_sources(["12+345"])[0])
    target = codec.target_vocabulary.decode(codec.encode_targets(["357"])[0])
    assert source == PAD + "543+21" and target == "357" + PAD


def test_without_reverse_sources_keep_their_order():
    codec = Seq2SeqCodec.from_pairs([("ab", "x"), ("abcd", "y")], reverse=False)
    assert codec.source_vocabulary.decode(codec.encode_sources(["ab"])[0]) == PAD * 2 + "ab"


def test_decoding_stops_at_the_first_padding_character():
    codec = addition_codec(2)
    assert codec.decode_targets([[2, 0, 3], [1, 2, 3]]) == ["1", "012"]


def test_a_source_too_long_for_the_model_is_refused():
    with pytest.raises(ValueError, match=r"the source '1234\+5' has 6 characters; the model takes at most 5"):
        addition_codec(2).encode_sources(["1234+5"])


def test_a_source_with_unknown_characters_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"the source '1-2': characters \['-'\] are not in the model's vocabulary"):
        addition_codec(2).encode_sources(["1-2"])


def test_codec_config_round_trips_through_json():
    codec = Seq2SeqCodec.from_pairs(PAIRS, reverse=False)
    again = Seq2SeqCodec.from_config(json.loads(json.dumps(codec.get_config())))
    assert again.get_config() == codec.get_config()
    assert np.array_equal(again.encode_sources(["bca"]), codec.encode_sources(["bca"]))


def test_a_vocabulary_without_padding_first_is_refused():
    with pytest.raises(ValueError, match="source vocabulary must have the padding character"):
        Seq2SeqCodec(CharVocabulary("ab"), CharVocabulary(PAD + "a"), 2, 2)


def test_read_pairs_skips_blank_lines_and_ignores_extra_columns(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("Go.\tVa !\tCC-BY 2.0\r\n\nHi.\tSalut !\n", encoding="utf-8")
    assert read_pairs(path) == [("Go.", "Va !"), ("Hi.", "Salut !")]


@pytest.mark.parametrize("text, message", [
    ("a\tb\nno tab here\n", r"line 2: expected source<TAB>target, found no tab in 'no tab here'"),
    ("a\t\n", "line 1: the target is empty"),
    ("\n\n", "holds no source<TAB>target pairs"),
])
def test_read_pairs_errors_name_the_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_pairs(path)


def test_read_pairs_refuses_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.tsv"
    path.write_bytes("café\tcoffee\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.tsv' is not UTF-8 text"):
        read_pairs(path)


def test_split_pairs_keeps_every_pair_of_a_source_on_one_side():
    pairs = [(f"s{i % 10}", f"t{i}") for i in range(50)]
    train, test = split_pairs(pairs, 0.3, seed=1)
    assert len(train) + len(test) == 50 and len({s for s, _ in test}) == 3
    assert not {s for s, _ in train} & {s for s, _ in test}


def test_split_pairs_needs_two_sources():
    with pytest.raises(ValueError, match="at least 2 distinct sources"):
        split_pairs([("a", "b"), ("a", "c")])


def test_the_model_is_encoder_repeat_decoder_and_per_step_softmax():
    model = build_seq2seq_model(addition_codec(3), units=16)
    assert [type(layer).__name__ for layer in model.layers] == [
        "Embedding", "LSTM", "RepeatVector", "LSTM", "TimeDistributed"]
    assert model.layers[2].n == 4 and model.layers[3].return_sequences
    assert model.predict(np.zeros((2, 7), np.int64), verbose=0).shape == (2, 4, 11)


def test_training_learns_the_pairs_by_heart_and_scores_them_exactly(memorised):
    result, _ = memorised
    assert result.metrics["exact_match"] == 1.0 and result.metrics["character_accuracy"] == 1.0
    assert result.examples[0] == ("ab", "BA", "BA")
    assert translate(result.model, ["bca", "c"]) == ["ACB", "C"]


def test_exact_match_and_character_accuracy_count_as_documented(memorised):
    model = memorised[0].model
    exact, characters, predicted = evaluate_pairs(model, [("ab", "BA"), ("ab", "BB"), ("c", "CC")])
    assert predicted == ["BA", "BA", "C"]
    # targets padded to 3 characters: BA_ / BB_ / CC_ against BA_, BA_, C__
    assert exact == pytest.approx(1 / 3) and characters == pytest.approx(7 / 9)


def test_the_saved_model_decodes_alone_and_the_run_files_are_written(memorised):
    result, out = memorised
    assert {"model.rnnkit", "metrics.json", "history.csv", "history.png"} <= {p.name for p in out.iterdir()}
    loaded = rnnkit.load_model(out / "model.rnnkit")
    assert translate(loaded, [s for s, _ in PAIRS]) == translate(result.model, [s for s, _ in PAIRS])
    assert json.loads((out / "metrics.json").read_text())["exact_match"] == 1.0


def test_the_learning_rate_decays_to_zero_over_the_run_by_default(memorised):
    result, _ = memorised
    assert result.metrics["schedule"] == "cosine" and float(result.model.optimizer.learning_rate) == 0.0


def test_translate_refuses_a_model_without_seq2seq_assets():
    model = rnnkit.Sequential([rnnkit.Input((3,)), rnnkit.layers.Dense(1)])
    with pytest.raises(ValueError, match="holds no seq2seq vocabularies"):
        translate(model, ["abc"])


def test_translate_refuses_a_bare_string():
    model = build_seq2seq_model(addition_codec(1), units=4)
    with pytest.raises(ValueError, match="got a single string; wrap it in a list"):
        translate(model, "1+2")
