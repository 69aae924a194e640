"""Both OTLP clients read their certificates when they are made, and say which one they
could not read in their own error type (``TlsSettings.check``)."""
import pytest

from traceexec.delivery.grpcclient import GrpcClient, GrpcSetupError
from traceexec.delivery.httpclient import HttpClient, HttpError
from traceexec.delivery.transport import TlsSettings


def _clients(tls):
    return (lambda: HttpClient("https://collector.invalid:4318/v1/traces", tls=tls),
            HttpError), \
        (lambda: GrpcClient("https://collector.invalid:4317", tls=tls), GrpcSetupError)


@pytest.mark.parametrize("which", [0, 1], ids=["http", "grpc"])
def test_a_certificate_that_cannot_be_read_fails_when_the_client_is_made(tmp_path, which):
    missing = str(tmp_path / "no-such-ca.pem")
    make, error_type = _clients(TlsSettings(missing))[which]
    with pytest.raises(error_type) as raised:
        make()
    assert str(raised.value).startswith("cannot read certificate %s: " % missing)


@pytest.mark.parametrize("which", [0, 1], ids=["http", "grpc"])
def test_a_client_key_without_its_certificate_fails_when_the_client_is_made(tmp_path, which):
    make, error_type = _clients(TlsSettings(client_key=str(tmp_path / "key.pem")))[which]
    with pytest.raises(error_type, match="^a client key without a client certificate$"):
        make()


@pytest.mark.parametrize("which", [0, 1], ids=["http", "grpc"])
def test_readable_settings_make_a_client_without_connecting(which):
    make, _ = _clients(TlsSettings())[which]
    assert make().tls is not None
