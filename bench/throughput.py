"""Spool-to-collector throughput of the exporter, side by side with its peers.

Fills a spool with N wrapper-like spans (one append per span, as wrappers
write them, claimed into files of ``--per-file``), starts the real detached
exporter the way a wrapper does (``spool.exporter_argv``: an isolated
interpreter) and times it until the spool is empty.  Measured in the same run:

- the exporter over OTLP/gRPC and over OTLP/HTTP: spans/s and CPU µs per span
  (its whole life: start-up, sending, the linger before it exits);
- the collector (rotel, blackhole exporter): its CPU µs per span while receiving,
  and so the rate at which one of its cores takes spans;
- the old way, as a peer: the same records sent by the OpenTelemetry SDK's
  OTLP/gRPC exporter (records turned into SDK spans, then the SDK's encoder),
  the path the exporter took before the spool held encoded spans.

    python bench/throughput.py              # 100,000 spans
    python bench/throughput.py --quick      # 5,000 spans, a smoke test
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import ROOT, Collector, clean_env, work_folder  # noqa: E402
from traceexec.delivery import config, span, spool  # noqa: E402

GOAL_SPANS_PER_S, GOAL_CPU_US = 100_000, 10.0
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


def spool_dir(home, endpoint):
    cfg = config.resolve({"endpoint": endpoint}, None, {"TRACEEXEC_HOME": home})
    directory = spool.destination_dir(cfg)
    spool.ensure_dir(directory)
    spool.describe_destination(directory, cfg)
    return directory, cfg.protocol


def fill_spool(directory, count, per_file):
    for start in range(0, count, per_file):
        for i in range(start, min(start + per_file, count)):
            spool.write(directory, [wrapper_like_record(i)])
        spool.pending(directory)  # claims current.log into a .span file


def cpu_seconds(pid) -> float:
    import psutil
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def run_exporter(home, directory, protocol):
    """(seconds to an empty spool, exporter CPU seconds, exporter peak RSS MiB)."""
    env = clean_env(home)
    read_end, write_end = os.pipe()
    log = os.open(os.path.join(home, "exporter.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                  0o600)
    actions = [(os.POSIX_SPAWN_DUP2, read_end, 0), (os.POSIX_SPAWN_DUP2, log, 2)]
    started = time.perf_counter()
    pid = os.posix_spawn(sys.executable, spool.exporter_argv(directory), env,
                         file_actions=actions)
    os.close(read_end)
    os.close(log)
    os.close(write_end)  # no header values
    while spool._has_pending(directory):
        if os.waitpid(pid, os.WNOHANG)[0]:
            raise SystemExit("the exporter stopped early; see %s/exporter.log" % home)
        time.sleep(0.01)
    emptied = time.perf_counter() - started
    _, _, usage = os.wait4(pid, 0)
    return emptied, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


SDK_PEER = r"""
import os, sys, time
sys.path.insert(0, sys.argv[3])
from traceexec.delivery import frames, spool
from opentelemetry import trace as api
from opentelemetry.sdk import trace as sdk
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
# what the spool holds, back as the records the old exporter read
request = ExportTraceServiceRequest()
bodies = [b for p in spool.pending(sys.argv[1]) for _, b in frames.scan(spool.read_bytes(p))[0]]
request.ParseFromString(b"".join(bodies))
protos = [(rs, s) for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
started = time.process_time()
resource = Resource({"service.name": "bench"})
scope = InstrumentationScope("traceexec", "0.1.0")
exporter = OTLPSpanExporter(endpoint=sys.argv[2], insecure=True)
def attributes(items):
    return {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) if kv.value.WhichOneof("value") != "array_value" else [v.string_value for v in kv.value.array_value.values] for kv in items}
batch = []
for rs, s in protos:
    context = api.SpanContext(int.from_bytes(s.trace_id, "big"), int.from_bytes(s.span_id, "big"), False, api.TraceFlags(1))
    parent = api.SpanContext(int.from_bytes(s.trace_id, "big"), int.from_bytes(s.parent_span_id, "big"), True, api.TraceFlags(1))
    batch.append(sdk.ReadableSpan(name=s.name, context=context, parent=parent, resource=resource,
                                  attributes=attributes(s.attributes), kind=api.SpanKind.CLIENT,
                                  status=api.Status(api.StatusCode.OK), start_time=s.start_time_unix_nano,
                                  end_time=s.end_time_unix_nano, instrumentation_scope=scope))
    if len(batch) == 2048:
        assert exporter.export(batch).name == "SUCCESS"
        batch = []
if batch:
    assert exporter.export(batch).name == "SUCCESS"
print(time.process_time() - started)
"""


def run_sdk_peer(directory, endpoint):
    """CPU seconds of the SDK's exporter sending what ``directory`` holds (the
    sending only: parsing the spool back is not part of the old path)."""
    result = subprocess.run([sys.executable, "-c", SDK_PEER, directory, endpoint, ROOT],
                            capture_output=True, text=True, env=clean_env())
    if result.returncode:
        raise SystemExit("the SDK peer failed: %s" % result.stderr[-2000:])
    return float(result.stdout.split()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--per-file", type=int, default=2_000,
                        help="spans per claimed spool file")
    parser.add_argument("--quick", action="store_true", help="5,000 spans (a smoke test)")
    parser.add_argument("--no-sdk", action="store_true", help="leave out the SDK peer")
    options = parser.parse_args(argv)
    count = 5_000 if options.quick else options.spans
    rows = []
    with work_folder("traceexec-bench-") as folder:
        collector = Collector("rotel", folder)
        try:
            http = collector.http_endpoint
            for label, endpoint in (("OTLP/gRPC", collector.endpoint), ("OTLP/HTTP", http)):
                home = os.path.join(folder, label.replace("/", "-"))
                directory, protocol = spool_dir(home, endpoint)
                fill_spool(directory, count, options.per_file)
                rotel_before = cpu_seconds(collector.proc.pid)
                seconds, cpu, rss = run_exporter(home, directory, protocol)
                rotel_cpu = cpu_seconds(collector.proc.pid) - rotel_before
                rows.append(("traceexec exporter, " + label, seconds, cpu, rss, rotel_cpu))
            if not options.no_sdk:
                home = os.path.join(folder, "sdk")
                directory, _ = spool_dir(home, collector.endpoint)
                fill_spool(directory, count, options.per_file)
                rotel_before = cpu_seconds(collector.proc.pid)
                seconds = cpu = run_sdk_peer(directory, collector.endpoint)
                rotel_cpu = cpu_seconds(collector.proc.pid) - rotel_before
                rows.append(("peer: the SDK's OTLP/gRPC exporter (the old path)", seconds, cpu,
                             None, rotel_cpu))
        finally:
            collector.stop()
    print("%d wrapper-like spans in traces of %d, claimed in files of %d; sink: rotel "
          "(blackhole exporter); CPU %d cores, load average %.1f\n"
          % (count, SPANS_PER_TRACE, options.per_file, os.cpu_count(), os.getloadavg()[0]))
    print("| sender | seconds | spans/s | CPU µs/span | peak RSS MiB | rotel CPU µs/span "
          "| rotel spans/s per core |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, seconds, cpu, rss, rotel_cpu in rows:
        print("| %s | %.2f | %.0f | %.1f | %s | %.1f | %.0f |" % (
            label, seconds, count / seconds, cpu / count * 1e6,
            "%.1f" % rss if rss is not None else "-", rotel_cpu / count * 1e6,
            count / max(rotel_cpu, 1e-9)))
    print("\ngoal: >= %d spans/s and <= %.0f µs CPU per span from one exporter process, "
          "gRPC and HTTP (seconds include the exporter's start)" % (GOAL_SPANS_PER_S, GOAL_CPU_US))
    print("previous, the hand-written HTTP/2, HPACK and HTTP/1.1 clients (main, same machine, "
          "load average 6-12): gRPC 4.3-5.1 µs/span, 31,000-60,000 spans/s; HTTP 4.1-4.6 "
          "µs/span, 30,000-48,000 spans/s")


if __name__ == "__main__":
    main()
