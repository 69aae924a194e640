"""An OTLP/gRPC collector on grpcio (the reference HTTP/2 implementation) with
opentelemetry-proto, in its own process.

    python grpc_collector.py NAMES_FILE [--cert PEM --key PEM [--client-ca PEM]]
                             [--max-rpcs N --delay SECONDS] [--shapes FILE]

Prints its port; appends the name of every span it receives to NAMES_FILE, and with
``--shapes`` one JSON line per request: for each ResourceSpans its resource attributes
and, for each ScopeSpans, the scope's name and its spans' names.
With ``--cert``/``--key`` it speaks TLS only; with ``--client-ca`` it also
requires a client certificate issued by that CA (mTLS).  ``--max-rpcs`` and
``--delay`` make it a busy one: calls over the limit get grpcio's own
RESOURCE_EXHAUSTED ("Concurrent RPC limit exceeded").
"""
import argparse
import json
import sys
import threading
import time
from concurrent import futures

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, path, delay, shapes=None):
        self.path, self.lock, self.delay, self.shapes = path, threading.Lock(), delay, shapes

    def Export(self, request, context):
        time.sleep(self.delay)
        names = [span.name for resource in request.resource_spans
                 for scope in resource.scope_spans for span in scope.spans]
        with self.lock, open(self.path, "a") as handle:
            handle.write("".join(name + "\n" for name in names))
            if self.shapes:
                with open(self.shapes, "a") as shapes:
                    shapes.write(json.dumps(shape_of(request)) + "\n")
        return trace_service_pb2.ExportTraceServiceResponse()


def shape_of(request) -> list:
    """[[resource attributes, [[scope name, [span names]], ...]], ...] of a request."""
    return [[{kv.key: getattr(kv.value, kv.value.WhichOneof("value") or "string_value")
              for kv in resource.resource.attributes},
             [[scope.scope.name, [span.name for span in scope.spans]]
              for scope in resource.scope_spans]]
            for resource in request.resource_spans]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("names")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--client-ca")
    parser.add_argument("--max-rpcs", type=int)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--shapes")
    options = parser.parse_args()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                         maximum_concurrent_rpcs=options.max_rpcs)
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(
        TraceService(options.names, options.delay, options.shapes), server)
    if options.cert:
        def read(path):
            with open(path, "rb") as handle:
                return handle.read()
        credentials = grpc.ssl_server_credentials(
            [(read(options.key), read(options.cert))],
            root_certificates=read(options.client_ca) if options.client_ca else None,
            require_client_auth=bool(options.client_ca))
        port = server.add_secure_port("127.0.0.1:0", credentials)
    else:
        port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    sys.exit(main())
