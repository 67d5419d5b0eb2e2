"""`rnnkit seq2seq addition|train|predict` end to end on tiny inputs."""
import json

import pytest

from rnnkit.cli import main

TINY = ["--units", "8", "--embedding-dim", "4", "--epochs", "1", "--batch-size", "16", "--quiet"]


@pytest.fixture(scope="module")
def addition_run(tmp_path_factory):
    """A one-epoch addition model (its answers are wrong, but its files and vocabularies are real)."""
    out = tmp_path_factory.mktemp("addition")
    code = main(["seq2seq", "addition", "--digits", "2", "--train-size", "60", "--test-size", "20", *TINY,
                 "--out", str(out)])
    return code, out


def test_addition_writes_the_run_files(addition_run):
    code, out = addition_run
    assert code == 0
    for name in ("model.rnnkit", "metrics.json", "history.csv", "history.png"):
        assert (out / name).is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "addition" and metrics["digits"] == 2 and metrics["test_pairs"] == 20
    assert metrics["source_length"] == 5 and metrics["target_length"] == 3 and 0 <= metrics["exact_match"] <= 1


def test_addition_reports_exact_match_examples_and_what_to_run_next(tmp_path, capsys):
    assert main(["seq2seq", "addition", "--digits", "1", "--train-size", "20", "--test-size", "5", *TINY,
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "20 training and 5 held-out questions a+b with a, b < 10" in out
    assert "exact match" in out and "character accuracy" in out and " -> " in out
    assert f"next: rnnkit seq2seq predict {tmp_path / 'model.rnnkit'} " in out


def test_predict_prints_one_tab_separated_line_per_source(addition_run, capsys):
    _, out = addition_run
    capsys.readouterr()
    assert main(["seq2seq", "predict", str(out / "model.rnnkit"), "12+34", "9+9"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["12+34", "9+9"]
    assert all(set(line.split("\t")[1]) <= set("0123456789") for line in lines)


def test_predict_reads_sources_from_a_file(addition_run, tmp_path, capsys):
    _, out = addition_run
    sources = tmp_path / "questions.txt"
    sources.write_text("1+2\n\n33+44\n")
    capsys.readouterr()
    assert main(["seq2seq", "predict", str(out / "model.rnnkit"), "--file", str(sources)]) == 0
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()] == ["1+2", "33+44"]


def test_predict_of_a_number_with_more_digits_than_trained_is_a_one_line_error(addition_run, capsys):
    _, out = addition_run
    capsys.readouterr()
    assert main(["seq2seq", "predict", str(out / "model.rnnkit"), "123+45"]) == 2
    expected = ("rnnkit: error: the question '123+45' is not a+b with a and b of 1 to 2 digits, which is what this "
                "addition model was trained on.\n")
    assert capsys.readouterr().err == expected


@pytest.mark.parametrize("question", ["1*2", "12+", "1+2+3", " 1+2"])
def test_predict_of_something_other_than_a_trained_sum_is_a_one_line_error(addition_run, capsys, question):
    _, out = addition_run
    capsys.readouterr()
    assert main(["seq2seq", "predict", str(out / "model.rnnkit"), question]) == 2
    err = capsys.readouterr().err
    assert f"the question {question!r} is not a+b with a and b of 1 to 2 digits" in err and err.count("\n") == 1


def test_predict_without_sources_is_a_usage_error(addition_run, capsys):
    _, out = addition_run
    assert main(["seq2seq", "predict", str(out / "model.rnnkit")]) == 2
    assert "nothing to predict" in capsys.readouterr().err


def test_train_on_a_pairs_file_then_predict_with_the_saved_model(tmp_path, capsys):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("".join(f"{w}\t{w[::-1]}\n" for w in ("ab", "bc", "ca", "abc", "bca", "cab", "a", "b")))
    out = tmp_path / "run"
    assert main(["seq2seq", "train", "--pairs", str(pairs), "--test-fraction", "0.25", *TINY, "--out", str(out)]) == 0
    report = capsys.readouterr().out
    assert "6 training pairs" in report and "2 test pairs from 25% of the distinct sources" in report
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "seq2seq" and metrics["train_pairs"] == 6 and metrics["schedule"] == "cosine"
    assert main(["seq2seq", "predict", str(out / "model.rnnkit"), "cab"]) == 0
    assert capsys.readouterr().out.startswith("cab\t")


def test_train_with_separate_test_pairs_counts_sources_seen_in_training(tmp_path, capsys):
    train, test = tmp_path / "train.tsv", tmp_path / "test.tsv"
    train.write_text("ab\tba\nbc\tcb\n")
    test.write_text("ab\tba\nca\tac\n")
    assert main(["seq2seq", "train", "--pairs", str(train), "--test-pairs", str(test), *TINY,
                 "--out", str(tmp_path / "run")]) == 0
    assert "(1 of whose sources also occur in training)" in capsys.readouterr().out


def test_a_pairs_line_without_a_tab_is_a_one_line_error_naming_the_line(tmp_path, capsys):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("ab\tba\nno tab\n")
    assert main(["seq2seq", "train", "--pairs", str(pairs), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnkit: error: ") and "line 2: expected source<TAB>target" in err and err.count("\n") == 1


def test_predict_with_a_model_that_is_not_seq2seq_is_a_one_line_error(tmp_path, capsys):
    import rnnkit

    model = rnnkit.Sequential([rnnkit.Input((3, 1)), rnnkit.layers.SimpleRNN(2)])
    model.save(tmp_path / "other.rnnkit")
    assert main(["seq2seq", "predict", str(tmp_path / "other.rnnkit"), "1+2"]) == 2
    assert "holds no seq2seq vocabularies" in capsys.readouterr().err


def test_too_many_addition_questions_is_a_one_line_error(tmp_path, capsys):
    assert main(["seq2seq", "addition", "--digits", "1", "--train-size", "30", "--out", str(tmp_path)]) == 2
    assert "at most 27 can be drawn fairly" in capsys.readouterr().err


def test_an_unknown_layer_suggests_the_closest(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["seq2seq", "addition", "--layer", "gru2"])
    assert exit.value.code == 2 and "did you mean 'gru'?" in capsys.readouterr().err


def test_help_of_each_action_shows_examples(capsys):
    for action in ("addition", "train", "predict"):
        with pytest.raises(SystemExit):
            main(["seq2seq", action, "--help"])
        assert f"examples:\n  rnnkit seq2seq {action}" in capsys.readouterr().out
