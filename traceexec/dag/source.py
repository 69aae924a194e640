"""YAML files read safely, with the file and line of every key kept.

``parse`` gives plain Python values where every mapping is a ``Mapping`` and
every list a ``Sequence``: a dict or list that also knows where each of its
keys or items was written.  Only plain YAML is read: tags such as
``!!python/object`` are errors, never constructed.  ``merge`` lays a DAG over
a base config the way the base config is documented: maps merge key by key,
the DAG wins, lists are replaced.
"""
from __future__ import annotations

import os
from itertools import repeat

from ..errors import SourceError

MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"


class Mapping(dict):
    """A dict with the place (path, line) of itself and of each key."""

    __slots__ = ("place", "_places", "spelling")

    def __init__(self, place):
        super().__init__()
        self.place = place
        self._places = {}
        self.spelling = None           # key as the file wrote it, after schema.normalize

    @property
    def places(self) -> dict:
        """Each key's (path, line).  A mapping read from ``parsecache`` keeps them as
        ``(path, keys, each key's line less its own, its line)`` until asked (most never
        are: a step's places serve only its messages), and built then."""
        places = self._places
        if type(places) is not dict:
            path, keys, offsets, line = places
            places = self._places = {key: (path, line + offset)
                                     for key, offset in zip(keys, offsets)}
        return places

    @places.setter
    def places(self, value):
        self._places = value

    def place_of(self, key):
        return self.places.get(key, self.place)


class Sequence(list):
    """A list with the place (path, line) of itself and of each item."""

    __slots__ = ("place", "_places")

    def __init__(self, place):
        super().__init__()
        self.place = place
        self._places = []

    @property
    def places(self) -> list:
        """Each item's (path, line).  A sequence read from ``parsecache`` keeps them as
        ``(path, lines)`` until asked (a DAG's thousand steps are read without theirs),
        and built then."""
        places = self._places
        if type(places) is not list:
            path, lines = places
            places = self._places = list(zip(repeat(path), lines))
        return places

    @places.setter
    def places(self, value):
        self._places = value

    def place_of(self, index):
        places = self.places
        return places[index] if index < len(places) else self.place


def _mark_place(path, mark):
    return (path, mark.line + 1)


def may_refer(data: bytes) -> bool:
    """Whether a string read from YAML ``data`` may hold a ``${`` (a reference, as
    ``variables.references`` reads them): only where the bytes have one, or a backslash
    (an escape of a double-quoted scalar, ``\\x24{`` or a ``$`` before an escaped line
    break, can make one); YAML's other ways of writing a string fold lines into spaces.
    Example: ``may_refer(b"command: echo $HOME") is False``."""
    return b"${" in data or b"\\" in data


def read_text(path: str) -> str:
    """The file's text; raises SourceError (missing, unreadable, not UTF-8, not a file)."""
    return decode(read_bytes(path), path)


def read_bytes(path: str) -> bytes:
    """The file's bytes; raises SourceError (missing, unreadable, too large, not a file)."""
    import stat
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise SourceError("no such file", path) from None
    except OSError as error:
        raise SourceError("cannot read: %s" % (error.strerror or error), path) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SourceError("not a regular file (a DAG is a YAML file)", path)
        data = b""
        while len(data) <= MAX_BYTES:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            data += chunk
        if len(data) > MAX_BYTES:
            raise SourceError("larger than %d MiB" % (MAX_BYTES >> 20), path)
    except OSError as error:
        raise SourceError("cannot read: %s" % (error.strerror or error), path) from None
    finally:
        os.close(fd)
    return data


def decode(data: bytes, path: str) -> str:
    """``data`` as text; raises SourceError (not UTF-8)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SourceError("cannot read: not UTF-8 (%s)" % error.reason, path) from None


def parse(path: str):
    """The first YAML document in ``path`` (a ``Mapping`` for a DAG); raises SourceError."""
    documents = parse_all(path)
    return documents[0] if documents else Mapping((path, 1))


def parse_all(path: str, data: bytes | None = None) -> list:
    """Every YAML document in ``path`` (``---`` separates them); empty ones are skipped.
    ``data``: the file's bytes, when the caller has read them (``read_bytes``).

    Parsed once per content: ``parsecache`` keeps the result for the next run."""
    from . import parsecache
    if data is None:
        data = read_bytes(path)
    documents = parsecache.lookup(data, path)
    if documents is None:
        documents = _parse_yaml(decode(data, path), path)
        parsecache.store(data, documents)
    return documents


def _parse_yaml(text: str, path: str) -> list:
    from ..lazyregex import import_lazily
    yaml = import_lazily("yaml")  # its ten patterns compiled only when a scalar needs one
    if text.startswith("\ufeff"):
        text = text[1:]
    loader = None
    documents = []
    try:
        # libyaml's parser and composer when PyYAML has them: ~30x faster on big DAGs
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
        budget = [MAX_NODES]
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            value = _build(node, loader, path, budget, set())
            if value is None or value == {} and isinstance(value, Mapping):
                continue
            documents.append(value)
        return documents
    except RecursionError:
        raise SourceError("YAML nested too deeply", path) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "invalid YAML"
        if mark is None:
            raise SourceError("YAML: %s" % problem, path) from None
        raise SourceError("YAML: %s" % problem, path, mark.line + 1, mark.column + 1) from None
    except yaml.YAMLError as error:
        raise SourceError("YAML: %s" % str(error).replace("\n", " "), path) from None
    finally:
        if loader is not None:
            loader.dispose()


MAX_BYTES = 64 << 20
"""The largest DAG file read (``/dev/zero`` and friends end here, not in memory)."""
MAX_NODES = 500_000
"""Values a DAG file may expand to: bounds YAML alias bombs (a 10,000-step DAG is ~60,000)."""


def _build(node, loader, path, budget, active):
    """Plain data from a YAML node.  ``budget`` counts down the values built, ``active``
    holds the nodes being built, so an alias inside its own anchor is caught."""
    budget[0] -= 1
    if budget[0] < 0:
        raise SourceError("YAML expands to more than %d values (aliases?)" % MAX_NODES, path)
    if id(node) in active:
        raise SourceError("a YAML alias refers to itself", path, node.start_mark.line + 1,
                          node.start_mark.column + 1)
    active.add(id(node))
    try:
        return _build_node(node, loader, path, budget, active)
    finally:
        active.discard(id(node))


def _build_node(node, loader, path, budget, active):
    import yaml
    place = _mark_place(path, node.start_mark)
    if isinstance(node, yaml.MappingNode):
        if node.tag != MAP_TAG:
            raise _tag_error(node, path)
        loader.flatten_mapping(node)  # YAML merge keys (<<: *anchor)
        result = Mapping(place)
        for key_node, value_node in node.value:
            key = _build(key_node, loader, path, budget, active)
            if isinstance(key, (dict, list)):
                raise SourceError("a key must be a plain value", path,
                                  key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in result:
                raise SourceError("duplicate key %r" % (key,), path,
                                  key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = _build(value_node, loader, path, budget, active)
            result.places[key] = _mark_place(path, key_node.start_mark)
        return result
    if isinstance(node, yaml.SequenceNode):
        if node.tag != SEQ_TAG:
            raise _tag_error(node, path)
        result = Sequence(place)
        for item in node.value:
            result.append(_build(item, loader, path, budget, active))
            result.places.append(_mark_place(path, item.start_mark))
        return result
    if node.tag.startswith("tag:yaml.org,2002:") and node.tag[18:] in (
            "str", "int", "float", "bool", "null", "timestamp"):
        value = loader.construct_object(node, deep=True)
        if not isinstance(value, (str, int, float, bool, type(None))):
            value = str(node.value)  # dates stay as written
        return value
    raise _tag_error(node, path)


def _tag_error(node, path):
    return SourceError("unsupported YAML tag %s (only plain YAML is read)" % node.tag, path,
                       node.start_mark.line + 1, node.start_mark.column + 1)


def merge(base, over):
    """``over`` laid over ``base``: maps merge key by key, ``over`` wins, lists are replaced."""
    if not (isinstance(base, Mapping) and isinstance(over, Mapping)):
        return over
    result = Mapping(over.place)
    for key, value in base.items():
        result[key] = value
        result.places[key] = base.place_of(key)
    for key, value in over.items():
        result[key] = merge(base[key], value) if key in base else value
        result.places[key] = over.place_of(key)
    return result
