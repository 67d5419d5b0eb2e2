"""Progress display: Keras 3's lines for verbose 1 and 2, silence for 0, "auto", and throttled redraws."""
import re
import sys

import pytest
import torch

from rnnkit.train import progress as P
from rnnkit.train.callbacks import CallbackList


class FakeClock:
    """Drives `progress._clock`: each batch of the fake loop advances it by `step` seconds."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(P, "_clock", fake)
    return fake


def fit(verbose, epochs=2, steps=32, clock=None, step_seconds=0.012, batch_logs=None, epoch_logs=None):
    """Plays fit's calls on a CallbackList with a progress bar; batch loss is the running mean."""
    callback_list = CallbackList(add_progbar=True, verbose=verbose, epochs=epochs, steps=steps)
    callback_list.on_train_begin()
    for epoch in range(epochs):
        callback_list.on_epoch_begin(epoch)
        for batch in range(steps):
            callback_list.on_train_batch_begin(batch)
            if clock is not None:
                clock.now += step_seconds
            logs = batch_logs(batch) if batch_logs else {"loss": 0.1234, "accuracy": 0.95}
            callback_list.on_train_batch_end(batch, logs)
        # validation runs inside fit: the progress bar must stay silent
        callback_list.on_test_begin()
        callback_list.on_test_batch_end(0, {"loss": 9.0})
        callback_list.on_test_end({"loss": 0.2})
        callback_list.on_epoch_end(epoch, epoch_logs or {"loss": 0.1234, "accuracy": 0.95, "val_loss": 0.2})
    callback_list.on_train_end()
    return callback_list


def test_resolve_verbose_auto_is_2_when_stdout_is_not_a_terminal(monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False, raising=False)
    assert P.resolve_verbose("auto") == 2


def test_resolve_verbose_auto_is_1_on_a_terminal(monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    assert P.resolve_verbose("auto") == 1


@pytest.mark.parametrize("verbose", [0, 1, 2])
def test_resolve_verbose_keeps_0_1_2(verbose):
    assert P.resolve_verbose(verbose) == verbose


@pytest.mark.parametrize("verbose", [3, -1, "loud", None, 1.5])
def test_resolve_verbose_rejects_other_values(verbose):
    with pytest.raises(ValueError, match="Expected verbose to be 0, 1, 2 or 'auto', got verbose="):
        P.resolve_verbose(verbose)


def test_verbose_1_prints_the_epoch_line_then_a_bar_with_time_per_step_and_metrics(capsys, clock):
    fit(1, clock=clock)
    out = capsys.readouterr().out
    lines = out.split("\n")
    assert lines[0] == "Epoch 1/2"
    final = lines[1].split("\r")[-1]
    assert final == "32/32 ━━━━━━━━━━━━━━━━━━━━ 0s 12ms/step - loss: 0.1234 - accuracy: 0.9500 - val_loss: 0.2000"
    assert lines[2] == "Epoch 2/2"
    assert lines[3].split("\r")[-1] == final
    assert lines[4] == ""


def test_verbose_1_redraws_in_place_with_an_eta_while_running(capsys, clock):
    fit(1, epochs=1, steps=100, clock=clock, step_seconds=0.125)
    draws = capsys.readouterr().out.split("\r")[1:]
    assert draws[0].startswith("  1/100 ────────────────────")
    middle = next(d for d in draws if d.startswith(" 50/100"))
    assert re.match(r" 50/100 ━━━━━━━━━━────────── 6s 125ms/step - loss: 0.1234 - accuracy: 0.9500 *$", middle)
    assert draws[-1].endswith("\n") and draws[-1].count("\n") == 1


def test_verbose_1_is_throttled_to_one_redraw_per_interval(capsys, clock):
    fit(1, epochs=1, steps=1000, clock=clock, step_seconds=0.001)  # one second of batches
    redraws = capsys.readouterr().out.count("\r")
    assert 10 <= redraws <= 12  # one every 0.1 s, plus the first and the final one


def test_verbose_1_redraws_far_fewer_times_than_batches_on_fast_batches(capsys):
    fit(1, epochs=1, steps=1000)
    assert capsys.readouterr().out.count("\r") < 50


def test_verbose_1_reads_batch_tensors_only_when_it_redraws(capsys, clock):
    class CountedLoss:
        reads = 0

        def __float__(self):
            CountedLoss.reads += 1
            return 0.5

    loss = CountedLoss()
    fit(1, epochs=1, steps=1000, clock=clock, step_seconds=0.001, batch_logs=lambda batch: {"loss": loss})
    redraws = capsys.readouterr().out.count("\r")
    assert CountedLoss.reads == redraws - 1  # the final draw shows the epoch logs


def test_verbose_1_shows_0d_tensor_values(capsys, clock):
    fit(1, epochs=1, steps=2, clock=clock, batch_logs=lambda batch: {"loss": torch.tensor(0.25)})
    assert " - loss: 0.2500" in capsys.readouterr().out.split("\r")[1]


def test_verbose_2_prints_one_line_per_epoch(capsys, clock):
    fit(2, clock=clock, step_seconds=0.5)
    assert capsys.readouterr().out == (
        "Epoch 1/2\n32/32 - 16s - 500ms/step - loss: 0.1234 - accuracy: 0.9500 - val_loss: 0.2000\n"
        "Epoch 2/2\n32/32 - 16s - 500ms/step - loss: 0.1234 - accuracy: 0.9500 - val_loss: 0.2000\n"
    )


def test_verbose_0_prints_nothing(capsys):
    fit(0)
    assert capsys.readouterr().out == ""


def test_a_single_epoch_has_no_epoch_line(capsys):
    fit(2, epochs=1)
    assert not capsys.readouterr().out.startswith("Epoch")


def test_small_values_are_shown_in_scientific_notation(capsys):
    fit(2, epochs=1, steps=1, epoch_logs={"loss": 1.5e-5, "accuracy": -0.5})
    assert capsys.readouterr().out.endswith(" - loss: 1.5000e-05 - accuracy: -0.5000\n")


def test_unknown_steps_count_up_then_become_the_target_of_the_next_epochs(capsys, clock):
    fit(1, epochs=2, steps=5, clock=clock, step_seconds=0.2)
    callback_list = CallbackList(add_progbar=True, verbose=1, epochs=2, steps=None)
    capsys.readouterr()
    callback_list.on_train_begin()
    for epoch in range(2):
        callback_list.on_epoch_begin(epoch)
        for batch in range(5):
            clock.now += 0.2
            callback_list.on_train_batch_end(batch, {"loss": 1.0})
        callback_list.on_epoch_end(epoch, {"loss": 1.0})
    out = capsys.readouterr().out
    first, second = out.split("Epoch 2/2\n")
    assert "      1/Unknown 0s 200ms/step - loss: 1.0000" in first
    assert first.split("\r")[-1].startswith("5/5 ━━━━━━━━━━━━━━━━━━━━ 1s")
    assert second.split("\r")[1].startswith("1/5 ━━━━────────────────")


def test_a_shorter_redraw_blanks_the_rest_of_the_longer_one(capsys, clock):
    bar = P.ProgressBar(target=10, verbose=1)
    clock.now += 1
    bar.update(1, {"loss": 1.0, "accuracy": 0.5})
    clock.now += 1
    bar.update(2, {"loss": 1.0})
    first, second = capsys.readouterr().out.split("\r")[1:]
    assert len(second) == len(first)
    assert second.endswith(" " * len(" - accuracy: 0.5000"))


def test_the_bar_is_colored_only_on_a_terminal(capsys, monkeypatch, clock):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    bar = P.ProgressBar(target=2, verbose=1)
    bar.update(1, {"loss": 1.0})
    assert "\x1b[32m━━━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━\x1b[0m" in capsys.readouterr().out


def test_evaluate_outside_fit_shows_its_own_bar(capsys, clock):
    callback_list = CallbackList(add_progbar=True, verbose=2, steps=4)
    callback_list.on_test_begin()
    for batch in range(4):
        clock.now += 0.25
        callback_list.on_test_batch_end(batch, {"loss": 0.5})
    callback_list.on_test_end({"loss": 0.5, "accuracy": 0.75})
    assert capsys.readouterr().out == "4/4 - 1s - 250ms/step - loss: 0.5000 - accuracy: 0.7500\n"


def test_predict_shows_a_bar_without_metrics(capsys, clock):
    callback_list = CallbackList(add_progbar=True, verbose=1, steps=3)
    callback_list.on_predict_begin()
    for batch in range(3):
        clock.now += 0.002
        callback_list.on_predict_batch_end(batch, {"outputs": 1.0})
    callback_list.on_predict_end()
    assert capsys.readouterr().out.split("\r")[-1] == "3/3 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step\n"


def test_progbar_logger_takes_verbose_from_fit_params_when_not_given(capsys):
    logger = P.ProgbarLogger()
    CallbackList([logger], verbose=0, epochs=2, steps=3)
    assert logger.verbose == 0
    assert P.ProgbarLogger(verbose=2).verbose == 2
