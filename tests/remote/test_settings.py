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
