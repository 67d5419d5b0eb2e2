"""`rnnkit forecast train` killed with SIGKILL during training and run again with `--resume` ends with
the model an uninterrupted run writes (weights equal), and refuses to start over without `--resume`."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import rnnkit

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")

# Dropout and shuffled batches (the task's fit shuffles) make the random state matter; thousands of
# rows make each epoch last long enough to be killed in the middle of one.
ROWS = 2400


def _command(csv_path, out, *extra):
    return [sys.executable, "-m", "rnnkit", "forecast", "train", "--csv", str(csv_path), "--target", "value",
            "--window", "8", "--units", "8", "--dropout", "0.2", "--batch-size", "8", "--epochs", "3", "--members", "1",
            "--seed", "3", "--quiet", "--out", str(out), *extra]


def _environment():
    # One thread each: two runs go side by side, and tiny batches gain nothing from more
    return {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


@pytest.fixture()
def series(tmp_path):
    path = tmp_path / "series.csv"
    t = np.arange(ROWS)
    values = np.sin(t * 0.07) + 0.3 * np.sin(t * 0.31) + 0.05 * np.random.default_rng(0).standard_normal(ROWS)
    path.write_text("step,value\n" + "".join(f"{i},{v:.6f}\n" for i, v in zip(t, values)))
    return path


def _kill_after_first_backup(command, backup_pointer):
    """Runs `command` until the first epoch is backed up, then a little into the next, and kills it."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_environment())
    try:
        deadline = time.monotonic() + 120
        while not backup_pointer.exists():
            if process.poll() is not None:
                raise AssertionError(f"training ended before its first backup: {process.stderr.read().decode()}")
            if time.monotonic() > deadline:
                raise AssertionError("no backup after 120 s")
            time.sleep(0.05)
        time.sleep(0.1)  # into the next epoch (each lasts half a second or more)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode


def test_forecast_train_killed_then_resumed_writes_the_uninterrupted_runs_model(series, tmp_path):
    reference_out, resumed_out = tmp_path / "reference", tmp_path / "resumed"
    reference = subprocess.Popen(_command(series, reference_out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 env=_environment())
    try:
        returncode = _kill_after_first_backup(_command(series, resumed_out), resumed_out / "backup" / "training.json")
        assert returncode == -signal.SIGKILL
        assert not (resumed_out / "model.rnnkit").exists()  # killed before the end

        again = subprocess.run(_command(series, resumed_out), capture_output=True, text=True, env=_environment())
        assert again.returncode == 2 and "--resume" in again.stderr  # an unfinished run is not overwritten

        resumed = subprocess.run(_command(series, resumed_out, "--resume"), capture_output=True, text=True,
                                 env=_environment(), timeout=300)
        assert resumed.returncode == 0, resumed.stderr
        _, errors = reference.communicate(timeout=300)
        assert reference.returncode == 0, errors
    finally:
        if reference.poll() is None:
            reference.kill()
            reference.wait()
    expected = rnnkit.load_model(reference_out / "model.rnnkit").get_weights()
    actual = rnnkit.load_model(resumed_out / "model.rnnkit").get_weights()
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected):
        np.testing.assert_array_equal(got, want)
    assert not (resumed_out / "backup" / "training.json").exists()  # a finished run leaves no backup
