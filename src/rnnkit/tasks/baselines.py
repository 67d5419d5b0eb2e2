"""The statistical baselines a forecaster is judged against, from the optional package statsforecast
(`pip install rnnkit[forecast]`): AutoETS (exponential smoothing) and AutoARIMA, each with its
model chosen automatically, as a forecasting user would run them.

    >>> statistical_forecasts(series, origins=[200, 210], horizon=6, season=12)["AutoETS"].shape
    (2, 6)
"""
import warnings

import numpy as np

__all__ = ["LONGEST_SEASON", "STATISTICAL", "statistical_available", "statistical_forecasts"]

STATISTICAL = ("AutoETS", "AutoARIMA")
# statsforecast's AutoETS refuses seasons above 24 (as R's ets does) and a seasonal AutoARIMA search
# with a longer one takes minutes, so neither is run for them
LONGEST_SEASON = 24


def statistical_available() -> bool:
    """Whether statsforecast is installed (the `forecast` extra)."""
    try:
        import statsforecast  # noqa: F401
    except ImportError:
        return False
    return True


def statistical_forecasts(series: np.ndarray, origins: np.ndarray, horizon: int,
                          season: int | None = None) -> dict[str, np.ndarray]:
    """AutoETS and AutoARIMA forecasts of one series from several origins.

    Each model is chosen and fitted once, on the rows before the first origin, then applied with
    those parameters to the history before every origin (statsforecast's `forward`): the same
    protocol as a recurrent model trained once and slid over the test part, and fast enough for
    hundreds of origins.

    Args:
        series: the whole series, (time,).
        origins: the row of the first predicted step of each forecast, increasing.
        horizon: steps per forecast.
        season: the season length in rows (None or 1: no season).

    Returns:
        {name: (len(origins), horizon)} for each of `STATISTICAL` that could be fitted; {} when
        statsforecast is not installed or the season is longer than `LONGEST_SEASON` rows.
    """
    if not statistical_available() or (season or 1) > LONGEST_SEASON:
        return {}
    from statsforecast.models import AutoARIMA, AutoETS

    series = np.asarray(series, dtype=np.float64).ravel()
    origins = np.asarray(origins, dtype=np.int64)
    forecasts = {}
    for name, make in (("AutoETS", AutoETS), ("AutoARIMA", AutoARIMA)):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                model = make(season_length=season or 1).fit(series[:origins[0]])
                predicted = np.stack([model.forward(series[:origin], h=horizon)["mean"] for origin in origins])
            except (ValueError, np.linalg.LinAlgError, ZeroDivisionError):
                continue
        if np.all(np.isfinite(predicted)):
            forecasts[name] = predicted
    return forecasts
