"""Hostile OTLP into a real ``traceexec serve``, then ``traceexec show`` of what it kept.

Used small by test_hostile_otlp.py and at full size by ``stress/run.py hostile``.
Nothing here asserts; the scenarios return figures.
"""
from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import socket
import threading
import time

from conftest import Receiver, run_traceexec, traceexec_env

CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
"""Characters that must never reach a terminal raw (newline aside): C0, DEL and C1."""
NASTY = "\x1b[2J\x1b]0;owned\x07\x9b31m\r\x00\x08\u202e\udcff<script>"
ARGV_KEY = "\x1b[2J\x9b31m\u202ekey"
"""A hostile attribute key that a command line can carry (no NUL, no lone surrogate)."""


def peak_rss_mib(pid: int) -> float:
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def post(port: int, body: bytes, content_type="application/json", timeout=60, **headers):
    """(status, reply body) of one POST /v1/traces."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", "/v1/traces", body=body,
                           headers=dict({"Content-Type": content_type}, **headers))
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def otlp_span(trace_id, span_id, parent="", name="s", start="1700000000000000000",
              end="1700000001000000000", attributes=(), **extra):
    item = {"traceId": trace_id, "spanId": span_id, "name": name,
            "startTimeUnixNano": start, "endTimeUnixNano": end,
            "attributes": [{"key": k, "value": v} for k, v in attributes]}
    if parent:
        item["parentSpanId"] = parent
    item.update(extra)
    return item


def otlp_document(spans, service="hostile", scope="hostile"):
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name",
                                     "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": scope}, "spans": spans}]}]}


def varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        out.append(low | 0x80 if number else low)
        if not number:
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


# --- bombs ------------------------------------------------------------------------

def bombs() -> list:
    """(name, body, content type, headers): small on the wire, huge once decoded."""
    json_objects = b"[" + b"{}," * (21 * 1024 * 1024) + b"{}]"  # about 63 MiB of tiny objects
    zipped_json = gzip.compress(json_objects, 9)
    zeros = gzip.compress(b"\0" * (150 * 1024 * 1024), 9)
    empty_spans = field(1, field(2, field(2, b"") * (2 * 1024 * 1024 - 8)))
    return [
        ("gzip of 63 MiB of JSON objects", zipped_json, "application/json",
         {"Content-Encoding": "gzip"}),
        ("gzip of 150 MiB of zeros", zeros, "application/x-protobuf",
         {"Content-Encoding": "gzip"}),
        ("4 MiB of empty protobuf spans", empty_spans, "application/x-protobuf", {}),
        ("gzip of 4 MiB of empty protobuf spans", gzip.compress(empty_spans, 9),
         "application/x-protobuf", {"Content-Encoding": "gzip"}),
        ("JSON nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000, "application/json", {}),
    ]


def grpc_bomb(endpoint: str):
    """The empty-spans bomb over gRPC, gzip-compressed by the client: its status code."""
    import grpc
    body = field(1, field(2, field(2, b"") * (2 * 1024 * 1024 - 8)))
    with grpc.insecure_channel(endpoint, compression=grpc.Compression.Gzip) as channel:
        call = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                                   request_serializer=None, response_deserializer=None)
        try:
            call(body, timeout=60)
        except grpc.RpcError as error:
            return error.code().name
    return "OK"


# --- hostile spans that are valid OTLP, to be kept and shown ------------------------

def hostile_spans(trace_id: str, many_attributes: int) -> list:
    """Spans ``show`` must draw without a traceback or a raw control character."""
    nasty = [(NASTY + "key", {"stringValue": NASTY}), (ARGV_KEY, {"stringValue": NASTY}),
             ("process.exit.code", {"stringValue": "\x1b[31m9\x1b[0m"}),
             ("error.type", {"stringValue": NASTY}),
             ("process.command_args", {"arrayValue": {"values": [
                 {"stringValue": "sh"}, {"stringValue": "-c"}, {"stringValue": NASTY}]}}),
             ("nested", {"kvlistValue": {"values": [{"key": NASTY, "value": {"intValue": "1"}}]}}),
             ("bytes", {"bytesValue": "AAECAwQ="}), ("odd", {"doubleValue": "NaN"})]
    return [
        otlp_span(trace_id, "00000000000000a1", name=NASTY, attributes=nasty,
                  status={"code": 2, "message": NASTY},
                  events=[{"name": NASTY, "timeUnixNano": "1", "attributes": [
                      {"key": k, "value": v} for k, v in nasty]}],
                  links=[{"traceId": trace_id, "spanId": "00000000000000a2",
                          "attributes": [{"key": "traceexec.link.type",
                                          "value": {"stringValue": "depends"}}]}]),
        otlp_span(trace_id, "00000000000000a2", parent="00000000000000a2", name="self-parent"),
        otlp_span(trace_id, "00000000000000a3", parent="00000000000000a4", name="cycle-1"),
        otlp_span(trace_id, "00000000000000a4", parent="00000000000000a3", name="cycle-2",
                  links=[{"traceId": trace_id, "spanId": "00000000000000a3", "attributes": [
                      {"key": "traceexec.link.type", "value": {"stringValue": "depends"}}]}]),
        otlp_span(trace_id, "00000000000000a5", parent="00000000000000a1", name="far-future",
                  start=str(2**64 - 2), end=str(2**64 - 1)),
        otlp_span(trace_id, "00000000000000a6", parent="00000000000000a1", name="ends-first",
                  start="1700000009000000000", end="5"),
        otlp_span(trace_id, "00000000000000a7", parent="00000000000000a1", name="wide",
                  attributes=[("k%d" % n, {"intValue": str(n)}) for n in range(many_attributes)]),
        otlp_span(trace_id, "00000000000000a8", parent="00000000000000a1", name="", kind=99,
                  status={"code": 7}),
    ]


def refused_spans(trace_id: str) -> list:
    """Single-span documents serve must refuse (400): not OTLP, or not storable."""
    return [
        otlp_span(trace_id, "00000000000000b1", name=12345),
        otlp_span(trace_id, "00000000000000b2", name=["a", "list"]),
        otlp_span(trace_id, "00000000000000b3", start="-5"),
        otlp_span(trace_id, "00000000000000b4", end=str(2**64)),
        otlp_span(trace_id, "00000000000000b5", start="1e30"),
        otlp_span("../../../../etc/passwd", "00000000000000b6"),
        otlp_span(trace_id, "not-hex-at-all!!"),
    ]


def slow_client(port: int, pause: float, give_up: float):
    """Send a request a byte at a time; seconds until the server hung up (None: never)."""
    request = (b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: 100000\r\n\r\n" + b" " * 100000)
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=give_up) as sock:
        for byte in request:
            if time.monotonic() - began > give_up:
                return None
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return time.monotonic() - began
            sock.settimeout(pause)
            try:
                if sock.recv(4096) == b"":
                    return time.monotonic() - began
                return time.monotonic() - began  # it answered (408) and will close
            except socket.timeout:
                continue
            except OSError:
                return time.monotonic() - began
    return None


def idle_connections(port: int, count: int) -> list:
    sockets = []
    for _ in range(count):
        try:
            sockets.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        except OSError:
            break
    return sockets


def busy_replies(sockets, timeout: float) -> int:
    """How many of ``sockets`` got an immediate 503 (the rest hold a handler)."""
    count = 0
    for sock in sockets:
        sock.settimeout(timeout)
        try:
            if sock.recv(64).startswith(b"HTTP/1.0 503"):
                count += 1
        except OSError:
            pass
    return count


def serve_threads(pid: int) -> int:
    return len(os.listdir("/proc/%d/task" % pid))


def scenario(work, *, connections: int = 200, many_attributes: int = 5000,
             request_timeout: float = 2.0) -> dict:
    """Bombs, slow clients, idle connections and hostile spans into one receiver; then
    ``show`` of what it kept.  Returns the figures."""
    import pathlib
    folder = pathlib.Path(work) / "hostile-otlp"
    folder.mkdir(parents=True, exist_ok=True)
    receiver = Receiver(folder, ["--request-timeout", str(request_timeout)])
    figures = {"requests": 0, "refused": 0, "accepted": 0, "refused_badly": 0,
               "tracebacks": 0, "raw_control_chars": 0, "badly": []}

    def badly(what, wrong):
        """Count ``wrong`` as a bad refusal, and say which (the figures name each)."""
        figures["refused_badly"] += bool(wrong)
        if wrong:
            figures["badly"].append(what)
    try:
        pid, port = receiver.proc.pid, receiver.http_port
        baseline = peak_rss_mib(pid)
        for name, body, content_type, headers in bombs():
            status, _ = post(port, body, content_type, **headers)
            figures["requests"] += 1
            figures["refused"] += status in (400, 413)
            badly("%s: %s" % (name, status), status not in (400, 413))
        figures["grpc_bomb"] = grpc_bomb(receiver.grpc_endpoint)
        badly("gRPC bomb: %s" % figures["grpc_bomb"], figures["grpc_bomb"] != "RESOURCE_EXHAUSTED")
        figures["peak_rss_mib"] = round(peak_rss_mib(pid), 1)
        figures["rss_growth_mib"] = round(figures["peak_rss_mib"] - baseline, 1)

        trace_id = os.urandom(16).hex()
        for item in refused_spans(trace_id):
            status, _ = post(port, json.dumps(otlp_document([item])).encode())
            figures["requests"] += 1
            figures["refused"] += status == 400
            badly("refused span: %s" % status, status != 400)
        status, _ = post(port, json.dumps(otlp_document(
            hostile_spans(trace_id, many_attributes), service=NASTY, scope=NASTY)).encode())
        figures["requests"] += 1
        figures["accepted"] += status == 200

        # slow clients: a byte at a time; each must be cut off near the request timeout
        cut = [None] * 3
        threads = [threading.Thread(target=lambda i=i: cut.__setitem__(
            i, slow_client(port, 0.2, request_timeout + 30))) for i in range(len(cut))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        figures["slow_clients_cut_after_s"] = max(c if c is not None else 999 for c in cut)

        held = idle_connections(port, connections)
        time.sleep(0.5)
        figures["connections_opened"] = len(held)
        figures["serve_threads_at_most"] = serve_threads(pid)
        figures["answered_busy"] = busy_replies(held[64:], 5.0) if len(held) > 64 else 0
        for sock in held:
            sock.close()
        # the closed connections free their workers as serve reads their end: until
        # then it answers 503 and closes, which OTLP clients retry (as this one does, for
        # 60 s), as they retry a connection closed before the answer (the spec's "server
        # disconnects without returning a response"): a busy serve's close can reach the
        # client while it still sends the body (a broken pipe, seen beside a CPU burner)
        after = json.dumps(otlp_document([otlp_span(
            trace_id, "00000000000000c1", name="after-the-storm")])).encode()
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = post(port, after, timeout=60)
            except (ConnectionResetError, BrokenPipeError):
                status = "disconnected"
            if status not in (503, "disconnected") or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        figures["good_request_after"] = status
        badly("good request after: %s" % status, status != 200)
        receiver.wait_for(9, trace_id, timeout=30)

        env = traceexec_env(receiver.home)
        for args in (["show", trace_id], ["show", "--list"], ["show", "--json", trace_id],
                     ["show", "--attr", ARGV_KEY, trace_id]):
            result = run_traceexec(args, env)
            text = result.stdout.decode("utf-8", "replace")
            figures["tracebacks"] += b"Traceback" in result.stderr
            badly("%s: exit %s: %s" % (" ".join(args[:2]), result.returncode,
                                         result.stderr[-300:]), result.returncode != 0)
            if args[1] != "--json":
                figures["raw_control_chars"] += len(CONTROL.findall(
                    text.replace("\n", ""))) + len(CONTROL.findall(
                        result.stderr.decode("utf-8", "replace").replace("\n", "")))
        figures["tracebacks"] += "Traceback" in receiver.read_log()
        figures["serve_alive"] = int(receiver.proc.poll() is None)
    finally:
        receiver.stop()
    return figures
