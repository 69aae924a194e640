"""traceexec.remote.sshargs: an ssh command line read the way ssh reads it."""

import pytest

from traceexec.errors import UsageError
from traceexec.remote import sshargs

CASES = [
    # args, destination, command words, carries a context
    (["host", "ls", "-l"], "host", ["ls", "-l"], True),
    (["-p", "2222", "host", "ls"], "host", ["ls"], True),
    (["-p2222", "-tt", "host", "top"], "host", ["top"], True),
    (["-vp", "22", "host", "true"], "host", ["true"], True),
    (["host", "-v", "-o", "BatchMode=yes", "uname", "-a"], "host", ["uname", "-a"], True),
    (["-F", "cfg", "--", "host", "-x"], "host", ["-x"], True),
    (["user@host"], "user@host", [], False),
    (["-N", "-L", "8080:localhost:80", "host"], "host", [], False),
    (["-s", "host", "sftp"], "host", ["sftp"], False),
    (["-O", "check", "host"], "host", [], False),
]


@pytest.mark.parametrize("args,destination,command,carries", CASES)
def test_split(args, destination, command, carries):
    line = sshargs.split(args)
    assert line.destination == destination
    assert line.command == command
    assert line.carries_context() is carries


@pytest.mark.parametrize("args,problem", [
    ([], "no destination"), (["-p"], "-p needs a value"), (["-Z", "host"], "unknown option -Z"),
    (["-v"], "no destination"),
])
def test_bad_lines_are_usage_errors(args, problem):
    with pytest.raises(UsageError, match=problem):
        sshargs.split(args)


@pytest.mark.parametrize("args,options_end", [
    (["host", "ls"], 0), (["-p", "2222", "-tt", "host", "top"], 3),
    (["-F", "cfg", "--", "host", "-x"], 2), (["host", "-v", "uname"], 0),
])
def test_options_can_be_added_before_the_destination(args, options_end):
    assert sshargs.split(args).options_end == options_end
