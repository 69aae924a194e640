"""A Python program that joins the trace of whoever started it.

    traceexec --name nightly -- python3 python_child.py

Its parent is TRACEPARENT/TRACESTATE in its environment (the OpenTelemetry
environment-variable carrier); its spans go wherever OTEL_EXPORTER_OTLP_ENDPOINT
says, under its own service.name.
"""
import os

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

provider = TracerProvider(resource=Resource.create({"service.name": "python-child"}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
tracer = provider.get_tracer("python_child")

# Environment variables are upper case; the propagator asks for lower-case keys.
carrier = {name.lower(): os.environ[name] for name in ("TRACEPARENT", "TRACESTATE")
           if name in os.environ}
parent = TraceContextTextMapPropagator().extract(carrier)

with tracer.start_as_current_span("load-report", context=parent):
    with tracer.start_as_current_span("parse"):
        rows = sum(1 for _ in range(1000))
    print("loaded %d rows" % rows)

provider.shutdown()  # flush before exit
