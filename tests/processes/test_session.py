"""The wrapper's side of --processes: its options, and what strace is asked to run."""
import os

import pytest

from traceexec.errors import UsageError
from traceexec.processes import session
from traceexec.wrap import options


@pytest.mark.parametrize("args,processes,only,argv,name", [
    (["--processes", "--", "make"], "fold", False, ["make"], None),
    (["--processes=all", "-c", "make"], "all", False, ["/bin/sh", "-c", "make"], None),
    (["--processes-only", "--", "ls"], "fold", True, ["ls"], None),
    (["--processes-only=all", "--", "ls"], "all", True, ["ls"], None),
    # .SHELLFLAGS = --name $@ --processes -c, with $@ empty for $(shell ...)
    (["--name", "--processes", "-c", "date"], "fold", False, ["/bin/sh", "-c", "date"], None),
    (["--name", "t", "--", "ls"], None, False, ["ls"], "t"),
])
def test_processes_options(args, processes, only, argv, name):
    opts = options.parse_wrapper(args)
    assert (opts.processes, opts.processes_only, opts.argv, opts.name) == (
        processes, only, argv, name)


@pytest.mark.parametrize("args", [["--processes=some", "--", "ls"],
                                  ["--processes-only=yes", "--", "ls"]])
def test_processes_takes_all_or_nothing(args):
    with pytest.raises(UsageError, match="the only value is all"):
        options.parse_wrapper(args)


def test_what_strace_runs(tmp_path):
    env = {"PATH": os.defpath}
    assert session.command_argv(["sh", "-c", "x"], env)[0] == ["sh", "-c", "x"]
    plain = tmp_path / "plain"
    plain.write_text("echo hi\n")
    plain.chmod(0o755)
    assert session.command_argv([str(plain), "a"], env) == (
        ["/bin/sh", str(plain), "a"], str(plain))
    missing = tmp_path / "missing-interpreter"
    missing.write_text("#!/no/such/interpreter\n")
    missing.chmod(0o755)
    assert session.command_argv([str(missing)], env) == (None, None)
    assert session.command_argv(["no-such-command-xyz"], env) == (None, None)
    not_executable = tmp_path / "data"
    not_executable.write_text("x")
    assert session.command_argv([str(not_executable)], env) == (None, None)


def test_binfmt_misc_entries_are_matched_by_magic_and_extension(tmp_path):
    folder = tmp_path / "binfmt_misc"
    folder.mkdir()
    (folder / "register").write_text("")
    (folder / "status").write_text("enabled\n")
    (folder / "python3.11").write_text(
        "enabled\ninterpreter /usr/bin/python3.11\nflags: \noffset 0\nmagic a70d0d0a\n")
    (folder / "jar").write_text("enabled\ninterpreter /usr/bin/jexec\nflags: \nextension .jar\n")
    (folder / "off").write_text("disabled\ninterpreter /x\nflags: \noffset 0\nmagic 6563686f\n")
    knows = session.binfmt_misc_knows
    assert knows("x.pyc", b"\xa7\x0d\x0d\x0a rest", str(folder))
    assert knows("app.jar", b"PK\x03\x04", str(folder))
    assert not knows("script", b"echo hi\n", str(folder))         # "echo" only disabled
    assert not knows("script", b"echo hi\n", str(tmp_path / "not-mounted"))
