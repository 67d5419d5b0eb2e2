"""Character-level text generation: train a character model on any UTF-8 text, then sample from it.

    text file -> CharVocabulary -> ids -> last `validation_fraction` of the text held out
    training windows of `seq_len` characters (targets: the same window shifted by one), re-cut at a
    random offset every epoch and shuffled -> Embedding -> Dropout -> recurrent layers -> Dropout -> Dense

The default recipe is regularised and annealed so that it keeps improving on held-out text instead
of overfitting: dropout on the embedding and on the recurrent outputs, decoupled weight decay
(AdamW), gradient clipping, and a learning rate that warms up and then follows a cosine down to a
few percent of its peak over the run. With a time budget (`minutes`) the run ends after the batch
where time runs out, and the cosine follows the elapsed time, so the learning rate is annealed
when the budget ends whatever the speed of the machine.

Losses are in nats per character (the cross-entropy, natural log) and in bits per character
(nats / ln 2). The vocabulary and the settings travel in `model.assets`, so a saved model samples
alone: `sample(load_model("model.rnnkit"), "ROMEO:", 500)`.
"""
import dataclasses
import math
import os
import time
from collections.abc import Iterator, Sequence
from typing import TextIO

import numpy as np
import torch

from ..checks import check_scalar
from ..data import CharVocabulary
from ..layers import GRU, LSTM, Dense, Dropout, Embedding, SimpleRNN
from ..models import Model, Sequential
from ..train import callbacks as callbacks_module
from ..train import distributed
from ..train.losses import SparseCategoricalCrossentropy
from ..train.optimizers import AdamW
from .runner import TaskRunner

__all__ = ["CELLS", "CharWindows", "TextgenRun", "TrainingClock", "build_model", "read_text", "sample", "train_text_model",
           "vocabulary_of", "windows"]

CELLS = {"gru": GRU, "lstm": LSTM, "simple_rnn": SimpleRNN}
CHECKPOINT = "checkpoint.rnnkit"


# ------------------------------------------------------------------------------------------ data
def read_text(path: str | os.PathLike[str]) -> str:
    """The contents of the UTF-8 text file `path`, without a leading byte-order mark (an editor's
    mark, not a character of the text to learn).

    Raises:
        ValueError: the file is empty, or is not UTF-8 (naming the byte offset of the first bad byte).
        OSError: the file cannot be read.
    """
    with open(path, "rb") as file:
        data = file.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path!r} is not UTF-8 text: byte {error.start} (0x{data[error.start]:02x}) cannot be decoded "
            f"({error.reason}); convert the file to UTF-8 (e.g. iconv -t UTF-8)."
        ) from None
    if not text:
        raise ValueError(f"{path!r} is empty: a character model needs text to learn from.")
    return text


def windows(ids: np.ndarray, seq_len: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping windows of `seq_len` ids starting at `offset`: inputs `x` (n, seq_len) and
    targets `y`, each input shifted by one character (views of `ids`, no copy)."""
    count = (len(ids) - 1 - offset) // seq_len
    x = ids[offset : offset + count * seq_len].reshape(count, seq_len)
    y = ids[offset + 1 : offset + 1 + count * seq_len].reshape(count, seq_len)
    return x, y


class CharWindows:
    """Training batches over a long sequence of ids: each pass (epoch) cuts the sequence into
    windows of `seq_len` at a random offset in [0, seq_len) and shuffles them, so the model sees
    every character at a different position in its window from one epoch to the next. Draws from
    torch's global generator (seeded by `set_random_seed`, restored by BackupAndRestore).

    Args:
        ids: int64 numpy array, the training text as ids.
        seq_len: characters per window.
        batch_size: windows per batch.

    Example:
        >>> batches = CharWindows(np.arange(1000), seq_len=10, batch_size=8)
        >>> x, y = next(iter(batches)); x.shape
        torch.Size([8, 10])
    """

    def __init__(self, ids: np.ndarray, seq_len: int, batch_size: int) -> None:
        self.ids, self.seq_len, self.batch_size = ids, seq_len, batch_size
        # Windows at the largest offset: every epoch has at least this many, and exactly len(self) batches.
        self.count = len(windows(ids, seq_len, seq_len - 1)[0])

    def __len__(self) -> int:
        return math.ceil(self.count / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        offset = int(torch.randint(0, self.seq_len, ()).item())
        x, y = windows(self.ids, self.seq_len, offset)
        order = torch.randperm(len(x))[: self.count].numpy()
        for start in range(0, self.count, self.batch_size):
            chosen = order[start : start + self.batch_size]
            yield torch.from_numpy(x[chosen]), torch.from_numpy(y[chosen])


# ----------------------------------------------------------------------------------------- model
def build_model(vocabulary_size: int, units: Sequence[int] = (512,), cell: str = "gru", embedding_dim: int = 64,
                dropout: float = 0.2, input_dropout: float = 0.05) -> Model:
    """The character model: Embedding -> Dropout -> recurrent layers (one per entry of `units`,
    each returning sequences) -> Dropout -> Dense logits over the vocabulary.

    Args:
        vocabulary_size: number of distinct characters.
        units: the size of each recurrent layer, first to last.
        cell: "gru", "lstm" or "simple_rnn".
        embedding_dim: size of the character vectors.
        dropout: dropout rate on each recurrent layer's outputs.
        input_dropout: dropout rate on the character vectors.

    Example:
        >>> build_model(65, units=(256, 256)).count_params()
    """
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {cell!r}.")
    units = list(units)
    if not units:
        raise ValueError("units must list at least one recurrent layer size, e.g. (512,).")
    stack = [Embedding(vocabulary_size, embedding_dim), Dropout(input_dropout)]
    for size in units:
        stack += [CELLS[cell](size, return_sequences=True), Dropout(dropout)]
    stack.append(Dense(vocabulary_size))
    return Sequential(stack, name="char_model")


def vocabulary_of(model: Model) -> CharVocabulary:
    """The CharVocabulary stored in a character model's assets."""
    config = model.assets.get("vocabulary")
    if config is None:
        raise ValueError(
            f"model '{model.name}' has no character vocabulary in its assets: it was not trained by "
            "rnnkit textgen; train one with `rnnkit textgen train --text FILE`."
        )
    return CharVocabulary.from_config(config)


# -------------------------------------------------------------------------------------- training
class TrainingClock(callbacks_module.Callback):
    """The learning rate schedule and the optional time budget of a run.

    The learning rate rises linearly over the first `warmup_steps` batches, then follows a cosine
    from `peak` down to `peak * final_fraction` as the run progresses. Progress is the fraction of
    the planned batches done or, with a budget, of the budget's time used, whichever is larger.
    With a budget, training stops after the batch during which it ran out (fit then validates and
    ends the epoch as usual). Adds to each epoch's logs: "bpc" and "val_bpc" (bits per
    character), "minutes" (elapsed) and "lr".

    Args:
        peak: the largest learning rate.
        total_steps: the batches planned (epochs x batches per epoch).
        minutes: the time budget, or None.
        warmup_steps, final_fraction: shape of the schedule.
    """

    def __init__(self, peak: float, total_steps: int, minutes: float | None = None, warmup_steps: int = 100,
                 final_fraction: float = 0.03) -> None:
        super().__init__()
        self.peak, self.total_steps, self.minutes = peak, total_steps, minutes
        self.warmup_steps, self.final_fraction = warmup_steps, final_fraction
        self.out_of_time = False

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.start = time.perf_counter()

    def elapsed_minutes(self) -> float:
        return (time.perf_counter() - self.start) / 60

    def progress(self, step: int) -> float:
        done = step / self.total_steps
        if self.minutes is not None:
            done = max(done, self.elapsed_minutes() / self.minutes)
        return min(done, 1.0)

    def learning_rate(self, step: int) -> float:
        """The learning rate for optimizer step `step` (0-based)."""
        warm = min(1.0, (step + 1) / self.warmup_steps)
        cosine = 0.5 * (1 + math.cos(math.pi * self.progress(step)))
        return self.peak * warm * (self.final_fraction + (1 - self.final_fraction) * cosine)

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        optimizer = self.model.optimizer
        optimizer.learning_rate = self.learning_rate(optimizer.iterations)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.minutes is not None and self.elapsed_minutes() >= self.minutes:
            self.out_of_time = True
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            return
        for key in ("loss", "val_loss"):
            if key in logs:
                logs[key.replace("loss", "bpc")] = logs[key] / math.log(2)
        logs["minutes"] = self.elapsed_minutes()
        logs["lr"] = float(self.model.optimizer.learning_rate)


@dataclasses.dataclass
class TextgenRun:
    """What `train` returns: the trained model, its vocabulary, the History, the metrics written to
    metrics.json, the sample text, the output folder, and the files written in it, by name (see
    `TaskRunner.finish`)."""

    model: Model
    vocabulary: CharVocabulary
    history: callbacks_module.History
    metrics: dict
    sample: str
    out: str
    files: dict = dataclasses.field(default_factory=dict)


def train_text_model(
    text: str,
    out: str | os.PathLike[str],
    seq_len: int = 100,
    units: Sequence[int] = (512,),
    cell: str = "gru",
    embedding_dim: int = 64,
    dropout: float = 0.2,
    input_dropout: float = 0.05,
    batch_size: int = 32,
    epochs: int = 30,
    minutes: float | None = None,
    learning_rate: float = 4e-3,
    weight_decay: float = 0.05,
    clipnorm: float = 5.0,
    validation_fraction: float = 0.1,
    validation_seq_len: int = 1000,
    seed: int = 0,
    resume: bool = False,
    verbose: int | str = "auto",
    sample_length: int = 300,
    sample_prompt: str | None = None,
    sample_temperature: float = 0.8,
) -> TextgenRun:
    """Trains a character model on `text` and writes it to the folder `out`.

    Args:
        text: the training text (a str; `read_text(path)` reads a file).
        out: output folder: model.rnnkit (the final model), checkpoint.rnnkit (the model after the
            latest epoch), metrics.json, history.csv, history.png; backup/ while the run is unfinished.
        seq_len: characters per training window (the span gradients flow back through).
        units, cell, embedding_dim, dropout, input_dropout: the model (see `build_model`).
        batch_size: windows per batch.
        epochs: the most epochs to train.
        minutes: time budget in minutes (None: no limit); training ends after the batch where it
            runs out. A resumed run gets the full budget again.
        learning_rate: the peak learning rate (AdamW), annealed by a cosine (see `TrainingClock`).
        weight_decay: AdamW's decoupled weight decay.
        clipnorm: the largest global gradient norm.
        validation_fraction: the share of the text, taken from its end, held out for validation.
        validation_seq_len: the validation text is scored in windows of this many characters
            (1000: each character with nearly all the text before it as context, as in generation);
            metrics.json also has the loss on windows of `seq_len` ("val_loss_at_seq_len").
        seed: seeds weights, dropout, windows and the sample.
        resume: continue the unfinished run in `out`.
        verbose: fit's progress output (0, 1, 2 or "auto").
        sample_length: characters sampled at the end (0: none).
        sample_prompt: the sample's start (default: the text's first line, at most 40 characters).
        sample_temperature: the sample's temperature.

    Returns:
        A `TextgenRun`.

    Raises:
        ValueError: an empty text, a text too short for `seq_len` and the validation split, bad
            settings, a data-parallel launch (torchrun).

    Example:
        >>> run = train_text_model(read_text("input.txt"), "runs/chars", minutes=20)
        >>> run.metrics["val_loss"], run.metrics["val_bpc"]
    """
    if not isinstance(text, str) or not text:
        raise ValueError(f"train needs a non-empty text (a str; see read_text for files), got {type(text).__name__}.")
    if distributed.world_size() > 1:
        raise ValueError(
            "textgen trains in one process: its windows are re-cut at a random offset each epoch and its "
            "learning rate follows the clock, which data-parallel processes would not share; run it without "
            "--nproc or torchrun."
        )
    _check_settings(seq_len, validation_seq_len, batch_size, epochs, minutes, validation_fraction)
    runner = TaskRunner(out, resume=resume, seed=seed)

    vocabulary = CharVocabulary.from_text(text)
    ids = vocabulary.encode(text)
    cut = int(len(ids) * (1 - validation_fraction))
    train_ids, val_ids = ids[:cut], ids[cut:]
    for part, name in ((train_ids, "training"), (val_ids, "validation")):
        if len(part) < seq_len + 1:
            raise ValueError(
                f"the text has {len(ids)} characters, leaving {len(part)} for {name} with validation_fraction="
                f"{validation_fraction}; windows of seq_len={seq_len} need at least {seq_len + 1}: use a longer "
                "text or a smaller seq_len."
            )
    batches = CharWindows(train_ids, seq_len, batch_size)
    # Long validation windows: each character is scored with (nearly) all the text before it, as
    # when the model generates carrying its state, not from a state reset every seq_len characters.
    val_x, val_y = windows(val_ids, max(seq_len, min(validation_seq_len, len(val_ids) - 1)))

    model = build_model(len(vocabulary), units, cell, embedding_dim, dropout, input_dropout)
    model.assets["vocabulary"] = vocabulary.get_config()
    model.assets["textgen"] = {"seq_len": seq_len, "cell": cell, "units": list(units)}
    model.compile(
        optimizer=AdamW(learning_rate, weight_decay=weight_decay, global_clipnorm=clipnorm),
        loss=SparseCategoricalCrossentropy(from_logits=True),
    )
    total_steps = epochs * len(batches)
    clock = TrainingClock(learning_rate, total_steps, minutes=minutes, warmup_steps=min(100, 1 + total_steps // 20))
    checkpoint = callbacks_module.ModelCheckpoint(runner.file(CHECKPOINT))
    history = runner.fit(model, batches, epochs=epochs, validation_data=(val_x, val_y), validation_batch_size=64,
                         callbacks=[clock, checkpoint], verbose=verbose)
    short_x, short_y = windows(val_ids, seq_len)
    val_loss_short = model.evaluate(short_x, short_y, batch_size=256, verbose=0)

    curves = history.history
    metrics = {
        "characters": len(ids),
        "vocabulary_size": len(vocabulary),
        "training_characters": len(train_ids),
        "validation_characters": len(val_ids),
        "epochs": history.epoch[-1] + 1 if history.epoch else 0,  # counts the epochs before a resume too
        "minutes": clock.elapsed_minutes(),
        "stopped_by_time_budget": clock.out_of_time,
        **{key: values[-1] for key, values in curves.items() if values and key in ("loss", "bpc", "val_loss", "val_bpc")},
        "seq_len": seq_len,
        "validation_seq_len": int(val_x.shape[1]),
        "val_loss_at_seq_len": val_loss_short,
        "val_bpc_at_seq_len": val_loss_short / math.log(2),
    }
    text_sample = ""
    if sample_length:
        prompt = sample_prompt if sample_prompt is not None else _first_line(text)
        text_sample = prompt + sample(model, prompt, sample_length, temperature=sample_temperature, seed=seed)
        metrics["sample"] = text_sample
    files = runner.finish(model, history, metrics, title=f"{cell.upper()} {list(units)} character model")
    files["checkpoint"] = checkpoint.filepath
    return TextgenRun(model, vocabulary, history, metrics, text_sample, runner.folder.path, files)


def _check_settings(seq_len, validation_seq_len, batch_size, epochs, minutes, validation_fraction):
    named = {"seq_len": seq_len, "validation_seq_len": validation_seq_len, "batch_size": batch_size, "epochs": epochs}
    for name, value in named.items():
        check_scalar(value, name, int, min_val=1)
    check_scalar(minutes, "minutes", float, min_val=0, include_boundaries="neither", or_none="no time limit")
    check_scalar(validation_fraction, "validation_fraction", float, min_val=0, max_val=1,
                 include_boundaries="neither")


def _first_line(text, limit=40):
    line = text[: text.find("\n") + 1] if 0 <= text.find("\n") < limit else text[:limit]
    return line or text[0]


# -------------------------------------------------------------------------------------- sampling
def sample(model: Model, prompt: str, length: int, temperature: float = 1.0, top_k: int | None = None,
           seed: int | None = None, stream: TextIO | None = None) -> str:
    """Continues `prompt` with `length` characters from a trained character model.

    Args:
        model: a model trained by `train` (its vocabulary is in `model.assets`).
        prompt: the text to continue (at least one character, all in the model's vocabulary).
        length: how many characters to generate.
        temperature, top_k, seed: sampling settings, as `Model.generate` (temperature 0: greedy).
        stream: a text file (e.g. `sys.stdout`) to write each character to as soon as it is made.

    Returns:
        The generated text, without the prompt.

    Raises:
        ValueError: a model without a vocabulary, an empty prompt or characters outside the
            vocabulary, bad sampling settings.

    Example:
        >>> print("ROMEO:" + sample(load_model("runs/chars/model.rnnkit"), "ROMEO:", 300, 0.8, 10, seed=1))
    """
    vocabulary = vocabulary_of(model)
    if not isinstance(prompt, str) or not prompt:
        raise ValueError(f"the prompt must be a non-empty string to continue, got {prompt!r}.")
    on_token = None
    if stream is not None:

        def on_token(ids):
            stream.write(vocabulary.decode(ids))
            stream.flush()

    generated = model.generate(
        vocabulary.encode(prompt), length, temperature=temperature, top_k=top_k, seed=seed, on_token=on_token
    )
    return vocabulary.decode(generated)
