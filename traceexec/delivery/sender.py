"""Sending encoded spans to one destination, and what the answer means.

``Sender.send(bodies)`` posts the concatenation of spool bodies (each an
encoded ``ResourceSpans`` as field 1 of an ExportTraceServiceRequest) as one
request, over OTLP/HTTP (``httpclient``) or OTLP/gRPC (``grpcclient``), and
says what became of it:

- ``ACCEPTED``: delivered (a partial success is counted and reported);
- ``REFUSED``: the collector will not take *these* spans (gRPC
  INVALID_ARGUMENT, OUT_OF_RANGE, RESOURCE_EXHAUSTED without retry
  information, INTERNAL decoding errors; HTTP 400 and 413): the exporter
  splits the request to find the span at fault;
- ``KEPT``: nothing is wrong with the spans (collector down, timeout, TLS,
  authentication...): they stay in the spool and the destination backs off.

Every reason is scrubbed of header values (``scrubber``) and printable.
"""

from . import config, otlp
from ..errors import printable
from .scrubber import Scrubber

ACCEPTED, REFUSED, KEPT = "accepted", "refused", "kept"
IN_FLIGHT = 4
"""OTLP/gRPC requests in flight at once (HTTP/2 streams): measured against rotel on
loopback, one at a time gave 51,000 spans/s (a round trip per request), four 212,000."""
REASON_LIMIT = 300
_REFUSED_GRPC = {3, 11}  # INVALID_ARGUMENT, OUT_OF_RANGE
_REFUSED_HTTP = {400, 413}


class ExportFailed(Exception):
    """A destination could not be sent to (the reason holds no secret)."""


class Outcome:
    """What became of one request: ``kind`` (ACCEPTED, REFUSED, KEPT), a reason,
    and for a partial success the number of spans the collector rejected."""

    def __init__(self, kind, reason="", rejected=0):
        self.kind, self.reason, self.rejected = kind, reason, rejected

    def __repr__(self):
        return "Outcome(%s, %r, rejected=%d)" % (self.kind, self.reason, self.rejected)


def _http_reason(status, headers, body) -> str:
    kind = headers.get("content-type", "")
    text = ""
    if "protobuf" in kind:
        text = otlp.status_message(body)
    elif "json" in kind:
        import json
        try:
            document = json.loads(body)
            text = str(document.get("message", "")) if isinstance(document, dict) else ""
        except ValueError:
            text = ""
    if not text:
        text = body.decode("utf-8", "replace").strip().split("\n")[0]
    return "HTTP %d%s" % (status, ": " + text if text else "")


class Sender:
    """Sends to the destination ``dest`` (``ExportConfig.describe()``) with ``headers``."""

    def __init__(self, dest: dict, headers: dict, timeout_s: float):
        self.scrubber = Scrubber(headers.values())
        self.timeout_s = timeout_s
        self.protocol = dest.get("protocol")
        self.gzip = dest.get("compression") == "gzip"
        endpoint = dest["endpoint"]
        try:
            if self.protocol == config.HTTP:
                from .httpclient import HttpClient, HttpError
                self._errors = (HttpError,)
                self.client = HttpClient(endpoint, certificate=dest.get("certificate"),
                                         insecure=bool(dest.get("insecure")))
                from .. import __version__
                self.headers = {"Content-Type": "application/x-protobuf",
                                "User-Agent": "traceexec/%s" % __version__}
                if self.gzip:
                    self.headers["Content-Encoding"] = "gzip"
                self.headers.update(headers)
            else:
                from .grpcclient import GrpcClient
                self._errors = ()
                self.client = GrpcClient(endpoint, certificate=dest.get("certificate"),
                                         insecure=bool(dest.get("insecure")), gzip=self.gzip)
                self.metadata = tuple((k.lower(), v) for k, v in headers.items())
        except Exception as error:
            raise ExportFailed(self.reason("cannot set up the exporter: %s" % error)) from None

    def reason(self, text) -> str:
        """``text`` scrubbed, on one line, not too long."""
        text = printable(self.scrubber.scrub(text))
        return text if len(text) <= REASON_LIMIT else text[:REASON_LIMIT] + "..."

    def send(self, bodies) -> Outcome:
        """Send the spans ``bodies`` (an empty list is a valid, empty request)."""
        return self.submit(bodies)()

    def submit(self, bodies):
        """Start sending ``bodies``; returns a function that waits and gives the Outcome.
        OTLP/gRPC requests overlap (``IN_FLIGHT``); OTLP/HTTP ones go one at a time."""
        request = b"".join(bodies)
        try:
            if self.protocol == config.HTTP:
                outcome = self._send_http(request)
                return lambda: outcome
            waiting = self.client.submit(request, self.metadata, self.timeout_s)
        except self._errors as error:
            outcome = Outcome(KEPT, self.reason(error))
            return lambda: outcome
        except Exception as error:  # a library's surprise: keep the spans, say why
            outcome = Outcome(KEPT, self.reason("%s: %s" % (type(error).__name__, error)))
            return lambda: outcome

        def result() -> Outcome:
            try:
                return self._grpc_outcome(*waiting())
            except Exception as error:
                return Outcome(KEPT, self.reason("%s: %s" % (type(error).__name__, error)))
        return result

    def _accepted(self, reply: bytes) -> Outcome:
        rejected, message = otlp.partial_success(reply)
        return Outcome(ACCEPTED, self.reason(message) if message else "", rejected)

    def _send_http(self, request: bytes) -> Outcome:
        if self.gzip:
            request = otlp.gzipped(request)
        status, headers, body = self.client.post(request, self.headers, self.timeout_s)
        if 200 <= status < 300:
            return self._accepted(body if "protobuf" in headers.get("content-type", "") else b"")
        reason = self.reason(_http_reason(status, headers, body))
        return Outcome(REFUSED if status in _REFUSED_HTTP else KEPT, reason)

    def _grpc_outcome(self, code, details, retry, reply) -> Outcome:
        from .grpcclient import NAMES
        if code == 0:
            return self._accepted(reply)
        reason = self.reason("gRPC %s%s" % (NAMES.get(code, code), ": " + details if details else ""))
        lowered = details.lower()
        refused = (code in _REFUSED_GRPC or (code == 8 and not retry)
                   or (code == 13 and ("decod" in lowered or "unmarshal" in lowered
                                       or "pars" in lowered)))
        return Outcome(REFUSED if refused else KEPT, reason)

    def close(self):
        try:
            self.client.close()
        except Exception:
            pass
