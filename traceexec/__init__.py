"""traceexec: run any command inside an OpenTelemetry span.

The package also loads its own modules fast for ``bin/traceexec`` (``install_loader``):
importlib finds each module by asking every finder, listing and stat-ing folders and
reading the cached byte code through several layers of Python code, about 0.1 M
instructions a module, 1.5 M of the wrapper's start.  Installed, this package is first on
``sys.meta_path`` for its own submodules (``find_spec``): it names the source file, checks
the ``__pycache__`` file's header against the source's stat as importlib does (magic
number, a timestamp byte code, mtime and size), and runs the byte code.  Anything else
(no or stale byte code, another optimisation level, a cache prefix, a name that is no
file) is left to importlib.  Modules keep ``__file__``, ``__cached__``, ``__path__``, a
``__spec__`` with their origin and importlib's loader.  Here rather than in a module of
its own, which would cost one more import than it saves (0.45 M); no class (one costs
about 175,000 instructions to create).
"""

__version__ = "0.1.0"

import sys as _sys
from _frozen_importlib import ModuleSpec as _ModuleSpec
from _frozen_importlib_external import MAGIC_NUMBER as _MAGIC, SourceFileLoader as _Loader
from _imp import _fix_co_filename
from marshal import loads as _loads
from os import (O_CLOEXEC as _CLOEXEC, access as _access, close as _close, open as _open,
                read as _read, stat as _stat)

_roots = {}   # "traceexec." -> the package's folder
_code = {}    # module name -> its byte code, between find_spec and exec_module
_SUFFIX = "." + (_sys.implementation.cache_tag or "") + ".pyc"


def install_loader(package) -> None:
    """Load ``package``'s submodules through ``find_spec`` below, when importlib would
    read the same byte code (not under ``-O`` or with ``PYTHONPYCACHEPREFIX``)."""
    if _sys.flags.optimize or _sys.pycache_prefix or not _sys.implementation.cache_tag:
        return
    _roots[package.__name__ + "."] = package.__path__[0]
    finder = _sys.modules[__name__]
    if finder not in _sys.meta_path:
        _sys.meta_path.insert(0, finder)


def preload(package, names) -> None:
    """Load ``package``'s submodules ``names`` (relative, in order: a package before its
    modules) now, each from the byte code ``find_spec`` vouches for, without importlib's
    import machinery: its locks, spec search and attribute setting cost about 70,000
    instructions a module, 1 M of the wrapper's start.  The module gets what importlib
    would give it (``__spec__``, ``__file__``, ``__cached__``, ``__package__``, ``__path__``,
    its name on its parent), and its spec's ``_initializing`` (each later import of the
    module, an ``import`` in a function or ``os.wait4``'s of ``resource``, looks it up:
    missing, an AttributeError made and dropped, 3,000 instructions).  A name already
    imported, whose parent is not, or whose byte code cannot be vouched for is left for
    its import to load as usual; a module whose code raises is taken back out of
    ``sys.modules`` and the error raised, as an import would."""
    prefix = package.__name__ + "."
    if prefix not in _roots:
        return
    modules = _sys.modules
    for short in names:
        name = prefix + short
        parent, _, last = name.rpartition(".")
        if name in modules or parent not in modules:
            continue
        spec = find_spec(name)
        if spec is None:
            continue
        module = type(_sys)(name)
        module.__spec__, module.__loader__ = spec, spec.loader
        module.__file__, module.__cached__ = spec.origin, spec.cached
        if spec.submodule_search_locations is None:
            module.__package__ = parent
        else:
            module.__package__, module.__path__ = name, spec.submodule_search_locations
        modules[name] = module
        spec._initializing = True  # as importlib marks it while the module runs (below)
        try:
            exec_module(module)
        except BaseException:
            modules.pop(name, None)
            raise
        finally:
            spec._initializing = False
        setattr(modules[parent], last, modules[name])


def launch() -> None:
    """What ``bin/traceexec`` runs once it found the package: the package's modules from
    their byte code (``install_loader``: 1.6 M instructions less), the first few without
    importlib's machinery (``preload``), then the command line (``cli.main``).  Here
    rather than in the script, which Python parses anew at every run (about 40,000
    instructions a statement)."""
    package = _sys.modules[__name__]
    install_loader(package)
    preload(package, ("files", "cli"))
    from .cli import main
    _sys.exit(main())


def forwarded(names: dict, relative: str, name: str):
    """A module's ``__getattr__`` answer where some of its names live in a sibling module
    loaded on first use (``relative``, as ``from . import relative`` names it): that
    module's ``name``, kept in ``names`` (the asking module's globals) so that the next
    look-up is a plain one.  An AttributeError naming the asking module for a name
    neither has, and for ``__*__`` names (probes such as ``__wrapped__``, which must not
    load anything)."""
    if not name.startswith("__"):
        full = names["__package__"] + "." + relative
        source = _sys.modules.get(full)
        if source is None:
            __import__(full)
            source = _sys.modules[full]
        value = getattr(source, name, forwarded)
        if value is not forwarded:
            names[name] = value
            return value
    raise AttributeError("module %r has no attribute %r" % (names["__name__"], name))


def preload_extensions(names) -> None:
    """Load the standard library's extension modules ``names`` (``resource``, which
    ``os.wait4`` imports for its result, and ``fcntl``) from its ``lib-dynload`` folder on
    ``sys.path`` as importlib's ExtensionFileLoader would, without first asking every
    finder and listing the folders before it: 0.16 M instructions a module.  A name
    already imported or not found there (built in, another layout) is left to its
    import; a module that fails to load is taken back out of ``sys.modules`` and the
    error raised, as an import would.  Its spec's ``_initializing`` as ``preload`` sets it."""
    folder = next((entry for entry in _sys.path if entry.endswith("/lib-dynload")), None)
    if folder is None:
        return
    from _frozen_importlib_external import ExtensionFileLoader
    from _imp import create_dynamic, exec_dynamic, extension_suffixes
    suffix = extension_suffixes()[0]
    for name in names:
        path = folder + "/" + name + suffix
        if name in _sys.modules or not _access(path, 0):
            continue
        loader = ExtensionFileLoader(name, path)
        spec = _ModuleSpec(name, loader, origin=path)
        spec.has_location = True
        module = create_dynamic(spec)
        module.__loader__, module.__package__ = loader, ""
        module.__spec__, module.__file__ = spec, path
        _sys.modules[name] = module
        spec._initializing = True
        try:
            exec_dynamic(module)
        except BaseException:
            _sys.modules.pop(name, None)
            raise
        finally:
            spec._initializing = False


def collect_garbage() -> None:
    """Turn the cycle collector back on where ``bin/traceexec`` turned it off for its
    start (its passes over the modules being loaded cost about 0.4 M instructions), with
    what exists by then frozen, so that no later pass looks at those objects again.
    Nothing where the collector is on already: a library caller's process is left as it
    is."""
    import gc
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def find_spec(name, path=None, target=None):
    """The spec of a submodule of an installed package whose cached byte code is
    current; ``None`` (importlib's own search) otherwise."""
    prefix = name[:name.find(".") + 1]
    root = _roots.get(prefix)
    if root is None:
        return None
    base = root + "/" + name[len(prefix):].replace(".", "/")
    # a package before a module of the same name, as importlib looks
    for source, folder in ((base + "/__init__.py", base), (base + ".py", None)):
        try:
            if not _access(source, 0):  # F_OK: missing, without an OSError made and dropped
                continue
            source_stat = _stat(source)
        except (OSError, ValueError):
            continue
        where, _, file = source.rpartition("/")
        cached = where + "/__pycache__/" + file[:-3] + _SUFFIX
        data = _whole(cached)
        if data is None:
            return None
        if (data[:4] != _MAGIC or data[4:8] != b"\0\0\0\0"
                or data[8:12] != (int(source_stat.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little")
                or data[12:16] != (source_stat.st_size & 0xFFFFFFFF).to_bytes(4, "little")):
            return None
        spec = _ModuleSpec(name, _sys.modules[__name__], origin=source,
                           is_package=folder is not None)
        if folder is not None:
            spec.submodule_search_locations = [folder]
        spec.has_location = True
        spec.cached = cached
        _code[name] = data
        return spec
    return None


def _whole(path):
    """The bytes of the file at ``path``, read to its end (in reads of 64 KiB, one for
    most byte code: no fstat for its size, whose stat result costs 6,000 instructions);
    ``None`` when it cannot be read.  ``os`` calls, not ``open()``: its file objects
    cost 15,000 instructions a module more."""
    try:
        fd = _open(path, _CLOEXEC)  # O_RDONLY is 0
    except OSError:
        return None
    try:
        chunks = [_read(fd, 65536)]
        while len(chunks[-1]) == 65536:
            chunks.append(_read(fd, 65536))
    except OSError:
        return None
    finally:
        _close(fd)
    return b"".join(chunks)  # one chunk: that very bytes object


def create_module(spec):
    """The default module (importlib makes it)."""
    return None


def exec_module(module) -> None:
    """Run the byte code that ``find_spec`` read for ``module``, which from then on has
    importlib's own loader (package data, ``get_source``, a reload)."""
    spec = module.__spec__
    module.__loader__ = spec.loader = _Loader(spec.name, spec.origin)
    data = _code.pop(module.__name__, None)
    if data is None:  # its byte code went to another spec: importlib's loader reads it
        spec.loader.exec_module(module)
        return
    code = _loads(memoryview(data)[16:])
    _fix_co_filename(code, spec.origin)  # as importlib: the file where it is now
    exec(code, module.__dict__)
