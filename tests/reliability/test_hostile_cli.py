"""Adversarial inputs to every `rnnkit` command, run in-process: numbers out of range, bad output
folders, two runs into one folder, resumes that do not match, and the printed `next:` lines. Each
is refused with exit code 2 and one line naming the input, before any training, or handled."""
import json
import os
import shlex
import signal
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hostile import assert_refused, idx_file, labelled_file, run, tree  # noqa: E402

TINY_CLASSIFIER = ["--epochs", "1", "--units", "4", "--embedding-dim", "4", "--batch-size", "8", "--quiet"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile_cli")
    labelled_file(folder / "texts.txt")
    (folder / "pairs.tsv").write_text("".join(f"{i}+{i}\t{2 * i}\n" for i in range(40)), encoding="utf-8")
    (folder / "chars.txt").write_text("abcabcabd " * 60, encoding="utf-8")
    (folder / "series.csv").write_text("t,v\n" + "".join(f"{i},{np.sin(i / 3):.4f}\n" for i in range(80)))
    idx_file(folder / "images.idx", np.zeros((12, 4, 4), np.uint8))
    idx_file(folder / "labels.idx", np.arange(12) % 3)
    return folder


# ------------------------------------------------------------------ numbers out of range, at parse time
def _commands(files, out):
    return {
        "classify": ["classify", "train", "--data", files / "texts.txt", "--out", out],
        "textgen": ["textgen", "train", "--text", files / "chars.txt", "--out", out],
        "seq2seq": ["seq2seq", "train", "--pairs", files / "pairs.tsv", "--out", out],
        "addition": ["seq2seq", "addition", "--out", out],
        "rows": ["rows", "train", "--images", files / "images.idx", "--labels", files / "labels.idx", "--out", out],
        "forecast": ["forecast", "train", "--csv", files / "series.csv", "--target", "v", "--out", out],
    }


OUT_OF_RANGE = [
    ("classify", "--learning-rate", "1e300"),
    ("classify", "--learning-rate", "inf"),
    ("classify", "--learning-rate", "nan"),
    ("classify", "--learning-rate", "-0.1"),
    ("classify", "--learning-rate", "0"),
    ("classify", "--seed", str(2**64 + 1)),
    ("classify", "--seed", "-1"),
    ("classify", "--seed", "1.5"),
    ("classify", "--units", str(10**12)),
    ("classify", "--units", "0"),
    ("classify", "--embedding-dim", str(2**40)),
    ("classify", "--max-tokens", str(10**15)),
    ("classify", "--batch-size", str(2**62)),
    ("classify", "--epochs", str(2**70)),
    ("classify", "--epochs", "-3"),
    ("classify", "--dropout", "1"),
    ("classify", "--dropout", "nan"),
    ("classify", "--test-size", "1e-400"),
    ("classify", "--test-size", "1"),
    ("classify", "--sequence-length", "0"),
    ("textgen", "--learning-rate", "1e300"),
    ("textgen", "--units", str(2**31)),
    ("textgen", "--embedding-dim", "0"),
    ("textgen", "--seq-len", str(2**63)),
    ("textgen", "--sample-length", "-5"),
    ("textgen", "--sample-length", str(10**9)),
    ("textgen", "--seed", str(2**32)),
    ("textgen", "--minutes", "-1"),
    ("textgen", "--weight-decay", "inf"),
    ("seq2seq", "--learning-rate", "1e300"),
    ("seq2seq", "--learning-rate", "-1"),
    ("seq2seq", "--units", str(10**9)),
    ("seq2seq", "--test-fraction", "2"),
    ("addition", "--digits", "19"),
    ("addition", "--digits", "0"),
    ("addition", "--train-size", str(2**64)),
    ("addition", "--learning-rate", "1e300"),
    ("rows", "--learning-rate", "1e300"),
    ("rows", "--learning-rate", "nan"),
    ("rows", "--test-size", "0"),
    ("rows", "--seed", str(-(2**70))),
    ("forecast", "--seed", str(2**64)),
    ("forecast", "--learning-rate", "1e300"),
    ("forecast", "--learning-rate", "-inf"),
    ("forecast", "--window", "0"),
    ("forecast", "--epochs", str(2**40)),
]


@pytest.mark.parametrize("command, option, value", OUT_OF_RANGE)
def test_an_out_of_range_number_is_refused_naming_the_option_before_training(files, tmp_path, command, option,
                                                                             value):
    out = tmp_path / "run"
    result = run(_commands(files, out)[command] + [option, value])
    assert_refused(result, option)
    assert not out.exists()  # refused before the output folder was made


@pytest.mark.parametrize("argv, option", [
    (["textgen", "sample", "MODEL", "--prompt", "a", "--seed", str(2**64)], "--seed"),
    (["textgen", "sample", "MODEL", "--prompt", "a", "--length", "0"], "--length"),
    (["textgen", "sample", "MODEL", "--prompt", "a", "--length", str(2**64)], "--length"),
    (["textgen", "sample", "MODEL", "--prompt", "a", "--temperature", "-1"], "--temperature"),
    (["textgen", "sample", "MODEL", "--prompt", "a", "--temperature", "inf"], "--temperature"),
    (["textgen", "sample", "MODEL", "--prompt", "a", "--top-k", "0"], "--top-k"),
    (["forecast", "predict", "MODEL", "--csv", "MODEL", "--steps", "0"], "--steps"),
    (["forecast", "predict", "MODEL", "--csv", "MODEL", "--steps", str(2**64)], "--steps"),
])
def test_an_out_of_range_number_for_a_saved_model_is_refused_naming_the_option(files, argv, option):
    argv = [str(files / "texts.txt") if arg == "MODEL" else arg for arg in argv]
    assert_refused(run(argv), option)


# ------------------------------------------------------------------------------------ output folders
def test_an_empty_out_is_refused(files):
    assert_refused(run(_commands(files, "")["classify"] + TINY_CLASSIFIER), "--out")


def test_a_blank_out_is_refused(files):
    assert_refused(run(_commands(files, "   ")["classify"] + TINY_CLASSIFIER), "'   '")


def test_a_dangling_symlink_as_out_is_refused_naming_its_target(files, tmp_path):
    link = tmp_path / "link"
    os.symlink(tmp_path / "missing" / "target", link)
    assert_refused(run(_commands(files, link)["classify"] + TINY_CLASSIFIER), str(link), "missing")
    assert os.path.islink(link) and not (tmp_path / "missing").exists()


def test_a_file_as_out_is_refused_and_left_alone(files, tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    assert_refused(run(_commands(files, target)["classify"] + TINY_CLASSIFIER), str(target))
    assert target.read_text() == "mine"


def test_an_out_below_a_file_is_refused_naming_it(files, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    out = tmp_path / "notes.txt" / "run"
    assert_refused(run(_commands(files, out)["classify"] + TINY_CLASSIFIER), str(out))


def test_a_read_only_out_is_refused_before_the_first_epoch(files, tmp_path, monkeypatch):
    out = tmp_path / "run"
    out.mkdir()
    real_access = os.access
    # As root every folder is writable, so the answer of the permission check is what is replaced here
    monkeypatch.setattr(os, "access", lambda path, mode: False if os.fspath(path) == str(out) else real_access(path, mode))
    code, printed, errors = run(_commands(files, out)["classify"] + TINY_CLASSIFIER)
    assert_refused((code, printed, errors), str(out), "not writable")
    assert "accuracy" not in printed and os.listdir(out) == []


def test_a_second_run_into_a_folder_in_use_is_refused_naming_the_holder(files, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time; d = os.open(sys.argv[1], os.O_RDONLY); "
         "fcntl.flock(d, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)", str(out)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = run(_commands(files, out)["classify"] + TINY_CLASSIFIER)
        assert_refused(result, str(out), "in use", f"process {holder.pid}")
        assert os.listdir(out) == []
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_of_a_killed_run_does_not_block_the_next_one(files, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time; d = os.open(sys.argv[1], os.O_RDONLY); "
         "fcntl.flock(d, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)", str(out)],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()  # SIGKILL: no chance to unlock
    holder.wait()
    code, _, errors = run(_commands(files, out)["classify"] + TINY_CLASSIFIER)
    assert code == 0, errors


def test_an_interrupted_command_ends_with_one_line_and_code_130_and_can_resume(files, tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "rnnkit", "classify", "train", "--data", str(files / "texts.txt"), "--out",
               str(out), "--epochs", "1000000", "--units", "4", "--embedding-dim", "4", "--batch-size", "8"]
    # A test run started in the background by a shell inherits SIGINT ignored, and so would the command
    # (Python keeps an ignored SIGINT ignored): give it the default disposition a terminal gives.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    backup = out / "backup" / "training.json"
    deadline = time.monotonic() + 120
    while not backup.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, errors = process.communicate(timeout=60)
    assert process.returncode == 130 and errors.strip().splitlines()[-1] == "rnnkit: interrupted", errors
    assert "Traceback" not in errors
    done = json.loads(backup.read_text())["epoch"] + 1
    more = ["--epochs", str(done + 2), "--resume"]
    code, printed, errors = run(_commands(files, out)["classify"] + TINY_CLASSIFIER + more)
    assert code == 0, errors
    assert (out / "model.rnnkit").exists() and not (out / "backup").exists()


def test_a_training_command_writes_nothing_outside_its_out_nor_into_its_inputs(files, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = tree(files)
    assert run(_commands(files, "run")["classify"] + TINY_CLASSIFIER)[0] == 0
    assert tree(files) == before
    assert sorted(os.listdir(tmp_path)) == ["run"]


# ------------------------------------------------------------------------------------ resume
def _make_unfinished(out):
    """Turns a finished run folder into an unfinished one: a one-epoch run's backup kept."""
    import rnnkit

    backup = out / "backup"
    model = rnnkit.load_model(out / "model.rnnkit")
    callback = rnnkit.callbacks.BackupAndRestore(backup, delete_checkpoint=False)
    callback.set_model(model)
    callback.on_train_begin()
    callback.on_epoch_end(0, {"loss": 1.0})
    return backup


def test_resume_with_other_model_options_names_the_option_that_differs(files, tmp_path):
    out = tmp_path / "run"
    assert run(_commands(files, out)["classify"] + TINY_CLASSIFIER)[0] == 0
    _make_unfinished(out)
    command = _commands(files, out)["classify"] + TINY_CLASSIFIER
    command[command.index("--units") + 1] = "6"
    assert_refused(run(command + ["--resume"]), "units", "4 in the backup, 6 now")


def test_resume_with_a_truncated_backup_names_the_file(files, tmp_path):
    out = tmp_path / "run"
    assert run(_commands(files, out)["classify"] + TINY_CLASSIFIER)[0] == 0
    backup = _make_unfinished(out)
    model_file = backup / "epoch_000000.rnnkit"
    model_file.write_bytes(model_file.read_bytes()[:300])
    assert_refused(run(_commands(files, out)["classify"] + TINY_CLASSIFIER + ["--resume"]), str(model_file))


def test_resume_with_a_truncated_backup_record_names_the_file(files, tmp_path):
    out = tmp_path / "run"
    assert run(_commands(files, out)["classify"] + TINY_CLASSIFIER)[0] == 0
    backup = _make_unfinished(out)
    record = backup / "training.json"
    record.write_text(record.read_text()[:40])
    assert_refused(run(_commands(files, out)["classify"] + TINY_CLASSIFIER + ["--resume"]), str(record))


# --------------------------------------------------------------------------------- printed commands
@pytest.mark.parametrize("folder", ["my runs", "it's $HOME", "a;rm -rf x"])
def test_the_printed_next_command_is_shell_quoted(files, tmp_path, folder):
    out = tmp_path / folder
    code, printed, errors = run(_commands(files, out)["classify"] + TINY_CLASSIFIER)
    assert code == 0, errors
    assert sorted(os.listdir(tmp_path)) == [folder]  # nothing written beside --out
    line = next(line for line in printed.splitlines() if line.startswith("next: "))
    words = shlex.split(line[len("next: "):])
    assert words[:3] == ["rnnkit", "classify", "predict"] and words[3] == str(out / "model.rnnkit")


# ------------------------------------------------------------------------------------ broken pipe
def test_a_closed_pipe_ends_quietly(files, tmp_path):
    """`rnnkit classify predict ... | head -c 10`: the reader leaves early; no traceback, no error line."""
    out = tmp_path / "run"
    assert run(_commands(files, out)["classify"] + TINY_CLASSIFIER)[0] == 0
    (tmp_path / "many.txt").write_text("good item\n" * 30000, encoding="utf-8")  # far more than a pipe holds
    command = (f"{shlex.quote(sys.executable)} -m rnnkit classify predict {shlex.quote(str(out / 'model.rnnkit'))} "
               f"--file {shlex.quote(str(tmp_path / 'many.txt'))} | head -c 10")
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=120)
    assert len(done.stdout) == 10
    assert done.stderr == "", done.stderr
    assert done.returncode == 141  # as a command ended by SIGPIPE
