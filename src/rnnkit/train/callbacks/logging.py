"""Callbacks that record the epoch-level logs: `History` (in memory) and `CSVLogger` (a CSV file), and
`write_history_csv`, the writer of every per-epoch CSV file (CSVLogger's and a task's history.csv)."""
from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...files import write_text_atomically
from .base import Callback, _python_logs


def write_history_csv(
    path: str | os.PathLike, header: Sequence[str] | None, rows: Sequence[Sequence[Any]], separator: str = ",",
    before: str = "",
) -> None:
    """Writes a table of one row per epoch to the CSV file `path`, whole and atomically (a new file renamed
    over the old one), so that a process killed at any moment leaves the file as it was, never a torn row.

    Args:
        path: the CSV file.
        header: the column names (a list of str), or None for no header line (when `before` has one).
        rows: one list of cells per epoch, in the order of `header`; each cell is written as `str` gives it.
        separator: the field separator.
        before: text the file starts with (the rows of an earlier run, when appending to its file).

    Example:
        >>> import os, tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = os.path.join(folder, "history.csv")
        ...     write_history_csv(path, ["epoch", "loss"], [[0, 0.5], [1, 0.25]])
        ...     print(open(path).read(), end="")
        epoch,loss
        0,0.5
        1,0.25
    """
    buffer = io.StringIO()
    buffer.write(before)
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\n")
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    write_text_atomically(path, buffer.getvalue())


class History(Callback):
    """Records the epoch-level logs: what `fit` returns.

    Attributes:
        history: dict name -> list of per-epoch values (floats), e.g. `{"loss": [...], "val_loss": [...]}`.
        epoch: list of the epoch indices recorded.
        params: the training parameters; model: the model.

    As Keras's, a History reused for a second `fit` keeps appending to `history` (`fit` creates a
    new one each time).
    """

    def __init__(self) -> None:
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch.append(epoch)
        for name, value in _python_logs(logs).items():
            self.history.setdefault(name, []).append(value)


class CSVLogger(Callback):
    """Writes the epoch-level logs to a CSV file, one row per epoch, on disk as soon as the epoch ends.

    Each epoch rewrites the whole file atomically (a new file renamed over the old one), so a
    process killed at any moment leaves the file as it was after some epoch, never a torn row.

    The header is "epoch" then the sorted log keys of the first epoch; when the first epoch has no
    `val_*` keys, `val_` columns are added for every key (filled with "NA" until validation runs,
    e.g. with a validation frequency), as Keras. Epochs are 0-based.

    Args:
        filename: the CSV file.
        separator: the field separator.
        append: append to an existing file (no second header when it is not empty) instead of
            overwriting it: for resumed training.

    Example:
        >>> csv_logger = CSVLogger("training.csv")
    """

    main_process_only = True

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys = None
        self._before = ""
        self._rows = []

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        # The file's content so far is kept in memory, to be written whole after each epoch
        self._before = ""
        if self.append and os.path.exists(self.filename):
            with open(self.filename, encoding="utf-8", newline="") as existing:
                self._before = existing.read()
        self.keys = None
        self._rows = []

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = _python_logs(logs)
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys += [f"val_{key}" for key in self.keys]
        self._rows.append([epoch] + [_csv_value(logs.get(key, "NA")) for key in self.keys])
        header = None if self._before else ["epoch"] + self.keys
        write_history_csv(self.filename, header, self._rows, separator=self.sep, before=self._before)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._before = ""
        self._rows = []


def _csv_value(value):
    if isinstance(value, str) or np.ndim(value) == 0:
        return value
    return f"[{', '.join(map(str, np.ravel(value)))}]"
