"""The viewer's HTTP server, run by ``traceexec serve`` on its own port.

Routes (GET and HEAD only):

    /                       the trace list: search, filters, paging (the index answers)
    /trace/<id|prefix|last> a trace page
    /api/span?trace=&span=  one span's details as JSON, for pages of big traces
    /api/rows?trace=        every row of a trace page as JSON, for pages of big traces
    /diff?a=&b=             two traces (or DAG run ids) compared

Nothing a request says becomes a path: trace ids are checked hex and looked up
in the index, and the page assets are compiled in.  The port is loopback-only
unless ``--web-public`` was given, and on loopback a request must name a
loopback host (no DNS rebinding from a web page elsewhere).
"""
from __future__ import annotations

import calendar
import datetime
import itertools
import json
import sqlite3
import time
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler

from .. import diff as _diff, index as _index, local as store, trace as _trace
from ..httpserver import BoundedHttpServer, deadline_reader, is_loopback, \
    is_loopback_host_header
from . import pages
from ... import stderr_tail

PER_PAGE = 50
MAX_PER_PAGE = 500


ROWS_KEPT_S = 10.0
"""How long the rows of a big trace's page stay at hand for its ``/api/rows`` request."""
RUNS_COMPARED = 100
"""The critical-path page of a DAG reads at most this many of its latest traces."""


class NotFound(Exception):
    """A page that does not exist (404)."""


def _local_time_ns(text: str):
    """Unix ns of a ``datetime-local`` value in this machine's zone; None when empty/bad."""
    if not text:
        return None
    try:
        moment = datetime.datetime.strptime(text[:16], "%Y-%m-%dT%H:%M")
    except ValueError:
        return None
    try:
        return int(moment.astimezone().timestamp()) * 1_000_000_000
    except (ValueError, OverflowError):  # year 1 or 9999, past what the zone converts
        return calendar.timegm(moment.timetuple()) * 1_000_000_000


class ViewerHandler(BaseHTTPRequestHandler):
    """Pages of the local store."""

    server_version = "traceexec-viewer"
    protocol_version = "HTTP/1.0"

    def setup(self):
        super().setup()
        self.rfile = deadline_reader(self.connection, self.server.request_timeout)

    def do_HEAD(self):  # noqa: N802 (http.server's name)
        self._serve(head=True)

    def do_GET(self):  # noqa: N802
        self._serve(head=False)

    def do_POST(self):  # noqa: N802
        self._send(405, "text/plain; charset=utf-8", b"the viewer only reads\n")

    do_PUT = do_DELETE = do_PATCH = do_POST

    def _serve(self, head: bool) -> None:
        if not self._host_allowed():
            return self._send(421, "text/plain; charset=utf-8",
                              b"this viewer answers only to a loopback host name\n")
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, max_num_fields=32).items()}
        try:
            status, content_type, body = 200, *self._route(url.path, query)
            if not isinstance(body, (str, bytes)):  # a page in pieces: its checks run now
                return self._stream(content_type, body, first=next(body), head=head)
        except NotFound as missing:
            status, content_type, body = 404, "text/html; charset=utf-8", pages.message_page(
                "Not found", str(missing))
        except store.UnknownTrace as unknown:
            status, content_type, body = 404, "text/html; charset=utf-8", pages.message_page(
                "No such trace", str(unknown))
        except (OSError, sqlite3.Error) as error:
            status, content_type, body = 503, "text/html; charset=utf-8", pages.message_page(
                "The store cannot be read", str(error))
        data = body if isinstance(body, bytes) else body.encode("utf-8", "replace")
        packer = self._packer()
        if packer is not None:
            data = packer.compress(data) + packer.flush()
        self._send(status, content_type, b"" if head else data, length=len(data),
                   packed=packer is not None)

    def _packer(self):
        """A gzip compressor when the request accepts gzip (RFC 9110 12.5.3), else None."""
        accepted = False
        for item in self.headers.get("Accept-Encoding", "")[:1000].split(","):
            name, _, params = item.strip().partition(";")
            quality = params.strip().lower()
            refused = quality.startswith("q=") and quality[2:].strip() in (
                "0", "0.", "0.0", "0.00", "0.000")
            if name.strip().lower() in ("gzip", "x-gzip"):
                return None if refused else zlib.compressobj(6, zlib.DEFLATED, 31)
            if name.strip() == "*":
                accepted = not refused
        return zlib.compressobj(6, zlib.DEFLATED, 31) if accepted else None

    def _stream(self, content_type: str, pieces, *, first: str, head: bool) -> None:
        """Send a page as its pieces come (no length: HTTP/1.0 ends it with the
        connection), so its first bytes leave before the slow part is worked out."""
        packer = self._packer()
        self._send(200, content_type, b"", length=None, packed=packer is not None)
        if head:
            return
        try:
            for piece in itertools.chain((first,), pieces):
                data = piece.encode("utf-8", "replace")
                if packer is not None:
                    data = packer.compress(data) + packer.flush(zlib.Z_SYNC_FLUSH)
                self.wfile.write(data)
                self.wfile.flush()
            if packer is not None:
                self.wfile.write(packer.flush())
        except OSError:
            pass

    def _host_allowed(self) -> bool:
        return self.server.public or is_loopback_host_header(self.headers.get("Host"),
                                                             self.server.bound_host)

    def _route(self, path: str, query: dict) -> tuple:
        home = self.server.home
        if path == "/":
            return "text/html; charset=utf-8", self._list(home, query)
        if path.startswith("/trace/"):
            ref = path[len("/trace/"):]
            db = store.index(home)
            try:
                trace_id = store.resolve_in(db, home, ref)
            finally:
                db.close()
            if trace_id != ref:
                return self._redirect("/trace/" + trace_id)
            return "text/html; charset=utf-8", self._trace(home, trace_id)
        if path == "/api/rows":
            return "application/json", self._rows(home, query.get("trace", ""))
        if path == "/api/span":
            return "application/json", self._span(home, query.get("trace", ""),
                                                  query.get("span", ""))
        if path == "/diff":
            return "text/html; charset=utf-8", self._diff(home, query)
        if path == "/critical":
            return "text/html; charset=utf-8", self._critical(home, query)
        raise NotFound("no page %s here" % path[:200])

    def _redirect(self, location: str):
        self.send_response(303)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()
        raise _Done()

    def _list(self, home: str, query: dict) -> str:
        form = {k: query.get(k, "")[:200] for k in ("name", "service", "attr", "status",
                                                     "since", "until")}
        try:
            page = max(1, min(int(query.get("page", "1")), 10**6))
            per_page = max(1, min(int(query.get("per", str(PER_PAGE))), MAX_PER_PAGE))
        except ValueError:
            page, per_page = 1, PER_PAGE
        search = _index.Query(name=form["name"], service=form["service"],
                              attribute=form["attr"],
                              status=form["status"] if form["status"] in ("error", "ok") else "",
                              since_ns=_local_time_ns(form["since"]),
                              until_ns=_local_time_ns(form["until"]))
        db = store.index(home)
        try:
            rows, total = _index.search(db, search, limit=per_page,
                                        offset=(page - 1) * per_page)
            open_spans = _trace.running_in(db, [row["trace_id"] for row in rows])
        finally:
            db.close()
        if open_spans:
            from ..show import trace_state
            rows = [dict(row, state=trace_state(home, row["trace_id"], open_spans))
                    if row["trace_id"] in open_spans else row for row in rows]

        def link(number):
            params = {k: v for k, v in form.items() if v}
            params.update(page=str(number))
            if per_page != PER_PAGE:
                params["per"] = str(per_page)
            return "/?" + urllib.parse.urlencode(params)

        links = {"newer": link(page - 1) if page > 1 else None,
                 "older": link(page + 1) if page * per_page < total else None}
        notice = ""
        pieces, size = store.quarantined(home)
        if pieces:
            notice = ("%d unreadable piece%s (%d bytes) of incoming spans were set aside in %s"
                      % (pieces, "" if pieces == 1 else "s", size, store.quarantine_dir(home)))
        return pages.list_page(rows, total, form, page=page, per_page=per_page, links=links,
                               notice=notice)

    def _trace(self, home: str, trace_id: str):
        """The trace page; a big trace's in pieces (``_big_trace``)."""
        db = store.index(home)
        try:
            summary = _index.summary(db, trace_id)
        finally:
            db.close()
        if summary is not None and summary["spans"] > pages.FIRST_SCREEN_ABOVE:
            return self._big_trace(home, trace_id, summary)
        small = summary is not None and summary["spans"] <= pages.MAX_INLINE_DETAILS
        return pages.trace_page(self._view(home, trace_id, small))

    def _view(self, home: str, trace_id: str, small: bool, rows=None) -> dict:
        """The trace page's data (``pages.trace_view``), with every span's details when
        ``small``; with ``rows`` (a list), its first screen only, and ``rows`` gets the
        trace's TraceRows.  UnknownTrace when no span reads."""
        spans = _trace.load(home, trace_id) if small else _trace.load_rows(home, trace_id)
        if not spans:
            raise store.UnknownTrace("trace %s has no readable spans" % trace_id)
        from ..show import with_states
        with_states(home, trace_id, spans)
        stderr_tail.attach_events(home, trace_id, spans)
        whole = pages.TraceRows(spans)
        if rows is not None:
            rows.append(whole)
        return pages.trace_view(spans, trace_id, details=small, rows=whole,
                                detail_url=None if small else
                                "/api/span?trace=%s&span=" % trace_id,
                                rows_url=None if rows is None else
                                "/api/rows?trace=" + trace_id)

    def _big_trace(self, home: str, trace_id: str, summary):
        """A big trace's page in pieces: the document's head at once, then its first
        screen (``pages.TraceRows.first_screen``) once the trace is worked out; all its
        rows wait for ``/api/rows``, which finds them here if asked for soon after."""
        start, end = pages.document_parts(pages.page_title(summary["root_name"], trace_id),
                                          script=True)
        yield start
        whole: list = []
        try:
            view = self._view(home, trace_id, False, rows=whole)
        except (store.UnknownTrace, OSError, sqlite3.Error) as error:
            yield str(pages.message_body("The trace cannot be shown", str(error)))
        else:
            self.server.recent_rows = (trace_id, time.monotonic(), whole[0])
            yield pages.trace_body(view)
        yield end

    def _rows(self, home: str, trace_id: str) -> str:
        """Every row of a trace page, as JSON: those of the page just sent when it was
        sent in the last ROWS_KEPT_S seconds, else worked out again."""
        if not store.is_trace_id(trace_id):
            raise NotFound("expected ?trace=<32 hex digits>")
        kept = getattr(self.server, "recent_rows", None)
        if kept is not None and kept[0] == trace_id and time.monotonic() - kept[1] < ROWS_KEPT_S:
            rows = kept[2].columns()
        else:
            rows = self._view(home, trace_id, False)["rows"]
        return json.dumps({"rows": rows}, separators=(",", ":"), default=str)

    def _span(self, home: str, trace_id: str, span_id: str) -> str:
        """One span's details, parsing only the stored lines that mention it."""
        if not store.is_trace_id(trace_id) or len(span_id) != 16 \
                or not set(span_id) <= set("0123456789abcdef"):
            raise NotFound("expected ?trace=<32 hex digits>&span=<16 hex digits>")
        needle = ('"%s"' % span_id).encode()
        lines = [line for line in store.raw_lines(home, trace_id) if needle in line]
        found = [s for s in _trace.spans_from_documents(_trace._documents(lines), trace_id)
                 if s.span_id == span_id]
        if not found:
            raise NotFound("no span %s in trace %s" % (span_id, trace_id))
        db = store.index(home)
        try:
            start = (_index.summary(db, trace_id) or {}).get("start_ns", found[0].start_ns)
        finally:
            db.close()
        return json.dumps(pages.span_details(found[0], start), default=str)

    def _diff(self, home: str, query: dict) -> str:
        a, b = query.get("a", "").strip(), query.get("b", "").strip()
        if not a or not b:
            raise NotFound("choose two traces to compare (A and B) in the list")
        comparison = _diff.compare_refs(home, a[:100], b[:100])
        return _diff.diff_page(comparison)

    def _critical(self, home: str, query: dict) -> str:
        """A DAG's critical path across its latest runs in the store."""
        from .. import pathstats
        dag = query.get("dag", "").strip()[:200]
        if not dag:
            raise NotFound("which DAG? /critical?dag=NAME")
        db = store.index(home)
        try:
            trace_ids = _index.traces_with_term(db, "a:dag.name=%s" % dag)[:RUNS_COMPARED]
        finally:
            db.close()
        if not trace_ids:
            raise NotFound("no runs of DAG %s in the local store" % dag)
        return pages.critical_page(pathstats.across_runs(home, dag, trace_ids))

    def _send(self, status: int, content_type: str, data: bytes, length: int = -1,
              packed: bool = False) -> None:
        """Headers and ``data``; ``length`` None: no Content-Length (a streamed page)."""
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if length is not None:
                self.send_header("Content-Length", str(len(data) if length < 0 else length))
            if packed:
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Vary", "Accept-Encoding")
            self.send_header("Content-Security-Policy", pages.assets()[2])
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if data:
                self.wfile.write(data)
        except OSError:
            pass

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except _Done:
            pass

    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        if self.server.verbose:
            from ..serve import say
            say("web %s %s" % (self.address_string(), format % args))


class _Done(Exception):
    """The reply was sent already (a redirect)."""


def web_server(host: str, port: int, home: str, *, public: bool = False,
               verbose: bool = False, request_timeout: float = 30.0):
    """A viewer server (not yet serving); ListenError when it cannot bind."""
    from ..serve import ListenError, _family, _format_address, say
    try:
        server = BoundedHttpServer((host, port), ViewerHandler, family=_family(host),
                                   request_timeout=request_timeout, log=say)
    except OSError as error:
        raise ListenError("cannot listen on %s for the web viewer: %s" % (
            _format_address(host, port), error.strerror or error)) from None
    server.home, server.public, server.verbose = home, public, verbose
    server.bound_host = host
    return server
