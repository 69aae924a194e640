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
    assert len(critical.critical_path(records).order) == 10_000
    odd = [record("00000000000000a0", "00000000000000a0", start=5, end=1),  # self-parented
           record("00000000000000c1", "00000000000000c2", start=0, end=3,
                  depends=["00000000000000c2"]),
           record("00000000000000c2", "00000000000000c1", start=0, end=3,
                  depends=["00000000000000c1"])]
    path = critical.critical_path(odd)
    assert path.order and set(path.order) <= {r["span_id"] for r in odd}
    assert critical.critical_path([]).order == [] and critical.critical_path([]).describe() == ""
