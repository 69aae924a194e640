"""Where the kernel refuses pidfds (seccomp here, an old kernel elsewhere), a step's end
is noticed through SIGCHLD, never by looking every so often: no ``wait4(..., WNOHANG)``
of the driver finds a step still running, in a chain or in a fan-out wider than the
thread that starts steps once many run (``process.SPAWN_THREAD_FROM``)."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, TRACEEXEC, traceexec_env

NO_PIDFD = [sys.executable, os.path.join(ROOT, "tests", "helpers", "no_pidfd.py")]


def write_dag(path, steps, *, graph):
    lines = ["name: nopidfd", "type: graph" if graph else "type: chain", "steps:"]
    for i in range(steps):
        lines.append("  - name: s%d\n    command: /bin/true" % i)
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def traced_run(tmp_path, home, dag):
    """(the run's result, the driver's wait4 lines) under strace, pidfd_open refused."""
    log = tmp_path / "wait4.log"
    argv = ["strace", "-f", "-qq", "-e", "trace=wait4", "-o", str(log)] + NO_PIDFD + \
        TRACEEXEC + ["run", "--quiet", dag]
    result = subprocess.run(argv, env=traceexec_env(home), capture_output=True, text=True,
                            timeout=600, stdin=subprocess.DEVNULL)
    return result, log.read_text().splitlines()


def fruitless_polls(lines) -> list:
    """wait4 calls with WNOHANG that found nothing: the signature of polling."""
    return [line for line in lines if "WNOHANG" in line and re.search(r"= 0$", line)]


def test_the_kernel_refuses_pidfd_open_here():
    probe = subprocess.run(NO_PIDFD + [sys.executable, "-c",
                                       "import os; os.pidfd_open(os.getpid())"],
                           capture_output=True, text=True)
    assert probe.returncode == 1 and "Function not implemented" in probe.stderr


@pytest.mark.parametrize("steps,graph", [(40, False), (300, True)], ids=["chain", "fan-out"])
def test_without_pidfds_a_steps_end_is_noticed_by_sigchld(tmp_path, home, steps, graph):
    result, lines = traced_run(tmp_path, home, write_dag(tmp_path / "dag.yaml", steps,
                                                         graph=graph))
    assert result.returncode == 0, result.stderr[-2000:]
    reaped = [line for line in lines if re.search(r"wait4\(\d+, \[\{WIFEXITED", line)]
    assert len(reaped) >= steps, lines[-20:]  # every step's process was waited for
    assert not fruitless_polls(lines), fruitless_polls(lines)[:5]
