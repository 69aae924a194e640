"""Export settings: endpoint forms, precedence, secrets."""
import pytest

from traceexec.delivery import config
from traceexec.errors import ConfigError


@pytest.mark.parametrize("text,seconds", [
    ("500ms", 0.5), ("30s", 30), ("5m", 300), ("1h", 3600), ("2", 2), ("1.5s", 1.5), (3, 3)])
def test_durations(text, seconds):
    assert config.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "5x", "-1s", "nan", "inf", "1 day"])
def test_bad_durations(text):
    with pytest.raises(ConfigError):
        config.parse_duration(text)


@pytest.mark.parametrize("environ,endpoint,protocol", [
    ({}, None, None),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4317"}, "localhost:4317", config.GRPC),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, "http://c:4318/v1/traces", config.HTTP),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}, "http://c:4318/v1/traces", config.HTTP),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c/otlp"}, "https://c/otlp/v1/traces", config.HTTP),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/custom"}, "http://c:4318/custom",
     config.HTTP),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
     "http://c:4317", config.GRPC),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
     "http://c:4318/v1/traces", config.HTTP),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "t:1", "OTEL_EXPORTER_OTLP_ENDPOINT": "g:2"},
     "t:1", config.GRPC),
])
def test_endpoint_and_protocol_from_environment(environ, endpoint, protocol):
    cfg = config.resolve({}, None, environ)
    assert (cfg.endpoint, cfg.protocol) == (endpoint, protocol)


def test_flag_beats_otel_block_beats_environment():
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "env:1", "OTEL_SERVICE_NAME": "from-env"}
    otel = {"enabled": True, "endpoint": "http://block:4318/v1/traces", "timeout": "3s",
            "resource": {"team": "data"}}
    assert config.resolve({}, otel, environ).endpoint == "http://block:4318/v1/traces"
    assert config.resolve({"endpoint": "flag:9"}, otel, environ).endpoint == "flag:9"
    assert config.resolve({}, dict(otel, enabled=False), environ).endpoint == "env:1"
    cfg = config.resolve({}, otel, environ)
    assert cfg.timeout_s == 3.0 and cfg.resource["team"] == "data"
    assert cfg.service == "from-env"


def test_service_name_order():
    assert config.resolve({}, None, {}).service == "traceexec"
    env = {"OTEL_RESOURCE_ATTRIBUTES": "service.name=res,deployment.environment=prod"}
    assert config.resolve({}, None, env).service == "res"
    env["OTEL_SERVICE_NAME"] = "svc"
    cfg = config.resolve({}, None, env)
    assert cfg.service == "svc" and cfg.resource["deployment.environment"] == "prod"
    assert config.resolve({"service": "flag"}, None, env).resource["service.name"] == "flag"


def test_tls_default_and_loopback_exception():
    assert not config.resolve({"endpoint": "collector.example:4317"}, None, {}).insecure
    assert config.resolve({"endpoint": "localhost:4317"}, None, {}).insecure
    assert config.resolve({"endpoint": "c:4317", "insecure": True}, None, {}).insecure
    assert config.resolve({}, None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "c:1",
                                     "OTEL_EXPORTER_OTLP_INSECURE": "true"}).insecure


def test_headers_are_decoded_and_never_in_repr():
    cfg = config.resolve({}, None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "c:1",
                                     "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20s3cr3t,x=1"})
    assert cfg.headers == {"Authorization": "Bearer s3cr3t", "x": "1"}
    assert "s3cr3t" not in repr(cfg) and "s3cr3t" not in repr(cfg.describe())


def test_bad_header_item_error_does_not_echo_it():
    with pytest.raises(ConfigError) as info:
        config.resolve({}, None, {"OTEL_EXPORTER_OTLP_HEADERS": "tokens3cr3t"})
    assert "s3cr3t" not in str(info.value)


@pytest.mark.parametrize("environ", [
    {"OTEL_TRACES_EXPORTER": "none"}, {"OTEL_SDK_DISABLED": "true"}])
def test_export_switched_off(environ):
    assert config.resolve({}, None, environ).exporter == "none"


@pytest.mark.parametrize("endpoint", ["nohostport", "host:", ":4317", "host:99999", "http://",
                                      "host:12/x"])
def test_invalid_endpoints(endpoint):
    with pytest.raises(ConfigError) as info:
        config.resolve({"endpoint": endpoint}, None, {})
    assert "endpoint" in str(info.value)


def test_timeout_variable_is_milliseconds():
    assert config.resolve({}, None, {"OTEL_EXPORTER_OTLP_TIMEOUT": "2500"}).timeout_s == 2.5


def test_home_defaults_to_xdg_state():
    assert config.default_home({"HOME": "/h"}) == "/h/.local/state/traceexec"
    assert config.default_home({"XDG_STATE_HOME": "/s"}) == "/s/traceexec"
    assert config.default_home({"TRACEEXEC_HOME": "/t", "XDG_STATE_HOME": "/s"}) == "/t"


def test_protocol_variable_applies_to_the_flag_endpoint():
    environ = {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    cfg = config.resolve({"endpoint": "https://collector:4317"}, None, environ)
    assert (cfg.endpoint, cfg.protocol) == ("https://collector:4317", config.GRPC)
