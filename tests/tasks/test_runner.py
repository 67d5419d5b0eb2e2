"""TaskRunner: the skeleton the five tasks share (seed, run folder, callbacks, timed fit, divergence
check, files)."""
import csv
import json
import os

import numpy as np
import pytest

import rnnkit
from rnnkit import layers
from rnnkit.tasks import TaskRunner, train_rows


def small_model(learning_rate=0.01):
    """A small regression model; an absurd learning rate makes its loss overflow in the first epoch."""
    model = rnnkit.Sequential([rnnkit.Input((4, 1)), layers.SimpleRNN(3), layers.Dense(1)])
    model.compile(optimizer=rnnkit.optimizers.SGD(learning_rate=learning_rate), loss="mse")
    return model


def data():
    x = np.random.default_rng(0).standard_normal((16, 4, 1)).astype("float32")
    return x, 10 * x[:, -1]


def test_the_seed_makes_the_model_built_after_the_runner_the_same():
    TaskRunner(None, seed=7)
    first = small_model().get_weights()
    TaskRunner(None, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip(first, small_model().get_weights()))


def test_fit_times_the_training_and_finish_writes_the_files_with_metrics_last(tmp_path):
    runner = TaskRunner(tmp_path / "run", seed=0)
    model = small_model()
    history = runner.fit(model, *data(), epochs=2, verbose=0)
    assert runner.seconds > 0
    drawn = []
    files = runner.finish(model, history, {"train_seconds": runner.seconds}, title="t",
                          plots={"extra": ("extra.png", lambda path: drawn.append(path))})
    assert list(files) == ["model", "metrics", "history", "history_plot", "extra"]
    assert drawn == [str(tmp_path / "run" / "extra.png")]
    for key in ("model", "metrics", "history", "history_plot"):
        assert os.path.getsize(files[key]) > 0
    with open(files["metrics"]) as f:
        assert json.load(f) == {"train_seconds": runner.seconds}
    # metrics.json marks a finished run: it is written after everything else
    assert os.path.getmtime(files["metrics"]) >= max(os.path.getmtime(files[key]) for key in ("model", "history"))


def test_the_tasks_callbacks_run_first_so_that_history_csv_records_what_they_add_to_the_logs(tmp_path):
    class AddsToLogs(rnnkit.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["double_loss"] = 2 * logs["loss"]

    runner = TaskRunner(tmp_path, seed=0)
    runner.fit(small_model(), *data(), epochs=2, verbose=0, callbacks=[AddsToLogs()])
    with open(tmp_path / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [float(row["double_loss"]) for row in rows] == [2 * float(row["loss"]) for row in rows]


def test_without_a_folder_nothing_is_written_and_finish_returns_no_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = TaskRunner(None)
    model = small_model()
    history = runner.fit(model, *data(), epochs=1, verbose=0)
    assert runner.finish(model, history, {"a": 1}, title="t") == {}
    assert runner.file("model.rnnkit") is None and not runner.writes
    assert os.listdir(tmp_path) == []


def test_a_diverged_fit_without_a_folder_is_refused_naming_the_loss_and_the_epoch(capsys):
    with pytest.raises(ValueError, match=r"training diverged: the loss became (nan|inf) in epoch 1\. Lower the "):
        TaskRunner(None).fit(small_model(1e30), *data(), batch_size=4, epochs=3, verbose=0)
    assert "terminating training" in capsys.readouterr().out  # TerminateOnNaN stopped it in the first epoch


def test_a_diverged_fit_into_a_folder_writes_no_model_and_says_so(tmp_path):
    runner = TaskRunner(tmp_path, seed=0)
    with pytest.raises(ValueError, match=r"training diverged: the loss became .* so .*model\.rnnkit was not written"):
        runner.fit(small_model(1e30), *data(), batch_size=4, epochs=3, verbose=0)
    assert not (tmp_path / "model.rnnkit").exists()
    assert not (tmp_path / "metrics.json").exists()


def test_a_task_that_diverges_is_refused_before_its_model_and_metrics_are_written(tmp_path):
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 255, (24, 5, 4)).astype(np.uint8), np.arange(24) % 2
    # 1e38: the updated weights' products overflow float32 (at 1e30 the gates merely saturate and the
    # loss stays finite, in the PyTorch-op kernels as in the compiled ones).
    with pytest.raises(ValueError, match=r"training diverged: the loss became nan in epoch 1, so .*model\.rnnkit"):
        train_rows(images[:16], labels[:16], images[16:], labels[16:], recipe="lstm", epochs=3, batch_size=8,
                   learning_rate=1e38, out=tmp_path / "run", verbose=0)
    assert os.listdir(tmp_path / "run") == ["history.csv"]  # the curve up to the divergence, nothing else


@pytest.mark.parametrize("kwargs, message", [
    ({"out": 5}, r"^out must be a folder path \(str or os\.PathLike\) or None, got 5 \(int\)\.$"),
    ({"out": None, "resume": "no"}, r"^resume must be True or False, got 'no' \(str\)\.$"),
], ids=["out", "resume"])
def test_the_runner_refuses_an_out_or_resume_of_the_wrong_type_naming_it(kwargs, message):
    with pytest.raises(TypeError, match=message):
        TaskRunner(**kwargs)


def test_check_converged_refuses_a_history_that_is_not_one():
    from rnnkit.tasks.outputs import check_converged

    with pytest.raises(TypeError, match=r"^history must be a History, a dict of lists or None, got list\.$"):
        check_converged(small_model(), [1.0, float("nan")])


@pytest.mark.parametrize("argument, value, message", [
    ("model", None, r"^finish: model must be an rnnkit Model, got NoneType\.$"),
    ("history", None, r"^finish: history must be the History that fit returned \(or its dict of lists\), "
                      r"got NoneType\.$"),
    ("metrics", [0.5], r"^finish: metrics must be a dict of the run's results, got list\.$"),
    ("title", 3, r"^finish: title must be a string, got int\.$"),
    ("plots", {"extra": "extra.png"}, r"^finish: plots must be a dict of \{key: \(file name, function drawing"),
], ids=["model", "history", "metrics", "title", "plots"])
def test_finish_refuses_an_argument_of_the_wrong_kind_naming_it_before_writing(argument, value, message, tmp_path):
    runner = TaskRunner(tmp_path / "run", seed=0)
    model = small_model()
    history = runner.fit(model, *data(), epochs=1, verbose=0)
    arguments = {"model": model, "history": history, "metrics": {}, "title": "t", "plots": None, argument: value}
    with pytest.raises(TypeError, match=message):
        runner.finish(arguments.pop("model"), arguments.pop("history"), arguments.pop("metrics"), **arguments)
    assert not os.path.exists(tmp_path / "run" / "model.rnnkit")
