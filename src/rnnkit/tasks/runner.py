"""`TaskRunner`: the part of a training task that is the same for every task.

A task (forecast, classify, textgen, seq2seq, rows) holds what is particular to it: its data, its
model recipe, its metrics and its extra plots. The runner does the rest, the same way for all:

    runner = TaskRunner(out, resume=resume, seed=seed)   # run folder (locked, resume), seeded
    model = build(...)                                   # the task's recipe, on the seeded generators
    history = runner.fit(model, x, y, epochs=...)        # timed; stops on a NaN loss; refuses divergence
    metrics = {..., "train_seconds": runner.seconds}     # the task's evaluation
    files = runner.finish(model, history, metrics, title="...",    # then the task's own plots
                          plots={"confusion_matrix": ("confusion_matrix.png", draw)})

`finish` writes model.rnnkit, history.csv, history.png, the task's plots and, last, metrics.json
(so a folder with metrics.json holds a finished run); with `out=None` it writes nothing.
"""
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..models import Model
from ..train.callbacks import Callback, History, TerminateOnNaN
from ..utils import set_random_seed
from .outputs import RunDirectory, check_converged

__all__ = ["TaskRunner"]


class TaskRunner:
    """The skeleton every training task shares: seed, run folder and lock, callbacks, timed fit,
    divergence check, saving, history, plots and metrics.

    Args:
        out: the run folder (see `RunDirectory`), or None to write nothing.
        resume: continue the unfinished run in `out`.
        seed: seeds Python's, NumPy's and PyTorch's generators (`rnnkit.utils.set_random_seed`), so
            that the model built next and its training are the same for the same seed.

    Raises:
        TypeError: `out` is not a path, or `resume` not a bool.
        ValueError: the folder cannot be used (see `RunDirectory`), or `seed` is outside NumPy's
            [0, 2**32 - 1].

    Attributes:
        folder: the `RunDirectory`, or None without `out`.
        seconds: the wall-clock seconds of the last `fit` (None before it).

    Example:
        >>> runner = TaskRunner("runs/rows", seed=0)
        >>> history = runner.fit(model, x, y, epochs=5, validation_data=(x_test, y_test))
        >>> runner.finish(model, history, {"train_seconds": runner.seconds}, title="rows")
    """

    def __init__(self, out: str | os.PathLike[str] | None, *, resume: bool = False, seed: int = 0) -> None:
        if out is not None and not isinstance(out, (str, os.PathLike)):
            raise TypeError(f"out must be a folder path (str or os.PathLike) or None, got {out!r} "
                            f"({type(out).__name__}).")
        if not isinstance(resume, bool):  # a truthy string such as "no" would resume
            raise TypeError(f"resume must be True or False, got {resume!r} ({type(resume).__name__}).")
        self.folder = RunDirectory(out, resume=resume) if out is not None else None
        self.seconds: float | None = None
        set_random_seed(seed)

    @property
    def writes(self) -> bool:
        """Whether this process writes the run's files (a folder was given, and under torchrun this is
        the first process)."""
        return self.folder is not None and self.folder.writes

    def fit(self, model: Model, *args: Any, callbacks: Sequence[Callback] = (), **kwargs: Any) -> History:
        """`model.fit(*args, **kwargs)`, timed (`seconds`), with the task's `callbacks` first (they may
        add to an epoch's logs, which history.csv then records) and then the run's: stop at the first
        NaN or inf loss and, with a folder, history.csv after every epoch and the backup that `resume`
        continues from.

        Returns:
            The `History` of the fit.

        Raises:
            ValueError: training diverged (a NaN or inf loss or weights); nothing is saved.
        """
        run_callbacks = self.folder.training_callbacks() if self.folder is not None else [TerminateOnNaN()]
        start = time.perf_counter()
        history = model.fit(*args, callbacks=[*callbacks, *run_callbacks], **kwargs)
        self.seconds = time.perf_counter() - start
        check_converged(model, history, self.folder)
        return history

    def file(self, name: str) -> str | None:
        """The path of `name` in the run folder (None without one)."""
        return self.folder.file(name) if self.folder is not None else None

    def finish(self, model: Model, history: History, metrics: Mapping[str, Any], *, title: str,
               plots: Mapping[str, tuple[str, Callable[[str], Any]]] | None = None) -> dict[str, str]:
        """Writes the run's files: model.rnnkit, history.csv, history.png (titled `title`), each of the
        task's `plots` ({key: (file name, a function drawing the plot to the path it is given)}) and,
        last, metrics.json.

        Returns:
            {"model", "metrics", "history", "history_plot", then each plot's key: path}; an empty
            dict without a folder. Under torchrun the other processes get the same paths and write
            nothing.

        Raises:
            TypeError: an argument of the wrong kind (checked first, with or without a folder, so that
                nothing is half written): `model` not an rnnkit Model, `history` neither the History
                `fit` returned nor its dict, `metrics` not a dict, `title` not a string, or `plots` not
                a dict of (file name, callable) pairs.
        """
        _check_finish_arguments(model, history, metrics, title, plots)
        if self.folder is None:
            return {}
        files = {"model": self.folder.save_model(model)}
        files["history"] = self.folder.write_history(history)
        files["history_plot"] = self.folder.plot_history(history, title=title)
        for key, (name, draw) in (plots or {}).items():
            files[key] = path = self.folder.file(name)
            if self.writes:
                draw(path)
        files["metrics"] = self.folder.write_metrics(metrics)
        order = ("model", "metrics", "history", "history_plot")
        return {key: files[key] for key in order} | {key: path for key, path in files.items() if key not in order}


def _check_finish_arguments(model, history, metrics, title, plots):
    if not isinstance(model, Model):
        raise TypeError(f"finish: model must be an rnnkit Model, got {type(model).__name__}.")
    if not isinstance(history, (History, Mapping)):
        raise TypeError(f"finish: history must be the History that fit returned (or its dict of lists), "
                        f"got {type(history).__name__}.")
    if not isinstance(metrics, Mapping):
        raise TypeError(f"finish: metrics must be a dict of the run's results, got {type(metrics).__name__}.")
    if not isinstance(title, str):
        raise TypeError(f"finish: title must be a string, got {type(title).__name__}.")
    if plots is not None and not (isinstance(plots, Mapping) and all(
            isinstance(plot, tuple) and len(plot) == 2 and isinstance(plot[0], str) and callable(plot[1])
            for plot in plots.values())):
        raise TypeError(f"finish: plots must be a dict of {{key: (file name, function drawing to a path)}}, "
                        f"got {plots!r}.")
