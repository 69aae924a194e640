"""The viewer at size: pages compressed when the browser asks, and a big trace's page
carrying its first screen only (the rest of its rows from ``/api/rows``)."""
from __future__ import annotations

import gzip
import html
import http.client
import json
import re
import urllib.parse

from traceexec.delivery import span
from traceexec.store import local as store
from traceexec.store.web import pages

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def fetch(receiver, path, encoding=None, method="GET"):
    """(status, headers, raw body bytes) of one request to the viewer."""
    url = urllib.parse.urlsplit(receiver.web_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        headers = {"Accept-Encoding": encoding} if encoding else {}
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def big_trace(home, count):
    """A root, 50 children, and under them the rest (the 7th child holds an error)."""
    records = [span.new_record(trace_id=TRACE, span_id="%016x" % 1, name="build", start_ns=0,
                               end_ns=10**10, resource={"service.name": "size"})]
    for n in range(2, count + 1):
        parent = 1 if n <= 51 else 2 + (n - 52) % 50
        records.append(span.new_record(
            trace_id=TRACE, span_id="%016x" % n, parent_span_id="%016x" % parent,
            name="cc file%d.c" % n, start_ns=n * 10**5, end_ns=n * 10**5 + 10**7,
            status_code=span.STATUS_ERROR if n == count - 3 else 0,
            resource={"service.name": "size"}))
    store.append(str(home), records)


def page_data(body: str) -> dict:
    return json.loads(html.unescape(re.search(
        r'id="trace-data">(.*?)</script>', body, re.S).group(1)))


def test_pages_are_gzipped_when_asked_and_say_that_they_vary(receiver):
    big_trace(receiver.home, 300)
    for path in ("/trace/" + TRACE, "/", "/api/span?trace=%s&span=%016x" % (TRACE, 7)):
        status, plain_headers, plain = fetch(receiver, path)
        assert status == 200 and "Content-Encoding" not in plain_headers
        assert plain_headers["Vary"] == "Accept-Encoding"
        status, headers, packed = fetch(receiver, path, "br;q=1.0, gzip;q=0.8, *;q=0.1")
        assert status == 200 and headers["Content-Encoding"] == "gzip"
        assert headers["Vary"] == "Accept-Encoding"
        assert len(packed) < len(plain)
        assert gzip.decompress(packed) == plain
    status, headers, _ = fetch(receiver, "/", "gzip;q=0, identity")
    assert status == 200 and "Content-Encoding" not in headers
    status, headers, empty = fetch(receiver, "/", "gzip", method="HEAD")
    assert status == 200 and headers["Content-Encoding"] == "gzip" and empty == b""


def test_a_big_trace_page_carries_its_first_screen_and_the_rest_comes_as_json(receiver):
    count = pages.FIRST_SCREEN_ABOVE + 2000
    big_trace(receiver.home, count)
    status, _, body = fetch(receiver, "/trace/" + TRACE)
    assert status == 200
    first = page_data(body.decode())
    assert first["count"] == count and first["details"] is None
    # what a huge trace shows first: its top two levels, folded below
    assert first["rows"]["depth"] == [0] + [1] * 50
    assert first["rows"]["more"] == [0] + [1] * 50  # their children are not in the page
    status, headers, raw = fetch(receiver, first["rows_url"], "gzip")
    assert status == 200 and headers["Content-Type"] == "application/json"
    rows = json.loads(gzip.decompress(raw))["rows"]
    assert len(rows["id"]) == count
    assert [rows["id"][i] for i in first["rows"]["index"]] == first["rows"]["id"]
    for column, values in first["rows"].items():
        if column not in ("index", "more"):
            assert [rows[column][i] for i in first["rows"]["index"]] == values, column
    assert sum(1 for flags in rows["flags"] if flags & 2) == 1
    packed = fetch(receiver, "/trace/" + TRACE, "gzip")[2]
    assert len(packed) < 20_000, len(packed)  # the page's own script and style: 8 kB
