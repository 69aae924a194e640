"""``bin/traceexec`` as pip installs it in a virtual environment: the wrapper's Python
starts without ``site`` (``-S``) and still finds the package, whether it was installed
(site-packages) or installed editable (``pip install -e``: PEP 610's direct_url.json);
subcommands run ``site`` themselves and find the other packages through ``.pth`` lines.

The environments are real venvs of this interpreter, without pip: the package or the
dist-info record is put where pip puts it.  No PYTHONPATH: the script has to find it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv

import pytest

from conftest import ROOT, traceexec_env

DAG = os.path.join(ROOT, "examples", "dag", "pipeline.yaml")


def make_venv(path, how) -> str:
    """A venv with traceexec installed ``how`` ("normal" or "editable"); its script."""
    venv.EnvBuilder(with_pip=False, symlinks=True).create(str(path))
    python = os.path.join(str(path), "bin", "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    if how == "normal":
        shutil.copytree(os.path.join(ROOT, "traceexec"), os.path.join(site, "traceexec"),
                        ignore=shutil.ignore_patterns("__pycache__"))
    else:
        record = os.path.join(site, "traceexec-0.1.0.dist-info")
        os.mkdir(record)
        with open(os.path.join(record, "direct_url.json"), "w") as handle:
            json.dump({"dir_info": {"editable": True}, "url": "file://" + ROOT}, handle)
    # the other packages (PyYAML for the DAG subcommands), as a .pth line that only site reads
    with open(os.path.join(site, "deps.pth"), "w") as handle:
        handle.write(sysconfig.get_paths()["purelib"] + "\n")
    script = os.path.join(str(path), "bin", "traceexec")
    shutil.copy2(os.path.join(ROOT, "bin", "traceexec"), script)
    return script


def run(argv, home, *, keep_path=False):
    env = traceexec_env(home)
    if not keep_path:
        env.pop("PYTHONPATH")
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("how", ["normal", "editable"])
def test_the_installed_wrapper_runs_without_site(tmp_path, home, how):
    script = make_venv(tmp_path / "venv", how)
    # the wrapper is the command's parent: its command line shows how Python was started
    result = run([script, "--", "sh", "-c", "tr '\\0' ' ' < /proc/$PPID/cmdline; exit 3"], home)
    assert result.returncode == 3, result.stderr
    words = result.stdout.split()
    assert words[0] == os.path.join(str(tmp_path / "venv"), "bin", "python3"), words
    assert "-S" in words and words[words.index("-S") + 3] == script, words
    shown = run([script, "show"], home)
    assert shown.returncode == 0 and "sh" in shown.stdout, shown.stderr


@pytest.mark.parametrize("how", ["normal", "editable"])
def test_the_installed_subcommands_find_their_packages(tmp_path, home, how):
    script = make_venv(tmp_path / "venv", how)
    result = run([script, "validate", DAG], home)
    assert result.returncode == 0, result.stderr


def test_outside_a_venv_the_script_runs_with_site(tmp_path, home):
    # a folder without pyvenv.cfg above it: the Python beside the script, site as usual
    folder = tmp_path / "bin"
    folder.mkdir()
    os.symlink(sys.executable, folder / "python3")
    script = str(folder / "traceexec")
    shutil.copy2(os.path.join(ROOT, "bin", "traceexec"), script)
    result = run([script, "--", "sh", "-c", "tr '\\0' ' ' < /proc/$PPID/cmdline"], home,
                 keep_path=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == [str(folder / "python3"), script], result.stdout


def test_make_recipe_lines_run_by_the_venvs_python(tmp_path, home):
    # traceexec --make names itself to make by a link: a link to the launcher would not
    # find the venv's Python beside it, so the recipe lines get the interpreter by path
    script = make_venv(tmp_path / "venv", "normal")
    (tmp_path / "Makefile").write_text("all:\n\ttr '\\0' ' ' < /proc/$$PPID/cmdline\n")
    result = run([script, "--make", "--", "make", "-s", "-C", str(tmp_path)], home)
    assert result.returncode == 0, result.stderr
    words = result.stdout.split()
    assert words[0] == os.path.join(str(tmp_path / "venv"), "bin", "python3"), words
    assert words[1] == "-SXtraceexec-nosite", words
