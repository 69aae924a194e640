"""``traceexec show``: the real wrapper fills the store, the real CLI shows it."""
from __future__ import annotations

import json
import re

import pexpect
import pytest

from traceexec.store import show, local as store
from traceexec.delivery import span

from conftest import TRACEEXEC, run_traceexec

ANSI = re.compile(r"\x1b\[[0-9;]*m")
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def show_cli(env, *args):
    return run_traceexec(["show", *args], env, text=True)


def record(span_id, parent="", *, name, start, end, service="traceexec", **extra):
    return span.new_record(trace_id=TRACE, span_id=span_id, parent_span_id=parent, name=name,
                           start_ns=start, end_ns=end, resource={"service.name": service},
                           **extra)


def rows(output):
    """Table rows below the header and the column titles, without the legend."""
    lines = output.splitlines()[2:]
    return lines[:-1] if len(lines) > 1 and "critical path" in lines[-1] else lines


def test_show_last_after_a_failing_command(env):
    assert run_traceexec(["--name", "failing", "--", "sh", "-c", "exit 3"], env).returncode == 3
    result = show_cli(env, "last")
    assert result.returncode == 0, result.stderr
    header, titles, row = result.stdout.splitlines()
    assert re.match(r"trace [0-9a-f]{32}  1 span  \S+  started \d{4}-\d\d-\d\d ", header)
    assert titles.split()[:6] == ["NAME", "SERVICE", "START", "DURATION", "STATUS", "EXIT"]
    assert row.split()[:6] == ["failing", "traceexec", "0", row.split()[3], "ERROR", "3"]
    assert "\x1b" not in result.stdout  # piped: plain text


def test_json_is_one_otlp_document_with_the_span(env):
    run_traceexec(["--attr", "job=nightly", "--", "sh", "-c", "exit 3"], env)
    result = show_cli(env, "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    (otlp,) = [s for rs in document["resourceSpans"] for ss in rs["scopeSpans"]
               for s in ss["spans"]]
    attributes = {a["key"]: a["value"] for a in otlp["attributes"]}
    assert attributes["process.exit.code"] == {"intValue": "3"}
    assert attributes["job"] == {"stringValue": "nightly"}
    assert otlp["status"]["code"] == span.STATUS_ERROR
    assert re.fullmatch(r"[0-9a-f]{32}", otlp["traceId"])


def test_nested_wrappers_render_as_a_tree(env):
    result = run_traceexec(["--name", "outer", "--"] + TRACEEXEC
                           + ["--name", "inner", "--", "true"], env)
    assert result.returncode == 0, result.stderr
    output = show_cli(env).stdout
    assert "2 spans" in output.splitlines()[0]
    outer, inner = rows(output)
    assert outer.startswith("outer ")
    assert re.match(r"(└─ |`- )inner ", inner)


def test_list_shows_recent_traces(env):
    run_traceexec(["--name", "first", "--", "true"], env)
    run_traceexec(["--name", "second", "--", "false"], env)
    result = show_cli(env, "--list")
    assert result.returncode == 0, result.stderr
    titles, *lines = result.stdout.splitlines()
    assert titles.split() == ["TRACE", "ID", "ROOT", "SPANS", "START", "DURATION", "STATUS"]
    assert [line.split()[1] for line in lines] == ["second", "first"]
    assert lines[0].split()[-1] == "ERROR" and lines[1].split()[-1] == "OK"


@pytest.mark.parametrize("args", [["0123456789abcdef"], ["--list"], ["last"]])
def test_unknown_trace_or_empty_store_is_one_line_exit_2(env, args):
    result = show_cli(env, *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


def test_unknown_trace_with_a_store(env):
    run_traceexec(["--", "true"], env)
    result = show_cli(env, "ffffffff")
    assert (result.returncode, result.stderr) == (2, "traceexec: no trace ffffffff in the "
                                                     "local store\n")


def test_bad_option_is_a_usage_error(env):
    result = show_cli(env, "--bogus")
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1


def run_in_terminal(env, *args):
    child = pexpect.spawn(TRACEEXEC[0], TRACEEXEC[1:] + ["show", *args], env=env,
                          dimensions=(40, 140), timeout=30)
    output = child.read().decode()
    child.close()
    return child.exitstatus, output


def test_colours_on_a_terminal_unless_no_color(env):
    run_traceexec(["--", "sh", "-c", "exit 3"], env)
    status, output = run_in_terminal(env)
    assert status == 0 and ANSI.search(output)
    assert run_in_terminal(dict(env, NO_COLOR="1"))[1].count("\x1b[") == 0
    assert run_in_terminal(env, "--no-color")[1].count("\x1b[") == 0


# --- rendering, on records built here ---------------------------------------------

def parallel_trace():
    return [
        record("00000000000000a1", name="dag", start=0, end=1_000_000_000,
               attributes={"dag.status": "failed"}),
        record("00000000000000b2", "00000000000000a1", name="late", start=500_000_000,
               end=1_000_000_000, service="node-app",
               attributes={"step.exit_code": 1, "error.type": "1"},
               status_code=span.STATUS_ERROR),
        record("00000000000000b1", "00000000000000a1", name="early", start=0,
               end=400_000_000, service="py-app", status_code=span.STATUS_OK),
    ]


def bar_extent(line):
    bar = line[line.index("|") + 1:line.rindex("|")]
    cells = [i for i, c in enumerate(bar) if c != " "]
    return cells[0], cells[-1]


def test_parallel_spans_sit_side_by_side_on_the_time_axis():
    lines = show.render_trace(parallel_trace(), width=120)
    dag, early, late = rows("\n".join(lines))
    assert early.split()[:2] == ["├─", "early"] and "py-app" in early
    assert late.split()[:2] == ["└─", "late"] and "node-app" in late
    assert bar_extent(early)[1] < bar_extent(late)[0]
    assert bar_extent(dag) == (bar_extent(early)[0], bar_extent(late)[1])
    assert "dag.status=failed" in dag
    assert "ERROR" in late and " 1 " in late and "error.type=1" in late
    assert "+500ms" in late and "400ms" in early
    assert all(len(line) <= 120 for line in lines)


def test_colour_is_only_added_when_asked():
    assert not any("\x1b" in line for line in show.render_trace(parallel_trace()))
    coloured = show.render_trace(parallel_trace(), color=True)
    assert [ANSI.sub("", line) for line in coloured] == show.render_trace(parallel_trace())


def test_orphans_and_cycles_are_shown_once_each():
    records = [
        record("00000000000000a1", "ffffffffffffffff", name="orphan", start=5, end=9),
        record("00000000000000c1", "00000000000000c2", name="loop1", start=1, end=2),
        record("00000000000000c2", "00000000000000c1", name="loop2", start=3, end=4),
    ]
    names = [r.name for _, r in show.walk(records)]
    assert sorted(names) == ["loop1", "loop2", "orphan"]
    assert names[0] == "orphan"


def test_ascii_glyphs_when_the_terminal_cannot_encode_unicode():
    class Latin1:
        encoding = "latin-1"
    assert show.glyphs_for(Latin1()) is show.ASCII
    lines = show.render_trace(parallel_trace(), glyphs=show.ASCII)
    "\n".join(lines).encode("ascii")


@pytest.mark.parametrize("ns, text", [
    (0, "0µs"), (1_500, "2µs"), (2_500_000, "2.5ms"), (12_300_000, "12ms"),
    (2_310_000_000, "2.31s"), (125 * 10**9, "2m05s"), (7_500 * 10**9, "2h05m")])
def test_format_duration(ns, text):
    assert show.format_duration(ns) == text


def test_ten_thousand_spans_render(home):
    # how fast is bench/show.py's to measure, side by side with peers; a bound here would
    # only measure how loaded the machine is
    records = [record("%016x" % 1, name="root", start=0, end=10**10)]
    for n in range(2, 10_001):
        parent = "%016x" % (n // 2) if n % 3 else "%016x" % (n - 1)  # wide and deep
        records.append(record("%016x" % n, parent, name="s%d" % n, start=n, end=n * 10**6))
    store.append(str(home), records)
    store.append(str(home), records[:100])  # re-delivered: still 10,000
    lines = show.render_trace(store.read(str(home), TRACE), width=160)
    assert len(lines) == 10_003 and "10000 spans" in lines[0]


def test_hostile_names_and_an_ascii_terminal(home, env):
    store.append(str(home), [
        record("00000000000000a1", name="caf\u00e9 \x1b[2J\udcff", start=0, end=10,
               attributes={"error.type": "bad\nline"})])
    result = run_traceexec(["show"], dict(env, PYTHONIOENCODING="ascii"))
    assert result.returncode == 0, result.stderr
    output = result.stdout.decode("ascii")
    assert "caf? \\x1b[2J\\udcff" in output and "error.type=bad\\nline" in output
    assert len(output.splitlines()) == 3 and "\x1b" not in output


def test_repeated_names_show_their_command_and_remote_parents_are_marked(env, home):
    env["TRACEPARENT"] = "00-%s-00f067aa0ba902b7-01" % ("ab" * 16)
    run_traceexec(["--name", "outer", "--", "sh", "-c",
                   "traceexec --name a -c 'exit 0'; traceexec --name a -c 'true'"], env)
    result = run_traceexec(["show", "last"], env)
    out = result.stdout.decode()
    assert "parent=00f067aa(remote)" in out
    assert "cmd=exit 0" in out and "cmd=true" in out
