"""The critical path: real depends edges for DAG steps, timing elsewhere."""
from __future__ import annotations

from traceexec.delivery import span
from traceexec.store import critical

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
S = 1_000_000_000


def record(span_id, parent="", *, name=None, start, end, depends=()):
    links = [{"trace_id": TRACE, "span_id": d, "trace_state": "",
              "attributes": {"traceexec.link.type": "depends"}} for d in depends]
    return span.new_record(trace_id=TRACE, span_id=span_id, parent_span_id=parent,
                           name=name or span_id, start_ns=start, end_ns=end, links=links)


def names(path, records):
    by_id = {r["span_id"]: r["name"] for r in records}
    return [by_id[i] for i in path.order]


def dag(with_links=True):
    """fetch -> (slow, quick); report waited for quick only, then for a free slot."""
    deps = (lambda *d: d) if with_links else (lambda *d: ())
    return [
        record("00000000000000d0", name="DAG", start=0, end=4 * S),
        record("00000000000000a1", "00000000000000d0", name="fetch", start=0, end=1 * S),
        record("00000000000000a2", "00000000000000d0", name="slow", start=1 * S, end=3 * S,
               depends=deps("00000000000000a1")),
        record("00000000000000a3", "00000000000000d0", name="quick", start=1 * S,
               end=int(2.9 * S), depends=deps("00000000000000a1")),
        record("00000000000000a4", "00000000000000d0", name="report", start=3 * S, end=4 * S,
               depends=deps("00000000000000a3")),
        record("00000000000000b1", "00000000000000a3", name="inner", start=int(1.1 * S),
               end=int(2.8 * S)),
    ]


def test_dag_steps_follow_their_depends_links_not_timing():
    records = dag()
    path = critical.critical_path(records)
    assert names(path, records) == ["DAG", "fetch", "quick", "inner", "report"]
    assert path.method == "depends+timing"  # inside the step "quick", timing
    assert "depends links" in path.describe()


MS = 1_000_000


def test_the_critical_path_method_leaves_the_handler_and_short_branches_off_it():
    """The issue's DAG: a 1.21 s long pole, a quick failing step, an 11 ms onFailure
    handler that ran last."""
    records = [
        record("00000000000000d0", name="DAG: nightly", start=0, end=1400 * MS),
        record("00000000000000a1", "00000000000000d0", name="Step: fetch", start=0,
               end=50 * MS),
        record("00000000000000a2", "00000000000000d0", name="Step: long", start=52 * MS,
               end=1262 * MS, depends=["00000000000000a1"]),
        record("00000000000000a3", "00000000000000d0", name="Step: lint", start=52 * MS,
               end=352 * MS, depends=["00000000000000a1"]),
        record("00000000000000a4", "00000000000000d0", name="Step: check", start=353 * MS,
               end=403 * MS, depends=["00000000000000a3"]),
        record("00000000000000a5", "00000000000000d0", name="Step: onFailure",
               start=1380 * MS, end=1391 * MS),
    ]
    path = critical.critical_path(records)
    assert names(path, records) == ["DAG: nightly", "Step: fetch", "Step: long"]
    assert path.method == "depends" and path.handlers == {"00000000000000a5"}
    # durations: fetch 50, long 1210, lint 300, check 50 -> the run needs 1260 ms
    assert path.slack["00000000000000a1"] == 0 and path.slack["00000000000000a2"] == 0
    assert path.slack["00000000000000a3"] == 860 * MS  # 1260 - 50 - 300 - 50
    assert path.slack["00000000000000a4"] == 860 * MS
    assert "00000000000000a5" not in path.slack
    # without "long" the run would need 50 + 300 + 50 ms: 860 ms shorter; without "fetch",
    # 1210 ms, 50 ms shorter
    assert path.drag["00000000000000a2"] == 860 * MS
    assert path.drag["00000000000000a1"] == 50 * MS
    assert "00000000000000a3" not in path.drag
    assert [s.name for s, _ in path.largest_drag(critical._trace.as_spans(records))] == [
        "Step: long", "Step: fetch"]


def test_a_sequential_script_marks_only_the_commands_that_took_the_time():
    records = [record("00000000000000e0", name="script", start=0, end=3000 * MS)]
    moments = [(0, 1), (1, 2), (2, 1502), (1502, 1503), (1503, 2999)]
    for number, (start, end) in enumerate(moments):
        records.append(record("00000000000000e%d" % (number + 1), "00000000000000e0",
                              name="line %d" % (number + 1), start=start * MS, end=end * MS))
    path = critical.critical_path(records)
    assert names(path, records) == ["script", "line 3", "line 5"]
    assert path.method == "timing" and "by timing" in path.describe()
    assert path.drag["00000000000000e3"] == 1500 * MS
    assert path.drag["00000000000000e5"] == 1496 * MS
    assert path.slack["00000000000000e1"] == 0  # on the chain, held it up by 1 ms


def test_by_timing_a_parallel_child_has_the_slack_until_the_path_needs_it():
    records = [record("00000000000000a0", start=0, end=10 * S),
               record("00000000000000a1", "00000000000000a0", start=0, end=9 * S),
               record("00000000000000a2", "00000000000000a0", start=1 * S, end=5 * S),
               record("00000000000000a3", "00000000000000a0", start=9 * S, end=10 * S)]
    path = critical.critical_path(records)
    assert path.slack["00000000000000a2"] == 4 * S
    # without a1, a3 would wait only for a2 (ended at 5 s): 4 s sooner
    assert path.drag["00000000000000a1"] == 4 * S


def test_without_links_the_path_comes_from_timing_and_says_so():
    records = dag(with_links=False)
    path = critical.critical_path(records)
    assert names(path, records) == ["DAG", "fetch", "slow", "report"]
    assert path.method == "timing" and "by timing" in path.describe()


def test_parallel_children_only_the_one_that_ended_last_counts():
    records = [record("00000000000000a0", start=0, end=10),
               record("00000000000000a1", "00000000000000a0", start=0, end=9),
               record("00000000000000a2", "00000000000000a0", start=1, end=5),
               record("00000000000000a3", "00000000000000a0", start=9, end=10)]
    assert critical.critical_path(records).order == [
        "00000000000000a0", "00000000000000a1", "00000000000000a3"]


def test_hostile_shapes_end_and_a_deep_chain_needs_no_recursion():
    records = [record("%016x" % (n + 1), "%016x" % n if n else "", start=n, end=20_000 - n)
               for n in range(10_000)]
    # each span held its parent up by 2 ns; the innermost hundred by less than 1% of the
    # trace (200 ns): on the chain, but not marked
    assert len(critical.critical_path(records).order) == 9_901
    odd = [record("00000000000000a0", "00000000000000a0", start=5, end=1),  # self-parented
           record("00000000000000c1", "00000000000000c2", start=0, end=3,
                  depends=["00000000000000c2"]),
           record("00000000000000c2", "00000000000000c1", start=0, end=3,
                  depends=["00000000000000c1"])]
    path = critical.critical_path(odd)
    assert path.order and set(path.order) <= {r["span_id"] for r in odd}
    assert critical.critical_path([]).order == [] and critical.critical_path([]).describe() == ""


POLES = """\
name: poles
params: "LONG=0.4"
steps:
  - name: fetch
    command: sleep 0.05
  - name: long
    command: sleep $LONG
    depends: fetch
  - name: short
    command: "true"
    depends: fetch
  - name: check
    command: "false"
    depends: long
handlerOn:
  failure:
    command: sleep 0.05
"""


def test_a_real_dag_run_its_handler_off_the_path_and_the_path_across_runs(tmp_path, env):
    from conftest import run_traceexec
    dag_file = tmp_path / "poles.yaml"
    dag_file.write_text(POLES)
    for _ in range(2):
        assert run_traceexec(["run", str(dag_file)], env).returncode == 1
    shown = run_traceexec(["show", "--no-color"], dict(env, COLUMNS="100")).stdout.decode()
    rows = {line.split("  ")[0].strip("├└─ `|-"): line for line in shown.splitlines()[2:-1]}
    marked = {name for name, line in rows.items() if "█" in line.split("|", 1)[1]}
    assert marked == {"DAG: poles", "Step: fetch", "Step: long", "Step: check"}, shown
    assert "from depends links" in shown.splitlines()[-1]
    assert "most drag: Step: long" in shown.splitlines()[-1]
    history = run_traceexec(["history", str(dag_file), "--critical"], env)
    lines = history.stdout.decode().splitlines()
    assert history.returncode == 0, history.stderr.decode()
    assert lines[0] == "critical path of DAG poles over 2 runs (all in the local store)"
    steps = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert set(steps) == {"fetch", "long", "short", "check"}  # no handler
    assert lines[2].split()[0] == "long"  # the most median drag first
    assert steps["long"][:2] == ["2/2", "100%"] and steps["short"][:2] == ["0/2", "0%"]
    assert steps["short"][2] == "0µs"
