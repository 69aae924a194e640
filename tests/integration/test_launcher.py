"""``bin/traceexec`` as pip installs it in a virtual environment (its ``#!`` line naming
the venv's Python): ``traceexec --make`` runs recipe lines through that very Python, by
path and without ``site`` (``-S``), not through whatever ``python3`` is on PATH.

The environment is a real venv of this interpreter, without pip: the package is put
where pip puts it.  No PYTHONPATH: the script has to find it.
"""
from __future__ import annotations

import os
import subprocess
import sys
import venv

from conftest import ROOT, traceexec_env

sys.path.insert(0, ROOT)
from bench.common import installed_script  # noqa: E402  (pip's layout, shared with bench/)


def make_venv(path) -> str:
    """A venv with traceexec installed as ``pip install .`` leaves it; its script."""
    venv.EnvBuilder(with_pip=False, symlinks=True).create(str(path))
    return installed_script(os.path.join(str(path), "bin", "python3"))


def test_make_recipe_lines_run_by_the_venvs_python(tmp_path, home):
    script = make_venv(tmp_path / "venv")
    (tmp_path / "Makefile").write_text("all:\n\ttr '\\0' ' ' < /proc/$$PPID/cmdline\n")
    env = traceexec_env(home)
    env.pop("PYTHONPATH")
    result = subprocess.run([script, "--make", "--", "make", "-s", "-C", str(tmp_path)], env=env,
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    words = result.stdout.split()
    assert words[0] == os.path.join(str(tmp_path / "venv"), "bin", "python3"), words
    assert words[1] == "-S", words


RUN_PROBE = """
import os, sys
import traceexec
traceexec.install_loader(traceexec)
if sys.argv[1] == "without":
    traceexec.preload = lambda package, names: None
asked = []  # what importlib's own machinery is asked to find once cli is loaded
from traceexec import cli
sys.meta_path.insert(0, type(sys)("asking"))
sys.meta_path[0].find_spec = lambda name, path=None, target=None: asked.append(name)


def ours():
    return " ".join(sorted(name for name in sys.modules if name.startswith("traceexec.")))


spawn = os.posix_spawn
def note_spawn(*args, **kwargs):
    print("at spawn:", ours())
    return spawn(*args, **kwargs)
os.posix_spawn = note_spawn


def note_exit(status):
    print("at exit:", ours())
    print("asked:", " ".join(name for name in asked if name.startswith("traceexec")))
    sys.stdout.flush()
    os._exit(status)
cli._exit_now = note_exit
cli.main(["--", "true"])
"""


def _modules_of_a_run(script, home, preload):
    env = traceexec_env(home)
    env.pop("PYTHONPATH")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    python = os.path.join(os.path.dirname(script), "python3")
    result = subprocess.run([python, "-c", RUN_PROBE, preload], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines())
    return ({name[len("traceexec."):] for name in lines["at spawn"].split()},
            {name[len("traceexec."):] for name in lines["at exit"].split()}, lines["asked"].split())


def test_the_wrappers_preload_lists_are_what_a_run_imports_in_order(tmp_path, home):
    """cli.WRAPPER_MODULES is what a run loads before the command starts; ``wrap.watch``
    and command.RECORDING_MODULES (with the local store's ``incoming``) what it loads once
    the command started: no module listed that the run would not load, none left to
    importlib, and each after the modules it imports (or its import would go to
    importlib)."""
    from traceexec.cli import WRAPPER_MODULES
    from traceexec.wrap.command import RECORDING_MODULES
    script = make_venv(tmp_path / "venv")
    at_spawn, at_exit, asked = _modules_of_a_run(script, home, "without")
    before_cli = {"files", "cli"}
    assert at_spawn == before_cli | set(WRAPPER_MODULES)
    after_spawn = {"wrap.watch"} | set(RECORDING_MODULES) | {"delivery.incoming"}
    assert at_exit - at_spawn == after_spawn
    assert set(asked) == {"traceexec." + name for name in at_exit - before_cli}
    at_spawn, at_exit, asked = _modules_of_a_run(script, home, "with")
    assert at_exit - at_spawn == after_spawn
    assert asked == []


GC_NOTES = """
import gc, os, sys
_notes = os.environ["GC_NOTES"]


def _note(text):
    with open(_notes, "a") as out:
        out.write(text + "\\n")


def _on_pass(phase, info):
    if phase == "start" and "traceexec" in sys.modules:  # passes of the wrapper's own start
        _note("pass %d" % gc.get_freeze_count())


gc.callbacks.append(_on_pass)
_spawn = os.posix_spawn


def _noting_spawn(*args, **kwargs):
    _note("spawn %s %d" % (gc.isenabled(), gc.get_freeze_count()))
    return _spawn(*args, **kwargs)


os.posix_spawn = _noting_spawn
"""


def test_the_start_makes_no_collection_pass_and_the_command_starts_with_it_back_on(tmp_path, home):
    """bin/traceexec turns the cycle collector off for its start (its passes over the
    modules being loaded cost about 0.4 M instructions) and back on before the command
    starts, with the start's objects frozen: no pass looks at them again."""
    script = make_venv(tmp_path / "venv")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(GC_NOTES)
    notes = tmp_path / "gc-notes"
    env = traceexec_env(home, PYTHONPATH=str(tmp_path / "site"), GC_NOTES=str(notes))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # a command line long enough that the wrapper allocates past a collection's threshold
    result = subprocess.run([script, "--", "true"] + ["word"] * 2000, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = notes.read_text().splitlines()
    spawns = [line for line in lines if line.startswith("spawn ")]
    assert len(spawns) == 1 and spawns[0].split()[1] == "True", lines
    frozen = int(spawns[0].split()[2])
    assert frozen > 1000, lines  # what the start made, frozen
    assert all(int(line.split()[1]) >= frozen for line in lines if line.startswith("pass ")), lines


def test_the_scripts_folder_is_no_place_modules_are_imported_from(tmp_path, home):
    """Python puts a script's folder first on sys.path; bin/traceexec takes it off: none of
    its modules is there, a search of it cost every import 0.3 M instructions, and a
    file there named like a module (fcntl.py beside the venv's python) must not be
    imported in its stead."""
    script = make_venv(tmp_path / "venv")
    shadow = os.path.join(os.path.dirname(script), "fcntl.py")
    with open(shadow, "w") as out:
        out.write("raise SystemExit('the fcntl.py beside the script was imported')\n")
    env = traceexec_env(home)
    env.pop("PYTHONPATH")
    result = subprocess.run([script, "--", "true"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert '"name":"true"' in open(os.path.join(str(home), "store", "incoming.jsonl")).read()
