"""What reading the local store costs: ``show`` of a huge trace, ``show --list`` of many
traces, and the first ``show`` after many spans waited in ``incoming.jsonl``.

Each case runs the real binary (``python -m traceexec show``) on a store built
here, side by side in one run with peers that read the same bytes:

- ``jq`` listing the span ids of the same segment file (when jq is installed),
  and a Python loop that only ``json.loads`` every stored line (the floor for
  any reader that parses OTLP/JSON in Python);
- for the list, the same parsing loop over every stored line: what a list
  without an index would have to do at the least;
- ``python3 -c pass``, the floor of any Python command.

Goals (issue 12): a 100,000-span trace in <= 2 s and <= 200 MiB; ``show --list``
of 10,000 traces in <= 0.3 s; the first ``show`` after 10,000 spans waiting in
``incoming.jsonl`` in <= 0.5 s.  Issue 26: ``show --json`` of the 100,000-span trace
in <= 2 s and <= 300 MiB, beside ``json.load`` of the document it prints (the floor of
any Python reader of it), and linear (the same trace at a tenth of the size beside it).

    python bench/show.py            # full size, 3 runs of each, the best counts
    python bench/show.py --quick    # a smoke run at a tenth of the size
    python bench/show.py --only json --before OLD   # show --json only, beside the code in
                                    # OLD (git archive main traceexec | tar -x -C OLD)

Seconds and peak RSS are those of the run with the least wall time; CPU is the least CPU
of any run, counting the processes the command forks (the figure to trust under load).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import TRACEEXEC, Launcher, clean_env, load_note, work_folder  # noqa: E402
from traceexec.delivery import span  # noqa: E402
from traceexec.store import local as store  # noqa: E402

GOALS = {"big": (2.0, 200.0), "list": (0.3, None), "incoming": (0.5, None),
         "json": (2.0, 300.0)}
PARSE_ONLY = ("import json, sys\n"
              "for path in sys.argv[1:]:\n"
              "    with open(path, 'rb') as handle:\n"
              "        for line in handle:\n"
              "            json.loads(line)\n")
LOAD_ONLY = ("import gc, json, sys\n"
             "gc.disable()\n"
             "with open(sys.argv[1], 'rb') as handle:\n"
             "    json.load(handle)\n")


def process_span(trace_id: str, number: int, parent: int, start: int) -> dict:
    """A span like a wrapped command's or a traced process's: eight attributes."""
    return span.new_record(
        trace_id=trace_id, span_id="%016x" % number,
        parent_span_id="%016x" % parent if parent else "",
        name=("cc", "ld", "sh", "python3", "make")[number % 5], start_ns=start,
        end_ns=start + 2_000_000 + number % 7 * 100_000,
        attributes={"process.executable.name": "cc", "process.executable.path": "/usr/bin/cc",
                    "process.command_args": ["cc", "-c", "src/file%d.c" % number, "-O2"],
                    "process.pid": 10_000 + number, "process.exit.code": 0,
                    "process.working_directory": "/home/user/project",
                    "traceexec.process.cpu.user": 0.0123, "traceexec.process.max_rss": 2**22},
        status_code=span.STATUS_OK, resource={"service.name": "build"})


def big_trace_store(home: str, spans: int) -> str:
    """One trace of ``spans`` spans: a make -j tree, 2,048 spans per stored line."""
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    batch = []
    for number in range(1, spans + 1):
        parent = 0 if number == 1 else (number // 8 if number > 8 else 1)
        batch.append(process_span(trace_id, number, parent, number * 50_000))
        if len(batch) == 2048:
            store.append(home, batch, incoming=True)
            batch = []
    if batch:
        store.append(home, batch, incoming=True)
    store.ingest(home)
    return trace_id


def many_traces_store(home: str, traces: int) -> None:
    """``traces`` traces of two spans each, as many wrapped commands would leave."""
    for number in range(1, traces + 1):
        trace_id = "%032x" % number
        store.append(home, [process_span(trace_id, 1, 0, number * 10**9),
                            process_span(trace_id, 2, 1, number * 10**9 + 1000)],
                     incoming=True)
    store.ingest(home)


def waiting_store(home: str, spans: int) -> None:
    """``spans`` wrapped commands' spans waiting in incoming.jsonl, each its own trace."""
    for number in range(1, spans + 1):
        store.append(home, [process_span("%032x" % (number + 10**6), 1, 0, number * 10**9)],
                     incoming=True)


def segment_files(home: str) -> list:
    directory = store.segments_dir(home)
    return [os.path.join(directory, name) for name in sorted(os.listdir(directory))]


def best(launcher, argv, env, repeats, prepare=None) -> tuple:
    """(best wall seconds, peak RSS MiB of that run, least CPU seconds)."""
    return best_each(launcher, [(argv, env)], repeats, prepare)[0]


def best_each(launcher, commands, repeats, prepare=None) -> list:
    """``best`` of each (argv, env) of ``commands``, run in turn in every round, so that
    a change of load falls on all of them."""
    runs: list = [[] for _ in commands]
    for _ in range(repeats):
        for (argv, env), results in zip(commands, runs):
            if prepare is not None:
                prepare()
            wall, rss, status, cpu = launcher.run_cpu(argv, env)
            if status != 0:
                raise SystemExit("%s failed with status %d" % (" ".join(argv[:6]), status))
            results.append((wall, rss, cpu))
    return [min(results)[:2] + (min(cpu for _, _, cpu in results),) for results in runs]


def before_env(env: dict, source: str) -> dict:
    """``env`` running the traceexec package found in ``source`` instead of this one."""
    return dict(env, PYTHONPATH=os.path.abspath(source) + os.pathsep + env["PYTHONPATH"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes, one run")
    parser.add_argument("--only", choices=sorted(GOALS), help="measure this case alone")
    parser.add_argument("--before", metavar="SOURCE",
                        help="also run show --json of the traceexec package in SOURCE, in turn")
    opts = parser.parse_args(argv)
    scale = 10 if opts.quick else 1
    repeats = 1 if opts.quick else 3
    sizes = {"big": 100_000 // scale, "list": 10_000 // scale, "incoming": 10_000 // scale}
    sizes["json"], sizes["tenth"] = sizes["big"], sizes["big"] // 10
    python = sys.executable
    jq = shutil.which("jq")
    launcher = Launcher(reap=True)
    rows, missed = [], []
    with work_folder("traceexec-bench-show-") as folder:
        homes = {name: os.path.join(folder, name) for name in sizes}
        wanted = {"json": ("json", "tenth"), "big": ("big",), "list": ("list",),
                  "incoming": ("incoming",), None: tuple(sizes)}[opts.only]
        print("building stores (%d-span trace, %d traces, %d waiting spans)..." % (
            sizes["big"], sizes["list"], sizes["incoming"]), flush=True)
        if {"big", "json"} & set(wanted):
            big_trace_store(homes["big"], sizes["big"])
        homes["json"] = homes["big"]
        if "tenth" in wanted:
            big_trace_store(homes["tenth"], sizes["tenth"])
        if "list" in wanted:
            many_traces_store(homes["list"], sizes["list"])
        template = os.path.join(folder, "waiting-template")
        if "incoming" in wanted:
            waiting_store(template, sizes["incoming"])

        def fresh_waiting():
            shutil.rmtree(homes["incoming"], ignore_errors=True)
            shutil.copytree(template, homes["incoming"])

        floor = best(launcher, [python, "-c", "pass"], clean_env(), repeats)
        rows.append(("python3 -c pass", floor, None))
        cases = [
            ("big", "show of a %d-span trace" % sizes["big"], TRACEEXEC + ["show"], None),
            ("list", "show --list of %d traces" % sizes["list"], TRACEEXEC + ["show", "--list"],
             None),
            ("incoming", "first show, %d spans waiting" % sizes["incoming"],
             TRACEEXEC + ["show"], fresh_waiting),
            ("json", "show --json of a %d-span trace" % sizes["json"],
             TRACEEXEC + ["show", "--json"], None),
            ("tenth", "  linear? show --json of %d spans" % sizes["tenth"],
             TRACEEXEC + ["show", "--json"], None),
        ]
        for key, label, command, prepare in cases:
            if key not in wanted:
                continue
            if key == "json" and opts.before:
                result, before = best_each(launcher, [
                    (command, clean_env(homes[key])),
                    (command[:1] + ["-P"] + command[1:],  # -P: not the current folder's
                     before_env(clean_env(homes[key]), opts.before))], repeats)
            else:
                result = best(launcher, command, clean_env(homes[key]), repeats, prepare)
            if key == "tenth":  # beside the full size's row and its floor
                full = next(row[1] for row in rows if row[2] == "json")
                rows.append(("%s (x10 spans: x%.1f the time, x%.1f the CPU)" % (
                    label, full[0] / result[0], full[2] / result[2]), result, None))
                continue
            rows.append((label, result, key))
            if key == "json" and opts.before:
                rows.append(("  before: the same, by %s" % os.path.basename(
                    os.path.abspath(opts.before)), before, None))
            goal_s, goal_mib = GOALS[key]
            if not opts.quick and (result[0] > goal_s or goal_mib and result[1] > goal_mib):
                missed.append(label)
            if key == "json":
                document = os.path.join(folder, "document.json")
                with open(document, "wb") as handle:
                    subprocess.run(command, env=clean_env(homes[key]), stdout=handle,
                                   check=True)
                rows.append(("  floor: json.load of the document it prints",
                             best(launcher, [python, "-c", LOAD_ONLY, document], clean_env(),
                                  repeats), None))
                continue
            files = segment_files(homes[key]) if key != "incoming" else [
                os.path.join(template, "store", store.INCOMING)]
            rows.append(("  peer: json.loads of every stored line",
                         best(launcher, [python, "-c", PARSE_ONLY] + files, clean_env(),
                              repeats), None))
            if jq and key == "big":
                rows.append(("  peer: jq listing the span ids",
                             best(launcher, ["/bin/sh", "-c", "%s -c '.resourceSpans[]."
                                             "scopeSpans[].spans[].spanId' %s >/dev/null"
                                             % (jq, " ".join(files))], clean_env(), repeats),
                             None))
    launcher.close()
    print("\n%-48s %9s %9s %9s   %s" % ("case", "seconds", "CPU s", "peak MiB", "goal"))
    for label, (wall, rss, cpu), key in rows:
        goal = ""
        if key:
            goal_s, goal_mib = GOALS[key]
            goal = "<= %g s" % goal_s + (", <= %g MiB" % goal_mib if goal_mib else "")
            if opts.quick:
                goal += " (at full size)"
            elif label in missed:
                goal += "  MISSED"
        print("%-48s %9.3f %9.3f %9.1f   %s" % (label, wall, cpu, rss, goal))
    print("\n" + load_note())
    return 0


if __name__ == "__main__":
    sys.exit(main())
