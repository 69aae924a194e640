"""traceexec/make/setup.py: the run's directory of launchers and make's environment."""
import os
import subprocess
import sys

from traceexec.make import setup


def test_session_makes_self_default_and_register_then_goes(tmp_path):
    session = setup.Session(executable=sys.executable)
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


def test_self_starts_this_interpreter_without_site_wherever_it_runs(tmp_path, monkeypatch):
    """traceexec-self runs this interpreter with -S on this very package: a recipe line
    pays no site (in an editable install, site imports pathlib, re, urllib...)."""
    monkeypatch.chdir(tmp_path)
    directory = tmp_path / "run"
    directory.mkdir()
    path = setup.self_script(str(directory), sys.executable)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    started = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60,
                             cwd=elsewhere, env={"PATH": "", "PYTHONPROFILEIMPORTTIME": "1"})
    assert started.stdout.startswith("traceexec "), started.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in started.stderr.splitlines()
                if line.startswith("import time:")}
    assert "traceexec.cli" in imported and "site" not in imported


def test_self_puts_no_directory_before_the_standard_library(tmp_path, monkeypatch):
    """python -m traceexec starts with the working directory first on its path: a
    Makefile's own fcntl.py there must not shadow the standard library's in a launcher."""
    (tmp_path / "fcntl.py").write_text("raise SystemExit('the project shadowed fcntl')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [str(tmp_path)] + sys.path)
    directory = tmp_path / "run"
    directory.mkdir()
    path = setup.self_script(str(directory), sys.executable)
    started = subprocess.run([path, "--make", "--", "true"], capture_output=True, text=True,
                             timeout=60, env={"PATH": os.defpath,
                                              "TRACEEXEC_HOME": str(tmp_path / "home")})
    assert (started.returncode, started.stderr) == (0, "")


def test_without_bytecode_in_the_tree_self_caches_it_in_the_users_cache(tmp_path,
                                                                         monkeypatch):
    """PYTHONDONTWRITEBYTECODE (common in containers) would have every recipe line
    compile traceexec's modules again: they are cached in the user's cache instead (a
    private folder), nothing in the tree, nothing in the run's directory (which a
    process the run started could make again after the run, to write there)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    import traceexec
    from traceexec.make import targets  # noqa: F401  (close imports it: not during the test)
    package = os.path.dirname(traceexec.__file__)

    def tree_bytecode():
        return sorted(name for _, _, files in os.walk(package) for name in files
                      if name.endswith(".pyc"))
    before = tree_bytecode()
    session = setup.Session(executable=sys.executable)
    try:
        for _ in range(2):
            started = subprocess.run([os.path.join(session.directory, "traceexec-self"),
                                      "--version"], capture_output=True, text=True,
                                     timeout=60, env={"PATH": "", "PYTHONDONTWRITEBYTECODE": "1"})
            assert started.stdout.startswith("traceexec "), started.stderr
        folder = tmp_path / "cache" / "traceexec" / "bytecode"
        cached = [name for _, _, files in os.walk(folder) for name in files
                  if name.endswith(".pyc")]
        assert "cli.cpython-%d%d.pyc" % sys.version_info[:2] in cached
        assert oct(folder.stat().st_mode & 0o777) == "0o700"
        assert not [name for _, _, files in os.walk(session.directory) for name in files
                    if name.endswith(".pyc")]
    finally:
        session.close()
    assert tree_bytecode() == before


def test_an_interpreter_a_shebang_cannot_name_is_started_by_a_shell_line(tmp_path):
    """A blank in the interpreter's path: a #! line cannot name it, so /bin/sh starts it
    (and Python reads that line as a string)."""
    folder = tmp_path / "my python"
    folder.mkdir()
    (folder / "python3").symlink_to(sys.executable)
    directory = tmp_path / "run"
    directory.mkdir()
    path = setup.self_script(str(directory), str(folder / "python3"))
    assert open(path).readline() == "#!/bin/sh\n"
    started = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60,
                             env={"PATH": ""})
    assert started.stdout.startswith("traceexec "), started.stderr


def test_prepare_keeps_makefiles_already_named():
    session = setup.Session()
    try:
        env = {"MAKEFILES": "mine.mk"}
        session.prepare(env)
        assert env["MAKEFILES"] == "mine.mk " + setup.FRAGMENT
    finally:
        session.close()
