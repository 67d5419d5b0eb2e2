"""`rnnkit info MODEL`: what a saved model is."""
import argparse
import json

from ..io.saving import load_model
from .options import existing_file


def info(args: argparse.Namespace) -> int:
    model = load_model(args.model, compile=False)
    print(f"{args.model}: {type(model).__name__} {model.name!r}")
    model.summary()
    config = {"class_name": type(model).__name__, "config": model.get_config()}
    print("config:")
    print(json.dumps(config, indent=2, default=repr))
    if model.assets:
        print("assets: " + ", ".join(f"{key} ({_describe(value)})" for key, value in model.assets.items()))
    return 0


def _describe(value):
    if isinstance(value, (list, dict)):
        return f"{len(value)} entries"
    return repr(value)


def register(subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subcommands.add_parser(
        "info",
        parents=[common],
        help="show the summary and config of a saved model",
        description="Prints the layer summary, the config and the stored preprocessing (assets) of a .rnnkit model.",
        epilog="example: rnnkit info runs/forecast/model.rnnkit",
    )
    parser.add_argument("model", type=existing_file, help="a .rnnkit model file")
    parser.set_defaults(run=info)
