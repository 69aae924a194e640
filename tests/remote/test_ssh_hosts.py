"""``traceexec ssh`` against real hosts: network namespaces with veth, a real
OpenSSH server on each, host-key checking on (remote_site.py: host "a" exports
to ``traceexec serve`` on the local host, "b" has no traceexec, "c" and "d"
have it and nothing configured)."""

import os
import signal
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from conftest import TRACEEXEC, traceexec_env  # noqa: E402
from hosts import namespaces_refused  # noqa: E402
from remote_site import add_unconfigured, by_name, open_site, stored  # noqa: E402

REFUSED = namespaces_refused()
pytestmark = pytest.mark.skipif(bool(REFUSED), reason=REFUSED or "namespaces work")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with open_site(tmp_path_factory.mktemp("remote")) as opened:
        yield opened


def test_with_no_collector_remote_spans_come_home_into_the_local_store(site, tmp_path):
    from traceexec.store import local as store
    home = tmp_path / "home"
    home.mkdir()
    command = 'echo "$TRACEPARENT"; echo err-line >&2; printf no-newline >&2; exit 4'
    done = site.net.run(TRACEEXEC + ["ssh", "-F", site.net.ssh_config, site.c.address, command],
                        env=traceexec_env(home), capture_output=True, timeout=60)
    plain = site.plain_ssh(site.c, command)
    assert done.returncode == plain.returncode == 4
    assert done.stderr == plain.stderr.encode() == b"err-line\nno-newline"
    remote_traceparent = done.stdout.decode().strip()
    trace_id = remote_traceparent.split("-")[1]
    spans = by_name(store.read(str(home), trace_id))
    local, remote = spans["ssh " + site.c.address], spans["echo"]
    assert remote["parent_span_id"] == local["span_id"]
    assert remote["span_id"] == remote_traceparent.split("-")[2]
    assert remote["attributes"]["host.name"] == os.uname().nodename
    assert local["attributes"]["process.exit.code"] == 4
    assert isinstance(remote["attributes"]["traceexec.host.clock_offset_ms"], float)
    # a second session in the same trace brings only its own spans
    again = site.net.run(TRACEEXEC + ["ssh", "-F", site.net.ssh_config, site.c.address, "true"],
                         env=traceexec_env(home, TRACEPARENT="00-%s-%s-01" % (trace_id, "3" * 16)),
                         capture_output=True, timeout=60)
    assert again.returncode == 0, again.stderr
    names = sorted(r["name"] for r in store.read(str(home), trace_id))
    assert names == sorted(["echo", "ssh " + site.c.address, "true", "ssh " + site.c.address])


def test_remote_command_runs_under_traceexec_as_a_child_span(site):
    done = site.ssh(site.a, 'echo "$TRACEPARENT"; echo to-stderr >&2; exit 3')
    assert done.returncode == 3, done.stderr
    assert done.stderr == "to-stderr\n"
    remote_traceparent = done.stdout.strip()
    trace_id = remote_traceparent.split("-")[1]
    records = site.spans(trace_id, 2)
    spans = by_name(records)
    assert len(records) == 2, records
    local, remote = spans["ssh " + site.a.address], spans["echo"]  # the string's first word
    assert remote["parent_span_id"] == local["span_id"]
    assert remote_traceparent.split("-")[2] == remote["span_id"]
    assert remote["attributes"]["host.name"] == os.uname().nodename
    assert remote["attributes"]["process.exit.code"] == 3
    assert local["attributes"]["process.exit.code"] == 3
    assert local["attributes"]["server.address"] == site.a.address


def test_host_without_traceexec_runs_the_command_plainly(site):
    done = site.ssh(site.b, 'echo "$TRACEPARENT"; command -v traceexec || echo none')
    assert done.returncode == 0, done.stderr
    traceparent, none = done.stdout.split()
    assert none == "none"
    records = site.spans(traceparent.split("-")[1], 1)
    assert [r["span_id"] for r in records] == [traceparent.split("-")[2]]
    assert records[0]["name"] == "ssh " + site.b.address


@pytest.mark.parametrize("command", [
    ["echo", "$HOME", "'$(echo", "not", "run)'", ";", "echo", "two"],
    ["printf '%s\\n' \"a  b\" 'c'\"'\"'d'; exit 4"],
])
def test_output_and_status_are_what_plain_ssh_gives(site, command):
    for host in (site.a, site.b):
        got, want = site.ssh(host, *command), site.plain_ssh(host, *command)
        assert (got.returncode, got.stdout, got.stderr) == (want.returncode, want.stdout,
                                                            want.stderr)


def test_a_connection_cut_mid_command_fails_with_255_and_loses_no_span(site):
    step = site.net.popen(TRACEEXEC + ["ssh", "-F", site.net.ssh_config, site.a.address,
                                       'echo "$TRACEPARENT"; cat; echo after-cut'],
                          env=site.env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    traceparent = step.stdout.readline().strip()  # the remote command is running
    sessions = site.net.session_processes(site.a)
    assert sessions
    for pid in sessions:  # sshd's connection dies; the remote cat sees its input end
        os.kill(pid, signal.SIGKILL)
    step.wait(timeout=60)  # stdin still open: only the cut ends ssh
    out, err = step.communicate(timeout=60)
    assert step.returncode == 255, err
    assert "after-cut" not in out
    trace_id = traceparent.split("-")[1]
    records = site.spans(trace_id, 2)
    spans = by_name(records)
    local, remote = spans["ssh " + site.a.address], spans["echo"]
    assert local["attributes"]["process.exit.code"] == 255
    assert remote["parent_span_id"] == local["span_id"]


V2_DAG = """\
steps:
  - name: on-a
    type: ssh
    with: {host: %(a)s, user: root, key: %(key)s, known_host_file: %(known)s}
    command: echo "$TRACEPARENT" '$(not run)'
    stdout: %(out)s/a.out
  - name: on-b
    type: ssh
    with: {host: %(b)s, user: root, key: %(key)s, known_host_file: %(known)s, timeout: 30s}
    command: echo "$TRACEPARENT"; exit 5
    stdout: %(out)s/b.out
"""
V1_DAG = """\
steps:
  - name: on-a
    executor:
      type: ssh
      config: {user: root, ip: %(a)s, port: 22, key: %(key)s}
    command: uname -n
"""


def run_dag(site, tmp_path, text, trace_id, **extra):
    dag = tmp_path / "remote.yaml"
    dag.write_text(text % dict(a=site.a.address, b=site.b.address, out=tmp_path,
                               key=site.net.user_key, known=site.net.known_hosts))
    env = dict(site.env(), TRACEPARENT="00-%s-%s-01" % (trace_id, "1" * 16), **extra)
    return site.net.run(TRACEEXEC + ["run", str(dag)], env=env, capture_output=True,
                        text=True, timeout=120)


def test_v2_ssh_steps_join_the_dag_trace_on_both_hosts(site, tmp_path):
    trace_id = os.urandom(16).hex()
    done = run_dag(site, tmp_path, V2_DAG, trace_id)
    assert done.returncode == 1, done.stderr  # on-b exits 5
    records = site.spans(trace_id, 4)
    spans = by_name(records)
    assert set(spans) >= {"Step: on-a", "Step: on-b", "echo"}, (sorted(spans), done.stderr)
    step_a, step_b, remote = spans["Step: on-a"], spans["Step: on-b"], spans["echo"]
    assert remote["parent_span_id"] == step_a["span_id"]
    assert remote["attributes"]["host.name"] == os.uname().nodename
    a_out = (tmp_path / "a.out").read_text().split(" ", 1)
    assert a_out[0].split("-")[1:3] == [trace_id, remote["span_id"]]
    assert a_out[1] == "$(not run)\n"
    b_traceparent = (tmp_path / "b.out").read_text().strip()
    assert b_traceparent.split("-")[1:3] == [trace_id, step_b["span_id"]]
    assert step_b["attributes"]["process.exit.code"] == 5


def test_v1_ssh_executor_checks_the_host_key(site, tmp_path):
    """v1 has no known_host_file: ~/.ssh/known_hosts, which does not know the host
    here, so ssh refuses it (255); through an ssh client that reads the test's
    known_hosts (TRACEEXEC_SSH), the step runs."""
    trace_id = os.urandom(16).hex()
    refused = run_dag(site, tmp_path, V1_DAG, trace_id)
    assert refused.returncode == 1
    step = site.spans(trace_id, 2)
    assert by_name(step)["Step: on-a"]["attributes"]["process.exit.code"] == 255
    client = tmp_path / "ssh-with-known-hosts"
    client.write_text('#!/bin/sh\nexec ssh -o UserKnownHostsFile=%s "$@"\n'
                      % site.net.known_hosts)
    client.chmod(0o755)
    trace_id = os.urandom(16).hex()
    done = run_dag(site, tmp_path, V1_DAG, trace_id, TRACEEXEC_SSH=str(client))
    assert done.returncode == 0, done.stderr
    spans = by_name(site.spans(trace_id, 3))
    assert spans["uname"]["parent_span_id"] == spans["Step: on-a"]["span_id"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_traceexec_ssh_as_it_ends_plain_ssh(site, signum):
    statuses = []
    for argv in (["ssh"], TRACEEXEC + ["ssh"]):
        client = site.net.popen(argv + ["-F", site.net.ssh_config, site.b.address,
                                        "echo started; cat"],
                                env=site.env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        assert client.stdout.readline() == "started\n"
        client.send_signal(signum)
        statuses.append(client.wait(timeout=60))  # stdin still open: only the signal ends it
        client.communicate(timeout=60)
    assert statuses == [255, 255]


def test_a_dag_step_on_a_host_without_collector_brings_its_spans_home(site, tmp_path):
    from traceexec.store import local as store
    home = tmp_path / "home"
    home.mkdir()
    dag = tmp_path / "home-dag.yaml"
    dag.write_text("steps:\n  - name: on-c\n    type: ssh\n    with: {host: %s, user: root, "
                   "key: %s, known_host_file: %s}\n    command: uname -n >&2\n"
                   % (site.c.address, site.net.user_key, site.net.known_hosts))
    trace_id = os.urandom(16).hex()
    done = site.net.run(TRACEEXEC + ["run", str(dag)], capture_output=True, text=True,
                        env=traceexec_env(home, TRACEPARENT="00-%s-%s-01" % (trace_id, "4" * 16)),
                        timeout=120)
    assert done.returncode == 0, done.stderr
    spans = by_name(store.read(str(home), trace_id))
    assert spans["uname"]["parent_span_id"] == spans["Step: on-c"]["span_id"]
    assert spans["uname"]["attributes"]["host.name"] == os.uname().nodename


DEFAULTS_DAG = """\
ssh: {host: %(c)s, user: root, key: %(key)s, known_host_file: %(known)s}
steps:
  - name: untyped
    command: echo "$SSH_CONNECTION"
    stdout: %(out)s/untyped.out
  - name: typed
    type: ssh
    command: echo "$SSH_CONNECTION"
    stdout: %(out)s/typed.out
  - name: own-host
    type: ssh
    with: {host: %(a)s, user: root, key: %(key)s, known_host_file: %(known)s}
    command: echo "$SSH_CONNECTION"
    stdout: %(out)s/own.out
"""


def test_v2_dag_level_ssh_block_is_every_ssh_step_s_default(site, tmp_path):
    """Dagu 2.6.5: a step with no type runs over the DAG's ``ssh:``, as does ``type:
    ssh`` without ``with:``; a step's own ``with:`` replaces the block (Dagu does not
    merge the two)."""
    dag = tmp_path / "defaults.yaml"
    dag.write_text(DEFAULTS_DAG % dict(a=site.a.address, c=site.c.address, out=tmp_path,
                                       key=site.net.user_key, known=site.net.known_hosts))
    trace_id = os.urandom(16).hex()
    done = site.net.run(TRACEEXEC + ["run", str(dag)], capture_output=True, text=True,
                        env=dict(site.env(), TRACEPARENT="00-%s-%s-01" % (trace_id, "5" * 16)),
                        timeout=120)
    assert done.returncode == 0, done.stderr
    server = {name: (tmp_path / name).read_text().split()[2]
              for name in ("untyped.out", "typed.out", "own.out")}
    assert server == {"untyped.out": site.c.address, "typed.out": site.c.address,
                      "own.out": site.a.address}
    spans = by_name(site.spans(trace_id, 5))
    assert spans["echo"]["parent_span_id"] == spans["Step: own-host"]["span_id"]


def test_v2_dag_level_ssh_block_is_checked_with_file_and_line(tmp_path):
    dag = tmp_path / "bad.yaml"
    dag.write_text("ssh:\n  host: h\n  password: hunter2\nsteps:\n  - name: s\n"
                   "    command: true\n")
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(TRACEEXEC + ["validate", str(dag)], env=traceexec_env(home),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "bad.yaml:3: " in done.stderr, done.stderr
    assert "password is not supported" in done.stderr and "hunter2" not in done.stderr


def _argv_holding(secret: bytes) -> list:
    """The processes (on every host: the namespaces share this kernel's /proc) whose
    command line holds ``secret``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                if secret in handle.read():
                    found.append(pid)
        except OSError:
            continue
    return found


def _collected(path, trace_id, count):
    """The collector's spans of ``trace_id`` once ``count`` arrived (or 30 s passed)."""
    import json
    records = []
    for _ in range(600):
        text = path.read_text() if path.exists() else ""
        records = [json.loads(line) for line in text.splitlines()]
        records = [r for r in records if r["trace_id"] == trace_id]
        if len(records) >= count:
            break
        subprocess.run(["sleep", "0.05"])
    return records


@pytest.fixture
def collector(site, tmp_path):
    """An OTLP/HTTP collector on the local host, reachable from every remote host,
    that takes spans only with a bearer token: (its port, the token, its spans file)."""
    token = "tok-" + os.urandom(12).hex()
    (tmp_path / "token").write_text(token)
    spans = tmp_path / "collected.jsonl"
    proc = site.net.popen([sys.executable, os.path.join(os.path.dirname(__file__),
                                                        "auth_collector.py"),
                           "0.0.0.0:0", str(tmp_path / "token"), str(spans)],
                          stdout=subprocess.PIPE, text=True)
    try:
        yield int(proc.stdout.readline()), token, spans
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("name", ["c", "b"])
def test_with_a_collector_here_the_remote_traceexec_exports_to_it_token_in_no_argv(
        site, collector, tmp_path, name):
    """Host c has traceexec and nothing configured; b has no traceexec.  The endpoint
    and the token go over the connection, never in a command line (read on both
    hosts while the command runs), and the command's stdin arrives byte-exact."""
    port, token, collected = collector
    host = getattr(site, name)
    here = host.address.rsplit(".", 1)[0] + ".1"  # the local end of the host's link
    home = tmp_path / "home"
    home.mkdir()
    env = traceexec_env(home, OTEL_EXPORTER_OTLP_ENDPOINT="http://%s:%d" % (here, port),
                        OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer%20" + token)
    payload = bytes(range(256)) * 64 + b"\n\nno newline at the end"
    step = site.net.popen(TRACEEXEC + ["ssh", "-F", site.net.ssh_config, host.address,
                                       'echo "$TRACEPARENT" >&2; cat; echo done >&2'],
                          env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    traceparent = step.stderr.readline().decode().strip()  # the remote command runs
    assert traceparent.startswith("00-"), traceparent
    assert _argv_holding(token.encode()) == []
    out, err = step.communicate(payload, timeout=60)
    assert step.returncode == 0, err
    assert out == payload and err == b"done\n"
    trace_id = traceparent.split("-")[1]
    spans = by_name(_collected(collected, trace_id, 2 if name == "c" else 1))
    local = spans["ssh " + host.address]
    if name == "c":
        assert spans["echo"]["parent_span_id"] == local["span_id"]
        assert spans["echo"]["span_id"] == traceparent.split("-")[2]
    else:
        assert list(spans) == ["ssh " + host.address]


def test_with_a_terminal_the_spans_come_home_on_a_later_connection(site, tmp_path):
    """-tt: the remote stderr is the terminal, so no frame may go there; the output is
    plain ssh's, byte for byte, and the spans come on a second connection."""
    from traceexec.store import local as store
    home = tmp_path / "home"
    home.mkdir()
    command = 'echo "$TRACEPARENT" >&2; echo out; printf "no newline"; exit 3'
    done = site.net.run(TRACEEXEC + ["ssh", "-tt", "-F", site.net.ssh_config, site.c.address,
                                     command], env=traceexec_env(home, TRACEEXEC_WAIT="1"),
                        stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    plain = site.net.run(["ssh", "-tt", "-F", site.net.ssh_config, site.c.address, command],
                         stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert done.returncode == plain.returncode == 3, done.stderr
    traceparent, rest = done.stdout.split(b"\r\n", 1)
    assert rest == plain.stdout.split(b"\r\n", 1)[1] == b"out\r\nno newline"
    assert done.stderr == plain.stderr
    trace_id = traceparent.decode().split("-")[1]
    spans = by_name(store.read(str(home), trace_id))
    assert spans["echo"]["parent_span_id"] == spans["ssh " + site.c.address]["span_id"]
    assert spans["echo"]["span_id"] == traceparent.decode().split("-")[2]


def _cut(site, host, home, before_cut=lambda: None):
    """``traceexec ssh`` to ``host`` with no collector, its connection cut while
    the remote command runs: (the traceparent the command saw, the result)."""
    step = site.net.popen(TRACEEXEC + ["ssh", "-F", site.net.ssh_config, host.address,
                                       'echo "$TRACEPARENT"; cat; echo after-cut'],
                          env=traceexec_env(home, TRACEEXEC_WAIT="1"), stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    traceparent = step.stdout.readline().strip()  # the remote command is running
    sessions = site.net.session_processes(host)
    assert sessions
    before_cut()
    for pid in sessions:  # sshd's connection dies; the remote cat sees its input end
        os.kill(pid, signal.SIGKILL)
    out, err = step.communicate(timeout=120)  # stdin still open: only the cut ends ssh
    assert step.returncode == 255, err
    return traceparent, err


def test_spans_recorded_before_a_cut_come_home_on_a_later_connection(site, tmp_path):
    from traceexec.store import local as store
    home = tmp_path / "home"
    home.mkdir()
    traceparent, err = _cut(site, site.c, home)
    assert "traceexec" not in err, err
    trace_id, span_id = traceparent.split("-")[1:3]
    spans = by_name(store.read(str(home), trace_id))
    local, remote = spans["ssh " + site.c.address], spans["echo"]
    assert local["attributes"]["process.exit.code"] == 255
    assert remote["parent_span_id"] == local["span_id"] and remote["span_id"] == span_id


def test_when_the_host_is_gone_after_a_cut_one_line_says_where_the_spans_are(site, tmp_path):
    home, kept = tmp_path / "home", tmp_path / "remote-e"
    home.mkdir()
    host = add_unconfigured(site.net, "e", kept)
    traceparent, err = _cut(site, host, home, before_cut=host.sshd.kill)  # no new connection
    trace_id = traceparent.split("-")[1]
    assert err.splitlines()[-1] == (
        "traceexec: warning: remote spans not brought home: kept on %s (traceexec show %s "
        "there)" % (host.address, trace_id)), err
    records = stored(kept, trace_id, 1)  # recorded there once the remote command ends
    assert [r["name"] for r in records] == ["echo"]


def test_with_a_terminal_to_a_host_without_traceexec_nothing_is_said(site, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    command = "echo out; exit 2"
    done = site.net.run(TRACEEXEC + ["ssh", "-tt", "-F", site.net.ssh_config, site.b.address,
                                     command], env=traceexec_env(home),
                        stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    plain = site.net.run(["ssh", "-tt", "-F", site.net.ssh_config, site.b.address, command],
                         stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (
        plain.returncode, plain.stdout, plain.stderr) == (2, b"out\r\n", b"")


def test_with_a_terminal_and_a_collector_the_spans_reach_it_by_a_later_connection(
        site, collector, tmp_path):
    """-tt: the settings cannot go over stdin (a terminal would echo them), so the
    spans come home on a second connection and go on to this host's collector."""
    port, token, collected = collector
    here = site.c.address.rsplit(".", 1)[0] + ".1"
    home = tmp_path / "home"
    home.mkdir()
    env = traceexec_env(home, TRACEEXEC_WAIT="1",
                        OTEL_EXPORTER_OTLP_ENDPOINT="http://%s:%d" % (here, port),
                        OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer%20" + token)
    done = site.net.run(TRACEEXEC + ["ssh", "-tt", "-F", site.net.ssh_config, site.c.address,
                                     'echo "$TRACEPARENT"'], env=env, stdin=subprocess.DEVNULL,
                        capture_output=True, timeout=120)
    assert done.returncode == 0 and done.stderr == b"", done.stderr
    trace_id, span_id = done.stdout.decode().split("-")[1:3]
    spans = by_name(_collected(collected, trace_id, 2))
    assert spans["echo"]["parent_span_id"] == spans["ssh " + site.c.address]["span_id"]
    assert spans["echo"]["span_id"] == span_id
