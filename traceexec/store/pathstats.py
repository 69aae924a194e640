"""A DAG's critical path across its runs: how often each step was on it, its median drag.

One run's critical path says what held that run up; over many runs it says
which step usually does, and by how much (``traceexec history DAG --critical``,
the viewer's ``/critical?dag=NAME``)::

    stats = pathstats.across_runs(home, "nightly", trace_ids)
    for step in stats.steps: step.name, step.on_path, step.runs, step.median_drag_ns
"""
from __future__ import annotations

import statistics

from . import critical, local as store, trace as _trace

DAG_PREFIX, STEP_PREFIX = "DAG: ", "Step: "


class StepStats:
    """One step over the runs it ran in."""

    def __init__(self, name: str):
        self.name = name
        self.runs = 0
        self.on_path = 0
        self.drags: list = []
        """Its drag in each run (0 when off the path)."""
        self.durations: list = []

    @property
    def share(self) -> float:
        return self.on_path / self.runs if self.runs else 0.0

    @property
    def median_drag_ns(self) -> int:
        return int(statistics.median(self.drags)) if self.drags else 0

    @property
    def median_duration_ns(self) -> int:
        return int(statistics.median(self.durations)) if self.durations else 0


class PathStats:
    def __init__(self, dag: str, steps: list, runs: int, asked: int):
        self.dag, self.steps, self.runs, self.asked = dag, steps, runs, asked


def across_runs(home: str, dag: str, trace_ids) -> PathStats:
    """Per step of DAG ``dag``, over the runs in the traces ``trace_ids`` (each DAG span
    named ``DAG: <dag>`` is a run; traces not in the local store are passed over)."""
    by_name: dict = {}
    runs = asked = 0
    for trace_id in dict.fromkeys(trace_ids):
        asked += 1
        try:
            spans = _trace.load_rows(home, trace_id)
        except (store.UnknownTrace, OSError):
            continue
        if not spans:
            continue
        children = _trace.children_of(spans)
        path = critical.critical_path(spans, children)
        for top in spans:
            if top.name != DAG_PREFIX + dag:
                continue
            runs += 1
            for step in children.get(top.span_id, ()):
                if step.span_id in path.handlers:
                    continue
                name = step.name[len(STEP_PREFIX):] if step.name.startswith(STEP_PREFIX) \
                    else step.name
                stats = by_name.get(name)
                if stats is None:
                    stats = by_name[name] = StepStats(name)
                stats.runs += 1
                stats.durations.append(step.duration_ns)
                # the run's own path: steps without slack inside this DAG span
                on = path.slack.get(step.span_id, 1) - path.slack.get(top.span_id, 0) == 0
                stats.on_path += on
                stats.drags.append(path.drag.get(step.span_id, 0) if on else 0)
    steps = sorted(by_name.values(), key=lambda s: (-s.median_drag_ns, -s.share, s.name))
    return PathStats(dag, steps, runs, asked)


def render(stats: PathStats) -> list:
    """Terminal lines: one per step, the steps that hold runs up most first."""
    from ..errors import printable
    from .show import format_duration
    lines = ["critical path of DAG %s over %d run%s (%s)" % (
        printable(stats.dag), stats.runs, "" if stats.runs == 1 else "s",
        "all in the local store" if stats.runs >= stats.asked else
        "%d of %d runs' traces are not in the local store" % (
            stats.asked - stats.runs, stats.asked))]
    if not stats.steps:
        return lines
    name_w = max(4, min(40, max(len(printable(s.name)) for s in stats.steps)))
    lines.append("%s  %12s  %11s  %12s" % ("STEP".ljust(name_w), "ON PATH", "MEDIAN DRAG",
                                            "MEDIAN TIME"))
    for step in stats.steps:
        name = printable(step.name)
        if len(name) > name_w:
            name = name[:name_w - 1] + "…"
        lines.append("%s  %12s  %11s  %12s" % (
            name.ljust(name_w), "%d/%d %3.0f%%" % (step.on_path, step.runs, step.share * 100),
            format_duration(step.median_drag_ns), format_duration(step.median_duration_ns)))
    return lines
