"""Record classes for ``model``: what ``dataclasses.dataclass(slots=True)`` gives it, at a
fraction of the start-up cost.

``dataclasses`` imports ``inspect`` and works through each class with its
general machinery: about 80 million instructions for the model's classes, a
quarter of the start of a one-step DAG.  Here each class gets an ``__init__``
that fills its first few instances from a table of the fields, then one compiled
from one line per field, and a generic ``__repr__`` and ``__eq__``.  The metaclass
``Record`` makes such a class once, slotted; the decorator ``dataclass`` makes it again
from the class Python made (the same record, one class creation more).

    class Point(metaclass=Record):
        x: int
        tags: list = field(default_factory=list)
"""
from __future__ import annotations

_MISSING = object()


class _Field:
    __slots__ = ("default", "default_factory")

    def __init__(self, default, default_factory):
        self.default = default
        self.default_factory = default_factory


def field(*, default=_MISSING, default_factory=_MISSING):
    """A field's default: a value, or a callable that makes one per instance."""
    return _Field(default, default_factory)


def dataclass(cls=None, *, slots=False):
    """``cls`` as a record: ``__init__`` by position or keyword in the order of its
    annotations, ``__repr__``, ``__eq__`` field by field (and so no ``__hash__``)."""
    def wrap(cls):
        return _record(cls, slots)
    return wrap if cls is None else wrap(cls)


def _init(table):
    """``__init__`` for the fields of ``table``, compiled from a few lines of source made
    here from the class's own field names (as ``dataclasses`` does, without its weight):
    a generic one that loops over the table costs 4x more per instance."""
    scope = {"_MISSING": _MISSING}
    params, body = [], []
    for name, default, factory in table:
        if default is not _MISSING:
            scope["_d_" + name] = default
            params.append("%s=_d_%s" % (name, name))
            body.append("    self.%s = %s" % (name, name))
        elif factory is not _MISSING:
            scope["_f_" + name] = factory
            params.append("%s=_MISSING" % name)
            body.append("    self.{0} = _f_{0}() if {0} is _MISSING else {0}".format(name))
        else:
            params.append(name)
            body.append("    self.%s = %s" % (name, name))
    exec("def __init__(self, %s):\n%s\n" % (", ".join(params), "\n".join(body) or "    pass"),
         scope)
    return scope["__init__"]


COMPILE_AFTER = 16
"""Instances of a record class made before its ``__init__`` is compiled: compiling costs
what filling a few hundred instances from the table does (2 million instructions for the
Step's 34 fields), and a short run makes a handful of each class."""


def _fill(self, table, args, kwargs) -> bool:
    """Set the fields from a call's arguments and the defaults, as the compiled
    ``__init__`` would; False for any call that is not a valid one."""
    if len(args) > len(table):
        return False
    taken = 0
    for index, (name, default, factory) in enumerate(table):
        if index < len(args):
            if name in kwargs:
                return False
            value = args[index]
        elif name in kwargs:
            value = kwargs[name]
            taken += 1
        elif default is not _MISSING:
            value = default
        elif factory is not _MISSING:
            value = factory()
        else:
            return False
        setattr(self, name, value)
    return taken == len(kwargs)


class Record(type):
    """``dataclass(slots=True)`` as a metaclass: the class is made once, already slotted,
    where the decorator makes it twice (a class costs about 0.15 M instructions; the
    model's ten, made once, take a 1-step run's start 1 M less).

        class Point(metaclass=Record):
            x: int
    """

    def __new__(cls, name, bases, namespace):
        return _make(name, bases, dict(namespace), True,
                     lambda *parts: type.__new__(cls, *parts))


def _record(cls, slots):
    made = _make(cls.__name__, cls.__bases__, dict(cls.__dict__), slots, type(cls))
    made.__qualname__ = cls.__qualname__
    return made


def _make(class_name, bases, namespace, slots, new):
    """The record class ``new(class_name, bases, namespace)`` of the fields ``namespace``
    annotates."""
    names = tuple(namespace.get("__annotations__", {}))
    table = []  # (name, default, factory)
    for name in names:
        value = namespace.pop(name, _MISSING)
        if isinstance(value, _Field):
            table.append((name, value.default, value.default_factory))
        else:
            table.append((name, value, _MISSING))
        if table[-1][1:] == (_MISSING, _MISSING) and any(
                entry[1] is not _MISSING or entry[2] is not _MISSING for entry in table[:-1]):
            raise TypeError("%s: field %r without a default follows one with a default"
                            % (class_name, name))

    made = None
    made_so_far = [0]

    def __init__(self, *args, **kwargs):
        # the first instances are filled from the table; then the compiled __init__
        # takes over, and every call that is not plain goes to it for its TypeError
        made_so_far[0] += 1
        if made_so_far[0] > COMPILE_AFTER or not _fill(self, table, args, kwargs):
            made.__init__ = _init(table)
            made.__init__(self, *args, **kwargs)

    def __repr__(self):
        return "%s(%s)" % (type(self).__qualname__, ", ".join(
            "%s=%r" % (name, getattr(self, name)) for name in names))

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in names)

    namespace.update(__init__=__init__, __repr__=__repr__, __eq__=__eq__, __hash__=None)
    namespace.pop("__dict__", None)
    namespace.pop("__weakref__", None)
    if slots:
        namespace["__slots__"] = names
    made = new(class_name, bases, namespace)
    return made
