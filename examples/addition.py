"""Learning to add: Keras's "addition_rnn" example with rnnkit.

    .venv/bin/python examples/addition.py              # 3-digit addition, 15 epochs (minutes on 2 cores)
    .venv/bin/python examples/addition.py --quick      # a smoke run of a few seconds

Questions "a+b" (a, b of 1 to 3 digits) are read character by character, reversed, by an LSTM(128)
encoder; its final output, repeated once per answer character, feeds an LSTM(128) decoder whose
per-step softmax spells the answer. The goal: at least 99% of 5,000 held-out questions (none of
them, in either order, seen in training) answered exactly.

Keras's example trains on 50,000 questions in batches of 32 at Adam's constant 0.001; here 100,000
questions in batches of 128 at 0.003 decayed to 0 along a cosine reach the goal in fewer steps and
end on steady weights (a constant 0.003 jolts the per-character accuracy from 98% to 87% and back
between epochs).
"""
import argparse
import time

from rnnkit.tasks.seq2seq import addition_codec, addition_pairs, train_seq2seq

GOAL = 0.99


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=3, help="largest number of digits of a and b (default 3)")
    parser.add_argument("--train-size", type=int, default=100_000, help="training questions (default 100,000)")
    parser.add_argument("--test-size", type=int, default=5_000, help="held-out questions (default 5,000)")
    parser.add_argument("--epochs", type=int, default=15, help="training epochs (default 15)")
    parser.add_argument("--batch-size", type=int, default=128, help="default 128")
    parser.add_argument("--units", type=int, default=128, help="encoder and decoder width (default 128)")
    parser.add_argument("--learning-rate", type=float, default=0.003,
                        help="Adam's initial learning rate, decayed to 0 along a cosine (default 0.003)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the model, metrics and plots into this folder")
    parser.add_argument("--quick", action="store_true", help="2,000 questions and 2 epochs: a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.train_size, args.test_size, args.epochs = 2_000, 500, 2

    train, test = addition_pairs(args.train_size, args.test_size, args.digits, seed=args.seed)
    print(f"{len(train)} training and {len(test)} held-out questions of up to {args.digits} digits, "
          f"e.g. {', '.join(f'{q}={a}' for q, a in train[:3])}")
    start = time.perf_counter()
    result = train_seq2seq(
        train, test, units=args.units, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.learning_rate, seed=args.seed, out=args.out, verbose=2,
        codec=addition_codec(args.digits), settings={"task": "addition", "digits": args.digits},
    )
    for question, answer, predicted in result.examples:
        verdict = "ok" if predicted == answer else f"wrong ({answer})"
        print(f"  {question:>{2 * args.digits + 1}} = {predicted:<{args.digits + 1}} {verdict}")
    exact = result.metrics["exact_match"]
    reached = exact >= GOAL
    verdict = "not checked in a --quick run" if args.quick else "reached" if reached else "MISSED"
    print(f"exact match {exact:.2%} on {len(test)} held-out questions (character accuracy "
          f"{result.metrics['character_accuracy']:.2%}) after {args.epochs} epochs; goal {GOAL:.0%} {verdict}; "
          f"fit {result.metrics['train_seconds']:.1f} s, wall {time.perf_counter() - start:.1f} s")
    return 0 if reached or args.quick else 1


if __name__ == "__main__":
    raise SystemExit(main())
