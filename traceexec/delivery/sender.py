"""Sending encoded spans to one destination, and what the answer means.

``Sender.send(bodies)`` posts spool bodies (each an encoded ``ResourceSpans``
as field 1 of an ExportTraceServiceRequest) as one request, spans that share a
resource and a scope grouped under one of each (``otlpexchange.request``), over OTLP/HTTP (``httpclient``) or OTLP/gRPC (``grpcclient``), and
says what became of it, by the OTLP exporter specification's rules:

- ``ACCEPTED``: delivered; a partial success is counted and reported, never
  sent again;
- ``REFUSED``: the collector will not take *these* spans (HTTP 400 and 413;
  gRPC INVALID_ARGUMENT, a message too large, INTERNAL decoding errors): the
  exporter splits the request to find the span at fault;
- ``KEPT``: nothing is wrong with the spans (collector down, busy, timeout,
  TLS, authentication...): they stay in the spool.  ``retryable`` when the
  specification says to retry (HTTP 429/502/503/504, gRPC CANCELLED,
  DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS, and
  RESOURCE_EXHAUSTED with RetryInfo; a connection or protocol failure),
  with ``retry_after`` from ``Retry-After`` or gRPC ``RetryInfo``; ``answered``
  when the collector was reached (it said busy, or broke the exchange), not
  when it could not be reached, refused TLS or stayed silent.

Every reason is scrubbed of header values (``scrubber``) and printable.
"""

from . import config, otlp, otlpexchange
from ..errors import printable
from .scrubber import Scrubber

ACCEPTED, REFUSED, KEPT = "accepted", "refused", "kept"
IN_FLIGHT = 4
"""OTLP/gRPC requests in flight at once (HTTP/2 streams): measured against rotel on
loopback, one at a time gave 51,000 spans/s (a round trip per request), four 212,000."""
REASON_LIMIT = 300
RETRY_AFTER_MAX_S = 300.0
"""A Retry-After or RetryInfo longer than this is taken as this."""
_RETRYABLE_HTTP = {429, 502, 503, 504}
_REFUSED_HTTP = {400, 413}
_RETRYABLE_GRPC = {1, 4, 10, 11, 14, 15}
RESOURCE_EXHAUSTED, INVALID_ARGUMENT, INTERNAL, OUT_OF_RANGE = 8, 3, 13, 11


class ExportFailed(Exception):
    """A destination could not be sent to (the reason holds no secret)."""


class Outcome:
    """What became of one request: ``kind`` (ACCEPTED, REFUSED, KEPT), a reason,
    for a partial success the number of spans the collector rejected, and for
    KEPT whether to retry (``retryable``) and not before when (``retry_after``, s)."""

    def __init__(self, kind, reason="", rejected=0, *, retryable=False, retry_after=None,
                 answered=False):
        self.kind, self.reason, self.rejected = kind, reason, rejected
        self.retryable, self.retry_after, self.answered = retryable, retry_after, answered

    def __repr__(self):
        return "Outcome(%s, %r, rejected=%d, retryable=%s)" % (
            self.kind, self.reason, self.rejected, self.retryable)


def _http_reason(status, headers, body) -> str:
    kind = headers.get("content-type", "")
    text = ""
    if "protobuf" in kind:
        text = otlpexchange.status_message(body)
    elif "json" in kind:
        import json
        try:
            document = json.loads(body)
            text = str(document.get("message", "")) if isinstance(document, dict) else ""
        except (ValueError, RecursionError):
            text = ""
    if not text:
        text = body[:1024].decode("utf-8", "replace").strip().split("\n")[0]
    return "HTTP %d%s" % (status, ": " + text if text else "")


def retry_after(value) -> float | None:
    """Seconds from a ``Retry-After`` value (delay seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), RETRY_AFTER_MAX_S)
    import email.utils
    import time
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return min(max(when - time.time(), 0.0), RETRY_AFTER_MAX_S)


class Sender:
    """Sends to the destination ``dest`` (``ExportConfig.describe()``) with ``headers``."""

    def __init__(self, dest: dict, headers: dict, timeout_s: float, environ=None):
        import os
        environ = os.environ if environ is None else environ
        self.proxy = None
        self.scrubber = Scrubber(headers.values())
        self.timeout_s = timeout_s
        self.protocol = dest.get("protocol")
        self.gzip = dest.get("compression") == "gzip"
        endpoint = dest["endpoint"]
        from .proxy import proxy_for
        from .transport import TlsSettings
        tls = TlsSettings(dest.get("certificate"), verify=not dest.get("insecure"),
                          client_certificate=dest.get("client_certificate"),
                          client_key=dest.get("client_key"))
        import gc
        collecting = gc.isenabled()
        # the protocol library's import makes many objects and no garbage: the cyclic
        # collector's passes over them would cost a short-lived exporter 4 ms
        gc.disable()
        try:
            if self.protocol == config.HTTP:
                from .httpclient import HttpClient, HttpError, split_url
                self._errors = (HttpError,)
                scheme, host, port, _ = split_url(endpoint)
                self.proxy = proxy_for(scheme, host, port, environ)
                self.client = HttpClient(endpoint, tls=tls, proxy=self.proxy)
                from .. import __version__
                self.headers = {"Content-Type": "application/x-protobuf",
                                "User-Agent": "traceexec/%s" % __version__}
                if self.gzip:
                    self.headers["Content-Encoding"] = "gzip"
                self.headers.update(headers)
            else:
                from .grpcclient import GrpcClient, is_plaintext, split_target
                self._errors = ()
                host, port = split_target(endpoint.split("://", 1)[-1].rstrip("/"))
                scheme = "http" if is_plaintext(endpoint, bool(dest.get("insecure"))) else "https"
                self.proxy = proxy_for(scheme, host, port, environ, grpc=True)
                self.client = GrpcClient(endpoint, tls=tls, insecure=bool(dest.get("insecure")),
                                         gzip=self.gzip, proxy=self.proxy)
                self.metadata = tuple((k.lower(), v) for k, v in headers.items())
        except Exception as error:
            raise ExportFailed(self.reason("cannot set up the exporter: %s" % error)) from None
        finally:
            if collecting:
                gc.enable()

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
        request = otlpexchange.request(bodies)
        try:
            if self.protocol == config.HTTP:
                outcome = self._send_http(request)
                return lambda: outcome
            waiting = self.client.submit(request, self.metadata, self.timeout_s)
        except self._errors as error:
            outcome = Outcome(KEPT, self.reason(error), retryable=True,
                              answered=getattr(error, "reached", False))
            return lambda: outcome
        except Exception as error:  # a library's surprise: keep the spans, say why
            outcome = Outcome(KEPT, self.reason("%s: %s" % (type(error).__name__, error)),
                              retryable=True)
            return lambda: outcome

        def result() -> Outcome:
            try:
                return self._grpc_outcome(*waiting())
            except Exception as error:
                return Outcome(KEPT, self.reason("%s: %s" % (type(error).__name__, error)),
                               retryable=True)
        return result

    def _accepted(self, reply: bytes) -> Outcome:
        rejected, message = otlpexchange.partial_success(reply)
        return Outcome(ACCEPTED, self.reason(message) if message else "", rejected)

    def _send_http(self, request: bytes) -> Outcome:
        if self.gzip:
            request = otlp.gzipped(request)
        status, headers, body = self.client.post(request, self.headers, self.timeout_s)
        if 200 <= status < 300:
            return self._accepted(body if "protobuf" in headers.get("content-type", "") else b"")
        reason = self.reason(_http_reason(status, headers, body))
        if status in _REFUSED_HTTP:
            return Outcome(REFUSED, reason)
        return Outcome(KEPT, reason, retryable=status in _RETRYABLE_HTTP,
                       retry_after=retry_after(headers.get("retry-after")), answered=True)

    def _grpc_outcome(self, code, details, delay, reply, answered) -> Outcome:
        from .grpcclient import NAMES
        if code == 0:
            return self._accepted(reply)
        reason = self.reason("gRPC %s%s" % (NAMES.get(code, code), ": " + details if details else ""))
        lowered = details.lower()
        if delay is not None:
            delay = min(max(delay, 0.0), RETRY_AFTER_MAX_S)
        # a message over the server's size limit: RESOURCE_EXHAUSTED from grpc-go and
        # grpcio, OUT_OF_RANGE from tonic (rotel); the split finds the span at fault
        too_large = code in (RESOURCE_EXHAUSTED, OUT_OF_RANGE) and delay is None and any(
            word in lowered for word in ("larger than", "too large", "too big", "more than",
                                         "inflates past"))
        malformed = code == INTERNAL and any(
            word in lowered for word in ("decod", "unmarshal", "pars"))
        if code == INVALID_ARGUMENT or too_large or malformed:
            return Outcome(REFUSED, reason)
        retryable = code in _RETRYABLE_GRPC or (code == RESOURCE_EXHAUSTED and delay is not None)
        return Outcome(KEPT, reason, retryable=retryable, retry_after=delay, answered=answered)

    def close(self):
        try:
            self.client.close()
        except Exception:
            pass
