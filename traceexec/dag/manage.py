"""Dagu's CLI for local runs: ``status``, ``history``, ``stop``, ``retry``, ``restart``.

Each takes a DAG file or a DAG name and reads the run records under
``$TRACEEXEC_HOME/runs/`` (``runs.py``); ``*_main(args) -> int`` returns the
exit status (2 for bad arguments or an unknown run).

    traceexec status pipeline.yaml            # the last run, step by step
    traceexec history pipeline --limit 20     # recent runs with their trace ids
    traceexec retry pipeline.yaml --run-id 01a2...   # failed/cancelled steps again
    traceexec stop pipeline                   # SIGTERM the running run
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time

from . import runs
from ..delivery import config
from ..errors import UsageError

EXIT_NOT_FOUND = 1


def _parser(prog, description):
    from ..cli import subcommand_parser
    return subcommand_parser(prog, description)


def _home(environ) -> str:
    return config.default_home(environ)


def dag_name(argument: str) -> tuple:
    """(DAG name, file or None) for a DAG file or a DAG name."""
    for candidate in (argument, argument + ".yaml", argument + ".yml"):
        if os.path.isfile(candidate):
            from .checks import DagInvalid
            from .load import load
            try:
                return load(candidate).name, os.path.abspath(candidate)
            except DagInvalid:
                from .source import parse
                try:
                    document = parse(candidate)
                    name = document.get("name") if isinstance(document, dict) else None
                except Exception:
                    name = None
                stem = os.path.splitext(os.path.basename(candidate))[0]
                return str(name or stem), os.path.abspath(candidate)
    return argument, None


def _when(ns) -> str:
    if not ns:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ns / 1e9))


def _duration(record) -> str:
    start, end = record.get("start_ns") or 0, record.get("end_ns") or 0
    if not start:
        return "-"
    seconds = ((end or time.time_ns()) - start) / 1e9
    return "%.2fs" % seconds


def status_main(args) -> int:
    """traceexec status DAG [--run-id ID] [--json]"""
    parser = _parser("status", "Show a DAG run step by step (the last one by default).")
    parser.add_argument("dag", help="the DAG file or the DAG's name")
    parser.add_argument("-r", "--run-id", help="which run (a unique prefix will do)")
    parser.add_argument("--json", action="store_true", help="the run record as JSON")
    opts = parser.parse_args(list(args))
    name, _ = dag_name(opts.dag)
    record = _find(name, opts.run_id)
    if opts.json:
        sys.stdout.write(json.dumps(record, indent=2) + "\n")
        return 0
    lines = ["dag       %s" % record.get("dag"),
             "run id    %s" % record.get("run_id"),
             "status    %s%s" % (record.get("status"),
                                 " (%s)" % record["reason"] if record.get("reason") else ""),
             "exit      %s" % ("-" if record.get("status") in ("running", "queued")
                                  else record.get("exit_status")),
             "started   %s" % _when(record.get("start_ns")),
             "duration  %s" % _duration(record),
             "trace id  %s" % record.get("trace_id")]
    if record.get("params"):
        lines.append("params    %s" % record["params"])
    if record.get("retry_of"):
        lines.append("retry of  %s" % record["retry_of"])
    steps = record.get("steps", []) + record.get("handlers", [])
    width = max([len(s["name"]) for s in steps] + [4])
    lines.append("")
    lines.append("%-*s  %-19s  %4s  %8s  %9s  %s" % (width, "STEP", "STATUS", "EXIT",
                                                     "ATTEMPTS", "DURATION", "REASON"))
    for step in steps:
        lines.append("%-*s  %-19s  %4s  %8s  %9s  %s" % (
            width, step["name"], step["status"],
            "" if step.get("exit_code") is None else step["exit_code"], step.get("attempts", 0),
            "%.2fs" % step.get("duration_s", 0), step.get("reason") or ""))
    from ..errors import printable
    sys.stdout.write("\n".join(printable(line) for line in lines) + "\n")
    return 0


def history_main(args) -> int:
    """traceexec history DAG [--limit N] [--status S] [--json]"""
    parser = _parser("history", "List recent runs of a DAG: id, status, start, duration, "
                     "trace id.")
    parser.add_argument("dag", help="the DAG file or the DAG's name")
    parser.add_argument("-l", "--limit", type=int, default=100, help="at most this many (100)")
    parser.add_argument("--status", help="only runs with this status (failed, succeeded, ...)")
    parser.add_argument("--json", action="store_true", help="as JSON lines")
    parser.add_argument("--critical", action="store_true",
                        help="per step: how often it was on the critical path, its median "
                             "drag (from the runs' traces in the local store)")
    opts = parser.parse_args(list(args))
    if opts.limit < 1:
        raise UsageError("history: --limit must be at least 1")
    name, _ = dag_name(opts.dag)
    found = runs.records(_home(os.environ), name)
    if opts.status:
        found = [r for r in found if r.get("status") == opts.status]
    found = found[:opts.limit]
    if opts.critical and found:
        from ..store import pathstats
        stats = pathstats.across_runs(_home(os.environ), name,
                                      [r["trace_id"] for r in found if r.get("trace_id")])
        sys.stdout.write("\n".join(pathstats.render(stats)) + "\n")
        return 0
    if opts.json:
        for record in found:
            sys.stdout.write(json.dumps({k: record.get(k) for k in (
                "run_id", "status", "exit_status", "start_ns", "end_ns", "trace_id",
                "retry_of")}) + "\n")
        return 0
    if not found:
        sys.stderr.write("traceexec: no runs of DAG %r\n" % name)
        return EXIT_NOT_FOUND
    sys.stdout.write("%-36s  %-19s  %-19s  %9s  %s\n" % ("RUN ID", "STATUS", "STARTED",
                                                        "DURATION", "TRACE ID"))
    for record in found:
        sys.stdout.write("%-36s  %-19s  %-19s  %9s  %s\n" % (
            record.get("run_id"), record.get("status"), _when(record.get("start_ns")),
            _duration(record), record.get("trace_id")))
    return 0


def _find(name, run_id):
    try:
        return runs.find(_home(os.environ), name, run_id)
    except runs.UnknownRun as error:
        raise UsageError(str(error)) from None


def stop_main(args) -> int:
    """traceexec stop DAG [--run-id ID]: SIGTERM the running run(s)."""
    parser = _parser("stop", "Stop a running DAG run: its steps are stopped and recorded "
                     "as cancelled, as on SIGTERM.")
    parser.add_argument("dag", help="the DAG file or the DAG's name")
    parser.add_argument("-r", "--run-id", help="which run (default: every running run)")
    parser.add_argument("--wait", type=float, default=None, metavar="SECONDS",
                        help="wait this long for the runs to end (default: do not wait)")
    opts = parser.parse_args(list(args))
    name, _ = dag_name(opts.dag)
    alive = runs.running(_home(os.environ), name)
    if opts.run_id:
        alive = [r for r in alive if str(r.get("run_id", "")).startswith(opts.run_id)]
    if not alive:
        sys.stderr.write("traceexec: no running run of DAG %r%s\n" % (
            name, " with run id %s" % opts.run_id if opts.run_id else ""))
        return EXIT_NOT_FOUND
    for record in alive:
        try:
            os.kill(record["pid"], signal.SIGTERM)
            sys.stderr.write("traceexec: stopping %s run %s (pid %d)\n" % (
                name, record["run_id"], record["pid"]))
        except OSError as error:
            sys.stderr.write("traceexec: cannot stop run %s: %s\n" % (record["run_id"],
                                                                      error.strerror))
    if opts.wait:
        deadline = time.monotonic() + opts.wait
        while time.monotonic() < deadline and any(runs.is_alive(r) for r in alive):
            time.sleep(0.05)
        if any(runs.is_alive(r) for r in alive):
            return EXIT_NOT_FOUND
    return 0


def _with_output_options(parser):
    """``-q``/``--json``, passed on to the run that ``retry`` and ``restart`` start."""
    parser.add_argument("-q", "--quiet", action="store_true", help="as for run")
    parser.add_argument("--json", action="store_true", help="as for run")
    return parser


def _output_flags(opts) -> list:
    return (["--quiet"] if opts.quiet else []) + (["--json"] if opts.json else [])


def retry_main(args) -> int:
    """traceexec retry DAG --run-id ID [--step NAME]"""
    parser = _parser("retry", "Run a finished run's failed and cancelled steps again, "
                     "reusing what its other steps produced; a new trace linked to it.")
    parser.add_argument("dag", help="the DAG file or the DAG's name")
    parser.add_argument("-r", "--run-id", required=True, help="the run to retry")
    parser.add_argument("--step", help="run only this step again (and what depends on it)")
    opts = _with_output_options(parser).parse_args(list(args))
    name, path = dag_name(opts.dag)
    record = _find(name, opts.run_id)
    if record.get("status") == "running" and runs.is_alive(record):
        raise UsageError("retry: run %s is still running" % record["run_id"])
    path = path or record.get("file")
    reuse = {}
    for step in record.get("steps", []):  # with --step, that step runs again
        if step["status"] == "succeeded" and step["name"] != opts.step:
            reuse[step["name"]] = step
    if opts.step is not None and opts.step not in {s["name"] for s in record.get("steps", [])}:
        raise UsageError("retry: run %s has no step %r" % (record["run_id"], opts.step))
    from .cli import run_main
    extra = _output_flags(opts)
    if record.get("params") and not record.get("params_redacted"):
        extra += ["--params", record["params"]]
    return run_main([path] + extra, reuse=reuse, retry_of=record)


def restart_main(args) -> int:
    """traceexec restart DAG [--run-id ID]: stop it if running, then run it again."""
    parser = _parser("restart", "Stop a DAG's run if it is running, then start it again "
                     "with the same params.")
    parser.add_argument("dag", help="the DAG file or the DAG's name")
    parser.add_argument("-r", "--run-id", help="which run (default: the latest)")
    parser.add_argument("--params", help="params to use instead of the run's")
    opts = _with_output_options(parser).parse_args(list(args))
    name, path = dag_name(opts.dag)
    record = _find(name, opts.run_id)
    if record.get("status") == "running" and runs.is_alive(record):
        os.kill(record["pid"], signal.SIGTERM)
        deadline = time.monotonic() + 120
        while runs.is_alive(record) and time.monotonic() < deadline:
            time.sleep(0.05)
    path = path or record.get("file")
    params = opts.params
    if params is None:
        if record.get("params_redacted"):
            raise UsageError("restart: run %s had params with secrets, which are not kept; "
                             "give them with --params" % record["run_id"])
        params = record.get("params") or ""
    from .cli import run_main
    return run_main([path, "--params", params] + _output_flags(opts))
