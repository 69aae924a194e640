"""The wrapper's command line: ``traceexec [OPTIONS] -- CMD`` and ``-c STRING``.

Parsed by hand, because argparse costs several milliseconds of imports on a
path that runs once per Makefile recipe line.
"""

from ..errors import UsageError
from . import supervise

SHELL = "/bin/sh"


class Options:
    """What the wrapper was asked to do (filled in by the command line)."""

    def __init__(self):
        self.argv = []            # the command, or [SHELL, "-c", STRING, ...]
        self.shell_string = None  # the -c STRING, when given
        self.name = None
        self.attributes = {}
        self.timeout = None
        self.kill_after = supervise.DEFAULT_KILL_AFTER
        self.tty = False
        self.verbose = False
        self.wait = None
        self.redact = True
        self.redact_patterns = []
        self.export_flags = {}    # endpoint, headers, insecure, export_timeout, service, keep_local
        self.processes = None     # --processes: "fold" (huge trees summarised) or "all"
        self.processes_only = False  # --processes-only: no span of our own (a DAG step's)


HELP = """\
usage: traceexec [OPTIONS] -- CMD [ARGS...]
       traceexec [OPTIONS] -c 'SHELL STRING'
       traceexec run|validate|graph|show|serve|flush ... (see 'traceexec SUBCOMMAND --help')

Run CMD inside one OpenTelemetry span.  The span joins the trace named by
TRACEPARENT/TRACESTATE in the environment, and CMD gets TRACEPARENT of this
span, so whatever it starts joins the same trace.  Output, exit status and
signals are CMD's own.  With no endpoint configured, spans go to a local
store: see them with 'traceexec show last'.

span:
  --name NAME            span name (default: the executable's name)
                           traceexec --name backup -- ./backup.sh
  --attr KEY=VALUE       add an attribute; int, float, bool or string by its form
                           --attr batch.size=500 --attr dry_run=true
  --service NAME         service.name (default: OTEL_SERVICE_NAME, else traceexec)
  --redact REGEX         also hide matches of REGEX in the recorded arguments
  --no-redact            record arguments as they are (default hides passwords,
                           tokens, Authorization headers and URL passwords)

process:
  -c STRING              run STRING with /bin/sh -c (for make: SHELL := traceexec,
                           .SHELLFLAGS = --name=$@ -c)
  --shell PATH           the shell for -c (default /bin/sh), e.g. --shell=/bin/bash
  --timeout DURATION     TERM the command's process tree after DURATION, exit 124
                           --timeout 90s   (units ms, s, m, h; a bare number is seconds)
  --kill-after DURATION  KILL what is left this long after the TERM (default 5s)
  --tty                  run the command under a pseudo-terminal
                           traceexec --tty -- ls --color=auto
  --processes[=all]      every process the command starts is a span too (needs
                           strace); above 1,000 spans, repeated short children
                           are folded into summaries, unless =all
                           traceexec --processes -- ./backup.sh
  --processes-only[=all] the process spans only, under the caller's span
                           (TRACEPARENT), which the command also gets unchanged

export:
  --endpoint ENDPOINT    host:port for OTLP/gRPC, or a URL ending in /v1/traces for
                           OTLP/HTTP (default: OTEL_EXPORTER_OTLP_*; none: local store)
                           --endpoint collector:4317
  --header KEY=VALUE     export header, e.g. --header "authorization=Bearer $TOKEN"
  --insecure             no TLS for gRPC (loopback host:port is plain by default)
  --export-timeout DUR   bound on any wait for telemetry (default 10s)
  --keep-local           with an endpoint, also keep a copy in the local store
  --wait                 wait (at most the export timeout) until the span is delivered

other:
  -v, --verbose          say what traceexec does with context and spans, on stderr
  -h, --help             this help
  --version              the version

exit status: CMD's; 128+N when CMD was killed by signal N; 124 on timeout;
126 not executable; 127 not found; 2 for bad traceexec options.
"""

_VALUED = {"--name", "--attr", "--service", "--timeout", "--kill-after", "--endpoint",
           "--header", "--export-timeout", "--redact", "--shell", "-c"}
_FLAGS = {"--tty", "--verbose", "-v", "--insecure", "--keep-local", "--wait", "--no-wait",
          "--no-redact", "--help", "-h", "--version", "--processes", "--processes-only"}


def _key_value(text: str, option: str) -> tuple:
    key, eq, value = text.partition("=")
    if not eq or not key:
        raise UsageError("%s wants KEY=VALUE" % option)
    return key, value


def parse_wrapper(args: list):
    """Options for the wrapper form; raises UsageError."""
    from ..delivery import config, span
    opts = Options()
    shell = SHELL
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            opts.argv = args[i + 1:]
            break
        if not arg.startswith("-") or arg == "-":
            opts.argv = args[i:]
            break
        option, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if option in ("--processes", "--processes-only"):
            if eq and value != "all":
                raise UsageError("%s=%s: the only value is all" % (option, value))
            opts.processes = "all" if eq else "fold"
            opts.processes_only = option == "--processes-only"
        elif option in _VALUED:
            if not eq:
                if i + 1 >= len(args):
                    raise UsageError("%s needs a value" % option)
                if option == "--name" and args[i + 1] in _VALUED | _FLAGS | {"--"}:
                    # make runs $(shell ...) with .SHELLFLAGS while $@ is empty:
                    # "--name -c STRING" means no name, not a span named "-c".
                    i += 1
                    continue
                i += 1
                value = args[i]
            if option == "-c":
                opts.shell_string = value
                opts.argv = [shell, "-c", value] + args[i + 1:]
                break
            if option == "--shell":
                shell = value
            if option == "--name":
                opts.name = value
            elif option == "--attr":
                key, text = _key_value(value, option)
                opts.attributes[key] = span.parse_attribute(text)
            elif option == "--service":
                opts.export_flags["service"] = value
            elif option in ("--timeout", "--kill-after", "--export-timeout"):
                seconds = config.parse_duration(value, option)
                if option == "--timeout":
                    opts.timeout = seconds
                elif option == "--kill-after":
                    opts.kill_after = seconds
                else:
                    opts.export_flags["export_timeout"] = seconds
            elif option == "--endpoint":
                config.endpoint_protocol(value, "--endpoint")  # checked now: exit 2
                opts.export_flags["endpoint"] = value
            elif option == "--header":
                key, text = _key_value(value, option)
                opts.export_flags.setdefault("headers", {})[key] = text
            elif option == "--redact":
                try:
                    import re
                    re.compile(value)
                except re.error as error:
                    raise UsageError("--redact: bad pattern: %s" % error) from None
                opts.redact_patterns.append(value)
        elif option in _FLAGS and not eq:
            if option in ("--help", "-h"):
                return "help"
            if option == "--version":
                return "version"
            if option == "--tty":
                opts.tty = True
            elif option in ("--verbose", "-v"):
                opts.verbose = True
            elif option == "--insecure":
                opts.export_flags["insecure"] = True
            elif option == "--keep-local":
                opts.export_flags["keep_local"] = True
            elif option == "--wait":
                opts.wait = True
            elif option == "--no-wait":
                opts.wait = False
            elif option == "--no-redact":
                opts.redact = False
        else:
            raise UsageError("unknown option %s (see traceexec --help)" % option)
        i += 1
    if not opts.argv:
        raise UsageError("no command given: traceexec [OPTIONS] -- CMD [ARGS...]")
    return opts
