"""One destination's SDK OTLP exporter (gRPC or HTTP), with failure reasons that hold no secret.

Header values are given by the caller and scrubbed from every message the
SDK or its transports log; only this module and ``convert`` import the SDK.
"""
import os

from . import config
from .convert import SpanConverter


def scrub(text: str, secrets) -> str:
    """``text`` with every header value in ``secrets`` replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class _Messages:
    """Collects what the SDK exporters log, so a failure has a reason to show."""

    def __init__(self, secrets):
        import logging
        self.secrets = [s for s in secrets if s]
        self.lines = []
        handler = logging.Handler(logging.WARNING)
        handler.emit = self._emit
        self.handler = handler
        self.logger = logging.getLogger("opentelemetry")
        self.logger.addHandler(handler)
        self.logger.propagate = False

    def _emit(self, item):
        try:
            text = item.getMessage()
        except Exception:  # a bad log call in a library must not stop delivery
            text = str(item.msg)
        self.lines.append((item.levelno, self.scrub(text.splitlines()[0] if text else "")))

    def scrub(self, text: str) -> str:
        return scrub(text, self.secrets)

    def note(self, text: str) -> None:
        """A transport error the SDK may not log."""
        import logging
        self.lines.append((logging.WARNING, self.scrub(text)))

    def reason(self) -> str:
        """The SDK's last error, or its last transient error when that says more."""
        import logging
        errors = [text for level, text in self.lines if level >= logging.ERROR and text]
        warnings = [text for level, text in self.lines if level < logging.ERROR and text]
        self.lines.clear()
        reason = errors[-1] if errors else ""
        if warnings and (not reason or "due to timeout" in reason):
            detail = warnings[-1].split(", retrying in ")[0].split(" retrying in ")[0]
            reason = "gave up after retries: " + detail.rstrip(" ,.")
        return reason or "the collector did not accept the spans"

    def close(self):
        self.logger.removeHandler(self.handler)


def open_exporter(dest: dict, headers: dict, timeout_s: float, on_error=None):
    """The SDK OTLP span exporter for a destination description (``ExportConfig.describe``).

    ``on_error(text)`` hears of HTTP transport errors, which the SDK does not
    always log (it gives up without a word when no retry fits the timeout).
    """
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # our log says what failed, once
    endpoint = dest["endpoint"]
    compression = dest.get("compression")
    certificate = dest.get("certificate")
    insecure = bool(dest.get("insecure"))
    if dest.get("protocol") == config.HTTP:
        import requests
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        class Session(requests.Session):
            def merge_environment_settings(self, url, proxies, stream, verify, cert):
                settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
                if self.verify is not True:  # our certificate or insecure beats REQUESTS_CA_BUNDLE
                    settings["verify"] = self.verify
                return settings

            def request(self, *args, **kwargs):
                try:
                    return super().request(*args, **kwargs)
                except Exception as error:
                    if on_error is not None:
                        on_error(str(error))
                    raise

        session = Session()
        exporter = OTLPSpanExporter(
            endpoint=endpoint, certificate_file=certificate, headers=dict(headers),
            timeout=timeout_s, session=session,
            compression=Compression.Gzip if compression == "gzip" else Compression.NoCompression)
        if insecure:
            import urllib3
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            session.verify = False
        return exporter
    from grpc import Compression as GrpcCompression
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    credentials = None
    plain = insecure or endpoint.startswith("http://")
    if plain:  # insecure gRPC is plaintext; the SDK would take https:// to mean TLS
        endpoint = endpoint.split("://", 1)[-1]
    else:
        import grpc
        root = None
        if certificate:
            try:
                with open(certificate, "rb") as handle:
                    root = handle.read()
            except OSError as error:
                raise ExportFailed("cannot read certificate %s: %s"
                                   % (certificate, error.strerror or error)) from None
        credentials = grpc.ssl_channel_credentials(root_certificates=root)
    # The SDK retries within one deadline of ``timeout`` seconds, so a collector
    # that never answers costs at most the export timeout.
    return OTLPSpanExporter(
        endpoint=endpoint, insecure=plain, credentials=credentials,
        headers=tuple((k.lower(), v) for k, v in headers.items()), timeout=timeout_s,
        compression=GrpcCompression.Gzip if compression == "gzip" else GrpcCompression.NoCompression)


class ExportFailed(Exception):
    """A destination could not be sent to (the reason holds no secret)."""


class Sender:
    """An SDK exporter and a converter for one destination; ``send`` is True on success."""

    def __init__(self, dest: dict, headers: dict, timeout_s: float):
        self.messages = _Messages(headers.values())
        try:
            self.exporter = open_exporter(dest, headers, timeout_s, self.messages.note)
        except ExportFailed:
            self.messages.close()
            raise
        except Exception as error:
            self.messages.close()
            raise ExportFailed(self.messages.scrub("cannot set up the exporter: %s" % error)) from None
        self.converter = SpanConverter()
        self.failure = None

    def send(self, spans) -> bool:
        """Export SDK spans (``self.converter.convert_all(records)``)."""
        from opentelemetry.sdk.trace.export import SpanExportResult
        try:
            result = self.exporter.export(spans)
        except Exception as error:  # a bad record or an SDK bug: keep the files, say why
            self.failure = self.messages.scrub("%s: %s" % (type(error).__name__, error))
            return False
        if result is SpanExportResult.SUCCESS:
            self.messages.lines.clear()
            return True
        self.failure = self.messages.reason()
        return False

    def close(self):
        try:
            self.exporter.shutdown()
        except Exception:
            pass
        self.messages.close()
