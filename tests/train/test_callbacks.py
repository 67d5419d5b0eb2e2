"""Callbacks: hook dispatch, History, and each Keras callback on scripted logs with a fake model
(EarlyStopping and ReduceLROnPlateau also checked against Keras 3's own on the same sequences)."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import csv  # noqa: E402
import doctest  # noqa: E402
import importlib  # noqa: E402
import math  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import rnnkit  # noqa: E402
from rnnkit.train import callbacks as C  # noqa: E402
from rnnkit.train.optimizers import get_optimizer  # noqa: E402
from rnnkit.train.progress import ProgbarLogger  # noqa: E402


class FakeOptimizer:
    def __init__(self, learning_rate=0.01):
        self.learning_rate = learning_rate


class FakeModel:
    """What callbacks may use of a model: stop_training, optimizer, weights, save functions."""

    def __init__(self, optimizer=None):
        self.stop_training = False
        self.optimizer = optimizer if optimizer is not None else FakeOptimizer()
        self.weights = [np.zeros((2, 2)), np.zeros(2)]
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]

    def save(self, path):
        self.saved.append(("save", path))

    def save_weights(self, path):
        self.saved.append(("save_weights", path))


def fit(callbacks, epoch_logs, model=None, steps=1, batch_logs=None):
    """Plays a fit loop: epoch i sets the weights to i and ends with epoch_logs[i]; stops like fit does.
    Returns (model, number of epochs run)."""
    model = model or FakeModel()
    callback_list = C.CallbackList(callbacks, model=model, add_history=True, epochs=len(epoch_logs), steps=steps)
    callback_list.on_train_begin()
    epochs_run = 0
    for epoch, logs in enumerate(epoch_logs):
        callback_list.on_epoch_begin(epoch)
        for batch in range(steps):
            callback_list.on_train_batch_begin(batch)
            callback_list.on_train_batch_end(batch, batch_logs[batch] if batch_logs else {"loss": 1.0})
        model.weights = [np.full((2, 2), float(epoch)), np.full(2, float(epoch))]
        callback_list.on_epoch_end(epoch, dict(logs))
        epochs_run += 1
        if model.stop_training:
            break
    callback_list.on_train_end()
    return model, epochs_run


def weights_epoch(model):
    return model.weights[0][0, 0]


class Recorder(C.Callback):
    def __init__(self, name, events):
        super().__init__()
        self.name = name
        self.events = events

    def __getattribute__(self, attribute):
        if attribute.startswith("on_") and attribute in C.HOOKS:
            events = object.__getattribute__(self, "events")
            name = object.__getattribute__(self, "name")
            return lambda *args: events.append((name, attribute) + args[:-1])
        return object.__getattribute__(self, attribute)


# ------------------------------------------------------------------------------------- CallbackList
def test_callback_list_calls_every_hook_on_each_callback_in_order():
    events = []
    callback_list = C.CallbackList([Recorder("a", events), Recorder("b", events)])
    callback_list.on_train_begin()
    callback_list.on_epoch_begin(0)
    callback_list.on_train_batch_begin(0)
    callback_list.on_train_batch_end(0, {"loss": 1.0})
    callback_list.on_test_begin()
    callback_list.on_test_batch_begin(0)
    callback_list.on_test_batch_end(0)
    callback_list.on_test_end()
    callback_list.on_epoch_end(0, {"loss": 1.0})
    callback_list.on_train_end()
    callback_list.on_predict_begin()
    callback_list.on_predict_batch_begin(0)
    callback_list.on_predict_batch_end(0)
    callback_list.on_predict_end()
    hooks = ["on_train_begin", ("on_epoch_begin", 0), ("on_train_batch_begin", 0), ("on_train_batch_end", 0),
             "on_test_begin", ("on_test_batch_begin", 0), ("on_test_batch_end", 0), "on_test_end",
             ("on_epoch_end", 0), "on_train_end", "on_predict_begin", ("on_predict_batch_begin", 0),
             ("on_predict_batch_end", 0), "on_predict_end"]
    expected = []
    for hook in hooks:
        hook = hook if isinstance(hook, tuple) else (hook,)
        expected += [("a",) + hook, ("b",) + hook]
    assert events == expected


def test_callback_list_orders_given_callbacks_then_history_then_progress_bar():
    mine = C.Callback()
    callback_list = C.CallbackList([mine], add_history=True, add_progbar=True, verbose=0)
    kinds = [type(c) for c in callback_list.callbacks]
    assert kinds == [C.Callback, C.History, ProgbarLogger]
    assert callback_list.history is callback_list.callbacks[1]


def test_callback_list_keeps_a_given_history_instead_of_adding_one():
    history = C.History()
    callback_list = C.CallbackList([history], add_history=True)
    assert callback_list.callbacks == [history]
    assert callback_list.history is history


def test_callback_list_without_add_history_has_no_history():
    assert C.CallbackList([C.Callback()]).history is None


def test_callback_list_gives_model_and_params_to_every_callback():
    model = FakeModel()
    first, second = C.Callback(), C.Callback()
    callback_list = C.CallbackList([first, second], model=model, add_history=True, verbose=2, epochs=3, steps=7)
    for callback in callback_list.callbacks:
        assert callback.model is model
        assert callback.params == {"verbose": 2, "epochs": 3, "steps": 7}
    assert model.history is callback_list.history


def test_callback_list_rejects_objects_that_are_not_callbacks():
    with pytest.raises(TypeError, match="Callback instances, got function"):
        C.CallbackList([lambda logs: None])


def test_callback_list_turns_epoch_log_tensors_into_floats():
    seen = {}
    callback_list = C.CallbackList([C.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.update(logs))])
    callback_list.on_epoch_end(0, {"loss": torch.tensor(0.5), "accuracy": np.float32(0.25)})
    assert seen == {"loss": 0.5, "accuracy": 0.25}
    assert all(type(value) is float for value in seen.values())


def test_callback_list_passes_batch_logs_through_without_converting():
    seen = []
    callback_list = C.CallbackList([C.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(logs))])
    logs = {"loss": torch.tensor(0.5)}
    callback_list.on_train_batch_end(0, logs)
    assert seen[0] is logs


class OldBatchEnd(C.Callback):
    """Reads the batch logs through Keras's older hook name only."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_batch_end(self, batch, logs=None):
        self.seen.append(dict(logs))


def test_callback_list_reads_train_batch_logs_only_for_a_callback_with_its_own_batch_end_hook():
    assert not C.CallbackList([C.Callback()], add_history=True).reads_train_batch_logs
    assert C.CallbackList([OldBatchEnd()]).reads_train_batch_logs
    assert C.CallbackList([], add_progbar=True).reads_train_batch_logs


def test_callback_list_calls_a_callback_overriding_only_on_batch_begin_at_every_training_batch():
    seen = []

    class OldBatchBegin(C.Callback):
        def on_batch_begin(self, batch, logs=None):
            seen.append(batch)

    callback_list = C.CallbackList([OldBatchBegin(), C.Callback()], add_history=True)
    callback_list.on_train_batch_begin(0)
    callback_list.on_train_batch_begin(1)
    assert seen == [0, 1]


def test_fit_gives_the_batch_logs_to_a_callback_overriding_only_on_batch_end():
    model = rnnkit.Sequential([rnnkit.Input(shape=(3,)), rnnkit.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    callback = OldBatchEnd()
    model.fit(np.ones((4, 3), np.float32), np.ones((4, 1), np.float32), batch_size=2, verbose=0, callbacks=[callback])
    assert [sorted(logs) for logs in callback.seen] == [["loss"], ["loss"]]
    assert float(callback.seen[1]["loss"]) > 0


class RunsLast(Recorder):
    runs_last = True


def test_callback_list_calls_a_runs_last_callback_after_all_others_which_keep_their_order():
    events = []
    callback_list = C.CallbackList([RunsLast("last", events), Recorder("a", events), Recorder("b", events)],
                                   add_history=True)
    callback_list.on_epoch_end(0, {"loss": 1.0})
    assert [type(c) for c in callback_list.callbacks] == [Recorder, Recorder, C.History, RunsLast]
    assert events == [("a", "on_epoch_end", 0), ("b", "on_epoch_end", 0), ("last", "on_epoch_end", 0)]


def test_callback_list_gives_every_callback_the_others_through_set_siblings():
    class Siblings(C.Callback):
        def set_siblings(self, callbacks):
            self.siblings = callbacks

    first, second = Siblings(), Siblings()
    callback_list = C.CallbackList([first, second], add_history=True)
    assert first.siblings == [second, callback_list.history]
    assert second.siblings == [first, callback_list.history]


def test_callback_list_leaves_main_process_only_callbacks_and_the_progress_bar_out_of_other_processes(
        monkeypatch):
    monkeypatch.setattr(rnnkit.train.distributed, "is_main_process", lambda: False)
    everywhere = C.Callback()
    callback_list = C.CallbackList([everywhere, C.CSVLogger("unused.csv"), ProgbarLogger()], add_progbar=True)
    assert callback_list.callbacks == [everywhere]


def test_train_batch_hooks_call_the_older_batch_hooks_by_default():
    class Counting(C.Callback):
        begins = ends = 0

        def on_batch_begin(self, batch, logs=None):
            self.begins += 1

        def on_batch_end(self, batch, logs=None):
            self.ends += 1

    callback = Counting()
    fit([callback], [{"loss": 1.0}] * 2, steps=3)
    assert (callback.begins, callback.ends) == (6, 6)


# ------------------------------------------------------------------------------------------ History
def test_history_records_each_epoch_logs_as_lists_of_floats():
    history = C.History()
    fit([history], [{"loss": 1.0, "val_loss": 2.0}, {"loss": 0.5, "val_loss": 1.5}, {"loss": 0.25, "val_loss": 1.0}])
    assert history.history == {"loss": [1.0, 0.5, 0.25], "val_loss": [2.0, 1.5, 1.0]}
    assert history.epoch == [0, 1, 2]
    assert history.params == {"verbose": 1, "epochs": 3, "steps": 1}


def test_history_records_the_learning_rate_that_callbacks_add():
    history = C.History()
    fit([C.LearningRateScheduler(lambda epoch, lr: lr / 2), history], [{"loss": 1.0}] * 2,
        model=FakeModel(FakeOptimizer(0.4)))
    assert history.history["learning_rate"] == [0.2, 0.1]


# ------------------------------------------------------------------------------------ EarlyStopping
def test_early_stopping_stops_after_patience_epochs_without_improvement():
    losses = [1.0, 0.8, 0.9, 0.85, 0.95, 0.5]
    _, epochs_run = fit([C.EarlyStopping(patience=3)], [{"val_loss": v} for v in losses])
    assert epochs_run == 5


def test_early_stopping_with_zero_patience_stops_at_the_first_epoch_without_improvement():
    _, epochs_run = fit([C.EarlyStopping()], [{"val_loss": v} for v in [1.0, 0.9, 0.95, 0.5]])
    assert epochs_run == 3


def test_early_stopping_does_not_count_improvements_smaller_than_min_delta():
    losses = [1.0, 0.95, 0.91, 0.2]
    _, epochs_run = fit([C.EarlyStopping(min_delta=0.1, patience=2)], [{"val_loss": v} for v in losses])
    assert epochs_run == 3


def test_early_stopping_mode_auto_maximizes_accuracy():
    stopper = C.EarlyStopping(monitor="val_accuracy", patience=1)
    _, epochs_run = fit([stopper], [{"val_accuracy": v} for v in [0.5, 0.6, 0.7, 0.65, 0.9]])
    assert stopper.higher_is_better is True
    assert epochs_run == 4
    assert stopper.best == 0.7


def test_early_stopping_mode_auto_minimizes_losses_and_errors():
    for monitor in ["loss", "val_loss", "val_mean_absolute_error", "mse", "val_binary_crossentropy"]:
        assert C.EarlyStopping(monitor=monitor).higher_is_better is False


def test_early_stopping_mode_max_and_min_override_the_name():
    values = [{"loss": v} for v in [1.0, 2.0, 1.5, 3.0]]
    _, run_max = fit([C.EarlyStopping(monitor="loss", mode="max")], values)
    _, run_min = fit([C.EarlyStopping(monitor="loss", mode="min")], values)
    assert (run_max, run_min) == (3, 2)


def test_early_stopping_unknown_mode_warns_and_falls_back_to_auto():
    with pytest.warns(UserWarning, match="mode 'biggest' is unknown, fallback to auto mode"):
        stopper = C.EarlyStopping(monitor="val_accuracy", mode="biggest")
    assert stopper.mode == "auto" and stopper.higher_is_better is True


def test_early_stopping_mode_auto_on_an_unknown_name_asks_for_a_mode():
    with pytest.raises(ValueError, match="monitor='val_score'.*mode='min' or mode='max'"):
        C.EarlyStopping(monitor="val_score")


def test_early_stopping_warns_naming_the_available_keys_when_the_monitor_is_missing():
    with pytest.warns(UserWarning, match="`val_loss` which is not available. Available metrics are: loss,accuracy"):
        _, epochs_run = fit([C.EarlyStopping()], [{"loss": 1.0, "accuracy": 0.5}] * 3)
    assert epochs_run == 3


def test_early_stopping_counts_epochs_that_do_not_beat_the_baseline_toward_patience():
    logs = [{"val_loss": v} for v in [0.9, 0.8, 0.85, 0.9, 0.1]]
    _, with_baseline = fit([C.EarlyStopping(patience=3, baseline=0.5)], logs)
    _, without_baseline = fit([C.EarlyStopping(patience=3)], logs)
    assert (with_baseline, without_baseline) == (3, 5)


def test_early_stopping_resets_patience_only_on_values_that_beat_the_baseline():
    logs = [{"val_loss": v} for v in [0.4, 0.45, 0.3, 0.35, 0.36]]
    _, beaten = fit([C.EarlyStopping(patience=2, baseline=0.5)], logs)
    _, never_beaten = fit([C.EarlyStopping(patience=2, baseline=0.2)], logs)
    assert (beaten, never_beaten) == (5, 2)


def test_early_stopping_restores_the_best_weights_when_stopping():
    losses = [1.0, 0.5, 0.7, 0.8, 0.9]
    model, epochs_run = fit([C.EarlyStopping(patience=2, restore_best_weights=True)],
                            [{"val_loss": v} for v in losses])
    assert epochs_run == 4
    assert weights_epoch(model) == 1.0


def test_early_stopping_restores_the_best_weights_at_the_end_even_without_stopping():
    losses = [1.0, 0.5, 0.7, 0.8]
    model, epochs_run = fit([C.EarlyStopping(patience=10, restore_best_weights=True)],
                            [{"val_loss": v} for v in losses])
    assert epochs_run == 4
    assert weights_epoch(model) == 1.0


def test_early_stopping_without_restore_keeps_the_last_weights():
    model, _ = fit([C.EarlyStopping(patience=10)], [{"val_loss": v} for v in [1.0, 0.5, 0.7, 0.8]])
    assert weights_epoch(model) == 3.0


def test_early_stopping_keeps_copies_of_the_best_weights_not_views():
    class ViewModel(FakeModel):
        def get_weights(self):
            return self.weights  # the live arrays, as tensor.numpy() would give

    model = ViewModel()
    stopper = C.EarlyStopping(patience=5, restore_best_weights=True)
    callback_list = C.CallbackList([stopper], model=model)
    callback_list.on_train_begin()
    for epoch, loss in enumerate([0.5, 0.9]):
        for weight in model.weights:
            weight[...] = epoch  # training updates the arrays in place
        callback_list.on_epoch_end(epoch, {"val_loss": loss})
    callback_list.on_train_end()
    assert weights_epoch(model) == 0.0


def test_early_stopping_start_from_epoch_ignores_the_warm_up_epochs():
    losses = [0.1, 0.9, 0.8, 0.85, 0.9]
    stopper = C.EarlyStopping(patience=1, start_from_epoch=2)
    _, epochs_run = fit([stopper], [{"val_loss": v} for v in losses])
    assert epochs_run == 4
    assert stopper.best == 0.8


def test_early_stopping_verbose_prints_the_stop_and_the_restored_epoch(capsys):
    fit([C.EarlyStopping(patience=1, verbose=1, restore_best_weights=True)],
        [{"val_loss": v} for v in [1.0, 0.5, 0.7, 0.8]])
    assert capsys.readouterr().out == (
        "Epoch 3: early stopping\nRestoring model weights from the end of the best epoch: 2.\n")


def test_early_stopping_state_is_reset_for_a_second_fit():
    stopper = C.EarlyStopping(patience=1)
    fit([stopper], [{"val_loss": v} for v in [0.1, 0.2, 0.3]])
    _, epochs_run = fit([stopper], [{"val_loss": v} for v in [1.0, 0.9, 0.8]])
    assert epochs_run == 3


EARLY_STOPPING_CASES = [
    (dict(patience=2), [1.0, 0.9, 0.95, 0.92, 0.8]),
    (dict(patience=1, min_delta=0.05), [1.0, 0.97, 0.9, 0.88, 0.7]),
    (dict(patience=2, baseline=0.5), [0.9, 0.6, 0.55, 0.52, 0.4]),
    (dict(patience=1, restore_best_weights=True), [1.0, 0.4, 0.6, 0.3, 0.5, 0.7]),
    (dict(patience=0, start_from_epoch=2), [0.5, 0.9, 0.7, 0.8, 0.1]),
    (dict(patience=1, mode="max", restore_best_weights=True, baseline=0.9), [0.5, 0.6, 0.55, 0.7, 0.2]),
]


@pytest.mark.parametrize("kwargs, losses", EARLY_STOPPING_CASES)
def test_early_stopping_stops_and_restores_like_keras(kwargs, losses):
    import keras

    logs = [{"val_loss": v} for v in losses]
    ours, ours_run = fit([C.EarlyStopping(**kwargs)], logs)

    theirs = FakeModel()
    keras_stopper = keras.callbacks.EarlyStopping(**kwargs)
    keras_stopper.set_model(theirs)
    keras_stopper.on_train_begin()
    keras_run = 0
    for epoch, epoch_logs in enumerate(logs):
        theirs.weights = [np.full((2, 2), float(epoch)), np.full(2, float(epoch))]
        keras_stopper.on_epoch_end(epoch, dict(epoch_logs))
        keras_run += 1
        if theirs.stop_training:
            break
    keras_stopper.on_train_end()
    assert ours_run == keras_run
    assert weights_epoch(ours) == weights_epoch(theirs)


# ---------------------------------------------------------------------------------- ModelCheckpoint
def test_model_checkpoint_formats_the_epoch_and_logged_keys_into_the_filepath(tmp_path):
    pattern = str(tmp_path / "model-{epoch:02d}-{val_loss:.2f}.rnnkit")
    model, _ = fit([C.ModelCheckpoint(pattern)], [{"val_loss": 0.5}, {"val_loss": 0.25}])
    assert model.saved == [("save", str(tmp_path / "model-01-0.50.rnnkit")),
                           ("save", str(tmp_path / "model-02-0.25.rnnkit"))]


def test_model_checkpoint_save_best_only_saves_only_when_the_monitor_improves(tmp_path):
    pattern = str(tmp_path / "best-{epoch}.rnnkit")
    model, _ = fit([C.ModelCheckpoint(pattern, save_best_only=True)],
                   [{"val_loss": v} for v in [1.0, 0.8, 0.9, 0.7, 0.7]])
    assert [path for _, path in model.saved] == [str(tmp_path / f"best-{e}.rnnkit") for e in (1, 2, 4)]


def test_model_checkpoint_save_best_only_in_max_mode_for_accuracy(tmp_path):
    model, _ = fit([C.ModelCheckpoint(str(tmp_path / "{epoch}"), monitor="val_accuracy", save_best_only=True)],
                   [{"val_accuracy": v} for v in [0.5, 0.4, 0.6]])
    assert [os.path.basename(path) for _, path in model.saved] == ["1", "3"]


def test_model_checkpoint_initial_value_threshold_must_be_beaten_first(tmp_path):
    model, _ = fit([C.ModelCheckpoint(str(tmp_path / "{epoch}"), save_best_only=True, initial_value_threshold=0.6)],
                   [{"val_loss": v} for v in [0.9, 0.7, 0.5]])
    assert [os.path.basename(path) for _, path in model.saved] == ["3"]


def test_model_checkpoint_save_weights_only_calls_save_weights(tmp_path):
    model, _ = fit([C.ModelCheckpoint(str(tmp_path / "w.weights.h5"), save_weights_only=True)], [{"val_loss": 1.0}])
    assert model.saved == [("save_weights", str(tmp_path / "w.weights.h5"))]


def test_model_checkpoint_save_freq_saves_every_n_batches(tmp_path):
    pattern = str(tmp_path / "e{epoch}-b{batch}-{loss:.1f}.rnnkit")
    batch_logs = [{"loss": torch.tensor(0.5)}] * 3
    model, _ = fit([C.ModelCheckpoint(pattern, save_freq=2)], [{"loss": 0.5}] * 2, steps=3, batch_logs=batch_logs)
    assert [os.path.basename(path) for _, path in model.saved] == ["e1-b2-0.5.rnnkit", "e2-b1-0.5.rnnkit",
                                                                   "e2-b3-0.5.rnnkit"]


def test_model_checkpoint_creates_missing_parent_folders(tmp_path):
    fit([C.ModelCheckpoint(str(tmp_path / "a" / "b" / "m.rnnkit"))], [{"val_loss": 1.0}])
    assert (tmp_path / "a" / "b").is_dir()


def test_model_checkpoint_names_the_available_keys_when_the_filepath_asks_for_a_missing_one(tmp_path):
    with pytest.raises(KeyError, match="val_acc.* is not a logged key; available keys are: loss, epoch"):
        fit([C.ModelCheckpoint(str(tmp_path / "{val_acc:.2f}.rnnkit"))], [{"loss": 1.0}])


def test_model_checkpoint_save_best_only_warns_and_saves_when_the_monitor_is_missing(tmp_path):
    with pytest.warns(UserWarning, match="only with val_loss available.*Available metrics are: loss"):
        model, _ = fit([C.ModelCheckpoint(str(tmp_path / "m"), save_best_only=True)], [{"loss": 1.0}])
    assert len(model.saved) == 1


def test_model_checkpoint_verbose_prints_keras_messages(tmp_path, capsys):
    path = str(tmp_path / "m.rnnkit")
    fit([C.ModelCheckpoint(path, save_best_only=True, verbose=1)], [{"val_loss": 0.5}, {"val_loss": 0.6}])
    assert capsys.readouterr().out == (
        f"\nEpoch 1: val_loss improved from None to 0.50000, saving model to {path}\n"
        "\nEpoch 2: val_loss did not improve from 0.50000\n")


@pytest.mark.parametrize("save_freq", ["batch", 0, -3, 1.5, True])
def test_model_checkpoint_rejects_a_save_freq_that_is_not_epoch_or_a_positive_integer(save_freq):
    with pytest.raises(ValueError, match="save_freq to be 'epoch' or a positive integer"):
        C.ModelCheckpoint("m.rnnkit", save_freq=save_freq)


# -------------------------------------------------------------------------------- learning rates
def adam():
    return get_optimizer("adam", [torch.nn.Parameter(torch.zeros(3))])


def test_reduce_lr_on_plateau_multiplies_the_rate_by_factor_after_patience_epochs():
    model = FakeModel(adam())
    fit([C.ReduceLROnPlateau(factor=0.5, patience=2)], [{"val_loss": v} for v in [1.0, 1.0, 1.0, 1.0, 1.0]],
        model=model)
    assert model.optimizer.learning_rate == pytest.approx(0.00025)
    assert model.optimizer.param_groups[0]["lr"] == pytest.approx(0.00025)


def test_reduce_lr_on_plateau_never_goes_below_min_lr():
    model = FakeModel(adam())
    fit([C.ReduceLROnPlateau(factor=0.1, patience=1, min_lr=5e-5)], [{"val_loss": 1.0}] * 6, model=model)
    assert model.optimizer.learning_rate == pytest.approx(5e-5)


def test_reduce_lr_on_plateau_waits_cooldown_epochs_after_a_reduction():
    model = FakeModel(adam())
    rates = []
    record = C.LambdaCallback(on_epoch_end=lambda epoch, logs: rates.append(logs["learning_rate"]))
    fit([C.ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2), record], [{"val_loss": 1.0}] * 6, model=model)
    assert rates == pytest.approx([1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4])


def test_reduce_lr_on_plateau_min_delta_ignores_tiny_improvements():
    model = FakeModel(adam())
    fit([C.ReduceLROnPlateau(factor=0.5, patience=2, min_delta=0.01)],
        [{"val_loss": v} for v in [1.0, 0.999, 0.998]], model=model)
    assert model.optimizer.learning_rate == pytest.approx(5e-4)


def test_reduce_lr_on_plateau_works_on_a_plain_torch_optimizer():
    model = FakeModel(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1))
    fit([C.ReduceLROnPlateau(factor=0.5, patience=1)], [{"val_loss": 1.0}] * 2, model=model)
    assert model.optimizer.param_groups[0]["lr"] == pytest.approx(0.05)


def test_reduce_lr_on_plateau_rejects_a_factor_of_one_or_more():
    with pytest.raises(ValueError, match="factor >= 1.0"):
        C.ReduceLROnPlateau(factor=1.0)


def test_reduce_lr_on_plateau_verbose_prints_the_new_rate(capsys):
    fit([C.ReduceLROnPlateau(factor=0.5, patience=1, verbose=1)], [{"val_loss": 1.0}] * 2,
        model=FakeModel(FakeOptimizer(0.1)))
    assert capsys.readouterr().out == "\nEpoch 2: ReduceLROnPlateau reducing learning rate to 0.05.\n"


def test_reduce_lr_on_plateau_changes_the_rate_like_keras():
    import keras

    losses = [1.0, 0.9, 0.95, 0.95, 0.89, 0.95, 0.96, 0.97, 0.98, 0.99]
    kwargs = dict(factor=0.5, patience=2, cooldown=1, min_lr=0.02, min_delta=0.02)
    ours = FakeModel(FakeOptimizer(0.1))
    fit([C.ReduceLROnPlateau(**kwargs)], [{"val_loss": v} for v in losses], model=ours)
    theirs = FakeModel(FakeOptimizer(0.1))
    keras_reducer = keras.callbacks.ReduceLROnPlateau(**kwargs)
    keras_reducer.set_model(theirs)
    keras_reducer.on_train_begin()
    for epoch, loss in enumerate(losses):
        keras_reducer.on_epoch_end(epoch, {"val_loss": loss})
    assert ours.optimizer.learning_rate == pytest.approx(float(theirs.optimizer.learning_rate))


def test_learning_rate_scheduler_sets_the_rate_from_epoch_and_current_rate():
    model = FakeModel(adam())
    seen = []
    record = C.LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(model.optimizer.learning_rate))
    fit([C.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch >= 1 else lr), record], [{"loss": 1.0}] * 3,
        model=model)
    assert seen == pytest.approx([1e-3, 5e-4, 2.5e-4])
    assert model.optimizer.param_groups[0]["lr"] == pytest.approx(2.5e-4)


def test_learning_rate_scheduler_accepts_a_schedule_of_the_epoch_alone():
    model = FakeModel(adam())
    fit([C.LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))], [{"loss": 1.0}] * 4, model=model)
    assert model.optimizer.learning_rate == pytest.approx(0.025)


def test_learning_rate_scheduler_rejects_a_schedule_that_returns_no_number():
    with pytest.raises(ValueError, match="should be a float. Got: 'fast'"):
        fit([C.LearningRateScheduler(lambda epoch, lr: "fast")], [{"loss": 1.0}])


def test_learning_rate_scheduler_verbose_prints_the_rate(capsys):
    fit([C.LearningRateScheduler(lambda epoch, lr: 0.5, verbose=1)], [{"loss": 1.0}])
    assert capsys.readouterr().out == "\nEpoch 1: LearningRateScheduler setting learning rate to 0.5.\n"


# ---------------------------------------------------------------------------------------- CSVLogger
def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_csv_logger_writes_a_header_and_one_row_per_epoch(tmp_path):
    path = tmp_path / "log.csv"
    fit([C.CSVLogger(path)], [{"loss": 1.0, "val_loss": 2.0, "accuracy": 0.5}, {"loss": 0.5, "val_loss": 1.5,
                                                                                 "accuracy": 0.75}])
    assert read_rows(path) == [["epoch", "accuracy", "loss", "val_loss"], ["0", "0.5", "1.0", "2.0"],
                               ["1", "0.75", "0.5", "1.5"]]


def test_csv_logger_adds_na_validation_columns_when_the_first_epoch_has_none(tmp_path):
    path = tmp_path / "log.csv"
    fit([C.CSVLogger(path)], [{"loss": 1.0}, {"loss": 0.5, "val_loss": 0.7}])
    assert read_rows(path) == [["epoch", "loss", "val_loss"], ["0", "1.0", "NA"], ["1", "0.5", "0.7"]]


def test_csv_logger_append_adds_rows_without_a_second_header(tmp_path):
    path = tmp_path / "log.csv"
    fit([C.CSVLogger(path)], [{"loss": 1.0, "val_loss": 2.0}])
    fit([C.CSVLogger(path, append=True)], [{"loss": 0.5, "val_loss": 1.5}])
    assert read_rows(path) == [["epoch", "loss", "val_loss"], ["0", "1.0", "2.0"], ["0", "0.5", "1.5"]]


def test_csv_logger_without_append_overwrites(tmp_path):
    path = tmp_path / "log.csv"
    fit([C.CSVLogger(path)], [{"loss": 1.0, "val_loss": 2.0}])
    fit([C.CSVLogger(path)], [{"loss": 0.5, "val_loss": 1.5}])
    assert read_rows(path) == [["epoch", "loss", "val_loss"], ["0", "0.5", "1.5"]]


def test_csv_logger_flushes_each_row_before_training_ends(tmp_path):
    path = tmp_path / "log.csv"
    logger = C.CSVLogger(path, separator=";")
    callback_list = C.CallbackList([logger])
    callback_list.on_train_begin()
    callback_list.on_epoch_end(0, {"loss": torch.tensor(0.5), "val_loss": 0.25})
    assert path.read_text() == "epoch;loss;val_loss\n0;0.5;0.25\n"
    callback_list.on_train_end()


def test_csv_logger_interrupted_while_writing_leaves_the_previous_epochs_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "log.csv"
    callback_list = C.CallbackList([C.CSVLogger(path)])
    callback_list.on_train_begin()
    callback_list.on_epoch_end(0, {"loss": 0.5})
    before = path.read_text()

    def crash(descriptor):
        raise OSError("disk full")

    monkeypatch.setattr(rnnkit.files.os, "fsync", crash)  # the new file is written but never made durable
    with pytest.raises(OSError, match="disk full"):
        callback_list.on_epoch_end(1, {"loss": 0.25})
    assert path.read_text() == before
    assert os.listdir(tmp_path) == ["log.csv"]  # no temporary file left behind


# ----------------------------------------------------------------------------------- TerminateOnNaN
@pytest.mark.parametrize("loss", [math.nan, math.inf, torch.tensor(float("nan"))])
def test_terminate_on_nan_stops_training_when_the_batch_loss_is_not_finite(loss, capsys):
    model, epochs_run = fit([C.TerminateOnNaN()], [{"loss": 1.0}] * 3, steps=2,
                            batch_logs=[{"loss": 1.0}, {"loss": loss}])
    assert model.stop_training and epochs_run == 1
    assert f"Invalid loss {float(loss)} in epoch 1, batch 2, terminating training" in capsys.readouterr().out


def test_terminate_on_nan_lets_finite_losses_train_on():
    model, epochs_run = fit([C.TerminateOnNaN()], [{"loss": 1.0}] * 3, steps=2,
                            batch_logs=[{"loss": torch.tensor(2.0)}, {"loss": 1e30}])
    assert not model.stop_training and epochs_run == 3


def test_terminate_on_nan_with_raise_error_raises_at_once():
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered in epoch 1, batch 1"):
        fit([C.TerminateOnNaN(raise_error=True)], [{"loss": 1.0}], batch_logs=[{"loss": math.nan}])


# ----------------------------------------------------------------------------------- LambdaCallback
def test_lambda_callback_calls_the_given_functions():
    calls = []
    callback = C.LambdaCallback(
        on_train_begin=lambda logs: calls.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: calls.append(f"epoch_begin {epoch}"),
        on_train_batch_begin=lambda batch, logs: calls.append(f"batch_begin {batch}"),
        on_train_batch_end=lambda batch, logs: calls.append(f"batch_end {batch}"),
        on_epoch_end=lambda epoch, logs: calls.append(f"epoch_end {epoch} {logs['loss']}"),
        on_train_end=lambda logs: calls.append("train_end"),
    )
    fit([callback], [{"loss": 0.5}])
    assert calls == ["train_begin", "epoch_begin 0", "batch_begin 0", "batch_end 0", "epoch_end 0 0.5", "train_end"]


def test_lambda_callback_accepts_other_hooks_by_name():
    calls = []
    callback_list = C.CallbackList([C.LambdaCallback(on_test_end=lambda logs: calls.append(logs))])
    callback_list.on_test_end({"loss": 1.0})
    assert calls == [{"loss": 1.0}]


def test_lambda_callback_rejects_unknown_hook_names():
    with pytest.raises(TypeError, match=r"unknown hooks \['on_epoch_ending'\]"):
        C.LambdaCallback(on_epoch_ending=print)


# ---------------------------------------------------------------------------------------- public API
def test_callbacks_are_reachable_from_rnnkit_callbacks():
    for name in ["Callback", "CallbackList", "History", "EarlyStopping", "ModelCheckpoint", "LambdaCallback",
                 "ReduceLROnPlateau", "LearningRateScheduler", "CSVLogger", "TerminateOnNaN", "ProgbarLogger"]:
        assert getattr(rnnkit.callbacks, name).__doc__


def test_docstring_examples_run():
    assert doctest.testmod(C).failed == 0


def test_docstring_examples_of_every_callbacks_module_run():
    results = [doctest.testmod(importlib.import_module(f"rnnkit.train.callbacks.{name}"))
               for name in ("base", "callback_list", "logging", "stopping", "schedule", "checkpoint", "lambda_callback")]
    assert [result.failed for result in results] == [0] * len(results)
    assert all(result.attempted > 0 for result in results)
