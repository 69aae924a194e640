"""``traceexec show``: a trace from the local store as a tree with a waterfall.

    traceexec show              the last trace
    traceexec show 4bf92f35     a trace by id or unique prefix
    traceexec show --json last  the trace as one OTLP/JSON document
    traceexec show --list       recent traces

Rendering is plain functions of span records (``render_trace``,
``render_list``), so tests and other front ends can use them without a
terminal; ``main`` does the I/O.
"""
from __future__ import annotations

import datetime
import json
import os
import shutil
import sys

from ..delivery import config, span
from . import critical, local as store, trace
from ..cli import subcommand_parser
from ..errors import printable
from .. import stderr_tail

KEY_ATTRIBUTES = trace.KEY_ATTRIBUTES
"""Attributes shown beside each span when present (add more with --attr)."""
EXIT_ATTRIBUTES = trace.EXIT_ATTRIBUTES
MAX_INDENT = 24
"""Deeper spans show only their last MAX_INDENT levels of tree guides."""
DEFAULT_LIST = 20

_RESET, _BOLD, _DIM = "\x1b[0m", "\x1b[1m", "\x1b[2m"
_STATUS_COLORS = {"OK": "\x1b[32m", "ERROR": "\x1b[1;31m", "UNSET": _DIM}
_SERVICE_COLORS = ("\x1b[36m", "\x1b[35m", "\x1b[33m", "\x1b[34m", "\x1b[32m", "\x1b[96m",
                   "\x1b[95m", "\x1b[93m")


class Glyphs:
    """The characters the tree and the bars are drawn with."""

    def __init__(self, tee, corner, pipe, block, shade, ellipsis, micro):
        self.tee, self.corner, self.pipe = tee, corner, pipe
        self.block, self.shade = block, shade
        """Bars of spans on the critical path, and of the others."""
        self.ellipsis, self.micro = ellipsis, micro


UNICODE = Glyphs("├─ ", "└─ ", "│  ", "█", "▒", "…", "µs")
ASCII = Glyphs("|- ", "`- ", "|  ", "#", "=", "~", "us")


def glyphs_for(stream) -> Glyphs:
    """UNICODE when ``stream`` can encode it, else ASCII."""
    try:
        "├─└│█▒…µ".encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return ASCII
    return UNICODE


# --- formatting -----------------------------------------------------------------

def format_duration(ns: int, glyphs: Glyphs = UNICODE) -> str:
    """A short human duration.

    >>> format_duration(1_500), format_duration(12_300_000), format_duration(2_310_000_000)
    ('2µs', '12ms', '2.31s')
    """
    ns = max(0, int(ns))
    if ns < 1_000_000:
        return "%d%s" % (round(ns / 1000), glyphs.micro)
    if ns < 10_000_000:
        return "%.1fms" % (ns / 1e6)
    if ns < 1_000_000_000:
        return "%dms" % round(ns / 1e6)
    seconds = ns / 1e9
    if seconds < 60:
        return "%.2fs" % seconds
    if seconds < 3600:
        return "%dm%02ds" % divmod(int(seconds), 60)
    return "%dh%02dm" % divmod(int(seconds) // 60, 60)


def format_time(ns: int) -> str:
    """Local wall-clock time of a Unix-nanosecond timestamp, to the millisecond; the bare
    number when no calendar holds it."""
    try:
        moment = datetime.datetime.fromtimestamp(ns / 1e9).astimezone()
    except (OverflowError, ValueError, OSError):
        return "%d ns" % ns
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + "%03d" % (moment.microsecond // 1000) \
        + moment.strftime(" %z")


def _fit(text: str, width: int, glyphs: Glyphs) -> str:
    """``text`` cut to ``width`` characters (with an ellipsis) and padded to it."""
    if len(text) > width:
        text = text[:max(0, width - 1)] + glyphs.ellipsis if width > 0 else ""
    return text.ljust(width)


def _paint(text: str, code: str, color: bool) -> str:
    return code + text + _RESET if color and code and text.strip() else text


# --- the tree -------------------------------------------------------------------

def walk(records, glyphs: Glyphs = UNICODE) -> list:
    """(tree prefix, span) rows in display order: depth first, children by start time.

    Spans caught in a parent cycle are never reached from a root; they follow
    as roots of their own, so every span is shown exactly once.
    """
    return _prefixed(trace.tree_order(trace.as_spans(records)), glyphs)


def _prefixed(ordered, glyphs: Glyphs) -> list:
    rows, guides = [], []
    for depth, last, item in ordered:
        if depth == 0:
            prefix = ""
            del guides[:]
        else:
            del guides[depth - 1:]
            shown = guides[-MAX_INDENT:] if depth - 1 > MAX_INDENT else guides
            prefix = ("" if shown is guides else glyphs.ellipsis) + "".join(shown) \
                + (glyphs.corner if last else glyphs.tee)
            guides.append("   " if last else glyphs.pipe)
        rows.append((prefix, item))
    return rows


# --- rendering ------------------------------------------------------------------

def _key_attributes(item, extra, *, show_command=False, parent_elsewhere=False,
                    everything=False) -> str:
    _, shown_words, command = item.shown
    words = [shown_words] if shown_words and everything else []
    attrs = item.attributes
    words += ["%s=%s" % (k, trace._word(attrs[k])) for k in extra if k in attrs]
    if parent_elsewhere:
        words.insert(0, "parent=%s(remote)" % item.parent_id[:8])
    if show_command and command:
        words.append("cmd=%s" % command)
    return printable(" ".join(words)) if words else ""


def keys_for(attrs=()) -> tuple:
    """The attribute keys a terminal view reads from each span."""
    return tuple(KEY_ATTRIBUTES) + EXIT_ATTRIBUTES + ("process.command_args",) + tuple(attrs)


def render_trace(records, *, width: int = 120, color: bool = False, attrs=(),
                 glyphs: Glyphs = UNICODE, trace_id: str = None,
                 details: bool = False, failures: bool = True) -> list:
    """Lines showing a trace: a header, column titles, one row per span, and the
    critical path's legend.  ``records``: Spans (``trace.load``) or span records."""
    return list(trace_lines(records, width=width, color=color, attrs=attrs, glyphs=glyphs,
                            trace_id=trace_id, details=details, failures=failures))


class Layout:
    """Column widths for a terminal ``width``: the bars get at least half of it, the name
    what it needs up to the rest; service, start and drag columns only where they fit."""

    DURATION, STATUS, START, DRAG = 6, 8, 7, 6

    def __init__(self, width: int, longest_name: int, services: list):
        width = max(40, width)
        fixed = 2 + self.DURATION + 2 + self.STATUS + 2 + 2  # + name + bar
        least_bar = width // 2
        self.name = max(8, min(longest_name, width - fixed - least_bar))
        room = width - fixed - self.name - least_bar
        self.service = 0
        if len(services) > 1:
            wanted = min(12, max(len(s) for s in services))
            if room >= wanted + 2:
                self.service, room = wanted, room - wanted - 2
        self.start = self.START if room >= self.START + 2 else 0
        room -= self.start + 2 if self.start else 0
        self.drag = self.DRAG if room >= self.DRAG + 2 else 0
        room -= self.drag + 2 if self.drag else 0
        self.bar = least_bar + room


STATE_WORDS = {"running": "RUNNING", "gone": "NO END"}
"""Status cells of start records: still running, or its process gone without an end."""


def _status_cell(status: int, exit_text: str, width: int, color: bool,
                 glyphs: Glyphs, state: str = "") -> str:
    """``ERROR 3``, ``OK``, ``-`` (unset), ``ERR 127``, ``RUNNING``, ``NO END``: the status
    and a telling exit code in one cell of ``width``."""
    if state:
        return _paint(_fit(STATE_WORDS[state], width, glyphs),
                      _BOLD if state == "running" else _STATUS_COLORS["ERROR"], color)
    name = span.status_name(status)
    text = name if name != "UNSET" else "-"
    if exit_text and exit_text != "0" or exit_text and name == "UNSET":
        text = "%s %s" % (text, exit_text)
        if len(text) > width and name == "ERROR":
            text = "ERR " + exit_text
    return _paint(_fit(text, width, glyphs), _STATUS_COLORS.get(name, ""), color)


def _short(ns: int, glyphs: Glyphs) -> str:
    return format_duration(ns, glyphs) if ns >= 1_000_000 \
        else "%d%s" % (round(max(0, ns) / 1000), glyphs.micro)


def trace_lines(records, *, width: int = 120, color: bool = False, attrs=(),
                glyphs: Glyphs = UNICODE, trace_id: str = None, details: bool = False,
                failures: bool = True):
    """``render_trace``, one line at a time: a 100,000-span trace need not be held twice.

    ``details`` (``show --attrs``) puts each span's attributes, start, slack and drag on
    a line of their own under its row; ``attrs`` adds those keys.
    """
    spans = trace.as_spans(records)
    if not spans:
        return
    t0 = min(s.start_ns for s in spans)
    t1 = max(max(s.end_ns, s.start_ns) for s in spans)
    total = t1 - t0
    children = trace.children_of(spans)
    rows = _prefixed(trace.tree_order(spans, children), glyphs)
    path = critical.critical_path(spans, children)
    on_path, slack_of, drag_of = path.span_ids, path.slack, path.drag
    services: dict = {}
    for _, item in rows:
        services.setdefault(item.service, len(services))
    service_names = [printable(name) for name in services]
    header = "trace %s  %d span%s  %s  started %s" % (
        trace_id or printable(spans[0].trace_id), len(spans), "" if len(spans) == 1 else "s",
        format_duration(total, glyphs), format_time(t0))
    if len(services) == 1 and service_names[0]:
        header += "  service %s" % service_names[0]

    labels = [prefix + printable(item.name) for prefix, item in rows]
    layout = Layout(width, max(len(label) for label in labels), service_names)
    name_w, service_w, bar_w = layout.name, layout.service, layout.bar
    extra_keys = [k for k in attrs if k not in KEY_ATTRIBUTES] if not details else list(attrs)

    yield _paint(header, _BOLD, color)
    axis_end = format_duration(total, glyphs)
    axis = "0" + axis_end.rjust(bar_w - 1) if bar_w > len(axis_end) else "0"
    if bar_w >= 3 * len(axis_end) + 6:
        middle = format_duration(total // 2, glyphs)
        at = bar_w // 2 - len(middle) // 2
        axis = axis[:at] + middle + axis[at + len(middle):]
    titles = ["NAME".ljust(name_w)]
    if service_w:
        titles.append("SERVICE".ljust(service_w))
    if layout.start:
        titles.append("START".rjust(layout.start))
    titles += ["DUR".rjust(layout.DURATION), "STATUS".ljust(layout.STATUS)]
    if layout.drag:
        titles.append("DRAG".rjust(layout.drag))
    yield ("  ".join(titles) + "  " + axis).rstrip()
    fitted_services = [_fit(name, service_w, glyphs) for name in service_names]
    painted_services = [_paint(fitted, _SERVICE_COLORS[i % len(_SERVICE_COLORS)], color)
                        for i, fitted in enumerate(fitted_services)]
    status_cells: dict = {}
    slack_glyph = "\u00b7" if glyphs is UNICODE else "."
    indent_of_details = " " * 4
    for (prefix, item), label in zip(rows, labels):
        index = services[item.service]
        exit_text = item.shown[0]
        if exit_text:
            exit_text = printable(exit_text)
        key = (item.status, exit_text, item.state)
        cell = status_cells.get(key)
        if cell is None:
            cell = status_cells[key] = _status_cell(item.status, exit_text, layout.STATUS,
                                                    color, glyphs, item.state)
        start, end = item.start_ns, item.end_ns
        offset = start - t0
        slack = slack_of.get(item.span_id)
        if total > 0:  # the bar: where it begins and how long it is, on bar_w characters
            lead = min(bar_w - 1, max(0, offset * bar_w // total))
            length = min(bar_w, max(lead + 1, -(-(end - t0) * bar_w // total))) - lead
            spare = 0 if not slack else min(bar_w - lead - length, slack * bar_w // total)
        else:
            lead, length, spare = 0, bar_w, 0
        bars = (glyphs.block if item.span_id in on_path else glyphs.shade) * length
        if color:
            bars = _paint(bars, _SERVICE_COLORS[index % len(_SERVICE_COLORS)], color)
        if spare:
            bars += _paint(slack_glyph * spare, _DIM, color)
        cells = [label.ljust(name_w) if len(label) <= name_w else _fit(label, name_w, glyphs)]
        if service_w:
            cells.append(painted_services[index])
        if layout.start:
            cells.append(("+" + _short(offset, glyphs) if offset > 0 else "0").rjust(
                layout.start))
        cells += [("?" if item.state == "gone" else _short(end - start, glyphs)).rjust(
            layout.DURATION), cell]
        if layout.drag:
            drag = drag_of.get(item.span_id) if prefix else None
            cells.append((_short(drag, glyphs) if drag and item.span_id in on_path
                          else "").rjust(layout.drag))
        yield ("  ".join(cells) + " |%s%s%s|" % (
            " " * lead, bars, " " * (bar_w - lead - length - spare))).rstrip()
        if failures and item.events:  # a failed command's stderr tail, under its row
            for text in stderr_tail.lines_of(item.events):
                yield _paint("%s    | %s" % (" " * len(prefix), printable(text)), _DIM, color)
        elsewhere = not prefix and bool(item.parent_id)
        if not (details or extra_keys or elsewhere):
            continue
        extra = _key_attributes(item, extra_keys, everything=details, show_command=details,
                                parent_elsewhere=elsewhere)
        if details:
            timing = ["start=+%s" % _short(offset, glyphs) if offset > 0 else "start=0"]
            if slack is not None and prefix:
                timing.append("slack=%s" % (_short(slack, glyphs) if slack else "0"))
            if prefix and item.span_id in on_path and drag_of.get(item.span_id):
                timing.append("drag=%s" % _short(drag_of[item.span_id], glyphs))
            if len(services) > 1:
                timing.append("service=%s" % service_names[index])
            extra = " ".join(timing) + (" " + extra if extra else "")
        if extra and (details or extra_keys or elsewhere):
            yield _paint(_fit(indent_of_details + extra, width, glyphs).rstrip(), _DIM, color)
    legend = path.describe() if len(spans) > 1 else ""
    if legend:
        heavy = path.largest_drag(spans)
        most = "; most drag: " + ", ".join(
            "%s %s" % (printable(s.name), _short(d, glyphs)) for s, d in heavy) if heavy else ""
        yield _fit("%s %s%s; %s other spans, %s slack" % (
            glyphs.block, legend, most, glyphs.shade, slack_glyph), max(40, width),
            glyphs).rstrip()


def summary_of_row(row: dict, state: str = "", now_ns: int = 0) -> dict:
    """What ``--list`` shows of a trace, from its index row; ``state``: ``running`` (the
    duration is the time elapsed so far) or ``gone`` (no end: no duration)."""
    duration = max(0, row["end_ns"] - row["start_ns"])
    if state == "running":
        duration = max(0, now_ns - row["start_ns"])
    return {"trace_id": row["trace_id"], "root": row["root_name"],
            "service": row["root_service"], "spans": row["spans"],
            "start_ns": row["start_ns"], "duration_ns": None if state == "gone" else duration,
            "status": STATE_WORDS[state] if state else span.status_name(row["root_status"]),
            "errors": row["errors"], "state": state or "ended"}


def render_list(summaries, *, color: bool = False, glyphs: Glyphs = UNICODE) -> list:
    """One line per trace summary, under column titles."""
    root_w = max([4] + [min(40, len(printable(s["root"]))) for s in summaries])
    lines = ["%-32s  %s  %6s  %-29s  %8s  %s" % (
        "TRACE ID", "ROOT".ljust(root_w), "SPANS", "START", "DURATION", "STATUS")]
    for s in summaries:
        status = printable(s["status"])
        duration = "?" if s["duration_ns"] is None else format_duration(s["duration_ns"], glyphs)
        lines.append("%s  %s  %6d  %-29s  %8s  %s" % (
            s["trace_id"], _fit(printable(s["root"]), root_w, glyphs), s["spans"],
            format_time(s["start_ns"]), duration + ("+" if s["status"] == "RUNNING" else ""),
            _paint(status, _STATUS_COLORS.get(status, _BOLD), color)))
    return lines


# --- the command ----------------------------------------------------------------

def parse_args(args: list):
    parser = subcommand_parser(
        "show",
        "Show a trace from the local store as a tree with a waterfall.")
    parser.add_argument("trace", nargs="?", default="last",
                        help="trace id, a unique prefix of one, 'last' (default) or "
                             "'last~N' (N traces before the last)")
    parser.add_argument("--json", action="store_true",
                        help="print the trace as one OTLP/JSON document")
    parser.add_argument("--html", metavar="FILE",
                        help="write the trace as one self-contained web page (- for stdout)")
    parser.add_argument("--list", action="store_true", help="list recent traces")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIST, metavar="N",
                        help="with --list, how many traces (default %(default)s)")
    parser.add_argument("--attr", action="append", default=[], metavar="KEY",
                        help="also show this attribute, on a line under its span "
                             "(repeatable)")
    parser.add_argument("--attrs", action="store_true",
                        help="a line under each span with its key attributes, command, "
                             "start, slack and drag")
    parser.add_argument("--no-color", action="store_true", help="never use colours")
    return parser.parse_args(args)


def wants_color(stream, environ, no_color: bool) -> bool:
    """Colours only on a terminal, without NO_COLOR (https://no-color.org), not dumb."""
    if no_color or environ.get("NO_COLOR") or environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def recent_summaries(home: str, limit: int) -> list:
    """Summaries of the ``limit`` most recently written traces, newest first (from the
    index: no trace is read)."""
    from . import index
    import time
    db = store.index(home)
    try:
        rows, _ = index.search(db, limit=max(0, limit))
        open_spans = trace.running_in(db, [row["trace_id"] for row in rows])
    finally:
        db.close()
    now = time.time_ns()
    return [summary_of_row(row, trace_state(home, row["trace_id"], open_spans), now)
            for row in rows]


def trace_state(home: str, trace_id: str, open_spans: dict) -> str:
    """``running`` when a span of the trace is still running, else ``gone`` when one
    ended without an end, else empty."""
    states = trace.states_of(home, trace_id, open_spans.get(trace_id, ())).values()
    return "running" if "running" in states else "gone" if "gone" in states else ""


def report_filing(filed, err=None) -> None:
    """One line on stderr for each thing filing did that the user should hear of:
    unreadable bytes set aside, old traces let go for the size limit."""
    err = sys.stderr if err is None else err
    if filed.quarantined_pieces:
        err.write("traceexec: %d unreadable piece%s (%d bytes) of the store's incoming "
                  "spans set aside in %s\n" % (
                      filed.quarantined_pieces, "" if filed.quarantined_pieces == 1 else "s",
                      filed.quarantined_bytes, filed.quarantine_file))
    if filed.full:
        err.write("traceexec: the disk is full (%s): the newest spans wait to be filed "
                  "until there is room; showing what was filed\n" % filed.full)
    if filed.pruned_segments:
        err.write("traceexec: the store reached its size limit (%s, %d MiB by default): "
                  "its %d oldest trace%s let go\n" % (
                      store.MAX_MB_VARIABLE, store.DEFAULT_MAX_MB, filed.pruned_traces,
                      "" if filed.pruned_traces == 1 else "s"))


def with_states(home: str, trace_id: str, spans) -> list:
    """``spans`` with their start records marked running or gone (``trace.with_running``)."""
    import time
    open_ids = [s.span_id for s in spans if not s.end_ns]
    if open_ids:
        trace.with_running(spans, trace.states_of(home, trace_id, open_ids), time.time_ns())
    return spans


def write_html(home: str, trace_id: str, target: str, out) -> int:
    """The trace page with every span's details, as one file needing nothing else."""
    from .web import pages
    spans = trace.load(home, trace_id)
    if not spans:
        raise store.UnknownTrace("trace %s has no readable spans" % trace_id)
    with_states(home, trace_id, spans)
    page = pages.trace_page(pages.trace_view(spans, trace_id, details=True), standalone=True)
    if target == "-":
        emit(out, page)
        return 0
    try:
        with open(target, "w", encoding="utf-8", errors="replace") as handle:
            handle.write(page)
    except OSError as error:
        raise store.UnknownTrace("cannot write %s: %s" % (target, error.strerror or error)) \
            from None
    return 0


def main(args: list, environ=None, out=None) -> int:
    """Print a trace (or the list of traces); UnknownTrace for a missing one, which
    says where spans go when an endpoint is set (they are not in the local store)."""
    try:
        return _main(args, environ, out)
    except store.UnknownTrace as error:
        from ..delivery.health import elsewhere
        note = elsewhere(os.environ if environ is None else environ)
        if note is None:
            raise
        raise store.UnknownTrace("%s; %s" % (error, note)) from None


def _main(args: list, environ=None, out=None) -> int:
    import gc
    gc.disable()  # a short-lived reader of many acyclic objects: collections only cost time
    opts = parse_args(args)
    environ = os.environ if environ is None else environ
    out = sys.stdout if out is None else out
    home = config.default_home(environ)
    color = wants_color(out, environ, opts.no_color)
    glyphs = glyphs_for(out)
    if os.path.isdir(store.store_dir(home)):
        report_filing(store.ingest(home))
    if opts.list:
        summaries = recent_summaries(home, opts.limit) \
            if os.path.isdir(store.store_dir(home)) else []
        if not summaries:
            raise store.UnknownTrace("the local store is empty (%s)" % store.store_dir(home))
        if opts.json:
            lines = [json.dumps(s, separators=(",", ":")) for s in summaries]
        else:
            lines = render_list(summaries, color=color, glyphs=glyphs)
    else:
        trace_id = store.resolve(home, opts.trace)
        if opts.html:
            return write_html(home, trace_id, opts.html, out)
        if opts.json:
            from .document import write_document
            write_document(home, trace_id, lambda text: emit(out, text))
            emit(out, "\n")
            return 0
        else:
            # the index's rows hold what a row shows; other attributes are in the lines
            spans = trace.load(home, trace_id, keep=keys_for(opts.attr), details=False) \
                if opts.attr else trace.load_rows(home, trace_id)
            if not spans:
                raise store.UnknownTrace("trace %s has no readable spans" % trace_id)
            with_states(home, trace_id, spans)
            stderr_tail.attach_events(home, trace_id, spans)
            width = shutil.get_terminal_size((120, 24)).columns
            lines = trace_lines(spans, width=width, color=color, attrs=opts.attr,
                                glyphs=glyphs, trace_id=trace_id, details=opts.attrs)
    batch = []
    for line in lines:
        batch.append(line)
        if len(batch) >= 4096:
            emit(out, "\n".join(batch) + "\n")
            batch = []
    if batch:
        emit(out, "\n".join(batch) + "\n")
    return 0


def emit(out, text: str) -> None:
    """Write ``text``; characters the stream cannot encode become ``?``, never an error."""
    encoding = getattr(out, "encoding", None)
    buffer = getattr(out, "buffer", None)
    if encoding and buffer is not None:
        out.flush()
        buffer.write(text.encode(encoding, "replace"))
        buffer.flush()
    else:
        out.write(text)
        out.flush()
