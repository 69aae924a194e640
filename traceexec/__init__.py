"""traceexec: run any command inside an OpenTelemetry span."""

__version__ = "0.1.0"
