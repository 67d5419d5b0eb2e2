"""Flattening and rebuilding nested inputs and states (lists, tuples, dicts of tensors)."""


def flatten(structure):
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in flatten(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def pack_as(structure, leaves):
    """Rebuilds `structure`'s nesting with `leaves` (in `flatten` order)."""
    it = iter(leaves)

    def build(s):
        if isinstance(s, dict):
            return {key: build(s[key]) for key in sorted(s)}
        if isinstance(s, (list, tuple)):
            return type(s)(build(item) for item in s)
        return next(it)

    return build(structure)


def map_structure(fn, structure):
    return pack_as(structure, [fn(leaf) for leaf in flatten(structure)])


def is_nested(structure):
    return isinstance(structure, (list, tuple, dict))
