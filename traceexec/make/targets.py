"""Target spans: one per target that ran recipe lines, from the lines' notes.

Each recipe line's wrapper works out its target's span id from what every line
of that target shares (the trace, the span that started make, make's pid, the
target), makes it its parent, and appends one note (JSON, one line) to the
run's ``notes`` file.  When make has ended, the outermost ``traceexec --make``
reads the notes and records the target spans: from the first line's start to
the last line's end, the last line's status, ``depends`` links to the targets
of the same make that it waited for (``$^`` and ``$|``), and why make remade it
(``$?`` is make's own answer for newer prerequisites, ``.PHONY`` the
makefiles' own list, see phony.py).
"""

import binascii
import os

LINK_TYPE = "traceexec.link.type"  # as the DAG driver's links (dag/spans.py)
MAX_NOTES_BYTES = 256 * 1024 * 1024
"""What the outermost traceexec reads of the notes at most."""


def target_span_id(trace_id: str, parent_id: str, make_pid: int, target: str) -> str:
    """The span id every recipe line of one target works out alike (16 hex digits)."""
    key = ("%s/%s/%d/%s" % (trace_id, parent_id, make_pid, target)).encode("utf-8",
                                                                          "surrogateescape")
    high = binascii.crc32(key)
    low = binascii.crc32(key, 0x9E3779B9)
    return "%08x%08x" % (high, low or 1)


def reason(note: dict) -> str:
    """Why make remade the target, from what the first line saw."""
    if note.get("phony"):
        return "phony"
    if note.get("forced"):
        return "forced (-B)"
    if note.get("missing"):
        return "target missing"
    if note.get("newer"):
        return "newer prerequisites"
    return "remade prerequisites"


FIELDS = ("id", "trace", "parent", "flags", "pid", "target", "level", "missing", "forced",
          "phony", "newer", "prereqs", "start", "end", "status")
"""A note's fields, in order: NUL between them, lists joined by US (0x1f), one line
each (make's targets hold neither)."""
_NUMBERS = ("flags", "pid", "level", "start", "end", "status")
_FLAGS = ("missing", "forced", "phony")
_LISTS = ("newer", "prereqs")


def note(path: str, fields: dict) -> None:
    """Append one note: a single write of one line, O_APPEND, so lines never interleave.

    No json here: its decoder imports ``re``, and this runs once per recipe line."""
    parts = []
    for name in FIELDS:
        value = fields[name]
        if name in _LISTS:
            value = "\x1f".join(value)
        elif name in _FLAGS:
            value = "1" if value else ""
        parts.append(str(value).replace("\n", " ").replace("\0", " "))
    data = ("\0".join(parts) + "\n").encode("utf-8", "surrogateescape")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def read_notes(path: str) -> list:
    """The notes, as dicts; a line that does not parse is left out."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_NOTES_BYTES)
    except OSError:
        return []
    notes = []
    for line in data.decode("utf-8", "surrogateescape").split("\n"):
        parts = line.split("\0")
        if len(parts) != len(FIELDS):
            continue
        item = dict(zip(FIELDS, parts))
        try:
            for name in _NUMBERS:
                item[name] = int(item[name])
        except ValueError:
            continue
        for name in _FLAGS:
            item[name] = item[name] == "1"
        for name in _LISTS:
            item[name] = [word for word in item[name].split("\x1f") if word]
        notes.append(item)
    return notes


def spans(notes: list, resource=None, scope_version="") -> list:
    """Target span records from the recipe lines' notes."""
    from ..delivery import span
    groups = {}
    for item in notes:
        groups.setdefault(item["id"], []).append(item)
    for lines in groups.values():
        lines.sort(key=lambda n: (n["start"], n["end"]))
    # a make's targets: the same parent span and make pid
    index = {(lines[0]["parent"], lines[0]["pid"], lines[0]["target"]): span_id
             for span_id, lines in groups.items()}
    records = []
    for span_id, lines in groups.items():
        first, last = lines[0], lines[-1]
        waited = []
        for name in first.get("prereqs", []):
            other = index.get((first["parent"], first["pid"], name))
            if other and other != span_id and other not in waited:
                waited.append(other)
        attributes = {"make.target": first["target"], "make.level": first["level"],
                      "make.reason": reason(first), "make.recipe_lines": len(lines),
                      "process.exit.code": last["status"]}
        if first.get("newer"):
            attributes["make.newer_prerequisites"] = first["newer"][:100]
        if first.get("prereqs"):
            attributes["make.prerequisites"] = first["prereqs"][:100]
        failed = bool(last["status"])
        records.append(span.new_record(
            trace_id=first["trace"], span_id=span_id, parent_span_id=first["parent"],
            flags=first.get("flags", 1), name=first["target"], kind=span.KIND_INTERNAL,
            start_ns=first["start"], end_ns=max(n["end"] for n in lines),
            attributes=attributes,
            status_code=span.STATUS_ERROR if failed else span.STATUS_OK,
            status_message="recipe line exited %d" % last["status"] if failed else "",
            links=[{"trace_id": first["trace"], "span_id": other, "trace_state": "",
                    "attributes": {LINK_TYPE: "depends"}} for other in waited],
            resource=resource, scope_version=scope_version))
    return records
