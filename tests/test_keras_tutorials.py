"""The Keras tutorials in examples/keras_tutorials run with `import rnnkit as keras`, in their
quick setting (smaller data and fewer epochs; the Keras code is the same)."""
import runpy
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).resolve().parents[1] / "examples" / "keras_tutorials"
SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def run_tutorial(name, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("KERAS_TUTORIAL_QUICK", "1")
    monkeypatch.setenv("KERAS_TUTORIAL_OUT", str(tmp_path))
    runpy.run_path(str(TUTORIALS / name), run_name="__main__")
    return capsys.readouterr().out


def needs(path):
    return pytest.mark.skipif(not (SHARED_DATA / path).exists(), reason=f"../shared/data/{path} not present")


def test_working_with_rnns_guide_runs_with_keras_parameter_counts(monkeypatch, tmp_path, capsys):
    out = run_tutorial("working_with_rnns.py", monkeypatch, tmp_path, capsys)
    for total in ("Total params: 164,106", "Total params: 361,866", "Total params: 258,698", "Total params: 80,266"):
        assert total in out
    assert "Predicted result is:" in out and "nested cell trained" in out


@needs("sentiment")
def test_text_classification_tutorial_trains_on_raw_strings(monkeypatch, tmp_path, capsys):
    out = run_tutorial("text_classification_rnn.py", monkeypatch, tmp_path, capsys)
    assert "Stacked test accuracy:" in out
    assert (tmp_path / "text_classification_history.png").stat().st_size > 0


@needs("tinyshakespeare.txt")
def test_text_generation_tutorial_generates_text_after_the_prompt(monkeypatch, tmp_path, capsys):
    out = run_tutorial("text_generation.py", monkeypatch, tmp_path, capsys)
    generated = out.split("ROMEO:", 1)[1].split("_" * 80)[0]
    assert len(generated.strip()) > 50 and "[UNK]" not in generated


def test_addition_example_trains_and_decodes_answers(monkeypatch, tmp_path, capsys):
    out = run_tutorial("addition_rnn.py", monkeypatch, tmp_path, capsys)
    assert out.count("Q ") == 10 and "Total questions: " in out


def test_sine_wave_tutorial_learns_the_wave(monkeypatch, tmp_path, capsys):
    out = run_tutorial("sine_wave.py", monkeypatch, tmp_path, capsys)
    mse = float(out.split("test mse:")[1].split()[0])
    assert mse < 0.05
    assert (tmp_path / "sine_forecast.png").exists()


@needs("mnist")
def test_mnist_rows_tutorial_beats_chance(monkeypatch, tmp_path, capsys):
    out = run_tutorial("mnist_rows.py", monkeypatch, tmp_path, capsys)
    assert float(out.split("Test accuracy:")[1].split()[0]) > 0.2  # chance is 0.1


@needs("google_stock_train.csv")
def test_stock_tutorial_predicts_the_test_month(monkeypatch, tmp_path, capsys):
    out = run_tutorial("stock_lstm.py", monkeypatch, tmp_path, capsys)
    assert "test RMSE:" in out
    assert (tmp_path / "stock_prediction.png").exists()
