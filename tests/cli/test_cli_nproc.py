"""`rnnkit <training command> --nproc N`: the command runs again in N processes under torchrun."""
import os
import subprocess
import sys

import pytest

from rnnkit import cli
from rnnkit.cli.options import without_option
from rnnkit.train import distributed


@pytest.mark.parametrize("argv", [
    ["demo", "--nproc", "2", "--epochs", "1"],
    ["demo", "--nproc=2", "--epochs", "1"],
    ["demo", "--npr", "2", "--epochs", "1"],
])
def test_without_option_drops_the_option_and_its_value_in_every_spelling(argv):
    assert without_option(argv, "--nproc") == ["demo", "--epochs", "1"]


def test_nproc_launches_the_same_command_without_nproc_and_returns_its_exit_code(monkeypatch):
    launched = []

    def launch(nproc, arguments):
        launched.append((nproc, arguments))
        return 3

    monkeypatch.setattr(distributed, "launch", launch)
    assert cli.main(["demo", "--epochs", "1", "--nproc", "2", "--out", "somewhere"]) == 3
    assert launched == [(2, ["demo", "--epochs", "1", "--out", "somewhere"])]


def test_nproc_is_ignored_inside_a_torchrun_launch(monkeypatch, tmp_path):
    monkeypatch.setattr(distributed, "launch", lambda nproc, arguments: pytest.fail("launched again"))
    monkeypatch.setattr(distributed, "is_launched", lambda: True)
    monkeypatch.setattr(distributed, "is_main_process", lambda: True)
    # --resume on a folder without a run fails at once, after the decision to launch or not
    assert cli.main(["demo", "--nproc", "2", "--resume", "--out", str(tmp_path)]) == 2


def test_nproc_propagates_the_exit_code_of_the_processes(tmp_path):
    # Both processes find nothing to resume and exit with 2, which `rnnkit` returns.
    environment = {**os.environ, "KERAS_BACKEND": "torch", "OMP_NUM_THREADS": "1"}
    finished = subprocess.run(
        [sys.executable, "-m", "rnnkit", "demo", "--nproc", "2", "--resume", "--out", str(tmp_path)],
        capture_output=True, text=True, env=environment, timeout=300,
    )
    assert finished.returncode == 2, finished.stderr[-3000:]
    assert "rnnkit: error: nothing to resume" in finished.stderr
    assert os.listdir(tmp_path) == []
