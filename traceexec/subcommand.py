"""Subcommands: their dispatch, their argparse parsers, and the epilogs of their --help.

Kept apart from ``cli`` so that the wrapper (``traceexec -- CMD``) does not load
it; ``cli`` finds these names here on first use.
"""

import os
import sys

from .cli import SUBCOMMANDS
from .errors import UsageError
from .files import write_text
from .subcommand_errors import MissingPackage


_HOME = "  TRACEEXEC_HOME         spool, store, logs (default ~/.local/state/traceexec)\n"
_EXPORT = ("  OTEL_EXPORTER_OTLP_*   where spans go (flags win); none set: the local store\n"
           "  TRACEEXEC_SPOOL_LIMIT  spans kept per destination while it is down "
           "(default 2,000,000)\n")
_RUN_STATUS = ("0 succeeded; 1 a step failed, or the DAG's timeoutSec passed; 2 bad DAG or "
               "options; 129/130/143 stopped by SIGHUP/SIGINT/SIGTERM")
_RUN_ENV = _HOME + _EXPORT + "  TRACEEXEC_BASE_CONFIG  a base config merged under every DAG\n"
EPILOGS = {
    "run": ("examples:\n  traceexec run examples/dag/pipeline.yaml -- 200\n"
            "  traceexec run examples/dag/v2-release.yaml --params \"VERSION=2.0.0\"\n"
            "  traceexec run examples/dag/pipeline.yaml --dry-run\n",
            _RUN_STATUS, _RUN_ENV),
    "start": ("examples:\n  traceexec start examples/dag/pipeline.yaml -- 200\n",
              _RUN_STATUS, _RUN_ENV),
    "dry": ("examples:\n  traceexec dry examples/dag/pipeline.yaml\n",
            "0 the plan is shown; 2 bad DAG or options", ""),
    "validate": ("examples:\n  traceexec validate *.yaml\n",
                 "0 every file is valid; 2 problems, one 'file:line: message' line each", ""),
    "graph": ("examples:\n  traceexec graph pipeline.yaml --mermaid\n",
              "0 drawn; 2 bad DAG or options", ""),
    "status": ("examples:\n  traceexec status pipeline\n  traceexec status pipeline --json\n",
               "0 shown; 1 no run of that DAG; 2 unknown run id or bad options", _HOME),
    "history": ("examples:\n  traceexec history pipeline --limit 10\n",
                "0 shown (--json: even none); 1 no runs of that DAG; 2 bad options", _HOME),
    "retry": ("examples:\n  traceexec retry pipeline --run-id 01a2f3\n",
              _RUN_STATUS, _RUN_ENV),
    "restart": ("examples:\n  traceexec restart pipeline\n", _RUN_STATUS, _RUN_ENV),
    "stop": ("examples:\n  traceexec stop pipeline --wait 10\n",
             "0 signalled (and, with --wait, ended); 1 nothing runs, or still running after "
             "--wait; 2 bad options", _HOME),
    "show": ("examples:\n  traceexec show\n  traceexec show 4bf92f35 --attr job\n"
             "  traceexec show --list\n  traceexec show --json > trace.json\n",
             "0 shown; 2 unknown trace, empty store or bad options",
             _HOME + "  NO_COLOR               set: no colours\n"),
    "serve": ("examples:\n  traceexec serve &\n"
              "  export OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318\n",
              "0 stopped by SIGINT/SIGTERM; 2 port in use or bad HOST:PORT", _HOME),
    "diff": ("examples:\n  traceexec diff last~1 last\n"
             "  traceexec diff last~1 last --threshold 50% --threshold 300ms\n",
             "0 compared; 1 with --threshold, a span got slower than every threshold; "
             "2 unknown trace or bad options", _HOME),
    "flush": ("examples:\n  traceexec flush\n  traceexec flush --json\n"
              "  traceexec flush --header \"authorization=Bearer $TOKEN\"\n"
              "  traceexec flush --list\n  traceexec flush --discard collector.typo:4317\n",
              "0 nothing left in the spool (--list, --discard: done); 1 spans left "
              "(collector down); 2 bad options or no such spool",
              _HOME + _EXPORT),
    "doctor": ("examples:\n  traceexec doctor\n"
               "  traceexec doctor --endpoint https://collector.example:4318/v1/traces\n",
               "0 every step works; 1 a step failed; 2 bad options", _HOME + _EXPORT),
}
"""What each subcommand's --help ends with: examples, exit status, environment."""


def public_subcommands() -> list:
    """The subcommands a person may type, in the order of SUBCOMMANDS."""
    return [name for name in SUBCOMMANDS if not name.startswith("_")]


def epilog(name: str) -> str:
    examples, statuses, variables = EPILOGS.get(name, ("", "", ""))
    text = examples
    if statuses:
        text += "\nexit status: %s\n" % statuses
    if variables:
        text += "\nenvironment:\n" + variables
    return text


def subcommand_parser(name: str, description: str):
    """An argparse parser for ``traceexec NAME`` whose errors are UsageErrors (exit 2)."""
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message):
            raise UsageError("%s: %s (see traceexec %s --help)" % (name, message, name))

    class Formatter(argparse.RawDescriptionHelpFormatter):
        # argparse makes one for every add_argument, and its width imports shutil
        # (11 million instructions, 4% of a 1-step DAG's start): the same width, from os
        def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
            super().__init__(prog, indent_increment, max_help_position,
                             terminal_columns() - 2 if width is None else width)

    return Parser(prog="traceexec " + name, description=description, epilog=epilog(name),
                  formatter_class=Formatter)


def terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``: $COLUMNS, else standard output's, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", 0))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def help_main(args: list) -> int:
    """``traceexec help [SUBCOMMAND]``: the wrapper's help, or the subcommand's --help."""
    if not args:
        from .wrap.help import HELP
        write_text(1, HELP)
        return 0
    if args[0] not in SUBCOMMANDS or args[0].startswith("_") or len(args) > 1:
        if args[0] == "make":
            from .make.help import HELP as MAKE_HELP
            write_text(1, MAKE_HELP)
            return 0
        raise UsageError("help: no subcommand %r (%s)" % (" ".join(args), ", ".join(
            public_subcommands() + ["make"])))
    try:
        return dispatch(args[0], ["--help"])
    except SystemExit as done:
        return done.code or 0


PACKAGES = (("yaml", "pyyaml"), ("dotenv", "python-dotenv"), ("grpc", "grpcio"),
            ("google.rpc", "googleapis-common-protos"), ("google", "protobuf"),
            ("opentelemetry", "opentelemetry-proto"))
"""The modules subcommands import beyond the standard library, and the package of each
(pyproject.toml's dependencies bring them all); the wrapper itself needs none."""


RUN_MODULES = (
    "dag", "dag.record", "dag.model", "dag.bounds", "jsontext", "lazyregex", "dag.variables",
    "dag.source", "dag.schema", "dag.checks", "dag.stepspec", "dag.load", "dag.cli",
    "delivery", "delivery.span", "delivery.running", "wrap", "wrap.signals", "wrap.supervise",
    "dag.spans", "delivery.config", "dag.telemetry", "dag.loop", "dag.progress",
    "wrap.procstat", "dag.runs", "wrap.problems", "dag.process", "dag.child", "dag.shellwords",
    "dag.commands", "dag.layers", "dag.output", "remote", "remote.slurmstep", "wrap.context",
    "dag.step", "dag.schedule", "dag.state", "delivery.otlp_text", "dag.run", "dag.parsecache",
    "delivery.incoming")
"""What a warm ``traceexec run`` of a plain DAG imports of its own, each after the modules
it imports, loaded at once before its dispatch (``traceexec.preload``, without importlib's
machinery around each: 3.4 M instructions less), those found through a module's
``__getattr__`` (``traceexec.forwarded``) included.  A stale list costs time, never
correctness: tests/test_subcommand_preload.py checks it against what such a run imports
(a module added to the run's path belongs here too)."""

RUN_EXTENSIONS = ("_json", "select", "_heapq", "resource", "fcntl")
"""The standard library's extension modules such a run imports, loaded at once before
its modules (``traceexec.preload_extensions``: 0.16 M instructions less each)."""


def dispatch(name: str, args: list) -> int:
    module_name, _, function = SUBCOMMANDS[name].partition(":")
    try:
        if name == "run":
            from . import preload, preload_extensions
            from .collector import paused
            with paused():
                preload_extensions(RUN_EXTENSIONS)
                preload(sys.modules[__package__], RUN_MODULES)
        from . import collect_garbage
        collect_garbage()  # after the preload: what it made is frozen with the start's
        module = _import_without_collecting(module_name)
        return getattr(module, function)(args)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        for prefix, package in PACKAGES:
            if missing == prefix or missing.startswith(prefix + "."):
                raise MissingPackage(name, package, missing) from None
        raise


def _import_without_collecting(module_name: str):
    """Import a subcommand's module with the collector paused (``collector``).

    ``__import__`` and ``sys.modules`` rather than ``importlib.import_module``: importlib's
    Python parts and ``warnings`` cost a DAG run's start 1.7 M instructions."""
    from .collector import paused
    with paused():
        __import__(module_name)
        return sys.modules[module_name]


def finish(status):
    """End the process with ``status`` now, without the interpreter's finalisation, when
    it has nothing left to do; else return ``status`` for ``sys.exit``.

    A DAG run's modules and records make finalisation cost about 13 million instructions
    (15% of a 1-step run), spent freeing what the process is about to drop anyway.  It is
    needed only for what runs at exit: a thread besides the main one (joined), an
    ``atexit`` callback (``weakref.finalize`` registers one too), and buffered output not
    yet written, which is flushed here; a failed flush leaves the exit to Python, which
    reports it as it always has.  traceexec's own files are written whole (``os.write``)
    or closed by ``with``.
    """
    threading = sys.modules.get("threading")
    if (type(status) is not int or (threading is not None and threading.active_count() > 1)
            or _atexit_callbacks()):
        return status
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            return status
    os._exit(status & 0xFF)


def _atexit_callbacks() -> int:
    atexit = sys.modules.get("atexit")  # never imported: nothing registered from Python
    return atexit._ncallbacks() if atexit is not None else 0
