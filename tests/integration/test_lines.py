"""``traceexec --lines`` with the real binary and real bash: the outcome of a bare run,
a span per command, the tree at a real receiver (``traceexec serve``).

Each script runs bare and under ``traceexec --lines``; stdout, stderr and exit
status must be the same.  Besides our own scripts (tests/integration/lines/),
bash scripts nobody here wrote: glibc's ``ldd`` and ``tzselect`` (Debian's
libc-bin, on every Debian system).
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import ROOT, TRACEEXEC, needs_ptrace, only_trace, traceexec_env
from traceexec.store import local as store

HERE = os.path.join(ROOT, "tests", "integration", "lines")
LDD = shutil.which("ldd")
TZSELECT = shutil.which("tzselect")
assert LDD and TZSELECT, "ldd and tzselect come with Debian's libc-bin"


def script(name):
    return os.path.join(HERE, name)


def run(args, env, stdin=b"", cwd=None):
    return subprocess.run(args, env=env, input=stdin, capture_output=True, timeout=120,
                          cwd=cwd)


def outcome(result, normalize=None):
    out, err = result.stdout, result.stderr
    if normalize:
        out, err = normalize(out), normalize(err)
    return result.returncode, out, err


def addresses(text):
    return re.sub(rb"0x[0-9a-f]+", b"0x", text)


def clock_lines(text):
    return re.sub(rb"[Tt]ime is now:.*", b"time is now:", text)


TRANSPARENT = [
    # (argv, stdin, normalize): run bare and under --lines, same outcome expected
    ([script("functions.sh")], b"", None),
    ([script("redirects.sh")], b"", None),
    ([script("xtrace.sh")], b"", None),
    (["bash", "-e", script("options.sh")], b"", None),     # refused: reads $-
    ([script("loop.sh")], b"", None),
    ([LDD, "/bin/true"], b"", addresses),
    ([LDD, "--version"], b"", None),
    ([LDD, "/nonexistent"], b"", None),
    ([TZSELECT], b"7\n1\n1\n", clock_lines),               # Europe, Albania, yes
    ([TZSELECT, "-c", "+4852+00220"], b"1\n1\n", clock_lines),  # near Paris
]


@pytest.mark.parametrize("argv,stdin,normalize", TRANSPARENT,
                         ids=[os.path.basename(" ".join(c[0][:2])) for c in TRANSPARENT])
def test_same_outcome_as_bare(tmp_path, env, home, argv, stdin, normalize):
    bare = run(argv, env, stdin, cwd=tmp_path)
    traced = run(TRACEEXEC + ["--lines", "--"] + argv, env, stdin, cwd=tmp_path)
    if b"reads its options" in traced.stderr:  # the refusal's one line, only it, is added
        line, _, rest = traced.stderr.partition(b"\n")
        assert line.startswith(b"traceexec: --lines: ") and b"without line spans" in line
        traced = subprocess.CompletedProcess(traced.args, traced.returncode, traced.stdout,
                                             rest)
    assert outcome(traced, normalize) == outcome(bare, normalize)
    spans = only_trace(home)
    assert len(spans) > 1 or b"$-" in open(argv[-1], "rb").read()


def test_the_tree_at_a_real_receiver(tmp_path, receiver, home):
    env = traceexec_env(home)
    result = run(TRACEEXEC + ["--lines", "--endpoint", receiver.grpc_endpoint, "--wait",
                              "--", script("functions.sh")], env)
    assert result.returncode == 1
    spans = receiver.wait_for(20)
    roots = [s for s in spans if not s["parent_span_id"]]
    assert len(roots) == 1 and roots[0]["name"] == "functions.sh"
    root = roots[0]
    ids = {s["span_id"]: s for s in spans}
    assert all(s["parent_span_id"] in ids for s in spans if s is not root)

    def one(text):
        found = [s for s in spans if s["attributes"].get("traceexec.line.command") == text]
        assert len(found) == 1, (text, sorted(s["name"] for s in spans))
        return found[0]

    def parent(span):
        return ids[span["parent_span_id"]]

    count = one("count")
    assert parent(count) is root and count["attributes"]["code.lineno"] == 18
    assert count["attributes"]["traceexec.line.calls"] == "count"
    echo = one("echo '2 words'")
    assert parent(echo) is count
    assert echo["attributes"]["code.function"] == "count"
    assert echo["attributes"]["code.filepath"] == script("functions.sh")
    reads = [s for s in spans if s["attributes"].get("traceexec.line.command") == "read -r word"]
    assert [s["attributes"]["code.lineno"] for s in reads] == [10, 10, 10]
    lib = one("echo 'lib loaded'")
    assert parent(lib)["attributes"]["traceexec.line.command"].startswith("source ")
    assert lib["attributes"]["code.filepath"].endswith("lib.sh")
    cd = one("cd /")
    assert parent(cd)["name"] == "subshell" and parent(parent(cd)) is root
    printf = one("printf 'hello %s\\n' world")
    # the substitution's shell runs a pipeline and prints no line of its own
    assert parent(printf)["attributes"]["traceexec.line.command"] == "greet world"
    assert parent(parent(printf))["name"] == "command substitution"
    assert "hunter2" not in repr(spans)
    failing = [s for s in spans if s["status_code"] == 2 and s is not root]
    assert [s["attributes"]["traceexec.line.command"] for s in failing] == ["fail_here",
                                                                           "false"]
    assert one("false")["attributes"]["code.lineno"] == 26
    lines = [s for s in spans if "traceexec.line.command" in s["attributes"]]
    assert root["attributes"]["traceexec.lines.count"] == len(lines)  # nothing folded


COMMAND_STRING = "f() {\n  echo \"in $1\"\n}\nf one; echo \"$0 $1\"\nfalse\necho never"


def test_a_command_string(home, env):
    """``bash -c STRING`` (a DAG step's command, a make recipe line) is traced by line;
    its lines have no file (bash's own BASH_SOURCE says none)."""
    argv = ["bash", "-e", "-c", COMMAND_STRING, "name", "arg"]
    bare = run(argv, env)
    traced = run(TRACEEXEC + ["--lines", "--"] + argv, env)
    assert outcome(traced) == outcome(bare) == (1, b"in one\nname arg\n", b"")
    spans = only_trace(home)
    ids = {s["span_id"]: s for s in spans}
    by_command = {s["attributes"].get("traceexec.line.command"): s for s in spans}
    echo = by_command["echo 'in one'"]
    call = ids[echo["parent_span_id"]]
    assert call["attributes"]["traceexec.line.calls"] == "f"
    assert call["attributes"]["code.lineno"] == 4 and echo["attributes"]["code.lineno"] == 2
    assert not ids[call["parent_span_id"]]["parent_span_id"]  # the wrapper's span
    assert by_command["false"]["status_code"] == 2
    assert "echo never" not in by_command


def test_a_loop_is_folded(home, env):
    """(With xtrace kept on to the end: where traceexec cannot turn it off.)"""
    result = run(TRACEEXEC + ["--lines", "--", script("loop.sh")],
                 dict(env, TRACEEXEC_LINES_KEEP_XTRACE="1"))
    assert result.returncode == 0 and result.stdout == b"3000\n"
    spans = only_trace(home)
    folds = [s for s in spans if s["name"].endswith("(folded)")]
    assert {s["attributes"]["code.lineno"] for s in folds} == {3, 4}
    root = [s for s in spans if not s["parent_span_id"]][0]
    assert root["attributes"]["traceexec.lines.count"] >= 6000
    assert len(spans) < 1100
    assert sum(s["attributes"]["traceexec.fold.count"] for s in folds) + \
        len(spans) - len(folds) - 1 == root["attributes"]["traceexec.lines.count"]


def test_in_a_dag_step_the_lines_nest_under_the_step(tmp_path, home, env):
    (tmp_path / "job.sh").write_text("#!/bin/bash\nbuild() { echo built; }\nbuild\n")
    (tmp_path / "job.sh").chmod(0o755)
    (tmp_path / "nightly.yaml").write_text(
        "steps:\n  - name: build\n    command: traceexec --lines -- ./job.sh\n")
    result = run(TRACEEXEC + ["run", "nightly.yaml"], env, cwd=tmp_path)
    assert result.returncode == 0 and b"built\n" in result.stdout
    spans = only_trace(home)
    ids = {s["span_id"]: s for s in spans}
    echo, = [s for s in spans if s["attributes"].get("traceexec.line.command") == "echo built"]
    chain = []
    while echo["parent_span_id"]:
        echo = ids[echo["parent_span_id"]]
        chain.append(echo["name"])
    assert chain == ["3: build", "job.sh", "Step: build", "DAG: nightly"]


def test_not_bash_runs_as_plain_traceexec_after_one_line(home, env):
    result = run(TRACEEXEC + ["--lines", "--", script("posix.sh")], env)
    assert result.returncode == 3 and result.stdout == b"not bash\n"
    assert result.stderr.count(b"\n") == 1 and b"not a bash script" in result.stderr
    spans = only_trace(home)
    assert len(spans) == 1 and spans[0]["attributes"]["process.exit.code"] == 3


@pytest.mark.parametrize("mode", [0o644, None])
def test_a_command_that_would_not_start_fails_as_bare(tmp_path, env, mode):
    path = tmp_path / "job.sh"
    if mode is not None:
        path.write_text("#!/bin/bash\necho hi\n")
        path.chmod(mode)
    bare = run(TRACEEXEC + ["--", str(path)], env)
    traced = run(TRACEEXEC + ["--lines", "--", str(path)], env)
    assert outcome(traced) == outcome(bare) and bare.returncode in (126, 127)


def test_a_background_job_outlives_the_script_and_keeps_running(tmp_path, env):
    marker = tmp_path / "late"
    result = run(TRACEEXEC + ["--lines", "--", script("background.sh"), str(marker)], env)
    assert result.returncode == 0 and result.stdout == b"started\n"
    deadline = time.monotonic() + 30
    while not marker.exists():  # its traced lines after the script's end still go somewhere
        assert time.monotonic() < deadline, "the background job died"
        time.sleep(0.05)
    assert marker.read_text() == "late\n"


def test_the_environment_is_that_of_plain_traceexec(tmp_path, env):
    probe = tmp_path / "env.sh"
    (tmp_path / "child.sh").write_text("set -o | grep xtrace\n")  # a child bash: no xtrace
    probe.write_text("#!/bin/bash\nenv | grep -v ^TRACEPARENT= | sort\nbash %s\n"
                     % (tmp_path / "child.sh"))
    probe.chmod(0o755)
    plain = run(TRACEEXEC + ["--", str(probe)], env)
    traced = run(TRACEEXEC + ["--lines", "--", str(probe)], env)
    assert outcome(traced) == outcome(plain)


def test_signals_end_it_as_bare(tmp_path, env):
    killer = tmp_path / "kill.sh"
    killer.write_text("#!/bin/bash\necho before\nkill -TERM $$\necho after\n")
    killer.chmod(0o755)
    bare = run([str(killer)], env)
    traced = run(TRACEEXEC + ["--lines", "--", str(killer)], env)
    assert outcome(traced) == outcome(bare) and bare.returncode == -15


@pytest.mark.parametrize("trap,status", [(True, 7), (False, -signal.SIGTERM)])
def test_signals_sent_to_traceexec_reach_the_script(tmp_path, home, env, trap, status):
    job = tmp_path / "job.sh"
    job.write_text("#!/bin/bash\n%secho ready\nwhile :; do sleep 0.1; done\n"
                   % ("trap 'echo got TERM; exit 7' TERM\n" if trap else ""))
    job.chmod(0o755)
    proc = subprocess.Popen(TRACEEXEC + ["--lines", "--", str(job)], env=env,
                            stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"ready\n"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == status
    assert proc.stdout.read() == (b"got TERM\n" if trap else b"")
    spans = only_trace(home)
    root = [s for s in spans if not s["parent_span_id"]][0]
    lines = {s["attributes"].get("traceexec.line.command") for s in spans}
    assert "echo ready" in lines and ("echo got TERM" in lines) == trap


@needs_ptrace
def test_with_processes_a_line_is_the_parent_of_what_it_started(tmp_path, home, env):
    job = tmp_path / "job.sh"
    job.write_text("#!/bin/bash\nwork() {\n  sleep 0.01\n}\nwork\necho xyz | tr x X\n"
                   "( ls / > /dev/null )\n")
    job.chmod(0o755)
    bare = run([str(job)], env)
    traced = run(TRACEEXEC + ["--lines", "--processes", "--", str(job)], env)
    assert outcome(traced) == outcome(bare) == (0, b"Xyz\n", b"")
    spans = only_trace(home)
    ids = {s["span_id"]: s for s in spans}

    def parent_command(name):
        process, = [s for s in spans if s["name"] == name
                    and "process.command_args" in s["attributes"]]
        return ids[process["parent_span_id"]]["attributes"].get("traceexec.line.command")

    assert parent_command("sleep") == "sleep 0.01"
    assert parent_command("tr") == "tr x X"
    assert parent_command("ls") == "ls /"
    assert not [s for s in spans if s["attributes"].get("traceexec.process.forked")]
    root = [s for s in spans if not s["parent_span_id"]][0]
    assert root["attributes"]["traceexec.processes.count"] >= 4


def ancestry(spans, span):
    """The names of ``span``'s parents, nearest first."""
    ids = {s["span_id"]: s for s in spans}
    chain = []
    while span["parent_span_id"] in ids:
        span = ids[span["parent_span_id"]]
        chain.append(span["name"])
    return chain


def line_span(spans, command):
    found = [s for s in spans if s["attributes"].get("traceexec.line.command") == command]
    assert len(found) == 1, (command, sorted(s["name"] for s in spans))
    return found[0]


NIGHTLY = """\
name: nightly
lines: true
steps:
  - name: script
    shell: bash
    script: |
      build() { echo built; }
      build
  - name: cmd
    shell: bash
    command: 'f() { echo "in f"; }; f'
    depends: script
  - name: plain
    command: /bin/echo plain
    depends: cmd
  - name: quiet
    shell: bash
    command: 'g() { echo quiet; }; g'
    lines: false
    depends: plain
"""


def test_dag_key_lines_traces_bash_steps_by_line(tmp_path, home, env):
    """``lines: true`` (DAG-wide, or a step's): script and command steps run by bash
    are traced by line, under their step's span; a command run without a shell and
    a step with ``lines: false`` are as before; the output is the same."""
    (tmp_path / "nightly.yaml").write_text(NIGHTLY)
    (tmp_path / "bare.yaml").write_text(NIGHTLY.replace("lines: true\n", "").replace(
        "name: nightly", "name: bare"))
    bare = run(TRACEEXEC + ["run", "--quiet", "bare.yaml"], env, cwd=tmp_path)
    traced = run(TRACEEXEC + ["run", "--quiet", "nightly.yaml"], env, cwd=tmp_path)
    assert bare.returncode == traced.returncode == 0, traced.stderr
    assert b"--lines" not in traced.stderr
    assert traced.stdout.replace(b"nightly", b"bare") == bare.stdout
    trace, = [t for t in store.trace_ids(str(home))
              if any(s["name"] == "DAG: nightly" for s in store.read(str(home), t))]
    spans = store.read(str(home), trace)
    assert ancestry(spans, line_span(spans, "echo built")) == [
        "2: build", "Step: script", "DAG: nightly"]
    assert ancestry(spans, line_span(spans, "echo 'in f'")) == [
        "1: f", "Step: cmd", "DAG: nightly"]
    steps = {s["name"]: s for s in spans if s["name"].startswith("Step: ")}
    for quiet in ("Step: plain", "Step: quiet"):
        assert not [s["name"] for s in spans
                    if s["parent_span_id"] == steps[quiet]["span_id"]], quiet


@pytest.mark.parametrize("value", ["maybe", "1", "all"])
def test_dag_lines_must_be_true_or_false(tmp_path, env, value):
    dag = tmp_path / "bad.yaml"
    dag.write_text("steps:\n  - name: a\n    command: 'true'\n    lines: %s\n" % value)
    result = run(TRACEEXEC + ["validate", str(dag)], env)
    assert result.returncode == 2
    assert result.stderr.decode() == "traceexec: %s:4: lines must be true or false\n" % dag


MAKEFILE = """\
SHELL = /bin/bash
.SHELLFLAGS = -ec
all: out.txt
\t@f() { echo "in f"; }; f
out.txt:
\t@count() { echo "$$#"; }; count a b > $@
\t@echo made
"""


def make_bare_and_traced(tmp_path, env, makefile, *options):
    """``make`` bare, then under ``traceexec --make OPTIONS``, each in a fresh folder."""
    results = []
    for prefix in ([], TRACEEXEC + ["--make"] + list(options) + ["--"]):
        work = tmp_path / ("traced" if prefix else "bare")
        work.mkdir(exist_ok=True)
        (work / "Makefile").write_text(makefile)
        results.append(run(prefix + ["make", "--no-print-directory"], env, cwd=work))
        assert (work / "out.txt").read_text() == "2\n"
    return results


def test_make_lines_traces_recipes_run_by_bash(tmp_path, home, env):
    bare, traced = make_bare_and_traced(tmp_path, env, MAKEFILE, "--lines")
    assert outcome(traced) == outcome(bare) == (0, b"made\nin f\n", b"")
    spans = only_trace(home)
    ancestors = ancestry(spans, line_span(spans, "echo 'in f'"))
    assert ancestors[0] == "1: f" and ancestors[2:] == ["all", "make"]
    ancestors = ancestry(spans, line_span(spans, "echo 2"))
    assert ancestors[0] == "1: count a b" and ancestors[2:] == ["out.txt", "make"]
    assert ancestry(spans, line_span(spans, "echo made"))[1:] == ["out.txt", "make"]


def test_make_lines_with_sh_recipes_says_so_once(tmp_path, home, env):
    makefile = MAKEFILE.replace("SHELL = /bin/bash\n", "").replace(
        "f() { echo \"in f\"; }; f", "echo 'in f'").replace(
        "count() { echo \"$$#\"; }; count a b", "set -- a b; echo $$#")
    bare, traced = make_bare_and_traced(tmp_path, env, makefile, "--lines")
    assert (traced.returncode, traced.stdout) == (bare.returncode, bare.stdout) == (
        0, b"made\nin f\n")
    message = traced.stderr.decode()
    assert message.count("\n") == 1 and message.startswith("traceexec: --lines: "), message
    assert "/bin/sh is not a bash script" in message and "without line spans" in message
    spans = only_trace(home)
    assert not [s for s in spans if "traceexec.line.command" in s["attributes"]]


def test_make_lines_in_a_sub_make(tmp_path, home, env):
    """A sub-make's recipes inherit descriptor 237 from the traced recipe line that
    started it: under --make --lines that is our own trace, replaced, not refused."""
    makefile = MAKEFILE.replace("\t@echo made\n", "\t@echo made\n\t@$(MAKE) -s -f inner.mk\n")
    inner = "SHELL = /bin/bash\nall:\n\t@g() { echo \"inner $$1\"; }; g x\n"
    for folder in ("bare", "traced"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "inner.mk").write_text(inner)
    bare, traced = make_bare_and_traced(tmp_path, env, makefile, "--lines")
    assert outcome(traced) == outcome(bare) == (0, b"made\ninner x\nin f\n", b"")
    spans = only_trace(home)
    assert ancestry(spans, line_span(spans, "echo 'inner x'"))[0] == "1: g x"
