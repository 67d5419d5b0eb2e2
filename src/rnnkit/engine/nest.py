"""Flattening and rebuilding nested inputs and states (lists, tuples, dicts of tensors)."""
from typing import Any, Callable, Iterable, Iterator, List


def flatten(structure: Any) -> List[Any]:
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in flatten(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def pack_as(structure: Any, leaves: Iterable[Any]) -> Any:
    """Rebuilds `structure`'s nesting with `leaves` (in `flatten` order)."""
    return _build(structure, iter(leaves))


def _build(structure: Any, leaves: Iterator[Any]) -> Any:
    # A module-level function rather than a closure that calls itself: such a closure is a reference
    # cycle (function -> cell -> function) that keeps `leaves`, the tensors of a training step,
    # alive until the cyclic garbage collector runs, raising the next step's peak memory.
    if isinstance(structure, dict):
        return {key: _build(structure[key], leaves) for key in sorted(structure)}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_build(item, leaves) for item in structure)
    return next(leaves)


def map_structure(fn: Callable[[Any], Any], structure: Any) -> Any:
    return pack_as(structure, [fn(leaf) for leaf in flatten(structure)])


def is_nested(structure: Any) -> bool:
    return isinstance(structure, (list, tuple, dict))
