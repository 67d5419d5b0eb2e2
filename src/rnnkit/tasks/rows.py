"""Sequences of image rows: each image is read top to bottom, one row of pixels per time step (a
28x28 MNIST digit is 28 steps of 28 features), and a recurrent network classifies it.

    >>> from rnnkit.data import read_idx_pair
    >>> x, y = read_idx_pair("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    >>> (x_train, y_train), (x_test, y_test) = split_last(x, y, test_size=2000)
    >>> result = train_rows(x_train, y_train, x_test, y_test, recipe="simple_rnn", out="runs/rows")
    >>> result.metrics["test_accuracy"]
"""
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import Input, Model, Sequential, layers, optimizers
from ..checks import check_scalar
from ..train.callbacks import History
from ..train.plotting import pyplot, save_figure
from .runner import TaskRunner

__all__ = ["RECIPES", "SCHEDULES", "RowsResult", "build_rows_model", "plot_confusion_matrix", "scale_images",
           "split_last", "train_rows"]

# The model recipes: the seed's SimpleRNN with SGD, and an LSTM with Adam. The seed trains with SGD's
# default constant rate 0.01 (Keras reaches 94.45% with it on the 8,000/2,000 MNIST split, just short
# of 94.5%); starting higher and decaying to 0 along a cosine learns faster and ends on steady weights
# rather than wherever the last noisy step left them. The LSTM overfits 8,000 digits without the
# SimpleRNN's input dropout (99% training accuracy, test accuracy stuck near 97%).
RECIPES = {
    "simple_rnn": {"layer": "SimpleRNN", "units": 256, "dropout": 0.2, "optimizer": "sgd", "learning_rate": 0.03,
                   "schedule": "cosine"},
    "lstm": {"layer": "LSTM", "units": 128, "dropout": 0.2, "optimizer": "adam", "learning_rate": 0.002,
             "schedule": "cosine"},
}
SCHEDULES = ("cosine", "constant")


@dataclass
class RowsResult:
    """What `train_rows` returns.

    Attributes:
        model: the trained model; `model.assets` holds the pixel scale, the image size and the labels.
        history: the `History` of `fit` (its validation curves are on the test part).
        metrics: test accuracy, per-class accuracy, confusion matrix, sizes and timing (as metrics.json).
        files: the files written, by name (empty without `out`; see `TaskRunner.finish`).
    """

    model: Model
    history: History
    metrics: dict
    files: dict = field(default_factory=dict)


def scale_images(images: np.ndarray, scale: float | None = None) -> tuple[np.ndarray, float]:
    """Images as float32 sequences of rows in [0, 1].

    Args:
        images: an array of shape (samples, rows, features) of non-negative pixel values.
        scale: the value that maps to 1: by default 255 for uint8 images, else the largest value
            of `images` (pass the training images' scale when scaling test images).

    Returns:
        `(scaled, scale)`: the float32 array and the scale used.

    Raises:
        ValueError: for an array that is not 3-dimensional, is empty, holds non-numbers or negative
            or non-finite values.

    Example:
        >>> scaled, scale = scale_images(np.full((2, 28, 28), 255, np.uint8))
        >>> float(scaled.max()), scale
        (1.0, 255.0)
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(
            f"expected images of shape (samples, rows, features), e.g. (10000, 28, 28), got shape {images.shape}."
        )
    if images.size == 0:
        raise ValueError(f"expected at least one image with at least one pixel, got shape {images.shape}.")
    if images.dtype.kind not in "uif":
        raise ValueError(f"expected numeric pixel values, got an array of {images.dtype}.")
    values = images.astype(np.float32)
    if not np.isfinite(values).all() or values.min() < 0:
        raise ValueError("pixel values must be finite and non-negative; got negative, NaN or infinite values.")
    if scale is None:
        scale = 255.0 if images.dtype == np.uint8 else float(values.max())
    scale = float(scale) if scale > 0 else 1.0
    return values / scale, scale


def split_last(x: np.ndarray, y: np.ndarray,
               test_size: int) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Splits samples into the first part (training) and the last `test_size` (test), in file order.

    Raises:
        ValueError: when `x` and `y` differ in length or `test_size` leaves no training sample.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = split_last(x, y, 2000)   # 8,000 / 2,000 of 10,000
    """
    if len(x) != len(y):
        raise ValueError(f"got {len(x)} images but {len(y)} labels; they must be as many.")
    check_scalar(test_size, "the test size", int, min_val=1, max_val=len(x) - 1, hint=f"for {len(x)} images")
    cut = len(x) - test_size
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def build_rows_model(recipe: str, rows: int, features: int, classes: int, learning_rate: float | None = None,
                     decay_steps: int | None = None) -> Model:
    """A compiled classifier of (rows, features) sequences into `classes` classes.

    Args:
        recipe: a key of `RECIPES`: "simple_rnn" (SimpleRNN(256, dropout=0.2) + Dense + softmax, SGD)
            or "lstm" (LSTM(128, dropout=0.2) + Dense + softmax, Adam).
        rows, features: the time steps and features per step of an image (28, 28 for MNIST).
        classes: the number of classes.
        learning_rate: the optimizer's learning rate (default: the recipe's).
        decay_steps: when given, the learning rate falls to 0 along a cosine over this many steps.

    Returns:
        A `Sequential` compiled with sparse categorical cross-entropy and accuracy.

    Example:
        >>> model = build_rows_model("lstm", 28, 28, 10)
    """
    if recipe not in RECIPES:
        raise ValueError(f"unknown model recipe {recipe!r}; choose from {', '.join(RECIPES)}.")
    spec = RECIPES[recipe]
    recurrent = getattr(layers, spec["layer"])(spec["units"], dropout=spec["dropout"])
    model = Sequential(
        [Input((rows, features)), recurrent, layers.Dense(classes), layers.Activation("softmax")],
        name=f"rows_{recipe}",
    )
    rate = spec["learning_rate"] if learning_rate is None else learning_rate
    if decay_steps:
        rate = optimizers.CosineDecay(rate, decay_steps)
    optimizer = optimizers.SGD(rate) if spec["optimizer"] == "sgd" else optimizers.Adam(rate)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train_rows(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
               recipe: str = "simple_rnn", epochs: int = 20, batch_size: int = 128, learning_rate: float | None = None,
               schedule: str | None = None, seed: int = 0, out: str | os.PathLike[str] | None = None,
               resume: bool = False, verbose: int | str = "auto") -> RowsResult:
    """Trains a recipe on images as sequences of rows and evaluates it on the test images.

    Args:
        x_train, x_test: images, (samples, rows, features), pixel values >= 0 (uint8 or numbers);
            scaled to [0, 1] with the training images' scale.
        y_train, y_test: integer class labels from 0; every test label must occur in training.
        recipe: "simple_rnn" or "lstm" (see `build_rows_model`).
        epochs, batch_size, learning_rate, seed: training settings (learning_rate None: the recipe's).
        schedule: "cosine" (the learning rate falls to 0 along a cosine over the run) or "constant";
            None: the recipe's (cosine).
        out: a folder for model.rnnkit, metrics.json, history.csv, history.png and
            confusion_matrix.png (None: no files).
        resume: continue the unfinished run in `out`.
        verbose: progress of `fit` (0, 1, 2 or "auto").

    Returns:
        A `RowsResult`.

    Raises:
        ValueError: for images or labels of the wrong shape or values, training labels whose class
            ids have gaps (naming the stray label and its position), or train and test images of
            different sizes.

    Example:
        >>> result = train_rows(x[:8000], y[:8000], x[8000:], y[8000:], recipe="lstm", epochs=10)
        >>> result.metrics["test_accuracy"], result.metrics["per_class_accuracy"]["7"]
    """
    if recipe not in RECIPES:
        raise ValueError(f"unknown model recipe {recipe!r}; choose from {', '.join(RECIPES)}.")
    schedule = RECIPES[recipe]["schedule"] if schedule is None else schedule
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown learning-rate schedule {schedule!r}; choose from {', '.join(SCHEDULES)}.")
    x_train, scale = scale_images(x_train)
    x_test, _ = scale_images(x_test, scale)
    if x_test.shape[1:] != x_train.shape[1:]:
        raise ValueError(
            f"test images are {x_test.shape[1]}x{x_test.shape[2]} but training images are "
            f"{x_train.shape[1]}x{x_train.shape[2]}; both must have the same size."
        )
    y_train = _labels(y_train, len(x_train), "training")
    y_test = _labels(y_test, len(x_test), "test")
    classes = int(y_train.max()) + 1
    _refuse_label_gaps(y_train, classes)
    unseen = sorted(set(np.unique(y_test).tolist()) - set(np.unique(y_train).tolist()))
    if unseen:
        raise ValueError(f"test labels {unseen[:10]} never occur in the training labels; the model cannot learn them.")

    runner = TaskRunner(out, resume=resume, seed=seed)
    rows, features = x_train.shape[1:]
    decay_steps = epochs * math.ceil(len(x_train) / batch_size) if schedule == "cosine" else None
    model = build_rows_model(recipe, rows, features, classes, learning_rate, decay_steps)
    model.assets.update({
        "task": "rows", "recipe": recipe, "rows": rows, "features": features, "pixel_scale": scale,
        "labels": [str(label) for label in range(classes)],
    })
    history = runner.fit(model, x_train, y_train, batch_size=batch_size, epochs=epochs,
                         validation_data=(x_test, y_test), verbose=verbose)

    predicted = model.predict(x_test, batch_size=512, verbose=0).argmax(axis=-1)
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (y_test, predicted), 1)
    support = matrix.sum(axis=1)
    metrics = {
        "task": "rows", "recipe": recipe, "epochs": epochs, "batch_size": batch_size,
        "learning_rate": RECIPES[recipe]["learning_rate"] if learning_rate is None else learning_rate,
        "schedule": schedule,
        "train_samples": len(x_train), "test_samples": len(x_test), "rows": rows, "features": features,
        "test_accuracy": float(np.trace(matrix) / len(y_test)),
        "per_class_accuracy": {
            str(label): float(matrix[label, label] / support[label]) for label in range(classes) if support[label]
        },
        "confusion_matrix": matrix,
        "train_seconds": runner.seconds,
        "note": "rows of the confusion matrix are true labels, columns predicted; the validation curves in "
                "history.csv are on the test images, which no training decision uses",
    }
    title = f"{recipe}: test accuracy {metrics['test_accuracy']:.2%}"
    files = runner.finish(model, history, metrics, title=f"{recipe}: images as sequences of rows", plots={
        "confusion_matrix": ("confusion_matrix.png",
                             lambda path: plot_confusion_matrix(matrix, model.assets["labels"], path, title=title))})
    return RowsResult(model, history, metrics, files)


def plot_confusion_matrix(matrix: np.ndarray, labels: Sequence[str], path: str | os.PathLike[str],
                          title: str | None = None) -> str:
    """Writes a PNG of a confusion matrix (rows: true labels, columns: predicted), each cell annotated
    with its count; returns the path.

    Example:
        >>> plot_confusion_matrix(np.array([[5, 1], [0, 4]]), ["cat", "dog"], "confusion.png")
    """
    plt = pyplot()
    matrix = np.asarray(matrix)
    size = max(4.0, 0.45 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, column), count in np.ndenumerate(matrix):
        ax.text(column, row, str(count), ha="center", va="center", fontsize=8,
                color="white" if count > threshold else "black")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, path)


def _refuse_label_gaps(labels, classes):
    """Class ids are 0..N-1: a stray large id (one 255 among 0-9) would silently make a model (and a
    confusion matrix) of 256 classes, most of them never seen."""
    present = np.bincount(labels, minlength=classes) > 0 if classes <= 2**20 else None
    if present is not None and present.all():
        return
    values, first = np.unique(labels, return_index=True)
    expected = len(values)
    stray = values[values >= expected]
    position = int(first[values == stray[0]][0])
    raise ValueError(
        f"the training labels take {len(values)} distinct values but go up to {int(values[-1])}: class ids must "
        f"be 0..N-1 without gaps; label {int(stray[0])} at position {position} is out of line (labels "
        f"{stray[:5].tolist()}{' ...' if len(stray) > 5 else ''} exceed {expected - 1}). Fix or drop those samples."
    )


def _labels(labels, count, part):
    labels = np.asarray(labels)
    if labels.shape != (count,):
        raise ValueError(f"expected {count} {part} labels (one per image), got an array of shape {labels.shape}.")
    if labels.dtype.kind not in "iu" or (count and labels.min() < 0):
        raise ValueError(f"{part} labels must be integers from 0 (class ids), got {labels.dtype} values "
                         f"from {labels.min()} to {labels.max()}.")
    return labels.astype(np.int64)
