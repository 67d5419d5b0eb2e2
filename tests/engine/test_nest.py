"""rnnkit.engine.nest: rebuilding nested structures without keeping their leaves alive."""
import gc
import weakref

import torch

from rnnkit.engine.nest import flatten, map_structure, pack_as


def test_pack_as_rebuilds_the_nesting_in_flatten_order():
    structure = {"b": [1, (2, 3)], "a": 0}
    assert pack_as(structure, [10, 11, 12, 13]) == {"a": 10, "b": [11, (12, 13)]}
    assert flatten(structure) == [0, 1, 2, 3]


def test_map_structure_frees_its_results_without_the_cycle_collector():
    # A layer under a mixed policy maps its inputs and outputs through map_structure every call;
    # a reference cycle there kept each step's tensors alive until the cyclic collector ran.
    enabled = gc.isenabled()
    gc.disable()
    try:
        gc.collect()
        mapped = map_structure(lambda t: t * 2, [torch.ones(3), (torch.ones(2),)])
        refs = [weakref.ref(mapped[0]), weakref.ref(mapped[1][0])]
        del mapped
        assert [ref() for ref in refs] == [None, None]
    finally:
        if enabled:
            gc.enable()
