"""The OpenTelemetry HTTP client attributes of an http step's request.

``httpcall`` (the step's process) writes them as a small JSON report beside its
settings file; the DAG run reads it back (``read_report``) onto the step span:
``http.request.method``, ``http.response.status_code``, ``url.full`` (userinfo
and secret-looking query values redacted, as the semantic conventions ask),
``server.address``, ``server.port``, ``error.type`` and
``traceexec.http.request.duration_s`` (connect to the body's last byte, without
the process's start-up, which the step span's own duration includes).
"""

import json
import os
import urllib.parse

from ..wrap.redact import _is_secret_name, is_key_material

KNOWN_METHODS = frozenset(("CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST",
                           "PUT", "TRACE"))
"""The methods the conventions name; any other is ``_OTHER`` (with the original)."""
SIGNED_QUERY_KEYS = frozenset(("AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"))
"""Query keys whose values the conventions redact by default."""
REDACTED = "REDACTED"
DURATION = "traceexec.http.request.duration_s"
ATTRIBUTES = frozenset(("http.request.method", "http.request.method_original",
                        "http.response.status_code", "url.full", "server.address",
                        "server.port", "error.type", DURATION))
"""The only keys taken from a report."""
REPORT_LIMIT = 64 * 1024
"""A report is a few hundred bytes; more than this is not read."""
DEFAULT_PORTS = {"http": 80, "https": 443}


def split_userinfo(url: str):
    """(the URL without userinfo, (user, password) percent-decoded, or None)."""
    parts = urllib.parse.urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return url, None
    user, _, password = userinfo.partition(":")
    plain = urllib.parse.urlunsplit(parts._replace(netloc=host))
    return plain, (urllib.parse.unquote(user), urllib.parse.unquote(password))


def redacted_url(url: str) -> str:
    """``url`` with userinfo as ``REDACTED:REDACTED`` and the values of signed or
    secret-named query keys, or of token-shaped values, as ``REDACTED``."""
    parts = urllib.parse.urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    netloc = "%s:%s@%s" % (REDACTED, REDACTED, host) if at else host
    items = []
    for item in parts.query.split("&") if parts.query else []:
        key, eq, value = item.partition("=")
        name = urllib.parse.unquote_plus(key)
        if eq and (name in SIGNED_QUERY_KEYS or _is_secret_name(name)
                   or is_key_material(urllib.parse.unquote_plus(value))):
            value = REDACTED
        items.append(key + eq + value)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query="&".join(items)))


def request_attributes(method: str, url: str) -> dict:
    """The attributes known before the request is sent (``url`` with its query)."""
    attributes = {}
    upper = method.upper()
    if upper in KNOWN_METHODS:
        attributes["http.request.method"] = upper
    else:
        attributes["http.request.method"] = "_OTHER"
        attributes["http.request.method_original"] = method
    attributes["url.full"] = redacted_url(url)
    parts = urllib.parse.urlsplit(url)
    if parts.hostname:
        attributes["server.address"] = parts.hostname
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        port = None
    if port:
        attributes["server.port"] = port
    return attributes


def error_type(error: BaseException) -> str:
    """The low-cardinality name of a failed request (``ConnectionRefusedError``)."""
    reason = getattr(error, "reason", None)
    if isinstance(reason, BaseException):  # urllib wraps the socket's error
        error = reason
    return type(error).__name__


def write_report(path: str, attributes: dict) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, json.dumps(attributes).encode())
    finally:
        os.close(fd)


def read_report(path: str) -> dict:
    """The attributes of a report (and the report removed); {} when there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return {}
    try:
        raw = os.read(fd, REPORT_LIMIT + 1)
    finally:
        os.close(fd)
        os.unlink(path)
    try:
        document = json.loads(raw) if len(raw) <= REPORT_LIMIT else {}
    except ValueError:
        return {}
    if not isinstance(document, dict):
        return {}
    return {k: v for k, v in document.items()
            if k in ATTRIBUTES and isinstance(v, (str, int, float)) and not isinstance(v, bool)}
