"""`rnnkit rows train` end to end on tiny IDX files written by the test."""
import gzip
import json
import struct

import numpy as np
import pytest

import rnnkit
from rnnkit.cli import main


def write_idx(path, array, compress=False):
    array = np.asarray(array, dtype=np.uint8)
    data = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data += array.tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)
    return str(path)


def digits(tmp_path, count=60, name="train", seed=0):
    """Images of 5 rows x 4 pixels whose bright half (top or bottom) is the label, as IDX files."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    images = rng.integers(0, 30, (count, 5, 4))
    images[labels == 0, :2] += 220
    images[labels == 1, 3:] += 220
    return (write_idx(tmp_path / f"{name}-images.gz", images, compress=True),
            write_idx(tmp_path / f"{name}-labels", labels))


def test_train_writes_the_run_files_and_a_one_screen_report(tmp_path, capsys):
    images, labels = digits(tmp_path)
    out = tmp_path / "run"
    code = main(["rows", "train", "--images", images, "--labels", labels, "--test-size", "20", "--model", "lstm",
                 "--learning-rate", "0.02", "--epochs", "4", "--batch-size", "8", "--quiet", "--out", str(out)])
    assert code == 0
    report = capsys.readouterr().out
    assert "40 training images" in report and "20 test images from the last 20 of" in report
    assert "5 steps of 4 pixels" in report and "lstm: test accuracy" in report and "per-class accuracy: 0:" in report
    for name in ("model.rnnkit", "metrics.json", "history.csv", "history.png", "confusion_matrix.png"):
        assert (out / name).is_file()
    assert f"wrote {out}: model.rnnkit, metrics.json, history.csv, history.png, confusion_matrix.png\n" in report
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["recipe"] == "lstm" and metrics["test_samples"] == 20 and metrics["epochs"] == 4
    assert rnnkit.load_model(out / "model.rnnkit").assets["pixel_scale"] == 255.0


def test_separate_test_files_are_used_whole(tmp_path, capsys):
    images, labels = digits(tmp_path, 24)
    test_images, test_labels = digits(tmp_path, 10, name="test", seed=1)
    code = main(["rows", "train", "--images", images, "--labels", labels, "--test-images", test_images,
                 "--test-labels", test_labels, "--epochs", "1", "--quiet", "--out", str(tmp_path / "run")])
    assert code == 0
    assert "24 training images" in capsys.readouterr().out
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test_samples"] == 10


def test_a_labels_file_of_another_length_is_a_one_line_error(tmp_path, capsys):
    images, _ = digits(tmp_path, 12)
    labels = write_idx(tmp_path / "short-labels", np.zeros(11))
    assert main(["rows", "train", "--images", images, "--labels", labels, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnkit: error: ") and "holds 12 samples but" in err and err.count("\n") == 1


def test_a_file_that_is_not_idx_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "images.csv"
    bad.write_text("1,2,3\n")
    _, labels = digits(tmp_path, 3)
    assert main(["rows", "train", "--images", str(bad), "--labels", labels, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "images.csv' is not an IDX file" in err and err.count("\n") == 1


def test_labels_given_as_images_are_refused(tmp_path, capsys):
    _, labels = digits(tmp_path, 8)
    assert main(["rows", "train", "--images", labels, "--labels", labels, "--out", str(tmp_path / "run")]) == 2
    assert "expected images (samples, rows, columns)" in capsys.readouterr().err


def test_test_images_without_test_labels_is_a_usage_error(tmp_path, capsys):
    images, labels = digits(tmp_path, 8)
    code = main(["rows", "train", "--images", images, "--labels", labels, "--test-images", images,
                 "--out", str(tmp_path / "run")])
    assert code == 2
    assert "--test-images and --test-labels go together" in capsys.readouterr().err


def test_a_test_size_as_large_as_the_data_is_refused(tmp_path, capsys):
    images, labels = digits(tmp_path, 8)
    code = main(["rows", "train", "--images", images, "--labels", labels, "--test-size", "8",
                 "--out", str(tmp_path / "run")])
    assert code == 2
    assert "--test-size 8 leaves no training image of the 8" in capsys.readouterr().err


def test_an_unknown_model_suggests_the_closest(tmp_path, capsys):
    images, labels = digits(tmp_path, 8)
    with pytest.raises(SystemExit) as exit:
        main(["rows", "train", "--images", images, "--labels", labels, "--model", "lstn"])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert "did you mean 'lstm'?" in err and err.count("\n") == 1


def test_help_shows_examples(capsys):
    with pytest.raises(SystemExit):
        main(["rows", "train", "--help"])
    assert "examples:\n  rnnkit rows train --images" in capsys.readouterr().out
