"""An OTLP/HTTP collector that takes spans only with one bearer token, in its own
process (opentelemetry-proto's messages).

    python auth_collector.py ADDRESS TOKEN_FILE SPANS_FILE

Reads the token from TOKEN_FILE (never from its command line), listens on
ADDRESS (``host:port``; port 0 for any) and prints its port; a request without
``Authorization: Bearer TOKEN`` gets 401.  Appends one JSON line per span it
takes to SPANS_FILE: trace_id, span_id, parent_span_id, name, host.name.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest, ExportTraceServiceResponse)

LIMIT = 16 * 1024 * 1024
LOCK = threading.Lock()


def main(address, token_file, spans_file):
    with open(token_file) as handle:
        expected = "Bearer " + handle.read().strip()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, LIMIT))
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            request = ExportTraceServiceRequest.FromString(body)
            lines = []
            for resource in request.resource_spans:
                host = [a.value.string_value for a in resource.resource.attributes
                        if a.key == "host.name"]
                for scope in resource.scope_spans:
                    for span in scope.spans:
                        named = [a.value.string_value for a in span.attributes
                                 if a.key == "host.name"]
                        lines.append(json.dumps({
                            "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
                            "parent_span_id": span.parent_span_id.hex(), "name": span.name,
                            "host.name": (named or host or [None])[0]}) + "\n")
            with LOCK, open(spans_file, "a") as handle:
                handle.write("".join(lines))
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    host, _, port = address.rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(*sys.argv[1:])
