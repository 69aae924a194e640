"""A build of 50,000 short processes under ``traceexec --processes``: time, spans, viewer.

``make -j2`` of ``processes / 5`` targets, each recipe five processes (make's
shell, ``/bin/true``, and the three members of a pipe), run bare, under
``strace -f`` alone (traceexec's options, output to /dev/null), under
``traceexec --processes`` to a real receiver (folded), and under
``--processes=all`` to the local store; then ``traceexec show`` draws both.
"""
from __future__ import annotations

import os
import subprocess
import threading
import time

from conftest import TRACEEXEC, traceexec_env
from traceexec.processes import tracer
from traceexec.store import local as store

RECIPE = "\t@/bin/true $@; echo $@ | tr a-z A-Z | cat > /dev/null\n"


def _write_makefile(folder, targets) -> None:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "Makefile"), "w") as handle:
        handle.write("all: %s\n" % " ".join("t%d" % i for i in range(targets)))
        handle.write("t%:\n" + RECIPE)
        handle.write(".PHONY: all\n")


class PeakRss:
    """The largest RSS of one process, sampled every 0.2 s."""

    def __init__(self, pid):
        import psutil
        self.peak = 0
        self._proc = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        while not self._stop.wait(0.2):
            try:
                self.peak = max(self.peak, self._proc.memory_info().rss)
            except Exception:
                return

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return round(self.peak / 2**20, 1)


def _timed(argv, env, folder, timeout):
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=folder, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    rss = PeakRss(proc.pid)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err, round(time.monotonic() - started, 2), rss.stop()


def _show_seconds(env) -> float:
    started = time.monotonic()
    subprocess.run(TRACEEXEC + ["show", "--no-color"], env=env, stdout=subprocess.DEVNULL,
                   check=True, timeout=600)
    return round(time.monotonic() - started, 2)


def big_build(work, receiver, processes=50_000, timeout=1800) -> dict:
    """Figures of the scenario; ``lost`` and ``outcome_changed`` must be 0."""
    targets = max(1, processes // 5)
    expected = 1 + 5 * targets  # make, and five processes per recipe
    folder = os.path.join(work, "big-build")
    _write_makefile(folder, targets)
    make = ["make", "-s", "-j2", "-B"]
    figures = {"targets": targets, "processes": expected}
    bare = _timed(make, traceexec_env(os.path.join(work, "bare-home")), folder, timeout)
    figures["bare_s"] = bare[3]
    alone = _timed([tracer.find_strace(os.environ)] + tracer.options(os.devnull) + make,
                   traceexec_env(os.path.join(work, "bare-home")), folder, timeout)
    figures["strace_alone_s"] = alone[3]

    home = os.path.join(work, "folded-home")
    env = traceexec_env(home, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint,
                        TRACEEXEC_KEEP_LOCAL="true")
    status, out, err, seconds, rss = _timed(TRACEEXEC + ["--processes", "--"] + make, env,
                                            folder, timeout)
    figures.update(processes_s=seconds, wrapper_rss_mib=rss)
    figures["outcome_changed"] = int((status, out, err) != bare[:3])
    local = store.read(home, store.trace_ids(home)[0])
    root = next(r for r in local if not r["parent_span_id"])
    figures["processes_seen"] = root["attributes"].get("traceexec.processes.count", 0)
    figures["processes_folded"] = root["attributes"].get("traceexec.processes.folded", 0)
    figures["spans_folded"] = len(local)
    subprocess.run(TRACEEXEC + ["flush"], env=env, capture_output=True, timeout=300)
    deadline = time.monotonic() + 300
    while len(receiver.spans(root["trace_id"])) < len(local) and time.monotonic() < deadline:
        time.sleep(0.2)
    arrived = {r["span_id"] for r in receiver.spans(root["trace_id"])}
    figures["lost"] = len({r["span_id"] for r in local} - arrived)  # on the way
    figures["lost"] += max(0, expected - figures["processes_seen"])  # by the tracer
    figures["unexpected"] = max(0, figures["processes_seen"] - expected)
    ids = {r["span_id"] for r in local}
    figures["wrong_parent"] = len([r for r in local
                                   if r["parent_span_id"] and r["parent_span_id"] not in ids])
    figures["show_folded_s"] = _show_seconds(env)

    home = os.path.join(work, "all-home")
    env = traceexec_env(home)
    status, out, err, seconds, rss = _timed(TRACEEXEC + ["--processes=all", "--"] + make, env,
                                            folder, timeout)
    figures.update(all_s=seconds, all_wrapper_rss_mib=rss)
    figures["outcome_changed"] += int((status, out, err) != bare[:3])
    everything = store.read(home, store.trace_ids(home)[0])
    figures["spans_all"] = len(everything)  # the wrapper's span is make's
    figures["lost"] += max(0, expected - len(everything))
    figures["unexpected"] += max(0, len(everything) - expected)
    figures["show_all_s"] = _show_seconds(env)
    return figures
