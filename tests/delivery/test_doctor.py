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


@pytest.mark.parametrize("proxy", ["socks5://proxy:1080", "http://"])
def test_a_proxy_variable_it_cannot_use_is_a_failed_step_not_a_traceback(proxy):
    """A proxy the exporter refuses (another scheme, no address) is doctor's "proxy"
    step failing with the exporter's message; the steps after it are not run."""
    from traceexec.delivery.doctor import FAIL, _network
    lines = []
    cfg = ExportConfig(endpoint="https://collector.invalid:4318/v1/traces")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HTTPS_PROXY", proxy)
        patch.delenv("NO_PROXY", raising=False)
        patch.delenv("no_proxy", raising=False)
        _network(cfg, lambda level, step, detail: lines.append((level, step, detail)))
    assert len(lines) == 1
    level, step, detail = lines[0]
    assert (level, step) == (FAIL, "proxy")
    assert "proxy" in detail
