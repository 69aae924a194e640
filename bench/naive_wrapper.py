"""The naive way to wrap a command in a span, for comparison: the SDK in the wrapper.

Imports the SDK and the OTLP/gRPC exporter, starts a span, runs the command,
ends the span and exports it synchronously (SimpleSpanProcessor) before exiting.

    python bench/naive_wrapper.py 127.0.0.1:4317 true
"""
import subprocess
import sys

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode


def main(argv):
    endpoint, command = argv[0], argv[1:]
    provider = TracerProvider(resource=Resource.create({"service.name": "naive"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(
        endpoint=endpoint, insecure=True, timeout=10)))
    tracer = provider.get_tracer("naive-wrapper")
    with tracer.start_as_current_span(command[0], kind=SpanKind.CLIENT) as span:
        status = subprocess.call(command)
        span.set_attribute("process.exit.code", status)
        if status:
            span.set_status(Status(StatusCode.ERROR))
    provider.shutdown()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
