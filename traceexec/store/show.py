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
from . import local as store
from ..cli import subcommand_parser
from ..errors import printable

KEY_ATTRIBUTES = ("error.type", "step.status", "dag.status", "make.target")
"""Attributes shown beside each span when present (add more with --attr)."""
EXIT_ATTRIBUTES = ("process.exit.code", "step.exit_code")
MAX_INDENT = 24
"""Deeper spans show only their last MAX_INDENT levels of tree guides."""
DEFAULT_LIST = 20

_RESET, _BOLD, _DIM = "\x1b[0m", "\x1b[1m", "\x1b[2m"
_STATUS_COLORS = {"OK": "\x1b[32m", "ERROR": "\x1b[1;31m", "UNSET": _DIM}
_SERVICE_COLORS = ("\x1b[36m", "\x1b[35m", "\x1b[33m", "\x1b[34m", "\x1b[32m", "\x1b[96m",
                   "\x1b[95m", "\x1b[93m")


class Glyphs:
    """The characters the tree and the bars are drawn with."""

    def __init__(self, tee, corner, pipe, block, ellipsis, micro):
        self.tee, self.corner, self.pipe = tee, corner, pipe
        self.block, self.ellipsis, self.micro = block, ellipsis, micro


UNICODE = Glyphs("├─ ", "└─ ", "│  ", "█", "…", "µs")
ASCII = Glyphs("|- ", "`- ", "|  ", "#", "~", "us")


def glyphs_for(stream) -> Glyphs:
    """UNICODE when ``stream`` can encode it, else ASCII."""
    try:
        "├─└│█…µ".encode(getattr(stream, "encoding", None) or "ascii")
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
    """Local wall-clock time of a Unix-nanosecond timestamp, to the millisecond."""
    moment = datetime.datetime.fromtimestamp(ns / 1e9).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + "%03d" % (moment.microsecond // 1000) \
        + moment.strftime(" %z")


def _fit(text: str, width: int, glyphs: Glyphs) -> str:
    """``text`` cut to ``width`` characters (with an ellipsis) and padded to it."""
    if len(text) > width:
        text = text[:max(0, width - 1)] + glyphs.ellipsis if width > 0 else ""
    return text.ljust(width)


def _paint(text: str, code: str, color: bool) -> str:
    return code + text + _RESET if color and code and text.strip() else text


def status_name(record) -> str:
    return span.STATUS_NAMES.get(record["status_code"], str(record["status_code"]))


def exit_code(record) -> str:
    for key in EXIT_ATTRIBUTES:
        if key in record["attributes"]:
            return str(record["attributes"][key])
    return ""


def service_name(record) -> str:
    return printable(record["resource"].get("service.name", ""))


# --- the tree -------------------------------------------------------------------

def _by_start(record):
    return (record["start_ns"], record["end_ns"], record["name"], record["span_id"])


def roots_of(records) -> list:
    """Spans whose parent is not in the trace, earliest first."""
    ids = {r["span_id"] for r in records}
    return sorted((r for r in records if r["parent_span_id"] not in ids), key=_by_start)


def walk(records, glyphs: Glyphs = UNICODE) -> list:
    """(tree prefix, record) rows in display order: depth first, children by start time.

    Spans caught in a parent cycle are never reached from a root; they follow
    as roots of their own, so every span is shown exactly once.
    """
    children: dict = {}
    for record in records:
        children.setdefault(record["parent_span_id"], []).append(record)
    for group in children.values():
        group.sort(key=_by_start)
    rows, seen, guides = [], set(), []
    pending = list(roots_of(records))
    leftovers = sorted(records, key=_by_start)
    while True:
        # stack items: (record, depth, is last child)
        stack = [(r, 0, True) for r in reversed(pending)]
        while stack:
            record, depth, last = stack.pop()
            if record["span_id"] in seen:
                continue
            seen.add(record["span_id"])
            if depth == 0:
                prefix = ""
                del guides[:]
            else:
                del guides[depth - 1:]
                shown = guides[-MAX_INDENT:] if depth - 1 > MAX_INDENT else guides
                prefix = ("" if shown is guides else glyphs.ellipsis) + "".join(shown) \
                    + (glyphs.corner if last else glyphs.tee)
                guides.append("   " if last else glyphs.pipe)
            rows.append((prefix, record))
            kids = [k for k in children.get(record["span_id"], ()) if k["span_id"] not in seen]
            for index in range(len(kids) - 1, -1, -1):
                stack.append((kids[index], depth + 1, index == len(kids) - 1))
        pending = [r for r in leftovers if r["span_id"] not in seen][:1]
        if not pending:
            return rows


# --- rendering ------------------------------------------------------------------

def command_text(record) -> str:
    """The command a span ran: the ``-c`` string, else the joined arguments."""
    args = record["attributes"].get("process.command_args")
    if not isinstance(args, list) or not args:
        return ""
    if len(args) >= 3 and args[1] == "-c":
        return str(args[2])
    return " ".join(str(a) for a in args)


def _key_attributes(record, extra, *, show_command=False, parent_elsewhere=False) -> str:
    attrs = record["attributes"]
    keys = list(KEY_ATTRIBUTES) + [k for k in extra if k not in KEY_ATTRIBUTES]
    words = ["%s=%s" % (k, attrs[k]) for k in keys if k in attrs]
    if parent_elsewhere:
        words.insert(0, "parent=%s(remote)" % record["parent_span_id"][:8])
    if show_command and command_text(record):
        words.append("cmd=%s" % command_text(record))
    return printable(" ".join(words))


def _bar(record, t0: int, total: int, width: int, glyphs: Glyphs) -> tuple:
    """(leading spaces, bar length) of a span on an axis ``width`` characters wide."""
    if total <= 0:
        return 0, width
    begin = min(width - 1, max(0, (record["start_ns"] - t0) * width // total))
    end = -(-(record["end_ns"] - t0) * width // total)  # ceiling
    end = min(width, max(begin + 1, end))
    return begin, end - begin


def render_trace(records, *, width: int = 120, color: bool = False, attrs=(),
                 glyphs: Glyphs = UNICODE) -> list:
    """Lines showing a trace: a header, column titles, then one row per span."""
    if not records:
        return []
    t0 = min(r["start_ns"] for r in records)
    t1 = max(max(r["end_ns"], r["start_ns"]) for r in records)
    total = t1 - t0
    rows = walk(records, glyphs)
    services = []
    for _, record in rows:
        name = service_name(record)
        if name not in services:
            services.append(name)
    header = "trace %s  %d span%s  %s  started %s" % (
        records[0]["trace_id"], len(records), "" if len(records) == 1 else "s",
        format_duration(total, glyphs), format_time(t0))

    labels = [prefix + printable(record["name"]) for prefix, record in rows]
    name_counts: dict = {}
    for record in records:
        name_counts[record["name"]] = name_counts.get(record["name"], 0) + 1
    extras = [_key_attributes(record, attrs, show_command=name_counts[record["name"]] > 1,
                              parent_elsewhere=not prefix and bool(record["parent_span_id"]))
              for prefix, record in rows]
    name_w = max(4, min(max(len(label) for label in labels), max(20, width // 3)))
    service_w = max(7, min(max(len(s) for s in services), 20))
    start_w = duration_w = 8
    status_w, exit_w = 6, 4
    fixed = name_w + service_w + start_w + duration_w + status_w + exit_w + 6 * 2 + 2
    attrs_w = min(max(len(e) for e in extras), max(0, width // 4))
    bar_w = max(10, width - fixed - (attrs_w + 2 if attrs_w else 0))

    lines = [_paint(header, _BOLD, color)]
    axis_end = format_duration(total, glyphs)
    axis = "0" + axis_end.rjust(bar_w - 1) if bar_w > len(axis_end) else "0"
    lines.append("  ".join([
        "NAME".ljust(name_w), "SERVICE".ljust(service_w), "START".rjust(start_w),
        "DURATION".rjust(duration_w), "STATUS".ljust(status_w), "EXIT".rjust(exit_w),
        " " + axis.ljust(bar_w) + " ", "ATTRIBUTES" if attrs_w else ""]).rstrip())
    for (prefix, record), label, extra in zip(rows, labels, extras):
        service = service_name(record)
        service_color = _SERVICE_COLORS[services.index(service) % len(_SERVICE_COLORS)]
        status = status_name(record)
        offset = record["start_ns"] - t0
        lead, length = _bar(record, t0, total, bar_w, glyphs)
        bar = " " * lead + _paint(glyphs.block * length, service_color, color) \
            + " " * (bar_w - lead - length)
        cells = [
            _fit(label, name_w, glyphs),
            _paint(_fit(service, service_w, glyphs), service_color, color),
            ("+" + format_duration(offset, glyphs) if offset else "0").rjust(start_w),
            format_duration(record["end_ns"] - record["start_ns"], glyphs).rjust(duration_w),
            _paint(status.ljust(status_w), _STATUS_COLORS.get(status, ""), color),
            exit_code(record).rjust(exit_w),
            "|" + bar + "|",
            _fit(extra, attrs_w, glyphs) if attrs_w else "",
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def summarize(records) -> dict:
    """Trace id, root span name, span count, start, duration and the root's status."""
    root = roots_of(records)[0]
    t0 = min(r["start_ns"] for r in records)
    t1 = max(r["end_ns"] for r in records)
    return {"trace_id": root["trace_id"], "root": root["name"],
            "service": service_name(root), "spans": len(records),
            "start_ns": t0, "duration_ns": max(0, t1 - t0), "status": status_name(root)}


def render_list(summaries, *, color: bool = False, glyphs: Glyphs = UNICODE) -> list:
    """One line per trace summary, under column titles."""
    root_w = max([4] + [min(40, len(s["root"])) for s in summaries])
    lines = ["%-32s  %s  %6s  %-29s  %8s  %s" % (
        "TRACE ID", "ROOT".ljust(root_w), "SPANS", "START", "DURATION", "STATUS")]
    for s in summaries:
        lines.append("%s  %s  %6d  %-29s  %8s  %s" % (
            s["trace_id"], _fit(printable(s["root"]), root_w, glyphs), s["spans"],
            format_time(s["start_ns"]), format_duration(s["duration_ns"], glyphs),
            _paint(s["status"], _STATUS_COLORS.get(s["status"], ""), color)))
    return lines


# --- the command ----------------------------------------------------------------

def parse_args(args: list):
    parser = subcommand_parser(
        "show",
        "Show a trace from the local store as a tree with a waterfall.")
    parser.add_argument("trace", nargs="?", default="last",
                        help="trace id, a unique prefix of one, or 'last' (default)")
    parser.add_argument("--json", action="store_true",
                        help="print the trace as one OTLP/JSON document")
    parser.add_argument("--list", action="store_true", help="list recent traces")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIST, metavar="N",
                        help="with --list, how many traces (default %(default)s)")
    parser.add_argument("--attr", action="append", default=[], metavar="KEY",
                        help="also show this attribute (repeatable)")
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
    """Summaries of the ``limit`` most recently written traces, newest first."""
    summaries = []
    for trace_id in reversed(store.trace_ids(home)):
        if len(summaries) >= max(0, limit):
            break
        records = store.read(home, trace_id)
        if records:
            summaries.append(summarize(records))
    return summaries


def main(args: list, environ=None, out=None) -> int:
    """Print a trace (or the list of traces); UnknownTrace for a missing one."""
    opts = parse_args(args)
    environ = os.environ if environ is None else environ
    out = sys.stdout if out is None else out
    home = config.default_home(environ)
    color = wants_color(out, environ, opts.no_color)
    glyphs = glyphs_for(out)
    if opts.list:
        summaries = recent_summaries(home, opts.limit)
        if not summaries:
            raise store.UnknownTrace("the local store is empty (%s)" % store.traces_dir(home))
        if opts.json:
            lines = [json.dumps(s, separators=(",", ":")) for s in summaries]
        else:
            lines = render_list(summaries, color=color, glyphs=glyphs)
    else:
        trace_id = store.resolve(home, opts.trace)
        records = store.read(home, trace_id)
        if not records:
            raise store.UnknownTrace("trace %s has no readable spans" % trace_id)
        if opts.json:
            lines = [json.dumps(span.to_otlp_json(records), separators=(",", ":"))]
        else:
            width = shutil.get_terminal_size((120, 24)).columns
            lines = render_trace(records, width=width, color=color, attrs=opts.attr,
                                 glyphs=glyphs)
    emit(out, "\n".join(lines) + "\n")
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
