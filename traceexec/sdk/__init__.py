"""traceexec seen from a Python program: an OpenTelemetry SDK span exporter (``exporter``)."""
