"""What passing the collector's settings over ssh's stdin costs a command that reads
a lot of stdin: ``traceexec ssh`` with a collector configured here (the settings go
first and a relay copies stdin after them) beside plain ``ssh`` and beside
``traceexec ssh`` with none (stdin goes to ssh untouched; the spans come home),
interleaved: the last two differ by the copy alone.

The remote host is a network namespace with a real sshd, built as the tests build
them (tests/remote/hosts.py; needs root and iproute2, as the tests do).  The remote
command is ``cat > /dev/null``; nothing listens at the collector's address, so the
exporters only spool.  Figures only: nothing here fails on a slow machine.

    python bench/remote_stdin.py            # 200 MB, 5 rounds
    python bench/remote_stdin.py --quick    # a smoke run: 20 MB, 1 round
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "remote"))

from bench.common import ROOT, TRACEEXEC, clean_env, median, work_folder  # noqa: E402
from hosts import BASE_PATH, Network, namespaces_refused  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    megabytes, rounds = (20, 1) if options.quick else (200, 5)
    refused = namespaces_refused()
    if refused:
        print("stdin to `cat > /dev/null` on another host: not measured: %s" % refused)
        return 0
    with work_folder() as folder:
        folder = Path(folder)
        for name in ("remote", "local"):
            (folder / name).mkdir()
        with Network(folder) as net:
            host = net.add_host("c", path=os.path.dirname(sys.executable) + ":" + BASE_PATH,
                                env={"TRACEEXEC_HOME": str(folder / "remote"),
                                     "PYTHONPATH": ROOT})
            data = folder / "data"
            data.write_bytes(os.urandom(1 << 20) * megabytes)
            collector = clean_env(folder / "local",
                                  OTEL_EXPORTER_OTLP_ENDPOINT="http://10.203.1.1:9")
            cases = [("ssh", ["ssh"], collector),
                     ("traceexec ssh, no collector", TRACEEXEC + ["ssh"],
                      clean_env(folder / "local")),
                     ("traceexec ssh, collector", TRACEEXEC + ["ssh"], collector)]
            times = {name: [] for name, _, _ in cases}
            cpu = {name: [] for name, _, _ in cases}
            for number in range(rounds):
                at = number % len(cases)
                for name, prefix, env in cases[at:] + cases[:at]:
                    started, used = time.monotonic(), _children_cpu()
                    with open(data, "rb") as stdin:
                        done = net.run(prefix + ["-F", net.ssh_config, host.address,
                                                 "cat > /dev/null"],
                                       stdin=stdin, env=env, capture_output=True)
                    if done.returncode:
                        print("%s failed: %s" % (name, done.stderr.decode()[-500:]))
                        return 1
                    times[name].append(time.monotonic() - started)
                    cpu[name].append(_children_cpu() - used)
    print("%d MB of stdin to `cat > /dev/null` on another host, %d round(s), interleaved; "
          "medians; CPU: user+system of the local processes (ssh's encryption included); "
          "load average %.2f" % (megabytes, rounds, os.getloadavg()[0]))
    print("\n| | wall | ratio | CPU | ratio |\n|---|---|---|---|---|")
    wall_ref, cpu_ref = median(times["ssh"]), median(cpu["ssh"])
    for name, _, _ in cases:
        print("| %s | %.2f s | %.2fx | %.2f s | %.2fx |" % (
            name, median(times[name]), median(times[name]) / wall_ref, median(cpu[name]),
            median(cpu[name]) / cpu_ref))
    return 0


def _children_cpu() -> float:
    import resource
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    sys.exit(main())
