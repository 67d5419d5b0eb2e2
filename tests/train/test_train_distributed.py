"""Data-parallel training under torchrun (rnnkit.train.distributed).

One torchrun launch of two gloo processes (this file run as a script, see `_worker`) does every
distributed run; the tests compare what it recorded with single-process runs made here. The
sharding itself is checked in-process with a stand-in for the process group.
"""
import atexit
import functools
import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest
import torch

import rnnkit
import rnnkit.tasks
import rnnkit.train.distributed
from rnnkit.train.data_adapter import ArrayBatches
from rnnkit.train.distributed import ShardedBatches

PROCESSES = 2
GLOBAL_BATCH = 8  # 4 samples per process
EPOCHS = 2
SEED = 5


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 5, 3)).astype("float32")
    y = np.stack([x[:, :, 0].sum(axis=1), x[:, -1, 1]], axis=1).astype("float32")
    # 9 validation samples: the processes get 5 and 4, so averaging their means would be wrong
    return x[:23], y[:23], x[23:], y[23:]


def _model(optimizer, dropout=0.0):
    rnnkit.utils.set_random_seed(SEED)
    model = rnnkit.Sequential([
        rnnkit.Input((5, 3)),
        rnnkit.layers.LSTM(6, dropout=dropout),
        rnnkit.layers.Dense(2),
    ])
    model.compile(optimizer=optimizer, loss="mse", metrics=["mae"])
    return model


def _optimizer(name):
    return rnnkit.optimizers.SGD(learning_rate=0.1) if name == "sgd" else rnnkit.optimizers.Adam(learning_rate=0.01)


def _train_data():
    x, y, _, _ = _data()
    rng = np.random.default_rng(1)
    extra = rng.standard_normal((9, 5, 3)).astype("float32")  # 23 + 9 = 32 samples: 16 per process
    extra_y = np.stack([extra[:, :, 0].sum(axis=1), extra[:, -1, 1]], axis=1).astype("float32")
    return np.concatenate([x, extra]), np.concatenate([y, extra_y])


def _fit_and_evaluate(optimizer, callbacks=None):
    x, y = _train_data()
    _, _, x_val, y_val = _data()
    model = _model(_optimizer(optimizer))
    history = model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=EPOCHS, shuffle=False, validation_data=(x_val, y_val),
                        verbose=0, callbacks=callbacks)
    evaluation = model.evaluate(x_val, y_val, batch_size=4, verbose=0, return_dict=True)
    return {"weights": [w.tolist() for w in model.get_weights()], "history": history.history, "evaluation": evaluation}


class _Interrupt(Exception):
    pass


def _resume_runs(backup_dir, rank):
    """Adam with dropout and shuffling, 3 epochs: uninterrupted, and interrupted after the first
    epoch then run again from the backup (with other random states, which the backup replaces)."""
    x, y = _train_data()

    def fit(callbacks):
        model = _model(_optimizer("adam"), dropout=0.3)
        torch.manual_seed(SEED + 100 * rank)  # each process draws its own dropout masks
        model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=3, shuffle=True, verbose=0, callbacks=callbacks)
        return model

    uninterrupted = fit([])

    def interrupt(epoch, logs):
        if epoch == 1:  # the first epoch is over and backed up
            raise _Interrupt()

    with pytest.raises(_Interrupt):
        fit([rnnkit.callbacks.BackupAndRestore(backup_dir), rnnkit.callbacks.LambdaCallback(on_epoch_begin=interrupt)])
    rnnkit.train.distributed.barrier()  # rank 0 may still be writing the backup
    with open(os.path.join(backup_dir, "training.json")) as file:
        record = json.load(file)
    torch.manual_seed(1000 + rank)
    resumed = _model(_optimizer("adam"), dropout=0.3)
    resumed.fit(x, y, batch_size=GLOBAL_BATCH, epochs=3, shuffle=True, verbose=0,
                callbacks=[rnnkit.callbacks.BackupAndRestore(backup_dir)])
    return {
        "uninterrupted": [w.tolist() for w in uninterrupted.get_weights()],
        "resumed": [w.tolist() for w in resumed.get_weights()],
        "backed_up_random_states": len(record.get("process_random_states", [])),
    }


def _steps_with_uneven_generators(rank):
    """Steps taken when the processes' generators hold 4 and 3 batches (as a DataLoader whose
    sampler left an uneven remainder would); the batch fit builds the model on is trained on too."""
    x, y = _train_data()
    batches = ((x[i:i + 4], y[i:i + 4]) for i in range(0, 4 * (4 - rank), 4))
    steps = []
    model = _model(_optimizer("sgd"))
    model.fit(batches, epochs=1, verbose=0,
              callbacks=[rnnkit.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: steps.append(batch))])
    return len(steps)


def _steps_when_one_process_stops(rank):
    """Steps taken when a callback in the second process alone asks to stop after batch 2 (as
    TerminateOnNaN does for a NaN loss in its shard)."""
    x, y = _train_data()
    steps = []

    def record(batch, logs):
        steps.append(batch)
        if rank == 1 and batch == 1:
            model.stop_training = True

    model = _model(_optimizer("sgd"))
    model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=2, verbose=0,
              callbacks=[rnnkit.callbacks.LambdaCallback(on_train_batch_end=record)])
    return len(steps)


def _worker(results):
    """What each torchrun process runs: writes results/rank<r>.json. Each process works in its
    own folder results/cwd<r> and gives the writing callbacks and RunDirectory relative paths, so
    that a file written by a process other than rank 0 shows up in its folder."""
    rank = int(os.environ["RANK"])
    os.chdir(os.path.join(results, f"cwd{rank}"))
    run = rnnkit.tasks.RunDirectory("run")
    writing = run.training_callbacks() + [
        rnnkit.callbacks.ModelCheckpoint("run/checkpoint.rnnkit", monitor="val_loss"),
        rnnkit.callbacks.CSVLogger("run/log.csv"),
    ]
    report = {"sgd": _fit_and_evaluate("sgd"), "adam": _fit_and_evaluate("adam", writing)}
    model = _model("sgd")
    run.save_model(model)
    run.write_metrics({"loss": 1.0})
    run.write_history(report["adam"]["history"])
    report["resume"] = _resume_runs(os.path.join(results, "backup"), rank)
    report["generator_steps"] = _steps_with_uneven_generators(rank)
    report["steps_when_one_stops"] = _steps_when_one_process_stops(rank)
    with open(os.path.join(results, f"rank{rank}.json"), "w") as file:
        json.dump(report, file)


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    """The two processes' reports and their working folders."""
    results = tmp_path_factory.mktemp("distributed")
    for rank in range(PROCESSES):
        (results / f"cwd{rank}").mkdir()
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "KERAS_BACKEND": "torch"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(PROCESSES),
               __file__, str(results)]
    finished = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
    assert finished.returncode == 0, finished.stderr[-4000:]
    reports = [json.loads((results / f"rank{rank}.json").read_text()) for rank in range(PROCESSES)]
    return results, reports, finished


@functools.lru_cache(maxsize=None)
def _single_process(optimizer):
    """The reference: one process (no torchrun) with the same global batch."""
    return _fit_and_evaluate(optimizer)


def _assert_weights_close(got, expected, atol):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), atol=atol, rtol=0)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_two_processes_end_with_the_weights_of_one_process_with_the_same_global_batch(launched, optimizer):
    _, reports, _ = launched
    expected = _single_process(optimizer)["weights"]
    for report in reports:
        _assert_weights_close(report[optimizer]["weights"], expected, atol=1e-5)


def test_epoch_and_validation_metrics_are_those_of_all_the_data(launched):
    _, reports, _ = launched
    expected = _single_process("sgd")
    for report in reports:
        assert set(report["sgd"]["history"]) == set(expected["history"])
        for name, values in expected["history"].items():
            np.testing.assert_allclose(report["sgd"]["history"][name], values, rtol=1e-5, err_msg=name)


def test_evaluate_sums_metric_states_over_unevenly_sharded_data(launched):
    _, reports, _ = launched
    expected = _single_process("sgd")["evaluation"]
    for report in reports:
        for name, value in expected.items():
            assert report["sgd"]["evaluation"][name] == pytest.approx(value, rel=1e-5), name


def test_only_the_first_process_writes_files(launched):
    results, _, _ = launched
    written = sorted(os.listdir(results / "cwd0" / "run"))
    assert written == ["checkpoint.rnnkit", "history.csv", "log.csv", "metrics.json", "model.rnnkit"]
    assert len((results / "cwd0" / "run" / "log.csv").read_text().splitlines()) == EPOCHS + 1
    assert os.listdir(results / "cwd1") == []


def test_only_the_first_process_prints(launched):
    _, _, finished = launched
    assert finished.stdout == ""  # verbose=0 everywhere; a stray per-process print would show here


def test_a_resumed_distributed_run_ends_with_the_weights_of_an_uninterrupted_one(launched):
    _, reports, _ = launched
    for report in reports:
        assert report["resume"]["backed_up_random_states"] == PROCESSES
        _assert_weights_close(report["resume"]["resumed"], report["resume"]["uninterrupted"], atol=1e-6)
    _assert_weights_close(reports[1]["resume"]["resumed"], reports[0]["resume"]["resumed"], atol=0)


def test_generators_of_uneven_length_stop_every_process_when_one_runs_out(launched):
    _, reports, _ = launched
    assert [report["generator_steps"] for report in reports] == [3, 3]


def test_a_stop_requested_in_one_process_stops_all_at_the_same_step(launched):
    _, reports, _ = launched
    assert [report["steps_when_one_stops"] for report in reports] == [2, 2]


# ------------------------------------------------------------------------------ sharding, in process
def _stand_in(rank, world_size=PROCESSES, seed=7):
    return types.SimpleNamespace(rank=rank, world_size=world_size, device=torch.device("cpu"),
                                 shuffle_seed=lambda: seed)


def _sample_ids(batches):
    return [batch[0][:, 0].long().tolist() for batch in batches]


def _numbered(count, batch_size, shuffle=False, steps=None):
    return ArrayBatches(np.arange(count, dtype="float32")[:, None], batch_size=batch_size, shuffle=shuffle, steps=steps)


def test_every_process_has_joined_the_process_groups_threads_before_the_interpreter_exits(launched):
    results, _, _ = launched
    for rank in range(PROCESSES):
        path = results / f"threads{rank}.json"
        if not path.exists():
            pytest.skip("no /proc/self/task on this system to list a process's threads")
        left = [name for name in json.loads(path.read_text()) if "gloo" in name]
        assert left == [], f"process {rank} exits with gloo threads still running: {left}"


def test_training_shards_split_each_global_batch_of_one_shuffled_order():
    shards = [_sample_ids(ShardedBatches(_numbered(32, 8, shuffle=True), _stand_in(r), training=True))
              for r in range(PROCESSES)]
    assert [len(s) for s in shards] == [4, 4]
    global_batches = [sorted(a + b) for a, b in zip(*shards)]
    assert sorted(sum(global_batches, [])) == list(range(32))
    assert global_batches != [list(range(i, i + 8)) for i in range(0, 32, 8)]  # shuffled
    again = _sample_ids(ShardedBatches(_numbered(32, 8, shuffle=True), _stand_in(0), training=True))
    assert again == shards[0]  # the same seed, the same order


def test_training_shards_pad_the_remainder_by_repeating_the_first_samples():
    shards = [_sample_ids(ShardedBatches(_numbered(7, 4), _stand_in(r), training=True)) for r in range(PROCESSES)]
    assert shards == [[[0, 2], [4, 6]], [[1, 3], [5, 0]]]


def test_evaluation_shards_count_every_sample_once():
    shards = [_sample_ids(ShardedBatches(_numbered(9, 4), _stand_in(r), training=False)) for r in range(PROCESSES)]
    assert sorted(sum(sum(shards, []), [])) == list(range(9))


def test_a_global_batch_that_does_not_split_evenly_is_refused_with_the_nearest_sizes():
    with pytest.raises(ValueError, match=r"batch_size=7 is the global batch.*multiple of 2.*6 or 8"):
        ShardedBatches(_numbered(32, 7), _stand_in(0), training=True)


def _record_threads_at_exit(results):
    """Registered before rnnkit's own exit handler, so run after it: writes the names of the
    threads still alive in this process (gloo's threads left running into interpreter finalization
    can abort it, see rnnkit.train.distributed._shut_down)."""
    def record():
        names = [open(f"/proc/self/task/{task}/comm").read().strip() for task in os.listdir("/proc/self/task")]
        with open(os.path.join(results, f"threads{os.environ['RANK']}.json"), "w") as file:
            json.dump(names, file)

    if os.path.isdir("/proc/self/task"):
        atexit.register(record)


if __name__ == "__main__":
    _record_threads_at_exit(sys.argv[1])
    _worker(sys.argv[1])
