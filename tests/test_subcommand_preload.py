"""``cli.SUBCOMMAND_MODULES`` and ``subcommand.RUN_MODULES``: a warm ``run`` loads its
modules at once (``traceexec.preload``), only modules such a run imports anyway, each
after the modules it imports, and none of them through importlib's machinery."""
import os
import subprocess
import sys
import venv

import pytest

from conftest import ROOT, traceexec_env
from traceexec.cli import SUBCOMMAND_MODULES
from traceexec.subcommand import RUN_EXTENSIONS, RUN_MODULES

sys.path.insert(0, ROOT)
from bench.common import installed_script  # noqa: E402  (pip's layout, shared with bench/)

DAG = "name: one\nsteps:\n  - name: a\n    command: /bin/true\n"


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    """traceexec as ``pip install .`` leaves it in a venv (compiled: preload needs the byte
    code)."""
    folder = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False, symlinks=True, system_site_packages=False).create(
        str(folder))
    return installed_script(os.path.join(str(folder), "bin", "python3"))


def _env(tmp_path, home):
    env = traceexec_env(home, XDG_CACHE_HOME=str(tmp_path / "cache"))
    # PyYAML for the cold run that primes the parse cache
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p.endswith("site-packages"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def test_a_warm_run_imports_its_modules_without_importlib(tmp_path, home, script):
    path = tmp_path / "one.yaml"
    path.write_text(DAG)
    for _ in range(2):  # the first run primes the parse cache
        done = subprocess.run([script, "run", "--quiet", str(path)], capture_output=True,
                              text=True, env=dict(_env(tmp_path, home), PYTHONVERBOSE="1"))
        assert done.returncode == 0, done.stderr[-2000:]
    by_importlib = {line.split("'")[1] for line in done.stderr.splitlines()
                    if line.startswith("import 'traceexec.")}
    listed = {"traceexec." + name for name in SUBCOMMAND_MODULES + RUN_MODULES}
    assert not by_importlib & listed, sorted(by_importlib & listed)
    extensions = {line.split("'")[1] for line in done.stderr.splitlines()
                  if line.startswith("import '") and line.split("'")[1] in RUN_EXTENSIONS}
    assert not extensions, sorted(extensions)  # preload_extensions, not importlib
    records = list((home / "runs" / "one").iterdir())
    assert len(records) == 2 and all((r / "status.json").exists() for r in records)


NATURAL = """
import sys
import traceexec
traceexec.install_loader(traceexec)
traceexec.preload = lambda package, names: None  # each import where it happens
traceexec.preload_extensions = lambda names: None
from traceexec import cli
sys.exit(cli.main(sys.argv[1:]))
"""


def test_the_list_is_what_a_warm_run_imports_in_its_order(tmp_path, home, script):
    path = tmp_path / "one.yaml"
    path.write_text(DAG)
    python = os.path.join(os.path.dirname(script), "python3")
    for _ in range(2):
        done = subprocess.run([python, "-X", "importtime", "-c", NATURAL, "run", "--quiet",
                               str(path)], capture_output=True, text=True,
                              env=_env(tmp_path, home))
        assert done.returncode == 0, done.stderr[-2000:]
    names = [line.split("|")[-1].strip() for line in done.stderr.splitlines()
             if line.startswith("import time:") and "|" in line]
    imported = [name[len("traceexec."):] for name in names if name.startswith("traceexec.")]
    listed = SUBCOMMAND_MODULES + RUN_MODULES
    assert set(listed) <= set(imported), sorted(set(listed) - set(imported))
    assert sorted(listed, key=imported.index) == list(listed)
    # the extension modules too, each of them imported by such a run
    assert set(RUN_EXTENSIONS) <= set(names), sorted(set(RUN_EXTENSIONS) - set(names))


FREEZE_NOTES = """
import gc, os, sys
_freeze = gc.freeze


def _noting_freeze():
    with open(os.environ["FREEZE_NOTES"], "a") as out:
        out.write("%s %s\\n" % (gc.isenabled(), "traceexec.dag.run" in sys.modules))
    _freeze()


gc.freeze = _noting_freeze
"""


def test_the_collector_comes_back_on_after_the_preload(tmp_path, home, script):
    """bin/traceexec turns the collector off for the start; dispatch turns it back on
    (collect_garbage, which freezes what exists) once the run's modules are in, so that no
    pass walks them (1.7 M instructions of a warm 1-step run when it came back before)."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(FREEZE_NOTES)
    notes = tmp_path / "notes"
    env = _env(tmp_path, home)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "site"), env["PYTHONPATH"]])
    env["FREEZE_NOTES"] = str(notes)
    path = tmp_path / "one.yaml"
    path.write_text(DAG)
    done = subprocess.run([script, "run", "--quiet", str(path)], capture_output=True,
                          text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    first = notes.read_text().splitlines()[0]
    assert first == "False True", notes.read_text()  # off until then; the run's modules in
