"""Time-series windows, the chronological split, scalers, forecast metrics and naive baselines."""
import json

import numpy as np
import pytest

from rnnkit.data import (ChronologicalSplit, MinMaxScaler, StandardScaler, diebold_mariano, forecast_metrics,
                         get_scaler, input_windows, mae, mape, mase, persistence_forecast, rmse, scaler_from_config,
                         seasonal_naive_forecast, sliding_windows, smape)


def test_windows_hold_the_past_and_targets_the_next_horizon_steps():
    series = np.arange(10.0)
    x, y = sliding_windows(series, window=3, horizon=2)
    assert x.shape == (6, 3, 1) and y.shape == (6, 2, 1)
    np.testing.assert_array_equal(x[4, :, 0], [4, 5, 6])
    np.testing.assert_array_equal(y[4, :, 0], [7, 8])


def test_multivariate_inputs_predict_several_targets():
    temperature, humidity = np.arange(8.0), 100 + np.arange(8.0)
    inputs = np.stack([temperature, humidity], axis=1)
    x, y = sliding_windows(inputs, targets=inputs, window=5, horizon=1)
    assert x.shape == (3, 5, 2) and y.shape == (3, 1, 2)
    np.testing.assert_array_equal(y[0, 0], [5, 105])


def test_windows_at_chosen_origins():
    x, y = sliding_windows(np.arange(10.0), window=2, horizon=1, origins=[2, 9])
    np.testing.assert_array_equal(x[:, :, 0], [[0, 1], [7, 8]])
    np.testing.assert_array_equal(y[:, 0, 0], [2, 9])


def test_input_windows_reach_the_end_of_the_series_for_forecasting():
    np.testing.assert_array_equal(input_windows(np.arange(5.0), 3, [5])[0, :, 0], [2, 3, 4])


def test_a_series_too_short_for_the_window_is_refused_with_the_lengths():
    with pytest.raises(ValueError, match=r"series of 4 steps is too short for windows of 3 steps predicting 2 ahead "
                                         r"\(needs at least 5\)"):
        sliding_windows(np.arange(4.0), window=3, horizon=2)


def test_a_window_of_zero_is_refused():
    with pytest.raises(ValueError, match="window must be a positive integer, got 0"):
        sliding_windows(np.arange(4.0), window=0)


def test_windows_refuse_gaps():
    with pytest.raises(ValueError, match="NaN or infinite"):
        sliding_windows(np.array([1.0, np.nan, 2.0, 3.0]), window=2)


def test_split_sizes_are_fractions_or_row_counts():
    by_fraction = ChronologicalSplit.from_sizes(100, test_size=0.2, validation_size=0.1)
    by_rows = ChronologicalSplit.from_sizes(100, test_size=20, validation_size=0)
    assert (by_fraction.train_end, by_fraction.validation_end) == (70, 80)
    assert (by_rows.train_end, by_rows.validation_end) == (80, 80)


def test_split_samples_never_predict_rows_of_a_later_part():
    split = ChronologicalSplit(100, 70, 80)
    window, horizon = 10, 3
    train = split.origins("train", window, horizon)
    validation = split.origins("validation", window, horizon)
    test = split.origins("test", window, horizon)
    assert train[0] == 10 and train[-1] + horizon == 70
    assert validation[0] == 70 and validation[-1] + horizon == 80
    assert test[0] == 80 and test[-1] + horizon == 100  # the first test windows read validation rows


def test_split_sizes_leaving_no_training_rows_are_refused():
    with pytest.raises(ValueError, match="leave no training rows out of 10"):
        ChronologicalSplit.from_sizes(10, test_size=0.5, validation_size=5)


@pytest.mark.parametrize("scaler", [MinMaxScaler(), MinMaxScaler((-1, 1)), StandardScaler()])
def test_scalers_invert_their_transform_and_round_trip_through_json(scaler):
    data = np.random.default_rng(0).normal(50, 10, size=(30, 3))
    scaled = scaler.fit_transform(data)
    np.testing.assert_allclose(scaler.inverse_transform(scaled), data)
    restored = scaler_from_config(json.loads(json.dumps(scaler.get_config())))
    np.testing.assert_allclose(restored.transform(data), scaled)


def test_minmax_maps_the_training_range_to_zero_one_and_later_values_beyond():
    scaler = MinMaxScaler().fit(np.array([[10.0], [20.0]]))
    np.testing.assert_allclose(scaler.transform(np.array([[10.0], [15.0], [30.0]]))[:, 0], [0, 0.5, 2])


def test_standard_scaler_centres_and_scales_each_column():
    scaled = StandardScaler().fit_transform(np.array([[1.0, 10.0], [3.0, 30.0]]))
    np.testing.assert_allclose(scaled, [[-1, -1], [1, 1]])


def test_a_constant_column_is_not_divided_by_zero():
    for scaler in (MinMaxScaler(), StandardScaler()):
        assert np.all(np.isfinite(scaler.fit_transform(np.full((4, 1), 7.0))))


def test_scalers_apply_to_windows_column_by_column():
    scaler = MinMaxScaler().fit(np.array([[0.0, 0.0], [1.0, 10.0]]))
    windows = np.ones((2, 3, 2))
    np.testing.assert_allclose(scaler.transform(windows)[..., 1], 0.1)


def test_an_unfitted_scaler_says_to_fit_first():
    with pytest.raises(ValueError, match="not fitted yet; call fit"):
        StandardScaler().transform(np.zeros((2, 1)))


def test_a_scaler_refuses_data_with_another_column_count():
    scaler = MinMaxScaler().fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"fitted on 2 columns, got data of shape \(3, 1\)"):
        scaler.transform(np.zeros((3, 1)))


def test_get_scaler_names_the_choices():
    assert isinstance(get_scaler("standard"), StandardScaler)
    with pytest.raises(ValueError, match="choose from minmax, standard"):
        get_scaler("robust")


def test_point_metrics_on_a_known_example():
    actual, predicted = np.array([100.0, 200.0]), np.array([110.0, 180.0])
    assert mae(actual, predicted) == 15
    assert rmse(actual, predicted) == pytest.approx(np.sqrt((100 + 400) / 2))
    assert mape(actual, predicted) == pytest.approx(10)
    assert smape(actual, predicted) == pytest.approx(100 * (20 / 210 + 40 / 380) / 2)


def test_mape_is_undefined_when_an_actual_value_is_zero():
    assert np.isnan(mape([0.0, 1.0], [1.0, 1.0]))


def test_mase_divides_by_the_in_sample_naive_error():
    training = np.array([0.0, 2.0, 4.0, 6.0])  # naive one-step MAE 2
    assert mase([10.0], [11.0], training) == pytest.approx(0.5)
    assert mase([10.0], [11.0], np.array([1.0, 5.0, 1.0, 5.0]), season=2) != mase([10.0], [11.0], training)


def test_forecast_metrics_reports_the_five_scores():
    assert set(forecast_metrics([1.0, 2.0], [1.5, 2.5], [0.0, 1.0, 2.0])) == {"mae", "rmse", "mape", "smape", "mase"}


def test_metrics_refuse_arrays_of_different_shapes():
    with pytest.raises(ValueError, match=r"same shape, got \(2,\) and \(3,\)"):
        rmse([1.0, 2.0], [1.0, 2.0, 3.0])


def test_persistence_repeats_the_last_known_value():
    np.testing.assert_array_equal(persistence_forecast(np.arange(6.0), [3, 5], horizon=2)[..., 0], [[2, 2], [4, 4]])


def test_seasonal_naive_repeats_the_last_season():
    series = np.array([1.0, 2.0, 3.0, 1.1, 2.1, 3.1])
    forecast = seasonal_naive_forecast(series, [6], horizon=5, season=3)[0, :, 0]
    np.testing.assert_array_equal(forecast, [1.1, 2.1, 3.1, 1.1, 2.1])


def test_seasonal_naive_needs_a_full_season_before_the_origin():
    with pytest.raises(ValueError, match="need 4 known step"):
        seasonal_naive_forecast(np.arange(10.0), [3], horizon=1, season=4)


def test_diebold_mariano_matches_the_hand_computed_corrected_statistic():
    # d = a^2 - b^2 = [1, 1, 1, 1, 9]: mean 2.6, variance 10.24; DM = 2.6 / sqrt(10.24 / 5) = 1.8168, times the
    # Harvey-Leybourne-Newbold factor sqrt((5 + 1 - 2) / 5) = 1.6250; two-sided normal p = 0.10416
    p_value = diebold_mariano(np.array([1.0, 1, 1, 1, 3]), np.zeros(5))
    assert p_value == pytest.approx(0.1041626, abs=1e-6)
    assert diebold_mariano(np.zeros(5), np.array([1.0, 1, 1, 1, 3])) == pytest.approx(p_value)


def test_diebold_mariano_says_equal_losses_are_no_difference_and_large_gaps_are():
    rng = np.random.default_rng(0)
    errors = rng.normal(0, 1, (30, 4))
    assert diebold_mariano(errors, -errors, horizon=4) == 1.0
    assert diebold_mariano(errors, 3 * rng.normal(0, 1, (30, 4)), horizon=4) < 0.001
