"""RunDirectory: the files of a training run, written atomically, and the resume guard."""
import csv
import json
import os

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import layers
from rnnkit.tasks import RunDirectory


def small_model():
    model = rnnkit.Sequential([rnnkit.Input((4, 1)), layers.SimpleRNN(3), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def test_metrics_json_converts_numpy_values_and_writes_nan_as_null(tmp_path):
    run = RunDirectory(tmp_path / "run")
    run.write_metrics({"rmse": np.float32(0.5), "count": np.int64(3), "bad": float("nan"), "per": np.arange(2)})
    with open(run.file("metrics.json")) as f:
        assert json.load(f) == {"rmse": 0.5, "count": 3, "bad": None, "per": [0, 1]}


def test_history_csv_has_one_row_per_epoch(tmp_path):
    run = RunDirectory(tmp_path)
    run.write_history({"loss": [1.0, 0.5], "val_loss": [1.5, 0.75]})
    with open(run.file("history.csv")) as f:
        assert list(csv.reader(f)) == [["epoch", "loss", "val_loss"], ["1", "1.0", "1.5"], ["2", "0.5", "0.75"]]


def test_interrupted_run_is_refused_without_resume_and_continued_with_it(tmp_path):
    x = np.random.default_rng(0).standard_normal((16, 4, 1)).astype("float32")
    y = x[:, -1]
    run = RunDirectory(tmp_path)
    model = small_model()

    class Interrupt(rnnkit.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=4, verbose=0, callbacks=run.training_callbacks() + [Interrupt()])
    assert run.has_unfinished_run()
    with pytest.raises(ValueError, match="holds an unfinished training run .* pass --resume"):
        RunDirectory(tmp_path)
    resumed = RunDirectory(tmp_path, resume=True)
    history = small_model().fit(x, y, epochs=4, verbose=0, callbacks=resumed.training_callbacks())
    assert len(history.history["loss"]) == 2
    assert not resumed.has_unfinished_run()
    with open(resumed.file("history.csv")) as f:
        rows = list(csv.reader(f))
    assert [row[0] for row in rows] == ["epoch", "1", "2", "3", "4"]
    assert [float(row[1]) for row in rows[3:]] == history.history["loss"]
    assert len(resumed.whole_history(history)["loss"]) == 4


def test_a_diverged_model_is_not_saved_and_the_previous_file_stays(tmp_path):
    run = RunDirectory(tmp_path)
    model = small_model()
    model.predict(np.zeros((1, 4, 1), "float32"), verbose=0)
    run.save_model(model)
    before = (tmp_path / "model.rnnkit").read_bytes()
    with torch.no_grad():
        model.layers[-1].kernel.fill_(float("nan"))
    with pytest.raises(ValueError, match="training diverged: the model's weights hold NaN or inf"):
        run.save_model(model)
    assert (tmp_path / "model.rnnkit").read_bytes() == before


def test_resume_without_an_unfinished_run_is_refused(tmp_path):
    with pytest.raises(ValueError, match="nothing to resume"):
        RunDirectory(tmp_path, resume=True)


def test_an_output_path_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        RunDirectory(tmp_path / "f")


def test_saved_model_and_plot_land_in_the_folder(tmp_path):
    run = RunDirectory(tmp_path)
    model = small_model()
    history = model.fit(np.zeros((8, 4, 1), "float32"), np.zeros((8, 1), "float32"), epochs=1, verbose=0)
    run.save_model(model)
    run.plot_history(history)
    assert sorted(os.listdir(tmp_path)) == ["history.png", "model.rnnkit"]


def test_training_callbacks_write_history_csv_after_every_epoch(tmp_path):
    run = RunDirectory(tmp_path)
    seen = []
    probe = rnnkit.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(open(run.file("history.csv")).read().count("\n")))
    small_model().fit(np.zeros((8, 4, 1), "float32"), np.zeros((8, 1), "float32"), epochs=3, verbose=0,
                      callbacks=run.training_callbacks() + [probe])
    assert seen == [2, 3, 4]
