"""`RunDirectory`: the files of one training run, all written atomically.

    model.rnnkit       the trained model (with its preprocessing in `model.assets`)
    metrics.json       the evaluation report
    history.csv        one row per epoch of the logged losses and metrics
    *.png              plots
    backup/            the state of an unfinished run, for `resume` (removed when training ends)
"""
import csv
import json
import math
import os
from collections.abc import Mapping
from typing import Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

import numpy as np
import torch

from ..files import write_text_atomically
from ..models import Model
from ..train import distributed
from ..train.callbacks import BackupAndRestore, Callback, History, TerminateOnNaN
from ..train.callbacks.logging import write_history_csv
from ..train.plotting import plot_history

__all__ = ["RunDirectory", "check_converged", "check_output_folder", "make_output_folder"]

# The folders this process holds locked: {real path: the descriptor holding the lock}.
_HELD_LOCKS = {}


class RunDirectory:
    """The output folder of a training run.

    Args:
        path: the folder (created if missing).
        resume: continue the unfinished run whose backup is in the folder. Without it, a folder
            holding an unfinished run is refused rather than overwritten.

    Raises:
        ValueError: before any training, for a path that is blank, a dangling symbolic link (named
            with its target), a file, or a folder that cannot be created or written; and for a
            folder in use by a training run of another process (named), which this process then
            holds locked until it ends (killed or not).

    Attributes:
        writes: whether this process writes the files: under torchrun only the first process
            (rank 0) does, and the other processes' calls write nothing; a task writing files of
            its own checks it too.

    Example:
        >>> run = RunDirectory("runs/sine")
        >>> history = model.fit(x, y, epochs=5, callbacks=run.training_callbacks())
        >>> run.save_model(model); run.write_history(history); run.write_metrics({"rmse": 0.1})
    """

    MODEL = "model.rnnkit"
    METRICS = "metrics.json"
    HISTORY = "history.csv"
    BACKUP = "backup"

    def __init__(self, path: str | os.PathLike[str], resume: bool = False) -> None:
        self.path = os.fspath(path)
        self.resume = resume
        self.writes = distributed.is_main_process()
        check_output_folder(self.path)
        if self.writes:
            make_output_folder(self.path)
            _lock_folder(self.path)
        pending = self.has_unfinished_run()
        if pending and not resume:
            raise ValueError(
                f"{self.path!r} holds an unfinished training run ({self.file(self.BACKUP)}); pass --resume "
                "(resume=True) to continue it, or choose another output folder."
            )
        if resume and not pending:
            raise ValueError(f"nothing to resume in {self.path!r}: it holds no unfinished training run.")
        # The epochs an interrupted run completed, so that history.csv and the plot cover the whole run.
        self.earlier_history = self._backed_up_history() if resume else {}

    def file(self, name: str) -> str:
        """The path of `name` inside the folder."""
        return os.path.join(self.path, name)

    def has_unfinished_run(self) -> bool:
        """Whether the folder holds the backup of a run that did not end."""
        return os.path.exists(os.path.join(self.file(self.BACKUP), BackupAndRestore.POINTER))

    def training_callbacks(self) -> list[Callback]:
        """The callbacks every task trains with: stop on a NaN loss, history.csv rewritten after every
        epoch, and a backup of each epoch so that an interrupted run continues with `resume` (the
        backup is removed when training ends)."""
        return [TerminateOnNaN(), _HistoryFile(self), BackupAndRestore(self.file(self.BACKUP))]

    def save_model(self, model: Model) -> str:
        """Writes `model` (and its `assets`) to model.rnnkit; returns the path.

        Raises:
            ValueError: the weights hold NaN or inf (training diverged); model.rnnkit is left as it was.
        """
        check_converged(model, folder=self)
        if self.writes:
            model.save(self.file(self.MODEL))
        return self.file(self.MODEL)

    def write_metrics(self, metrics: Mapping[str, Any]) -> str:
        """Writes `metrics` (a dict of numbers, strings, lists, dicts) to metrics.json; returns the path.
        NumPy values are converted; NaN and infinities are written as null."""
        text = json.dumps(_jsonable(metrics), indent=2, allow_nan=False) + "\n"
        if self.writes:
            write_text_atomically(self.file(self.METRICS), text)
        return self.file(self.METRICS)

    def whole_history(self, history: History | Mapping[str, list[float]]) -> dict[str, list[float]]:
        """The per-epoch logs of the whole run: those of `history` (a `History` or its dict), after the
        epochs of the interrupted run when resumed."""
        curves = getattr(history, "history", history)
        names = list(self.earlier_history) + [name for name in curves if name not in self.earlier_history]
        return {name: list(self.earlier_history.get(name, [])) + list(curves.get(name, [])) for name in names}

    def write_history(self, history: History | Mapping[str, list[float]]) -> str:
        """Writes the per-epoch logs of the run (see `whole_history`) to history.csv: an `epoch`
        column (1-based) and one column per quantity; returns the path."""
        curves = self.whole_history(history)
        names = list(curves)
        epochs = max((len(values) for values in curves.values()), default=0)
        if self.writes:
            write_history_csv(self.file(self.HISTORY), ["epoch"] + names,
                              [[epoch + 1] + [_cell(curves[name], epoch) for name in names] for epoch in range(epochs)])
        return self.file(self.HISTORY)

    def plot_history(self, history: History | Mapping[str, list[float]], title: str | None = None) -> str:
        """Writes the learning curves to history.png; returns the path."""
        if not self.writes:
            return self.file("history.png")
        return plot_history(self.whole_history(history), self.file("history.png"), title=title)

    def _backed_up_history(self):
        """The rows of history.csv up to the last backed-up epoch, as {name: [values]}."""
        record = os.path.join(self.file(self.BACKUP), BackupAndRestore.POINTER)
        try:
            with open(record, encoding="utf-8") as f:
                epochs = int(json.load(f)["epoch"]) + 1
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{record} is damaged ({error}); delete the folder {self.file(self.BACKUP)} to train "
                             "from the start.") from None
        if not os.path.exists(self.file(self.HISTORY)):
            return {}
        with open(self.file(self.HISTORY), newline="") as f:
            rows = list(csv.reader(f))
        if not rows:
            return {}
        names = rows[0][1:]
        kept = rows[1:epochs + 1]
        return {name: [float(row[i + 1]) if row[i + 1] else float("nan") for row in kept]
                for i, name in enumerate(names)}


def check_output_folder(path: str) -> None:
    """Raises ValueError naming `path` when it cannot be an output folder: blank, a dangling symbolic
    link (named with its target), or a file."""
    if not path.strip():
        raise ValueError(f"output folder {path!r} is not a name; give --out a folder name.")
    if os.path.islink(path) and not os.path.exists(path):
        raise ValueError(f"output folder {path!r} is a symbolic link to {os.readlink(path)!r}, "
                         "which does not exist; create its target or choose another --out.")
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"output folder {path!r} is a file; choose another --out.")


def make_output_folder(path: str) -> None:
    """`check_output_folder`, then creates the folder (and its parents) if missing.

    Raises:
        ValueError: naming `path`, which `check_output_folder` refuses or which cannot be created.
    """
    check_output_folder(path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise ValueError(f"cannot create the output folder {path!r} ({error.strerror}); choose "
                         "another --out.") from None


def check_converged(model: Model, history: History | Mapping[str, list[float]] | None = None,
                    folder: RunDirectory | None = None) -> None:
    """The one divergence check of a training task: refuses a model whose weights hold NaN or inf,
    or whose `history` (a `History` or its dict) ends on a NaN or inf loss (`TerminateOnNaN` stops
    training at the first one).

    Args:
        model: the trained model.
        history: the `History` of its fit, or None to check the weights only.
        folder: the run's `RunDirectory`, whose model.rnnkit the message says is not written (and
            where the last good state is backed up); None for a run without a folder.

    Raises:
        TypeError: `history` is none of the kinds above.
        ValueError: "training diverged: ...", with what was found and what to change.
    """
    logs = getattr(history, "history", history or {})
    if not isinstance(logs, Mapping):
        raise TypeError(f"history must be a History, a dict of lists or None, got {type(history).__name__}.")
    losses = logs.get("loss", [])
    epochs = getattr(history, "epoch", None)  # a History's epoch indices count those before a resume
    if losses and not math.isfinite(float(losses[-1])):
        problem = f"the loss became {float(losses[-1])}" + (f" in epoch {epochs[-1] + 1}" if epochs else "")
    elif not all(torch.isfinite(weight).all() for weight in model.parameters()):
        problem = "the model's weights hold NaN or inf"
    else:
        return
    consequence = "."
    if folder is not None:
        kept = (f" The last good state is backed up in {folder.file(folder.BACKUP)}."
                if folder.has_unfinished_run() else "")
        consequence = f", so {folder.file(folder.MODEL)} was not written.{kept}"
    raise ValueError(f"training diverged: {problem}{consequence} Lower the learning rate, or clip gradients, "
                     "and train again.")


def _lock_folder(path):
    """Locks the folder `path` for this process until it ends (an advisory lock on the folder
    itself, so no file is added; the lock goes with the process, also when it is killed), after
    checking that the folder is writable. A run of another process into the same folder is refused
    naming the process that holds it; this process may use the folder again."""
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"the output folder {path!r} is not writable; choose another --out or make it writable.")
    key = os.path.realpath(path)
    if key in _HELD_LOCKS or fcntl is None:  # no advisory locks on this system: only the check above
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = _lock_holder(descriptor)
        os.close(descriptor)
        raise ValueError(f"the output folder {path!r} is in use by another training run ({holder}); wait for it "
                         "to end or choose another --out.") from None
    _HELD_LOCKS[key] = descriptor


def _lock_holder(descriptor):
    """"process N" holding a lock on the file open as `descriptor`, read from /proc/locks (Linux), or
    "another process" where that cannot be told."""
    status = os.fstat(descriptor)
    inode = f"{os.major(status.st_dev):02x}:{os.minor(status.st_dev):02x}:{status.st_ino}"
    try:
        with open("/proc/locks") as locks:
            for line in locks:
                fields = line.split()
                if "FLOCK" in fields and len(fields) > 5 and fields[5] == inode and fields[4] != str(os.getpid()):
                    return f"process {fields[4]}"
    except OSError:
        pass
    return "another process"


class _HistoryFile(Callback):
    """Rewrites history.csv after every epoch, so that an interrupted run's curve survives."""

    main_process_only = True

    def __init__(self, run):
        super().__init__()
        self.run = run

    def on_train_begin(self, logs=None):
        self.curves = {}

    def on_epoch_end(self, epoch, logs=None):
        epochs_so_far = max((len(values) for values in self.curves.values()), default=0)
        for name, value in (logs or {}).items():
            if np.ndim(value) != 0:
                continue
            self.curves.setdefault(name, [float("nan")] * epochs_so_far).append(float(value))
        self.run.write_history(self.curves)


def _cell(values, epoch):
    return repr(float(values[epoch])) if epoch < len(values) else ""


def _jsonable(value):
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.integer, bool)):
        return value if isinstance(value, bool) else int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value
