"""``$TRACEEXEC_HOME`` as documented: every directory 0700, every file 0600, whoever
created it first, whatever the umask.

One test drives every command that writes there (the wrapper, ``run`` with a
nested DAG, a script and outputs, ``serve`` receiving spans, ``show``,
``flush``) into one home, then walks all of it.
"""
from __future__ import annotations

import os
import stat
import textwrap

from conftest import Receiver, run_traceexec, traceexec_env


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
