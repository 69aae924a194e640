"""traceexec.remote.dagstep: Dagu's ssh executor config, read in both schemas, and the
ssh command a step's process becomes.  Bad configs through the real binary."""

import re

import pytest

from conftest import run_traceexec
from traceexec.remote import carrier, dagstep


def read(config, v1=False):
    problems = []
    target = dagstep.read(config, v1, lambda message, key: problems.append((message, key)))
    return target, problems


@pytest.mark.parametrize("config,v1,options", [
    ({"user": "root", "ip": "10.0.0.5", "port": 2222, "key": "k"}, True,
     ["-l", "root", "-p", "2222", "-i", "k", "--", "10.0.0.5"]),
    ({"IP": "h", "StrictHostKeyChecking": False}, True,
     ["-o", "StrictHostKeyChecking=no", "--", "h"]),
    ({"host": "h", "known_host_file": "kh", "timeout": "1m30s"}, False,
     ["-o", "UserKnownHostsFile=kh", "-o", "ConnectTimeout=90", "--", "h"]),
    ({"ip": "h", "bastion": {"host": "jump", "user": "u", "port": 22}}, False,
     ["-J", "u@jump:22", "--", "h"]),
])
def test_config_becomes_ssh_options(config, v1, options):
    target, problems = read(config, v1)
    assert problems == []
    assert target.options() == ["-o", "BatchMode=yes"] + options


@pytest.mark.parametrize("config,v1,problem,key", [
    ({"host": "h", "password": "secret"}, False, "password is not supported", "password"),
    ({"host": "h", "strict_host_key": "yes"}, False, "must be true or false",
     "strict_host_key"),
    ({"host": "h", "port": "22; rm"}, False, "port must be a number", "port"),
    ({"host": "h", "timeout": "soon"}, False, "not a duration", "timeout"),
    ({"host": "h", "known_host_file": "kh"}, True, "unknown key", "known_host_file"),
    ({"user": "u"}, False, "no host", None),
])
def test_bad_configs_name_the_key(config, v1, problem, key):
    _, problems = read(config, v1)
    assert len(problems) == 1 and problem in problems[0][0] and problems[0][1] == key
    assert "secret" not in problems[0][0]


def test_a_shell_line_goes_as_the_line_and_words_go_quoted(tmp_path):
    target, _ = read({"host": "h"})
    env = {"TRACEPARENT": "00-%s-%s-01" % ("a" * 32, "b" * 16),
           "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    shell_argv = ["/bin/sh", "-e", "-c", "echo $HOME | wc", "dag", "p1"]
    argv = dagstep.remote_argv(target, shell_argv, env, ["/bin/sh"], ["dag", "p1"])
    assert argv[-1] == carrier.remote_line(["echo $HOME | wc"], env, settings=True)
    assert argv[3:5] == ["--settings", "ssh"]  # the collector's settings go on stdin
    words = dagstep.remote_argv(target, ["printf", "%s", "a b"], env, ["/bin/sh"], ["dag"])
    assert words[-1] == carrier.remote_line(["printf %s 'a b'"], env, settings=True)
    target.shell = ["bash", "-o", "pipefail"]
    argv = dagstep.remote_argv(target, shell_argv, env, ["/bin/sh"], ["dag", "p1"])
    assert argv[-1] == carrier.remote_line(["bash -o pipefail -c 'echo $HOME | wc'"], env,
                                           settings=True)


def test_bad_ssh_steps_are_one_line_each_with_file_and_line(tmp_path, env):
    dag = tmp_path / "bad.yaml"
    dag.write_text("steps:\n"
                   "  - name: a\n    type: ssh\n    with:\n      host: h\n"
                   "      password: hunter2\n    command: uptime\n"
                   "  - name: b\n    command: x\n    with: {a: 1}\n"
                   "  - name: c\n    type: ssh\n    script: echo\n    with: {host: h}\n")
    done = run_traceexec(["validate", str(dag)], env)
    lines = done.stderr.decode().splitlines()
    assert done.returncode == 2
    assert [re.search(r"bad\.yaml:(\d+): ", line).group(1) for line in lines] == [
        "6", "10", "13"], lines
    assert "hunter2" not in done.stderr.decode()
    assert "Traceback" not in done.stderr.decode()


def test_with_no_collector_the_step_runs_ssh_through_homecoming():
    target, _ = read({"host": "h"})
    env = {"TRACEPARENT": "00-%s-%s-01" % ("a" * 32, "b" * 16)}
    argv = dagstep.remote_argv(target, ["true"], env)
    assert argv[1:3] == ["-m", "traceexec.remote.homecoming"]
    assert argv[3:7] == ["--fetch", "2", "h", "ssh"]  # a cut: ssh -o BatchMode=yes -- h
    assert argv[7:11] == ["-o", "BatchMode=yes", "--", "h"]
    assert argv[-1] == carrier.remote_line(["true"], env, homecoming=True)
