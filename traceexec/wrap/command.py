"""A wrapped command: run it under a span, then record the span.

``execute`` is what ``traceexec -- CMD`` does, the span's data from
``supervise.process_attributes`` and ``command_status``, as a DAG step's.
"""

import os
import sys

from .. import __version__
from ..delivery import config
from . import context, supervise
from .supervise import command_status, needs_redactor, process_attributes
from ..files import write_text


def default_name(opts: "options.Options") -> str:
    """``--name``, else the executable's name (for ``-c``, the string's first word)."""
    if opts.name:
        return opts.name
    if opts.shell_string is not None:
        for word in opts.shell_string.split():
            word = word.strip(";&|()")
            if word and "=" not in word:
                return os.path.basename(word) or "sh"
        return "sh"
    return os.path.basename(opts.argv[0]) or opts.argv[0]


def working_directory() -> str:
    """The current directory, also when it was deleted (a shell runs commands there too)."""
    try:
        return os.getcwd()
    except OSError:
        try:
            return os.readlink("/proc/self/cwd")
        except OSError:
            return os.environ.get("PWD", "")


def guard_standard_streams() -> None:
    """Closed stdin/stdout/stderr (``>&-``) stay closed for the command, but the
    files traceexec opens must not take their numbers: hold them with /dev/null,
    close-on-exec."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:
                held = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            except OSError:
                return
            if held != fd:  # a lower one was free after all
                os.close(held)


def say(line: str) -> None:
    """One line on stderr (which may be closed)."""
    write_text(2, line + "\n")


def warn(message: str) -> None:
    say("traceexec: %s" % message)


def report_line(outcome, ctx) -> str:
    """time(1)'s summary, one line: ``--report``."""
    seconds = max(0, outcome.end_ns - outcome.start_ns) / 1e9
    status = str(outcome.exit_status)
    if outcome.signal is not None:
        status += " (%s)" % supervise.signal_name(outcome.signal)
    elif outcome.timed_out:
        status += " (timed out)"
    return ("traceexec: report: %.3fs elapsed, %.3fs user, %.3fs system, %.1f MiB max RSS, "
            "exit %s, trace %s" % (seconds, outcome.user_cpu, outcome.system_cpu,
                                   outcome.max_rss / 1048576.0, status, ctx.trace_id))


def deliver(records: list, cfg: config.ExportConfig, *, wait=False, verbose=False) -> bool:
    """Record finished spans for ``cfg``; never raises, warns once on failure."""
    if not cfg.exporters or not records:
        return True
    if cfg.span_limits is not None:
        records = cfg.span_limits.apply(records)
    if "console" in cfg.exporters:
        from ..delivery import span
        warn("span " + span.dumps(span.to_otlp_json(records)))
    if "otlp" not in cfg.exporters:
        return True
    written = []
    problems = []
    if cfg.endpoint is None or cfg.keep_local:
        try:
            from ..delivery import incoming as store
            store.append(cfg.home, records, incoming=True)  # no exporter for the local store
        except Exception as error:  # telemetry never harms the command
            problems.append(str(error))
    if cfg.endpoint is not None:
        try:
            from ..delivery import spool
            written = spool.record(records, cfg, wait=wait)
        except Exception as error:
            problems.append(str(error))
    if problems:
        warn("warning: span not recorded: %s" % "; ".join(problems))
        return False
    if verbose:
        where = cfg.endpoint or "local store"
        if cfg.endpoint:
            from ..delivery.proxy import describe as via_proxy
            where += via_proxy(cfg.describe(), os.environ)
        warn("span %s/%s recorded for %s%s" % (
            records[0]["trace_id"], records[0]["span_id"], where,
            " (spooled)" if written else ""))
    return True


# The recording's modules, loaded at once (``traceexec.preload``; see cli.WRAPPER_MODULES)
RECORDING_MODULES = ("delivery.span",)


def load_recording(cfg: config.ExportConfig, redactor: bool = False) -> None:
    """Load what recording a span for ``cfg`` takes (``redactor``: with ``redact``,
    see ``needs_redactor``): called while the command runs, so
    that the loading overlaps the command on another core instead of adding to the
    wrapper's wall time.  Only a head start: a module that cannot be loaded (a broken
    install) must not end the running command, so nothing is raised here, and the
    recording meets the problem after the command ended, as it would without this."""
    try:
        from .. import preload, preload_extensions
        local = cfg.endpoint is None or cfg.keep_local
        preload(sys.modules[__package__.rpartition(".")[0]],
                RECORDING_MODULES + (("delivery.incoming",) if local else ())
                + (("wrap.redact",) if redactor else ()))
        preload_extensions(("resource", "fcntl") if local else ("resource",))
        from ..delivery import span  # noqa: F401
        if redactor:
            from . import redact  # noqa: F401
        import resource  # noqa: F401 (os.wait4 makes its result with it)
        if local:
            import fcntl  # noqa: F401 (files.append_log's lock)
            from ..delivery import incoming  # noqa: F401
        if cfg.endpoint is not None:
            from ..delivery import spool  # noqa: F401
    except Exception:  # noqa: BLE001 -- see above
        pass


def _tail_events(tail, message, time_ns, environ):
    """``--stderr-tail``: a failed command's stderr tail as an exception event."""
    if not tail:
        return None
    from ..stderr_tail import exception_event, redacted
    return [exception_event("CommandFailed", message, redacted(tail, environ), time_ns)]


def export_config(flags: dict, environ):
    """(export settings, sampler, propagators) for this run.  A setting that cannot
    be used is a telemetry problem: one warning line each, the setting ignored
    alone, the command run as it would."""
    cfg = config.resolve(flags, None, environ)
    sampler, propagators = context.trace_choices(environ, cfg.problems)
    for problem in cfg.problems:
        warn("warning: %s" % problem)
    return cfg, sampler, propagators


def home_problem(cfg: config.ExportConfig):
    """Why the home (spool and local store) cannot be used, or None.  It must be this
    user's and private (``files.check_private``); when it is not, ``cfg`` records
    nowhere and the command runs untraced."""
    if "otlp" not in cfg.exporters:
        return None
    from ..files import ensure_dir
    try:
        ensure_dir(cfg.home)
    except OSError as error:
        cfg.exporters = tuple(e for e in cfg.exporters if e != "otlp")
        return ("warning: span not recorded: TRACEEXEC_HOME %s (the command ran untraced)"
                % (error if error.strerror is None else "%s: %s" % (cfg.home, error.strerror)))
    return None


def execute(opts: "options.Options", environ=None, argv_from_env=None) -> int:
    """Run the command under a span; returns the exit status to exit with.

    ``argv_from_env(child_env)``, when given, is the command actually run (the span
    still records ``opts.argv``): ``traceexec ssh`` writes the context into it."""
    # a plain dict: os.environ decodes every key and value it is asked for, in Python
    environ = supervise.environment() if environ is None else dict(environ)
    make_run = None  # --make: the run's launchers and notes (make/setup.py)
    if opts.make:
        from ..make import setup
        make_run = setup.Session(lines=opts.lines)  # before -C: a relative script path
        if not make_run.is_usable():
            warn("make runs untraced: the path %s has a blank, which make cannot name"
                 % make_run.directory)
            make_run.close()
            make_run = None
    if opts.assignments:  # NAME=VALUE: as if env(1) had set them before traceexec
        environ = dict(environ, **opts.assignments)
    cfg, sampler, propagators = export_config(opts.export_flags, environ)  # before -C
    unusable_home = home_problem(cfg)  # said once the command ran, where its span would be
    if opts.chdir is not None:
        try:
            os.chdir(opts.chdir)
        except OSError as error:
            from ..errors import UsageError
            raise UsageError("-C %s: %s" % (opts.chdir, error.strerror)) from None
    incoming = context.read_environment(environ, propagators)
    make_note = None
    if opts.make_shell is not None:  # a recipe line: a child of its target's span
        from ..make import recipe
        make_note = recipe.adopt(opts, incoming, environ)
    if opts.verbose:
        for problem in incoming.problems:
            warn(problem)
    # --processes-only, --lines-only: the caller's span stands for the command, none of ours
    own_span = not ((opts.processes_only or opts.lines_only) and incoming.parent is not None)
    ctx = context.start_span_context(incoming, sampler) if own_span else incoming.parent
    child_env = context.child_environment(environ, ctx, incoming, propagators)
    if environ.get(config.TRACEEXEC_HOME):  # resolved once: the same home wherever it runs
        child_env[config.TRACEEXEC_HOME] = cfg.home
    if make_run is not None:
        make_run.prepare(child_env)
    elif opts.make_shell is not None:
        from ..make import recipe
        recipe.child_environment(child_env)
    elif opts.shell_string is not None and "\n" in opts.shell_string:
        from ..make import recipe
        if recipe.is_make_recipe(opts.shell_string) and \
                os.path.basename(opts.argv[0]) in recipe.POSIX_SHELLS:
            at = opts.argv.index("-c") + 1
            opts.argv[at] = recipe.oneshell_script(opts.argv[at])
    if opts.print_traceparent:
        say("TRACEPARENT=%s" % ctx.traceparent())
    cwd = working_directory()
    lines = None  # --lines: a span per command of a bash script (lines/session.py)
    if opts.lines and not opts.make and ctx.is_sampled and cfg.exporter != "none":
        from ..lines import session as lines_session  # (--make --lines: make's recipes)
        if opts.make_shell is None:
            lines = lines_session.start(opts.argv, child_env, verbose=opts.verbose, warn=warn)
        else:  # a recipe line: one warning for the whole run; a sub-make's pipe is ours
            lines = lines_session.start(opts.argv, child_env, verbose=opts.verbose,
                                        warn=recipe.warn_once(environ, warn),
                                        pipes=recipe.TracePipes(environ))
        if lines:
            child_env = lines.env
    traced = None  # --processes: the command runs under strace (processes/session.py)
    if opts.processes and ctx.is_sampled and cfg.exporter != "none":
        from ..processes import session
        traced = session.start(lines.argv if lines else opts.argv, child_env, environ,
                               keep_all=opts.processes == "all", verbose=opts.verbose,
                               warn=warn)
    argv = traced.argv if traced else lines.argv if lines else opts.argv
    if argv_from_env is not None:
        argv = argv_from_env(child_env)
    on_running = None
    if own_span and ctx.is_sampled and cfg.exporter == "otlp" and (
            cfg.endpoint is None or cfg.keep_local):
        def on_running(start_ns):
            """Still running: the local store shows it so until the span ends."""
            from ..delivery import running, span
            running.deliver_start([running.start_record(
                trace_id=ctx.trace_id, span_id=ctx.span_id,
                parent_span_id=incoming.parent.span_id if incoming.parent else "",
                trace_state=incoming.tracestate or "", flags=ctx.flags,
                name=default_name(opts), kind=span.KIND_CLIENT, start_ns=start_ns,
                attributes=dict(opts.attributes), resource=cfg.resource,
                scope_version=__version__)], cfg)
    tail = ""
    try:
        if opts.tty:
            from . import tty
            outcome = tty.run(argv, child_env, timeout=opts.timeout,
                              kill_after=opts.kill_after, timeout_signal=opts.timeout_signal,
                              foreground=opts.foreground, preserve_status=opts.preserve_status)
        else:
            relay = None
            if opts.stderr_tail:
                from .stderr_relay import Relay
                relay = Relay(opts.stderr_tail)
                relay.start()
            outcome = supervise.run(argv, child_env, timeout=opts.timeout,
                                    kill_after=opts.kill_after, timeout_signal=opts.timeout_signal,
                                    foreground=opts.foreground,
                                    preserve_status=opts.preserve_status, on_running=on_running,
                                    stderr_fd=relay.write_fd if relay else None,
                                    while_running=(lambda: load_recording(
                                        cfg, needs_redactor(opts.argv, opts.redact_patterns,
                                                            opts.redact)))
                                    if ctx.is_sampled and cfg.exporter != "none" else None)
            tail = relay.finish() if relay else ""
    finally:
        if lines:
            lines.close_write_end()
        if make_run is not None:
            make_run.close()  # reads the notes make's recipe lines left
    if traced:
        outcome.path = traced.path
    if make_note is not None:
        recipe.finish(make_note, outcome)
    if opts.report:
        say(report_line(outcome, ctx))
    if outcome.problem is not None:
        warn(str(outcome.problem))
    elif outcome.timed_out and opts.verbose:
        warn("%s: timed out after %gs" % (opts.argv[0], opts.timeout))
    if unusable_home is not None and ctx.is_sampled:
        warn(unusable_home)
    if ctx.is_sampled and cfg.exporter != "none":
        # the command has ended: a recording that fails in a way no setting explains (a
        # broken install, a bug) is one line to the person, never another status
        try:
            from ..delivery import span
            attrs = process_attributes(outcome, opts.argv, cwd=cwd, path=outcome.path,
                                       redact=opts.redact, patterns=opts.redact_patterns)
            attrs.update(opts.attributes)
            code, message = command_status(outcome)
            record = span.new_record(
                trace_id=ctx.trace_id, span_id=ctx.span_id,
                parent_span_id=incoming.parent.span_id if incoming.parent else "",
                trace_state=incoming.tracestate or "", flags=ctx.flags,
                name=default_name(opts), kind=span.KIND_CLIENT,
                start_ns=outcome.start_ns, end_ns=outcome.end_ns, attributes=attrs,
                status_code=code, status_message=message, resource=cfg.resource,
                scope_version=__version__,
                events=_tail_events(tail, message, outcome.end_ns, environ)
                if code == span.STATUS_ERROR else None)
            if not span.is_valid_text(record):  # a non-UTF-8 argv is recorded escaped
                record = span.with_valid_text(record)
            wait = cfg.wait if opts.wait is None else opts.wait
            own = [record] if own_span else []
            if make_run is not None:
                own += make_run.target_spans(cfg.resource, __version__)
            if lines:  # with the line spans (and the process spans under them), in batches
                lines.deliver(
                    outcome, own, lambda batch, last: deliver(batch, cfg, wait=wait and last,
                                                              verbose=opts.verbose),
                    trace_id=ctx.trace_id, span_id=ctx.span_id, flags=ctx.flags,
                    trace_state=incoming.tracestate or "", resource=cfg.resource,
                    scope_version=__version__, redact=opts.redact, patterns=opts.redact_patterns,
                    processes=traced)
            elif traced:  # with the process spans, in batches
                traced.deliver(
                    outcome, own, lambda batch, last: deliver(batch, cfg, wait=wait and last,
                                                              verbose=opts.verbose),
                    trace_id=ctx.trace_id, span_id=ctx.span_id, flags=ctx.flags,
                    trace_state=incoming.tracestate or "", resource=cfg.resource,
                    scope_version=__version__, redact=opts.redact, patterns=opts.redact_patterns)
            else:
                deliver(own, cfg, wait=wait, verbose=opts.verbose)
        except Exception as error:  # noqa: BLE001 -- see above
            warn("the span was not recorded: %s: %s" % (type(error).__name__, error))
    elif opts.verbose:
        warn("parent not sampled or export disabled: no span recorded")
    if sys.stdout is not None:
        sys.stdout.flush()
    supervise.reraise(outcome)
    return outcome.exit_status
