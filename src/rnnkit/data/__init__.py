"""Data for the applications: time-series windows and scalers, CSV loading, text vectorization
(word and character), padding, and readers for common file formats."""
from .chars import CharVocabulary
from .idx import read_idx, read_idx_pair
from .text import TextVectorization, pad_sequences
from .labelled import LabelledTexts, read_labelled, read_lines
from .tables import Table, read_csv, write_csv
from .timeseries import (ChronologicalSplit, MinMaxScaler, StandardScaler, diebold_mariano, forecast_metrics,
                         get_scaler, input_windows, mae, mape, mase, persistence_forecast, rmse, scaler_from_config,
                         seasonal_naive_forecast, sliding_windows, smape)
