"""The file functions of rnnkit.io (save_model, load_model, save_weights, load_weights), reached
by name from below it. rnnkit.io builds on models, so models and the training callbacks must not
import it (DESIGN.md section 1: imports go down only); io registers its functions here when it is
imported, which `import rnnkit` does."""
from typing import Callable

_FUNCTIONS: dict[str, Callable] = {}


def register_storage(**functions: Callable) -> None:
    """Registers file functions by name; rnnkit.io calls this on import."""
    _FUNCTIONS.update(functions)


def storage(name: str) -> Callable:
    """The registered file function `name` (e.g. "save_model")."""
    if name not in _FUNCTIONS:
        raise RuntimeError(f"rnnkit.io has not registered {name!r}: import rnnkit (or rnnkit.io) first.")
    return _FUNCTIONS[name]
