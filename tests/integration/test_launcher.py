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
