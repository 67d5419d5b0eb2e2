"""Training that diverges (the loss turns NaN or inf) stops with a message naming the epoch and
batch, and the checkpoints keep the last good weights instead of being overwritten with NaN."""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import rnnkit  # noqa: E402

DIVERGING_EPOCH = 2  # 0-based: epochs 0 and 1 train normally


def _fit_until_divergence(callbacks, epochs=4):
    """Fits a small regression model whose learning rate becomes absurd at DIVERGING_EPOCH, so that
    its loss overflows there; returns (model, history)."""
    rnnkit.utils.set_random_seed(0)
    x = np.random.default_rng(0).standard_normal((32, 4, 2)).astype("float32")
    y = x.sum(axis=(1, 2))[:, None]
    model = rnnkit.Sequential([rnnkit.Input((4, 2)), rnnkit.layers.SimpleRNN(4), rnnkit.layers.Dense(1)])
    model.compile(optimizer=rnnkit.optimizers.SGD(learning_rate=0.01), loss="mse")

    def explode(epoch, logs):
        if epoch == DIVERGING_EPOCH:
            model.optimizer.learning_rate = 1e30

    history = model.fit(x, y, batch_size=8, epochs=epochs, verbose=0,
                        callbacks=[rnnkit.callbacks.LambdaCallback(on_epoch_begin=explode), *callbacks])
    return model, history


def _all_finite(weights):
    return all(np.isfinite(w).all() for w in weights)


def test_terminate_on_nan_stops_in_the_diverging_epoch_and_names_its_epoch_and_batch(capsys):
    model, history = _fit_until_divergence([rnnkit.callbacks.TerminateOnNaN()])
    assert len(history.history["loss"]) == DIVERGING_EPOCH + 1
    out = capsys.readouterr().out
    assert f"in epoch {DIVERGING_EPOCH + 1}, batch " in out
    assert "terminating training" in out


def test_model_checkpoint_keeps_the_last_good_file_and_says_where_it_is(tmp_path, capsys):
    checkpoint = rnnkit.callbacks.ModelCheckpoint(str(tmp_path / "model-{epoch}.rnnkit"), monitor="loss")
    _fit_until_divergence([rnnkit.callbacks.TerminateOnNaN(), checkpoint])
    saved = sorted(os.listdir(tmp_path))
    assert saved == [f"model-{epoch}.rnnkit" for epoch in range(1, DIVERGING_EPOCH + 1)]
    last_good = tmp_path / f"model-{DIVERGING_EPOCH}.rnnkit"
    assert _all_finite(rnnkit.load_model(last_good).get_weights())
    out = capsys.readouterr().out
    assert f"Epoch {DIVERGING_EPOCH + 1}: ModelCheckpoint not saving" in out
    assert f"the last good checkpoint is {last_good}" in out


def test_model_checkpoint_to_one_path_is_not_overwritten_with_nan_weights(tmp_path):
    path = tmp_path / "best.rnnkit"
    _fit_until_divergence([rnnkit.callbacks.TerminateOnNaN(), rnnkit.callbacks.ModelCheckpoint(str(path))])
    assert _all_finite(rnnkit.load_model(path).get_weights())


def test_model_checkpoint_without_terminate_on_nan_saves_nothing_after_divergence(tmp_path):
    checkpoint = rnnkit.callbacks.ModelCheckpoint(str(tmp_path / "model-{epoch}.rnnkit"), monitor="loss")
    model, history = _fit_until_divergence([checkpoint], epochs=4)
    assert not np.isfinite(history.history["loss"][-1])
    assert sorted(os.listdir(tmp_path)) == [f"model-{epoch}.rnnkit" for epoch in range(1, DIVERGING_EPOCH + 1)]


def test_backup_and_restore_keeps_the_last_good_backup_and_says_where_it_is(tmp_path, capsys):
    backup_dir = tmp_path / "backup"
    _fit_until_divergence([rnnkit.callbacks.TerminateOnNaN(), rnnkit.callbacks.BackupAndRestore(backup_dir)])
    record = json.loads((backup_dir / "training.json").read_text())
    assert record["epoch"] == DIVERGING_EPOCH - 1
    assert _all_finite(rnnkit.load_model(backup_dir / record["model"]).get_weights())
    out = capsys.readouterr().out
    assert f"it keeps the backup of epoch {DIVERGING_EPOCH} in {backup_dir}" in out


def test_backup_and_restore_keeps_the_backup_of_a_run_that_diverged_without_being_stopped(tmp_path):
    backup_dir = tmp_path / "backup"
    _fit_until_divergence([rnnkit.callbacks.BackupAndRestore(backup_dir)])
    assert json.loads((backup_dir / "training.json").read_text())["epoch"] == DIVERGING_EPOCH - 1


def test_terminate_on_nan_with_raise_error_leaves_the_last_good_backup(tmp_path):
    backup_dir = tmp_path / "backup"
    with pytest.raises(RuntimeError, match=f"NaN or Inf loss encountered in epoch {DIVERGING_EPOCH + 1}"):
        _fit_until_divergence([rnnkit.callbacks.TerminateOnNaN(raise_error=True),
                               rnnkit.callbacks.BackupAndRestore(backup_dir)])
    assert json.loads((backup_dir / "training.json").read_text())["epoch"] == DIVERGING_EPOCH - 1


def test_backup_is_removed_when_early_stopping_ends_the_run(tmp_path):
    x = np.random.default_rng(0).standard_normal((16, 4, 2)).astype("float32")
    model = rnnkit.Sequential([rnnkit.Input((4, 2)), rnnkit.layers.LSTM(3), rnnkit.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    backup = rnnkit.callbacks.BackupAndRestore(tmp_path)
    history = model.fit(x, x[:, -1, :1], epochs=20, verbose=0,
                        callbacks=[rnnkit.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0), backup])
    assert len(history.history["loss"]) < 20
    assert not os.path.exists(tmp_path / backup.POINTER)


def test_a_finished_run_leaves_no_empty_backup_folder(tmp_path):
    x = np.zeros((8, 4, 2), "float32")
    model = rnnkit.Sequential([rnnkit.Input((4, 2)), rnnkit.layers.GRU(2), rnnkit.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, x[:, -1, :1], epochs=2, verbose=0, callbacks=[rnnkit.callbacks.BackupAndRestore(tmp_path / "backup")])
    assert os.listdir(tmp_path) == []
