"""The `rnnkit` command line."""
import argparse
import subprocess
import sys

import pytest

import rnnkit
from rnnkit.cli import main


def test_demo_trains_and_reports_against_the_persistence_baseline(capsys):
    assert main(["demo", "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 4,385" in out and "Epoch 2/2" in out
    assert "persistence baseline mse" in out and ("beats it" in out or "does not beat it" in out)


def test_demo_rejects_zero_epochs_with_a_one_line_error(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["demo", "--epochs", "0"])
    assert exit.value.code == 2
    assert capsys.readouterr().err == (
        "rnnkit demo: error: argument --epochs: must be at least 1, got 0 (see `rnnkit demo --help`)\n")


def test_python_m_rnnkit_shows_help():
    done = subprocess.run([sys.executable, "-m", "rnnkit", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "demo" in done.stdout


def test_a_bad_option_value_is_one_line_naming_the_closest_choices(capsys):
    from rnnkit.cli.options import one_of

    with pytest.raises(argparse.ArgumentTypeError, match=r"unknown value 'lstn'; did you mean 'lstm'\?"):
        one_of("simple_rnn", "lstm", "gru")("lstn")


def test_info_prints_summary_config_and_assets(tmp_path, capsys):
    model = rnnkit.Sequential([rnnkit.Input((5, 2)), rnnkit.layers.GRU(3), rnnkit.layers.Dense(1)], name="tiny")
    model.assets["labels"] = ["a", "b"]
    model.save(tmp_path / "m.rnnkit")
    assert main(["info", str(tmp_path / "m.rnnkit")]) == 0
    out = capsys.readouterr().out
    assert "Sequential 'tiny'" in out and "Total params: 67" in out
    assert '"class_name": "GRU"' in out and "assets: labels (2 entries)" in out


def test_info_on_a_file_that_is_not_a_model_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "notes.rnnkit"
    bad.write_text("hello")
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnkit: error: ") and "is not an rnnkit model file" in err and err.count("\n") == 1


def test_debug_shows_the_traceback(tmp_path):
    bad = tmp_path / "notes.rnnkit"
    bad.write_text("hello")
    with pytest.raises(ValueError, match="is not an rnnkit model file"):
        main(["info", str(bad), "--debug"])
