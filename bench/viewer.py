"""The web viewer's page of a 100,000-span trace: bytes and time to the first screen.

Builds a store with one 100,000-span trace (``bench/show.py``'s), starts the real
``traceexec serve`` on loopback ports and asks its viewer for the trace's page as a
browser does (``Accept-Encoding: gzip``), then for the rest of its rows
(``/api/rows``, which the page's script fetches once the first screen is drawn).
Beside it in the same run: the same page without compression, and the whole page
with every row inline (what the viewer served before issue 26, built by the same
functions in this process) with its gzip size (what compression alone would give).

Goals (issue 26): the first screen <= 1 MB on the wire and <= 0.3 s to its first byte.

    python bench/viewer.py            # 100,000 spans, best of 3
    python bench/viewer.py --quick    # 10,000 spans, one run
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import TRACEEXEC, clean_env, free_port, load_note, work_folder  # noqa: E402
from bench.show import big_trace_store  # noqa: E402

GOAL_BYTES, GOAL_FIRST_BYTE_S = 1_000_000, 0.3


def fetch(port: int, path: str, gzip: bool) -> tuple:
    """(seconds to the first byte, seconds to the last, bytes received after the
    headers, the headers) of one HTTP/1.0 GET."""
    request = "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n%s\r\n" % (
        path, port, "Accept-Encoding: gzip\r\n" if gzip else "")
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        began = time.perf_counter()
        sock.sendall(request.encode())
        chunks = [sock.recv(1 << 16)]
        first = time.perf_counter() - began
        while chunks[-1]:
            chunks.append(sock.recv(1 << 16))
        last = time.perf_counter() - began
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    return first, last, len(body), head.decode("latin-1")


def wait_for_viewer(port: int, proc) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("traceexec serve exited with status %s" % proc.returncode)
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit("the viewer did not listen on port %d" % port)


def whole_page(home: str, trace_id: str) -> tuple:
    """(bytes, seconds to build them) of the trace's page with every row inline, as the
    viewer served a big trace before issue 26, built in this process by the same
    functions (the store read, the view worked out, the page written)."""
    from traceexec import stderr_tail
    from traceexec.store import trace
    from traceexec.store.show import with_states
    from traceexec.store.web import pages
    began = time.perf_counter()
    spans = trace.load_rows(home, trace_id)
    with_states(home, trace_id, spans)
    stderr_tail.attach_events(home, trace_id, spans)
    view = pages.trace_view(spans, trace_id, details=False,
                            detail_url="/api/span?trace=%s&span=" % trace_id)
    page = pages.trace_page(view).encode("utf-8")
    return page, time.perf_counter() - began


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 spans, one run")
    opts = parser.parse_args(argv)
    spans = 10_000 if opts.quick else 100_000
    repeats = 1 if opts.quick else 3
    rows = []
    with work_folder("traceexec-bench-viewer-") as folder:
        home = os.path.join(folder, "home")
        print("building a store with a %d-span trace..." % spans, flush=True)
        trace_id = big_trace_store(home, spans)
        web = free_port()
        log = open(os.path.join(folder, "serve.log"), "wb")
        serve = subprocess.Popen(TRACEEXEC + ["serve", "--grpc", "127.0.0.1:%d" % free_port(),
                                              "--http", "127.0.0.1:%d" % free_port(),
                                              "--web", "127.0.0.1:%d" % web],
                                 env=clean_env(home), stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_viewer(web, serve)
            runs = {}
            for _ in range(repeats):
                for label, path, gzip in (
                        ("first screen: the trace page, gzip", "/trace/" + trace_id, True),
                        ("  then every row: /api/rows, gzip", "/api/rows?trace=" + trace_id,
                         True),
                        ("the trace page, not compressed", "/trace/" + trace_id, False)):
                    first, last, size, head = fetch(web, path, gzip)
                    if " 200 " not in head.splitlines()[0]:
                        raise SystemExit("%s: %s" % (path, head.splitlines()[0]))
                    runs.setdefault(label, []).append((last, first, size))
            for label, results in runs.items():
                last, first, size = min(results)
                rows.append((label, first, last, size, label.startswith("first screen")))
        finally:
            serve.terminate()
            serve.wait(30)
            log.close()
        page, took = whole_page(home, trace_id)
        packer = zlib.compressobj(6, zlib.DEFLATED, 31)
        packed = len(packer.compress(page) + packer.flush())
        rows.append(("peer: the whole page, every row inline (built here)", None, took,
                     len(page), False))
        rows.append(("peer: the whole page, gzip", None, None, packed, False))
    print("\n%d-span trace; best of %d" % (spans, repeats))
    print("| what | first byte s | last byte s | bytes | goal |")
    print("|---|---:|---:|---:|---|")
    for label, first, last, size, judged in rows:
        goal = ""
        if judged:
            goal = "<= %d bytes, <= %g s to the first byte" % (GOAL_BYTES, GOAL_FIRST_BYTE_S)
            if opts.quick:
                goal += " (at full size)"
            elif size > GOAL_BYTES or first > GOAL_FIRST_BYTE_S:
                goal += "  MISSED"
        print("| %s | %s | %s | %d | %s |" % (
            label, "-" if first is None else "%.3f" % first,
            "-" if last is None else "%.3f" % last, size, goal))
    print("\n" + load_note())
    return 0


if __name__ == "__main__":
    sys.exit(main())
