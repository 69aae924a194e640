"""``subcommand.preload``: a warm ``run`` loads its modules straight from their byte code,
each as importlib would make it, and only modules such a run imports anyway."""
import compileall
import os
import shutil
import subprocess
import sys

from conftest import ROOT, traceexec_env
from traceexec.subcommand import RUN_MODULES

DAG = "name: one\nsteps:\n  - name: a\n    command: /bin/true\n"


def _installed(tmp_path):
    """The package compiled in a folder of its own, and bin/traceexec beside it, as pip
    leaves them (the loader needs the byte code)."""
    site = tmp_path / "site"
    shutil.copytree(os.path.join(ROOT, "traceexec"), site / "traceexec",
                    ignore=shutil.ignore_patterns("__pycache__"))
    assert compileall.compile_dir(str(site / "traceexec"), quiet=1)
    script = tmp_path / "traceexec-script"
    shutil.copy(os.path.join(ROOT, "bin", "traceexec"), script)
    return site, script


def _env(tmp_path, home, site):
    env = traceexec_env(home, XDG_CACHE_HOME=str(tmp_path / "cache"))
    env["PYTHONPATH"] = os.pathsep.join([str(site)] + [
        p for p in sys.path if p.endswith("site-packages")])  # PyYAML for the cold run
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def test_a_warm_run_imports_its_modules_without_importlib(tmp_path, home):
    site, script = _installed(tmp_path)
    env = _env(tmp_path, home, site)
    path = tmp_path / "one.yaml"
    path.write_text(DAG)
    for _ in range(2):  # the first run primes the parse cache
        done = subprocess.run([sys.executable, "-v", str(script), "run", "--quiet", str(path)],
                              capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
    by_importlib = {line.split("'")[1] for line in done.stderr.splitlines()
                    if line.startswith("import 'traceexec.")}
    assert not by_importlib & set(RUN_MODULES), sorted(by_importlib & set(RUN_MODULES))
    records = list((home / "runs" / "one").iterdir())
    assert len(records) == 2 and all((r / "status.json").exists() for r in records)


def test_the_preloaded_modules_are_those_a_warm_run_imports_in_their_order(tmp_path, home):
    site, script = _installed(tmp_path)
    env = _env(tmp_path, home, site)
    path = tmp_path / "one.yaml"
    path.write_text(DAG)
    for _ in range(2):  # -X importtime: no preload, each import where it happens
        done = subprocess.run([sys.executable, "-X", "importtime", str(script), "run",
                               "--quiet", str(path)], capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
    imported = [line.split("|")[-1].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:") and "|" in line]
    assert set(RUN_MODULES) <= set(imported), sorted(set(RUN_MODULES) - set(imported))
    assert sorted(RUN_MODULES, key=imported.index) == list(RUN_MODULES)


PROBE = """
import sys
sys.path.insert(0, sys.argv[1])
import traceexec
traceexec.install_loader(traceexec)
if sys.argv[2] == "preload":
    from traceexec.subcommand import preload
    preload(["traceexec.dag", "traceexec.dag.bounds"])
import traceexec.dag.bounds
for module in (traceexec.dag, traceexec.dag.bounds):
    spec = module.__spec__
    print(sorted(k for k in vars(module) if k.startswith("__")), module.__name__,
          module.__package__, module.__file__, module.__cached__,
          getattr(module, "__path__", None), type(module.__loader__).__name__,
          module.__loader__.name, module.__loader__.path, spec.name, spec.origin,
          spec.cached, spec.parent, spec.submodule_search_locations, spec.has_location)
print(traceexec.dag.bounds is sys.modules["traceexec.dag.bounds"])
"""


def test_a_preloaded_module_is_the_module_importlib_makes(tmp_path):
    site, _ = _installed(tmp_path)
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPATH", None)
    outputs = [subprocess.run([sys.executable, "-S", "-c", PROBE, str(site), mode],
                              capture_output=True, text=True, env=env, check=True).stdout
               for mode in ("preload", "import")]
    assert outputs[0] == outputs[1]
    assert "True" in outputs[0]
