"""The `rnnkit` command line."""
import argparse
import contextlib
import io
import shlex
import subprocess
import sys

import pytest

import rnnkit
from rnnkit.cli import main


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "my demo's run"  # the printed commands must quote it
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["demo", "--epochs", "1", "--quiet", "--out", str(out)])
    return code, printed.getvalue(), out


def test_demo_trains_and_reports_against_the_naive_baselines(demo_run):
    code, out, _ = demo_run
    assert code == 0
    assert "5 x LSTM(32) -> Dense(50), 30,010 params in all" in out  # an ensemble of 5 networks of 6,002
    assert "persistence" in out and "seasonal naive (50)" in out and "MASE" in out
    assert "rnnkit forecast predict" in out and "rnnkit classify --help" in out


def test_demo_writes_the_model_plots_and_a_forecast_of_the_generated_series(demo_run):
    _, _, folder = demo_run
    for name in ("model.rnnkit", "metrics.json", "history.csv", "test_predictions.png", "series.csv", "forecast.png"):
        assert (folder / name).stat().st_size > 0
    assert main(["forecast", "predict", str(folder / "model.rnnkit"), "--csv", str(folder / "series.csv"),
                 "--steps", "3", "--out", str(folder / "next")]) == 0


def test_demo_prints_its_try_next_commands_shell_quoted(demo_run):
    _, out, folder = demo_run
    predict = next(line for line in out.splitlines() if line.strip().startswith("rnnkit forecast predict"))
    backtest = next(line for line in out.splitlines() if line.strip().startswith("rnnkit forecast backtest"))
    assert shlex.split(predict)[3:6] == [str(folder / "model.rnnkit"), "--csv", str(folder / "series.csv")]
    assert shlex.split(backtest)[3:5] == ["--csv", str(folder / "series.csv")]


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


class _HalfBuilt:
    """Fails in __del__ when its constructor was interrupted, as zipfile.ZipFile does (no `_writing`)."""

    def __init__(self):
        raise KeyboardInterrupt

    def __del__(self):
        self._writing  # noqa: B018 - the attribute the interrupted constructor never set


def test_an_interrupt_ends_with_one_line_even_when_it_left_an_object_half_built(monkeypatch, capsys):
    def run(args):
        half_built = _HalfBuilt()  # noqa: F841
        return 0

    parser = argparse.ArgumentParser()
    parser.set_defaults(run=run, debug=False)
    monkeypatch.setattr(rnnkit.cli, "build_parser", lambda: parser)
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    assert main([]) == 130
    assert capsys.readouterr().err == "rnnkit: interrupted\n"
    assert unraisable == [] and sys.unraisablehook == unraisable.append  # silenced only while freeing
