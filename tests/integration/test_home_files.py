"""``$TRACEEXEC_HOME`` as documented: every directory 0700, every file 0600, whoever
created it first, whatever the umask.

One test drives every command that writes there (the wrapper, ``run`` with a
nested DAG, a script and outputs, ``serve`` receiving spans, ``show``,
``flush``) into one home, then walks all of it.
"""
from __future__ import annotations

import os
import pwd
import shutil
import stat
import tempfile
import textwrap

import pytest

from conftest import Receiver, run_traceexec, traceexec_env
from test_export import harness_wait


def test_every_directory_is_0700_and_every_file_0600(tmp_path):
    home = tmp_path / "home"
    env = traceexec_env(home)
    old_umask = os.umask(0o022)  # a usual umask: 0755/0644 unless traceexec says otherwise
    try:
        receiver = Receiver(tmp_path)  # serve stores into a home of its own; checked below
        try:
            (tmp_path / "child.yaml").write_text(textwrap.dedent("""\
                params: "X=1"
                steps:
                  - {name: inner, command: echo "inner $X", output: INNER}
                """))
            (tmp_path / "dag.yaml").write_text(textwrap.dedent("""\
                steps:
                  - name: script
                    script: |
                      #!/bin/sh
                      echo scripted
                    output: OUT
                  - {name: nested, run: child.yaml, params: "X=2"}
                  - {name: quiet, command: "true"}
                """))
            assert run_traceexec(["--", "true"], env).returncode == 0
            assert run_traceexec(["run", "-q", "dag.yaml"], env, cwd=tmp_path).returncode == 0
            sent = dict(env, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint)
            assert run_traceexec(["--", "true"], sent).returncode == 0
            assert run_traceexec(["run", "-q", "dag.yaml"], sent, cwd=tmp_path).returncode == 0
            assert run_traceexec(["flush"], sent).returncode == 0
            receiver.wait_for(6)
            assert run_traceexec(["show"], env).returncode == 0
            assert run_traceexec(["show", "--list"], env).returncode == 0
        finally:
            receiver.stop()
    finally:
        os.umask(old_umask)
    wrong = []
    for folder in (home, receiver.home):
        for root, dirs, files in os.walk(str(folder)):
            for name in dirs:
                mode = stat.S_IMODE(os.stat(os.path.join(root, name)).st_mode)
                if mode != 0o700:
                    wrong.append("%s %o" % (os.path.join(root, name), mode))
            for name in files:
                mode = stat.S_IMODE(os.lstat(os.path.join(root, name)).st_mode)
                if mode != 0o600:
                    wrong.append("%s %o" % (os.path.join(root, name), mode))
    assert wrong == []
    assert any(os.scandir(str(home / "runs")))  # the DAG runs did write there


def test_a_relative_home_works_from_a_ci_workspace(tmp_path, receiver):
    """TRACEEXEC_HOME=.traceexec: resolved once, the same home for the detached exporter,
    a command run with -C and a nested traceexec in another directory."""
    workspace, elsewhere = tmp_path / "workspace", tmp_path / "elsewhere"
    (workspace / "sub").mkdir(parents=True)
    elsewhere.mkdir()
    env = traceexec_env(".traceexec")
    endpoint = ["--endpoint", receiver.grpc_endpoint]
    nested = "cd %s && traceexec --endpoint %s -- true" % (elsewhere, receiver.grpc_endpoint)
    for args in (["--", "true"], ["-C", "sub", "--", "true"], ["--", "sh", "-c", nested]):
        result = run_traceexec(endpoint + args, env, cwd=workspace)
        assert result.returncode == 0 and result.stderr == b"", result
    assert len(receiver.wait_for(4)) == 4  # no --wait: the automatic exporter sent them
    assert sorted(os.listdir(workspace)) == [".traceexec", "sub"]
    assert os.listdir(workspace / "sub") == [] and os.listdir(elsewhere) == []


def _as_nobody(*argv):
    """Run ``argv`` as the unprivileged user nobody (a second user, for real)."""
    import subprocess
    subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
                   + list(argv), check=True, capture_output=True)


needs_root = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                                reason="acting as a second user needs root and setpriv")


@pytest.fixture
def shared(tmp_path):
    """A sticky world-writable folder like /tmp, and a root-only victim file beside it."""
    folder = tempfile.mkdtemp(prefix="traceexec-shared-")
    os.chmod(folder, 0o1777)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    os.chmod(victim, 0o600)
    yield folder, victim
    shutil.rmtree(folder)


@needs_root
@pytest.mark.parametrize("endpoint", [None, "127.0.0.1:9"])
def test_a_home_another_user_made_is_refused_and_the_command_runs_untraced(shared, endpoint):
    folder, victim = shared
    home = os.path.join(folder, "traceexec")
    _as_nobody("mkdir", "-m", "0777", home)
    _as_nobody("ln", "-s", str(victim), os.path.join(home, "exporter.log"))
    env = traceexec_env(home)
    args = (["--endpoint", endpoint] if endpoint else []) + ["--", "sh", "-c", "echo ran; exit 5"]
    result = run_traceexec(args, env)
    assert (result.returncode, result.stdout) == (5, b"ran\n")
    (line,) = result.stderr.decode().splitlines()
    assert "owned by uid %d" % pwd.getpwnam("nobody").pw_uid in line and "untraced" in line
    assert os.listdir(home) == ["exporter.log"] and victim.read_text() == "precious\n"


@needs_root
def test_links_planted_while_the_home_was_open_are_not_followed(shared):
    """A home of ours that others could write in is made private; what they planted
    meanwhile is not followed (files are opened with O_NOFOLLOW, their folders refused)."""
    folder, victim = shared
    home = os.path.join(folder, "traceexec")
    os.mkdir(home)
    os.chmod(home, 0o777)
    _as_nobody("ln", "-s", str(victim), os.path.join(home, "exporter.log"))
    env = traceexec_env(home)
    result = run_traceexec(["--wait", "--export-timeout", "1s", "--endpoint", "127.0.0.1:9",
                            "--", "sh", "-c", "exit 3"], env)
    assert result.returncode == 3, result
    (line,) = result.stderr.decode().splitlines()  # --wait says why, and nothing else is said
    assert line.startswith("traceexec: warning: not delivered to 127.0.0.1:9"), line
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700
    assert harness_wait(lambda: not _exporter_running(home))
    assert victim.read_text() == "precious\n"
    # the same with the store's folder planted by the other user
    os.chmod(home, 0o777)
    _as_nobody("mkdir", "-m", "0777", os.path.join(home, "store"))
    result = run_traceexec(["--", "sh", "-c", "exit 4"], env)
    assert result.returncode == 4
    assert b"owned by uid" in result.stderr and len(result.stderr.splitlines()) == 1
    assert victim.read_text() == "precious\n"


def _exporter_running(home):
    from traceexec.delivery import spool
    root = os.path.join(home, "spool")
    return any(spool.is_exporter_running(os.path.join(root, name)) for name in os.listdir(root))
