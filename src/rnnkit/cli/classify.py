"""`rnnkit classify train|predict`: text classification from labelled sentences."""
import argparse
import shlex

from ..data.labelled import FORMATS, read_labelled, read_lines
from ..tasks.classify import SCHEDULES, TextClassifier, format_classify_report, train_classifier
from .options import (
    UsageError, add_training_options, dropout_rate, existing_file, fraction, layer_size, learning_rate, one_of, positive_int,
    refuse_overwriting_inputs, whole_number,
)
from .output import print_written

TRAIN_EXAMPLES = """examples:
  rnnkit classify train --data ../shared/data/sentiment/*_labelled.txt --out runs/sentiment
  rnnkit classify train --data reviews.csv --text-col review --label-col stars --epochs 5
  rnnkit classify train --data news.tsv --max-tokens 20000 --units 128 --out runs/news

Input: "sentence<TAB>label" lines (any extension but .csv/.tsv), or a CSV/TSV table with a header
whose text and label columns are found by name (text, sentence, review, ... / label, class,
sentiment, ...) or named with --text-col / --label-col. Labels may be any strings; two or more
classes. Writes model.rnnkit, metrics.json, history.csv, history.png, confusion_matrix.png and
labels.png into --out."""

# The largest vocabulary: 4 million words (an Embedding of 64 floats each is 1 GB).
MAX_TOKENS = 2**22

PREDICT_EXAMPLES = """examples:
  rnnkit classify predict runs/sentiment/model.rnnkit "Great phone, works perfectly." "Never again."
  rnnkit classify predict runs/sentiment/model.rnnkit --file new_reviews.txt

Prints one line per sentence: the predicted label, its probability, and the sentence."""


def train(args: argparse.Namespace) -> int:
    refuse_overwriting_inputs(args.data, [args.out])
    data = read_labelled(args.data, text_col=args.text_col, label_col=args.label_col, format=args.format)
    data, duplicates = data.distinct()
    counts = ", ".join(f"{name} ({count:,})" for name, count in data.counts().items())
    dropped = f" ({duplicates:,} repeated texts dropped, so that no test text is also trained on)" if duplicates else ""
    print(f"rnnkit classify: {len(data):,} texts from {len(args.data)} file(s){dropped}, {len(data.names)} "
          f"classes: {counts}")
    print(f"model: Embedding({args.embedding_dim}, mask_zero) + Bidirectional(LSTM({args.units})) + Dense; "
          f"{args.epochs} epochs, test part {args.test_size:.0%}")
    result = train_classifier(
        data, test_size=args.test_size, max_tokens=args.max_tokens, sequence_length=args.sequence_length,
        embedding_dim=args.embedding_dim, units=args.units, dropout=args.dropout, epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate, schedule=args.schedule, seed=args.seed,
        out=args.out, resume=args.resume, verbose=0 if args.quiet else "auto",
    )
    metrics = result.metrics
    print(f"vocabulary {metrics['vocabulary_size']:,} tokens (from the training part), longest text "
          f"{metrics['longest_text_tokens']} tokens, {metrics['model']['parameters']:,} parameters")
    print(format_classify_report(metrics))
    print()
    print_written(args.out, result.files.values())
    print(f"next: rnnkit classify predict {shlex.quote(result.files['model'])} "
          f"{shlex.quote('a sentence to classify')}")
    return 0


def predict(args: argparse.Namespace) -> int:
    if bool(args.sentences) == bool(args.file):
        raise UsageError("give the sentences to classify as arguments or with --file FILE (one per line), not both.")
    texts = read_lines(args.file) if args.file else args.sentences
    classifier = TextClassifier.load(args.model)
    width = max(len(name) for name in classifier.names)
    for text, (label, probability) in zip(texts, classifier.predict(texts)):
        print(f"{label:<{width}}  {probability:.3f}  {' '.join(text.split())}")
    return 0


def register(subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subcommands.add_parser(
        "classify", parents=[common], help="train a text classifier on labelled sentences, or use one",
        description="Text classification with Embedding + Bidirectional(LSTM): `train` on labelled sentences, "
        "`predict` the labels of new ones with the saved model.",
        epilog="run `rnnkit classify train --help` or `rnnkit classify predict --help` for examples",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    trainer = actions.add_parser(
        "train", parents=[common], help="train on labelled sentences and report test metrics",
        description="Trains the default classifier on a shuffled split of labelled sentences (fixed by --seed), "
        "prints accuracy, per-class precision/recall/F1 and the confusion matrix, and saves the model with its "
        "vocabulary and label names.",
        epilog=TRAIN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = trainer.add_argument_group("data")
    source.add_argument("--data", nargs="+", action="extend", required=True, type=existing_file, metavar="FILE",
                        help="labelled text files (concatenated)")
    source.add_argument("--text-col", help="CSV/TSV: the column of the texts (default: found by name)")
    source.add_argument("--label-col", help="CSV/TSV: the column of the labels (default: found by name)")
    source.add_argument("--format", type=one_of(*FORMATS), default="auto",
                        help="auto (by extension: .csv, .tsv, else sentence<TAB>label lines), lines, csv or tsv")
    source.add_argument("--test-size", type=fraction, default=0.2,
                        help="fraction of the texts held out for testing (default 0.2)")
    recipe = trainer.add_argument_group("model")
    recipe.add_argument("--max-tokens", type=whole_number(1, MAX_TOKENS), default=10000,
                        help="largest vocabulary, padding and unknown-word ids included (default 10000)")
    recipe.add_argument("--sequence-length", type=positive_int, default=None,
                        help="truncate texts to this many words (default: keep them whole)")
    recipe.add_argument("--embedding-dim", type=layer_size, default=64, help="word vector size (default 64)")
    recipe.add_argument("--units", type=layer_size, default=64, help="LSTM units per direction (default 64)")
    recipe.add_argument("--dropout", type=dropout_rate, default=0.5,
                        help="dropout on the word vectors and the LSTM output (default 0.5)")
    recipe.add_argument("--learning-rate", type=learning_rate, default=1e-3,
                        help="Adam's learning rate, at the start with --schedule cosine (default 0.001)")
    recipe.add_argument("--schedule", type=one_of(*SCHEDULES), default="cosine",
                        help="cosine: the learning rate falls to 0 over the run (default); constant")
    add_training_options(trainer, epochs=10, batch_size=32, out="runs/classify")
    trainer.set_defaults(run=train)

    predictor = actions.add_parser(
        "predict", parents=[common], help="label new sentences with a saved model",
        description="Classifies sentences with a model saved by `rnnkit classify train` (which holds its "
        "vocabulary and label names).",
        epilog=PREDICT_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    predictor.add_argument("model", type=existing_file, help="a model.rnnkit saved by `rnnkit classify train`")
    predictor.add_argument("sentences", nargs="*", metavar="SENTENCE", help="sentences to classify")
    predictor.add_argument("--file", type=existing_file, help="a UTF-8 file of sentences, one per line")
    predictor.set_defaults(run=predict)
