"""Training as an adversary runs it: callbacks pointed at folders holding the user's files (or at
the working directory itself), temporary files of killed saves, a resume with another model, and
hostile `fit` arguments (complex or string labels and class weights, tables, empty lists).
Nothing previously saved is lost, and every bad argument is refused naming it."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import rnnkit  # noqa: E402
from rnnkit.files import write_text_atomically  # noqa: E402
from hostile import tree  # noqa: E402

X = np.random.default_rng(0).normal(size=(16, 4, 2)).astype("float32")
Y = (X.sum(axis=(1, 2)) > 0).astype("int64")


def classifier(units=3):
    model = rnnkit.Sequential([rnnkit.layers.GRU(units), rnnkit.layers.Dense(2)])
    model.compile("adam", rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def user_files(folder):
    """The user's own files in `folder`, some named like the callbacks' files."""
    folder.mkdir(exist_ok=True)
    mine = {"epoch_notes.txt": "notes", "epoch_000099.keras": "keras", "training.md": "doc",
            "epoch_final.rnnkit": "a model", ".hidden.tmp": "not rnnkit's"}
    for name, text in mine.items():
        (folder / name).write_text(text)
    return {name: len(text) for name, text in mine.items()}


# ----------------------------------------------------------------------------------- no lost files
@pytest.mark.parametrize("delete_checkpoint", [True, False])
def test_backup_and_restore_deletes_only_what_it_wrote(tmp_path, delete_checkpoint):
    mine = user_files(tmp_path / "backup")
    callback = rnnkit.callbacks.BackupAndRestore(tmp_path / "backup", delete_checkpoint=delete_checkpoint)
    classifier().fit(X, Y, epochs=3, verbose=0, callbacks=[callback])
    left = tree(tmp_path / "backup")
    assert {name: left[name] for name in mine} == mine
    ours = set(left) - set(mine)
    assert ours == (set() if delete_checkpoint else {"training.json", "epoch_000002.rnnkit"})


def test_backup_and_restore_in_the_working_directory_keeps_it_and_its_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mine = user_files(tmp_path)
    classifier().fit(X, Y, epochs=2, verbose=0, callbacks=[rnnkit.callbacks.BackupAndRestore(".")])
    assert os.getcwd() == str(tmp_path) and tmp_path.is_dir()
    assert tree(tmp_path) == mine


def test_backup_and_restore_beside_model_checkpoint_keeps_every_checkpoint(tmp_path):
    folder = tmp_path / "checkpoints"
    callbacks = [rnnkit.callbacks.ModelCheckpoint(str(folder / "epoch_{epoch:02d}.rnnkit")),
                 rnnkit.callbacks.BackupAndRestore(folder)]
    classifier().fit(X, Y, epochs=3, verbose=0, callbacks=callbacks)
    assert sorted(os.listdir(folder)) == ["epoch_01.rnnkit", "epoch_02.rnnkit", "epoch_03.rnnkit"]
    assert rnnkit.load_model(folder / "epoch_03.rnnkit").count_params() > 0


def test_backup_and_restore_never_writes_over_a_checkpoint_named_as_its_backups(tmp_path):
    """ModelCheckpoint runs first: its epoch N+1 file is named as the backup of (0-based) epoch N+1,
    which the backup wrote over one epoch later and then deleted."""
    folder = tmp_path / "checkpoints"
    user_files(folder)
    pattern = "epoch_{epoch:06d}.rnnkit"
    callbacks = [rnnkit.callbacks.BackupAndRestore(folder), rnnkit.callbacks.ModelCheckpoint(str(folder / pattern))]
    model = classifier()
    model.fit(X, Y, epochs=3, verbose=0, callbacks=callbacks)
    checkpoints = [folder / pattern.format(epoch=epoch) for epoch in (1, 2, 3)]
    assert all(path.exists() for path in checkpoints)
    assert not (folder / "training.json").exists()
    last = rnnkit.load_model(checkpoints[-1])
    assert all(np.array_equal(a, b) for a, b in zip(last.get_weights(), model.get_weights()))


def test_backup_and_restore_removes_the_folder_it_made_when_training_ends(tmp_path):
    classifier().fit(X, Y, epochs=2, verbose=0, callbacks=[rnnkit.callbacks.BackupAndRestore(tmp_path / "made")])
    assert not (tmp_path / "made").exists()


def test_a_resumed_run_removes_only_the_earlier_backup_it_continues(tmp_path):
    folder = tmp_path / "backup"
    first = rnnkit.callbacks.BackupAndRestore(folder, delete_checkpoint=False)
    classifier().fit(X, Y, epochs=2, verbose=0, callbacks=[first])
    mine = user_files(folder)
    classifier().fit(X, Y, epochs=4, verbose=0, callbacks=[rnnkit.callbacks.BackupAndRestore(folder)])
    assert tree(folder) == mine


def test_a_backup_folder_left_by_a_run_killed_mid_write_is_cleaned_up_by_the_resumed_run(tmp_path):
    folder = tmp_path / "backup"
    classifier().fit(X, Y, epochs=2, verbose=0,
                     callbacks=[rnnkit.callbacks.BackupAndRestore(folder, delete_checkpoint=False)])
    saved = (folder / "epoch_000001.rnnkit").read_bytes()
    # killed after writing epoch 3's model but before the record named it, and before epoch 1's went
    (folder / "epoch_000000.rnnkit").write_bytes(saved)
    (folder / "epoch_000002.rnnkit").write_bytes(saved)
    (folder / f".epoch_000002.rnnkit.{_dead_pid()}-{3:016x}.tmp").write_bytes(saved[:100])
    classifier().fit(X, Y, epochs=3, verbose=0, callbacks=[rnnkit.callbacks.BackupAndRestore(folder)])
    assert not folder.exists()


def test_resuming_with_another_model_names_the_setting_that_differs(tmp_path):
    folder = tmp_path / "backup"
    classifier(units=3).fit(X, Y, epochs=1, verbose=0,
                            callbacks=[rnnkit.callbacks.BackupAndRestore(folder, delete_checkpoint=False)])
    with pytest.raises(ValueError, match=r"gru.*units: 3 in the backup, 5 now") as error:
        classifier(units=5).fit(X, Y, epochs=2, verbose=0, callbacks=[rnnkit.callbacks.BackupAndRestore(folder)])
    assert str(folder) in str(error.value)
    assert (folder / "training.json").exists()  # the backup is kept for the right model


# ------------------------------------------------------------------------------- temporary files
def _dead_pid():
    pid = 2**22 + 12345  # above Linux's default pid_max
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        pid += 1


@pytest.mark.parametrize("name", ["model.rnnkit", "metrics.json", "history csv.csv"])
def test_stale_temporary_files_of_killed_saves_are_removed_by_the_next_save(tmp_path, name):
    dead = [tmp_path / f".{name}.{_dead_pid()}-{index:016x}.tmp" for index in range(5)]
    alive = tmp_path / f".{name}.{os.getpid()}-{7:016x}.tmp"
    other = tmp_path / f".other.{_dead_pid()}-{1:016x}.tmp"
    for path in dead + [alive, other]:
        path.write_text("partial")
    write_text_atomically(tmp_path / name, "done")
    assert (tmp_path / name).read_text() == "done"
    assert not any(path.exists() for path in dead)
    assert alive.exists() and other.exists()  # a write still under way, and another file's


def test_repeated_killed_saves_leave_no_growing_pile(tmp_path):
    model = classifier()
    model.fit(X, Y, epochs=1, verbose=0)
    for index in range(20):  # twenty writers killed mid-save, then one that completes
        (tmp_path / f".m.rnnkit.{_dead_pid()}-{index:016x}.tmp").write_bytes(b"PK\x03\x04partial")
        model.save(tmp_path / "m.rnnkit")
    assert sorted(os.listdir(tmp_path)) == ["m.rnnkit"]


# --------------------------------------------------------------------------------- fit arguments
BAD_FIT_ARGUMENTS = [
    ({"y": np.zeros(16, complex)}, "in y"),
    ({"y": torch.zeros(16, dtype=torch.complex64)}, "in y"),
    ({"y": np.array(["a"] * 16)}, "in y"),
    ({"y": np.array([None] * 16)}, "in y"),
    ({"y": [b"x"] * 16}, "in y"),
    ({"x": X.astype(complex)}, "in x"),
    ({"x": np.full((16, 4, 2), "a")}, "got text (an array of strings)"),
    ({"sample_weight": np.ones(16, complex)}, "in sample_weight"),
    ({"sample_weight": np.array(["1"] * 16)}, "in sample_weight"),
    ({"class_weight": {0: 1 + 2j, 1: 1.0}}, "class_weight[0]"),
    ({"class_weight": {0: "2", 1: 1.0}}, "class_weight[0]"),
    ({"class_weight": {0: float("nan"), 1: 1.0}}, "class_weight[0]"),
    ({"class_weight": {0: float("inf")}}, "class_weight[0]"),
    ({"class_weight": {0: -1.0}}, "class_weight[0]"),
    ({"class_weight": {0: None}}, "class_weight[0]"),
    ({"class_weight": {"pos": 1.0}}, "class_weight keys"),
    ({"class_weight": {1.5: 1.0}}, "class_weight keys"),
    ({"class_weight": {-1: 1.0}}, "class_weight keys"),
    ({"class_weight": {True: 1.0}}, "class_weight keys"),
    ({"class_weight": [1.0, 2.0]}, "class_weight must be a dict"),
    ({"class_weight": "balanced"}, "class_weight must be a dict"),
    ({"x": [], "y": []}, "x is an empty list"),
    ({"x": []}, "x is an empty list"),
    ({"x": (), "y": None}, "x is an empty tuple"),
    ({"x": {}}, "x is an empty dict"),
    ({"x": None}, "x is None"),
    ({"x": [["a", "b"]], "y": [0]}, "got text (an array of strings)"),
]


@pytest.mark.parametrize("arguments, named", BAD_FIT_ARGUMENTS)
def test_a_bad_fit_argument_is_refused_naming_it(arguments, named):
    kwargs = {"x": X, "y": Y, "epochs": 1, "verbose": 0, **arguments}
    with pytest.raises(ValueError) as error:
        classifier().fit(**kwargs)
    assert named in str(error.value)
    assert "given by the generator" not in str(error.value)


class Table:
    """Duck-types a pandas DataFrame: `to_numpy()`, and iteration over column names (which made it
    look like a generator of batches)."""

    def __init__(self, values):
        self.values = values

    def to_numpy(self):
        return self.values

    def __iter__(self):
        return iter(["column_0", "column_1"])


@pytest.mark.parametrize("arguments", [{"x": Table(X)}, {"y": Table(Y)}, {"x": Table(X), "y": Table(Y)}])
def test_a_table_given_to_fit_trains_on_its_values(arguments):
    torch.manual_seed(0)
    model = classifier()
    history = model.fit(**{"x": X, "y": Y, "epochs": 1, "verbose": 0, "shuffle": False, **arguments})
    torch.manual_seed(0)
    expected = classifier().fit(X, Y, epochs=1, verbose=0, shuffle=False)
    assert history.history["loss"] == pytest.approx(expected.history["loss"])


@pytest.mark.parametrize("class_weight", [{0: np.float32(2.0), 1: 1}, {np.int64(0): 2, 1: 0.5}, {5: 3.0, 2**40: 1.0}])
def test_class_weights_as_numpy_numbers_or_for_absent_classes_are_accepted(class_weight):
    history = classifier().fit(X, Y, epochs=1, verbose=0, class_weight=class_weight)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("x", [[], None, ()])
def test_predict_and_evaluate_refuse_empty_or_missing_x_naming_it(x):
    model = classifier()
    model.fit(X, Y, epochs=1, verbose=0)
    for call in (lambda: model.predict(x, verbose=0), lambda: model.evaluate(x, None, verbose=0)):
        with pytest.raises(ValueError, match="x is"):
            call()


# ------------------------------------------------------------------------------------ generation
@pytest.fixture(scope="module")
def token_model():
    torch.manual_seed(0)
    model = rnnkit.Sequential([rnnkit.layers.Embedding(7, 4), rnnkit.layers.GRU(5, return_sequences=True),
                               rnnkit.layers.Dense(7)])
    model.build((None, 3))
    return model


@pytest.mark.parametrize("temperature", [1e-40, 1e-300, 5e-324])
def test_a_vanishing_temperature_samples_as_greedy_decoding_does(token_model, temperature):
    greedy = token_model.generate([1, 2], steps=12, temperature=0, seed=3)
    assert np.array_equal(token_model.generate([1, 2], steps=12, temperature=temperature, seed=3), greedy)


@pytest.mark.parametrize("temperature, top_k", [(1e300, None), (1e-40, 2), (1e308, 3)])
def test_an_extreme_temperature_still_draws_valid_tokens(token_model, temperature, top_k):
    tokens = token_model.generate([1, 2], steps=12, temperature=temperature, top_k=top_k, seed=3)
    assert tokens.shape == (12,) and tokens.min() >= 0 and tokens.max() < 7
