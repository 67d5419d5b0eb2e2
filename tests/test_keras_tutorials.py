"""The Keras tutorials in examples/keras_tutorials run with `import rnnkit as keras`, in their
quick setting (smaller data and fewer epochs; the Keras code is the same), and those that Keras 3
runs without TensorFlow run unchanged under real Keras once their import lines are swapped back:
their diff against Keras code is the imports alone."""
import io
import math
import os
import re
import runpy
import tokenize
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import pytest  # noqa: E402
import torch  # noqa: E402

TUTORIALS = Path(__file__).resolve().parents[1] / "examples" / "keras_tutorials"
SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

# The only lines that differ from the Keras code: rnnkit stands where keras stands.
IMPORT_SWAPS = ((re.compile(r"^import rnnkit as keras\b", re.M), "import keras"),
                (re.compile(r"^from rnnkit import ", re.M), "from keras import "))


def run_tutorial(name, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("KERAS_TUTORIAL_QUICK", "1")
    monkeypatch.setenv("KERAS_TUTORIAL_OUT", str(tmp_path))
    runpy.run_path(str(TUTORIALS / name), run_name="__main__")
    return capsys.readouterr().out


def as_keras_code(source):
    """`source` with its rnnkit imports swapped for Keras's, checking that nothing else in the code
    (comments and strings aside) names rnnkit."""
    for pattern, keras_import in IMPORT_SWAPS:
        source = pattern.sub(keras_import, source)
    names = [tok.string for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.NAME]
    assert "rnnkit" not in names, "the tutorial uses rnnkit beyond its import lines"
    return source


def run_under_keras(name, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("KERAS_TUTORIAL_QUICK", "1")
    monkeypatch.setenv("KERAS_TUTORIAL_OUT", str(tmp_path))
    path = TUTORIALS / name
    source = as_keras_code(path.read_text())
    # Keras's per-op overhead on these tiny models runs 3-20x slower with two threads on a busy
    # two-core machine than with one (measured on the shared CI box); rnnkit's kernels use one.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        # The original __file__, so that the tutorial finds its data where it does under rnnkit.
        exec(compile(source, str(path), "exec"), {"__name__": "__main__", "__file__": str(path)})
    finally:
        torch.set_num_threads(threads)
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


def addition_trains_and_decodes_answers(out, tmp_path):
    assert out.count("Q ") == 10 and "Total questions: " in out


def sine_wave_learns_the_wave(out, tmp_path):
    assert float(out.split("test mse:")[1].split()[0]) < 0.05
    assert (tmp_path / "sine_forecast.png").exists()


def mnist_rows_beats_chance(out, tmp_path):
    assert float(out.split("Test accuracy:")[1].split()[0]) > 0.2  # chance is 0.1


def stock_predicts_the_test_month(out, tmp_path):
    assert math.isfinite(float(out.split("test RMSE:")[1].split()[0]))  # one epoch: a number, not a fit
    assert (tmp_path / "stock_prediction.png").exists()


# The tutorials Keras 3 runs without TensorFlow, each with the check both runs must pass. (The text
# tutorials need TensorFlow under Keras: its TextVectorization and StringLookup are tf.data-backed.)
PURE_KERAS = [
    pytest.param("addition_rnn.py", addition_trains_and_decodes_answers, id="addition_rnn"),
    pytest.param("sine_wave.py", sine_wave_learns_the_wave, id="sine_wave"),
    pytest.param("mnist_rows.py", mnist_rows_beats_chance, id="mnist_rows", marks=needs("mnist")),
    pytest.param("stock_lstm.py", stock_predicts_the_test_month, id="stock_lstm",
                 marks=needs("google_stock_train.csv")),
]


@pytest.mark.parametrize("name, check", PURE_KERAS)
def test_tutorial_runs_and_learns_with_rnnkit(name, check, monkeypatch, tmp_path, capsys):
    check(run_tutorial(name, monkeypatch, tmp_path, capsys), tmp_path)


@pytest.mark.parametrize("name, check", PURE_KERAS)
def test_tutorial_with_keras_imports_runs_and_learns_under_keras(name, check, monkeypatch, tmp_path, capsys):
    check(run_under_keras(name, monkeypatch, tmp_path, capsys), tmp_path)


def test_keras_code_check_refuses_rnnkit_beyond_the_imports():
    with pytest.raises(AssertionError, match="beyond its import lines"):
        as_keras_code("import rnnkit as keras\nx = rnnkit.layers.LSTM(2)\n")
    assert as_keras_code('from rnnkit import layers\n"""rnnkit"""  # rnnkit\n') == \
        'from keras import layers\n"""rnnkit"""  # rnnkit\n'
