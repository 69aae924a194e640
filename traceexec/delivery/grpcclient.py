"""OTLP/gRPC: one unary ``TraceService/Export`` call with bytes in and out.

grpcio carries the call; the request is the exporter's concatenated spool
bodies, already an encoded ExportTraceServiceRequest, so there are no
serializers (bytes pass through) and no protobuf or SDK import.
"""

import os

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
NAMES = {0: "OK", 1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED",
         5: "NOT_FOUND", 6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED",
         9: "FAILED_PRECONDITION", 10: "ABORTED", 11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED",
         13: "INTERNAL", 14: "UNAVAILABLE", 15: "DATA_LOSS", 16: "UNAUTHENTICATED"}


class GrpcSetupError(Exception):
    """The channel could not be made (a certificate that cannot be read)."""


class GrpcClient:
    """A channel to one OTLP/gRPC endpoint; ``export`` returns (code, details, retry_info, body)."""

    def __init__(self, endpoint: str, *, certificate=None, insecure=False, gzip=False):
        os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # our log says what failed, once
        import grpc
        from .. import __version__
        self._grpc = grpc
        plain = insecure or endpoint.startswith("http://")
        target = endpoint.split("://", 1)[-1].rstrip("/")
        options = [("grpc.primary_user_agent", "traceexec/%s" % __version__),
                   ("grpc.max_receive_message_length", 16 * 1024 * 1024)]
        if plain:
            self.channel = grpc.insecure_channel(target, options=options)
        else:
            root = None
            if certificate:
                try:
                    with open(certificate, "rb") as handle:
                        root = handle.read()
                except OSError as error:
                    raise GrpcSetupError("cannot read certificate %s: %s" % (
                        certificate, error.strerror or error)) from None
            self.channel = grpc.secure_channel(
                target, grpc.ssl_channel_credentials(root_certificates=root), options=options)
        self.call = self.channel.unary_unary(EXPORT)
        self.compression = grpc.Compression.Gzip if gzip else None

    def export(self, request: bytes, metadata: tuple, timeout_s: float) -> tuple:
        """(status code number, details, whether the server sent retry information, reply)."""
        return self.submit(request, metadata, timeout_s)()

    def submit(self, request: bytes, metadata: tuple, timeout_s: float):
        """Start the call; returns a function that waits for it and gives what ``export`` does.
        Several calls in flight hide the collector's latency (one round trip per request)."""
        grpc = self._grpc
        future = self.call.future(request, timeout=timeout_s, metadata=metadata,
                                  compression=self.compression)

        def result() -> tuple:
            try:
                return 0, "", False, future.result()
            except grpc.RpcError as error:
                code = error.code() if hasattr(error, "code") else None
                number = code.value[0] if code is not None else 2
                trailing = (error.trailing_metadata() if hasattr(error, "trailing_metadata")
                            else None) or ()
                retry = any(key == "grpc-status-details-bin" for key, _ in trailing)
                details = (error.details() if hasattr(error, "details") else "") or ""
                return number, details, retry, b""
        return result

    def close(self):
        self.channel.close()
