"""A Python program that runs a traced command inside its own span.

    python3 python_parent.py

It puts its span's context into the child's environment (TRACEPARENT,
TRACESTATE), so the `traceexec` span nests under this program's span.
"""
import os
import subprocess

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

provider = TracerProvider(resource=Resource.create({"service.name": "python-parent"}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
tracer = provider.get_tracer("python_parent")

with tracer.start_as_current_span("deploy"):
    carrier = {}
    TraceContextTextMapPropagator().inject(carrier)  # the current span's context
    env = {k: v for k, v in os.environ.items() if k not in ("TRACEPARENT", "TRACESTATE")}
    env.update({key.upper(): value for key, value in carrier.items()})
    subprocess.run(["traceexec", "--name", "migrate", "--", "sh", "-c", "echo migrated"],
                   env=env, check=True)

provider.shutdown()  # flush before exit
