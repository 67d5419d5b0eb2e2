"""Options and argument types shared by the subcommands."""
import argparse
import difflib
import math
import os
from collections.abc import Callable, Sequence


class UsageError(Exception):
    """A bad argument found after parsing (e.g. a value that depends on another option); `main`
    prints it as a one-line error and exits with code 2."""


def common_options() -> argparse.ArgumentParser:
    """A parent parser with the options every subcommand takes."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    return parser


def add_training_options(parser: argparse.ArgumentParser, *, epochs: int, batch_size: int | None, out: str) -> None:
    """--epochs, --batch-size, --seed, --out, --resume, --quiet and --nproc, with this command's
    defaults.

    `--nproc N` trains data-parallel in N processes on this machine: `rnnkit.cli.main` runs the
    command again under torchrun (`torchrun --standalone --nproc-per-node N -m rnnkit ...`).
    --batch-size stays the global batch, split over the processes. On several machines, start on
    each of them (HOST being one machine's address, the same everywhere; --out on a shared file
    system so that --resume finds the backup)::

        torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint HOST:29500 \\
            --rdzv-id my-run -m rnnkit forecast data.csv --out /shared/runs/forecast
    """
    group = parser.add_argument_group("training")
    group.add_argument("--epochs", type=positive_int, default=epochs, help=f"training epochs (default {epochs})")
    group.add_argument("--batch-size", type=positive_int, default=batch_size,
                       help=f"samples per batch (default {batch_size or 'derived from the number of samples'})")
    group.add_argument("--seed", type=seed, default=0, help="random seed: same seed, same run (default 0)")
    group.add_argument("--out", default=out,
                       help=f"folder for the model, metrics.json, history.csv and plots (default {out})")
    group.add_argument("--resume", action="store_true",
                       help="continue the interrupted run in --out from its last completed epoch")
    group.add_argument("--quiet", action="store_true", help="no progress bar")
    group.add_argument("--nproc", type=positive_int, default=1, metavar="N",
                       help="train data-parallel in N processes on this machine, via torchrun; --batch-size is "
                       "the global batch, split over them (default 1). On several machines run on each: "
                       "torchrun --nnodes M --nproc-per-node N --rdzv-backend c10d --rdzv-endpoint HOST:29500 "
                       "--rdzv-id RUN -m rnnkit COMMAND ...")


def without_option(argv: Sequence[str], option: str) -> list[str]:
    """`argv` without `option` and its value (`--nproc 2`, `--nproc=2`, or an abbreviation that
    argparse accepted, such as `--npr 2`).

    Example:
        >>> without_option(["forecast", "data.csv", "--nproc", "2", "--epochs", "3"], "--nproc")
        ['forecast', 'data.csv', '--epochs', '3']
    """
    kept, skip_value = [], False
    for token in argv:
        if skip_value:
            skip_value = False
            continue
        name, has_value, _ = token.partition("=")
        if len(name) > 2 and option.startswith(name):
            skip_value = not has_value
            continue
        kept.append(token)
    return kept


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """argparse type: an integer from `low` to `high`.

    Example:
        >>> whole_number(1, 8192)("64")
        64
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {_quoted(text)}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        if value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high}, got {_quoted(text)}")
        return value

    parse.__name__ = "whole number"
    return parse


# Counts (epochs, batch sizes, steps) fit in a 32-bit signed integer, as PyTorch's sizes must.
MAX_COUNT = 2**31 - 1
# The width of a layer (units, vector sizes): a recurrent layer of 8192 units already holds 1 GB of
# weights; wider asks would only end in an allocation failure.
MAX_LAYER_SIZE = 8192
# Learning rates above this diverge for every optimizer rnnkit's commands use.
MAX_LEARNING_RATE = 10.0

positive_int = whole_number(1, MAX_COUNT)
positive_int.__doc__ = "argparse type: an integer from 1 to MAX_COUNT."
layer_size = whole_number(1, MAX_LAYER_SIZE)
layer_size.__doc__ = "argparse type: a layer width (units, vector size) from 1 to MAX_LAYER_SIZE."
non_negative_int = whole_number(0, MAX_COUNT)
non_negative_int.__doc__ = "argparse type: an integer from 0 to MAX_COUNT."
seed = whole_number(0, 2**32 - 1)
seed.__doc__ = "argparse type: a random seed, from 0 to 2**32 - 1 (NumPy's range)."


def _quoted(text):
    """`text` as typed, quoted, cut in the middle when long (a pasted file is not echoed whole)."""
    return repr(text if len(text) <= 40 else text[:20] + "..." + text[-17:])


def real_number(low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> Callable[[str], float]:
    """argparse type: a number from `low` to `high`, each end excluded when its `*_open` is true
    (NaN is refused; so is infinity unless `high` is infinity and included).

    Example:
        >>> real_number(0, 1, high_open=True)("0.5")
        0.5
    """
    above = "greater than" if low_open else "at least"
    below = "below" if high_open else "at most"
    wanted = f"{above} {low:g}" + ("" if high == math.inf else f" and {below} {high:g}")

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number {wanted}, got {_quoted(text)}") from None
        low_ok = value > low if low_open else value >= low
        high_ok = value < high if high_open else value <= high
        if not (low_ok and high_ok):
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {_quoted(text)}")
        return value

    parse.__name__ = "number"
    return parse


learning_rate = real_number(0, MAX_LEARNING_RATE, low_open=True)
learning_rate.__doc__ = "argparse type: a learning rate, a number > 0 and at most MAX_LEARNING_RATE."
fraction = real_number(0, 1, low_open=True, high_open=True)
fraction.__doc__ = "argparse type: a number strictly between 0 and 1 (a share of the data, a coverage level)."
dropout_rate = real_number(0, 1, high_open=True)
dropout_rate.__doc__ = "argparse type: a dropout rate, from 0 to below 1."
non_negative = real_number(0, math.inf, high_open=True)
non_negative.__doc__ = "argparse type: a finite number >= 0 (a temperature, a weight decay)."
positive_number = real_number(0, math.inf, low_open=True, high_open=True)
positive_number.__doc__ = "argparse type: a finite number > 0 (a time budget)."


def rows_or_fraction(text: str) -> int | float:
    """argparse type: a fraction of the rows (0 <= x < 1) or a whole number of rows."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction like 0.2 or a number of rows, got {_quoted(text)}") from None
    if not (0 <= value < 1 or (1 <= value <= MAX_COUNT and value.is_integer())):
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1) or a whole number of rows, got {_quoted(text)}")
    return value if value < 1 else int(value)


def one_of(*choices: str) -> Callable[[str], str]:
    """argparse type: one of `choices`; a wrong value is answered with the closest valid ones."""

    def parse(text: str) -> str:
        if text in choices:
            return text
        close = difflib.get_close_matches(text, choices, n=3, cutoff=0.5)
        hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
        raise argparse.ArgumentTypeError(f"unknown value {text!r}; {hint}choose from {', '.join(choices)}")

    parse.__name__ = "choice"
    return parse


def existing_file(text: str) -> str:
    """argparse type: a path to a regular file (a folder, a FIFO or a device such as /dev/null is
    refused: reading one fails or blocks)."""
    if not os.path.isfile(text):
        if os.path.isdir(text):
            raise argparse.ArgumentTypeError(f"{text!r} is a folder, not a file")
        if os.path.exists(text):
            raise argparse.ArgumentTypeError(f"{text!r} is not a regular file (a pipe or a device?)")
        raise argparse.ArgumentTypeError(f"no such file: {text!r}")
    return text


def refuse_overwriting_inputs(inputs: Sequence[str | None], outputs: Sequence[str]) -> None:
    """Raises UsageError when one of the command's input files (None entries skipped) is one of the
    `outputs` it writes or lies inside one of them (a training run's --out folder, where it writes
    its model, history, plots and backup): running would replace the data it reads."""
    for output in outputs:
        if not output.strip():  # a blank --out is refused, naming it, where the folder is made
            continue
        target = os.path.realpath(output)
        for path in inputs:
            real = os.path.realpath(path) if path is not None else None
            if real is not None and (real == target or real.startswith(os.path.join(target, ""))):
                raise UsageError(f"the input {path!r} lies in {output!r}, which this command writes and would "
                                 "replace it; choose another --out or move the file.")
