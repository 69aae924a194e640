"""The process of a DAG step with Dagu's ``http`` executor: one request, the trace
context in its ``traceparent``/``tracestate``/``baggage`` headers.

    python -m traceexec.remote.httpcall REQUEST.json N

REQUEST.json (written 0600 by the DAG run, so headers and URLs never sit on a
command line) holds ``requests`` (METHOD and URL of each process, N the index),
headers, query, body, timeout, silent, json and skip_tls_verify.
A user and password in the URL go as ``Authorization: Basic``.  With ``report``
in REQUEST.json, the request's OTel attributes are written there (``httpspan``).
Output as Dagu's: the status line and headers (unless ``silent`` and 2xx), then
the body; or with ``json``, one JSON document.  Exit 0 for 2xx, else 1 with one
line on stderr.
"""

import base64
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from . import httpspan

DEFAULT_TIMEOUT_S = 300
"""The request's time bound when the step sets none (Dagu has none; we bound every peer)."""
JSON_LIMIT = 16 * 1024 * 1024
"""The most of a body read into memory for ``json: true``; text bodies stream through."""
CONTEXT_HEADERS = (("TRACEPARENT", "traceparent"), ("TRACESTATE", "tracestate"),
                   ("BAGGAGE", "baggage"))


def full_url(settings: dict, url: str) -> str:
    """``url`` with the step's ``query`` appended."""
    query = settings.get("query") or {}
    if query:
        url += ("&" if urllib.parse.urlsplit(url).query else "?") + urllib.parse.urlencode(query)
    return url


def request(settings: dict, method: str, url: str, environ) -> urllib.request.Request:
    """The request to send, with the caller's trace context in its headers; a user
    and password in the URL become ``Authorization: Basic`` (as Go's client, Dagu's,
    sends them) unless the step gives that header."""
    url, userinfo = httpspan.split_userinfo(full_url(settings, url))
    headers = dict(settings.get("headers") or {})
    if userinfo and not any(h.lower() == "authorization" for h in headers):
        token = base64.b64encode(("%s:%s" % userinfo).encode()).decode()
        headers["Authorization"] = "Basic " + token
    for variable, header in CONTEXT_HEADERS:
        if environ.get(variable) and not any(h.lower() == header for h in headers):
            headers[header] = environ[variable]
    body = settings.get("body")
    return urllib.request.Request(url, data=body.encode() if body else None, headers=headers,
                                  method=method.upper())


def _write(data: bytes) -> None:
    sys.stdout.buffer.write(data)


def answer(response, settings: dict) -> None:
    """Write the response as Dagu's http executor does."""
    success = 200 <= response.status < 300
    if settings.get("json"):
        raw = response.read(JSON_LIMIT + 1)
        if len(raw) > JSON_LIMIT:
            raise ValueError("the JSON body is over %d bytes" % JSON_LIMIT)
        document = {"body": json.loads(raw or b"null")}
        if not success or not settings.get("silent"):
            document = {"status_code": response.status,
                        "headers": {k: response.headers.get_all(k) for k in response.headers},
                        "body": document["body"]}
        _write(json.dumps(document, indent=1).encode())
        return
    if not success or not settings.get("silent"):
        _write(("%d %s\n" % (response.status, response.reason)).encode())
        for name, value in response.headers.items():
            _write(("%s: %s\r\n" % (name, value)).encode("latin-1", "replace"))
    while True:
        chunk = response.read(65536)
        if not chunk:
            break
        _write(chunk)


def main(args: list) -> int:
    if len(args) != 2 or not args[1].isdigit():
        sys.stderr.write("usage: python -m traceexec.remote.httpcall REQUEST.json N\n")
        return 2
    with open(args[0], encoding="utf-8") as handle:
        settings = json.load(handle)
    method, url = settings["requests"][int(args[1])]
    report = httpspan.request_attributes(method, full_url(settings, url))
    started = time.monotonic()
    try:
        return _call(settings, method, url, report)
    finally:
        report[httpspan.DURATION] = round(time.monotonic() - started, 6)
        if settings.get("report"):
            httpspan.write_report(settings["report"], report)


def _call(settings: dict, method: str, url: str, report: dict) -> int:
    """Send the request, write the answer; ``report`` gets the status or error."""
    context = None
    if settings.get("skip_tls_verify"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    timeout = settings.get("timeout") or DEFAULT_TIMEOUT_S
    try:
        try:
            response = urllib.request.urlopen(request(settings, method, url, os.environ),
                                              timeout=timeout, context=context)
        except urllib.error.HTTPError as error:  # a status that is not 2xx: still an answer
            response = error
        report["http.response.status_code"] = response.status
        if response.status >= 400:
            report["error.type"] = str(response.status)
        with response:
            answer(response, settings)
    except (OSError, ValueError) as error:
        report.setdefault("error.type", httpspan.error_type(error))
        sys.stdout.flush()
        sys.stderr.write("http: %s %s: %s\n" % (method.upper(), report["url.full"], error))
        return 1
    sys.stdout.flush()
    if not 200 <= response.status < 300:
        sys.stderr.write("http status code not 2xx: %d\n" % response.status)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
