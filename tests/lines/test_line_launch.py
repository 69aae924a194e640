"""lines.launch: what --lines traces and what it refuses, on real files and a real bash."""
from __future__ import annotations

import os

import pytest

from traceexec.lines import launch


def script(tmp_path, body, name="s.sh", shebang="#!/bin/bash"):
    path = tmp_path / name
    path.write_text(shebang + "\n" + body)
    path.chmod(0o755)
    return str(path)


def test_bash_shebang(tmp_path):
    path = script(tmp_path, "echo hi\n")
    plan = launch.plan([path, "a"], os.environ)
    assert plan.argv == ["/bin/bash", path, "a"] and not plan.author_xtrace
    env = plan.environment({"PATH": "/bin"})
    assert env["BASH_ENV"] == launch.PREAMBLE and env["TRACEEXEC_LINES_FD"] == "237"


def test_env_bash_and_options(tmp_path):
    path = script(tmp_path, "echo hi\n", shebang="#!/usr/bin/env bash")
    assert launch.plan([path], os.environ).argv == ["bash", path]
    path = script(tmp_path, "echo hi\n", name="x.sh", shebang="#!/bin/bash -ex")
    plan = launch.plan([path], os.environ)
    assert plan.argv == ["/bin/bash", "-ex", path] and plan.author_xtrace


def test_bash_with_a_script(tmp_path):
    path = script(tmp_path, "echo hi\n")
    plan = launch.plan(["bash", "-e", "-o", "pipefail", path, "x"], os.environ)
    assert plan.argv == ["bash", "-e", "-o", "pipefail", path, "x"]


@pytest.mark.parametrize("argv", [
    ["bash", "-c", "f() { echo in; }; f", "name", "a"],
    ["/bin/bash", "-e", "-o", "pipefail", "-c", "echo hi"],
    ["bash", "-ec", "echo hi"],         # make's .SHELLFLAGS = -ec
    ["bash", "-xc", "echo hi"],
])
def test_bash_with_a_command_string(argv):
    """bash reads BASH_ENV for ``bash -c`` too: DAG command steps and make's recipe
    lines are command strings."""
    plan = launch.plan(argv, os.environ)
    assert plan.argv == argv and plan.command_string
    assert plan.author_xtrace == ("-xc" in argv)


@pytest.mark.parametrize("body,shebang,argv,reason", [
    ("echo hi\n", "#!/bin/sh", None, "not a bash script"),
    ("PS4='> '\n", "#!/bin/bash", None, "sets PS4"),
    ("exec {BASH_XTRACEFD}>log\n", "#!/bin/bash", None, "sets PS4 or BASH_XTRACEFD"),
    ('case $- in *x*) echo traced;; esac\n', "#!/bin/bash", None, "reads its options"),
    ('flags="${-}"\n', "#!/bin/bash", None, "reads its options"),
    ('[[ -o xtrace ]] && echo traced\n', "#!/bin/bash", None, "reads its options"),
    ('saved=$(set +o)\n', "#!/bin/bash", None, "reads its options"),
    ('shopt -po xtrace\n', "#!/bin/bash", None, "reads its options"),
    ('echo "${SHELLOPTS}"\n', "#!/bin/bash", None, "reads its options"),
    ('exec 237>&-\n', "#!/bin/bash", None, "descriptor 237"),
    ('echo hi >&237\n', "#!/bin/bash", None, "descriptor 237"),
    ("echo hi\n", "#!/bin/bash", ["bash", "-ic", "echo hi"], "only a script file"),
    ("echo hi\n", "#!/bin/bash", ["bash", "-s", "x"], "only a script file"),
    ("echo hi\n", "#!/bin/bash", ["bash", "-c", "case $- in *x*) :;; esac"],
     "reads its options"),
    ("echo hi\n", "#!/bin/bash", ["bash", "-c", "PS4=+; set -x"], "sets PS4"),
    ("echo hi\n", "#!/bin/bash", ["bash", "-c"], "needs a command string"),
    ("echo hi\n", "#!/bin/bash", ["bash"], "stdin"),
    ("echo hi\n", "#!/bin/bash", ["no-such-command-here"], "would not start"),
])
def test_refused(tmp_path, body, shebang, argv, reason):
    path = script(tmp_path, body, shebang=shebang)
    with pytest.raises(launch.NotTraceable, match=reason.replace("$", r"\$")):
        launch.plan(argv or [path], os.environ)


def test_refused_when_bash_env_is_set(tmp_path):
    path = script(tmp_path, "echo hi\n")
    with pytest.raises(launch.NotTraceable, match="BASH_ENV"):
        launch.plan([path], dict(os.environ, BASH_ENV="/dev/null"))


def test_old_bash_refused(tmp_path):
    """A bash that says it is 4.4 (a stand-in script answering BASH_VERSINFO's question)."""
    fake = tmp_path / "bin" / "bash"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 4 4\n")
    fake.chmod(0o755)
    path = script(tmp_path, "echo hi\n", shebang="#!%s" % fake)
    with pytest.raises(launch.NotTraceable, match="older than 5.0"):
        launch.plan([path], os.environ)


def test_what_is_not_reading_options(tmp_path):
    path = script(tmp_path, 'echo "a-b" $x-y ${x}-\nls -l -- -a\nset -o pipefail\n'
                            'set -o xtrace\necho 2370 > f; exec 3>&-\n')
    launch.plan([path], os.environ)


def test_wheel_carries_the_preamble():
    """pyproject's package data names it: a non-editable install has it too."""
    import tomllib
    from traceexec.lines import launch as module
    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__)))), "pyproject.toml"), "rb") as handle:
        data = tomllib.load(handle)["tool"]["setuptools"]["package-data"]
    assert os.path.basename(module.PREAMBLE) in data["traceexec.lines"]
