"""``bin/traceexec`` from a checkout, in a Python without the optional packages.

``python -I -S`` is such a Python: no site-packages, so none of pyproject.toml's
dependencies, as in a bare venv. Each subcommand works or says in one line which package
to install (exit 2, never a traceback); ``--timeout`` acts at expiry and leaves nothing of
the command running.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ROOT, traceexec_env
from traceexec.wrap.signals import process_start

BARE = [sys.executable, "-I", "-S", os.path.join(ROOT, "bin", "traceexec")]
DAG = os.path.join(ROOT, "examples", "dag", "pipeline.yaml")


def bare(args, home, **kwargs):
    env = traceexec_env(home)
    env.pop("PYTHONPATH")
    return subprocess.run(BARE + args, env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, **kwargs)


def test_the_bare_python_really_lacks_the_packages():
    for module in ("yaml", "grpc", "dotenv", "google.protobuf"):
        probe = subprocess.run([sys.executable, "-I", "-S", "-c", "import " + module],
                               capture_output=True)
        assert probe.returncode == 1, module


@pytest.mark.parametrize("args,package", [
    (["run", DAG], "pyyaml"), (["start", DAG], "pyyaml"), (["dry", DAG], "pyyaml"),
    (["validate", DAG], "pyyaml"), (["graph", DAG], "pyyaml"),
    (["retry", DAG, "--run-id", "0"], "pyyaml"), (["restart", DAG], "pyyaml"),
    (["serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--no-web"], "grpcio"),
], ids=lambda value: value if isinstance(value, str) else value[0])
def test_a_subcommand_that_needs_a_package_says_which_in_one_line(home, args, package):
    result = bare(args, home)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("traceexec: %s needs the Python package %s " % (
        args[0], package)) and "pip install %s" % package in result.stderr, result.stderr


def test_the_wrapper_and_the_readers_work_without_the_packages(home):
    assert bare(["--name", "hello", "--", "sh", "-c", "echo hi; exit 3"], home).returncode == 3
    for args, status in ((["show"], 0), (["show", "--list"], 0), (["diff", "last", "last"], 0),
                         (["flush"], 0), (["status", "pipeline"], 2), (["history", "pipeline"], 1),
                         (["stop", "pipeline"], 1), (["help", "run"], 0)):
        result = bare(args, home)
        assert result.returncode == status and "Traceback" not in result.stderr, (args, result)
    assert "hello" in bare(["show"], home).stdout


def test_timeout_acts_at_expiry_and_leaves_nothing_running(home, tmp_path):
    pids = tmp_path / "pids"
    # each process by its pid and start time, so that a pid taken again is not mistaken
    script = ("sleep 300 & echo $! $(cut -d' ' -f22 /proc/$!/stat) > {0}; "
              "echo $$ $(cut -d' ' -f22 /proc/$$/stat) >> {0}; wait").format(pids)
    result = bare(["--timeout", "0.5", "-k", "1", "--", "sh", "-c", script], home)
    assert result.returncode == 124 and result.stderr == "", result.stderr
    started = [line.split() for line in pids.read_text().splitlines()]
    assert len(started) == 2
    for pid, start in started:
        assert process_start(int(pid)) != start, "pid %s still runs" % pid
