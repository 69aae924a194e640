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


def test_bad_header_item_is_left_out_alone_and_never_shown():
    cfg = config.resolve({}, None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "c:1",
                                     "OTEL_EXPORTER_OTLP_HEADERS": "tokens3cr3t,x-team=data"})
    assert cfg.headers == {"x-team": "data"} and cfg.endpoint == "c:1"
    assert len(cfg.problems) == 1 and "OTEL_EXPORTER_OTLP_HEADERS" in cfg.problems[0]
    assert "s3cr3t" not in repr(cfg.problems)


@pytest.mark.parametrize("environ", [
    {"OTEL_TRACES_EXPORTER": "none"}, {"OTEL_SDK_DISABLED": "true"},
    {"OTEL_SDK_DISABLED": "TRUE"}, {"OTEL_TRACES_EXPORTER": " None "}])
def test_export_switched_off(environ):
    assert config.resolve({}, None, environ).exporter == "none"


@pytest.mark.parametrize("endpoint", ["nohostport", "host:", ":4317", "host:99999", "http://",
                                      "host:12/x"])
def test_invalid_endpoints(endpoint):
    with pytest.raises(ConfigError) as info:
        config.endpoint_protocol(endpoint, "--endpoint")
    assert "endpoint" in str(info.value)


ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"

# The OTel SDK environment-variable specification, one case per variable and value
# class: (environment, attribute, expected value, the variable a warning names or None).
SPEC = [
    ({"OTEL_SDK_DISABLED": "true"}, "exporters", (), None),
    ({"OTEL_SDK_DISABLED": "false"}, "exporters", ("otlp",), None),
    ({"OTEL_SDK_DISABLED": "1"}, "exporters", ("otlp",), "OTEL_SDK_DISABLED"),
    ({"OTEL_SDK_DISABLED": "yes"}, "exporters", ("otlp",), "OTEL_SDK_DISABLED"),
    ({"OTEL_SDK_DISABLED": ""}, "exporters", ("otlp",), None),
    ({"OTEL_TRACES_EXPORTER": "otlp,console"}, "exporters", ("otlp", "console"), None),
    ({"OTEL_TRACES_EXPORTER": "console"}, "exporters", ("console",), None),
    ({"OTEL_TRACES_EXPORTER": "traceexec"}, "exporters", ("otlp",), None),
    ({"OTEL_TRACES_EXPORTER": "zipkin"}, "exporters", ("otlp",), "OTEL_TRACES_EXPORTER"),
    ({"OTEL_TRACES_EXPORTER": "zipkin,console"}, "exporters", ("console",),
     "OTEL_TRACES_EXPORTER"),
    ({"OTEL_TRACES_EXPORTER": "none,console"}, "exporters", ("console",),
     "OTEL_TRACES_EXPORTER"),
    ({ENDPOINT: "http://c:4318"}, "endpoint", "http://c:4318/v1/traces", None),
    ({ENDPOINT: "http://c:4318#frag"}, "endpoint", None, ENDPOINT),
    ({ENDPOINT: "http://c:4318/?x=1"}, "endpoint", None, ENDPOINT),
    ({ENDPOINT: "http://c:99999"}, "endpoint", None, ENDPOINT),
    ({ENDPOINT: "http://c:"}, "endpoint", None, ENDPOINT),
    ({ENDPOINT: "ftp://c:21"}, "endpoint", None, ENDPOINT),
    ({ENDPOINT: "ana:pw@c:4317"}, "endpoint", None, ENDPOINT),
    ({ENDPOINT: "http://[::1]:4318"}, "endpoint", "http://[::1]:4318/v1/traces", None),
    ({TRACES_ENDPOINT: "bad endpoint", ENDPOINT: "g:2"}, "endpoint", "g:2", TRACES_ENDPOINT),
    ({ENDPOINT: "c:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "protocol", config.HTTP,
     "OTEL_EXPORTER_OTLP_PROTOCOL"),
    ({ENDPOINT: "c:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"}, "protocol",
     config.GRPC, "OTEL_EXPORTER_OTLP_PROTOCOL"),
    ({ENDPOINT: "http://c:1", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
      "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, "protocol", config.GRPC, None),
    ({"OTEL_EXPORTER_OTLP_TIMEOUT": "2500"}, "timeout_s", 2.5, None),
    ({"OTEL_EXPORTER_OTLP_TIMEOUT": "soon"}, "timeout_s", 10.0, "OTEL_EXPORTER_OTLP_TIMEOUT"),
    ({"OTEL_EXPORTER_OTLP_TIMEOUT": "-5"}, "timeout_s", 10.0, "OTEL_EXPORTER_OTLP_TIMEOUT"),
    ({"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "100", "OTEL_EXPORTER_OTLP_TIMEOUT": "9000"},
     "timeout_s", 0.1, None),
    ({"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"}, "compression", "gzip", None),
    ({"OTEL_EXPORTER_OTLP_COMPRESSION": "GZIP"}, "compression", "gzip", None),
    ({"OTEL_EXPORTER_OTLP_COMPRESSION": "none"}, "compression", None, None),
    ({"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, "compression", None,
     "OTEL_EXPORTER_OTLP_COMPRESSION"),
    ({ENDPOINT: "c.example:1", "OTEL_EXPORTER_OTLP_INSECURE": "true"}, "insecure", True, None),
    ({ENDPOINT: "c.example:1", "OTEL_EXPORTER_OTLP_INSECURE": "True"}, "insecure", True, None),
    ({ENDPOINT: "c.example:1", "OTEL_EXPORTER_OTLP_INSECURE": "1"}, "insecure", False,
     "OTEL_EXPORTER_OTLP_INSECURE"),
    ({ENDPOINT: "c.example:1", "OTEL_EXPORTER_OTLP_INSECURE": "on"}, "insecure", False,
     "OTEL_EXPORTER_OTLP_INSECURE"),
    ({"OTEL_EXPORTER_OTLP_HEADERS": "a=1,b=x%20y"}, "headers", {"a": "1", "b": "x y"}, None),
    ({"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "a=2", "OTEL_EXPORTER_OTLP_HEADERS": "a=1"},
     "headers", {"a": "2"}, None),
    ({"OTEL_EXPORTER_OTLP_HEADERS": "a=1,broken"}, "headers", {"a": "1"},
     "OTEL_EXPORTER_OTLP_HEADERS"),
    ({"OTEL_EXPORTER_OTLP_HEADERS": "bad name=1,a=1"}, "headers", {"a": "1"}, "bad name"),
    ({"OTEL_RESOURCE_ATTRIBUTES": "team=data,env=prod"}, "resource",
     {"team": "data", "env": "prod", "service.name": "traceexec"}, None),
    ({"OTEL_RESOURCE_ATTRIBUTES": "team=data,broken"}, "resource",
     {"service.name": "traceexec"}, "OTEL_RESOURCE_ATTRIBUTES"),
    ({"OTEL_SERVICE_NAME": "svc", "OTEL_RESOURCE_ATTRIBUTES": "service.name=res"}, "service",
     "svc", None),
    ({"OTEL_SERVICE_NAME": "  "}, "service", "traceexec", None),
    ({"TRACEEXEC_KEEP_LOCAL": "true"}, "keep_local", True, None),
    ({"TRACEEXEC_KEEP_LOCAL": "yes"}, "keep_local", True, None),
    ({"TRACEEXEC_KEEP_LOCAL": "0"}, "keep_local", False, None),
    ({"TRACEEXEC_KEEP_LOCAL": "maybe"}, "keep_local", False, "TRACEEXEC_KEEP_LOCAL"),
    ({"TRACEEXEC_WAIT": "TRUE"}, "wait", True, None),
]


@pytest.mark.parametrize("environ,attribute,expected,warned", SPEC)
def test_specification_table(environ, attribute, expected, warned):
    cfg = config.resolve({}, None, environ)
    assert getattr(cfg, attribute) == expected
    if warned is None:
        assert cfg.problems == []
    else:
        assert len(cfg.problems) == 1 and warned in cfg.problems[0], cfg.problems


def test_one_bad_value_keeps_every_other_setting():
    environ = {ENDPOINT: "http://c:4318", "OTEL_EXPORTER_OTLP_TIMEOUT": "soon",
               "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20t",
               "OTEL_RESOURCE_ATTRIBUTES": "broken", "OTEL_SERVICE_NAME": "svc",
               "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"}
    cfg = config.resolve({}, None, environ)
    assert cfg.endpoint == "http://c:4318/v1/traces" and cfg.headers == {
        "authorization": "Bearer t"}
    assert (cfg.service, cfg.compression, cfg.timeout_s) == ("svc", "gzip", 10.0)
    assert len(cfg.problems) == 2


def test_flags_win_over_variables_and_bad_variables_do_not_matter():
    environ = {ENDPOINT: "http://env:4318#bad", "OTEL_EXPORTER_OTLP_TIMEOUT": "soon"}
    cfg = config.resolve({"endpoint": "127.0.0.1:9", "export_timeout": 3.0}, None, environ)
    assert (cfg.endpoint, cfg.timeout_s, cfg.problems) == ("127.0.0.1:9", 3.0, [])


def test_userinfo_becomes_basic_authorization_and_leaves_the_endpoint():
    cfg = config.resolve({}, None, {ENDPOINT: "https://ana:pa%40ss@c.example:4318"})
    assert cfg.endpoint == "https://c.example:4318/v1/traces"
    import base64
    assert cfg.headers == {"Authorization": "Basic " + base64.b64encode(b"ana:pa@ss").decode()}
    assert "pa%40ss" not in repr(cfg) and "ana" not in repr(cfg)


def test_url_problems_never_show_the_password():
    cfg = config.resolve({}, None, {ENDPOINT: "https://ana:s3cr3t@c:99999/x"})
    assert cfg.endpoint is None and "s3cr3t" not in repr(cfg.problems), cfg.problems


def test_home_defaults_to_xdg_state():
    assert config.default_home({"HOME": "/h"}) == "/h/.local/state/traceexec"
    assert config.default_home({"XDG_STATE_HOME": "/s"}) == "/s/traceexec"
    assert config.default_home({"TRACEEXEC_HOME": "/t", "XDG_STATE_HOME": "/s"}) == "/t"


def test_relative_home_is_resolved_against_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert config.default_home({"TRACEEXEC_HOME": ".traceexec"}) == str(tmp_path / ".traceexec")


def test_protocol_variable_applies_to_the_flag_endpoint():
    environ = {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    cfg = config.resolve({"endpoint": "https://collector:4317"}, None, environ)
    assert (cfg.endpoint, cfg.protocol) == ("https://collector:4317", config.GRPC)


@pytest.mark.parametrize("environ,expected,warned", [
    ({}, None, False),
    ({"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "4"}, {"value_length": 4}, False),
    ({"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "2", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "9"},
     {"value_length": 2}, False),
    ({"OTEL_ATTRIBUTE_COUNT_LIMIT": "3"},
     {"attribute_count": 3, "event_attribute_count": 3, "link_attribute_count": 3}, False),
    ({"OTEL_SPAN_EVENT_COUNT_LIMIT": "0"}, {"event_count": 0}, False),
    ({"OTEL_SPAN_LINK_COUNT_LIMIT": "-1"}, None, True),
    ({"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "many", "OTEL_ATTRIBUTE_COUNT_LIMIT": "5"},
     {"attribute_count": 5, "event_attribute_count": 5, "link_attribute_count": 5}, True),
])
def test_span_limit_variables(environ, expected, warned):
    cfg = config.resolve({}, None, environ)
    if expected is None:
        assert cfg.span_limits is None
    else:
        got = {k: v for k, v in vars(cfg.span_limits).items() if v is not None}
        assert got == expected
    assert bool(cfg.problems) is warned


def test_span_limits_cut_attributes_events_and_links():
    from traceexec.delivery.spanlimits import SpanLimits
    record = {"attributes": {"a": "abcdef", "b": ["xyz12", 3], "c": True},
              "events": [{"name": "e%d" % i, "time_ns": i, "attributes": {"k": "long value"}}
                         for i in range(3)],
              "links": [{"trace_id": "t", "span_id": "s", "attributes": {"x": 1, "y": 2}}]}
    (out,) = SpanLimits(value_length=2, attribute_count=2, event_count=1,
                        link_attribute_count=1).apply([record])
    assert out["attributes"] == {"a": "ab", "b": ["xy", 3]}
    assert out["events"] == [{"name": "e0", "time_ns": 0, "attributes": {"k": "lo"}}]
    assert out["links"][0]["attributes"] == {"x": 1}
    assert record["attributes"]["a"] == "abcdef"  # the original is not changed
