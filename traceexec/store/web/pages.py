"""The viewer's pages as HTML documents: the trace list, a trace, a comparison.

Pure functions of what the store holds; ``server`` serves them and ``show --html``
writes the trace page to a file.  The stylesheet and the script are inlined (one
request per page, and the HTML file needs nothing else), and a Content Security
Policy allows only those two by their hashes: even a value that escaped escaping
could not run.
"""
from __future__ import annotations

import base64
import hashlib
import importlib.resources
import urllib.parse

from ...delivery import span as _span
from .. import critical, trace as _trace
from .markup import Markup, concat, json_script, tag
from ... import stderr_tail

MAX_INLINE_DETAILS = 20_000
"""Served pages of bigger traces fetch a span's details when it is clicked."""
FIRST_SCREEN_ABOVE = 5_000
"""Served pages of bigger traces carry their first screen only (``TraceRows.first_screen``): the
script opens them folded below their top level (its ``MANY``) and fetches every row."""
FIRST_ROWS = 1_000
"""The most rows the first screen of a big trace carries."""


def _static(name: str) -> str:
    return importlib.resources.files(__package__).joinpath("static", name).read_text("utf-8")


_ASSETS: dict = {}


def assets() -> tuple:
    """(stylesheet, script, Content-Security-Policy allowing exactly them)."""
    if not _ASSETS:
        style, script = _static("viewer.css"), _static("viewer.js")

        def digest(text):
            return "'sha256-%s'" % base64.b64encode(hashlib.sha256(text.encode()).digest()
                                                    ).decode()
        _ASSETS["style"], _ASSETS["script"] = style, script
        _ASSETS["csp"] = ("default-src 'none'; script-src %s; style-src %s; img-src data:; "
                          "connect-src 'self'; form-action 'self'; base-uri 'none'; "
                          "frame-ancestors 'none'" % (digest(script), digest(style)))
    return _ASSETS["style"], _ASSETS["script"], _ASSETS["csp"]


def document(title, body, *, script: bool = False, standalone: bool = False) -> str:
    """A whole HTML page around ``body``."""
    start, end = document_parts(title, script=script, standalone=standalone)
    return start + str(body) + end


def document_parts(title, *, script: bool = False, standalone: bool = False) -> tuple:
    """(what comes before a page's body, what comes after it): a page can be sent in
    pieces, its head first."""
    style, code, csp = assets()
    if standalone:
        csp = csp.replace("connect-src 'self'", "connect-src 'none'").replace(
            "form-action 'self'", "form-action 'none'")
    head = concat(
        Markup("<!DOCTYPE html>\n"),
        Markup('<html lang="en"><head><meta charset="utf-8">'),
        tag("meta", http_equiv="Content-Security-Policy", content=csp),
        tag("meta", name="viewport", content="width=device-width, initial-scale=1"),
        tag("meta", name="referrer", content="no-referrer"),
        tag("title", title),
        Markup("<style>%s</style></head><body>" % style))
    top = tag("header", tag("span", "traceexec") if standalone else
              tag("a", "traceexec", href="/"),
              tag("span", "trace viewer" if not standalone else "trace file",
                  class_="where"), class_="top")
    tail = Markup("<script>%s</script>" % code) if script else Markup("")
    return (str(concat(head, top, Markup('<div class="page">'))),
            str(concat(Markup("</div>"), tail, Markup("</body></html>\n"))))


# --- values -----------------------------------------------------------------------

def duration_text(ns: int) -> str:
    from ..show import format_duration
    return format_duration(ns)


def time_text(ns: int) -> str:
    from ..show import format_time
    return format_time(ns)


def value_text(value) -> str:
    """An attribute value as one line of text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_quoted(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join("%s: %s" % (_quoted(k), _quoted(v)) for k, v in value.items()) \
            + "}"
    return "" if value is None else str(value)


def _quoted(value) -> str:
    return '"%s"' % value if isinstance(value, str) else value_text(value)


def pairs(mapping) -> list:
    """[key, value as text] with units where the key says what the number measures."""
    return [[str(k), with_unit(str(k), v)] for k, v in (mapping or {}).items()]


BYTE_KEYS = ("max_rss", ".bytes", "_bytes", ".size", "_size", "memory.usage", ".rss")
SECOND_KEYS = (".cpu.user", ".cpu.system", "duration_s", ".seconds", "_seconds",
               "fold.duration.total", "fold.duration.max", "traceexec.timeout")


def with_unit(key: str, value) -> str:
    """``36122624`` as ``34.4 MiB (36122624)`` for a size, ``0.455345`` as ``455ms`` for
    seconds: the keys say which (BYTE_KEYS, SECOND_KEYS by ending); other values as text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        if key.endswith(BYTE_KEYS):
            return "%s (%s)" % (size_text(value), value_text(value))
        if key.endswith(SECOND_KEYS) and value < 1e12:
            return duration_text(int(value * 1e9))
    return value_text(value)


def size_text(count) -> str:
    """``34.4 MiB``: a byte count in binary units."""
    amount, unit = float(count), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if amount < 1024 or unit == "TiB":
            break
        amount /= 1024
    return "%d B" % count if unit == "B" else "%.1f %s" % (amount, unit)


def status_text(code) -> str:
    return _span.status_name(code)


def exit_text(item) -> str:
    return item.shown[0]


# --- the trace page ---------------------------------------------------------------

def span_details(item, t0: int) -> dict:
    """What the page shows about one span when it is clicked."""
    return {"name": item.name, "span_id": item.span_id, "parent_id": item.parent_id,
            "service": item.service, "kind": _span.KIND_NAMES.get(item.kind, str(item.kind)),
            "status": {"running": "RUNNING", "gone": "NO END"}.get(
                item.state, status_text(item.status)),
            "status_message": item.status_message or (
                "its process is gone and no end was recorded" if item.state == "gone" else ""),
            "start": time_text(item.start_ns), "start_offset_ns": max(0, item.start_ns - t0),
            "duration_ns": item.duration_ns, "scope": item.scope,
            "attributes": pairs(item.attributes),
            "events": [[e["name"], max(0, e["time_ns"] - t0), pairs(e["attributes"])]
                       for e in item.events],
            "links": [[link["trace_id"], link["span_id"], pairs(link["attributes"])]
                      for link in item.links],
            "resource": pairs(item.resource)}


COLUMNS = ("depth", "name", "service", "start", "dur", "status", "exit", "flags", "id",
           "slack", "drag", "cmd", "state")
_STATES = {"": 0, "running": 1, "gone": 2}


class TraceRows:
    """A trace in the page's tree order with its critical path: the rows' columns are
    written from it for every row (``columns()``) or for some (``columns(positions)``)."""

    def __init__(self, spans):
        self.spans = _trace.as_spans(spans)
        children = _trace.children_of(self.spans)
        self.ordered = _trace.tree_order(self.spans, children)
        self.path = critical.critical_path(self.spans, children)
        self.t0 = min(s.start_ns for s in self.spans)
        self.services: dict = {}
        for _, _, item in self.ordered:
            self.services.setdefault(item.service, len(self.services))

    def columns(self, positions=None) -> dict:
        """{column: [value of each row]} for the rows at ``positions`` (all by default)."""
        ordered, t0, services = self.ordered, self.t0, self.services
        slack_of, drag_of, on_path = self.path.slack, self.path.drag, self.path.span_ids
        rows = {key: [] for key in COLUMNS}
        for position in range(len(ordered)) if positions is None else positions:
            depth, _, item = ordered[position]
            rows["depth"].append(depth)
            rows["name"].append(item.name)
            rows["service"].append(services[item.service])
            rows["start"].append(max(0, item.start_ns - t0))
            rows["dur"].append(item.duration_ns)
            rows["status"].append(status_text(item.status))
            rows["exit"].append(exit_text(item))
            rows["flags"].append((1 if item.span_id in on_path else 0)
                                 | (2 if item.status == _span.STATUS_ERROR else 0))
            rows["id"].append(item.span_id)
            # -1: not worked out (a handler, the root); the root's drag is its duration
            rows["slack"].append(slack_of.get(item.span_id, -1) if depth else -1)
            rows["drag"].append(drag_of.get(item.span_id, 0)
                                if depth and item.span_id in on_path else 0)
            command = item.shown[2]
            rows["cmd"].append(command if command and command != item.name else "")
            rows["state"].append(_STATES.get(item.state, 0))
        return rows

    def first_screen(self) -> tuple:
        """(positions, more) of the rows a huge trace shows first: its top two levels, as
        the script folds it, at most FIRST_ROWS; ``more``: 1 for a row with children that
        are not among them."""
        ordered, count = self.ordered, len(self.ordered)
        shown = [i for i in range(count) if ordered[i][0] <= 1][:FIRST_ROWS]
        whole = len(shown) < FIRST_ROWS
        more = []
        for i in shown:
            depth = ordered[i][0]
            has_children = i + 1 < count and ordered[i + 1][0] > depth
            more.append(1 if has_children and (depth >= 1 or not whole) else 0)
        return shown, more


def trace_view(spans, trace_id: str, *, details: bool, detail_url: str = None,
               rows_url: str = None, rows: TraceRows = None) -> dict:
    """The page's data: columns of rows in tree order, and each span's details inline
    (``details``) or at ``detail_url`` + span id.  With ``rows_url``, the rows of the
    first screen only (``TraceRows.first_screen``: each with its place among all rows,
    ``index``, and ``more``), and ``count``: the script fetches every row from there."""
    rows = rows or TraceRows(spans)
    spans, ordered, path, t0 = rows.spans, rows.ordered, rows.path, rows.t0
    t1 = max(max(s.start_ns, s.end_ns) for s in spans)
    errors = sum(1 for s in spans if s.status == _span.STATUS_ERROR)
    open_count = sum(1 for s in spans if s.state == "running")
    if rows_url:
        shown, more = rows.first_screen()
        columns = rows.columns(shown)
        columns.update(index=shown, more=more)
        details = False
    else:
        columns = rows.columns()
    roots = _trace.roots_of(spans)
    root = roots[0] if roots else ordered[0][2]
    dag = root.name[len("DAG: "):] if root.name.startswith("DAG: ") else ""
    view = {"trace_id": trace_id, "total_ns": t1 - t0, "start_ns": t0, "rows": columns,
            "services": list(rows.services), "errors": errors, "root": root.name,
            "dag": dag,
            "running": open_count,
            "critical": path.describe() if len(spans) > 1 else "",
            "most_drag": ["%s %s" % (s.name, duration_text(d))
                          for s, d in path.largest_drag(spans)] if len(spans) > 1 else [],
            "details": [span_details(item, t0) for _, _, item in ordered] if details else None,
            "detail_url": detail_url, "failures": failures_of(ordered)}
    if rows_url:
        view.update(count=len(ordered), rows_url=rows_url)
    return view


def failures_of(ordered) -> list:
    """[name, status message, stderr tail lines] of each failed span that kept a tail."""
    return [[item.name, item.status_message, stderr_tail.lines_of(item.events)]
            for _, _, item in ordered
            if item.status == _span.STATUS_ERROR and stderr_tail.lines_of(item.events)]


def failures_section(view):
    """The failed spans' stderr tails, above the waterfall: the cause one glance away."""
    if not view.get("failures"):
        return None
    return tag("section", tag("h2", "Failed: why"), [
        tag("div", tag("p", tag("b", name), " ", tag("span", message, class_="err")),
            tag("pre", "\n".join(lines)), class_="failure")
        for name, message, lines in view["failures"]], class_="failures")


def trace_page(view: dict, *, standalone: bool = False, notice: str = "") -> str:
    """The trace page: facts, the critical path's legend, a waterfall the script draws."""
    return document(page_title(view["root"], view["trace_id"]),
                    trace_body(view, standalone=standalone, notice=notice),
                    script=True, standalone=standalone)


def page_title(root: str, trace_id: str) -> str:
    return "%s · trace %s" % (root, trace_id[:12])


def trace_body(view: dict, *, standalone: bool = False, notice: str = "") -> str:
    """What is inside the trace page's document."""
    count = view.get("count", len(view["rows"]["id"]))
    facts = tag("p", tag("b", "%d span%s" % (count, "" if count == 1 else "s")), " · ",
                tag("b", "%d running" % view["running"], class_="running-note")
                if view.get("running") else None, " · " if view.get("running") else None,
                tag("b", duration_text(view["total_ns"])), " · started ",
                time_text(view["start_ns"]), " · ",
                tag("span", "%d error%s" % (view["errors"], "" if view["errors"] == 1 else "s"),
                    class_="err" if view["errors"] else None),
                " · services: ", ", ".join(view["services"]), class_="facts")
    body = concat(
        tag("h1", view["root"], " ", tag("span", "trace " + view["trace_id"], class_="muted")),
        facts,
        tag("p", notice, class_="notice") if notice else None,
        tag("p", "Still running: this page refreshes itself every 2 s.", class_="muted",
            id="live") if view.get("running") and not standalone else None,
        tag("p", view["critical"], class_="critical-legend") if view["critical"] else None,
        tag("p", "most drag: ", ", ".join(view["most_drag"]), class_="facts")
        if view.get("most_drag") else None,
        failures_section(view),
        tag("nav", tag("button", "Expand all", id="expand", type="button"),
            tag("button", "Collapse all", id="collapse", type="button"),
            tag("button", "Next error", id="next-error", type="button",
                disabled=not view["errors"]),
            tag("label", tag("input", type="checkbox", id="only-critical"),
                " critical path only"),
            tag("button", "Zoom to span", id="zoom", type="button", disabled=True,
                title="or double-click a row, or drag across the time axis"),
            tag("button", "Whole trace", id="unzoom", type="button", disabled=True),
            None if standalone else tag("a", "all traces", href="/"),
            tag("a", "this DAG's critical path across runs",
                href="/critical?" + urllib.parse.urlencode({"dag": view["dag"]}))
            if view.get("dag") and not standalone else None,
            class_="tools"),
        tag("main",
            tag("div",
                tag("div", tag("span", "span"),
                    tag("span", tag("span", "0", class_="tick"), class_="ticks",
                        title="drag to zoom"), class_="axis"),
                tag("div", tag("div", id="spacer", class_="spacer"), id="viewport",
                    class_="viewport"),
                class_="waterfall"),
            tag("aside", tag("p", "Click a span to see its attributes, events and links.",
                             class_="muted"), id="details", class_="details"),
            class_="trace"),
        tag("noscript", tag("p", "The waterfall needs JavaScript; `traceexec show` draws it "
                                 "in a terminal.", class_="notice")),
        json_script("trace-data", view))
    return str(body)


def critical_page(stats) -> str:
    """How often each step of a DAG was on the critical path, and its median drag
    (``pathstats.across_runs``), with a bar for each share."""
    rows = []
    for step in stats.steps:
        share = round(step.share * 100)
        rows.append(tag(
            "tr", tag("td", step.name, class_="name"),
            tag("td", "%d of %d" % (step.on_path, step.runs), class_="num"),
            tag("td", tag("svg", tag("rect", x="0", y="2", width=str(max(share, 0)),
                                     height="10", class_="share"),
                          viewBox="0 0 100 14", preserveAspectRatio="none", class_="share"),
                " %d%%" % share),
            tag("td", duration_text(step.median_drag_ns), class_="num"),
            tag("td", duration_text(step.median_duration_ns), class_="num")))
    body = concat(
        tag("h1", "DAG ", stats.dag, ": the critical path over ", str(stats.runs), " run",
            "" if stats.runs == 1 else "s"),
        tag("p", "From each run's depends links: how often a step was on the path, and its "
                 "median drag (how much sooner the run would have ended without it; 0 when "
                 "off the path). Steps that hold runs up most come first.", class_="facts"),
        tag("table", tag("thead", tag("tr", tag("th", "step"), tag("th", "on the path",
                                                                   class_="num"),
                                      tag("th", "share"), tag("th", "median drag", class_="num"),
                                      tag("th", "median duration", class_="num"))),
            tag("tbody", rows), class_="list critical-runs"),
        tag("p", tag("a", "all traces", href="/")))
    return document("%s: critical path across runs" % stats.dag, body)


# --- the list ---------------------------------------------------------------------

def list_page(rows: list, total: int, form: dict, *, page: int, per_page: int,
              links: dict, notice: str = "") -> str:
    """The trace list: a search form, one row per trace (newest first), paging, and radio
    buttons to compare two traces."""
    status_options = [tag("option", label, value=value, selected=form.get("status") == value)
                      for value, label in (("", "any status"), ("error", "with errors"),
                                           ("ok", "without errors"))]
    search = tag(
        "form",
        tag("label", "span name", tag("input", name="name", value=form.get("name", ""),
                                      placeholder="contains")),
        tag("label", "service", tag("input", name="service", value=form.get("service", ""))),
        tag("label", "attribute", tag("input", name="attr", value=form.get("attr", ""),
                                      placeholder="key=value or key")),
        tag("label", "status", tag("select", status_options, name="status")),
        tag("label", "started after", tag("input", type="datetime-local", name="since",
                                          value=form.get("since", ""))),
        tag("label", "started before", tag("input", type="datetime-local", name="until",
                                           value=form.get("until", ""))),
        tag("button", "Search", type="submit"),
        tag("a", "clear", href="/"),
        method="get", action="/", class_="search")
    body_rows = []
    for row in rows:
        failed = row["errors"] > 0
        body_rows.append(tag(
            "tr",
            tag("td", tag("input", type="radio", name="a", value=row["trace_id"],
                          title="compare: A")),
            tag("td", tag("input", type="radio", name="b", value=row["trace_id"],
                          title="compare: B")),
            tag("td", time_text(row["start_ns"])),
            tag("td", tag("a", row["root_name"] or "(unnamed)",
                          href="/trace/" + row["trace_id"]), class_="name"),
            tag("td", row["root_service"]),
            tag("td", str(row["spans"]), class_="num"),
            tag("td", duration_text(max(0, row["end_ns"] - row["start_ns"])), class_="num"),
            tag("td", tag("b", "running") if row.get("state") == "running" else
                "no end" if row.get("state") == "gone" else
                "%d error%s" % (row["errors"], "" if row["errors"] == 1 else "s")
                if failed else status_text(row["root_status"]),
                class_="err" if failed or row.get("state") == "gone"
                else "status-" + status_text(row["root_status"])),
            tag("td", tag("code", row["trace_id"][:12]), class_="muted"),
            class_="failed" if failed else None))
    pages = max(1, -(-total // per_page))
    paging = tag("div",
                 tag("a", "\u2190 newer", href=links["newer"]) if links.get("newer") else None,
                 tag("span", "page %d of %d · %d trace%s" % (page, pages, total,
                                                            "" if total == 1 else "s"),
                     class_="muted"),
                 tag("a", "older \u2192", href=links["older"]) if links.get("older") else None,
                 class_="paging")
    table = tag("form", tag(
        "table",
        tag("thead", tag("tr", tag("th", "A"), tag("th", "B"), tag("th", "started"),
                         tag("th", "root span"), tag("th", "service"),
                         tag("th", "spans", class_="num"), tag("th", "duration", class_="num"),
                         tag("th", "status"), tag("th", "trace"))),
        tag("tbody", body_rows), class_="list"),
        tag("p", tag("button", "Compare A with B", type="submit")),
        method="get", action="/diff")
    body = concat(tag("h1", "Traces"), search,
                  tag("p", notice, class_="notice") if notice else None,
                  paging, table if rows else tag("p", "No trace matches.", class_="muted"),
                  paging if len(rows) > 20 else None)
    return document("traces", body)


def message_page(title: str, message: str) -> str:
    return document(title, message_body(title, message))


def message_body(title: str, message: str):
    return concat(tag("h1", title), tag("p", message), tag("p", tag("a", "all traces", href="/")))
