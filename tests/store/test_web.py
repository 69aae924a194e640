"""The web viewer of ``traceexec serve``, over plain HTTP: pages, searches, and safety."""
from __future__ import annotations

import html
import http.client
import json
import re
import socket
import urllib.parse

import pytest

from traceexec.delivery import span
from traceexec.store import local as store
from traceexec.store.web import markup

from conftest import TRACEEXEC, free_port, run_traceexec, traceexec_env

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
HOSTILE = '<script>window.owned=1</script><img src=x onerror="window.owned=2">&amp;'


def record(span_id, parent="", *, trace_id=TRACE, name="step", start=0, end=10**9, **extra):
    extra.setdefault("resource", {"service.name": "web-test"})
    return span.new_record(trace_id=trace_id, span_id=span_id, parent_span_id=parent,
                           name=name, start_ns=start, end_ns=end, **extra)


def get(receiver, path, host=None, method="GET"):
    """(status, headers, body text) of one request to the viewer."""
    url = urllib.parse.urlsplit(receiver.web_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.putrequest(method, path, skip_host=True)
        connection.putheader("Host", host or url.netloc)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        connection.close()


def test_markup_escapes_everything_that_is_not_markup():
    assert str(markup.tag("td", HOSTILE, title='"x"')) == (
        '<td title="&quot;x&quot;">%s</td>' % html.escape(HOSTILE))
    script = str(markup.json_script("d", {"name": "</script><script>alert(1)</script>"}))
    assert script.count("</script>") == 1 and "\\u003c/script\\u003e" in script
    assert str(markup.escape("caf\udcff")) == "caf\\udcff"


def test_trace_page_escapes_span_values_and_allows_only_its_own_script(receiver):
    store.append(str(receiver.home), [
        record("00000000000000a1", name=HOSTILE, attributes={HOSTILE: HOSTILE},
               resource={"service.name": HOSTILE}, status_code=span.STATUS_ERROR,
               status_message=HOSTILE),
        record("00000000000000a2", "00000000000000a1", name="child")])
    status, headers, body = get(receiver, "/trace/" + TRACE)
    assert status == 200
    assert "<img" not in body and "<script>window" not in body
    assert "&lt;script&gt;window.owned=1&lt;/script&gt;" in body  # the title and heading
    scripts = re.findall(r"<script[^>]*>", body)
    assert scripts == ['<script type="application/json" id="trace-data">', "<script>"]
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'sha256-" in csp
    assert "unsafe-inline" not in csp and headers["X-Content-Type-Options"] == "nosniff"
    data = json.loads(html.unescape(re.search(
        r'id="trace-data">(.*?)</script>', body, re.S).group(1)))
    assert data["rows"]["name"] == [HOSTILE, "child"] and data["errors"] == 1
    status, _, listing = get(receiver, "/")
    assert status == 200 and "<img" not in listing and html.escape(HOSTILE) in listing


@pytest.mark.parametrize("path", [
    "/../../etc/passwd", "/trace/../../../../etc/passwd", "/trace/%2e%2e%2f%2e%2e%2fetc",
    "/trace/" + "0" * 32, "/trace/zz", "/static/../../pyproject.toml", "/api/span?trace=" + "../"
    * 12 + "&span=1", "/api/span?trace=%s&span=../../../../x" % TRACE, "/etc/passwd",
    "//etc/passwd"])
def test_no_request_reads_outside_the_store(receiver, path):
    store.append(str(receiver.home), [record("00000000000000a1")])
    status, _, body = get(receiver, path)
    assert status == 404 and "root:" not in body and "[project]" not in body


def test_only_loopback_host_names_and_only_reading(receiver):
    store.append(str(receiver.home), [record("00000000000000a1")])
    assert get(receiver, "/", host="attacker.example")[0] == 421  # DNS rebinding
    port = urllib.parse.urlsplit(receiver.web_url).port
    for host in ("localhost:%d" % port, "127.0.0.1:%d" % port, "[::1]:%d" % port):
        assert get(receiver, "/", host=host)[0] == 200
    assert get(receiver, "/", method="POST")[0] == 405
    status, headers, body = get(receiver, "/", method="HEAD")
    assert status == 200 and body == "" and int(headers["Content-Length"]) > 0


def test_trace_refs_redirect_and_big_traces_load_details_on_demand(receiver):
    store.append(str(receiver.home), [record("00000000000000a1", attributes={"k": "v"})])
    status, headers, _ = get(receiver, "/trace/last")
    assert status == 303 and headers["Location"] == "/trace/" + TRACE
    status, _, body = get(receiver, "/api/span?trace=%s&span=00000000000000a1" % TRACE)
    assert status == 200 and json.loads(body)["attributes"] == [["k", "v"]]


def test_search_filters_and_pages(receiver):
    home = str(receiver.home)
    records = []
    for n in range(120):
        records.append(record("%016x" % 1, trace_id="%032x" % (n + 1), name="job-%d" % n,
                              start=n * 10**9, end=n * 10**9 + 5,
                              status_code=span.STATUS_ERROR if n % 10 == 0 else 0,
                              attributes={"shard": n % 3},
                              resource={"service.name": "svc-%d" % (n % 2)}))
    store.append(home, records)
    trace_rows = re.compile(r'<tr[^>]*>\s*<td><input type="radio" name="a"')

    def listing(**query):
        status, _, body = get(receiver, "/?" + urllib.parse.urlencode(query))
        assert status == 200
        return body, len(trace_rows.findall(body))

    body, rows = listing()
    assert rows == 50 and "page 1 of 3 · 120 traces" in body and "job-119" in body
    body, rows = listing(page=3)
    assert rows == 20 and "job-0<" in body
    assert listing(status="error")[1] == 12
    assert listing(name="JOB-11")[1] == 11  # job-11, job-110 ... job-119
    assert listing(service="svc-1", attr="shard=2")[1] == 20
    assert listing(attr="shard")[1] == 50
    assert "No trace matches" in listing(name="nothing-like-this")[0]


def serve(args, home, timeout=30):
    import subprocess
    return subprocess.run(TRACEEXEC + ["serve", "--grpc", "127.0.0.1:%d" % free_port(),
                                       "--http", "127.0.0.1:%d" % free_port()] + args,
                          env=traceexec_env(home), capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("address", ["0.0.0.0:%d", "[::]:%d"])
def test_a_public_web_address_needs_the_explicit_flag(tmp_path, address):
    result = serve(["--web", address % free_port()], tmp_path)
    assert result.returncode == 2 and "--web-public" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_taken_viewer_port_is_an_error_only_when_asked_for(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve(["--web", "127.0.0.1:%d" % port], tmp_path)
        assert result.returncode == 2 and "web viewer" in result.stderr


def test_show_html_is_one_self_contained_escaped_file(env, home, tmp_path):
    store.append(str(home), [record("00000000000000a1", name=HOSTILE, attributes={"a": 1}),
                             record("00000000000000a2", "00000000000000a1", name="child")])
    target = tmp_path / "trace.html"
    result = run_traceexec(["show", "--html", str(target)], env)
    assert result.returncode == 0, result.stderr
    page = target.read_text()
    assert "<img" not in page and "http://" not in page and "https://" not in page
    assert "connect-src 'none'" in html.unescape(page) and "&lt;script&gt;window.owned" in page
    data = json.loads(html.unescape(re.search(r'id="trace-data">(.*?)</script>', page,
                                              re.S).group(1)))
    assert data["details"][0]["attributes"] == [["a", "1"]] and data["detail_url"] is None
    missing = run_traceexec(["show", "--html", str(tmp_path / "no" / "dir" / "x.html")], env)
    assert missing.returncode == 2 and len(missing.stderr.splitlines()) == 1
