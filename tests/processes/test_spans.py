"""Spans from a process tree: nesting, names, attributes, status, folding."""
from traceexec.delivery import span
from traceexec.processes import fold, spans
from traceexec.processes.stream import ChildTimes, Exec, Exit, Fork
from traceexec.processes.tree import Tree

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
ROOT = "00f067aa0ba902b7"


def records_of(events, end_ns=100, **kwargs):
    tree = Tree()
    tree.apply(events)
    root, nodes = spans.build(tree, end_ns)
    nodes, _ = fold.fold(root, nodes, **kwargs) if kwargs else (nodes, 0)
    return list(spans.records(root, nodes, trace_id=TRACE, root_span_id=ROOT, wrapper_pid=1))


def by_name(records):
    return {r["name"]: r for r in records}


def test_every_program_is_a_span_under_the_program_that_started_it():
    recs = records_of([
        Exec(10, 1, "/bin/sh", ["sh", "./build.sh"]),
        Fork(10, 2, 11, False),                      # sh -c 'exec gcc ...'
        Exec(11, 3, "/bin/sh", ["sh", "-c", "exec gcc x.c"]),
        Exec(11, 4, "/usr/bin/gcc", ["gcc", "x.c"]),
        Fork(11, 5, 12, False), Exec(12, 6, "/usr/lib/cc1", ["cc1", "x.c"]),
        Exit(12, 7, 0, None, False), ChildTimes(11, 7, 12, 150, 20),
        Exit(11, 8, 1, None, False),
        Exit(10, 9, 1, None, False)])
    named = by_name(recs)
    assert set(named) == {"sh", "gcc", "cc1"}
    assert named["sh"]["parent_span_id"] == ROOT
    assert named["gcc"]["parent_span_id"] == named["sh"]["span_id"]
    assert named["cc1"]["parent_span_id"] == named["gcc"]["span_id"]
    assert (named["sh"]["start_ns"], named["sh"]["end_ns"]) == (3, 8)
    assert (named["gcc"]["start_ns"], named["gcc"]["end_ns"]) == (4, 8)
    cc1 = named["cc1"]["attributes"]
    assert cc1 == {"process.pid": 12, "process.parent_pid": 11,
                   "process.executable.name": "cc1", "process.executable.path": "/usr/lib/cc1",
                   "process.command_args": ["cc1", "x.c"], "process.exit.code": 0,
                   "traceexec.process.cpu.user": 1.5, "traceexec.process.cpu.system": 0.2}
    assert named["cc1"]["status_code"] == span.STATUS_OK
    gcc = named["gcc"]
    assert gcc["status_code"] == span.STATUS_ERROR and gcc["status_message"] == "exit status 1"
    assert gcc["attributes"]["error.type"] == "1" and gcc["kind"] == span.KIND_INTERNAL
    assert all(r["trace_id"] == TRACE for r in recs)


def test_subshells_signals_and_processes_still_running():
    recs = records_of([
        Exec(10, 1, "/bin/bash", ["bash", "-c", "(sleep 9; :) & kill"]),
        Fork(10, 2, 11, False),                      # the subshell forks sleep
        Fork(11, 3, 12, False), Exec(12, 4, "/bin/sleep", ["sleep", "9"]),
        Fork(10, 5, 13, False), Exec(13, 6, "/bin/victim", ["victim"]),
        Exit(13, 7, None, "SIGTERM", True),
        Exit(10, 8, 0, None, False)], end_ns=50)
    named = by_name(recs)
    subshell = named["bash"]
    assert subshell["attributes"]["traceexec.process.forked"] is True
    assert subshell["attributes"]["process.command_args"] == ["bash", "-c",
                                                              "(sleep 9; :) & kill"]
    assert subshell["attributes"]["traceexec.process.running"] is True
    assert named["sleep"]["parent_span_id"] == subshell["span_id"]
    assert (named["sleep"]["end_ns"], named["sleep"]["status_code"]) == (50, span.STATUS_UNSET)
    victim = named["victim"]
    assert victim["status_message"] == "killed by SIGTERM"
    assert victim["attributes"]["process.exit.code"] == 128 + 15
    assert victim["attributes"]["error.type"] == "SIGTERM"
    assert victim["attributes"]["traceexec.process.core_dumped"] is True


def test_the_commands_own_later_execs_nest_under_the_wrapper_span():
    recs = records_of([Exec(10, 1, "/usr/bin/env", ["env", "X=1", "make"]),
                       Exec(10, 2, "/usr/bin/make", ["make"]),
                       Exit(10, 3, 0, None, False)])
    assert [(r["name"], r["parent_span_id"], r["attributes"]["process.parent_pid"])
            for r in recs] == [("make", ROOT, 1)]


def test_arguments_are_redacted_as_the_wrapper_does():
    tree = Tree()
    tree.apply([Exec(10, 1, "/bin/sh", ["sh"]), Fork(10, 2, 11, False),
                Exec(11, 3, "/usr/bin/curl", ["curl", "--token", "s3cret", "https://u:pw@h/"]),
                Exec(11, 4, "/usr/bin/mysql", ["mysql", "--password=hunter2", "db"])])
    root, nodes = spans.build(tree, 10)
    recs = list(spans.records(root, nodes, trace_id=TRACE, root_span_id=ROOT, patterns=["db"]))
    args = [r["attributes"]["process.command_args"] for r in recs]
    assert args == [["curl", "--token", "[REDACTED]", "https://u:[REDACTED]@h/"],
                    ["mysql", "--password=[REDACTED]", "[REDACTED]"]]
    recs = list(spans.records(root, nodes, trace_id=TRACE, root_span_id=ROOT, redact=False))
    assert recs[0]["attributes"]["process.command_args"][2] == "s3cret"


def loop_events(count, fail_every=0, long_every=0):
    """sh running ``count`` children ``sh -c 'exec cc ...'``, each with an ``as`` child."""
    events, pid, t = [Exec(1, 0, "/bin/sh", ["sh", "build.sh"])], 100, 10
    for i in range(count):
        duration = 500 if long_every and i % long_every == 0 else 5 + i % 3
        code = 1 if fail_every and i % fail_every == fail_every - 1 else 0
        events += [Fork(1, t, pid, False), Exec(pid, t + 1, "/bin/sh", ["sh", "-c", "cc"]),
                   Exec(pid, t + 2, "/usr/bin/cc", ["cc", "f%d.c" % i]),
                   Fork(pid, t + 3, pid + 1, False), Exec(pid + 1, t + 3, "/usr/bin/as", ["as"]),
                   Exit(pid + 1, t + 4, 0, None, False), ChildTimes(pid, t + 4, pid + 1, 1, 1),
                   Exit(pid, t + duration, code, None, False)]
        pid, t = pid + 2, t + duration + 1
    return events + [Exit(1, t, 0, None, False)]


def test_small_trees_are_never_folded():
    recs = records_of(loop_events(30), threshold=1000)
    assert len(recs) == 90 and not any("(folded)" in r["name"] for r in recs)


def test_repeated_children_fold_into_one_summary_keeping_failures_and_the_longest():
    recs = records_of(loop_events(400, fail_every=50, long_every=100), threshold=100,
                      group=10, keep=3)
    named = [r for r in recs if r["name"] == "cc (folded)"]
    assert len(named) == 1
    summary = named[0]
    kept = [r for r in recs if r["name"] == "sh" and r["parent_span_id"] == ROOT]
    failed = [r for r in kept if r["status_code"] == span.STATUS_ERROR]
    assert len(failed) == 8                  # every failure stays, with its subtree
    assert len(kept) == 8 + 3                # and the 3 longest (the 500 ns ones)
    attrs = summary["attributes"]
    assert attrs["traceexec.fold.count"] == 400 - len(kept)
    assert attrs["traceexec.fold.processes"] == 2 * (400 - len(kept))
    assert attrs["traceexec.fold.duration.max"] == round(500 / 1e9, 6)
    assert attrs["process.executable.name"] == "cc"
    assert summary["parent_span_id"] == ROOT and summary["status_code"] == span.STATUS_OK
    assert len(recs) == 1 + 3 * len(kept)    # the summary, and 3 spans per kept child
    ids = {r["span_id"] for r in recs} | {ROOT}
    assert all(r["parent_span_id"] in ids for r in recs)
