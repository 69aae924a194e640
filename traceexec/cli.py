"""Command line: parse, dispatch, and turn results into exit statuses.

The wrapper form (``traceexec [OPTIONS] -- CMD`` / ``-c STRING``) is parsed in
``wrap.options``; subcommands use argparse (``subcommand.subcommand_parser``) in
their modules.  What only subcommands and ``help`` need (their dispatch, parsers
and epilogs) is in ``subcommand``, which the wrapper does not import; its public
names are found here too.
"""

import os
import sys

from . import __version__, collect_garbage, preload
from .files import write_text

# The wrapper's modules up to the command's start, each after those it imports, loaded
# at once (``traceexec.preload``); ``wrap.command.load_recording`` does the same for the
# recording's, while the command runs.  A stale list costs time, never correctness:
# tests/integration/test_launcher.py checks it against what a run imports.
WRAPPER_MODULES = ("wrap", "wrap.signals", "wrap.supervise", "wrap.options", "delivery",
                   "delivery.config", "wrap.context", "wrap.command")
# What every subcommand's dispatch imports, loaded so too (subcommand.RUN_MODULES: a run's)
SUBCOMMAND_MODULES = ("errors", "error_types", "subcommand_errors", "subcommand", "collector")

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
    "diff": "traceexec.store.diff:main",
    "flush": "traceexec.delivery.flush:flush_main",
    "doctor": "traceexec.delivery.doctor:doctor_main",
    "ssh": "traceexec.remote.ssh:ssh_main",
    "sbatch": "traceexec.remote.slurm:sbatch_main",
    "srun": "traceexec.remote.slurm:srun_main",
    "_export": "traceexec.delivery.export:exporter_main",
}

_SUBCOMMAND_NAMES = ("EPILOGS", "PACKAGES", "public_subcommands", "epilog",
                     "subcommand_parser", "terminal_columns", "help_main")


def __getattr__(name: str):
    """The names of ``subcommand`` (``from traceexec.cli import subcommand_parser``)."""
    if name in _SUBCOMMAND_NAMES:
        from . import subcommand
        return getattr(subcommand, name)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def _errors():
    """``errors``, loaded when an exception is on its way out of ``main``: Python
    evaluates an except clause's type only then, and a run that goes well needs none."""
    from . import errors
    return errors


def _exit_now(status: int) -> None:
    """Exit without interpreter finalisation (about 2 ms per wrapped command).

    Everything the wrapper wrote went out with os.write or is flushed here.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status & 0xFF if status >= 0 else 1)


def _make_shell(args: list):
    """traceexec started by make under ``--make``: a launcher, or the launcher's maker."""
    from .make import recipe
    if recipe.is_launcher(sys.argv[0]):
        if not recipe.is_run_by_make():  # $(SHELL) inside a recipe line: that shell, as is
            recipe.exec_shell(sys.argv[0], args)
        return recipe.options(sys.argv[0], args, os.environ)
    if recipe.is_register(sys.argv[0]):
        write_text(1, recipe.register(args, os.environ))
        return "registered"
    return None


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        parsed = None
        if argv is None and "TRACEEXEC_MAKE_DIR" in os.environ:  # under traceexec --make
            parsed = _make_shell(args)
            if parsed == "registered":
                return 0
        if parsed is None:
            if args and args[0] == "help":
                from .subcommand import help_main
                return help_main(args[1:])
            if args and args[0] in SUBCOMMANDS:
                preload(sys.modules[__package__], SUBCOMMAND_MODULES)
                from .subcommand import dispatch, finish
                status = dispatch(args[0], args[1:])  # collect_garbage() once loaded
                return finish(status) if argv is None and args[0] == "run" else status
        preload(sys.modules[__package__], WRAPPER_MODULES)
        if parsed is None:
            from .wrap.options import parse_wrapper
            parsed = parse_wrapper(args)
        if parsed == "help":
            from .wrap.help import HELP
            write_text(1, HELP)
            return 0
        if parsed == "version":
            write_text(1, "traceexec %s\n" % __version__)
            return 0
        from .wrap.command import execute, guard_standard_streams
        guard_standard_streams()
        collect_garbage()
        status = execute(parsed)
        _exit_now(status)
        return status
    except _errors().TraceexecError as error:
        write_text(2, "traceexec: %s\n" % _errors().printable(error))
        return error.exit_status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass
        return 141
