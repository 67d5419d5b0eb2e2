"""The `rnnkit` command line."""
import subprocess
import sys

from rnnkit.cli import main


def test_demo_trains_and_reports_against_the_persistence_baseline(capsys):
    assert main(["demo", "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 4,385" in out and "Epoch 2/2" in out
    assert "persistence baseline mse" in out and ("beats it" in out or "does not beat it" in out)


def test_demo_rejects_zero_epochs_with_a_one_line_error(capsys):
    assert main(["demo", "--epochs", "0"]) == 2
    assert capsys.readouterr().err.strip() == "rnnkit: error: --epochs must be at least 1"


def test_python_m_rnnkit_shows_help():
    done = subprocess.run([sys.executable, "-m", "rnnkit", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "demo" in done.stdout
