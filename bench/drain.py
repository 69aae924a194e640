"""A large backlog, as a long outage leaves it, emptied by ``traceexec flush`` with its defaults.

Writes N wrapper-like spans into one destination's spool in files of
``--per-file`` (one file per exporter start during the outage), then runs
``traceexec flush`` against rotel (blackhole exporter) and reports how long
it took, spans/s, flush's CPU per span, what was left and dropped.  The peer
is the figure of the previous exporter on this machine (not re-measured: its
code is gone): with its defaults flush stopped after 10 s, and its 100 MB
spool limit had already dropped 834,034 of 1,000,000 spans.

    python bench/drain.py              # 1,000,000 spans
    python bench/drain.py --quick      # 20,000 spans, a smoke test
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import TRACEEXEC, Collector, clean_env, work_folder  # noqa: E402
from bench.throughput import spool_dir, wrapper_like_record  # noqa: E402
from traceexec.delivery import frames, otlp, spool  # noqa: E402

OLD = "previous exporter (same machine, issue 12): stopped at 10 s; 834,034 of 1,000,000 dropped"


def fill(directory, count, per_file):
    """``count`` spans in files of ``per_file``, as claimed files of an outage."""
    bodies = [otlp.encode(wrapper_like_record(i)) for i in range(min(count, 5_000))]
    for start in range(0, count, per_file):
        stop = min(start + per_file, count)
        data = b"".join(frames.frame(bodies[i % len(bodies)]) for i in range(start, stop))
        name = "%020d-%d-%08x-n%d%s" % (time.time_ns(), os.getpid(), start, stop - start,
                                        spool.SUFFIX)
        with open(os.path.join(directory, name), "wb") as handle:
            handle.write(data)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--per-file", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="20,000 spans (a smoke test)")
    options = parser.parse_args(argv)
    count = 20_000 if options.quick else options.spans
    rows = []
    with work_folder("traceexec-drain-") as folder:
        collector = Collector("rotel", folder)
        try:
            for label, endpoint in (("OTLP/gRPC", collector.endpoint), (
                    "OTLP/HTTP", collector.http_endpoint)):
                home = os.path.join(folder, label[-4:])
                directory, _ = spool_dir(home, endpoint)
                fill(directory, count, options.per_file)
                size = sum(os.path.getsize(os.path.join(directory, n))
                           for n in os.listdir(directory) if n.endswith(spool.SUFFIX))
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                started = time.perf_counter()
                result = subprocess.run(TRACEEXEC + ["flush", "--json"], env=clean_env(home),
                                        capture_output=True, text=True, timeout=3600)
                seconds = time.perf_counter() - started
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                report = json.loads(result.stdout or "{}")
                rows.append((label, seconds, cpu, report.get("sent", 0), report.get("left"),
                             report.get("dropped"), size))
        finally:
            collector.stop()
    print("backlog of %d spans in files of %d, `traceexec flush` with its defaults, sink: "
          "rotel (blackhole); %d cores, load average %.1f\n"
          % (count, options.per_file, os.cpu_count(), os.getloadavg()[0]))
    print("| protocol | spool MB | seconds | spans/s | flush CPU µs/span | sent | left | dropped |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, seconds, cpu, sent, left, dropped, size in rows:
        print("| %s | %.0f | %.1f | %.0f | %.1f | %d | %s | %s |" % (
            label, size / 1e6, seconds, sent / seconds, cpu / max(sent, 1) * 1e6, sent, left,
            dropped))
    print("\npeer: %s\ngoal: the backlog always drains (left 0, dropped 0)" % OLD)


if __name__ == "__main__":
    main()
