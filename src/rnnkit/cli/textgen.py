"""`rnnkit textgen train|sample`: character-level text generation."""
import argparse
import sys

from ..io.saving import load_model
from ..tasks import textgen
from .options import (
    UsageError, add_training_options, dropout_rate, existing_file, fraction, layer_size, learning_rate, non_negative,
    one_of, positive_int, positive_number, refuse_overwriting_inputs, seed, whole_number,
)
from .output import print_written

# The sample printed after training: a million characters at most, so that it cannot outlast the training.
MAX_SAMPLE_LENGTH = 10**6


def train(args: argparse.Namespace) -> int:
    refuse_overwriting_inputs([args.text], [args.out])
    text = textgen.read_text(args.text)
    run = textgen.train_text_model(
        text,
        args.out,
        seq_len=args.seq_len,
        units=args.units,
        cell=args.cell,
        embedding_dim=args.embedding_dim,
        dropout=args.dropout,
        input_dropout=args.input_dropout,
        batch_size=args.batch_size,
        epochs=args.epochs,
        minutes=args.minutes,
        learning_rate=args.learning_rate,
        weight_decay=args.weight_decay,
        validation_fraction=args.validation_fraction,
        seed=args.seed,
        resume=args.resume,
        verbose=0 if args.quiet else "auto",
        sample_length=args.sample_length,
    )
    metrics = run.metrics
    stop = " (time budget reached)" if metrics["stopped_by_time_budget"] else ""
    print(
        f"{metrics['epochs']} epochs in {metrics['minutes']:.1f} min{stop}: validation loss "
        f"{metrics['val_loss']:.4f} nats/char = {metrics['val_bpc']:.4f} bits/char "
        f"(training {metrics['loss']:.4f} nats/char)"
    )
    if run.sample:
        print(f"sample (temperature 0.8):\n{run.sample}")
    print_written(run.out, run.files.values())
    return 0


def sample(args: argparse.Namespace) -> int:
    model = load_model(args.model, compile=False)
    vocabulary = textgen.vocabulary_of(model)
    missing = sorted({c for c in args.prompt if c not in vocabulary})
    if missing:
        raise UsageError(
            f"--prompt has characters {missing[:10]!r} that the model never saw; its vocabulary is "
            f"{''.join(vocabulary.characters)!r}."
        )
    sys.stdout.write(args.prompt)
    sys.stdout.flush()
    textgen.sample(model, args.prompt, args.length, args.temperature, args.top_k, args.seed, stream=sys.stdout)
    sys.stdout.write("\n")
    return 0


def register(subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subcommands.add_parser(
        "textgen",
        help="train a character-level text model and sample from it",
        description="Character-level text generation: `train` learns a character model from a UTF-8 text\n"
        "file, `sample` continues a prompt with it, streaming the characters as they are generated.",
        epilog="examples:\n"
        "  rnnkit textgen train --text tinyshakespeare.txt --minutes 20 --out runs/shakespeare\n"
        "  rnnkit textgen sample runs/shakespeare/model.rnnkit --prompt 'ROMEO:' --length 500 "
        "--temperature 0.8 --top-k 10 --seed 1",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    trainer = actions.add_parser(
        "train",
        parents=[common],
        help="train a character model on a text file",
        description="Trains Embedding -> Dropout -> recurrent layers -> Dropout -> Dense on windows of --seq-len\n"
        "characters (re-cut at a random offset each epoch), holding out the end of the text for validation.\n"
        "Losses are reported in nats and bits per character. The default recipe (GRU 512, dropout, AdamW\n"
        "with weight decay, warm-up then a cosine learning rate annealed to --minutes when given) is the\n"
        "one of examples/shakespeare.py, the 20-minute tinyshakespeare check. Writes model.rnnkit,\n"
        f"{textgen.CHECKPOINT} (after every epoch), metrics.json, history.csv and history.png to --out.",
        epilog="examples:\n"
        "  rnnkit textgen train --text input.txt --out runs/chars\n"
        "  rnnkit textgen train --text input.txt --minutes 20 --out runs/chars\n"
        "  rnnkit textgen train --text input.txt --cell lstm --units 256 256 --seq-len 64 --out runs/lstm\n"
        "  rnnkit textgen train --text input.txt --out runs/chars --resume     # after an interruption",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    trainer.add_argument("--text", required=True, type=existing_file, help="a UTF-8 text file to learn from")
    model = trainer.add_argument_group("model")
    model.add_argument("--cell", type=one_of(*textgen.CELLS), default="gru",
                       help=f"recurrent layer kind: {', '.join(textgen.CELLS)} (default gru)")
    model.add_argument("--units", type=layer_size, nargs="+", default=[512], metavar="N",
                       help="units of each recurrent layer; several values stack layers (default 512)")
    model.add_argument("--embedding-dim", type=layer_size, default=64, help="character vector size (default 64)")
    model.add_argument("--dropout", type=dropout_rate, default=0.2, help="dropout on the recurrent outputs (default 0.2)")
    model.add_argument("--input-dropout", type=dropout_rate, default=0.05,
                       help="dropout on the character vectors (default 0.05)")
    data = trainer.add_argument_group("data")
    data.add_argument("--seq-len", type=positive_int, default=100, help="characters per training window (default 100)")
    data.add_argument("--validation-fraction", type=fraction, default=0.1,
                      help="share of the text, from its end, held out for validation (default 0.1)")
    optimisation = trainer.add_argument_group("optimisation")
    optimisation.add_argument("--minutes", type=positive_number, default=None,
                              help="time budget: stop after the batch where it runs out and anneal the learning "
                                   "rate to it (default: no limit)")
    optimisation.add_argument("--learning-rate", type=learning_rate, default=4e-3,
                              help="peak learning rate of AdamW (default 0.004)")
    optimisation.add_argument("--weight-decay", type=non_negative, default=0.05,
                              help="AdamW decoupled weight decay (default 0.05)")
    trainer.add_argument("--sample-length", type=whole_number(0, MAX_SAMPLE_LENGTH), default=300,
                         help="characters sampled at the end of training (default 300; 0 for none)")
    add_training_options(trainer, epochs=30, batch_size=32, out="runs/textgen")
    trainer.set_defaults(run=train)

    sampler = actions.add_parser(
        "sample",
        parents=[common],
        help="continue a prompt with a trained character model",
        description="Continues --prompt with --length characters from a model trained by `rnnkit textgen train`,\n"
        "printing each character as soon as it is generated. The recurrent state is carried from step to\n"
        "step: each character costs one time step.",
        epilog="examples:\n"
        "  rnnkit textgen sample runs/chars/model.rnnkit --prompt 'ROMEO:' --length 500\n"
        "  rnnkit textgen sample runs/chars/model.rnnkit --prompt 'ROMEO:' --temperature 0.8 --top-k 10 --seed 1\n"
        "  rnnkit textgen sample runs/chars/model.rnnkit --prompt 'KING' --temperature 0    # greedy",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sampler.add_argument("model", type=existing_file, help="a model.rnnkit written by `rnnkit textgen train`")
    sampler.add_argument("--prompt", required=True, help="the text to continue")
    sampler.add_argument("--length", type=positive_int, default=500, help="characters to generate (default 500)")
    sampler.add_argument("--temperature", type=non_negative, default=0.8,
                         help="0 greedy, below 1 conservative, above 1 more varied (default 0.8)")
    sampler.add_argument("--top-k", type=positive_int, default=None,
                         help="sample only among the K most likely characters (default: all)")
    sampler.add_argument("--seed", type=seed, default=None, help="same seed, same text (default: random)")
    sampler.set_defaults(run=sample)
