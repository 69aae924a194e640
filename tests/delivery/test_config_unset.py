"""config.resolve with nothing set gives the defaults without loading ``settings``, and
exactly what the full reading (``settings.read``) would give; anything set is read in full."""
import subprocess
import sys

import pytest

from conftest import ROOT
from traceexec.delivery import config, settings

PLAIN = {"HOME": "/nowhere/ana", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TERM": "xterm",
         "OTEL": "x", "MY_OTEL_ENDPOINT": "c:1", "TRACEEXEC_MAKE_DIR": "/tmp/m"}


def described(cfg) -> dict:
    return dict(vars(cfg), exporter=cfg.exporter, is_local=cfg.is_local, described=repr(cfg))


@pytest.mark.parametrize("environ", [
    {}, PLAIN, dict(PLAIN, TRACEEXEC_HOME="/var/spans"), dict(PLAIN, XDG_STATE_HOME="/st"),
    dict(PLAIN, TRACEEXEC_HOME="relative/home")], ids=["empty", "plain", "home", "xdg", "rel"])
def test_nothing_set_gives_what_the_full_reading_gives(environ):
    assert config.is_unset({}, None, environ) and config.is_unset(None, {}, environ)
    assert config.is_unset(None, {"enabled": False, "endpoint": "c:1"}, environ)
    assert described(config.resolve({}, None, environ)) == \
        described(settings.read({}, None, environ))


@pytest.mark.parametrize("flags,otel,environ", [
    ({"endpoint": "c:4317"}, None, {}),
    ({"service": "s"}, None, {}),
    ({}, {"enabled": True, "endpoint": "http://c:4318"}, {}),
    ({}, {"enabled": True}, {}),
    ({}, None, {"OTEL_SERVICE_NAME": "svc"}),
    ({}, None, {"OTEL_SERVICE_NAME": ""}),
    ({}, None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "bad endpoint"}),
    ({}, None, {"OTEL_EXPORTER_OTLP_TIMEOUT": "-5"}),
    ({}, None, {"OTEL_TRACES_EXPORTER": "none"}),
    ({}, None, {"OTEL_RESOURCE_ATTRIBUTES": "a=1,b"}),
    ({}, None, {"TRACEEXEC_WAIT": "maybe"}),
    ({}, None, {"TRACEEXEC_KEEP_LOCAL": "yes"}),
    ({}, None, {"TRACEEXEC_WARN_INTERVAL": "soon"}),
])
def test_anything_set_is_read_in_full(flags, otel, environ):
    assert not config.is_unset(flags, otel, environ)
    assert described(config.resolve(flags, otel, environ)) == \
        described(settings.read(flags, otel, environ))


def test_the_names_of_settings_are_found_in_config():
    for name in ("parse_duration", "Reader", "endpoint_protocol", "is_true", "as_variables",
                 "split_userinfo", "parse_key_values", "clean_headers", "client_tls"):
        assert getattr(config, name) is getattr(settings, name)
    from traceexec.delivery.config import parse_duration
    assert parse_duration("2m") == 120.0
    with pytest.raises(AttributeError):
        config.no_such_name  # noqa: B018


PROBE = """
import sys
from traceexec.delivery import config
cfg = config.resolve({}, None, {"HOME": "/nowhere", "PATH": "/bin"})
print(cfg.home, "traceexec.delivery.settings" in sys.modules)
cfg = config.resolve({}, None, {"HOME": "/nowhere", "OTEL_SERVICE_NAME": "s"})
print(cfg.service, "traceexec.delivery.settings" in sys.modules)
"""


def test_settings_is_loaded_only_when_something_is_set():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["/nowhere/.local/state/traceexec False", "s True"]
