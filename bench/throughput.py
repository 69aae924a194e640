"""Spool-to-collector throughput of the exporter, and its peak RSS.

Fills a spool with N wrapper-like spans, one append per span as wrappers
write them, claimed into files of ``--per-file`` spans (as an exporter claims
the log while wrappers keep appending), starts the real detached exporter (``traceexec _export``) and
times it until the spool is empty.  Sinks: ``traceexec serve`` (which stores
every span as JSON, so it may be the bottleneck) and rotel (a Rust collector
with its blackhole exporter, which measures the exporter side).

    python bench/throughput.py                 # 20,000 spans, both sinks
    python bench/throughput.py --spans 2000 --sink rotel
"""
from __future__ import annotations

import argparse
import marshal
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import TRACEEXEC, Collector, clean_env  # noqa: E402
from traceexec.delivery import config, span, spool  # noqa: E402


SPANS_PER_TRACE = 100
"""Like a build of 100 recipe lines, or a DAG of 100 steps: one trace id per 100 spans."""
_TRACES: dict = {}


def wrapper_like_record(i: int) -> dict:
    trace_id = _TRACES.setdefault(i // SPANS_PER_TRACE, os.urandom(16).hex())
    return span.new_record(
        trace_id=trace_id, span_id=os.urandom(8).hex(),
        parent_span_id=os.urandom(8).hex(), name="step-%d" % (i % 50),
        start_ns=time.time_ns(), end_ns=time.time_ns() + 1_000_000,
        attributes={"process.executable.name": "make",
                    "process.command_args": ["make", "-C", "src", "target-%d" % i],
                    "process.working_directory": "/srv/build", "process.pid": 10_000 + i,
                    "process.exit.code": 0, "traceexec.process.cpu.user": 0.012,
                    "traceexec.process.cpu.system": 0.004,
                    "traceexec.process.max_rss": 12_345},
        status_code=span.STATUS_OK, resource={"service.name": "bench"},
        scope_version="0.1.0")


def fill_spool(home, endpoint, count, per_file):
    cfg = config.resolve({"endpoint": endpoint}, None, {"TRACEEXEC_HOME": home})
    directory = os.path.join(spool.spool_root(home), spool.destination_id(cfg))
    spool.ensure_dir(directory)
    spool.describe_destination(directory, cfg)
    for start in range(0, count, per_file):
        for i in range(start, min(start + per_file, count)):
            spool.write(directory, [wrapper_like_record(i)])
        spool.pending(directory)  # claims current.log into a .span file
    return directory


def run_exporter(home, directory):
    """(seconds from start to empty spool, seconds from first delivery, peak RSS MiB)."""
    env = clean_env(home)
    read_end, write_end = os.pipe()
    log = os.open(os.path.join(home, "exporter.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                  0o600)
    actions = [(os.POSIX_SPAWN_DUP2, read_end, 0), (os.POSIX_SPAWN_DUP2, log, 2)]
    total = len(spool.pending(directory))
    started = time.perf_counter()
    pid = os.posix_spawn(sys.executable, TRACEEXEC + ["_export", directory], env,
                         file_actions=actions)
    os.close(read_end)
    os.close(log)
    os.write(write_end, marshal.dumps({}))
    os.close(write_end)
    first = None
    while True:
        left = sum(1 for n in os.listdir(directory) if n.endswith(spool.SUFFIX))
        now = time.perf_counter()
        if first is None and left < total:
            first = now
        if left == 0:
            break
        if os.waitpid(pid, os.WNOHANG)[0]:
            raise SystemExit("the exporter stopped with %d files left; see %s/exporter.log"
                             % (left, home))
        time.sleep(0.05)
    emptied = time.perf_counter()
    _, _, usage = os.wait4(pid, 0)
    rss = usage.ru_maxrss / 1024.0 if sys.platform != "darwin" else usage.ru_maxrss / 2**20
    return emptied - started, emptied - (first or started), rss


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=20_000)
    parser.add_argument("--per-file", type=int, default=500,
                        help="spans per claimed spool file (progress is counted in files)")
    parser.add_argument("--sink", choices=["serve", "rotel", "both"], default="both")
    options = parser.parse_args(argv)
    sinks = ["serve", "rotel"] if options.sink == "both" else [options.sink]
    rows = []
    with tempfile.TemporaryDirectory(prefix="traceexec-bench-") as folder:
        for sink in sinks:
            os.makedirs(os.path.join(folder, sink))
            collector = Collector(sink, os.path.join(folder, sink))
            try:
                home = os.path.join(folder, sink, "home")
                directory = fill_spool(home, collector.endpoint, options.spans, options.per_file)
                whole, sending, rss = run_exporter(home, directory)
            finally:
                collector.stop()
            rows.append((sink, whole, sending, rss))
    print("%d spans in traces of %d, claimed in files of %d, exporter `traceexec _export` (SDK OTLP/gRPC exporter)\n"
          % (options.spans, SPANS_PER_TRACE, options.per_file))
    print("| sink | time to empty spool (s) | spans/s incl. start-up | spans/s sending "
          "| exporter peak RSS (MiB) |")
    print("|---|---:|---:|---:|---:|")
    for sink, whole, sending, rss in rows:
        print("| %s | %.2f | %.0f | %.0f | %.1f |" % (
            "traceexec serve" if sink == "serve" else "rotel (blackhole)", whole,
            options.spans / whole, options.spans / max(sending, 1e-9), rss))


if __name__ == "__main__":
    main()
