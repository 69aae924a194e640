"""Command line: parse, dispatch, and turn results into exit statuses.

The wrapper form (``traceexec [OPTIONS] -- CMD`` / ``-c STRING``) is parsed in
``wrap.options``; subcommands use argparse (``subcommand_parser``) in their modules.
"""

import os
import sys

from . import __version__
from .errors import TraceexecError, UsageError, printable

SUBCOMMANDS = {
    "run": "traceexec.dag.cli:run_main",
    "start": "traceexec.dag.cli:start_main",
    "dry": "traceexec.dag.cli:dry_main",
    "status": "traceexec.dag.manage:status_main",
    "history": "traceexec.dag.manage:history_main",
    "retry": "traceexec.dag.manage:retry_main",
    "restart": "traceexec.dag.manage:restart_main",
    "stop": "traceexec.dag.manage:stop_main",
    "validate": "traceexec.dag.cli:validate_main",
    "graph": "traceexec.dag.cli:graph_main",
    "show": "traceexec.store.show:main",
    "serve": "traceexec.store.serve:main",
    "flush": "traceexec.delivery.flush:flush_main",
    "_export": "traceexec.delivery.export:exporter_main",
}


def subcommand_parser(name: str, description: str):
    """An argparse parser for ``traceexec NAME`` whose errors are UsageErrors (exit 2)."""
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message):
            raise UsageError("%s: %s (see traceexec %s --help)" % (name, message, name))

    return Parser(prog="traceexec " + name, description=description)


def _dispatch(name: str, args: list) -> int:
    module_name, _, function = SUBCOMMANDS[name].partition(":")
    import importlib
    module = importlib.import_module(module_name)
    return getattr(module, function)(args)


def _exit_now(status: int) -> None:
    """Exit without interpreter finalisation (about 2 ms per wrapped command).

    Everything the wrapper wrote went out with os.write or is flushed here.
    """
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(status & 0xFF if status >= 0 else 1)


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        if args and args[0] in SUBCOMMANDS:
            return _dispatch(args[0], args[1:])
        from .wrap.options import HELP, parse_wrapper
        parsed = parse_wrapper(args)
        if parsed == "help":
            sys.stdout.write(HELP)
            return 0
        if parsed == "version":
            sys.stdout.write("traceexec %s\n" % __version__)
            return 0
        from .wrap.command import execute
        status = execute(parsed)
        _exit_now(status)
        return status
    except TraceexecError as error:
        sys.stderr.write("traceexec: %s\n" % printable(error))
        return error.exit_status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass
        return 141
