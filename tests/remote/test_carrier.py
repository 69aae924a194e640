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
