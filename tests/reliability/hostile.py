"""Shared by the adversarial tests: run `rnnkit` in-process and check the promise every hostile
input is held to (exit code 2, one line naming the input, no traceback), and write small files."""
import contextlib
import io
import os
import struct

import numpy as np

from rnnkit.cli import main


def run(argv):
    """(exit code, stdout, stderr) of `rnnkit argv` in this process; argparse's exits included."""
    printed, errors = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors):
        try:
            code = main([str(arg) for arg in argv])
        except SystemExit as exit_:
            code = exit_.code
    return code, printed.getvalue(), errors.getvalue()


def assert_refused(result, *named):
    """Exit code 2 and a single line on stderr, no traceback, quoting each of `named`."""
    code, _, errors = result
    assert code == 2, (code, errors)
    assert "Traceback" not in errors
    assert errors.strip() and "\n" not in errors.strip(), errors
    for text in named:
        assert str(text) in errors, (text, errors)


def labelled_file(path, count=40, classes=("neg", "pos")):
    """`count` distinct 'sentence<TAB>label' lines whose words give the class away."""
    words = {"neg": "bad", "pos": "good", "mid": "okay"}
    lines = [f"{words.get(classes[i % len(classes)], 'plain')} item number {i}\t{classes[i % len(classes)]}"
             for i in range(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def idx_file(path, array, code=0x08):
    """An IDX file of `array` (uint8 by default)."""
    dtypes = {0x08: ">u1", 0x0C: ">i4"}
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    path.write_bytes(header + np.asarray(array).astype(dtypes[code]).tobytes())
    return path


def tree(folder):
    """Every file under `folder`, relative, with its size: to see that nothing else was touched."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            full = os.path.join(root, name)
            found[os.path.relpath(full, folder)] = os.path.getsize(full)
    return found
