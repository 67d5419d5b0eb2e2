"""Text classification: labelled sentences in, a trained word-level classifier out.

The recipe is the seed's: words become ids (`TextVectorization`, fitted on the training part only),
then Embedding(mask_zero=True) + Bidirectional(LSTM) + Dense, trained with Adam (its learning rate
decaying along a cosine). Padding is masked, so a sentence gets the same score alone or padded
beside longer ones. The saved model carries its
vectorizer and class names in `model.assets`, so it classifies raw text by itself.

    >>> from rnnkit.data import read_labelled
    >>> data = read_labelled(["amazon_cells_labelled.txt", "imdb_labelled.txt", "yelp_labelled.txt"])
    >>> result = train_classifier(data, epochs=10, out="runs/sentiment")
    >>> result.metrics["test_accuracy"]
    >>> TextClassifier.load("runs/sentiment/model.rnnkit").predict(["What a great phone!"])
    [('1', 0.97...)]
"""
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import Input, Model, Sequential, layers, optimizers
from ..checks import check_scalar
from ..data.labelled import LabelledTexts
from ..data.text import TextVectorization
from ..files import write_atomically
from ..io.saving import load_model
from ..train import distributed
from ..train.callbacks import History
from .rows import plot_confusion_matrix
from .runner import TaskRunner

__all__ = ["ClassifyResult", "LengthBatches", "TextClassifier", "build_text_classifier", "classification_metrics",
           "format_classify_report", "plot_label_counts", "split_train_test", "train_classifier"]

TASK = "classify"
SCHEDULES = ("cosine", "constant")


@dataclass
class ClassifyResult:
    """What `train_classifier` returns.

    Attributes:
        classifier: the trained `TextClassifier` (model, vectorizer and class names).
        history: the `History` of `fit` (its validation curves are on the test part).
        metrics: accuracy, per-class precision/recall/F1, confusion matrix, sizes and timing
            (as written to metrics.json).
        files: the files written, by name (empty without `out`; see `TaskRunner.finish`).
    """

    classifier: "TextClassifier"
    history: History
    metrics: dict
    files: dict = field(default_factory=dict)

    @property
    def model(self) -> Model:
        """The trained model (`classifier.model`)."""
        return self.classifier.model


class TextClassifier:
    """A trained classifier of raw texts: the model, with its vectorizer and class names taken from
    `model.assets`.

    Args:
        model: a model trained by `train_classifier` (or one whose assets hold "vectorizer" and
            "labels" the same way).

    Raises:
        ValueError: when the model's assets do not describe a text classifier.

    Example:
        >>> classifier = TextClassifier.load("runs/sentiment/model.rnnkit")
        >>> classifier.predict(["The battery died after a day.", "Superb!"])
        [('0', 0.93...), ('1', 0.98...)]
    """

    def __init__(self, model: Model) -> None:
        assets = model.assets
        if assets.get("task") != TASK or "vectorizer" not in assets or "labels" not in assets:
            raise ValueError(
                f"this model is not a text classifier: its assets hold {sorted(assets) or 'nothing'}, expected "
                "'task': 'classify' with a 'vectorizer' and 'labels' (a model saved by `rnnkit classify train`)."
            )
        labels = assets["labels"]
        if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(name, str) for name in labels):
            raise ValueError(f"this classifier's label list is damaged: expected two or more names, got {labels!r:.80}.")
        self.model = model
        self.vectorizer = TextVectorization.from_config(assets["vectorizer"])
        self.names = list(labels)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "TextClassifier":
        """The classifier saved in the .rnnkit file `path`.

        Raises:
            ValueError, naming the file: it is not a text classifier, or its label list does not
                match the model's outputs (one score per label, or one for two labels).
        """
        classifier = cls(load_model(path, compile=False))
        scores = classifier.model.predict_on_batch(np.ones((1, 1), dtype=np.int64)).shape[-1]
        labels = len(classifier.names)
        if not (scores == labels or (scores == 1 and labels == 2)):
            raise ValueError(
                f"{os.fspath(path)!r} is refused: it holds {labels} label names but its model outputs {scores} "
                "scores; the file was altered or is damaged."
            )
        return classifier

    def predict_proba(self, texts: str | Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Class probabilities, an array of shape (len(texts), classes); column `i` is `names[i]`.

        Each batch is padded only to its own longest text; the mask makes the result the same as
        for each text alone.
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return np.zeros((0, len(self.names)), dtype=np.float32)
        parts = []
        for start in range(0, len(texts), batch_size):
            parts.append(self.model.predict_on_batch(_ids(self.vectorizer, texts[start:start + batch_size])))
        return _class_probabilities(np.concatenate(parts), len(self.names))

    def predict(self, texts: str | Sequence[str], batch_size: int = 256) -> list[tuple[str, float]]:
        """The most probable class of each text, as a list of (name, probability)."""
        probabilities = self.predict_proba(texts, batch_size)
        best = probabilities.argmax(axis=1)
        return [(self.names[index], float(row[index])) for index, row in zip(best, probabilities)]


def split_train_test(count: int, test_size: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled indices of a training part and a test part.

    Args:
        count: the number of samples.
        test_size: the fraction in the test part, strictly between 0 and 1 (at least one sample).
        seed: the seed of the shuffle.

    Returns:
        `(train_indices, test_indices)`, int64 arrays.

    Raises:
        ValueError: for a test_size outside (0, 1) or too few samples for both parts.

    Example:
        >>> train, test = split_train_test(3000, 0.2, seed=0)
        >>> len(train), len(test)
        (2400, 600)
    """
    check_scalar(test_size, "test_size", float, min_val=0, max_val=1, include_boundaries="neither",
                 hint="a fraction between 0 and 1 held out")
    tests = max(1, int(round(count * test_size)))
    if count - tests < 2:
        raise ValueError(f"{count} samples are too few to split into training and test parts; give more texts.")
    order = np.random.default_rng(seed).permutation(count)
    return order[tests:], order[:tests]


def build_text_classifier(vocabulary_size: int, classes: int, embedding_dim: int = 64, units: int = 64,
                          dropout: float = 0.5, learning_rate: float = 1e-3, decay_steps: int | None = None) -> Model:
    """The default model, compiled: Embedding(mask_zero=True) + Bidirectional(LSTM) + Dropout + Dense.

    Two classes end in Dense(1, sigmoid) with binary cross-entropy (as the seed), more in
    Dense(classes, softmax) with sparse categorical cross-entropy; Adam, accuracy as metric.

    Args:
        vocabulary_size: the vectorizer's `vocabulary_size()` (id 0 is padding, 1 unknown words).
        classes: the number of classes, at least 2.
        embedding_dim: the size of the word vectors.
        units: the LSTM's units in each direction.
        dropout: the dropout rate on the word vectors and on the LSTM's output.
        learning_rate: Adam's learning rate (its start, with `decay_steps`).
        decay_steps: None for a constant learning rate, or the number of training steps over which
            it falls to 0 along a cosine (`optimizers.CosineDecay`).

    Example:
        >>> model = build_text_classifier(5000, 2)
    """
    if classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {classes}.")
    binary = classes == 2
    model = Sequential(
        [
            Input((None,), dtype="int64"),
            layers.Embedding(vocabulary_size, embedding_dim, mask_zero=True),
            layers.Dropout(dropout),
            layers.Bidirectional(layers.LSTM(units)),
            layers.Dropout(dropout),
            layers.Dense(1 if binary else classes, activation="sigmoid" if binary else "softmax"),
        ],
        name="text_classifier",
    )
    model.compile(
        optimizer=optimizers.Adam(
            learning_rate if decay_steps is None else optimizers.CosineDecay(learning_rate, decay_steps)
        ),
        loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def train_classifier(data: LabelledTexts, test_size: float = 0.2, max_tokens: int = 10000,
                     sequence_length: int | None = None, embedding_dim: int = 64, units: int = 64, dropout: float = 0.5,
                     epochs: int = 10, batch_size: int = 32, learning_rate: float = 1e-3, schedule: str = "cosine",
                     seed: int = 0, out: str | os.PathLike[str] | None = None, resume: bool = False,
                     verbose: int | str = "auto") -> ClassifyResult:
    """Trains the default text classifier on a shuffled split of `data` and evaluates it.

    Args:
        data: a `LabelledTexts` (from `rnnkit.data.read_labelled`).
        test_size: the fraction of texts held out for the test part (seeded shuffle).
        max_tokens: the largest vocabulary (the most frequent words of the training part).
        sequence_length: truncate texts to this many words; None keeps them whole.
        embedding_dim, units, dropout, learning_rate: the model (see `build_text_classifier`).
        schedule: "cosine" (the learning rate falls to 0 along a cosine over the run) or "constant".
        epochs, batch_size, seed: training settings; the same seed gives the same split and run.
        out: a folder for model.rnnkit, metrics.json, history.csv, history.png, labels.png and
            confusion_matrix.png (None: no files).
        resume: continue the unfinished run in `out`.
        verbose: progress of `fit` (0, 1, 2 or "auto").

    Returns:
        A `ClassifyResult`.

    Raises:
        ValueError: for data that is not a `LabelledTexts`, a class of a single text (naming its file
            and line), a bad test_size, or a split that leaves a class out of the training part.

    Texts that repeat are kept once (the first, with its label) before the split, so that no test
    text is also a training text; `metrics["duplicate_texts_dropped"]` counts them.

    Example:
        >>> result = train_classifier(read_labelled("reviews.csv"), epochs=5, out="runs/reviews")
        >>> result.metrics["per_class"]["positive"]["f1"]
    """
    if not isinstance(data, LabelledTexts):
        raise ValueError(f"expected LabelledTexts (from rnnkit.data.read_labelled), got {type(data).__name__}.")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown learning-rate schedule {schedule!r}; choose from {', '.join(SCHEDULES)}.")
    data, duplicates = data.distinct()
    _refuse_lone_classes(data)
    train, test = split_train_test(len(data), test_size, seed)
    texts = np.array(data.texts, dtype=object)
    y_train, y_test = data.labels[train], data.labels[test]
    classes = len(data.names)
    missing = sorted(set(range(classes)) - set(y_train.tolist()))
    if missing:
        raise ValueError(
            f"the shuffled split left no training text of class {[data.names[i] for i in missing]}; give more "
            "texts of it or use a smaller test size."
        )
    runner = TaskRunner(out, resume=resume, seed=seed)

    vectorizer = TextVectorization(max_tokens=max_tokens, output_sequence_length=sequence_length)
    vectorizer.adapt(texts[train])
    x_train, x_test = _ids(vectorizer, texts[train]), _ids(vectorizer, texts[test])
    if distributed.world_size() == 1:
        training_data = {"x": LengthBatches(x_train, y_train, batch_size)}
    else:  # under torchrun the trainer shards array data across the processes
        training_data = {"x": x_train, "y": y_train, "batch_size": batch_size}

    decay_steps = epochs * -(-len(train) // batch_size) if schedule == "cosine" else None
    model = build_text_classifier(vectorizer.vocabulary_size(), classes, embedding_dim, units, dropout, learning_rate,
                                  decay_steps)
    model.assets.update({"task": TASK, "vectorizer": vectorizer.get_config(), "labels": list(data.names)})
    history = runner.fit(model, **training_data, epochs=epochs, validation_data=(x_test, y_test), verbose=verbose)

    classifier = TextClassifier(model)
    predicted = classifier.predict_proba(texts[test]).argmax(axis=1)
    metrics = {
        "task": TASK, "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
        "schedule": schedule, "seed": seed,
        "texts": len(data), "duplicate_texts_dropped": duplicates, "train_texts": len(train),
        "test_texts": len(test),
        "label_counts": data.counts(), "vocabulary_size": vectorizer.vocabulary_size(),
        "longest_text_tokens": int(max(x_train.shape[1], x_test.shape[1])),
        "model": {"embedding_dim": embedding_dim, "units": units, "dropout": dropout, "max_tokens": max_tokens,
                  "sequence_length": sequence_length, "parameters": model.count_params()},
        **classification_metrics(y_test, predicted, data.names),
        "majority_class_accuracy": float(np.mean(y_test == np.bincount(y_train).argmax())),
        "train_seconds": runner.seconds,
        "note": "rows of the confusion matrix are true classes, columns predicted; the validation curves in "
                "history.csv are on the test part, which no training decision uses",
    }
    title = f"test accuracy {metrics['test_accuracy']:.1%} ({len(test)} texts)"
    files = runner.finish(model, history, metrics, title="text classifier: learning curves", plots={
        "confusion_matrix": ("confusion_matrix.png", lambda path: plot_confusion_matrix(
            metrics["confusion_matrix"], data.names, path, title=title)),
        "labels": ("labels.png", lambda path: plot_label_counts(data.names, y_train, y_test, path)),
    })
    return ClassifyResult(classifier, history, metrics, files)


def _refuse_lone_classes(data):
    """A class of one text is most often a header line or a broken quote read as data: refused,
    naming where that text is."""
    counts = np.bincount(data.labels, minlength=len(data.names))
    for class_id in np.flatnonzero(counts == 1):
        index = int(np.flatnonzero(data.labels == class_id)[0])
        where = f" ({data.sources[index]})" if data.sources is not None else ""
        raise ValueError(
            f"class {data.names[class_id]!r} has a single text{where}: a header line, a broken quote or a stray "
            "label? Fix that line, or give the class more texts to learn from."
        )


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, names: Sequence[str]) -> dict:
    """Accuracy, per-class precision, recall, F1 and support, their macro averages, and the
    confusion matrix (rows true classes, columns predicted) of class-id arrays.

    A class never predicted has precision 0 (and a class absent from `y_true` recall 0), as
    scikit-learn's `zero_division=0`.

    Example:
        >>> classification_metrics(np.array([0, 1, 1]), np.array([0, 1, 0]), ["neg", "pos"])["per_class"]["pos"]
        {'precision': 1.0, 'recall': 0.5, 'f1': 0.666..., 'support': 2}
    """
    classes = len(names)
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true), np.asarray(y_pred)), 1)
    hits = np.diag(matrix).astype(np.float64)
    predicted, support = matrix.sum(axis=0), matrix.sum(axis=1)
    precision = np.divide(hits, predicted, out=np.zeros(classes), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros(classes), where=support > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros(classes), where=both > 0)
    return {
        "test_accuracy": float(hits.sum() / max(matrix.sum(), 1)),
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(support[i])}
            for i, name in enumerate(names)
        },
        "macro_avg": {"precision": float(precision.mean()), "recall": float(recall.mean()), "f1": float(f1.mean())},
        "confusion_matrix": matrix,
    }


def format_classify_report(metrics: Mapping[str, Any]) -> str:
    """The one-screen text report of `train_classifier`'s metrics: accuracy beside the majority
    class, a precision/recall/F1 table and the confusion matrix."""
    names = list(metrics["per_class"])
    width = max(len("macro avg"), *(len(name) for name in names))
    lines = [
        f"test accuracy {metrics['test_accuracy']:.2%} on {metrics['test_texts']:,} texts "
        f"(always answering the most frequent class: {metrics['majority_class_accuracy']:.2%}); "
        f"trained on {metrics['train_texts']:,} in {metrics['train_seconds']:.1f} s",
        "",
        f"{'class':<{width}}  precision  recall     f1  support",
    ]
    for name, row in metrics["per_class"].items():
        lines.append(f"{name:<{width}}  {row['precision']:9.3f}  {row['recall']:6.3f}  {row['f1']:5.3f}  "
                     f"{row['support']:7,}")
    macro = metrics["macro_avg"]
    lines.append(f"{'macro avg':<{width}}  {macro['precision']:9.3f}  {macro['recall']:6.3f}  {macro['f1']:5.3f}")
    lines += ["", "confusion matrix (rows: true class, columns: predicted)"]
    matrix = np.asarray(metrics["confusion_matrix"])
    cell = max(5, len(f"{matrix.max():,}") + 1, *(len(name) + 1 for name in names))
    lines.append(" " * width + "".join(f"{name:>{cell}}" for name in names))
    for name, row in zip(names, matrix):
        lines.append(f"{name:<{width}}" + "".join(f"{count:>{cell},}" for count in row))
    return "\n".join(lines)


def plot_label_counts(names: Sequence[str], y_train: np.ndarray, y_test: np.ndarray,
                      path: str | os.PathLike[str]) -> str:
    """Writes a count plot of the classes (training and test parts stacked), the seed's look at the
    label distribution before training; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = np.bincount(y_train, minlength=len(names))
    test = np.bincount(y_test, minlength=len(names))
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(names) + 2) + 2, 3.5))
    positions = np.arange(len(names))
    ax.bar(positions, train, label=f"training ({train.sum():,})", color="tab:blue")
    ax.bar(positions, test, bottom=train, label=f"test ({test.sum():,})", color="tab:orange")
    for position, total in zip(positions, train + test):
        ax.text(position, total, f"{total:,}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(positions, names, rotation=45 if len(names) > 8 else 0)
    ax.set_xlabel("label")
    ax.set_ylabel("texts")
    ax.set_title(f"label distribution ({train.sum() + test.sum():,} texts)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    try:
        write_atomically(path, lambda file: fig.savefig(file, format="png", dpi=100))
    finally:
        plt.close(fig)
    return os.fspath(path)


class LengthBatches:
    """Training batches of texts of similar length, each padded only to its own longest text.

    Each epoch shuffles the texts, sorts each pool of `POOL` batches' worth by length, cuts it
    into batches and shuffles the batches: the recurrent loop then runs over about the typical
    length instead of the longest one, and the mask makes the padding irrelevant to the result.
    The shuffles draw from NumPy's global generator, which `set_random_seed` seeds and
    `BackupAndRestore` restores, so a resumed run takes the batches the uninterrupted one would.

    Args:
        ids: int64 token ids, (texts, length), padded with 0 at the end.
        labels: the class ids, one per text.
        batch_size: texts per batch.
    """

    POOL = 20

    def __init__(self, ids: np.ndarray, labels: np.ndarray, batch_size: int) -> None:
        self.ids, self.labels, self.batch_size = ids, labels, batch_size
        self.lengths = np.count_nonzero(ids, axis=1)

    def __len__(self) -> int:
        return -(-len(self.ids) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng(np.random.randint(2**31))
        order = rng.permutation(len(self.ids))
        pool = self.POOL * self.batch_size
        batches = []
        for start in range(0, len(order), pool):
            chunk = order[start:start + pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [chunk[i:i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        for index in rng.permutation(len(batches)):
            batch = batches[index]
            width = max(1, int(self.lengths[batch].max()))
            yield self.ids[batch, :width], self.labels[batch]


def _ids(vectorizer, texts):
    ids = vectorizer(texts)
    # Texts that are all empty after standardization still need one (padding) step.
    return ids if ids.shape[1] else np.zeros((len(ids), 1), dtype=np.int64)


def _class_probabilities(outputs, classes):
    outputs = np.asarray(outputs, dtype=np.float32)
    if classes == 2 and outputs.shape[-1] == 1:
        positive = outputs[:, 0]
        return np.stack([1 - positive, positive], axis=1)
    return outputs
