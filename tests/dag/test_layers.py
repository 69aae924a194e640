"""dag.layers.Layers: a step's layered variables, read as collections.ChainMap reads them."""
from collections import ChainMap

import pytest

from traceexec.dag.layers import Layers


def _layers():
    return {"A": "own"}, {"B": "", "A": "output"}, {"C": "run", "B": "run"}


def _pair():
    return Layers(*_layers()), ChainMap(*_layers())  # each its own dicts


@pytest.mark.parametrize("read", [
    lambda m: m["A"], lambda m: m["B"], lambda m: m["C"],
    lambda m: m.get("A"), lambda m: m.get("Z"), lambda m: m.get("Z", "default"),
    lambda m: "B" in m, lambda m: "Z" in m, lambda m: 1 in m,
    lambda m: list(m), lambda m: len(m), lambda m: bool(m), lambda m: dict(m),
    lambda m: list(m.items()), lambda m: list(m.keys()), lambda m: list(m.values()),
    lambda m: dict(m, ITEM="x"), lambda m: m == {"A": "own", "B": "", "C": "run"},
    lambda m: [len(layer) for layer in m.maps],
])
def test_layers_read_as_a_chain_map_reads(read):
    layers, chain = _pair()
    assert read(layers) == read(chain)


def test_layers_write_to_and_delete_from_the_first_layer_only():
    layers, chain = _pair()
    for m in (layers, chain):
        m["C"] = "set"
        m["D"] = "new"
        del m["A"]
        with pytest.raises(KeyError):
            del m["B"]  # only in a lower layer
        with pytest.raises(KeyError):
            m["Z"]
    assert layers.maps == chain.maps and dict(layers) == dict(chain)


def test_empty_layers_hold_one_empty_dict():
    assert Layers().maps == [{}] and not Layers() and not Layers({}, {})
    assert repr(Layers({"A": 1}, {})) == "Layers({'A': 1}, {})"
