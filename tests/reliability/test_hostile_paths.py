"""Adversarial paths, times and option combinations found by the issue 11/12 audit: an input file
that lies in the folder a command writes (it would be replaced), a folder, FIFO or device given as
an input file, non-finite or huge numeric times, a series constant to float32, forecasting sizes
that would exhaust memory, a repeated --target, and bad --out folders for `forecast predict`. Each
is refused with exit code 2 and one line naming it, before anything is written, or handled; and
byte-order marks and file names that are not UTF-8 are read and printed as they are."""
import os
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import rnnkit  # noqa: E402
from rnnkit.cli import build_parser  # noqa: E402
from rnnkit.data.tables import Table, read_csv  # noqa: E402
from rnnkit.tasks.forecast import Forecaster, train_forecaster  # noqa: E402
from rnnkit.tasks.seq2seq import read_pairs  # noqa: E402
from rnnkit.tasks.textgen import read_text  # noqa: E402
from hostile import assert_refused, idx_file, labelled_file, run, tree  # noqa: E402

SERIES = "t,v\n" + "".join(f"{i},{np.sin(i / 3) + 0.01 * i:.4f}\n" for i in range(80))
TINY_FORECASTER = ["--epochs", "1", "--members", "1", "--units", "4", "--quiet"]


@pytest.fixture(scope="module")
def forecaster(tmp_path_factory):
    """A one-epoch forecaster trained on SERIES, and the folder holding its model."""
    folder = tmp_path_factory.mktemp("forecaster")
    (folder / "series.csv").write_text(SERIES)
    code, _, errors = run(["forecast", "train", "--csv", folder / "series.csv", "--target", "v", "--out",
                           folder / "run"] + TINY_FORECASTER)
    assert code == 0, errors
    return folder / "run" / "model.rnnkit"


# ------------------------------------------------------------------- inputs in the folder written to
def _training_commands(folder, out):
    """Each training command with its input files inside `out` under the names the run writes."""
    return {
        "forecast": ["forecast", "train", "--csv", out / "history.csv", "--target", "v", "--out", out]
        + TINY_FORECASTER,
        "backtest": ["forecast", "backtest", "--csv", out / "backtest.csv", "--target", "v", "--out", out]
        + TINY_FORECASTER,
        "classify": ["classify", "train", "--data", out / "metrics.json", "--out", out, "--epochs", "1"],
        "textgen": ["textgen", "train", "--text", out / "backup" / "chars.txt", "--out", out, "--epochs", "1"],
        "seq2seq": ["seq2seq", "train", "--pairs", folder / "pairs.tsv", "--test-pairs", out / "history.csv",
                    "--out", out, "--epochs", "1"],
        "rows": ["rows", "train", "--images", folder / "images.idx", "--labels", out / "model.rnnkit", "--out",
                 out, "--epochs", "1"],
    }


@pytest.mark.parametrize("command", ["forecast", "backtest", "classify", "textgen", "seq2seq", "rows"])
def test_an_input_inside_the_training_out_folder_is_refused_and_kept(tmp_path, command):
    out = tmp_path / "run"
    (out / "backup").mkdir(parents=True)
    for path in (out / "history.csv", out / "backtest.csv", out / "backup" / "chars.txt", tmp_path / "pairs.tsv"):
        path.write_text(SERIES)  # refused before it is read, so what it holds does not matter
    labelled_file(out / "metrics.json")
    idx_file(tmp_path / "images.idx", np.zeros((12, 4, 4), np.uint8))
    idx_file(out / "model.rnnkit", np.arange(12) % 3)
    before = tree(tmp_path)
    argv = _training_commands(tmp_path, out)[command]
    inside = next(str(arg) for arg in argv if str(arg).startswith(str(out) + os.sep))
    assert_refused(run(argv), inside, "--out")
    assert tree(tmp_path) == before


def test_forecast_predict_refuses_to_write_its_forecast_over_its_input(forecaster, tmp_path):
    data = tmp_path / "forecast.csv"
    data.write_text(SERIES)
    assert_refused(run(["forecast", "predict", forecaster, "--csv", data, "--steps", "1", "--out", tmp_path]),
                   str(data))
    assert data.read_text() == SERIES


def test_an_input_beside_the_out_folder_is_fine(forecaster, tmp_path):
    (tmp_path / "data.csv").write_text(SERIES)
    code, _, errors = run(["forecast", "predict", forecaster, "--csv", tmp_path / "data.csv", "--steps", "1",
                           "--out", tmp_path])
    assert code == 0, errors
    assert (tmp_path / "data.csv").read_text() == SERIES and (tmp_path / "forecast.csv").exists()


@pytest.mark.parametrize("out, named", [("", "''"), ("notes.txt", "is a file"), ("link", "does not exist")])
def test_forecast_predict_refuses_a_bad_out_naming_it(forecaster, tmp_path, monkeypatch, out, named):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text(SERIES)
    (tmp_path / "notes.txt").write_text("mine")
    os.symlink(tmp_path / "missing", tmp_path / "link")
    assert_refused(run(["forecast", "predict", forecaster, "--csv", "data.csv", "--steps", "1", "--out", out]),
                   "output folder", named)
    assert (tmp_path / "notes.txt").read_text() == "mine" and not (tmp_path / "missing").exists()


# ------------------------------------------------------------------------ not a file given as a file
@pytest.mark.parametrize("kind, named", [("folder", "is a folder"), ("fifo", "not a regular file"),
                                         ("device", "not a regular file")])
def test_a_folder_fifo_or_device_as_an_input_file_is_refused_saying_what_it_is(tmp_path, kind, named):
    path = {"folder": tmp_path, "fifo": tmp_path / "pipe", "device": "/dev/null"}[kind]
    if kind == "fifo":
        os.mkfifo(path)  # reading it would block until a writer came
    for argv in (["forecast", "train", "--csv", path, "--target", "v", "--out", tmp_path / "run"],
                 ["classify", "train", "--data", path, "--out", tmp_path / "run"], ["info", path]):
        assert_refused(run(argv), str(path), named)
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------------------------------- times
@pytest.mark.parametrize("cell", ["nan", "inf", "-Infinity", "1e306", "1e400"])
def test_a_numeric_time_that_is_not_finite_or_is_huge_is_refused_naming_its_line(tmp_path, cell):
    lines = [f"{i},{i % 7}" for i in range(30)]
    lines[20] = f"{cell},3"
    path = tmp_path / "series.csv"
    path.write_text("t,v\n" + "\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=rf"line 22, time column 't': '{cell}' is not a time"):
        read_csv(path, time_column="t")


def test_a_nan_time_is_refused_by_forecast_train_before_training(tmp_path):
    path = tmp_path / "series.csv"
    path.write_text(SERIES.replace("\n40,", "\nnan,"))
    assert_refused(run(["forecast", "train", "--csv", path, "--target", "v", "--time-col", "t", "--out",
                        tmp_path / "run"] + TINY_FORECASTER), str(path), "line 42")
    assert not (tmp_path / "run" / "model.rnnkit").exists()


# ------------------------------------------------------------------------------------ series, sizes
def test_a_series_constant_to_float32_is_refused_as_constant():
    values = np.where(np.arange(60) % 2, -0.0, 1e-320)  # distinct in float64, all 0 in float32
    with pytest.raises(ValueError, match="is constant"):
        train_forecaster(values, horizon=2, epochs=1, members=1)


@pytest.mark.parametrize("option, value", [("--units", 10**8), ("--layers", 2**31 - 1), ("--members", 10**7),
                                           ("--members", 0), ("--layers", 0)])
@pytest.mark.parametrize("action", ["train", "backtest"])
def test_forecast_sizes_that_would_exhaust_memory_are_refused_at_parse_time(tmp_path, action, option, value):
    (tmp_path / "series.csv").write_text(SERIES)
    out = tmp_path / "run"
    assert_refused(run(["forecast", action, "--csv", tmp_path / "series.csv", "--target", "v", "--out", out,
                        option, value]), option)
    assert not out.exists()


def test_a_repeated_target_or_data_option_adds_to_the_list_rather_than_replacing_it(tmp_path):
    first, second = tmp_path / "x.txt", tmp_path / "y.txt"
    first.write_text("a")
    second.write_text("b")
    args = build_parser().parse_args(["forecast", "train", "--csv", str(first), "--target", "a", "--target", "b",
                                      "c", "--features", "d", "--features", "e"])
    assert args.target == ["a", "b", "c"] and args.features == ["d", "e"]
    args = build_parser().parse_args(["classify", "train", "--data", str(first), "--data", str(second)])
    assert args.data == [str(first), str(second)]


# ------------------------------------------------------------------------------------ text encodings
def test_a_byte_order_mark_is_not_read_as_a_character_of_a_text_or_pair(tmp_path):
    (tmp_path / "text.txt").write_text("\ufeffhello world", encoding="utf-8")
    (tmp_path / "pairs.tsv").write_text("\ufeff1+1\t2\n2+2\t4\n", encoding="utf-8")
    (tmp_path / "mark.txt").write_text("\ufeff", encoding="utf-8")
    assert read_text(tmp_path / "text.txt") == "hello world"
    assert read_pairs(tmp_path / "pairs.tsv") == [("1+1", "2"), ("2+2", "4")]
    with pytest.raises(ValueError, match="is empty"):
        read_text(tmp_path / "mark.txt")


def test_a_file_name_that_is_not_utf8_is_printed_as_it_is_not_as_an_encoding_error(tmp_path):
    name = os.fsencode(tmp_path) + b"/\xff\xfe.csv"
    with open(name, "w") as file:
        file.write("t,v\n" + "".join(f"{i},5\n" for i in range(30)))  # constant: refused right after the print
    process = subprocess.run([sys.executable, "-m", "rnnkit", "forecast", "train", "--csv", name, "--target", "v",
                              "--out", tmp_path / "run"], capture_output=True,
                             env={**os.environ, "PYTHONIOENCODING": "utf-8:strict"})
    assert process.returncode == 2 and b"\xff\xfe.csv" in process.stdout, process.stderr
    assert process.stderr.decode().count("\n") == 1 and "is constant" in process.stderr.decode()


def test_a_long_recursive_forecast_takes_time_linear_in_its_steps(forecaster):
    model = Forecaster(forecaster)
    model.predict_at = lambda values, origins: np.zeros((1, model.horizon, 1))  # the network's cost aside
    start = time.perf_counter()
    predicted = model.forecast(np.ones((80, 1)), 50_000, method="recursive")
    assert len(predicted) == 50_000
    assert time.perf_counter() - start < 10  # summing the blocks at each step took minutes


def test_the_training_file_given_again_as_test_csv_is_refused_before_training(tmp_path):
    (tmp_path / "series.csv").write_text(SERIES)
    (tmp_path / "copy.csv").write_text(SERIES)
    for test_file in ("series.csv", "copy.csv"):  # without a time column nothing else tells them apart
        assert_refused(run(["forecast", "train", "--csv", tmp_path / "series.csv", "--test-csv", tmp_path / test_file,
                            "--target", "v", "--out", tmp_path / "run"] + TINY_FORECASTER), "the same rows")
    assert not (tmp_path / "run" / "model.rnnkit").exists()


def test_rows_refuses_test_images_that_are_the_training_images_and_a_file_without_images(tmp_path):
    idx_file(tmp_path / "images.idx", np.arange(12 * 16).reshape(12, 4, 4) % 251)
    idx_file(tmp_path / "labels.idx", np.arange(12) % 3)
    idx_file(tmp_path / "none.idx", np.zeros((0, 4, 4), np.uint8))
    idx_file(tmp_path / "no_labels.idx", np.zeros(0, np.uint8))
    same = ["--test-images", tmp_path / "images.idx", "--test-labels", tmp_path / "labels.idx"]
    assert_refused(run(["rows", "train", "--images", tmp_path / "images.idx", "--labels", tmp_path / "labels.idx",
                        "--out", tmp_path / "run"] + same), "the same images")
    assert_refused(run(["rows", "train", "--images", tmp_path / "none.idx", "--labels", tmp_path / "no_labels.idx",
                        "--out", tmp_path / "run"]), "none.idx", "holds no images")
    assert not (tmp_path / "run" / "model.rnnkit").exists()


def test_forecast_predict_prints_the_interval_level_as_typed(forecaster, tmp_path):
    (tmp_path / "data.csv").write_text(SERIES)
    code, printed, errors = run(["forecast", "predict", forecaster, "--csv", tmp_path / "data.csv", "--steps", "1",
                                 "--interval", "0.9999", "--out", tmp_path])
    assert code == 0, errors
    assert "99.99% intervals" in printed and "100%" not in printed


@pytest.mark.parametrize("line_end", ["\r", "\r\n"])
def test_a_csv_with_carriage_return_line_ends_is_read_row_by_row(tmp_path, line_end):
    path = tmp_path / "series.csv"
    path.write_bytes(SERIES.replace("\n", line_end).encode())
    table = read_csv(path, time_column="t")
    assert len(table) == 80 and table["v"][1] == pytest.approx(np.sin(1 / 3) + 0.01, abs=1e-4)


@pytest.mark.parametrize("data, named", [
    (np.arange(60) * (1 + 1j), "data holds complex numbers"),
    ({"v": np.arange(60) * 1j}, "column 'v' of data holds complex numbers"),
    (Table.from_array, "the array holds complex numbers"),
])
def test_a_complex_series_is_refused_not_cast_to_its_real_part(data, named):
    call = (lambda: data(np.arange(60) * (1 + 1j))) if callable(data) else (
        lambda: train_forecaster(data, horizon=1, epochs=1, members=1))
    with pytest.raises(ValueError, match=named):
        call()


def test_a_labelled_file_of_only_tabs_and_blanks_says_so(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("\t\t\n \t\n" * 5)
    assert_refused(run(["classify", "train", "--data", path, "--out", tmp_path / "run"]), str(path),
                   "only spaces, tabs and line breaks")


@pytest.mark.parametrize("load", ["load_model", "load_keras"])
@pytest.mark.parametrize("kind, error, named", [("folder", IsADirectoryError, "is a folder"),
                                                ("device", OSError, "not a regular file")])
def test_a_folder_or_device_given_to_a_model_loader_is_named_as_such(tmp_path, load, kind, error, named):
    path = tmp_path if kind == "folder" else "/dev/null"
    loader = rnnkit.load_model if load == "load_model" else rnnkit.io.load_keras
    with pytest.raises(error, match=named):
        loader(path)
