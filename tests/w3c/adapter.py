"""A test service for the W3C Trace Context validation harness, backed by the real binary.

The harness (github.com/w3c/trace-context, ``test/``) POSTs a JSON list of
``{"url": ..., "arguments": ...}`` to this service with its headers.  For
each entry the service runs ``traceexec -- env`` with the request's
``traceparent``/``tracestate`` headers as TRACEPARENT/TRACESTATE, exactly as
a script would hand them on, reads the command's TRACEPARENT/TRACESTATE from
its output and POSTs ``arguments`` to ``url`` with them as headers.

    python tests/w3c/adapter.py PORT      # then: python test.py http://127.0.0.1:PORT/test
"""
import http.server
import json
import os
import subprocess
import sys
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRACEEXEC = [sys.executable, "-m", "traceexec"]


def headers_to_environment(headers, environ) -> dict:
    """The environment a process started by an HTTP service would get for ``headers``
    (name, value) pairs: each header's values joined with "," (as HTTP combines fields),
    names matched without regard to case; nothing set when a header is absent."""
    env = {k: v for k, v in environ.items() if k not in ("TRACEPARENT", "TRACESTATE")}
    for name in ("traceparent", "tracestate"):
        values = [v for k, v in headers if k.lower() == name]
        if values:
            env[name.upper()] = ",".join(values)
    return env


def child_context(headers, environ):
    """Run the real binary under ``headers``' context; the command's TRACEPARENT/TRACESTATE."""
    env = headers_to_environment(headers, environ)
    env["OTEL_TRACES_EXPORTER"] = "none"
    result = subprocess.run(TRACEEXEC + ["--", "env", "-0"], env=env, capture_output=True,
                            timeout=30, check=True)
    seen = dict(item.split("=", 1) for item in result.stdout.decode().split("\0") if "=" in item)
    return seen.get("TRACEPARENT"), seen.get("TRACESTATE")


class Service(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"[]")
        for action in body if isinstance(body, list) else [body]:
            traceparent, tracestate = child_context(list(self.headers.items()), os.environ)
            request = urllib.request.Request(
                action["url"], data=json.dumps(action.get("arguments", [])).encode(),
                method="POST", headers={"Content-Type": "application/json"})
            if traceparent:
                request.add_header("traceparent", traceparent)
            if tracestate:
                request.add_header("tracestate", tracestate)
            try:
                urllib.request.urlopen(request, timeout=10).read()
            except OSError:
                pass
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Service)
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    main()
