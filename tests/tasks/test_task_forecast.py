"""train_forecaster / forecast: the forecasting task end to end on tiny generated series."""
import os

import numpy as np
import pytest

import rnnkit
from rnnkit.data import Table
from rnnkit.tasks.forecast import ForecastResult, Forecaster, build_forecaster, forecast, train_forecaster

FAST = dict(window=8, units=4, epochs=2, batch_size=64, verbose=0)


def wave(rows=200, seed=0):
    t = np.arange(rows)
    return 5 + np.sin(t * 0.3) + 0.05 * np.random.default_rng(seed).standard_normal(rows)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("forecast")
    return train_forecaster(wave(), season=21, out=out, **FAST), out


def test_the_report_scores_the_model_beside_persistence_and_seasonal_naive(trained):
    result, _ = trained
    scores = result.metrics["test"]["value"]
    assert set(scores) == {"model", "persistence", "seasonal_naive"}
    assert set(scores["model"]) == {"mae", "rmse", "mape", "smape", "mase"}
    report = result.report()
    assert "seasonal naive (21)" in report and "persistence: RMSE" in report


def test_the_split_is_chronological_with_one_test_forecast_per_test_row(trained):
    result, _ = trained
    assert result.metrics["rows"] == {"train": 140, "validation": 20, "test": 40}
    assert result.metrics["samples"] == {"train": 132, "validation": 20, "test": 40}
    np.testing.assert_array_equal(result.test_time[:, 0], np.arange(160, 200))
    np.testing.assert_allclose(result.actual[:, 0, 0], wave()[160:])


def test_the_scalers_are_fitted_on_the_training_rows_only():
    rising = np.arange(100.0)  # the test rows lie above every training row
    result = train_forecaster(rising, test_size=0.2, validation_size=0.1, **FAST)
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


def test_a_change_model_that_outputs_zero_forecasts_the_last_value_plus_the_mean_training_change(trained):
    _, out = trained
    forecaster = Forecaster(str(out / "model.rnnkit"))
    forecaster.model.set_weights([np.zeros_like(w) for w in forecaster.model.get_weights()])
    series = wave()
    mean_change = forecaster.target_scaler.scale[0] * forecaster.change_scaler.offset[0]
    np.testing.assert_allclose(forecaster.predict_at(series, [50, 60])[:, 0, 0], series[[49, 59]] + mean_change)


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
    assert result.predicted.shape == (40, 1, 2)
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
    with pytest.raises(ValueError, match="training part has 21 rows: too few for one window of 30 rows"):
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
    assert "the model does NOT beat persistence: RMSE 2.000 vs 1.000 (+100.0%)" in report
    assert "a naive forecast is at least as good" in report
