"""Parsed YAML files kept between runs, as Python keeps byte code.

Going from a file's bytes to the plain tree ``source.parse_all`` gives (every
``Mapping`` and ``Sequence`` with the line of itself and of each key or item) is
a pure function of the bytes: an entry keeps those bytes and is used only when
they are exactly the file's, so an entry can never be stale, whatever the file's
size or time.  A hit needs neither PyYAML nor ``re`` (about 60% of a 1-step DAG's
start).  The tree is stored with ``marshal`` as nested tuples of plain values and
checked shape by shape when read; anything unexpected is a miss.

A cache never changes an outcome: every problem reading or writing an entry
(missing, corrupt, unwritable, full disk) is silent, and the file is parsed.  An entry
is a copy of the file's content: a file that may hold a secret (``may_hold_secret``) is
never kept, and the cache lives with the user's caches, never in TRACEEXEC_HOME, where
what traceexec records is kept free of secrets.

    documents = lookup(data, path)          # None: parse, then
    store(data, documents)
"""
from __future__ import annotations

import os

from .source import Mapping, Sequence

FORMAT = 2
"""Changes when the stored shape or what ``parse_all`` keeps changes."""
MAX_SOURCE_BYTES = 4 << 20
"""Larger files are parsed every time (a 10,000-step DAG is about 0.5 MiB)."""
MAX_ENTRIES = 64
MAX_TOTAL_BYTES = 64 << 20
"""Entries kept, and their bytes; a write beyond either removes the oldest first.  A
larger entry (a file whose aliases expand a lot) is not kept."""
_MAPPING, _SEQUENCE = 0, 1
_SCALARS = frozenset((str, int, float, bool, type(None)))
_INT_ONLY = frozenset((int,))
_STR_ONLY = frozenset((str,))
_new_dict = dict.__new__


def folder(environ) -> str:
    """``$XDG_CACHE_HOME/traceexec/yaml`` (default ``~/.cache/traceexec/yaml``)."""
    from ..files import user_cache
    return user_cache(environ, "yaml")


def may_hold_secret(data: bytes) -> bool:
    """Whether the file has anything the redaction of commands looks for, or a word
    near it: a secret's name (``token``, ``*key``, ``auth``...), a token's prefix,
    key material, a URL with credentials, a program whose options take a password.
    Errs on the side of yes: such a file is parsed every time."""
    from ..wrap import redact
    text = data.decode("utf-8", "replace")
    lowered = text.lower()
    words = (redact.SECRET_WORDS + ("key", "_pat", "-pat", "pass", "cookie", "login", "-u",
                                    "--user") + tuple(redact.PASSWORD_OPTIONS)
             + tuple(redact.MYSQL) + tuple(redact.SECRET_HEADERS))
    return (any(word in lowered for word in words)
            or any(prefix in text for prefix in redact.TOKEN_PREFIXES)
            or ("://" in text and "@" in text))


def _entry_path(data: bytes, environ) -> str:
    return os.path.join(folder(environ), "%d-%08x-%x" % (FORMAT, spread(data), len(data)))


SPREAD_BY_NUMBER = 32 << 10
"""Files up to this size are named without ``zlib`` (``spread``)."""


def spread(data: bytes) -> int:
    """A 32-bit number that spreads entries over names; the bytes kept decide a hit.  A
    small file's bytes as one integer, modulo a prime below 2**30 (a C pass over them, 2 ns
    a byte): importing ``zlib`` costs 0.5 M instructions, a seventh of a warm 1-step run's
    own work.  Larger files, where ``crc32`` is the faster, get it (their size, also in
    the name, keeps the two apart)."""
    if len(data) <= SPREAD_BY_NUMBER:
        return int.from_bytes(data, "little") % 1073741789
    from zlib import crc32
    return crc32(data)


def lookup(data: bytes, path: str, environ=None) -> list | None:
    """The documents parsed from ``data`` (as ``parse_all(path)`` gives them), or None."""
    if len(data) > MAX_SOURCE_BYTES:
        return None
    try:
        import marshal
        fd = os.open(_entry_path(data, os.environ if environ is None else environ),
                     os.O_RDONLY | os.O_NOFOLLOW)
        try:
            entry = os.read(fd, MAX_TOTAL_BYTES + 1)
        finally:
            os.close(fd)
        if len(entry) > MAX_TOTAL_BYTES:
            return None
        kept_format, kept, documents = marshal.loads(entry)
        if kept_format != FORMAT or kept != data or type(documents) is not tuple:
            return None
        return [_decode(item, path) for item in documents]
    except Exception:  # noqa: BLE001 -- a cache never changes the outcome: parse instead
        return None


def store(data: bytes, documents: list, environ=None) -> None:
    """Keep ``documents`` (what ``parse_all`` built from ``data``); silent on any problem."""
    if len(data) > MAX_SOURCE_BYTES:
        return
    try:
        if may_hold_secret(data):
            return
        import marshal
        target = _entry_path(data, os.environ if environ is None else environ)
        shared = {}
        entry = marshal.dumps((FORMAT, data, tuple(_encode(item, shared)
                                                   for item in documents)))
        if len(entry) > MAX_TOTAL_BYTES:
            return
        directory = os.path.dirname(target)
        _make_private_folder(directory)
        _make_room(directory, len(entry))
        temporary = "%s.%d.tmp" % (target, os.getpid())
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(entry)
            os.replace(temporary, target)  # readers see the whole entry or none
        except BaseException:
            os.unlink(temporary)
            raise
    except Exception:  # noqa: BLE001 -- a cache never changes the outcome
        pass


def _make_private_folder(directory: str) -> None:
    """``directory`` and its parent (``traceexec``) made 0700 if missing."""
    parent = os.path.dirname(directory)
    os.makedirs(os.path.dirname(parent), mode=0o700, exist_ok=True)
    for path in (parent, directory):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass


def _make_room(directory: str, size: int) -> None:
    """Remove the oldest entries (and leftovers of writes that died) until one more of
    ``size`` bytes keeps the folder within MAX_ENTRIES and MAX_TOTAL_BYTES."""
    aged = []
    for name in os.listdir(directory):
        try:
            stat = os.stat(os.path.join(directory, name))
        except OSError:
            continue
        aged.append((stat.st_mtime_ns, stat.st_size, name))
    aged.sort()
    total = sum(entry[1] for entry in aged)
    while aged and (len(aged) >= MAX_ENTRIES or total + size > MAX_TOTAL_BYTES):
        _, old_size, name = aged.pop(0)
        total -= old_size
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass


def _encode(value, shared):
    """Nested tuples of plain values: (0, line, keys, each key's line less the mapping's,
    values) for a Mapping, (1, line, item lines, items) for a Sequence, a scalar as itself.
    Equal strings, equal tuples of keys and of key offsets are one object (``shared``):
    ``marshal`` writes each once, and its reader then makes one, not one per step (a
    thousand steps' ``command`` key, ``/bin/true`` and ``(0, 1)``)."""
    if isinstance(value, Mapping):
        line = value.place[1]
        keys = tuple(value)
        if _STR_ONLY.issuperset(map(type, keys)):  # (1 and True are equal keys of a dict)
            keys = shared.setdefault(("keys",) + keys, keys)
        offsets = tuple(value.places[key][1] - line for key in value)
        return (_MAPPING, line, keys, shared.setdefault(("offsets",) + offsets, offsets),
                tuple(_encode(item, shared) for item in value.values()))
    if isinstance(value, Sequence):
        return (_SEQUENCE, value.place[1], tuple(place[1] for place in value.places),
                tuple(_encode(item, shared) for item in value))
    if type(value) not in _SCALARS:
        raise TypeError("not a parsed YAML value: %r" % type(value))
    return shared.setdefault(value, value) if type(value) is str else value


def _decode(value, path):
    """The Mapping, Sequence or scalar ``_encode`` gave ``value`` for; ValueError if the
    entry is not of that shape."""
    lines = []
    try:
        tree, = _trees((value,), path, lines)
    except TypeError:  # a line that is not a number, met in an addition
        raise ValueError("not a line number") from None
    if not (_INT_ONLY.issuperset(map(type, lines)) and (not lines or min(lines) >= 1)):
        raise ValueError("not a line number")
    return tree


def _trees(values, path, lines):
    """``_decode``'s work for the stored ``values`` of one mapping or sequence, in one loop
    (a call per list of values, not per value: a DAG's steps are a thousand small
    mappings), with each line number met added to ``lines``, to be checked in one pass
    (a mapping's first key's line stands for its keys').  A
    mapping keeps its keys' lines as they are stored until its places are asked for
    (``source.Mapping.places``).  Values that are all scalars are given back as they are."""
    if _SCALARS.issuperset(map(type, values)):
        return values
    decoded = []
    checked_keys = checked_offsets = lowest = None  # steps share theirs: checked once
    for value in values:
        kind = type(value)
        if kind is not tuple:
            if kind not in _SCALARS:
                raise ValueError("not a stored YAML value")
            decoded.append(value)
        elif value[0] == _MAPPING and len(value) == 5:
            _, line, keys, offsets, items = value
            if keys is not checked_keys or offsets is not checked_offsets:
                if len(keys) != len(offsets):
                    raise ValueError("a mapping of uneven parts")
                if not _SCALARS.issuperset(map(type, keys)):
                    raise ValueError("not a plain key")
                if not _INT_ONLY.issuperset(map(type, offsets)):
                    raise ValueError("not a line number")
                checked_keys, checked_offsets, lowest = keys, offsets, min(offsets, default=0)
            if len(items) != len(keys):
                raise ValueError("a mapping of uneven parts")
            result = _new_dict(Mapping)  # Mapping.__init__'s work, set here at once
            # a mapping of scalars alone (a plain step's) as it is, without a call
            result.update(zip(keys, items if _SCALARS.issuperset(map(type, items))
                              else _trees(items, path, lines)))
            result.place = (path, line)
            result._places = (path, keys, offsets, line)
            result.spelling = None
            lines.append(line)
            lines.append(line + lowest)  # its first key's line
            decoded.append(result)
        elif value[0] == _SEQUENCE and len(value) == 4:
            _, line, item_lines, items = value
            if len(item_lines) != len(items):
                raise ValueError("a sequence of uneven parts")
            result = Sequence((path, line))
            result.extend(_trees(items, path, lines))
            result._places = (path, item_lines)  # built when asked (Sequence.places)
            lines.append(line)
            lines.extend(item_lines)
            decoded.append(result)
        else:
            raise ValueError("not a stored YAML value")
    return decoded
