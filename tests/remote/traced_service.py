"""An HTTP service instrumented with the OpenTelemetry Python SDK: each request is
a SERVER span in the caller's trace (W3C propagator), exported over OTLP/HTTP to
argv[1] (or with ``traceexec``, by traceexec's SDK exporter where its spans go).
Prints its port, then serves until killed.  The answer is JSON: the path, the
body and the Authorization header it saw; /missing answers 404."""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.propagate import extract
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

provider = TracerProvider(resource=Resource.create({"service.name": "traced-service"}))
if sys.argv[1] == "traceexec":  # where traceexec's spans go (TRACEEXEC_HOME, OTEL_*)
    from traceexec.sdk.exporter import TraceexecSpanExporter
    exporter = TraceexecSpanExporter()
else:
    exporter = OTLPSpanExporter(endpoint=sys.argv[1])
provider.add_span_processor(SimpleSpanProcessor(exporter))
tracer = provider.get_tracer("traced-service")


class Handler(BaseHTTPRequestHandler):
    def handle_any(self):
        carrier = {name.lower(): value for name, value in self.headers.items()}
        with tracer.start_as_current_span("handle " + self.path.split("?")[0],
                                          context=extract(carrier), kind=SpanKind.SERVER) as span:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            status = 404 if self.path.startswith("/missing") else 200
            span.set_attribute("http.response.status_code", status)
            answer = json.dumps({"path": self.path, "body": body,
                                 "auth": self.headers.get("Authorization")}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    do_GET = do_POST = do_PUT = handle_any

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
