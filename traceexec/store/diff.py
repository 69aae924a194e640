"""``traceexec diff A B``: two runs compared span by span.

    traceexec diff last~1 last                  the run before the last, and the last
    traceexec diff 4bf92f35 0af76519            traces by id or unique prefix
    traceexec diff RUN_ID_1 RUN_ID_2            two DAG runs by their dag.run_id (or a
                                                unique prefix of one)
    traceexec diff last~1 last --changed        only what changed: new, missing, status or
                                                exit changed, slower or faster beyond the
                                                noise floor
    traceexec diff last~1 last --threshold 20% --threshold 500ms   exit 1 when a span got
                                                slower by more than 20% and 500 ms

Spans are matched by their path of names from the root (the second span of
the same path under the same parent matches the second one, in start order),
so a DAG's steps, a build's recipe lines and a script's commands line up
across runs whatever their ids.  A duration change counts (is marked, listed
by ``--changed``) only beyond the noise floor: by at least 10% *and* 20 ms
(``--noise``), or beyond the thresholds when they are given.  Exit status:
0, or 1 when a threshold was given and a matched span got slower by more
than every threshold; 2 for bad input.
"""
from __future__ import annotations

import os
import shutil
import sys

from ..delivery import config, span as _span
from ..errors import TraceexecError, printable
from . import index as _index, local as store, trace as _trace

RUN_ID = "dag.run_id"
DEFAULT_NOISE = (("%", 0.10), ("s", 0.020))
"""A change smaller than 10% or than 20 ms is noise: both must be passed."""


class Side:
    """One run being compared: its spans (a DAG run's subtree, or a whole trace)."""

    def __init__(self, ref: str, trace_id: str, spans: list, root_id: str = None):
        self.ref, self.trace_id = ref, trace_id
        self.spans = spans
        self.root_id = root_id

    @property
    def label(self) -> str:
        roots = _trace.roots_of(self.spans)
        root = roots[0].name if roots else ""
        return "%s (trace %s, %s)" % (root, self.trace_id[:12], self.ref)


class Row:
    """A path present in A, in B, or in both."""

    __slots__ = ("depth", "name", "a", "b")

    def __init__(self, depth: int, name: str, a=None, b=None):
        self.depth, self.name, self.a, self.b = depth, name, a, b

    @property
    def change_ns(self):
        if self.a is None or self.b is None:
            return None
        return self.b.duration_ns - self.a.duration_ns

    @property
    def ratio(self):
        change = self.change_ns
        if change is None:
            return None
        return change / self.a.duration_ns if self.a.duration_ns else (
            0.0 if change == 0 else float("inf"))

    @property
    def status_changed(self) -> bool:
        return self.a is not None and self.b is not None and self.a.status != self.b.status

    @property
    def exit_changed(self) -> bool:
        return self.a is not None and self.b is not None and \
            self.a.shown[0] != self.b.shown[0]

    def beyond(self, floor) -> int:
        """+1 slower, -1 faster by more than every (kind, amount) of ``floor``, else 0."""
        change = self.change_ns
        if not change or not floor:
            return 0
        ratio = abs(self.ratio)
        for kind, amount in floor:
            if kind == "%" and not ratio > amount:
                return 0
            if kind == "s" and not abs(change) > amount * 1e9:
                return 0
        return 1 if change > 0 else -1

    def is_changed(self, floor) -> bool:
        """New, missing, another status or exit code, or a duration beyond ``floor``."""
        return self.a is None or self.b is None or self.status_changed \
            or self.exit_changed or self.beyond(floor) != 0

    def is_slower(self, thresholds) -> bool:
        """Slower by more than every threshold (seconds as float, or ('%', fraction))."""
        change = self.change_ns
        if change is None or change <= 0 or not thresholds:
            return False
        for kind, amount in thresholds:
            if kind == "%" and not self.ratio > amount:
                return False
            if kind == "s" and not change > amount * 1e9:
                return False
        return True


class Comparison:
    def __init__(self, a: Side, b: Side, rows: list):
        self.a, self.b, self.rows = a, b, rows

    def counts(self, thresholds=(), floor=DEFAULT_NOISE) -> dict:
        rows = self.rows
        return {"matched": sum(1 for r in rows if r.a is not None and r.b is not None),
                "new": sum(1 for r in rows if r.a is None),
                "missing": sum(1 for r in rows if r.b is None),
                "status_changed": sum(1 for r in rows if r.status_changed),
                "slower": sum(1 for r in rows if r.is_slower(thresholds)),
                "beyond_slower": sum(1 for r in rows if r.beyond(floor) > 0),
                "beyond_faster": sum(1 for r in rows if r.beyond(floor) < 0)}


# --- matching ---------------------------------------------------------------------

def _keyed(spans, root_id=None) -> list:
    """(key, depth, span) in tree order; key = names from the root, and which of the spans
    with those names under the same parent it is."""
    children = _trace.children_of(spans)
    ordered = _trace.tree_order(spans, children)
    if root_id is not None:
        start = next((i for i, (_, _, s) in enumerate(ordered) if s.span_id == root_id), None)
        if start is not None:
            depth0 = ordered[start][0]
            end = start + 1
            while end < len(ordered) and ordered[end][0] > depth0:
                end += 1
            ordered = [(d - depth0, last, s) for d, last, s in ordered[start:end]]
    result, path, seen = [], [], {}
    for depth, _, item in ordered:
        del path[depth:]
        path.append(item.name)
        base = tuple(path)
        number = seen.get(base, 0)
        seen[base] = number + 1
        result.append(((base, number), depth, item))
    return result


def compare(a: Side, b: Side) -> Comparison:
    """Rows in B's order, with spans only A had placed after the row they followed in A."""
    keyed_a, keyed_b = _keyed(a.spans, a.root_id), _keyed(b.spans, b.root_id)
    in_b = {key: index for index, (key, _, _) in enumerate(keyed_b)}
    rows = [Row(depth, item.name, b=item) for _, depth, item in keyed_b]
    after: dict = {}
    anchor = -1
    for key, depth, item in keyed_a:
        index = in_b.get(key)
        if index is None:
            after.setdefault(anchor, []).append(Row(depth, item.name, a=item))
        else:
            rows[index].a = item
            anchor = index
    merged = list(after.get(-1, ()))
    for index, row in enumerate(rows):
        merged.append(row)
        merged.extend(after.get(index, ()))
    return Comparison(a, b, merged)


def resolve_side(home: str, ref: str) -> Side:
    """A side from a trace reference (id, prefix, last, last~N) or a DAG run id."""
    db = store.index(home)
    try:
        try:
            trace_id, root_id = store.resolve_in(db, home, ref), None
        except store.UnknownTrace as not_a_trace:
            lowered = ref.strip().lower()
            if lowered.startswith("last"):
                raise  # a trace reference after all: its own message says what is wrong
            found = run_id_in(db, ref.strip())
            if found is None:
                if "ambiguous" in str(not_a_trace):
                    raise
                raise store.UnknownTrace("%s is neither a trace nor a DAG run id in the "
                                         "local store" % ref) from not_a_trace
            trace_id, root_id = found
    finally:
        db.close()
    spans = _trace.load_rows(home, trace_id)
    if root_id is not None:
        root_id = _span_with_run_id(home, trace_id, root_id)
    return Side(ref, trace_id, spans, root_id)


def run_id_in(db, ref: str):
    """(trace id, run id) of the DAG run whose id is ``ref`` or starts with it, else None;
    UnknownTrace when more than one run starts with it."""
    if not ref:
        return None
    prefix = "a:%s=" % RUN_ID
    found = _index.traces_with_term(db, prefix + ref)
    if found:
        return found[0], ref
    runs: dict = {}
    for term, trace_id in _index.terms_with_prefix(db, prefix + ref):
        runs.setdefault(term[len(prefix):], trace_id)
    if len(runs) > 1:
        raise store.UnknownTrace("%s is ambiguous: %d DAG runs start with it (%s)" % (
            ref, len(runs), ", ".join(sorted(runs)[:3])))
    if runs:
        (run_id, trace_id), = runs.items()
        return trace_id, run_id
    return None


def _span_with_run_id(home: str, trace_id: str, run_id: str):
    """The id of the DAG span whose dag.run_id is ``run_id`` (its steps carry the same
    run id: the span among them whose parent does not), parsing only the stored lines
    that mention it."""
    needle = run_id.encode("utf-8", "backslashreplace")
    lines = [line for line in store.raw_lines(home, trace_id) if needle in line]
    found = [item for item in _trace.spans_from_documents(
        _trace._documents(lines), trace_id, keep=(RUN_ID,), details=False)
        if item.attributes.get(RUN_ID) == run_id]
    ids = {item.span_id for item in found}
    tops = [item for item in found if item.parent_id not in ids]
    return min(tops, key=lambda s: (s.start_ns, -s.end_ns)).span_id if tops else None


def compare_refs(home: str, a_ref: str, b_ref: str) -> Comparison:
    return compare(resolve_side(home, a_ref), resolve_side(home, b_ref))


# --- output -----------------------------------------------------------------------

def change_text(row: Row) -> str:
    from .show import format_duration
    if row.a is None:
        return "new"
    if row.b is None:
        return "missing"
    change = row.change_ns
    sign = "+" if change >= 0 else "-"
    ratio = row.ratio
    percent = "" if ratio in (None, float("inf")) else " %s%.0f%%" % (
        "+" if ratio >= 0 else "-", abs(ratio) * 100)
    return "%s%s%s" % (sign, format_duration(abs(change)), percent)


def status_text(row: Row) -> str:
    def name(item):
        return _span.status_name(item.status)
    if row.a is None:
        return name(row.b)
    if row.b is None:
        return name(row.a)
    return name(row.b) if not row.status_changed else "%s -> %s" % (name(row.a), name(row.b))


def render(comparison: Comparison, thresholds=(), *, width: int = 120,
           changed_only: bool = False, noise=DEFAULT_NOISE) -> list:
    """Terminal lines: a header, one row per path, a summary.  A row is marked slower or
    faster beyond the thresholds when given, else beyond the noise floor."""
    from .show import format_duration
    floor = thresholds or noise
    lines = ["A: %s" % printable(comparison.a.label), "B: %s" % printable(comparison.b.label)]
    shown = [r for r in comparison.rows if not changed_only or r.is_changed(floor)]
    labels = [printable("  " * min(r.depth, 24) + r.name) for r in shown]
    name_w = max(4, min(max([len(x) for x in labels] + [4]), max(20, width // 2)))
    lines.append("%s  %9s  %9s  %-16s  %s" % ("SPAN".ljust(name_w), "A", "B", "CHANGE",
                                                 "STATUS"))
    for row, label in zip(shown, labels):
        if len(label) > name_w:
            label = label[:name_w - 1] + "…"
        mark = ("  slower" if row.is_slower(thresholds) else "") if thresholds else \
            {1: "  slower", -1: "  faster", 0: ""}[row.beyond(floor)]
        if not mark and row.exit_changed:
            mark = "  exit %s -> %s" % (printable(row.a.shown[0] or "-"),
                                        printable(row.b.shown[0] or "-"))
        lines.append(("%s  %9s  %9s  %-16s  %s%s" % (
            label.ljust(name_w),
            format_duration(row.a.duration_ns) if row.a is not None else "-",
            format_duration(row.b.duration_ns) if row.b is not None else "-",
            change_text(row), status_text(row), mark)).rstrip())
    counts = comparison.counts(thresholds)
    summary = "%d matched, %d new, %d missing, %d status changed" % (
        counts["matched"], counts["new"], counts["missing"], counts["status_changed"])
    if thresholds:
        summary += "; %d slower than %s" % (counts["slower"], describe(thresholds))
    else:
        counts = comparison.counts(floor=floor)
        summary += "; %d slower, %d faster by more than %s (noise floor)" % (
            counts["beyond_slower"], counts["beyond_faster"], describe(floor))
    if changed_only and len(shown) == 0:
        summary = "nothing changed beyond the noise floor; " + summary
    lines.append(summary)
    return lines


def describe(thresholds) -> str:
    from .show import format_duration
    return " and ".join("%g%%" % (amount * 100) if kind == "%" else
                        format_duration(int(amount * 1e9)) for kind, amount in thresholds)


def _bars(row: Row, a_t0: int, b_t0: int, scale: int):
    """Two bars on one time scale, A above B, each from its own run's start: an inline SVG
    (its geometry is attributes, not styles, so the page's style policy holds)."""
    from .web.markup import tag
    parts = []
    for item, t0, y, klass in ((row.a, a_t0, 1, "bar-a"), (row.b, b_t0, 9, "bar-b")):
        if item is None:
            continue
        x = max(0, item.start_ns - t0) * 1000 // scale
        width = max(2, item.duration_ns * 1000 // scale)
        parts.append(tag("rect", x=str(min(x, 998)), y=str(y), width=str(min(width, 1000 - x)),
                         height="7", class_=klass))
    return tag("svg", parts, viewBox="0 0 1000 17", preserveAspectRatio="none",
               class_="pair", role="img",
               aria_label="A and B on one time scale")


def diff_page(comparison: Comparison, noise=DEFAULT_NOISE) -> str:
    """The comparison as a web page (``web.server``): durations, change, status, and the
    two runs' bars side by side on one scale; only changes beyond the noise floor are
    coloured."""
    from .show import format_duration
    from .web import pages
    from .web.markup import concat, tag
    a_spans = [r.a for r in comparison.rows if r.a is not None]
    b_spans = [r.b for r in comparison.rows if r.b is not None]
    a_t0 = min((s.start_ns for s in a_spans), default=0)
    b_t0 = min((s.start_ns for s in b_spans), default=0)
    scale = max(1, max((s.end_ns - a_t0 for s in a_spans), default=1),
                max((s.end_ns - b_t0 for s in b_spans), default=1))
    body_rows = []
    for row in comparison.rows:
        klass = "new" if row.a is None else "missing" if row.b is None else None
        tone = {1: "slower", -1: "faster", 0: None}[row.beyond(noise)]
        body_rows.append(tag(
            "tr",
            tag("td", tag("span", "\u00b7 " * min(row.depth, 24), class_="indent-guide"),
                row.name, class_="name"),
            tag("td", format_duration(row.a.duration_ns) if row.a is not None else "-",
                class_="num"),
            tag("td", format_duration(row.b.duration_ns) if row.b is not None else "-",
                class_="num"),
            tag("td", change_text(row), class_=("change " + tone) if tone else "change"),
            tag("td", status_text(row), class_="err" if row.status_changed else None),
            tag("td", _bars(row, a_t0, b_t0, scale), class_="bars"),
            class_=klass))
    counts = comparison.counts(floor=noise)
    body = concat(
        tag("h1", "Comparing two runs"),
        tag("p", "A: ", tag("a", comparison.a.label, href="/trace/" + comparison.a.trace_id),
            class_="facts"),
        tag("p", "B: ", tag("a", comparison.b.label, href="/trace/" + comparison.b.trace_id),
            class_="facts"),
        tag("p", "%d matched, %d new, %d missing, %d status changed; %d slower, %d faster "
                 "by more than %s (changes below that are noise and not coloured)" % (
                     counts["matched"], counts["new"], counts["missing"],
                     counts["status_changed"], counts["beyond_slower"],
                     counts["beyond_faster"], describe(noise)), class_="facts"),
        tag("table", tag("thead", tag("tr", tag("th", "span (matched by path of names)"),
                                      tag("th", "A", class_="num"), tag("th", "B", class_="num"),
                                      tag("th", "change"), tag("th", "status"),
                                      tag("th", tag("span", "A", class_="key-a"), " ",
                                          tag("span", "B", class_="key-b"),
                                          " from each run's start, one scale"))),
            tag("tbody", body_rows), class_="list diff"))
    return pages.document("comparing %s and %s" % (comparison.a.ref, comparison.b.ref), body)


# --- the command ------------------------------------------------------------------

class BadThreshold(TraceexecError):
    """A --threshold that is neither a percentage nor a duration."""


def parse_threshold(text: str, option: str = "--threshold") -> tuple:
    """('%', fraction) from ``20%``, ('s', seconds) from ``500ms``/``2s``/``1m``."""
    raw = text.strip()
    problem = "diff: %s %r: expected a percentage like 20%% or a duration like 500ms" % (
        option, text)
    if raw.endswith("%"):
        try:
            value = float(raw[:-1])
        except ValueError:
            value = -1.0
        if not 0 <= value < float("inf"):
            raise BadThreshold(problem)
        return "%", value / 100
    try:
        return "s", config.parse_duration(raw, "threshold")
    except TraceexecError:
        raise BadThreshold(problem) from None


def parse_args(args: list):
    from ..cli import subcommand_parser
    parser = subcommand_parser(
        "diff", "Compare two runs span by span: duration changes, new and missing spans, "
                "status changes.  Spans are matched by their path of names.")
    parser.add_argument("a", metavar="A", help="the earlier run: a trace id or prefix, "
                        "last, last~N, or a DAG run id")
    parser.add_argument("b", metavar="B", help="the later run, the same way")
    parser.add_argument("--threshold", action="append", default=[], metavar="LIMIT",
                        help="exit 1 when a span got slower by more than LIMIT (20%% or "
                             "500ms); repeat to require both")
    parser.add_argument("--changed", action="store_true",
                        help="show only what changed: new and missing spans, another status "
                             "or exit code, slower or faster beyond the noise floor (or the "
                             "thresholds)")
    parser.add_argument("--noise", action="append", default=[], metavar="FLOOR",
                        help="a change counts only beyond both floors: relative (default "
                             "10%%) and absolute (default 20ms); give either or both")
    return parser.parse_args(args)


def noise_floor(texts) -> tuple:
    """DEFAULT_NOISE with the kinds given in ``texts`` (``5%``, ``100ms``) replaced."""
    floor = dict(DEFAULT_NOISE)
    for text in texts:
        kind, amount = parse_threshold(text, "--noise")
        floor[kind] = amount
    return (("%", floor["%"]), ("s", floor["s"]))


def main(args: list, environ=None, out=None) -> int:
    import gc
    gc.disable()  # a short-lived reader of many acyclic objects
    opts = parse_args(args)
    environ = os.environ if environ is None else environ
    out = sys.stdout if out is None else out
    thresholds = [parse_threshold(t) for t in opts.threshold]
    noise = noise_floor(opts.noise)
    home = config.default_home(environ)
    if not os.path.isdir(store.store_dir(home)):
        raise store.UnknownTrace("the local store is empty (%s)" % store.store_dir(home))
    comparison = compare_refs(home, opts.a, opts.b)
    from .show import emit
    lines = render(comparison, thresholds, width=shutil.get_terminal_size((120, 24)).columns,
                   changed_only=opts.changed, noise=noise)
    emit(out, "\n".join(lines) + "\n")
    return 1 if thresholds and comparison.counts(thresholds)["slower"] else 0
