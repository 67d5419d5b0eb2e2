"""Flattening and rebuilding nested inputs and states (lists, tuples, dicts of tensors)."""
from typing import Any, Callable, Iterable, List


def flatten(structure: Any) -> List[Any]:
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in flatten(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def pack_as(structure: Any, leaves: Iterable[Any]) -> Any:
    """Rebuilds `structure`'s nesting with `leaves` (in `flatten` order)."""
    it = iter(leaves)

    def build(s):
        if isinstance(s, dict):
            return {key: build(s[key]) for key in sorted(s)}
        if isinstance(s, (list, tuple)):
            return type(s)(build(item) for item in s)
        return next(it)

    return build(structure)


def map_structure(fn: Callable[[Any], Any], structure: Any) -> Any:
    return pack_as(structure, [fn(leaf) for leaf in flatten(structure)])


def is_nested(structure: Any) -> bool:
    return isinstance(structure, (list, tuple, dict))
