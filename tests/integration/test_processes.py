"""``traceexec --processes`` with real processes: the outcome of a plain run, a span
per process, at the local store and at a real receiver.

Each command runs bare (or under plain ``traceexec``) and under
``traceexec --processes``; stdout, stderr and exit status must be the same.
"""
from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time

import pytest

from conftest import (ROOT, TRACEEXEC, needs_ptrace, only_trace,
                      spans_by_name, traceexec_env)
from traceexec.delivery import span as spanlib

EXAMPLE = os.path.join(ROOT, "examples", "processes")
INTEROP = os.path.join(ROOT, "examples", "interop")
STRACE = shutil.which("strace")
assert STRACE, "strace is needed (scripts/test installs it)"


def run(args, env, cwd=None, timeout=120):
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, timeout=timeout)


def elsewhere(env, tmp_path):
    """``env`` with another home, for a plain run whose span must not mix in."""
    path = tmp_path / "plain-home"
    path.mkdir(exist_ok=True)
    return dict(env, TRACEEXEC_HOME=str(path))


def outcome(result):
    return result.returncode, result.stdout, result.stderr


def root_of(spans):
    roots = [s for s in spans if not s["parent_span_id"]]
    assert len(roots) == 1, roots
    return roots[0]


def assert_one_tree(spans):
    """Every span's parent is in the trace (or it is the root)."""
    ids = {s["span_id"] for s in spans}
    assert all(s["parent_span_id"] in ids for s in spans if s["parent_span_id"])
    assert len({s["trace_id"] for s in spans}) == 1


def children(spans, parent):
    return [s for s in spans if s["parent_span_id"] == parent["span_id"]]


@needs_ptrace
def test_an_unedited_script_every_command_a_span_same_outcome(tmp_path, home, env):
    work = tmp_path / "job"
    shutil.copytree(EXAMPLE, work)
    bare = run(["./nightly.sh"], env, cwd=work)
    traced = run(TRACEEXEC + ["--processes", "--", "./nightly.sh"], env, cwd=work)
    assert outcome(traced) == outcome(bare) == (0, b"no outlier\nrows: 300\n", b"")
    spans = only_trace(home)
    assert_one_tree(spans)
    root = root_of(spans)
    assert root["name"] == "nightly.sh" and root["attributes"]["traceexec.processes.count"] > 15
    named = spans_by_name(spans)
    for command in ("mktemp", "seq", "sort", "head", "gzip", "ls", "grep", "cat", "awk", "rm"):
        assert len(named[command]) == 1, command
    assert len(named["sleep"]) == 3 and len(named["wc"]) == 3
    # the pipe's two ends and the steps run by the script itself sit under the script
    for command in ("seq", "sort", "head", "grep", "cat", "awk"):
        assert named[command][0]["parent_span_id"] == root["span_id"], command
    # a subshell is a span of the script's program, with its commands inside
    subshells = [s for s in named["nightly.sh"] if s is not root]
    assert all(s["attributes"]["traceexec.process.forked"] for s in subshells)
    gzip_parent = next(s for s in subshells if s["span_id"] == named["gzip"][0]["parent_span_id"])
    assert named["ls"][0]["parent_span_id"] == gzip_parent["span_id"]
    # each background job is a subshell with its sleep and wc inside
    jobs = [s for s in subshells if {c["name"] for c in children(spans, s)} == {"sleep", "wc"}]
    assert len(jobs) == 3
    grep = named["grep"][0]
    assert grep["status_code"] == spanlib.STATUS_ERROR
    assert grep["attributes"]["process.exit.code"] == 1
    assert grep["attributes"]["process.command_args"][:2] == ["grep", "-q"]
    assert named["awk"][0]["attributes"]["process.exit.code"] == 0
    for s in spans:
        assert root["start_ns"] <= s["start_ns"] <= s["end_ns"] <= root["end_ns"], s["name"]


@needs_ptrace
def test_a_script_without_a_shebang_runs_with_sh(tmp_path, home, env):
    script = tmp_path / "noshebang"
    script.write_text("echo \"from $0\" | tr a-z A-Z\nexit 4\n")
    script.chmod(0o755)
    bare = run(["sh", "-c", 'exec "$0"', str(script)], env)  # a shell runs it with sh
    traced = run(TRACEEXEC + ["--processes", "--", str(script)], env)
    assert outcome(traced) == outcome(bare)
    assert bare.returncode == 4 and bare.stdout == ("FROM %s\n" % script).upper().encode()
    named = spans_by_name(only_trace(home))
    assert {"noshebang", "tr"} <= set(named)
    assert named["noshebang"][0]["attributes"]["process.exit.code"] == 4
    plain = run(TRACEEXEC + ["--", str(script)], elsewhere(env, tmp_path))
    assert outcome(plain) == outcome(traced)


@needs_ptrace
def test_make_j_with_a_recursive_make(tmp_path, home, env):
    bare_dir, traced_dir = tmp_path / "bare", tmp_path / "traced"
    shutil.copytree(EXAMPLE, bare_dir)
    shutil.copytree(EXAMPLE, traced_dir)
    bare = run(["make", "-j2", "--no-print-directory"], env, cwd=bare_dir)
    traced = run(TRACEEXEC + ["--processes", "--", "make", "-j2", "--no-print-directory"], env,
                 cwd=traced_dir)
    assert traced.returncode == bare.returncode == 0, traced.stderr
    assert sorted(traced.stdout.splitlines()) == sorted(bare.stdout.splitlines())
    assert (traced_dir / "report.txt").read_bytes() == (bare_dir / "report.txt").read_bytes()
    spans = only_trace(home)
    assert_one_tree(spans)
    root = root_of(spans)
    named = spans_by_name(spans)
    submake = next(s for s in named["make"] if s is not root)
    assert submake["attributes"]["process.command_args"][1:3] == ["-C", "lib"]
    assert submake["parent_span_id"] == root["span_id"]
    # the sub-make's recipe lines run under it (make runs a simple line without a shell)
    inner = children(spans, submake)
    assert sorted(s["name"] for s in inner) == ["sh", "sh", "sleep", "sleep"], inner
    assert {"seq", "sort", "head", "tr", "wc"} <= set(named)


@needs_ptrace
def test_make_shellflags_trace_each_recipe_line(tmp_path, home, env):
    work = tmp_path / "make"
    shutil.copytree(EXAMPLE, work)
    result = run(TRACEEXEC + ["--name", "build", "--", "make", "-j2", "SHELL=traceexec",
                              ".SHELLFLAGS=--processes --name=$@ -c"], env, cwd=work)
    assert result.returncode == 0, result.stderr
    assert b"cannot trace" not in result.stderr
    spans = only_trace(home)
    assert_one_tree(spans)
    named = spans_by_name(spans)
    line = named["sorted.txt"][0]      # the recipe line's span, from .SHELLFLAGS
    assert [s["name"] for s in children(spans, line)] == ["sort"]
    report_lines = named["report.txt"]
    assert sorted(c["name"] for r in report_lines for c in children(spans, r)) == [
        "head", "tr", "wc"]


@needs_ptrace
def test_processes_killed_by_signals(tmp_path, home, env):
    # The job is killed once it runs sleep (its name in /proc), so that its span is one of
    # sleep 30.  dash says "Terminated" only when its wait builtin is what reaps the job,
    # which the job's end can beat, bare too (3 of 60 bare runs beside a burner): the
    # builtin's own stderr is set aside, and what is compared is certain.
    script = ('sleep 30 & until read c < /proc/$!/comm && [ "$c" = sleep ]; do sleep 0.01; done;'
              ' kill -TERM $!; wait $! 2>/dev/null; echo status=$?')
    bare = run(["sh", "-c", script], env)
    traced = run(TRACEEXEC + ["--processes", "--", "sh", "-c", script], env)
    assert outcome(traced) == outcome(bare) == (0, b"status=143\n", b"")
    sleep = next(s for s in spans_by_name(only_trace(home))["sleep"]
                 if s["attributes"]["process.command_args"] == ["sleep", "30"])
    assert sleep["status_code"] == spanlib.STATUS_ERROR
    assert sleep["status_message"] == "killed by SIGTERM"
    assert sleep["attributes"]["error.type"] == "SIGTERM"
    assert sleep["attributes"]["process.exit.code"] == 143


@needs_ptrace
@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGKILL])
def test_a_command_killed_by_a_signal_ends_traceexec_the_same_way(tmp_path, env, number):
    line = " ".join(TRACEEXEC) + " %s -- sh -c 'kill -%d $$'; echo status=$?"
    plain = run(["sh", "-c", line % ("", number)], elsewhere(env, tmp_path))
    traced = run(["sh", "-c", line % ("--processes", number)], env)
    assert outcome(traced) == outcome(plain)  # (dash says "Terminated" for SIGTERM)
    assert traced.stdout == b"status=%d\n" % (128 + number)


@needs_ptrace
def test_signals_sent_to_traceexec_reach_the_command(tmp_path, home, env):
    script = "trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.1; done"
    proc = subprocess.Popen(TRACEEXEC + ["--processes", "--", "sh", "-c", script], env=env,
                            stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"ready\n"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 7 and proc.stdout.read() == b"got TERM\n"
    root = root_of(only_trace(home))
    assert root["attributes"]["process.exit.code"] == 7


@needs_ptrace
def test_a_double_forking_daemon_neither_holds_traceexec_nor_loses_its_tracer(tmp_path, home,
                                                                             env):
    # The daemon waits on a FIFO that the test opens only once traceexec has returned: so
    # traceexec did not wait for it, and it is still running when traceexec ends, whatever
    # the load; then it has to fork and exec under the tracer that outlives traceexec.
    alive, fifo = tmp_path / "alive", tmp_path / "go"
    os.mkfifo(fifo)
    daemon = ("(sh -c 'read x < %s; echo alive > %s' < /dev/null > /dev/null 2>&1 &) ; "
              "echo started" % (fifo, alive))
    # stderr a file, not a pipe: strace, which outlives traceexec to keep tracing the daemon,
    # holds the stderr it was started with (a known limit, docs/wrap.md)
    with open(tmp_path / "stderr", "w+b") as stderr:
        traced = subprocess.run(TRACEEXEC + ["--processes", "--", "sh", "-c", daemon], env=env,
                                stdout=subprocess.PIPE, stderr=stderr, timeout=120)
        stderr.seek(0)
        traced.stderr = stderr.read()
    assert outcome(traced) == (0, b"started\n", b"")
    assert not alive.exists()
    with open(fifo, "w") as go:
        go.write("go\n")
    deadline = time.monotonic() + 60
    while (not alive.exists() or alive.read_text() != "alive\n") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive.read_text() == "alive\n"   # the daemon could still fork and exec
    spans = only_trace(home)
    assert_one_tree(spans)
    root = root_of(spans)
    assert root["attributes"]["traceexec.processes.running"] >= 1
    running = [s for s in spans if s["attributes"].get("traceexec.process.running")]
    assert running and all(s["status_code"] == spanlib.STATUS_UNSET for s in running)


@needs_ptrace
def test_timeout_kills_the_tree_as_without_processes(tmp_path, home, env):
    plain = run(TRACEEXEC + ["--timeout", "1", "--", "sh", "-c", "sleep 30; echo no"],
                elsewhere(env, tmp_path))
    started = time.monotonic()
    traced = run(TRACEEXEC + ["--processes", "--timeout", "1", "--", "sh", "-c",
                              "sleep 30; echo no"], env)
    assert time.monotonic() - started < 25
    assert outcome(traced) == outcome(plain) == (124, b"", b"")
    spans = only_trace(home)
    assert root_of(spans)["attributes"]["error.type"] == "timeout"
    assert spans_by_name(spans)["sleep"][0]["attributes"]["error.type"] == "SIGTERM"


@needs_ptrace
def test_dash_c_mode(home, env):
    result = run(TRACEEXEC + ["--processes", "--name", "step", "-c", "echo a | tr a b"], env)
    assert outcome(result) == (0, b"b\n", b"")
    spans = only_trace(home)
    root = root_of(spans)
    assert root["name"] == "step"
    # echo is a builtin: the pipe's left end is a forked sh
    left, right = sorted(children(spans, root), key=lambda s: s["name"])
    assert (left["name"], right["name"]) == ("sh", "tr")
    assert left["attributes"]["traceexec.process.forked"] is True


@needs_ptrace
def test_instrumented_python_child_and_nested_traceexec_join_the_trace(tmp_path, receiver,
                                                                        home):
    # Both read TRACEPARENT, which every process of the tree inherits from the
    # command: their spans attach to the wrapper's span, the trace's root.
    job = tmp_path / "job.sh"
    job.write_text("#!/bin/sh\n%s %s\n%s --name extract -- seq 3 | wc -l\n" % (
        sys.executable, os.path.join(INTEROP, "python_child.py"), " ".join(TRACEEXEC)))
    job.chmod(0o755)
    env = traceexec_env(home, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.http_endpoint[:-10])
    result = run(TRACEEXEC + ["--processes", "--name", "job", "--", str(job)], env)
    assert outcome(result) == (0, b"loaded 1000 rows\n3\n", b"")
    spans = receiver.wait_for(0)
    deadline = time.monotonic() + 60
    while not {"job", "load-report", "parse", "extract"} <= {s["name"] for s in spans}:
        assert time.monotonic() < deadline, sorted(s["name"] for s in spans)
        time.sleep(0.1)
        spans = receiver.spans()
    assert_one_tree(spans)
    named = spans_by_name(spans)
    job_span = named["job"][0]
    assert named["load-report"][0]["parent_span_id"] == job_span["span_id"]
    assert named["parse"][0]["parent_span_id"] == named["load-report"][0]["span_id"]
    assert named["extract"][0]["parent_span_id"] == job_span["span_id"]
    python = [s for s in spans if s["attributes"].get("process.command_args", [""])[-1:] ==
              [os.path.join(INTEROP, "python_child.py")] and s["parent_span_id"] ==
              job_span["span_id"]]
    assert len(python) == 1     # the python process's own span, beside its spans
    # the nested traceexec's process, with its command inside, is there too (and, when
    # it started one, the exporter it forked: also processes of the tree)
    nested = [s for s in spans if s["attributes"].get("process.command_args", [])[-4:] ==
              ["extract", "--", "seq", "3"] and not s["attributes"].get(
                  "traceexec.process.forked")]
    assert len(nested) == 1 and "seq" in [c["name"] for c in children(spans, nested[0])]


@needs_ptrace
@pytest.mark.parametrize("how", ["missing", "refused", "outer-tracer"])
def test_without_ptrace_the_command_runs_as_plain_traceexec(tmp_path, home, env, how):
    argv = ["sh", "-c", "echo out; echo err >&2; exit 3"]
    plain = run(TRACEEXEC + ["--"] + argv, elsewhere(env, tmp_path))
    if how == "missing":
        env = dict(env, TRACEEXEC_STRACE=str(tmp_path / "no-strace"))
    elif how == "refused":
        fake = tmp_path / "strace"
        fake.write_text("#!/bin/sh\necho 'strace: attach: ptrace(PTRACE_SEIZE, 9): "
                        "Operation not permitted' >&2\nexit 1\n")
        fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
        env = dict(env, TRACEEXEC_STRACE=str(fake))
    prefix = [STRACE, "-f", "-o", os.devnull] if how == "outer-tracer" else []
    traced = run(prefix + TRACEEXEC + ["--processes", "--"] + argv, env)
    assert (traced.returncode, traced.stdout) == (plain.returncode, plain.stdout) == (3, b"out\n")
    message, *rest = traced.stderr.decode().splitlines()
    assert rest == ["err"]
    assert message.startswith("traceexec: --processes: cannot trace processes here: ")
    assert message.endswith("; running without process spans")
    assert {"missing": "not found", "refused": "not permitted",
            "outer-tracer": "traced"}[how] in message
    spans = only_trace(home)
    assert len(spans) == 1 and "traceexec.processes.count" not in spans[0]["attributes"]


def test_the_plain_wrapper_loads_nothing_of_processes(env):
    result = subprocess.run([sys.executable, "-X", "importtime"] + TRACEEXEC[1:] + ["--", "true"],
                            capture_output=True, env=env)
    assert b"traceexec.wrap.supervise" in result.stderr
    assert b"traceexec.processes" not in result.stderr


@needs_ptrace
def test_dag_steps_with_processes(tmp_path, home, env):
    dag = tmp_path / "nightly.yaml"
    dag.write_text(
        "name: nightly\n"
        "processes: true\n"
        "steps:\n"
        "  - name: extract\n"
        "    command: seq 3 | wc -l\n"
        "  - name: quiet\n"
        "    command: seq 2 | wc -l\n"
        "    processes: false\n"
        "    depends: extract\n")
    env = dict(env, SHELL="/bin/sh")  # Dagu's default shell is $SHELL's
    result = run(TRACEEXEC + ["run", "--quiet", str(dag)], env)
    assert result.returncode == 0, result.stderr
    spans = only_trace(home)
    assert_one_tree(spans)
    named = spans_by_name(spans)
    extract, quiet = named["Step: extract"][0], named["Step: quiet"][0]
    # the step's span stands for its command (sh -c); its processes nest under it
    assert extract["attributes"]["process.command_args"][:3] == ["/bin/sh", "-c",
                                                                 "seq 3 | wc -l"]
    assert sorted(s["name"] for s in children(spans, extract)) == ["seq", "wc"]
    assert children(spans, quiet) == []


@pytest.mark.parametrize("value", ["maybe", "1", "[all]"])
def test_dag_processes_must_be_true_false_or_all(tmp_path, env, value):
    dag = tmp_path / "bad.yaml"
    dag.write_text("steps:\n  - name: a\n    command: 'true'\n    processes: %s\n" % value)
    result = run(TRACEEXEC + ["validate", str(dag)], env)
    assert result.returncode == 2
    assert result.stderr.decode() == (
        "traceexec: %s:4: processes must be true, false or all\n" % dag)


LOOP = "for i in $(seq 1100); do /usr/bin/test $((i % 500)) != 0; done; echo done"


@needs_ptrace
def test_a_thousand_processes_are_folded_and_all_keeps_them(tmp_path, home, env):
    result = run(TRACEEXEC + ["--processes", "--", "sh", "-c", LOOP], env)
    assert outcome(result) == (0, b"done\n", b"")
    spans = only_trace(home)
    root = root_of(spans)
    assert root["attributes"]["traceexec.processes.folded"] > 1000
    summary, = [s for s in spans if s["name"] == "test (folded)"]
    failed = [s for s in spans if s["name"] == "test" and s["status_code"] == 2]
    assert len(failed) == 2                    # i = 500 and 1000: each its own span
    assert summary["attributes"]["traceexec.fold.count"] + len(
        [s for s in spans if s["name"] == "test"]) == 1100
    assert len(spans) < 30
    shown = run(TRACEEXEC + ["show", "--no-color"], env)
    assert shown.returncode == 0
    rows = shown.stdout.decode().splitlines()
    assert any(r[3:].startswith("test (folded)") for r in rows)
    assert sum(1 for r in rows if r[3:].startswith("test ") and " ERROR " in r) == 2

    all_home = tmp_path / "all"
    all_home.mkdir()
    env = dict(env, TRACEEXEC_HOME=str(all_home))
    result = run(TRACEEXEC + ["--processes=all", "--", "sh", "-c", LOOP], env)
    assert outcome(result) == (0, b"done\n", b"")
    spans = only_trace(all_home)
    assert len(spans) == 1 + 1 + 1100        # sh, seq, every test
    shown = run(TRACEEXEC + ["show", "--no-color"], env)
    rows = shown.stdout.decode().splitlines()
    # two heading lines, a row per span, the critical path's legend
    assert shown.returncode == 0 and len(rows) == 2 + len(spans) + 1
    assert "critical path" in rows[-1]
    exits = [r for r in rows if " ERROR " in r]
    assert len(exits) == 2
    assert all(r.split()[r.split().index("ERROR") + 1] == "1" for r in exits)  # EXIT


@needs_ptrace
def test_tty_and_processes_together(home, env):
    result = run(TRACEEXEC + ["--processes", "--tty", "--", "sh", "-c",
                              "test -t 1 && /bin/echo on a tty; exit 5"], env)
    assert (result.returncode, result.stdout.replace(b"\r\n", b"\n")) == (5, b"on a tty\n")
    spans = only_trace(home)
    assert [s["name"] for s in spans if s["parent_span_id"]] == ["echo"]


@needs_ptrace
def test_an_unwritable_home_warns_once_however_many_spans(env):
    env["TRACEEXEC_HOME"] = "/proc/traceexec-cannot-write-here"  # unwritable even for root
    result = run(TRACEEXEC + ["--processes=all", "--", "sh", "-c",
                              "for i in $(seq 1200); do /bin/true; done; echo out; exit 5"], env)
    assert (result.returncode, result.stdout) == (5, b"out\n")
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("traceexec: warning: span not recorded")


@needs_ptrace
def test_spans_of_a_big_tree_go_out_in_batches_and_all_arrive(home, env):
    result = run(TRACEEXEC + ["--processes=all", "--wait", "--", "sh", "-c",
                              "for i in $(seq 1200); do /bin/true; done"], env)
    assert result.returncode == 0
    spans = only_trace(home)
    assert len(spans) == 1 + 1 + 1200
    assert_one_tree(spans)
    assert root_of(spans)["attributes"]["traceexec.processes.spans"] == 1201


@needs_ptrace
def test_a_traceexec_processes_inside_a_traced_tree_leaves_the_tracing_to_the_outer(home, env):
    inner = " ".join(TRACEEXEC) + " --processes --name inner -- ls /dev/null"
    result = run(TRACEEXEC + ["--processes", "--name", "outer", "--", "sh", "-c", inner], env)
    assert outcome(result) == (0, b"/dev/null\n", b"")     # no "cannot trace" line
    spans = only_trace(home)
    assert_one_tree(spans)
    named = spans_by_name(spans)
    assert named["inner"][0]["parent_span_id"] == named["outer"][0]["span_id"]
    assert len(named["ls"]) == 1 and "traceexec.processes.count" not in named["inner"][0][
        "attributes"]


@needs_ptrace
def test_the_example_makefile_at_a_third_party_collector(tmp_path, env):
    from test_rotel import Rotel  # rotel, printing every span it accepts
    work = tmp_path / "make"
    shutil.copytree(EXAMPLE, work)
    collector = Rotel(str(tmp_path))
    try:
        result = run(TRACEEXEC + ["--processes", "--wait", "--endpoint",
                                  "127.0.0.1:%d" % collector.grpc_port, "--", "make", "-s",
                                  "-j2"], env, cwd=work)
        assert result.returncode == 0, result.stderr
        deadline = time.monotonic() + 60
        while len(collector.spans()) < 14 and time.monotonic() < deadline:
            time.sleep(0.1)
        received = collector.spans()
    finally:
        collector.stop()
    names = sorted(s["name"] for s in received)
    assert names == ["head", "make", "make", "seq", "sh", "sh", "sh", "sh", "sh", "sleep",
                     "sleep", "sort", "tr", "wc"], names
    assert len({s["trace_id"] for s in received}) == 1
    root = next(s for s in received if "traceexec.processes.count" in s["attributes"])
    assert root["attributes"]["traceexec.processes.spans"] == "Int(13)"
