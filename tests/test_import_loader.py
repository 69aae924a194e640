"""traceexec.install_loader: a package's modules from their cached byte code, as importlib
would load them, and importlib itself for anything it cannot vouch for."""
import compileall
import os
import subprocess
import sys

import pytest

from conftest import ROOT

PROBE = """
import importlib.resources, sys, traceback
sys.path.insert(0, sys.argv[1])
import pkgx, traceexec
traceexec.install_loader(pkgx)
import pkgx.sub, pkgx.inner.leaf
for module in (pkgx.sub, pkgx.inner, pkgx.inner.leaf):
    print(module.__name__, module.VALUE, type(module.__loader__).__name__, module.__file__,
          module.__cached__, module.__spec__.origin, getattr(module, "__path__", None))
print(importlib.resources.files("pkgx.inner").joinpath("data.txt").read_text())
try:
    pkgx.inner.leaf.fail()
except ZeroDivisionError as error:
    print(traceback.extract_tb(error.__traceback__)[-1].filename)
try:
    import pkgx.missing
except ModuleNotFoundError as error:
    print("missing:", error.name)
"""


def _package(tmp_path):
    package = tmp_path / "pkgx"
    (package / "inner").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub.py").write_text("VALUE = 'compiled'\n")
    (package / "inner" / "__init__.py").write_text("VALUE = 'package'\n")
    (package / "inner" / "leaf.py").write_text("VALUE = 'leaf'\n\ndef fail():\n    1 / 0\n")
    (package / "inner" / "data.txt").write_text("data")
    assert compileall.compile_dir(str(package), quiet=1)
    return package


def _probe(tmp_path, *flags):
    """The probe's lines, and the files of pkgx whose code importlib read itself (``-v``
    names them; traceexec's loader does not)."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    result = subprocess.run([sys.executable, "-v", *flags, "-c", PROBE, str(tmp_path)],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    by_importlib = set()
    for line in result.stderr.splitlines():
        if line.startswith("# code object from ") and "pkgx" in line:
            path = line[len("# code object from "):].strip("'")
            if "__pycache__" in path:  # the byte code of .../__pycache__/NAME.TAG.pyc
                folder, name = os.path.split(path)
                path = os.path.join(os.path.dirname(folder), name.split(".")[0] + ".py")
            by_importlib.add(os.path.relpath(path, str(tmp_path)))
    return result.stdout.splitlines(), by_importlib


def test_modules_come_from_their_byte_code_with_importlibs_attributes(tmp_path):
    package = _package(tmp_path)
    inner = str(package / "inner")
    lines, by_importlib = _probe(tmp_path)
    assert by_importlib == {"pkgx/__init__.py"}  # imported before install
    assert lines[0].split() == [
        "pkgx.sub", "compiled", "SourceFileLoader", str(package / "sub.py"),
        str(package / "__pycache__" / ("sub.%s.pyc" % sys.implementation.cache_tag)),
        str(package / "sub.py"), "None"]
    assert lines[1].split()[:3] == ["pkgx.inner", "package", "SourceFileLoader"]
    assert lines[1].endswith("[%r]" % inner)  # __path__: its submodules are found
    assert lines[2].split()[:4] == ["pkgx.inner.leaf", "leaf", "SourceFileLoader",
                                    inner + "/leaf.py"]
    assert lines[3:] == ["data", inner + "/leaf.py", "missing: pkgx.missing"]


def test_stale_or_missing_byte_code_is_left_to_importlib(tmp_path):
    package = _package(tmp_path)
    (package / "sub.py").write_text("VALUE = 'edited since'\n")  # another size: stale
    os.unlink(package / "inner" / "__pycache__" / ("leaf.%s.pyc" % sys.implementation.cache_tag))
    lines, by_importlib = _probe(tmp_path)
    assert lines[0].split()[:3] == ["pkgx.sub", "edited", "since"]
    assert lines[2].split()[:2] == ["pkgx.inner.leaf", "leaf"]
    assert by_importlib == {"pkgx/__init__.py", "pkgx/sub.py", "pkgx/inner/leaf.py"}


def test_under_dash_o_importlib_reads_its_own_byte_code(tmp_path):
    _package(tmp_path)
    lines, by_importlib = _probe(tmp_path, "-O")
    assert [line.split()[1] for line in lines[:3]] == ["compiled", "package", "leaf"]
    assert by_importlib == {"pkgx/__init__.py", "pkgx/sub.py", "pkgx/inner/__init__.py",
                            "pkgx/inner/leaf.py"}


def test_two_specs_found_for_one_module_both_load(tmp_path):
    """Specs found twice before either is executed (importlib.util by hand): the byte code
    read for the first does not leave the second without code."""
    _package(tmp_path)
    probe = ("import importlib.util, sys\n"
             "sys.path.insert(0, sys.argv[1])\n"
             "import pkgx, traceexec\n"
             "traceexec.install_loader(pkgx)\n"
             "specs = [importlib.util.find_spec('pkgx.sub') for _ in range(2)]\n"
             "for spec in specs:\n"
             "    module = importlib.util.module_from_spec(spec)\n"
             "    spec.loader.exec_module(module)\n"
             "    print(module.VALUE)\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.stdout == "compiled\ncompiled\n", result.stderr


PRELOAD = """
import sys, traceback
sys.path.insert(0, sys.argv[1])
import pkgx, traceexec
traceexec.install_loader(pkgx)
asked = []  # what importlib's own machinery was asked to find from here on
sys.meta_path.insert(0, type(sys)("asking"))
sys.meta_path[0].find_spec = lambda name, path=None, target=None: asked.append(name)
try:
    traceexec.preload(pkgx, sys.argv[2].split(","))
except ZeroDivisionError as error:
    print("raised:", traceback.extract_tb(error.__traceback__)[-1].filename)
print("preloaded:", sorted(name for name in sys.modules if name.startswith("pkgx.")))
print("asked:", sorted(asked))
import pkgx.sub, pkgx.inner.leaf
for module in (pkgx.sub, pkgx.inner, pkgx.inner.leaf):
    print(module.__name__, module.VALUE, type(module.__loader__).__name__, module.__file__,
          module.__cached__, module.__spec__.origin, module.__package__,
          getattr(module, "__path__", None), sys.modules[module.__name__] is module,
          getattr(module.__spec__, "_initializing", None))
print("asked:", sorted(asked))
"""


def _preload(tmp_path, names):
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    result = subprocess.run([sys.executable, "-c", PRELOAD, str(tmp_path), ",".join(names)],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_preloaded_modules_skip_importlib_and_look_as_imported(tmp_path):
    package = _package(tmp_path)
    inner = str(package / "inner")
    lines = _preload(tmp_path, ["sub", "inner", "inner.leaf"])
    assert lines[:2] == ["preloaded: ['pkgx.inner', 'pkgx.inner.leaf', 'pkgx.sub']", "asked: []"]
    tag = sys.implementation.cache_tag
    assert lines[2].split() == [
        "pkgx.sub", "compiled", "SourceFileLoader", str(package / "sub.py"),
        str(package / "__pycache__" / ("sub.%s.pyc" % tag)), str(package / "sub.py"), "pkgx",
        "None", "True", "False"]
    assert lines[3].split()[:3] == ["pkgx.inner", "package", "SourceFileLoader"]
    # _initializing False, as importlib leaves it: each later import looks it up
    assert lines[3].endswith("pkgx.inner [%r] True False" % inner)
    assert lines[4].split() == [
        "pkgx.inner.leaf", "leaf", "SourceFileLoader", inner + "/leaf.py",
        inner + "/__pycache__/leaf.%s.pyc" % tag, inner + "/leaf.py", "pkgx.inner", "None",
        "True", "False"]
    assert lines[5] == "asked: []"  # the imports found them loaded


def test_what_preload_cannot_vouch_for_is_left_to_the_import(tmp_path):
    package = _package(tmp_path)
    (package / "sub.py").write_text("VALUE = 'edited since'\n")  # stale byte code
    # a module before its package: its parent is not loaded yet, so it waits for its import
    lines = _preload(tmp_path, ["sub", "inner.leaf", "inner"])
    assert lines[:2] == ["preloaded: ['pkgx.inner']", "asked: []"]
    assert lines[2].split()[:3] == ["pkgx.sub", "edited", "since"]
    assert lines[4].split()[:2] == ["pkgx.inner.leaf", "leaf"]
    assert lines[5] == "asked: ['pkgx.inner.leaf', 'pkgx.sub']"


def test_a_module_that_raises_is_taken_out_and_its_error_raised(tmp_path):
    package = _package(tmp_path)
    (package / "sub.py").write_text("VALUE = 1 / 0\n")
    assert compileall.compile_file(str(package / "sub.py"), quiet=1, force=True)
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    result = subprocess.run([sys.executable, "-c", PRELOAD, str(tmp_path), "inner,sub"],
                            capture_output=True, text=True, env=env, timeout=60)
    lines = result.stdout.splitlines()
    assert lines[:2] == ["raised: " + str(package / "sub.py"),
                         "preloaded: ['pkgx.inner']"]  # not a half-run sub
    assert "ZeroDivisionError" in result.stderr  # the import tried again, and raised again


def test_byte_code_of_any_size_is_read_whole(tmp_path):
    """Byte code is read to its end in reads of 64 KiB: one exactly that long, and ones
    longer, load as well as a short one."""
    package = _package(tmp_path)
    cached = package / "__pycache__" / ("sub.%s.pyc" % sys.implementation.cache_tag)

    def padded(extra):
        (package / "sub.py").write_text("VALUE = 'compiled'\nPAD = %r\n" % ("x" * extra))
        assert compileall.compile_file(str(package / "sub.py"), quiet=1, force=True)
        return cached.stat().st_size
    extra = 1000
    for _ in range(4):  # the padding is marshalled as is, its line's columns nearly so
        extra += 65536 - padded(extra)
    assert padded(extra) == 65536
    lines = _preload(tmp_path, ["sub"])
    assert lines[:2] == ["preloaded: ['pkgx.sub']", "asked: []"]
    assert lines[2].split()[:2] == ["pkgx.sub", "compiled"]
    (package / "sub.py").write_text("VALUE = 'compiled'\nPAD = %r\n" % ("y" * 150000))
    assert compileall.compile_file(str(package / "sub.py"), quiet=1, force=True)
    lines = _preload(tmp_path, ["sub"])
    assert lines[:2] == ["preloaded: ['pkgx.sub']", "asked: []"]
    assert lines[2].split()[:2] == ["pkgx.sub", "compiled"]


EXTENSIONS = """
import sys

import pytest
names = ("resource", "fcntl")
if sys.argv[1] == "preloaded":
    asked = []  # what importlib's own machinery is asked to find
    sys.meta_path.insert(0, type(sys)("asking"))
    sys.meta_path[0].find_spec = lambda name, path=None, target=None: asked.append(name)
    import traceexec
    traceexec.preload_extensions(names)
    del sys.meta_path[0]
    print("asked:", " ".join(name for name in asked if name in names))
import resource, fcntl, os
for module in (resource, fcntl):
    spec = module.__spec__
    print(module.__name__, module.__file__, module.__package__, type(module.__loader__).__name__,
          module.__loader__ is spec.loader, spec.origin, spec.has_location, spec.cached,
          spec.parent, sys.modules[module.__name__] is module, getattr(spec, "_initializing", None))
print(type(os.wait4(os.posix_spawn("/bin/true", ["true"], {}), 0)[2]).__name__)
"""


def test_extensions_preloaded_are_what_their_import_gives():
    """traceexec.preload_extensions: resource and fcntl from lib-dynload without a
    search, with the attributes and spec importlib's ExtensionFileLoader gives them."""
    env = dict(os.environ, PYTHONPATH=ROOT)

    def lines(how):
        result = subprocess.run([sys.executable, "-c", EXTENSIONS, how], capture_output=True,
                                text=True, env=env, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()
    imported = lines("imported")
    preloaded = lines("preloaded")
    if any(name in sys.builtin_module_names for name in ("resource", "fcntl")):
        pytest.skip("this Python has them built in")
    assert preloaded[0].strip() == "asked:" and preloaded[1:] == imported
