"""The `rnnkit` command line: argument parsing, progress and files in and out; no math.

One module per subcommand, each with `register(subcommands, common)` that adds its parser and sets
`run`, a function of the parsed arguments returning the exit code. The math lives in
`rnnkit.tasks`; this package only turns arguments into a task call and its result into files and a
report. Bad input ends with a one-line error and exit code 2 (the full traceback with `--debug`).
"""
import argparse
import gc
import io
import os
import sys
import traceback
from collections.abc import Sequence

import torch

from ..train import distributed
from . import classify, demo, forecast, info, rows, seq2seq, textgen
from .options import UsageError, common_options, without_option

# The order of `rnnkit --help`.
COMMANDS = (demo, forecast, classify, textgen, seq2seq, rows, info)


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line that points to --help (subcommand parsers are of the
    same class)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The `rnnkit` argument parser with every subcommand."""
    parser = _Parser(
        prog="rnnkit",
        description="Recurrent neural networks with Keras's API on PyTorch: train, evaluate and use "
        "forecasters, text classifiers, character models and sequence-to-sequence models from the shell.",
        epilog="examples:\n  rnnkit demo\n  rnnkit forecast train --csv prices.csv --target Open --out runs/prices\n"
        "  rnnkit textgen sample runs/chars/model.rnnkit --prompt ROMEO: --length 300\n"
        "  rnnkit info runs/demo/model.rnnkit\n\n"
        "Run `rnnkit COMMAND --help` for each command's options and examples.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = common_options()
    for command in COMMANDS:
        command.register(subcommands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs `rnnkit` with `argv` (default: the process's arguments); returns the exit code.

    A training command with `--nproc N` (N > 1) runs again in N processes under torchrun
    (`rnnkit.train.distributed.launch`) and returns the exit code of the first that failed (0 when
    all succeeded). In the processes of a torchrun launch only the first one prints to stdout.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    if getattr(args, "nproc", 1) > 1 and not distributed.is_launched():
        return distributed.launch(args.nproc, without_option(argv, "--nproc"))
    if not distributed.is_main_process():
        sys.stdout = open(os.devnull, "w")  # the first process reports for all
    if isinstance(sys.stdout, io.TextIOWrapper):
        # A file name that is not UTF-8 reaches Python as lone surrogates; written back as the bytes
        # it was made of, it prints as the shell shows it instead of failing the command after its
        # work is done (stdout's errors are 'strict' in a UTF-8 locale other than C.UTF-8).
        sys.stdout.reconfigure(errors="surrogateescape")
    try:
        return args.run(args)
    except KeyboardInterrupt as interrupt:
        _release_interrupted(interrupt)
        print("rnnkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`rnnkit ... | head`): end quietly, as a command killed by SIGPIPE does
        _silence_stdout()
        return 128 + 13
    except (UsageError, ValueError, OSError, MemoryError, torch.OutOfMemoryError) as error:
        if args.debug:
            raise
        if isinstance(error, (MemoryError, torch.OutOfMemoryError)):
            error = f"not enough memory for this run ({type(error).__name__}); choose smaller sizes or batches."
        # One line, with the user's input inside it as it was (not its spaces squeezed)
        message = " ".join(str(error).strip().splitlines())
        print(f"rnnkit: error: {message}", file=sys.stderr)
        return 2


def _release_interrupted(interrupt):
    """Frees what the interrupted frames held, with errors in finalizers silenced: an object the
    interrupt caught in its constructor (a ZipFile without its `_writing` yet, while a checkpoint was
    being written) raises in `__del__`, which would print a traceback after the one line."""
    hook = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: None
    try:
        traceback.clear_frames(interrupt.__traceback__)
        gc.collect()
    finally:
        sys.unraisablehook = hook


def _silence_stdout():
    """Points stdout at /dev/null, so that the interpreter's last flush does not fail again."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a test's StringIO): nothing to flush
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)
