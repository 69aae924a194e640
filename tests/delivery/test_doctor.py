"""doctor's reading of an endpoint: the host it resolves, the port it connects to, TLS or not."""
import pytest

from traceexec.delivery.config import ExportConfig
from traceexec.delivery.doctor import host_port


@pytest.mark.parametrize("endpoint, insecure, expected", [
    ("http://collector:4318/v1/traces", False, ("collector", 4318, False)),
    ("https://collector/v1/traces", False, ("collector", 443, True)),
    ("http://collector/v1/traces", False, ("collector", 80, False)),
    ("https://[::1]:4318/v1/traces", False, ("::1", 4318, True)),
    ("https://[::1]/v1/traces", False, ("::1", 443, True)),
    ("http://ana:s3cret@collector:4318/v1/traces", False, ("collector", 4318, False)),
    ("collector:4317", False, ("collector", 4317, True)),
    ("collector:4317", True, ("collector", 4317, False)),
    ("[::1]:4317", True, ("::1", 4317, False)),
])
def test_host_port_of_urls_and_grpc_endpoints(endpoint, insecure, expected):
    assert host_port(ExportConfig(endpoint=endpoint, insecure=insecure)) == expected
