"""`rnnkit seq2seq addition|train|predict`: character-level sequence-to-sequence models."""
import argparse
import shlex

from ..io.saving import load_model
from ..tasks.seq2seq import (
    RECURRENT_LAYERS, addition_codec, addition_pairs, read_pairs, split_pairs, train_seq2seq, translate,
)
from .options import (
    UsageError, add_training_options, existing_file, fraction, layer_size, learning_rate, one_of, positive_int,
    refuse_overwriting_inputs, whole_number,
)
from .output import print_written

# a + b must stay within a 64-bit integer.
MAX_DIGITS = 18

EXAMPLES = """examples:
  rnnkit seq2seq addition --digits 3 --out runs/addition
  rnnkit seq2seq predict runs/addition/model.rnnkit 12+345 999+1
  rnnkit seq2seq train --pairs dates.tsv --test-fraction 0.1 --epochs 30 --out runs/dates
  rnnkit seq2seq predict runs/dates/model.rnnkit --file sources.txt
"""


def addition(args: argparse.Namespace) -> int:
    train, test = addition_pairs(args.train_size, args.test_size, args.digits, seed=args.seed)
    print(f"rnnkit seq2seq addition: {len(train)} training and {len(test)} held-out questions a+b with a, b < "
          f"{10 ** args.digits} (none of them, in either order, in training), e.g. "
          + ", ".join(f"{q}={a}" for q, a in train[:3]))
    result = train_seq2seq(
        train, test, units=args.units, layer=args.layer, embedding_dim=args.embedding_dim, epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate, schedule=args.schedule, seed=args.seed,
        out=args.out, resume=args.resume, verbose=0 if args.quiet else "auto",
        codec=addition_codec(args.digits, reverse=not args.no_reverse),
        settings={"task": "addition", "digits": args.digits},
    )
    _report(args, result, "questions")
    return 0


def train(args: argparse.Namespace) -> int:
    if args.test_pairs is not None and args.test_fraction is not None:
        raise UsageError("pass either --test-pairs or --test-fraction, not both.")
    refuse_overwriting_inputs([args.pairs, args.test_pairs], [args.out])
    pairs = read_pairs(args.pairs)
    if args.test_pairs is not None:
        train_pairs, test_pairs = pairs, read_pairs(args.test_pairs)
        seen = {source for source, _ in train_pairs}
        overlap = sum(source in seen for source, _ in test_pairs)
        test_source = args.test_pairs + (f" ({overlap} of whose sources also occur in training)" if overlap else "")
    else:
        test_fraction = 0.1 if args.test_fraction is None else args.test_fraction
        train_pairs, test_pairs = split_pairs(pairs, test_fraction, seed=args.seed)
        test_source = f"{test_fraction:.0%} of the distinct sources of {args.pairs}, held out"
    print(f"rnnkit seq2seq train: {len(train_pairs)} training pairs from {args.pairs}, {len(test_pairs)} test pairs "
          f"from {test_source}")
    result = train_seq2seq(
        train_pairs, test_pairs, reverse=not args.no_reverse, units=args.units, layer=args.layer,
        embedding_dim=args.embedding_dim, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.learning_rate, schedule=args.schedule, seed=args.seed, out=args.out, resume=args.resume,
        verbose=0 if args.quiet else "auto", settings={"task": "seq2seq"},
    )
    _report(args, result, "pairs")
    return 0


def predict(args: argparse.Namespace) -> int:
    sources = list(args.sources)
    if args.file is not None:
        with open(args.file, encoding="utf-8") as file:
            sources += [line.rstrip("\r\n") for line in file if line.strip()]
    if not sources:
        raise UsageError("nothing to predict: give source strings as arguments or --file with one per line.")
    model = load_model(args.model, compile=False)
    for source, prediction in zip(sources, translate(model, sources)):
        print(f"{source}\t{prediction}")
    return 0


def _report(args, result, what):
    metrics = result.metrics
    print(f"\nexact match {metrics['exact_match']:.2%} of {metrics['test_pairs']} held-out {what}, character "
          f"accuracy {metrics['character_accuracy']:.2%} ({metrics['epochs']} epochs, fit "
          f"{metrics['train_seconds']:.1f} s)")
    width = max(len(source) for source, _, _ in result.examples)
    for source, target, predicted in result.examples:
        verdict = "ok" if predicted == target else f"wrong, expected {target!r}"
        print(f"  {source:>{width}} -> {predicted!r:<12} {verdict}")
    print_written(args.out, result.files.values())
    print(f"next: rnnkit seq2seq predict {shlex.quote(result.files['model'])} {shlex.quote(result.examples[0][0])}")


def _add_model_options(parser, default_rate):
    group = parser.add_argument_group("model")
    group.add_argument("--layer", type=one_of(*RECURRENT_LAYERS), default="lstm",
                       help="encoder and decoder kind: lstm, gru or simple_rnn (default lstm)")
    group.add_argument("--units", type=layer_size, default=128, help="encoder and decoder width (default 128)")
    group.add_argument("--embedding-dim", type=layer_size, default=32,
                       help="width of the character embedding (default 32)")
    group.add_argument("--learning-rate", type=learning_rate, default=default_rate,
                       help=f"Adam's initial learning rate (default {default_rate})")
    group.add_argument("--schedule", type=one_of("cosine", "constant"), default="cosine",
                       help="cosine: the learning rate falls to 0 along a cosine over the run, steadying the last "
                       "epochs; constant: it stays (default cosine)")
    group.add_argument("--no-reverse", action="store_true",
                       help="read sources forwards (by default they are read backwards, which trains faster)")


def register(subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subcommands.add_parser(
        "seq2seq",
        parents=[common],
        help="character-level sequence-to-sequence: the addition task, or your own source<TAB>target pairs",
        description="Encoder RNN -> RepeatVector -> decoder RNN -> per-step softmax over characters, decoded "
        "greedily; scored by exact match on held-out sources.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    addition_parser = actions.add_parser(
        "addition",
        parents=[common],
        help="learn to add: questions 'a+b' answered character by character",
        description="Keras's addition example: questions 'a+b' (a, b of 1 to --digits digits) as characters, "
        "answers as characters; exact match on held-out questions, none of which (in either order) is a "
        "training question.",
        epilog="examples:\n  rnnkit seq2seq addition --digits 3 --out runs/addition\n"
        "  rnnkit seq2seq addition --digits 2 --train-size 5000 --test-size 500 --epochs 20",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = addition_parser.add_argument_group("data")
    data.add_argument("--digits", type=whole_number(1, MAX_DIGITS), default=3, help="largest number of digits of a and b (default 3)")
    data.add_argument("--train-size", type=positive_int, default=100_000, help="training questions (default 100000)")
    data.add_argument("--test-size", type=positive_int, default=5_000, help="held-out questions (default 5000)")
    _add_model_options(addition_parser, default_rate=0.003)
    add_training_options(addition_parser, epochs=15, batch_size=128, out="runs/addition")
    addition_parser.set_defaults(run=addition)

    train_parser = actions.add_parser(
        "train",
        parents=[common],
        help="train on a file of source<TAB>target lines",
        description="Trains a character-level seq2seq model on source<TAB>target lines (UTF-8; further columns "
        "are ignored). Test pairs come from --test-pairs, or are held out by distinct source.",
        epilog="examples:\n  rnnkit seq2seq train --pairs dates.tsv --out runs/dates\n"
        "  rnnkit seq2seq train --pairs train.tsv --test-pairs test.tsv --layer gru --epochs 50",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = train_parser.add_argument_group("data")
    data.add_argument("--pairs", type=existing_file, required=True, help="training pairs, source<TAB>target lines")
    data.add_argument("--test-pairs", type=existing_file, help="test pairs, in the same format")
    data.add_argument("--test-fraction", type=fraction,
                      help="without --test-pairs: the fraction of distinct sources held out (default 0.1)")
    _add_model_options(train_parser, default_rate=0.001)
    add_training_options(train_parser, epochs=40, batch_size=32, out="runs/seq2seq")
    train_parser.set_defaults(run=train)

    predict_parser = actions.add_parser(
        "predict",
        parents=[common],
        help="decode sources with a trained model",
        description="Decodes each source greedily with a model saved by `rnnkit seq2seq addition|train` and prints "
        "source<TAB>prediction lines.",
        epilog="examples:\n  rnnkit seq2seq predict runs/addition/model.rnnkit 12+345 999+1\n"
        "  rnnkit seq2seq predict runs/dates/model.rnnkit --file sources.txt > predictions.tsv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    predict_parser.add_argument("model", type=existing_file, help="a model.rnnkit written by seq2seq")
    predict_parser.add_argument("sources", nargs="*", help="source strings to decode")
    predict_parser.add_argument("--file", type=existing_file, help="a UTF-8 file of sources, one per line")
    predict_parser.set_defaults(run=predict)
