"""traceexec.remote.settings: the collector settings sent to the remote traceexec
make it export as this host does."""

import pytest

from traceexec.delivery import config
from traceexec.remote import settings


def read_back(block: bytes) -> dict:
    """The variables a remote shell exports from ``block`` (carrier's rule)."""
    lines = block.decode().split("\n")
    assert lines[-2:] == ["", ""]  # ends with the empty line
    found = {}
    for line in lines[:-2]:
        name, _, value = line.partition("=")
        assert name in settings.SENT
        found[name] = value
    return found


@pytest.mark.parametrize("environ", [
    {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c.example:4318",
     "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20t%2Cok=,x-b=1"},
    {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://u:p%40w@c.example/otlp/v1/traces",
     "OTEL_EXPORTER_OTLP_TIMEOUT": "2500", "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"},
    {"OTEL_EXPORTER_OTLP_ENDPOINT": "c.example:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
     "OTEL_EXPORTER_OTLP_INSECURE": "true"},
    {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c.example:4317",
     "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
    {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c.example:4318", "OTEL_SDK_DISABLED": "true"},
    {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c.example:4318", "OTEL_TRACES_EXPORTER": "none"},
])
def test_the_remote_side_resolves_the_same_export(environ):
    here = config.resolve({}, None, environ)
    there = config.resolve({}, None, read_back(settings.block(environ)))
    fields = ("endpoint", "protocol", "headers", "insecure", "timeout_s", "compression",
              "exporters")
    assert [getattr(there, f) for f in fields] == [getattr(here, f) for f in fields]
    assert there.problems == []


def test_no_collector_sends_only_the_empty_line_the_remote_side_reads_up_to():
    assert settings.block({}) == b"\n"


@pytest.mark.parametrize("source", ["file", "pipe", "terminal"])
def test_feed_sends_the_settings_then_the_source_byte_for_byte(tmp_path, source):
    """splice(2) where the source allows it; read and write from a terminal."""
    import os
    import pty
    import subprocess
    import threading
    import tty
    payload = bytes(range(256)) * 300 + b"end"
    reader = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    master = None
    if source == "file":
        (tmp_path / "in").write_bytes(payload)
        fd = os.open(tmp_path / "in", os.O_RDONLY)
    elif source == "pipe":
        fd, writer = os.pipe()
        threading.Thread(target=lambda: (os.write(writer, payload), os.close(writer))).start()
    else:  # raw mode, so the terminal passes every byte
        master, fd = pty.openpty()
        tty.setraw(fd)
        payload = payload[:4000]  # under the terminal's input buffer
        os.write(master, payload)
    feeding = threading.Thread(target=settings.feed, args=(reader.stdin, b"A=b\n\n", fd))
    feeding.start()
    expected = b"A=b\n\n" + payload
    out = b""
    while len(out) < len(expected):
        chunk = reader.stdout.read1(65536)
        if not chunk:
            break
        out += chunk
    if master is not None:
        os.close(master)  # the terminal's end: the slave reads EIO, the feed ends
    rest = reader.stdout.read()
    feeding.join(30)
    os.close(fd)
    reader.wait(30)
    assert out == expected and rest == b""
