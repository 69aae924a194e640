"""traceexec/make/setup.py: the run's directory of launchers and make's environment."""
import os
import subprocess
import sys

from traceexec.make import setup


def test_session_makes_self_default_and_register_then_goes(tmp_path):
    session = setup.Session(argv0=os.path.join("traceexec", "__main__.py"),
                            executable=sys.executable)
    try:
        names = sorted(os.listdir(session.directory))
        assert names == ["traceexec-register", "traceexec-self", "traceexec-shell-default",
                         "traceexec-shell-default.words"]
        env = {}
        session.prepare(env)
        assert env[setup.DIRECTORY] == session.directory
        assert env["MAKEFILES"] == setup.FRAGMENT
        session.prepare(env)
        assert env["MAKEFILES"] == setup.FRAGMENT  # named once
        # python -m traceexec: traceexec-self is a script of this interpreter
        version = subprocess.run([os.path.join(session.directory, "traceexec-self"),
                                  "--version"], capture_output=True, text=True, timeout=30,
                                 env={"PATH": os.defpath})
        assert version.stdout.startswith("traceexec ")
    finally:
        session.close()
    assert not os.path.exists(session.directory)


def test_an_installed_script_is_linked_by_its_absolute_path(tmp_path, monkeypatch):
    script = tmp_path / "bin" / "traceexec"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    directory = tmp_path / "run"
    directory.mkdir()
    path = setup.self_script(str(directory), os.path.join("bin", "traceexec"), sys.executable)
    assert os.readlink(path) == str(script)


def test_prepare_keeps_makefiles_already_named():
    session = setup.Session()
    try:
        env = {"MAKEFILES": "mine.mk"}
        session.prepare(env)
        assert env["MAKEFILES"] == "mine.mk " + setup.FRAGMENT
    finally:
        session.close()
