"""``--lines`` past the span budget: xtrace turned off in the script's shells from
outside (lines/untrace.py), with the outcome of the bare run.

Each script first runs a loop of builtins that spends the budget (1,000 spans), so
that its shells are stopped, turned off and let go while they are in the state the
case names (in ``wait``, in ``read`` from a pipe, in a pipeline, in a subshell...);
each runs bare and under ``traceexec --lines``: same stdout, stderr and exit status,
and the trace says xtrace was turned off (else the case proves nothing).
"""
from __future__ import annotations

import os


import pytest

from conftest import TRACEEXEC, needs_ptrace, only_trace
from test_lines import outcome, run

SPEND = "i=0; while (( i < 100000 )); do (( ++i )); done"
"""200,000 commands, seconds of tracing: the budget is spent early in the loop, and the
reader, however loaded the machine, reaches it before the loop ends."""

CASES = {
    # the script's shell is in wait (a background subshell spends the budget)
    "wait": "( %s; echo sub $i ) &\nwait $!\necho \"wait: $?\"\n" % SPEND,
    # in read from a pipe (the writer spends the budget first)
    "read": "{ %s; echo \"line $i\"; } | { read -r x; echo \"read: $x\"; }\n"
            "echo \"pipe: ${PIPESTATUS[*]}\"\n" % SPEND,
    # in an external sleep's wait
    "sleep": "( %s ) &\nsleep 0.3\nwait\necho slept\n" % SPEND,
    # a trap the script set, its signal sent after the budget, caught in wait
    "trap": "trap 'echo got USR1' USR1\n( %s; kill -USR1 $$ ) &\nwait $!\n"
            "echo \"wait: $?\"\nwait\necho \"after: $?\"\n" % SPEND,
    # set -e: the failure comes after the budget
    "set-e": "set -e\n%s\necho \"looped $i\"\nfalse\necho never\n" % SPEND,
    # subshells, a pipeline and a command substitution alive at the poke
    "alive": "f() { %s; echo \"f $i\"; }\n( f; f ) | ( f; cat ) | sort\n"
             "out=$(f; f)\necho \"$out\"\necho \"status $?\"\n" % SPEND,
    # the script's shell spends it, then forks
    "fork-after": "%s\n( echo \"sub $BASH_SUBSHELL\" )\necho \"$( echo cs )\"\n"
                  "echo done >&2\nexit 3\n" % SPEND,
}


def make(tmp_path, name, body):
    path = tmp_path / (name + ".sh")
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(0o755)
    return str(path)


def root_of(spans):
    root, = [s for s in spans if not s["parent_span_id"]]
    return root


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_outcome_across_turning_xtrace_off(tmp_path, home, env, name):
    script = make(tmp_path, name, CASES[name])
    bare = run([script], env)
    traced = run(TRACEEXEC + ["--lines", "--", script], env)
    assert outcome(traced) == outcome(bare)
    root = root_of(only_trace(home))
    assert root["attributes"].get("traceexec.lines.untraced", 0) >= 1, root["attributes"]


def test_a_long_loop_stops_tracing_and_stays_under_the_budget(tmp_path, home, env):
    script = make(tmp_path, "loop", "i=0\nwhile (( i < 100000 )); do\n  (( i++ ))\n"
                  "done\necho \"$i\"\n")
    result = run(TRACEEXEC + ["--lines", "--", script], env)
    assert result.returncode == 0 and result.stdout == b"100000\n" and result.stderr == b""
    spans = only_trace(home)
    root = root_of(spans)
    attrs = root["attributes"]
    assert attrs.get("traceexec.lines.untraced") == 1, attrs
    assert 1000 <= attrs["traceexec.lines.untraced_after"] <= attrs["traceexec.lines.count"]
    assert attrs["traceexec.lines.count"] < 200001  # not every command was traced
    assert len(spans) < 1100
    untraced, = [s for s in spans if s["name"].startswith("untraced: ")]
    assert untraced["parent_span_id"] == root["span_id"]
    assert untraced["end_ns"] == root["end_ns"]
    assert untraced["attributes"]["code.lineno"] in (3, 4)


def test_a_failure_after_it_is_marked_on_the_untraced_span(tmp_path, home, env):
    script = make(tmp_path, "fail", "set -e\n%s\nfalse\n" % SPEND)
    result = run(TRACEEXEC + ["--lines", "--", script], env)
    assert result.returncode == 1
    spans = only_trace(home)
    errors = [s["name"] for s in spans if s["status_code"] == 2 and s["parent_span_id"]]
    assert len(errors) == 1 and errors[0].startswith("untraced: ")


@pytest.mark.parametrize("text", ["set -x\n", "f() { local -; }\n"])
def test_a_script_that_sets_xtrace_itself_keeps_it(tmp_path, home, env, text):
    """The author's own set -x (or options brought back by local -): never turned off,
    and the author's trace on stderr is that of the bare run."""
    script = make(tmp_path, "author", text + SPEND + "\necho \"$i\"\n")
    bare = run([script], env)
    traced = run(TRACEEXEC + ["--lines", "--", script], env)
    assert outcome(traced) == outcome(bare)
    attrs = root_of(only_trace(home))["attributes"]
    assert "traceexec.lines.untraced" not in attrs
    assert attrs["traceexec.lines.count"] >= 200000


def test_the_variable_keeps_xtrace_on(tmp_path, home, env):
    script = make(tmp_path, "keep", SPEND + "\necho \"$i\"\n")
    result = run(TRACEEXEC + ["--lines", "--", script],
                 dict(env, TRACEEXEC_LINES_KEEP_XTRACE="1"))
    assert result.stdout == b"100000\n"
    attrs = root_of(only_trace(home))["attributes"]
    assert "traceexec.lines.untraced" not in attrs
    assert attrs["traceexec.lines.count"] >= 200000


@needs_ptrace
def test_under_processes_strace_has_it_and_it_is_left_alone(tmp_path, home, env):
    script = make(tmp_path, "procs", SPEND + "\nls / > /dev/null\necho \"$i\"\n")
    bare = run([script], env)
    traced = run(TRACEEXEC + ["--lines", "--processes", "--", script], env)
    assert outcome(traced) == outcome(bare)
    attrs = root_of(only_trace(home))["attributes"]
    assert "traceexec.lines.untraced" not in attrs
    assert attrs["traceexec.lines.count"] >= 200000


def test_with_a_terminal_the_stop_is_not_taken_for_a_job_stop(tmp_path, home, env):
    """--tty waits on the script itself (wrap/tty.py): the stop that turning xtrace off
    makes is reported there too, and must not stop traceexec."""
    import pty
    script = make(tmp_path, "tty", SPEND + "\necho \"$i\"\n")
    pid, fd = pty.fork()
    if pid == 0:  # the child: traceexec on a terminal
        os.execve(TRACEEXEC[0], TRACEEXEC + ["--tty", "--lines", "--", script], env)
    out = b""
    while True:
        try:
            data = os.read(fd, 1024)
        except OSError:  # EIO: the terminal's last holder is gone
            break
        if not data:
            break
        out += data
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0 and out == b"100000\r\n"
    assert root_of(only_trace(home))["attributes"].get("traceexec.lines.untraced") == 1


def test_a_sourced_set_x_after_it_is_printed_as_bare(tmp_path, home, env):
    """The script's own text never turns xtrace on, a file it sources does, after xtrace
    was turned off: bash traces again, and the author's lines reach stderr as bare."""
    (tmp_path / "lib.sh").write_text("set -x\necho a\nf() { echo \"in $1\"; }\nf b\n")
    script = make(tmp_path, "sources", SPEND + "\nsource \"${0%/*}/lib.sh\"\n"
                  "( echo sub )\necho \"$(echo cs)\"\necho end\n")
    bare = run([script], env)
    traced = run(TRACEEXEC + ["--lines", "--", script], env)
    assert outcome(traced) == outcome(bare)
    assert b"+ echo a\n" in bare.stderr and b"++ echo cs\n" in bare.stderr
    assert root_of(only_trace(home))["attributes"].get("traceexec.lines.untraced") == 1
