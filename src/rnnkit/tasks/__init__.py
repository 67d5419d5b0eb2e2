"""The applications, one module per task: data loading, a model recipe, training and a report
(metrics, plots, the saved model). Each is a library call; `rnnkit.cli` makes each a command. What
the tasks share (seed, run folder, timed fit, divergence check, files) is `TaskRunner`."""
from .outputs import RunDirectory
from .runner import TaskRunner
from .forecast import ForecastResult, Forecaster, forecast, train_forecaster
from .backtest import BacktestResult, backtest_forecaster
from .classify import ClassifyResult, TextClassifier, train_classifier
from .rows import RowsResult, train_rows
from .seq2seq import Seq2SeqResult, addition_pairs, train_seq2seq, translate
from .textgen import sample, train_text_model
