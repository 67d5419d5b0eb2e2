"""The examples run as a user runs them."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT / ".." / "shared" / "data"


def needs_shared(name):
    """Skips a test whose example reads ../shared/data/<name> when the data is not beside the checkout."""
    return pytest.mark.skipif(not (SHARED_DATA / name).exists(), reason=f"../shared/data/{name} not present")


def run_quick(script):
    """Runs examples/<script> --quick as a user would; fails with its stderr if it fails."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), "--quick"], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_keras_api_tour_runs_the_seed_snippets_with_keras_parameter_counts():
    done = run_quick("keras_api_tour.py")
    out = done.stdout
    for total in ("Total params: 361,866", "Total params: 258,698", "Total params: 75,530"):
        assert total in out
    assert "output_1_accuracy" in out and "val_accuracy" in out  # the NestedCell fit and the MNIST-rows fit ran


@needs_shared("tinyshakespeare.txt")
def test_shakespeare_quick_prints_the_validation_curve_and_a_sample():
    done = run_quick("shakespeare.py")
    out = done.stdout
    assert "validation curve" in out and "val nats/char" in out and "nats/char" in out
    assert "sample (temperature 0.8):\nROMEO:" in out


@needs_shared("google_stock_train.csv")
def test_stock_prices_quick_run_prints_the_model_beside_persistence():
    done = run_quick("stock_prices.py")
    assert "20 test days" in done.stdout and "vs persistence 8.42" in done.stdout


def test_sine_wave_quick_run_scores_the_test_part_and_the_recursive_continuation():
    done = run_quick("sine_wave.py")
    assert "seasonal naive (50)" in done.stdout and "continuing the wave 100 steps recursively" in done.stdout


def test_addition_quick_run_prints_exact_match_on_held_out_questions():
    done = run_quick("addition.py")
    assert "2000 training and 500 held-out questions" in done.stdout
    assert "on 500 held-out questions" in done.stdout and "goal 99% not checked in a --quick run" in done.stdout


def test_mnist_rows_quick_run_prints_test_accuracy_of_both_recipes():
    done = run_quick("mnist_rows.py")
    assert "simple_rnn: test accuracy" in done.stdout and "lstm: test accuracy" in done.stdout


@needs_shared("sentiment")
def test_sentiment_quick_run_prints_the_report_and_test_accuracy():
    done = run_quick("sentiment.py")
    assert "data: 300 sentences" in done.stdout and "confusion matrix" in done.stdout
    assert "seed 0: test accuracy" in done.stdout and "not checked in a --quick run" in done.stdout


def test_rnn_from_scratch_matches_rnnkit_gradients_and_training():
    done = run_quick("rnn_from_scratch.py")
    assert "largest relative gradient difference" in done.stdout
    assert "largest weight difference after training" in done.stdout
