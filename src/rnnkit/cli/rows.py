"""`rnnkit rows train`: classify images read as sequences of rows (MNIST digits as 28 steps of 28 pixels)."""
import argparse

import numpy as np

from ..data import read_idx_pair
from ..tasks.rows import RECIPES, SCHEDULES, split_last, train_rows
from .options import (UsageError, add_training_options, existing_file, learning_rate, one_of, positive_int,
                      refuse_overwriting_inputs)
from .output import print_written

EXAMPLES = """examples:
  rnnkit rows train --images t10k-images-idx3-ubyte.gz --labels t10k-labels-idx1-ubyte.gz --test-size 2000
  rnnkit rows train --images train-images-idx3-ubyte.gz --labels train-labels-idx1-ubyte.gz \\
      --test-images t10k-images-idx3-ubyte.gz --test-labels t10k-labels-idx1-ubyte.gz --model lstm --epochs 10
"""


def train(args: argparse.Namespace) -> int:
    if (args.test_images is None) != (args.test_labels is None):
        raise UsageError("--test-images and --test-labels go together; pass both, or neither and --test-size.")
    if args.test_images is not None and args.test_size is not None:
        raise UsageError("pass either --test-images/--test-labels or --test-size, not both.")
    refuse_overwriting_inputs([args.images, args.labels, args.test_images, args.test_labels], [args.out])
    x, y = _read_images(args.images, args.labels)
    if args.test_images is not None:
        x_train, y_train = x, y
        x_test, y_test = _read_images(args.test_images, args.test_labels)
        if x_test.shape == x.shape and np.array_equal(x_test, x):
            raise UsageError(f"--test-images {args.test_images} holds the same images as --images {args.images}: "
                             "the test accuracy would measure recall; test on images held out from training.")
        test_source = f"{args.test_images}"
    else:
        test_size = args.test_size if args.test_size is not None else max(1, len(x) // 5)
        if not test_size < len(x):
            raise UsageError(f"--test-size {test_size} leaves no training image of the {len(x)} in {args.images}; "
                             "use a smaller --test-size.")
        (x_train, y_train), (x_test, y_test) = split_last(x, y, test_size)
        test_source = f"the last {test_size} of {args.images}"
    print(f"rnnkit rows: {len(x_train)} training images from {args.images}, {len(x_test)} test images from "
          f"{test_source}; each image is {x.shape[1]} steps of {x.shape[2]} pixels")
    result = train_rows(x_train, y_train, x_test, y_test, recipe=args.model, epochs=args.epochs,
                        batch_size=args.batch_size, learning_rate=args.learning_rate, schedule=args.schedule,
                        seed=args.seed, out=args.out, resume=args.resume, verbose=0 if args.quiet else "auto")
    metrics = result.metrics
    print(f"\n{args.model}: test accuracy {metrics['test_accuracy']:.2%} on {metrics['test_samples']} images "
          f"({metrics['epochs']} epochs, learning rate {metrics['learning_rate']} {metrics['schedule']}, "
          f"fit {metrics['train_seconds']:.1f} s)")
    print("per-class accuracy: " + "  ".join(
        f"{label}: {accuracy:.1%}" for label, accuracy in metrics["per_class_accuracy"].items()))
    worst = min(metrics["per_class_accuracy"], key=metrics["per_class_accuracy"].get)
    print(f"hardest class: {worst} (see confusion_matrix.png for what it is mistaken for)")
    print_written(args.out, result.files.values())
    return 0


def _read_images(images, labels):
    x, y = read_idx_pair(images, labels)
    if x.ndim != 3:
        raise ValueError(f"{images!r} holds an array of shape {x.shape}; expected images (samples, rows, columns), "
                         "an idx3 file such as MNIST's '...-images-idx3-ubyte'.")
    if not len(x):
        raise ValueError(f"{images!r} holds no images (its header announces 0); give a file with images to learn "
                         "from.")
    return x, y


def register(subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subcommands.add_parser(
        "rows",
        parents=[common],
        help="classify images read as sequences of rows (MNIST IDX files)",
        description="Images as sequences: each row of pixels is one time step of a recurrent classifier.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    train_parser = actions.add_parser(
        "train",
        parents=[common],
        help="train a classifier on IDX image and label files",
        description="Trains a recurrent classifier on images from IDX files (MNIST format, gzip or not), "
        "each image a sequence of rows scaled to [0, 1]; reports test accuracy, per-class accuracy and a "
        "confusion matrix, and saves the model.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = train_parser.add_argument_group("data")
    data.add_argument("--images", type=existing_file, required=True, help="IDX file of training images (idx3)")
    data.add_argument("--labels", type=existing_file, required=True, help="IDX file of their labels (idx1)")
    data.add_argument("--test-images", type=existing_file, help="IDX file of test images")
    data.add_argument("--test-labels", type=existing_file, help="IDX file of test labels")
    data.add_argument("--test-size", type=positive_int,
                      help="without test files: hold out the last N images for testing (default: the last 20%%)")
    model = train_parser.add_argument_group("model")
    model.add_argument("--model", type=one_of(*RECIPES), default="simple_rnn",
                       help="simple_rnn: SimpleRNN(256, dropout 0.2) with SGD (the seed's); lstm: LSTM(128, dropout "
                       "0.2) with Adam (default simple_rnn)")
    model.add_argument("--learning-rate", type=learning_rate, default=None,
                       help="the optimizer's initial learning rate (default: SGD 0.03, Adam 0.002)")
    model.add_argument("--schedule", type=one_of(*SCHEDULES), default=None,
                       help="cosine: the learning rate falls to 0 along a cosine over the run; constant: it stays "
                       "(default cosine; the seed's recipe is --learning-rate 0.01 --schedule constant)")
    add_training_options(train_parser, epochs=20, batch_size=128, out="runs/rows")
    train_parser.set_defaults(run=train)
