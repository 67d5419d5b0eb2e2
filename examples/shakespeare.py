"""A character model of Shakespeare: the issue's check for `rnnkit textgen`.

    .venv/bin/python examples/shakespeare.py              # at most 20 minutes on 2 cores
    .venv/bin/python examples/shakespeare.py --quick      # CI smoke run: a few seconds

Trains `rnnkit textgen train`'s default recipe (GRU 512 with dropout, AdamW with weight decay, a
warm-up then cosine learning rate annealed to the time budget) on ../shared/data/tinyshakespeare.txt
with the last 10% held out, for at most 20 minutes. Prints the validation curve (epoch, elapsed
minutes, validation nats and bits per character), the final losses and a 300-character sample.
The goal: a validation loss of at most 1.50 nats per character.
"""
import argparse
import sys
import tempfile
from pathlib import Path

import torch

from rnnkit.tasks import textgen

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "tinyshakespeare.txt"
GOAL = 1.50


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=20.0, help="time budget (default 20)")
    parser.add_argument("--out", default=None, help="output folder (default: a temporary folder)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's choice); 1 can be faster on a crowded machine")
    parser.add_argument("--quick", action="store_true", help="a few seconds on a small slice of the text (CI)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    text = textgen.read_text(DATA)
    settings = {"minutes": args.minutes, "epochs": 60}
    if args.quick:
        text = text[:30_000]
        settings = {"units": (32,), "epochs": 2, "seq_len": 50, "minutes": None}
    with tempfile.TemporaryDirectory() as scratch:
        run = textgen.train_text_model(text, args.out or scratch, verbose=0 if args.quick else 2, sample_length=300,
                            sample_prompt="ROMEO:", **settings)
    curves = run.history.history
    print("\nvalidation curve")
    print(f"{'epoch':>5} {'minutes':>8} {'val nats/char':>14} {'val bits/char':>14} {'train nats/char':>16}")
    for epoch, (minutes, val, val_bpc, loss) in enumerate(
        zip(curves["minutes"], curves["val_loss"], curves["val_bpc"], curves["loss"]), start=1
    ):
        print(f"{epoch:>5} {minutes:>8.1f} {val:>14.4f} {val_bpc:>14.4f} {loss:>16.4f}")
    metrics = run.metrics
    print(
        f"\nvalidation loss {metrics['val_loss']:.4f} nats/char ({metrics['val_bpc']:.4f} bits/char) after "
        f"{metrics['epochs']} epochs, {metrics['minutes']:.1f} min, {torch.get_num_threads()} threads; "
        f"scored on windows of {metrics['validation_seq_len']} characters (on windows of the training length, "
        f"{metrics['seq_len']}: {metrics['val_loss_at_seq_len']:.4f})"
    )
    print(f"\nsample (temperature 0.8):\n{run.sample}\n")
    if not args.quick:
        verdict = "met" if metrics["val_loss"] <= GOAL else "NOT met"
        print(f"goal: validation loss <= {GOAL} nats/char: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
