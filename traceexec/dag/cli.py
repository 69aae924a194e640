"""``traceexec run``, ``validate`` and ``graph``: parse arguments, call the core, print.

Each ``*_main(args) -> int`` returns the exit status; DAG problems are
printed one per line as ``traceexec: file:line: message`` with exit 2.
"""
from __future__ import annotations

import os
import sys

from . import load as loader
from .checks import DagInvalid
from .variables import Scope, parse_params
from ..collector import paused
from ..errors import SourceError, UsageError, printable
from ..lazyregex import LazyPattern

EXIT_INVALID = 2


def _parser(prog, description):
    from ..cli import subcommand_parser
    return subcommand_parser(prog, description)


def _report(problems) -> int:
    for problem in problems:
        sys.stderr.write("traceexec: %s\n" % printable(problem))
    return EXIT_INVALID


def _load(path, base_flag, environ, *, check_otel=True, document=None):
    """The DAG and the base it was laid over; otel settings checked too."""
    base = loader.find_base(base_flag, environ)
    dag = loader.load(path, base=base, document=document, environ=environ)
    if check_otel:
        from .telemetry import otel_settings
        try:
            otel_settings(dag.otel, Scope(environ, dag, dag.params, "-"), dag.name)
        except SourceError as error:
            raise DagInvalid([error]) from None
    return dag, base


RUN_ID = LazyPattern(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # compiled for --run-id only


class _RunOptions:
    """What ``_run_parser`` gives for a plain command line, without argparse."""

    def __init__(self):
        self.dag, self.params, self.base = None, None, None
        self.dry_run, self.run_id, self.quiet, self.json = False, None, False, False


_RUN_FLAGS = {"-q": "quiet", "--quiet": "quiet", "--json": "json", "--dry-run": "dry_run"}
_RUN_VALUES = {"-p": "params", "--params": "params", "--base": "base", "-r": "run_id",
               "--run-id": "run_id"}
_DRY_VALUES = {"-p": "params", "--params": "params", "--base": "base"}


def _plain_run_options(args, dry):
    """The options of a command line made only of the DAG and whole option words, each
    value in the next word and not starting with '-'; None for anything else (help,
    abbreviations, joined values, mistakes), which argparse then parses and reports.

    argparse, its help texts and gettext cost a 1-step run 15 million instructions,
    all for the help a plain run never shows."""
    flags, values = ({}, _DRY_VALUES) if dry else (_RUN_FLAGS, _RUN_VALUES)
    opts = _RunOptions()
    words = iter(args)
    for word in words:
        if word in flags:
            setattr(opts, flags[word], True)
        elif word in values:
            value = next(words, None)
            if value is None or value.startswith("-"):
                return None
            setattr(opts, values[word], value)
        elif word.startswith("-") or opts.dag is not None:
            return None
        else:
            opts.dag = word
    return opts if opts.dag is not None else None


def _run_parser(prog, dry):
    parser = _parser(prog, "Run a DAG file (Dagu v1 or v2 format); every step is a span "
                     "in one trace." if not dry else "Show what a DAG would run; run nothing.")
    parser.add_argument("dag", help="the DAG file")
    parser.add_argument("-p", "--params", default=None,
                        help='params, named and positional: --params "DATE=2024-01-01 full"')
    parser.add_argument("--base", help="base config laid under the DAG "
                        "(default: $TRACEEXEC_BASE_CONFIG, else "
                        "$XDG_CONFIG_HOME/traceexec/base.yaml if present)")
    if not dry:
        parser.add_argument("--dry-run", action="store_true",
                            help="show what would run, and paths outside the DAG's directory")
        parser.add_argument("-r", "--run-id", help="the run's id (default: a new UUID v7)")
        parser.add_argument("-q", "--quiet", action="store_true",
                            help="no progress lines or summary (step output still shown)")
        parser.add_argument("--json", action="store_true",
                            help="print the result as JSON on stdout (step stdout goes to stderr)")
    return parser


def run_main(args, *, reuse=None, retry_of=None, prog="run", dry=False) -> int:
    """traceexec run DAG.yaml [--params "K=V ..."] [--base FILE] [--dry-run] [-- PARAMS...]"""
    args = list(args)
    extra = []
    if "--" in args:
        cut = args.index("--")
        args, extra = args[:cut], args[cut + 1:]
    opts = _plain_run_options(args, dry) or _run_parser(prog, dry).parse_args(args)
    if dry:
        opts.dry_run, opts.run_id, opts.quiet, opts.json = True, None, False, False
    if opts.run_id is not None and not RUN_ID.match(opts.run_id):
        raise UsageError("%s: --run-id must be 1-64 letters, digits, '.', '_' or '-'" % prog)
    environ = dict(os.environ)  # read once: each pass over os.environ decodes it again
    try:
        overrides = parse_params(opts.params or "") + parse_params(
            " ".join(_quote(a) for a in extra))
    except ValueError as error:
        raise UsageError("--params: %s" % error) from None
    try:
        with paused():  # the run's modules and its DAG: long-lived objects, no garbage
            from . import run
            dag, base = _load(opts.dag, opts.base, environ,
                              document=environ.get(run.TRACEEXEC_LOCAL_DAG))
    except DagInvalid as invalid:
        return _report(invalid.problems)
    from .variables import override_params
    if opts.dry_run:
        params = override_params(dag.params, overrides)
        from . import plan
        sys.stdout.write(plan.dry_run(dag, Scope(environ, dag, params, "dry-run")))
        return 0
    from .progress import Progress
    progress = Progress(dag.name, quiet=opts.quiet, prefix=run.can_overlap(dag),
                        stdout_to_stderr=opts.json)
    result = run.execute(dag, environ=environ, params=overrides, base=base,
                         progress=progress, install_signals=True, run_id=opts.run_id,
                         reuse=reuse, retry_of=retry_of)
    if opts.json:
        import json
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
    elif not opts.quiet:
        sys.stderr.write(summary(result, environ))
    return result.exit_status


def start_main(args) -> int:
    """traceexec start: Dagu's name for run."""
    return run_main(args, prog="start")


def dry_main(args) -> int:
    """traceexec dry DAG: Dagu's name for run --dry-run."""
    return run_main(args, prog="dry", dry=True)


def _quote(word):
    import shlex
    return shlex.quote(word)


def summary(result, environ) -> str:
    """The closing lines: status, counts, run id, trace id, and (local store) the tree."""
    from . import model
    counts = {}
    for step in result.steps:
        counts[step.status] = counts.get(step.status, 0) + 1
    order = (model.SUCCEEDED, model.FAILED, model.SKIPPED, model.CANCELLED)
    lines = ["[%s] %s in %.2fs: %s%s" % (
        result.dag.name, result.dag.word(result.status), (result.end_ns - result.start_ns) / 1e9,
        ", ".join("%d %s" % (counts[s], result.dag.word(s)) for s in order if counts.get(s))
        or "no steps",
        " (%s)" % result.reason if result.reason else "")]
    from .run import TRACEEXEC_PARENT_RUN_ID
    if environ.get(TRACEEXEC_PARENT_RUN_ID):  # nested: one line; the outermost run says the rest
        return "%s, run id %s\n" % (lines[0], result.run_id)
    lines.extend(failure_lines(result))
    lines.append("  run id    %s" % result.run_id)
    lines.append("  trace id  %s" % result.trace_id)
    if result.run_dir:
        lines.append("  logs      %s" % result.run_dir)
    if result.local:
        tree = trace_tree(result.home, result.trace_id, failures=False)
        lines.append(tree.rstrip("\n") if tree else
                     "  see it    traceexec show %s" % result.trace_id[:12])
    return "\n".join(line for line in lines if line) + "\n"


def failure_lines(result) -> list:
    """For each failed step and handler: why, the last lines of its stderr, its log."""
    from . import model
    lines = []
    for step in result.steps + result.handlers:
        if step.status != model.FAILED:
            continue
        lines.append("  %s failed: %s" % (printable(step.step.name),
                                            printable(step.reason or "failed")))
        lines.extend("    | %s" % printable(line) for line in step.stderr_tail.split("\n")
                     if step.stderr_tail)
        if step.stderr_tail and step.logs.get("stderr"):
            lines.append("    stderr log: %s" % step.logs["stderr"])
    return lines


def trace_tree(home, trace_id, stream=None, failures=True) -> str:
    """The trace as a tree with a waterfall, from the local store ('' when not there).

    Drawn by ``traceexec.show.render_trace``; a plain indented tree if that is missing.
    """
    from ..store import local as store
    stream = stream or sys.stderr
    try:
        records = store.read(home, trace_id)
    except (store.UnknownTrace, OSError, ValueError):
        return ""
    try:
        import shutil
        from ..store import show
        lines = show.render_trace(
            records, width=shutil.get_terminal_size((120, 24)).columns,
            color=show.wants_color(stream, os.environ, False), glyphs=show.glyphs_for(stream),
            failures=failures)
        return "\n".join(lines) + "\n"
    except (ImportError, AttributeError, TypeError):
        return plain_tree(records)


def plain_tree(records) -> str:
    from ..delivery import span
    children = {}
    ids = {r["span_id"] for r in records}
    for record in sorted(records, key=lambda r: r["start_ns"]):
        parent = record["parent_span_id"] if record["parent_span_id"] in ids else ""
        children.setdefault(parent, []).append(record)
    lines = []

    def walk(parent, indent):
        for record in children.get(parent, []):
            status = span.STATUS_NAMES.get(record["status_code"], "")
            lines.append("  %s%s  %.3fs  %s" % (
                "  " * indent, record["name"], (record["end_ns"] - record["start_ns"]) / 1e9,
                status))
            walk(record["span_id"], indent + 1)

    walk("", 0)
    return "\n".join(lines) + "\n" if lines else ""


def validate_main(args) -> int:
    """traceexec validate DAG.yaml... : every problem as file:line, exit 0 or 2."""
    parser = _parser("validate", "Check DAG files without running anything.")
    parser.add_argument("dags", nargs="+", metavar="DAG")
    parser.add_argument("--base", help="base config laid under each DAG")
    opts = parser.parse_args(list(args))
    problems = []
    for path in opts.dags:
        try:
            dag, _ = _load(path, opts.base, os.environ)
        except DagInvalid as invalid:
            problems.extend(invalid.problems)
            continue
        for notice in dag.notices:
            sys.stderr.write("traceexec: notice: %s\n" % notice)
        sys.stdout.write("%s: ok (%d step%s)\n" % (path, len(dag.steps),
                                                   "" if len(dag.steps) == 1 else "s"))
    return _report(problems) if problems else 0


def graph_main(args) -> int:
    """traceexec graph DAG.yaml [--mermaid]"""
    parser = _parser("graph", "Print a DAG's dependency graph.")
    parser.add_argument("dag")
    parser.add_argument("--mermaid", action="store_true", help="as a Mermaid flowchart")
    parser.add_argument("--base", help="base config laid under the DAG")
    opts = parser.parse_args(list(args))
    try:
        dag, _ = _load(opts.dag, opts.base, os.environ, check_otel=False)
    except DagInvalid as invalid:
        return _report(invalid.problems)
    from . import plan
    sys.stdout.write(plan.mermaid(dag) if opts.mermaid else plan.text(dag))
    return 0
