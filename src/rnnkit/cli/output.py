"""Printing shared by the subcommands."""
import os
from collections.abc import Iterable


def print_written(folder: str | os.PathLike[str], paths: Iterable[str]) -> None:
    """Prints `wrote FOLDER: name, name, ...`: the files a command wrote into its output folder (a
    task result's `files`), the same line for every command.

    Example:
        >>> print_written("runs/demo", ["runs/demo/model.rnnkit", "runs/demo/metrics.json"])
        wrote runs/demo: model.rnnkit, metrics.json
    """
    print(f"wrote {os.fspath(folder)}: " + ", ".join(os.path.basename(path) for path in paths))
