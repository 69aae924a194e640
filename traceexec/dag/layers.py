"""A step's variables as one view of several dicts (its own, the outputs so far, the
run's): a key is looked up layer by layer, the first found wins, writes go to the first.

It reads as ``collections.ChainMap`` reads; importing ``collections`` (with ``keyword``,
``operator`` and ``reprlib``) was 8 M instructions of a warm 1-step run's start.
"""
from __future__ import annotations

from _collections_abc import MutableMapping  # already loaded by os


class Layers(MutableMapping):
    """``Layers(own, outputs, run)``: ``maps`` in order, the first holding a key wins.
    Example: ``Layers({"A": "1"}, {"A": "2", "B": "3"})["A"] == "1"``."""

    __slots__ = ("maps",)

    def __init__(self, *maps):
        self.maps = list(maps) or [{}]

    def __getitem__(self, key):
        for mapping in self.maps:
            try:
                return mapping[key]
            except KeyError:
                pass
        raise KeyError(key)

    def get(self, key, default=None):
        return self[key] if key in self else default

    def __contains__(self, key) -> bool:
        return any(key in mapping for mapping in self.maps)

    def __len__(self) -> int:
        return len(set().union(*self.maps))

    def __iter__(self):
        keys = {}
        for mapping in reversed(self.maps):  # the first layer's order last, as ChainMap
            keys.update(dict.fromkeys(mapping))
        return iter(keys)

    def __bool__(self) -> bool:
        return any(self.maps)

    def __setitem__(self, key, value):
        self.maps[0][key] = value

    def __delitem__(self, key):
        try:
            del self.maps[0][key]
        except KeyError:
            raise KeyError("Key not found in the first mapping: %r" % (key,)) from None

    def __repr__(self) -> str:
        return "%s(%s)" % (type(self).__name__, ", ".join(map(repr, self.maps)))
