"""`rnnkit forecast train|predict|backtest` end to end on a tiny generated CSV."""
import csv

import numpy as np
import pytest

from rnnkit.cli import main

FAST = ["--window", "5", "--units", "4", "--epochs", "1", "--members", "2", "--quiet"]


@pytest.fixture(scope="module")
def prices(tmp_path_factory):
    """A CSV as exported by a spreadsheet: US dates, a header with stray spaces, quoted thousands."""
    path = tmp_path_factory.mktemp("data") / "prices.csv"
    days = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + 120)
    price = 1000 + 50 * np.sin(np.arange(120) * 0.2)
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["Date", " Price", " Volume "])
        for day, value in zip(days, price):
            date = day.item()
            writer.writerow([f"{date.month}/{date.day}/{date.year}", f"{value:,.2f}", f"{int(value) * 1000:,}"])
    return path


@pytest.fixture(scope="module")
def trained(prices, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    code = main(["forecast", "train", "--csv", str(prices), "--target", "Price", "--features", "Volume",
                 "--time-col", "Date", "--season", "7", "--horizon", "3", "--out", str(out)] + FAST)
    return code, out


def test_train_writes_the_model_metrics_history_and_plots(trained):
    code, out = trained
    assert code == 0
    for name in ("model.rnnkit", "metrics.json", "history.csv", "history.png", "test_predictions.png"):
        assert (out / name).stat().st_size > 0


def test_train_prints_the_test_metrics_beside_the_baselines(prices, tmp_path, capsys):
    assert main(["forecast", "train", "--csv", str(prices), "--target", "Price", "--time-col", "Date",
                 "--season", "7", "--out", str(tmp_path)] + FAST) == 0
    out = capsys.readouterr().out
    assert "MAE" in out and "MASE" in out and "persistence" in out and "seasonal naive (7)" in out
    assert any(f"the model {verdict} persistence" in out for verdict in ("beats", "is on par with", "is worse than"))
    assert "derived from the series (set them to override): test 12 rows, validation 12 rows, batch 22" in out


def test_predict_writes_a_dated_forecast_csv_in_the_models_folder(trained, prices, capsys):
    _, out = trained
    assert main(["forecast", "predict", str(out / "model.rnnkit"), "--csv", str(prices), "--steps", "3",
                 "--method", "direct"]) == 0
    with open(out / "forecast.csv") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["Date", "Price"] and [row[0] for row in rows[1:]] == ["2020-04-30", "2020-05-01", "2020-05-02"]
    assert (out / "forecast.png").stat().st_size > 0
    assert "2020-05-02" in capsys.readouterr().out


def test_predict_recursively_with_a_feature_input_is_a_one_line_error(trained, prices, tmp_path, capsys):
    _, out = trained
    assert main(["forecast", "predict", str(out / "model.rnnkit"), "--csv", str(prices), "--steps", "2",
                 "--method", "recursive", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnkit: error: recursive forecasting") and err.count("\n") == 1


def test_predict_further_than_the_horizon_directly_is_a_one_line_error(trained, prices, tmp_path, capsys):
    _, out = trained
    assert main(["forecast", "predict", str(out / "model.rnnkit"), "--csv", str(prices), "--steps", "10",
                 "--method", "direct", "--out", str(tmp_path)]) == 2
    assert "--horizon 10" in capsys.readouterr().err


def test_a_gap_in_the_csv_is_a_one_line_error_naming_line_and_column(tmp_path, capsys):
    path = tmp_path / "gap.csv"
    path.write_text("t,y\n" + "".join(f"{i},{i % 7}\n" for i in range(30)) + "30,\n")
    assert main(["forecast", "train", "--csv", str(path), "--target", "y", "--out", str(tmp_path / "r")] + FAST) == 2
    err = capsys.readouterr().err
    assert "line 32, column 'y': empty cell (a gap in the data)" in err and err.count("\n") == 1


def test_a_missing_target_column_is_a_one_line_error_listing_the_columns(prices, tmp_path, capsys):
    assert main(["forecast", "train", "--csv", str(prices), "--target", "price", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "column 'price' (did you mean 'Price'?) not found" in err and "'Volume'" in err


def test_test_csv_and_test_size_together_are_refused(prices, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["forecast", "train", "--csv", str(prices), "--target", "Price", "--test-csv", str(prices),
              "--test-size", "0.1"])
    assert exit.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_an_unknown_model_suggests_the_closest(prices, capsys):
    with pytest.raises(SystemExit):
        main(["forecast", "train", "--csv", str(prices), "--target", "Price", "--model", "lstn"])
    assert "did you mean 'lstm'?" in capsys.readouterr().err


@pytest.mark.parametrize("action", ["train", "predict"])
def test_help_shows_examples(action, capsys):
    with pytest.raises(SystemExit):
        main(["forecast", action, "--help"])
    assert "examples:\n  " in capsys.readouterr().out


def test_predict_with_an_interval_writes_lower_and_upper_bounds(trained, prices, tmp_path, capsys):
    _, out = trained
    assert main(["forecast", "predict", str(out / "model.rnnkit"), "--csv", str(prices), "--steps", "3",
                 "--interval", "0.8", "--out", str(tmp_path)]) == 0
    with open(tmp_path / "forecast.csv") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["Date", "Price", "Price_lower", "Price_upper"] and len(rows) == 4
    assert all(float(low) <= float(mid) <= float(high) for _, mid, low, high in rows[1:])
    assert "direct, 80% intervals" in capsys.readouterr().out


def test_backtest_prints_every_fold_the_overall_scores_and_the_interval_coverage(prices, tmp_path, capsys):
    assert main(["forecast", "backtest", "--csv", str(prices), "--target", "Price", "--time-col", "Date",
                 "--horizon", "5", "--season", "7", "--folds", "2", "--out", str(tmp_path)] + FAST) == 0
    out = capsys.readouterr().out
    assert "fold 2 (from 2020-04-25)" in out and "overall" in out and "80% prediction intervals covered" in out
    assert (tmp_path / "backtest.png").stat().st_size > 0 and (tmp_path / "backtest.csv").stat().st_size > 0


@pytest.mark.parametrize("rows, message", [
    ("".join(f"{i},4\n" for i in range(60)), "target 'y' of"),
    ("".join(f"{59 - i},{i % 7}\n" for i in range(60)), "line 3 (58) does not come after line 2 (59)"),
])
def test_a_constant_or_unsorted_series_is_a_one_line_error(rows, message, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("t,y\n" + rows)
    assert main(["forecast", "train", "--csv", str(path), "--target", "y", "--time-col", "t",
                 "--out", str(tmp_path / "r")] + FAST) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
