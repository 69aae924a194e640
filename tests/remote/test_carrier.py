"""traceexec.remote.carrier: the remote command line, run here by a real sh as
sshd would run it (the login shell's ``-c``), with no traceexec on PATH."""

import shlex
import subprocess

import pytest

from traceexec.remote import carrier

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRICKY = [
    "echo plain",
    "echo \"$0\" '$(touch pwned)' `echo tick` ; echo two",
    "printf '%s\\n' 'it'\"'\"'s' \"a  b\"",
    "for i in 1 2; do echo $i; done\necho newline",
    "exit 7",
]


def run_remote(line, home, environ=None):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "SHELL": "/bin/sh"}
    env.update(environ or {})
    return subprocess.run(["/bin/sh", "-c", line], env=env, cwd=home, capture_output=True,
                          text=True, timeout=30)


@pytest.mark.parametrize("command", TRICKY)
def test_the_command_runs_as_ssh_would_run_it(tmp_path, command):
    line = carrier.remote_line([command], {"TRACEPARENT": TRACEPARENT})
    got = run_remote(line, tmp_path)
    want = run_remote(command, tmp_path)
    assert (got.returncode, got.stdout, got.stderr) == (want.returncode, want.stdout,
                                                        want.stderr)
    assert not (tmp_path / "pwned").exists()


def test_context_values_reach_the_command_unchanged_and_never_run(tmp_path):
    context = {"TRACEPARENT": TRACEPARENT,
               "TRACESTATE": "vendor=a'b$(touch pwned),other=`x`;y",
               "BAGGAGE": "user=%27 ;x; $(touch pwned)"}
    line = carrier.remote_line(['printf "%s|" "$TRACEPARENT" "$TRACESTATE" "$BAGGAGE"'],
                               context)
    got = run_remote(line, tmp_path)
    assert got.stdout == "|".join(context[name] for name in carrier.CARRIED) + "|"
    assert not (tmp_path / "pwned").exists()


def test_words_are_joined_as_ssh_joins_them(tmp_path):
    line = carrier.remote_line(["echo", "a", "b;", "echo", "c"], {"TRACEPARENT": TRACEPARENT})
    assert run_remote(line, tmp_path).stdout == "a b\nc\n"


def test_unset_variables_are_not_written(tmp_path):
    line = carrier.remote_line(["true"], {"TRACEPARENT": TRACEPARENT, "BAGGAGE": ""})
    assert "BAGGAGE" not in line and "TRACESTATE" not in line
    assert shlex.split(line)[2] == "TRACEPARENT=" + TRACEPARENT


@pytest.mark.parametrize("shell", ["/bin/sh", "/bin/bash"])
def test_settings_come_first_on_stdin_and_the_command_gets_the_rest_intact(tmp_path, shell):
    settings = (b"OTEL_EXPORTER_OTLP_TRACES_HEADERS=a=$(touch pwned)`x`;'\"  \n"
                b"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://c:4318/v1/traces\n"
                b"PATH=/nowhere\nOTEL_EXPORTER_OTLP_TRACES_ENDPOINTX=no\nLD_PRELOAD=x\n\n")
    payload = bytes(range(256)) * 40 + b"\n\nend"
    line = carrier.remote_line(['env | grep -a "^OTEL_\\|^PATH=\\|^LD_" | sort >&2; cat'],
                               {"TRACEPARENT": TRACEPARENT}, settings=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SHELL": shell,
           "OTEL_EXPORTER_OTLP_ENDPOINT": "http://remote-own:4318",
           "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}
    done = subprocess.run([shell, "-c", line], env=env, cwd=tmp_path, input=settings + payload,
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout == payload
    assert done.stderr.decode().splitlines() == [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://c:4318/v1/traces",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS=a=$(touch pwned)`x`;'\"  ",
        "PATH=/usr/bin:/bin"]
    assert not (tmp_path / "pwned").exists()


def test_without_settings_stdin_is_left_alone(tmp_path):
    line = carrier.remote_line(["cat"], {"TRACEPARENT": TRACEPARENT})
    done = subprocess.run(["/bin/sh", "-c", line], input=b"A=b\n\nrest", capture_output=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=30)
    assert done.stdout == b"A=b\n\nrest"
