"""train_forecaster / forecast / backtest_forecaster: the forecasting task end to end on tiny generated series."""
import csv
import os

import numpy as np
import pytest

import rnnkit
from rnnkit.data import Table
from rnnkit.tasks.backtest import backtest_forecaster
from rnnkit.tasks.baselines import statistical_available
from rnnkit.tasks.forecast import (ForecastResult, Forecaster, build_forecaster, choose_defaults, forecast,
                                   plot_forecast, train_forecaster)

FAST = dict(window=8, units=4, epochs=2, batch_size=64, members=2, statistical=False, verbose=0)


def wave(rows=200, seed=0):
    t = np.arange(rows)
    return 5 + np.sin(t * 0.3) + 0.05 * np.random.default_rng(seed).standard_normal(rows)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("forecast")
    # the seasonal anchor (an option) here; the default anchor has its own tests
    return train_forecaster(wave(), season=21, predict="seasonal_change", test_size=0.2, validation_size=0.1,
                            out=out, **FAST), out


def test_the_report_scores_the_model_beside_persistence_and_seasonal_naive(trained):
    result, _ = trained
    scores = result.metrics["test"]["value"]
    assert set(scores) == {"model", "persistence", "seasonal_naive"}
    assert set(scores["model"]) == {"mae", "rmse", "mape", "smape", "mase"}
    report = result.report()
    assert "seasonal naive (21)" in report and "persistence: RMSE" in report and "Diebold-Mariano p" in report


def test_the_split_is_chronological_with_one_test_forecast_per_test_row(trained):
    result, _ = trained
    assert result.metrics["rows"] == {"train": 140, "validation": 20, "test": 40}
    # the first training forecast needs a season (21 rows) before it to measure its change from
    assert result.metrics["samples"] == {"train": 119, "validation": 20, "test": 40}
    np.testing.assert_array_equal(result.test_time[:, 0], np.arange(160, 200))
    np.testing.assert_allclose(result.actual[:, 0, 0], wave()[160:])


def test_the_scalers_are_fitted_on_the_training_rows_only():
    rising = np.arange(100.0)  # the test rows lie above every training row
    result = train_forecaster(rising, test_size=0.2, validation_size=0.1, scaler="minmax", **FAST)
    scaler = Forecaster(result.model).input_scaler
    np.testing.assert_allclose(scaler.inverse_transform(np.array([[0.0], [1.0]]))[:, 0], [0, 69])


def test_the_run_folder_holds_model_metrics_history_and_plots(trained):
    result, out = trained
    for name in ("model.rnnkit", "metrics.json", "history.csv", "history.png", "test_predictions.png"):
        assert os.path.getsize(out / name) > 0
    assert sorted(result.files) == ["history", "history_plot", "metrics", "model", "test_plot"]


def test_the_saved_model_forecasts_alone_as_the_trained_one(trained):
    result, out = trained
    loaded = Forecaster(str(out / "model.rnnkit"))
    np.testing.assert_allclose(loaded.predict_at(wave(), np.arange(160, 200)), result.predicted, rtol=1e-5)


def test_a_seasonal_model_that_outputs_zero_forecasts_the_value_a_season_before_plus_the_mean_change(trained):
    _, out = trained
    forecaster = Forecaster(str(out / "model.rnnkit"))
    assert forecaster.predict == "seasonal_change" and forecaster.season == 21
    forecaster.model.set_weights([np.zeros_like(w) for w in forecaster.model.get_weights()])
    series = wave()
    mean_change = forecaster.target_scaler.scale[0] * forecaster.change_scaler.offset[0]
    np.testing.assert_allclose(forecaster.predict_at(series, [50, 60])[:, 0, 0], series[[29, 39]] + mean_change)


def test_a_change_model_that_outputs_zero_forecasts_the_last_value_plus_the_mean_training_change():
    forecaster = Forecaster(train_forecaster(wave(), **{**FAST, "epochs": 1}).model)
    forecaster.model.set_weights([np.zeros_like(w) for w in forecaster.model.get_weights()])
    series = wave()
    mean_change = forecaster.target_scaler.scale[0] * forecaster.change_scaler.offset[0]
    np.testing.assert_allclose(forecaster.predict_at(series, [50, 60])[:, 0, 0], series[[49, 59]] + mean_change)


def test_window_scaling_makes_the_inputs_blind_to_the_level(trained):
    forecaster = Forecaster(trained[0].model)
    assert forecaster.scaler == "window"
    np.testing.assert_allclose(forecaster.network_inputs(wave() + 1e4, [50, 60]),
                               forecaster.network_inputs(wave(), [50, 60]), atol=1e-6)


def test_the_forecast_is_the_median_of_the_ensemble_members(trained):
    forecaster = Forecaster(trained[0].model)
    outputs = forecaster.model.predict(forecaster.network_inputs(wave(), [100]), verbose=0)  # (1, members)
    assert outputs.shape == (1, 2)
    change = forecaster.change_scaler.inverse_transform(np.median(outputs, axis=1, keepdims=True))[0, 0]
    expected = wave()[100 - 21] + forecaster.target_scaler.scale[0] * change
    np.testing.assert_allclose(forecaster.predict_at(wave(), [100])[0, 0, 0], expected, rtol=1e-5)


def test_recursive_forecasts_continue_the_series_step_by_step(trained):
    result, _ = trained
    history = Table({"value": wave()}, time=np.arange(200), time_column="t")
    ahead = forecast(result.model, history, steps=5)
    assert ahead.names == ["value"] and len(ahead) == 5
    np.testing.assert_array_equal(ahead.time, [200, 201, 202, 203, 204])
    forecaster = Forecaster(result.model)
    first = forecaster.predict_at(wave(), [200])[0, 0, 0]
    second = forecaster.predict_at(np.append(wave(), first), [201])[0, 0, 0]
    np.testing.assert_allclose(ahead["value"][:2], [first, second], rtol=1e-6)


def test_a_plain_array_continues_a_series_trained_from_named_columns():
    result = train_forecaster({"price": wave()}, **FAST)
    np.testing.assert_allclose(forecast(result.model, wave(), steps=2)["price"],
                               forecast(result.model, {"price": wave()}, steps=2)["price"])


def test_direct_forecasts_take_every_step_from_one_output():
    result = train_forecaster(wave(), horizon=3, **FAST)
    ahead = forecast(result.model, wave(), steps=3, method="direct")
    np.testing.assert_allclose(ahead["value"], Forecaster(result.model).predict_at(wave(), [200])[0, :, 0])
    assert result.metrics["test"]["value"]["model"]["rmse_by_step"].__len__() == 3


def test_direct_forecasting_beyond_the_horizon_says_to_train_longer(trained):
    with pytest.raises(ValueError, match=r"needs a model trained with a horizon of 5 or more \(--horizon 5\)"):
        forecast(trained[0].model, wave(), steps=5, method="direct")


def test_several_targets_and_a_feature_from_a_2d_array():
    rng = np.random.default_rng(1)
    data = np.stack([wave(), wave(seed=2) * 2, rng.standard_normal(200)], axis=1)
    result = train_forecaster(data, targets=[0, 1], features=[2], **FAST)
    assert result.predicted.shape == (20, 1, 2)  # the default test part: a tenth of the rows
    assert list(result.metrics["test"]) == ["0", "1"] and result.metrics["features"] == ["2"]
    with pytest.raises(ValueError, match=r"also reads \['2'\], which it does not predict; use --method direct"):
        forecast(result.model, data, steps=2)


def test_training_without_validation_keeps_the_last_epoch():
    result = train_forecaster(wave(), validation_size=0, **FAST)
    assert result.metrics["rows"]["validation"] == 0 and "val_loss" not in result.history.history


def test_test_data_windows_reach_back_into_the_training_rows():
    series = wave(230)
    result = train_forecaster(series[:200], test_data=series[200:], **FAST)
    assert result.metrics["samples"]["test"] == 30
    np.testing.assert_allclose(result.baselines["persistence"][0, 0, 0], series[199])


def test_test_data_that_does_not_follow_in_time_is_refused():
    train = Table({"x": wave(50)}, time=np.arange(50), time_column="t")
    test = Table({"x": wave(10)}, time=np.arange(40, 50), time_column="t")
    with pytest.raises(ValueError, match="starts at 40, not after the end"):
        train_forecaster(train, test_data=test, **FAST)


def test_a_window_longer_than_the_training_part_is_refused_with_advice():
    with pytest.raises(ValueError, match="training part has 24 rows: too few for one window of 30 rows"):
        train_forecaster(wave(30), **{**FAST, "window": 30})


def test_a_season_reaching_before_the_data_is_refused():
    with pytest.raises(ValueError, match="a season of 500 rows reaches before the first row"):
        train_forecaster(wave(), season=500, **FAST)


def test_a_missing_target_column_names_the_available_ones():
    with pytest.raises(ValueError, match="column 'price' not found in <array>; available columns: 'value'"):
        train_forecaster(wave(), targets=["price"], **FAST)


def test_an_unknown_recurrent_layer_names_the_choices():
    with pytest.raises(ValueError, match="choose from simple_rnn, lstm, gru"):
        build_forecaster(10, 1, 1, cell="transformer")


def test_the_seed_recipe_has_the_seed_models_parameter_count():
    assert build_forecaster(60, 1, 1, cell="lstm", units=50, layers=4, dropout=0.2).count_params() == 71051


def test_a_model_without_forecast_settings_is_not_a_forecaster():
    model = rnnkit.Sequential([rnnkit.Input((3, 1)), rnnkit.layers.Dense(1)])
    with pytest.raises(ValueError, match="is not a forecaster"):
        Forecaster(model)


def test_the_report_says_plainly_when_the_model_does_not_beat_a_baseline():
    scores = {"mae": 1.0, "rmse": 2.0, "mape": 1.0, "smape": 1.0, "mase": 1.0}
    metrics = {"test": {"y": {"model": scores, "persistence": {**scores, "rmse": 1.0}}}, "beats": {"persistence": False},
               "samples": {"test": 5}, "horizon": 1, "season": None}
    report = ForecastResult(None, None, metrics, None, None, {}, None).report()
    assert "the model is worse than persistence: RMSE 2.000 vs 1.000 (+100.0%)" in report
    assert "not clearly better than every baseline" in report


def test_the_report_calls_a_difference_within_noise_on_par():
    scores = {"mae": 1.0, "rmse": 1.0, "mape": 1.0, "smape": 1.0, "mase": 1.0}
    metrics = {"test": {"y": {"model": scores, "persistence": {**scores, "rmse": 1.003}}},
               "beats": {"persistence": False}, "p_values": {"y": {"persistence": 0.6}}, "samples": {"test": 5},
               "horizon": 1, "season": None}
    report = ForecastResult(None, None, metrics, None, None, {}, None).report()
    assert "the model is on par with persistence: RMSE 1.000 vs 1.003 (-0.3%; Diebold-Mariano p = 0.6)" in report


def test_defaults_are_derived_from_the_length_horizon_and_season():
    assert choose_defaults(100, horizon=10) == {"window": 20, "test_size": 10, "validation_size": 10,
                                                "batch_size": 16,
                                                "chosen": ["test_size", "validation_size", "window", "batch_size"]}
    assert choose_defaults(500, horizon=6, season=12, window=30)["window"] == 30
    assert choose_defaults(60, horizon=6, season=12)["window"] == 21  # two seasons would leave too few samples


def test_a_100_point_series_with_a_10_step_horizon_just_works_and_says_what_it_chose():
    result = train_forecaster(wave(100), horizon=10, units=4, epochs=1, members=1, statistical=False, verbose=0)
    assert result.metrics["chosen"] == {"test_size": 10, "validation_size": 10, "window": 20, "batch_size": 16}
    assert result.predicted.shape == (1, 10, 1) and result.metrics["samples"]["validation"] == 1


def test_early_stopping_ends_training_when_the_validation_loss_stops_improving():
    noise = np.random.default_rng(0).standard_normal(120)
    result = train_forecaster(noise, window=5, units=2, members=1, epochs=200, patience=1, statistical=False,
                              verbose=0)
    assert result.metrics["epochs"] < 200


def test_prediction_intervals_come_from_the_held_out_errors_and_enclose_the_forecast(trained):
    forecaster = Forecaster(trained[0].model)
    assert forecaster.residuals.shape == (60, 1, 1)  # 20 validation and 40 test forecasts
    assert forecaster.residual_scales.shape == (60, 1) and np.all(forecaster.residual_scales > 0)
    ahead = forecast(forecaster, wave(), steps=3, interval=0.8)
    assert ahead.names == ["value", "value_lower", "value_upper"]
    assert np.all(ahead["value_lower"] < ahead["value"]) and np.all(ahead["value"] < ahead["value_upper"])


def test_interval_bounds_are_the_split_conformal_order_statistics_of_the_errors(trained):
    forecaster = Forecaster(trained[0].model)
    # 101 errors -50..50 in data units (a model saved before normalised intervals): split conformal
    # takes the floor(102 * 0.1) = 10th and ceil(102 * 0.9) = 92nd smallest
    forecaster.residuals, forecaster.residual_scales = np.arange(-50.0, 51.0)[:, None, None], None
    lower, upper = forecaster.interval_at(np.zeros((2, 1)), 0.8)
    np.testing.assert_allclose(lower[:, 0], [-41, -41 * np.sqrt(2)])  # the 2nd step chains two horizons
    np.testing.assert_allclose(upper[:, 0], [41, 41 * np.sqrt(2)])


def test_interval_widths_follow_the_volatility_of_the_window_forecast_from(trained):
    forecaster = Forecaster(trained[0].model)
    # the same errors, each made from a window that moved 2 per row: ratios -25..25 (10th: -20.5)
    forecaster.residuals = np.arange(-50.0, 51.0)[:, None, None]
    forecaster.residual_scales = np.full((101, 1), 2.0)
    calm, wild = np.arange(30.0) * 0.5, np.arange(30.0) * 4.0  # windows moving 0.5 and 4 per row
    for history, step in ((calm, 0.5), (wild, 4.0)):
        lower, upper = forecaster.interval_at(np.zeros((1, 1)), 0.8, history)
        np.testing.assert_allclose([lower[0, 0], upper[0, 0]], [-20.5 * step, 20.5 * step])
    lower, upper = forecaster.interval_at(np.zeros((1, 1)), 0.8)  # no history: the held-out median, 2
    np.testing.assert_allclose([lower[0, 0], upper[0, 0]], [-41, 41])


def test_flat_windows_give_finite_intervals_that_are_not_zero_wide(trained):
    forecaster = Forecaster(trained[0].model)
    forecaster.residuals = np.arange(-50.0, 51.0)[:, None, None]
    forecaster.residual_scales = np.r_[np.zeros(50), np.full(51, 2.0)][:, None]  # half the windows flat
    lower, upper = forecaster.interval_at(np.zeros((1, 1)), 0.8, np.full(30, 7.0))  # from a flat window
    assert np.all(np.isfinite(lower)) and np.all(np.isfinite(upper)) and upper[0, 0] - lower[0, 0] > 0


def test_a_step_with_few_errors_pools_those_of_its_neighbouring_steps(trained):
    forecaster = Forecaster(trained[0].model)
    forecaster.horizon = 3
    # 7 forecasts: too few per step for an 80% interval; each step borrows from the others until 20
    forecaster.residuals = np.stack([np.full(7, -1.0), np.arange(-3.0, 4.0), np.full(7, 5.0)], axis=1)[..., None]
    forecaster.residual_scales = None
    lower, upper = forecaster.interval_at(np.zeros((3, 1)), 0.8)
    pooled = np.sort(forecaster.residuals[:, :, 0].ravel())  # 21 errors: the 2nd and 20th smallest
    np.testing.assert_allclose(lower[:, 0], pooled[1])
    np.testing.assert_allclose(upper[:, 0], pooled[19])


def test_80_percent_intervals_cover_about_80_percent_of_a_random_walk():
    walk = np.cumsum(np.random.default_rng(7).normal(0, 1, 700)) + 100
    horizon, last = 5, 600
    forecaster = Forecaster(train_forecaster(walk[:last], window=10, horizon=horizon, units=4, epochs=3,
                                             members=1, statistical=False, verbose=0).model)
    origins = np.arange(last, len(walk) - horizon + 1)
    predicted = forecaster.predict_at(walk, origins)
    inside = []
    for origin, ahead in zip(origins, predicted):
        lower, upper = forecaster.interval_at(ahead, 0.8, walk[:origin])
        actual = walk[origin:origin + horizon, None]
        inside.append((actual >= lower) & (actual <= upper))
    # 96 overlapping forecasts of 5 steps: the coverage of 480 points, whose spread is a few points
    assert 0.72 <= np.mean(inside) <= 0.9


def test_an_interval_level_outside_0_1_is_refused(trained):
    with pytest.raises(ValueError, match=r"interval level must be in \(0, 1\), e.g. 0.8, got 80"):
        forecast(trained[0].model, wave(), steps=1, interval=80)


@pytest.mark.parametrize("series, message", [
    (np.full(100, 3.0), r"target 'value' of <array> is constant \(3 in every row\)"),
    (np.r_[wave(99), 1e300], r"values up to 1e\+300, too large to score"),
    (wave(12), r"training part has 10 rows: too few for one window of 10 rows plus 1 ahead"),
])
def test_bad_series_are_refused_in_one_line(series, message):
    with pytest.raises(ValueError, match=message) as error:
        train_forecaster(series, window=10, units=2, epochs=1, members=1, statistical=False, verbose=0)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("times, message", [
    (np.r_[np.arange(50), 49, np.arange(51, 99)], r"repeats 49 at data row 51 \(after 49\)"),
    (np.r_[np.arange(50), 10, np.arange(51, 99)], r"goes back to 10 at data row 51 \(after 49\)"),
])
def test_unordered_or_repeated_times_are_refused(times, message):
    table = Table({"value": wave(99)}, time=times, time_column="t")
    with pytest.raises(ValueError, match=message):
        train_forecaster(table, units=2, epochs=1, members=1, statistical=False, verbose=0)


@pytest.fixture(scope="module")
def backtested(tmp_path_factory):
    out = tmp_path_factory.mktemp("backtest")
    t = np.arange(160)
    series = Table({"y": 50 + 0.2 * t + 3 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(3).normal(0, 0.3, 160)},
                   time=t, time_column="t")
    return backtest_forecaster(series, "y", folds=3, horizon=6, season=12, interval=0.8, out=out,
                               units=4, epochs=3, members=2), out


def test_backtest_scores_every_fold_and_overall_beside_the_baselines(backtested):
    result, _ = backtested
    m = result.metrics
    assert m["first_origin"] == 142 and m["fold_starts"] == ["142", "148", "154"]
    expected = {"model", "persistence", "seasonal_naive"} | ({"AutoETS", "AutoARIMA"} if statistical_available()
                                                             else set())
    assert len(m["per_fold"]) == 3 and set(m["overall"]) == set(m["per_fold"][0]) == expected
    assert set(m["overall"]["model"]) == {"mae", "rmse", "smape", "mase"}
    np.testing.assert_allclose(result.forecasts["persistence"][1], np.full(6, result.history["y"][147]))
    assert 0 <= m["coverage"] <= 1 and np.all(result.lower <= result.upper)
    assert "prediction intervals covered" in result.report() and "Diebold-Mariano" in result.report()


def test_backtest_writes_its_table_json_and_plot_beside_the_model(backtested):
    _, out = backtested
    for name in ("model.rnnkit", "backtest.json", "backtest.png"):
        assert (out / name).stat().st_size > 0
    with open(out / "backtest.csv") as file:
        rows = list(csv.reader(file))
    assert rows[0][:4] == ["t", "fold", "actual", "model"] and "model_upper" in rows[0] and len(rows) == 19


def test_backtest_needs_rows_to_train_on_before_the_folds():
    with pytest.raises(ValueError, match="5 folds of 10 step.s. leave 0 of 50 rows to train on"):
        backtest_forecaster(wave(50), folds=5, horizon=10)


@pytest.mark.skipif(not statistical_available(), reason="statsforecast is not installed")
def test_the_training_report_adds_autoets_and_autoarima_when_statsforecast_is_installed():
    result = train_forecaster(wave(120), season=21, horizon=3, units=2, epochs=1, members=1, verbose=0)
    assert {"AutoETS", "AutoARIMA"} <= set(result.metrics["test"]["value"])
    assert "AutoETS" in result.report()


def test_the_forecast_plot_draws_the_interval_as_a_band_between_the_bounds(tmp_path, monkeypatch):
    import matplotlib.axes

    drawn = []
    real = matplotlib.axes.Axes.fill_between

    def fill_between(ax, x, low, high, **options):
        drawn.append((list(x), list(low), list(high)))
        return real(ax, x, low, high, **options)

    monkeypatch.setattr(matplotlib.axes.Axes, "fill_between", fill_between)
    history = Table({"y": np.arange(10.0)}, time=np.arange(10), time_column="t")
    predicted = Table({"y": [10.0, 11.0], "y_lower": [9.0, 9.5], "y_upper": [11.0, 12.5]}, time=np.array([10, 11]),
                      time_column="t")
    plot_forecast(history, predicted, tmp_path / "forecast.png")
    assert drawn == [([10, 11], [9.0, 9.5], [11.0, 12.5])] and (tmp_path / "forecast.png").stat().st_size > 0
