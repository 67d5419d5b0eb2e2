"""`rnnkit classify train|predict` end to end on small generated files."""
import contextlib
import io
import json

import numpy as np
import pytest

from rnnkit.cli import main

POSITIVE = ["good", "great", "superb"]
NEGATIVE = ["bad", "awful", "poor"]
FILLER = ["the", "food", "was", "really", "and", "service", "it"]


def run(argv):
    printed, errors = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors):
        code = main(argv)
    return code, printed.getvalue(), errors.getvalue()


def labelled_lines(count=80, seed=0):
    rng = np.random.default_rng(seed)
    lines = []
    for index in range(count):
        words = list(rng.choice(FILLER, size=3))
        words.insert(int(rng.integers(0, 4)), str(rng.choice(POSITIVE if index % 2 else NEGATIVE)))
        lines.append(f"{' '.join(words)}.\t{'pos' if index % 2 else 'neg'}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_classify")
    data = folder / "reviews.txt"
    data.write_text(labelled_lines(), encoding="utf-8")
    out = folder / "run"
    result = run(["classify", "train", "--data", str(data), "--epochs", "8", "--batch-size", "8",
                  "--embedding-dim", "8", "--units", "8", "--dropout", "0", "--learning-rate", "0.05", "--quiet",
                  "--out", str(out)])
    return result, folder, out


def test_train_prints_the_report_and_writes_every_file(trained):
    (code, printed, errors), _, out = trained
    assert code == 0, errors
    # one of the 80 generated sentences repeats: kept once, so that it cannot be in training and test both
    assert "79 texts from 1 file(s) (1 repeated texts dropped, so that no test text is also trained on), 2 classes" in printed
    assert "test accuracy" in printed and "precision" in printed and "confusion matrix" in printed
    assert "rnnkit classify predict" in printed
    for name in ("model.rnnkit", "metrics.json", "history.csv", "history.png", "confusion_matrix.png", "labels.png"):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "metrics.json").read_text())["test_texts"] == 16


def test_predict_labels_sentences_given_as_arguments(trained):
    _, _, out = trained
    code, printed, _ = run(["classify", "predict", str(out / "model.rnnkit"), "the food was superb", "awful  service"])
    assert code == 0
    first, second = printed.splitlines()
    assert first.startswith("pos") and first.endswith("the food was superb")
    assert second.startswith("neg") and second.endswith("awful service")
    assert 0.5 <= float(first.split()[1]) <= 1.0


def test_predict_reads_sentences_from_a_file(trained):
    _, folder, out = trained
    sentences = folder / "new.txt"
    sentences.write_text("great food\n\nreally poor\n", encoding="utf-8")
    code, printed, _ = run(["classify", "predict", str(out / "model.rnnkit"), "--file", str(sentences)])
    assert code == 0 and [line.split()[0] for line in printed.splitlines()] == ["pos", "neg"]


def test_csv_input_with_named_columns(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("id,body,verdict\n" + "".join(f"{i},{'good day' if i % 2 else 'bad day'} {i},{i % 2}\n"
                                                   for i in range(20)))
    code, printed, errors = run(["classify", "train", "--data", str(table), "--text-col", "body", "--label-col",
                                 "verdict", "--epochs", "1", "--embedding-dim", "4", "--units", "4", "--quiet",
                                 "--out", str(tmp_path / "run")])
    assert code == 0, errors
    assert "20 texts" in printed


@pytest.mark.parametrize("content, extra, message", [
    ("good\tpos\nno tab\n", [], "line 2 has no tab"),
    ("a\tpos\nb\tpos\n", [], "only the class 'pos'"),
    ("", [], "is empty"),
    ("text,label\na,1\n", ["--format", "csv", "--label-col", "stars"], "no column 'stars'"),
])
def test_bad_training_data_ends_with_exit_2_and_one_line(tmp_path, content, extra, message):
    data = tmp_path / "data.txt"
    data.write_text(content)
    code, printed, errors = run(["classify", "train", "--data", str(data), "--quiet", "--out", str(tmp_path / "o")]
                                + extra)
    assert code == 2 and errors.count("\n") == 1 and message in errors and "Traceback" not in errors


def test_non_utf8_data_names_the_byte_offset(tmp_path):
    data = tmp_path / "latin.txt"
    data.write_bytes("good\tpos\nna\u00efve\tneg\n".encode("latin-1"))
    code, _, errors = run(["classify", "train", "--data", str(data), "--out", str(tmp_path / "o")])
    assert code == 2 and "byte 0xef at offset 11 (line 2)" in errors


def test_predict_needs_sentences_or_a_file_but_not_both(trained, tmp_path):
    _, _, out = trained
    code, _, errors = run(["classify", "predict", str(out / "model.rnnkit")])
    assert code == 2 and "as arguments or with --file" in errors
    sentences = tmp_path / "s.txt"
    sentences.write_text("fine\n")
    code, _, errors = run(["classify", "predict", str(out / "model.rnnkit"), "x", "--file", str(sentences)])
    assert code == 2 and "not both" in errors


def test_predict_refuses_a_model_that_is_not_a_classifier(tmp_path):
    import rnnkit

    model = rnnkit.Sequential([rnnkit.Input((3,)), rnnkit.layers.Dense(1)])
    model.save(tmp_path / "other.rnnkit")
    code, _, errors = run(["classify", "predict", str(tmp_path / "other.rnnkit"), "hello"])
    assert code == 2 and "not a text classifier" in errors


def test_bad_option_values_are_one_line_usage_errors(tmp_path, capsys):
    data = tmp_path / "d.txt"
    data.write_text("a\t1\nb\t0\n")
    for option in (["--test-size", "1.5"], ["--dropout", "1"], ["--format", "jsn"], ["--schedule", "cosin"]):
        with pytest.raises(SystemExit) as exit:
            main(["classify", "train", "--data", str(data)] + option)
        assert exit.value.code == 2
        assert capsys.readouterr().err.count("\n") == 1


def test_help_shows_examples():
    for argv in (["classify", "train", "--help"], ["classify", "predict", "--help"]):
        with pytest.raises(SystemExit), contextlib.redirect_stdout(io.StringIO()) as printed:
            main(argv)
        assert "examples:" in printed.getvalue() and "rnnkit classify" in printed.getvalue()
