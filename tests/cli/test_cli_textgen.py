"""`rnnkit textgen train|sample` end to end on a tiny text."""
import contextlib
import io
import json

import pytest

from rnnkit.cli import main

TEXT = "ROMEO:\nthe king speaks now.\n\nJULIET:\ngood night, good lord.\n\n" * 12
TINY = ["--units", "16", "--embedding-dim", "8", "--seq-len", "20", "--batch-size", "8", "--quiet"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model trained for one epoch by the CLI, and what the command printed."""
    folder = tmp_path_factory.mktemp("textgen")
    text = folder / "plays.txt"
    text.write_text(TEXT, encoding="utf-8")
    out = folder / "run"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["textgen", "train", "--text", str(text), "--epochs", "1", "--sample-length", "20",
                     "--out", str(out), *TINY])
    return code, printed.getvalue(), out


def test_train_writes_the_run_and_reports_nats_and_bits_per_character(trained):
    code, printed, out = trained
    assert code == 0
    for name in ("model.rnnkit", "checkpoint.rnnkit", "metrics.json", "history.csv", "history.png"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert f"validation loss {metrics['val_loss']:.4f} nats/char = {metrics['val_bpc']:.4f} bits/char" in printed
    assert "sample (temperature 0.8):\nROMEO:\n" in printed


def test_sample_streams_the_prompt_and_the_continuation(trained, capsys):
    model = trained[2] / "model.rnnkit"
    assert main(["textgen", "sample", str(model), "--prompt", "JULIET:", "--length", "30", "--temperature",
                 "0.8", "--top-k", "5", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("JULIET:") and len(out) == len("JULIET:") + 30 + 1 and set(out) <= set(TEXT)
    main(["textgen", "sample", str(model), "--prompt", "JULIET:", "--length", "30", "--temperature", "0.8",
          "--top-k", "5", "--seed", "1"])
    assert capsys.readouterr().out == out


def test_sample_refuses_a_prompt_with_unseen_characters_in_one_line(trained, capsys):
    assert main(["textgen", "sample", str(trained[2] / "model.rnnkit"), "--prompt", "ROMEO: Zq"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("rnnkit: error: --prompt has characters ['Z', 'q'] that the model never saw")
    assert captured.err.count("\n") == 1


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty"),
        (b"abc\xff\xfedef", "is not UTF-8 text: byte 3 (0xff)"),
        (b"short text", "use a longer text or a smaller seq_len"),
    ],
)
def test_train_refuses_bad_text_with_a_one_line_error(tmp_path, capsys, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    assert main(["textgen", "train", "--text", str(path), "--out", str(tmp_path / "run"), *TINY]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnkit: error: ") and message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["textgen", "train", "--text", "missing.txt"], "no such file: 'missing.txt'"),
        (["textgen", "train", "--text", __file__, "--cell", "gruu"], "did you mean 'gru'?"),
        (["textgen", "sample", __file__, "--prompt", "a", "--temperature", "-1"], "must be at least 0"),
        (["textgen", "sample", __file__, "--prompt", "a", "--top-k", "0"], "must be at least 1"),
        (["textgen", "sample", __file__], "the following arguments are required: --prompt"),
    ],
)
def test_bad_options_exit_2_with_one_line(capsys, argv, message):
    with pytest.raises(SystemExit) as exit:
        main(argv)
    err = capsys.readouterr().err
    assert exit.value.code == 2 and message in err and err.count("\n") == 1


def test_sample_refuses_a_file_that_is_not_a_model(tmp_path, capsys):
    path = tmp_path / "notes.rnnkit"
    path.write_text("not a model")
    assert main(["textgen", "sample", str(path), "--prompt", "a"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnkit: error: ") and err.count("\n") == 1


@pytest.mark.parametrize("action", ["train", "sample"])
def test_help_shows_examples(capsys, action):
    with pytest.raises(SystemExit):
        main(["textgen", action, "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and f"rnnkit textgen {action}" in out
