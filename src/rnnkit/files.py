"""Crash-safe file writes: every file rnnkit writes (models, checkpoints, metrics, histories, plots)
goes through `write_atomically`, so a process killed at any moment leaves the old file or the new
one, never a torn one, and the temporary files of killed writes are removed by the next write."""
from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable
from typing import BinaryIO

__all__ = ["write_atomically", "write_text_atomically"]


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> None:
    """Runs `write(file)` on a new temporary binary file beside `path`, then makes it `path` in one step.

    The temporary file is flushed and fsynced before `os.replace`, and the directory afterwards, so
    the rename survives a power loss; on any exception the temporary file is removed and a previous
    `path` is left as it was.

    Example:
        >>> write_atomically("metrics.json", lambda file: file.write(b'{"rmse": 8.4}'))
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    # The writer's process id in the name tells a stale temporary file (its writer was killed) from
    # one being written now.
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}-{secrets.token_hex(8)}.tmp")
    # os.open with 0o666 lets the umask decide the permissions, as for any new file.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(folder)
    _remove_stale_temporaries(folder, os.path.basename(path))


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    """Writes the string `text` (UTF-8) to `path` with `write_atomically`."""
    write_atomically(path, lambda file: file.write(text.encode("utf-8")))


def _remove_stale_temporaries(folder, name):
    """Removes the temporary files of earlier writes of `name` whose process is gone (killed
    mid-write), so that repeated kills leave no growing pile; those of live processes stay."""
    pattern = re.compile(re.escape(f".{name}.") + r"(\d+)-[0-9a-f]{16}\.tmp")
    for entry in os.listdir(folder):
        match = pattern.fullmatch(entry)
        if match and not _process_alive(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(folder, entry))


def _process_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process
        return False
    except OSError:  # another user's process (or Windows, which has no signal 0): keep its file
        return True
    return True


def _fsync_directory(folder):
    if os.name != "posix":  # directories cannot be opened for fsync on Windows
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
