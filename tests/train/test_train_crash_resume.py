"""A training process killed with SIGKILL mid-epoch and started again with the same command ends
with the weights of a run that was never interrupted: BackupAndRestore brings back the weights,
the optimizer state and the random state (dropout masks and the shuffled data order)."""
import json
import os
import random
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import rnnkit

EPOCHS = 4

# Dropout in the LSTM and after it, shuffle=True and Adam: every kind of state a resume must restore.
# BATCH_DELAY (seconds slept after each batch) stretches the epochs so that the test can kill the
# process in the middle of one; sleeping draws no random numbers, so it changes no result.
TRAINING_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    import numpy as np
    import rnnkit

    backup_dir, weights_path = sys.argv[1], sys.argv[2]
    delay = float(os.environ.get("BATCH_DELAY", "0"))
    rnnkit.utils.set_random_seed(3)
    data = np.random.default_rng(0)
    x = data.standard_normal((256, 6, 3)).astype("float32")
    y = (x[:, :, 0].sum(axis=1) > 0).astype("int64") + (x[:, -1, 1] > 0.5)
    model = rnnkit.Sequential([
        rnnkit.Input((6, 3)),
        rnnkit.layers.LSTM(12, dropout=0.2),
        rnnkit.layers.Dropout(0.3),
        rnnkit.layers.Dense(3),
    ])
    model.compile(optimizer="adam", loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True))

    def report(batch, logs):
        print("batch", model.current_epoch, batch, flush=True)
        time.sleep(delay)

    def remember_epoch(epoch, logs):
        model.current_epoch = epoch

    progress = rnnkit.callbacks.LambdaCallback(on_epoch_begin=remember_epoch, on_train_batch_end=report)
    model.fit(x, y, batch_size=16, epochs=%d, shuffle=True, verbose=0,
              callbacks=[rnnkit.callbacks.BackupAndRestore(backup_dir), progress])
    np.savez(weights_path, *model.get_weights())
    print("done", flush=True)
    """
    % EPOCHS
)


def _command(tmp_path, name):
    script = tmp_path / "train.py"
    script.write_text(TRAINING_SCRIPT)
    return [sys.executable, str(script), str(tmp_path / name / "backup"), str(tmp_path / name / "weights.npz")]


def _environment(batch_delay):
    # One thread each: the two training processes run side by side, and tiny batches gain nothing from more
    return {**os.environ, "BATCH_DELAY": str(batch_delay), "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def _weights(path):
    with np.load(path) as archive:
        return [archive[f"arr_{i}"] for i in range(len(archive.files))]


def _kill_during_second_or_later_epoch(command, backup_dir):
    """Starts `command`, waits until an epoch has been backed up and the next one has begun, and
    kills the process with SIGKILL; returns the epoch it was in."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=_environment(batch_delay=0.02))
    try:
        for line in process.stdout:
            if not line.startswith("batch"):
                continue
            _, epoch, batch = line.split()
            # The pointer is written at the end of epoch e, before epoch e + 1 starts
            if int(epoch) >= 1 and int(batch) >= 3 and (backup_dir / "training.json").exists():
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
                return int(epoch)
        raise AssertionError(f"training ended before it could be killed: {process.stderr.read()}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_sigkill_mid_epoch_then_the_same_command_ends_with_the_uninterrupted_weights(tmp_path):
    # The uninterrupted reference run goes on in parallel with the one that gets killed
    reference = subprocess.Popen(_command(tmp_path, "uninterrupted"), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True, env=_environment(batch_delay=0))
    try:
        interrupted = _command(tmp_path, "interrupted")
        backup_dir = tmp_path / "interrupted" / "backup"
        killed_in_epoch = _kill_during_second_or_later_epoch(interrupted, backup_dir)
        backed_up_epoch = json.loads((backup_dir / "training.json").read_text())["epoch"]
        assert 0 <= backed_up_epoch <= killed_in_epoch
        assert not (tmp_path / "interrupted" / "weights.npz").exists()

        resumed = subprocess.run(interrupted, capture_output=True, text=True, env=_environment(batch_delay=0),
                                 timeout=120)
        assert resumed.returncode == 0, resumed.stderr
        _, reference_errors = reference.communicate(timeout=120)
        assert reference.returncode == 0, reference_errors
    finally:
        if reference.poll() is None:
            reference.kill()
            reference.wait()
    epochs_run = {int(line.split()[1]) for line in resumed.stdout.splitlines() if line.startswith("batch")}
    assert min(epochs_run) == backed_up_epoch + 1  # it went on from the last backup, not from the start
    expected = _weights(tmp_path / "uninterrupted" / "weights.npz")
    actual = _weights(tmp_path / "interrupted" / "weights.npz")
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected):
        np.testing.assert_array_equal(got, want)


class _StopAtEpoch(rnnkit.callbacks.Callback):
    """Interrupts fit as a crash would, at the start of an epoch."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def _fit_recording_draws(backup_dir, seed, interrupt_at=None):
    """Fits 3 epochs with a backup, recording one NumPy and one Python random draw per epoch end
    (what a user's data generator or augmentation would draw); returns {epoch: draws}."""
    rnnkit.utils.set_random_seed(seed)
    model = rnnkit.Sequential([rnnkit.Input((2, 1)), rnnkit.layers.SimpleRNN(2), rnnkit.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    draws = {}
    record = rnnkit.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: draws.__setitem__(epoch, (np.random.random(), random.random())))
    callbacks = [record, rnnkit.callbacks.BackupAndRestore(backup_dir)]
    if interrupt_at is not None:
        callbacks.append(_StopAtEpoch(interrupt_at))
    model.fit(np.ones((4, 2, 1), "float32"), np.ones((4, 1), "float32"), epochs=3, verbose=0, callbacks=callbacks)
    return draws


def test_resume_restores_the_numpy_and_python_random_state_of_the_last_backup(tmp_path):
    expected = _fit_recording_draws(tmp_path / "plain", seed=1)
    with pytest.raises(KeyboardInterrupt):
        _fit_recording_draws(tmp_path / "backup", seed=1, interrupt_at=2)
    resumed = _fit_recording_draws(tmp_path / "backup", seed=2)
    assert list(resumed) == [2]
    assert resumed[2] == expected[2]


def _backed_up_fit(backup_dir, epochs, interrupt_at=None):
    model = rnnkit.Sequential([rnnkit.Input((2, 1)), rnnkit.layers.SimpleRNN(2), rnnkit.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    callbacks = [rnnkit.callbacks.BackupAndRestore(backup_dir)]
    if interrupt_at is not None:
        callbacks.append(_StopAtEpoch(interrupt_at))
    return model.fit(np.ones((4, 2, 1), "float32"), np.ones((4, 1), "float32"), epochs=epochs, verbose=0,
                     callbacks=callbacks)


def test_resume_from_a_damaged_backup_model_is_refused_naming_the_file(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        _backed_up_fit(tmp_path, epochs=3, interrupt_at=1)
    backup = tmp_path / json.loads((tmp_path / "training.json").read_text())["model"]
    data = bytearray(backup.read_bytes())
    data[len(data) // 2] ^= 0xFF
    backup.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=str(backup.name)):
        _backed_up_fit(tmp_path, epochs=3)


def test_resume_from_a_truncated_backup_model_is_refused_naming_the_file(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        _backed_up_fit(tmp_path, epochs=3, interrupt_at=1)
    backup = tmp_path / json.loads((tmp_path / "training.json").read_text())["model"]
    backup.write_bytes(backup.read_bytes()[:-100])
    with pytest.raises(ValueError, match=str(backup.name)):
        _backed_up_fit(tmp_path, epochs=3)


@pytest.mark.parametrize("pointer", ["", "{not json", '{"epoch": 0}', '{"epoch": 0, "model": "../x.rnnkit", '
                                     '"random_state": {}}'])
def test_resume_from_a_pointer_that_is_not_a_backup_record_is_refused_naming_it(tmp_path, pointer):
    (tmp_path / "training.json").write_text(pointer)
    with pytest.raises(ValueError, match="training.json is not a backup record written by BackupAndRestore"):
        _backed_up_fit(tmp_path, epochs=1)


def _fit_with_scored_epochs(backup_dir, monitor_callback, scores, interrupt_at=None):
    """Fits len(scores) epochs with a backup; epoch i logs `score` = scores[i] for `monitor_callback`
    (which watches it). Returns the model."""
    rnnkit.utils.set_random_seed(0)
    model = rnnkit.Sequential([rnnkit.Input((2, 1)), rnnkit.layers.SimpleRNN(2), rnnkit.layers.Dense(1)])
    model.compile(optimizer=rnnkit.optimizers.SGD(learning_rate=0.1), loss="mse")
    score = rnnkit.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: logs.__setitem__("score", scores[epoch]))
    callbacks = [rnnkit.callbacks.BackupAndRestore(backup_dir), score, monitor_callback]
    if interrupt_at is not None:
        callbacks.append(_StopAtEpoch(interrupt_at))
    x = np.random.default_rng(0).standard_normal((8, 2, 1)).astype("float32")
    model.fit(x, x[:, -1], epochs=len(scores), batch_size=4, verbose=0, callbacks=callbacks)
    return model


def test_resume_gives_early_stopping_back_its_best_weights_from_before_the_interruption(tmp_path):
    scores = [3.0, 1.0, 2.0, 2.5]  # the best epoch comes before the interruption

    def early_stopping():
        return rnnkit.callbacks.EarlyStopping(monitor="score", mode="min", patience=10, restore_best_weights=True)

    expected = _fit_with_scored_epochs(tmp_path / "plain", early_stopping(), scores).get_weights()
    with pytest.raises(KeyboardInterrupt):
        _fit_with_scored_epochs(tmp_path / "backup", early_stopping(), scores, interrupt_at=2)
    resumed = _fit_with_scored_epochs(tmp_path / "backup", early_stopping(), scores).get_weights()
    for got, want in zip(resumed, expected):
        np.testing.assert_array_equal(got, want)


def test_resume_gives_reduce_lr_on_plateau_back_its_patience_count_and_the_reduced_rate(tmp_path):
    scores = [1.0, 2.0, 2.0, 2.0, 2.0, 2.0]  # patience 2: reduced after epochs 2 and 4 (0-based)

    def final_rate(backup_dir, interrupt_at=None):
        reduce = rnnkit.callbacks.ReduceLROnPlateau(monitor="score", mode="min", factor=0.5, patience=2)
        model = _fit_with_scored_epochs(backup_dir, reduce, scores, interrupt_at)
        return float(model.optimizer.learning_rate)

    assert final_rate(tmp_path / "plain") == pytest.approx(0.025)
    with pytest.raises(KeyboardInterrupt):
        final_rate(tmp_path / "backup", interrupt_at=4)
    assert final_rate(tmp_path / "backup") == pytest.approx(0.025)


def test_resume_from_a_damaged_callbacks_state_file_is_refused_naming_it(tmp_path):
    early_stopping = rnnkit.callbacks.EarlyStopping(monitor="score", mode="min", restore_best_weights=True)
    with pytest.raises(KeyboardInterrupt):
        _fit_with_scored_epochs(tmp_path, early_stopping, [2.0, 1.0, 0.5], interrupt_at=2)
    arrays = tmp_path / json.loads((tmp_path / "training.json").read_text())["callback_arrays"]
    arrays.write_bytes(arrays.read_bytes()[:-9])
    with pytest.raises(ValueError, match=f"cannot read the callbacks' state in .*{arrays.name}"):
        _fit_with_scored_epochs(tmp_path, early_stopping, [2.0, 1.0, 0.5])
