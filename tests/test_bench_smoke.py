"""The benchmarks run (in their quick modes) and print their tables.

Figures are not asserted: these machines are shared and noisy.  The full runs
and their latest figures are in docs/overhead.md.
"""
import subprocess
import sys

import pytest

from conftest import ROOT, traceexec_env

BENCHES = [
    (["bench/overhead.py", "--quick"], "the floor of a wrapper in Python with site"),
    (["bench/throughput.py", "--quick"], "traceexec exporter, OTLP/HTTP"),
    (["bench/grouping.py", "--quick"], "| rotel, OTLP/gRPC | grouped |"),
    (["bench/start_cost.py", "--quick"], "to rotel, OTLP/HTTP"),
    (["bench/drain.py", "--quick"], "| OTLP/gRPC |"),
    (["bench/dag_overhead.py", "--quick"], "per step"),
    (["bench/dag_start.py", "--quick"], "without pidfds (SIGCHLD)"),
    (["bench/dag_output.py", "--quick"], "| one line |"),
    (["bench/show.py", "--quick"], "show --json of a 10000-span trace"),
    (["bench/viewer.py", "--quick"], "| first screen: the trace page, gzip |"),
    (["bench/processes.py", "--quick"], "| traceexec --processes |"),
    (["bench/lines.py", "--quick"], "| traceexec --lines |"),
    (["bench/slurm.py", "--quick"], "| srun true |"),
    (["bench/remote_stdin.py", "--quick"], "stdin to `cat > /dev/null` on another host"),
]


@pytest.mark.parametrize("args,expected", BENCHES, ids=[b[0][0] for b in BENCHES])
def test_benchmark_runs(tmp_path, args, expected):
    result = subprocess.run([sys.executable] + args, cwd=ROOT, capture_output=True,
                            env=traceexec_env(tmp_path), timeout=240)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert expected in result.stdout.decode()
