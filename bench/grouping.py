"""What grouping an export request's spans by resource and scope saves a collector.

The same wrapper-like spans (``bench/throughput.py``'s, one resource and one scope)
are sent by the exporter's own ``Sender`` as requests of 4,096 spans (the exporter's
batch) two ways, interleaved, to the same collector:

- *grouped*: ``otlp.request`` of the spool bodies (one ResourceSpans and one ScopeSpans
  for spans that share them), what the exporter sends since issue 26;
- *one ResourceSpans per span*: the plain concatenation of the bodies, what it sent
  before (each span carries its resource and scope again).

For each: the request bytes per span, the collector's CPU µs per span while it
receives (rotel, blackhole exporter; and ``traceexec serve`` storing them), and the
sender's own CPU µs per span (building the request included).

    python bench/grouping.py              # 100,000 spans, 3 rounds, the best counts
    python bench/grouping.py --quick      # 8,192 spans, 1 round
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import Collector, load_note, work_folder  # noqa: E402
from bench.throughput import cpu_seconds, wrapper_like_record  # noqa: E402
from traceexec.delivery import config, otlp  # noqa: E402
from traceexec.delivery.drain import BATCH_SPANS  # noqa: E402
from traceexec.delivery.sender import ACCEPTED, Sender  # noqa: E402

WAYS = {"grouped": otlp.request,
        "one ResourceSpans per span": lambda bodies: b"".join(bodies)}


def send_all(sender, batches, way) -> tuple:
    """(request bytes, sender CPU seconds) of sending every batch ``way``."""
    size, cpu = 0, time.process_time()
    make = WAYS[way]
    for bodies in batches:
        request = make(bodies)
        size += len(request)
        outcome = sender.send([request] if way != "grouped" else bodies)
        if outcome.kind != ACCEPTED:
            raise SystemExit("%s: %s" % (way, outcome.reason))
    return size, time.process_time() - cpu


def settle(pid) -> float:
    """The collector's CPU seconds once it has stopped working on what it received."""
    last = cpu_seconds(pid)
    while True:
        time.sleep(0.2)
        now = cpu_seconds(pid)
        if now - last < 0.002:
            return now
        last = now


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="8,192 spans, one round")
    options = parser.parse_args(argv)
    count = 2 * BATCH_SPANS if options.quick else options.spans
    rounds = 1 if options.quick else 3
    bodies = [otlp.encode(wrapper_like_record(i)) for i in range(count)]
    batches = [bodies[i:i + BATCH_SPANS] for i in range(0, count, BATCH_SPANS)]
    rows = []
    with work_folder("traceexec-bench-grouping-") as folder:
        for kind in ("rotel", "serve"):
            for protocol in ("grpc", "http"):
                collector = Collector(kind, folder)
                endpoint = collector.endpoint if protocol == "grpc" else collector.http_endpoint
                cfg = config.resolve({"endpoint": endpoint}, None, {"TRACEEXEC_HOME": folder})
                sender = Sender(cfg.describe(), {}, 30.0)
                best = {}
                try:
                    for _ in range(rounds):
                        for way in WAYS:
                            before = settle(collector.proc.pid)
                            size, cpu = send_all(sender, batches, way)
                            used = settle(collector.proc.pid) - before
                            best[way] = min(best.get(way, (size, cpu, used)), (size, cpu, used),
                                            key=lambda r: r[2])
                finally:
                    sender.client.close()
                    collector.stop()
                for way, (size, cpu, used) in best.items():
                    rows.append(("%s, OTLP/%s" % (kind, "gRPC" if protocol == "grpc" else
                                                  "HTTP"), way, size / count, cpu / count * 1e6,
                                 used / count * 1e6))
    print("%d wrapper-like spans (one resource, one scope), requests of %d spans, best of %d"
          % (count, BATCH_SPANS, rounds))
    print("| collector | request | bytes/span | sender CPU µs/span | collector CPU µs/span |")
    print("|---|---|---:|---:|---:|")
    for row in rows:
        print("| %s | %s | %.0f | %.2f | %.2f |" % row)
    print("\n" + load_note())
    return 0


if __name__ == "__main__":
    sys.exit(main())
