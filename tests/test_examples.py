"""The examples run as a user runs them."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_keras_api_tour_runs_the_seed_snippets_with_keras_parameter_counts():
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "keras_api_tour.py"), "--quick"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    for total in ("Total params: 361,866", "Total params: 258,698", "Total params: 75,530"):
        assert total in out
    assert "output_1_accuracy" in out and "val_accuracy" in out  # the NestedCell fit and the MNIST-rows fit ran


def test_shakespeare_quick_prints_the_validation_curve_and_a_sample():
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "shakespeare.py"), "--quick"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "validation curve" in out and "val nats/char" in out and "nats/char" in out
    assert "sample (temperature 0.8):\nROMEO:" in out
