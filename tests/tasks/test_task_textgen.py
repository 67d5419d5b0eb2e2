"""The textgen task: text files, windows, the training recipe, the run's files, sampling."""
import io
import json
import math

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import layers
from rnnkit.tasks import textgen

TEXT = "ROMEO:\nthe king speaks now.\n\nJULIET:\ngood night, good lord.\n\n" * 12


def tiny_run(tmp_path, text=TEXT, **settings):
    options = {"units": (16,), "embedding_dim": 8, "seq_len": 20, "batch_size": 8, "epochs": 1, "verbose": 0,
               "sample_length": 30}
    options.update(settings)
    return textgen.train_text_model(text, tmp_path / "run", **options)


# ------------------------------------------------------------------------------------------- files
def test_read_text_decodes_utf8(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("naïve café — ünïcödé\n", encoding="utf-8")
    assert textgen.read_text(path) == "naïve café — ünïcödé\n"


def test_read_text_refuses_an_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.txt.*is empty"):
        textgen.read_text(path)


def test_read_text_names_the_byte_offset_of_the_first_non_utf8_byte(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("abc caf".encode() + "é".encode("latin-1") + b" more")
    with pytest.raises(ValueError, match=r"not UTF-8 text: byte 7 \(0xe9\)"):
        textgen.read_text(path)


# ----------------------------------------------------------------------------------------- windows
def test_windows_pair_each_input_with_the_next_characters():
    ids = np.arange(25)
    x, y = textgen.windows(ids, 4, offset=2)
    assert x.shape == (5, 4)
    assert x[0].tolist() == [2, 3, 4, 5] and y[0].tolist() == [3, 4, 5, 6]
    assert y[-1, -1] == 22


def test_char_windows_recut_the_text_at_another_offset_each_epoch():
    torch.manual_seed(0)
    batches = textgen.CharWindows(np.arange(1000), seq_len=10, batch_size=16)
    firsts = set()
    for _ in range(6):
        epoch = list(batches)
        assert len(epoch) == len(batches)
        x, y = epoch[0]
        assert torch.equal(y, x + 1)  # targets are the next ids
        firsts.add(int(x[0, 0]) % 10)  # the window start modulo seq_len is the epoch's offset
    assert len(firsts) > 1


def test_char_windows_shuffle_the_windows():
    torch.manual_seed(0)
    x, _ = next(iter(textgen.CharWindows(np.arange(10_000), seq_len=10, batch_size=32)))
    starts = x[:, 0].tolist()
    assert starts != sorted(starts)


# ---------------------------------------------------------------------------------------- the model
def test_build_model_stacks_one_recurrent_layer_per_units_entry():
    model = textgen.build_model(30, units=(32, 16), cell="lstm", embedding_dim=8)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Embedding", "Dropout", "LSTM", "Dropout", "LSTM", "Dropout", "Dense"]
    assert model(torch.zeros(2, 5, dtype=torch.long)).shape == (2, 5, 30)


def test_build_model_refuses_an_unknown_cell():
    with pytest.raises(ValueError, match="cell must be one of gru, lstm, simple_rnn, got 'rnn'"):
        textgen.build_model(30, cell="rnn")


def test_the_learning_rate_warms_up_then_anneals_to_its_final_fraction():
    clock = textgen.TrainingClock(1e-2, total_steps=1000, warmup_steps=10, final_fraction=0.05)
    clock.on_train_begin()
    rates = [clock.learning_rate(step) for step in range(1000)]
    assert rates[0] == pytest.approx(1e-3, rel=0.02)
    assert max(rates) == pytest.approx(1e-2, rel=0.01)
    assert all(a >= b for a, b in zip(rates[10:], rates[11:]))
    assert rates[-1] == pytest.approx(5e-4, rel=0.01)


def test_the_time_budget_drives_the_schedule_and_stops_training():
    clock = textgen.TrainingClock(1e-2, total_steps=10**9, minutes=1e-9, warmup_steps=1, final_fraction=0.1)
    model = textgen.build_model(10, units=(4,))
    model.stop_training = False
    clock.set_model(model)
    clock.on_train_begin()
    assert clock.learning_rate(5) == pytest.approx(1e-3)  # out of time: the end of the cosine
    clock.on_train_batch_end(0)
    assert model.stop_training and clock.out_of_time


# -------------------------------------------------------------------------------------------- train
def test_train_writes_the_model_checkpoint_metrics_and_history(tmp_path):
    run = tiny_run(tmp_path, epochs=2)
    folder = tmp_path / "run"
    for name in ("model.rnnkit", textgen.CHECKPOINT, "metrics.json", "history.csv", "history.png"):
        assert (folder / name).is_file(), name
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["vocabulary_size"] == len(set(TEXT))
    assert metrics["val_bpc"] == pytest.approx(metrics["val_loss"] / math.log(2))
    assert metrics["bpc"] == pytest.approx(metrics["loss"] / math.log(2))
    header = (folder / "history.csv").read_text().splitlines()[0].split(",")
    assert {"loss", "val_loss", "bpc", "val_bpc", "minutes", "lr"} <= set(header)
    assert run.sample.startswith("ROMEO:") and len(run.sample) == len("ROMEO:\n") + 30


def test_the_validation_text_is_the_end_of_the_text(tmp_path):
    run = tiny_run(tmp_path, validation_fraction=0.25)
    assert run.metrics["validation_characters"] == len(TEXT) - int(len(TEXT) * 0.75)
    assert run.metrics["training_characters"] == int(len(TEXT) * 0.75)


def test_a_saved_model_samples_alone_with_its_vocabulary(tmp_path):
    tiny_run(tmp_path)
    model = rnnkit.load_model(tmp_path / "run" / "model.rnnkit")
    assert textgen.vocabulary_of(model).characters == sorted(set(TEXT))
    text = textgen.sample(model, "JULIET:", 40, temperature=0.5, top_k=5, seed=1)
    assert len(text) == 40 and set(text) <= set(TEXT)


def test_training_learns_a_repetitive_text(tmp_path):
    run = tiny_run(tmp_path, text="abcd" * 600, epochs=4, sample_length=0, learning_rate=1e-2)
    assert run.metrics["val_loss"] < 0.3  # log(4) = 1.39 without learning


def test_a_time_budget_ends_training_after_the_batch_where_it_runs_out(tmp_path):
    run = tiny_run(tmp_path, epochs=50, minutes=1e-9, sample_length=0)
    assert run.metrics["stopped_by_time_budget"] and run.metrics["epochs"] == 1


def test_an_interrupted_run_resumes_to_the_same_result_as_an_uninterrupted_one(tmp_path, monkeypatch):
    settings = {"epochs": 3, "sample_length": 0}
    whole = tiny_run(tmp_path / "whole", **settings).history.history["val_loss"]
    save = textgen.callbacks_module.ModelCheckpoint.on_epoch_end

    def interrupt_in_the_second_epoch(self, epoch, logs=None):
        save(self, epoch, logs)
        if epoch == 1:  # before its backup: the run resumes at the second epoch
            raise KeyboardInterrupt

    monkeypatch.setattr(textgen.callbacks_module.ModelCheckpoint, "on_epoch_end", interrupt_in_the_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        tiny_run(tmp_path / "cut", **settings)
    monkeypatch.setattr(textgen.callbacks_module.ModelCheckpoint, "on_epoch_end", save)
    resumed = tiny_run(tmp_path / "cut", resume=True, **settings)
    assert resumed.metrics["epochs"] == 3
    assert resumed.history.history["val_loss"] == pytest.approx(whole[1:], rel=1e-5)


def test_a_data_parallel_launch_is_refused(tmp_path, monkeypatch):
    for name, value in (("WORLD_SIZE", "2"), ("RANK", "0"), ("LOCAL_RANK", "0")):
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match="textgen trains in one process.*without --nproc"):
        tiny_run(tmp_path)


def test_a_text_too_short_for_the_windows_is_refused(tmp_path):
    with pytest.raises(ValueError, match="leaving 10 for validation.*seq_len=20 need at least 21"):
        tiny_run(tmp_path, text="x" * 100)


# ------------------------------------------------------------------------------------------- sample
@pytest.fixture(scope="module")
def char_model():
    torch.manual_seed(0)
    vocabulary = rnnkit.data.CharVocabulary.from_text("abc \n")
    model = rnnkit.Sequential([layers.Embedding(len(vocabulary), 4), layers.GRU(8, return_sequences=True),
                               layers.Dense(len(vocabulary))])
    model.assets["vocabulary"] = vocabulary.get_config()
    return model


def test_sample_streams_each_character_as_it_is_generated(char_model):
    stream = io.StringIO()
    text = textgen.sample(char_model, "ab", 25, temperature=1.0, seed=3, stream=stream)
    assert len(text) == 25 and stream.getvalue() == text


def test_sample_with_a_seed_is_reproducible(char_model):
    assert textgen.sample(char_model, "a", 30, seed=7) == textgen.sample(char_model, "a", 30, seed=7)


def test_sample_refuses_characters_outside_the_vocabulary(char_model):
    with pytest.raises(ValueError, match=r"characters \['z'\] are not in the model's vocabulary"):
        textgen.sample(char_model, "abz", 5)


def test_sample_refuses_an_empty_prompt(char_model):
    with pytest.raises(ValueError, match="prompt must be a non-empty string"):
        textgen.sample(char_model, "", 5)


def test_sample_refuses_a_model_without_a_vocabulary():
    model = rnnkit.Sequential([layers.Embedding(5, 4), layers.GRU(8, return_sequences=True), layers.Dense(5)])
    with pytest.raises(ValueError, match="no character vocabulary.*rnnkit textgen train"):
        textgen.sample(model, "a", 5)
