"""The wrapper's ``--help`` text: loaded only when asked for (it is 6 kB of the
wrapper's byte code, which every wrapped command would otherwise load)."""

HELP = """\
usage: traceexec [OPTIONS] [--] [NAME=VALUE]... CMD [ARGS...]
       traceexec [OPTIONS] [SHELL OPTIONS] -c 'SHELL STRING'
       traceexec run|start|dry|validate|graph|status|history|retry|restart|stop ...
       traceexec show|serve|diff|flush|doctor ...
       traceexec ssh [SSH OPTIONS] HOST [CMD...]
       traceexec sbatch|srun [SLURM OPTIONS] [SCRIPT|CMD] [ARGS...]
       traceexec help [SUBCOMMAND]

Run CMD inside one OpenTelemetry span.  The span joins the trace named by
TRACEPARENT/TRACESTATE in the environment, and CMD gets TRACEPARENT of this
span, so whatever it starts joins the same trace.  Output, exit status and
signals are CMD's own, as with env(1) or timeout(1).  With no endpoint
configured, spans go to a local store: see them with 'traceexec show'.

span:
  --name NAME            span name (default: the executable's name)
                           traceexec --name backup -- ./backup.sh
  --attr KEY=VALUE       add an attribute; int, float, bool or string by its form
                           --attr batch.size=500 --attr dry_run=true
  --service NAME         service.name (default: OTEL_SERVICE_NAME, else traceexec)
  --redact REGEX         also hide matches of REGEX in the recorded arguments
  --no-redact            record arguments as they are (default hides passwords,
                           tokens, Authorization headers and URL passwords)

process (as env(1) and timeout(1)):
  NAME=VALUE ...         set variables for CMD (and traceexec), as env(1) does
                           traceexec -- LC_ALL=C sort data.txt
  -C, --chdir DIR        run CMD in DIR
  -c STRING              run STRING with the shell (for make: SHELL := traceexec)
  --shell PATH [FLAGS]   the shell for -c (default /bin/sh) and its options up to -c:
                           .SHELLFLAGS = --name=$@ --shell=bash -eu -o pipefail -c
  --make                 CMD is GNU make: trace each recipe line of an unedited
                           Makefile, keeping its own SHELL and .SHELLFLAGS
                           traceexec --make --name build -- make -j4
  --timeout DURATION     send the signal to CMD's process tree after DURATION, exit 124
                           --timeout 90s   (units ms, s, m, h, d; bare number: seconds;
                           0 or inf: no timeout)
  -s, --signal SIG       the signal sent at timeout (default TERM), e.g. -s INT
  -k, --kill-after DUR   KILL what is left this long after the signal (default 5s;
                           0: never); exit 137 when KILL was needed
  --preserve-status      after a timeout, exit with CMD's own status
  --foreground           at timeout signal CMD only, not its children
  --tty                  run CMD under a pseudo-terminal
                           traceexec --tty -- ls --color=auto
  --report               after CMD, one line on stderr: elapsed, CPU, max RSS, exit,
                           trace id (like time(1))
  --print-traceparent    before CMD, print TRACEPARENT=<this span> on stderr
                           traceexec --print-traceparent -- ./job.sh 2>>job.log
  --processes[=all]      every process the command starts is a span too (needs
                           strace); above 1,000 spans, repeated short children
                           are folded into summaries, unless =all
                           traceexec --processes -- ./backup.sh
  --processes-only[=all] the process spans only, under the caller's span
                           (TRACEPARENT), which the command also gets unchanged
  --stderr-tail N        for scripts and cron jobs: CMD's stderr goes through a pipe
                           that traceexec copies to its own stderr, and a failed
                           CMD's span keeps the last N lines (redacted, at most 200
                           lines, 4 KiB); CMD then sees no terminal on stderr
  --lines                CMD is a bash script: each command it runs is a span, with
                           its line, function and subshell (bash 5); see docs/lines.md
                           traceexec --lines -- ./install.sh --prefix /opt
  --lines-only           the line spans only, under the caller's span (TRACEPARENT)

export:
  --endpoint ENDPOINT    host:port for OTLP/gRPC, or a URL ending in /v1/traces for
                           OTLP/HTTP (default: OTEL_EXPORTER_OTLP_*; none: local store)
                           --endpoint collector:4317
  --header KEY=VALUE     export header, e.g. --header "authorization=Bearer $TOKEN"
  --insecure             https:// endpoints: TLS without certificate checks;
                           gRPC host:port: no TLS (loopback host:port is plain by default)
  --client-certificate PEM, --client-key PEM
                         client certificate and key for mTLS
                           (default: OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, _CLIENT_KEY)
  --export-timeout DUR   bound on any wait for telemetry (default 10s)
  --keep-local           with an endpoint, also keep a copy in the local store
  --wait                 wait (at most the export timeout) until the span is delivered
  --no-wait              do not, whatever TRACEEXEC_WAIT says

other:
  -v, --verbose          say what traceexec does with context and spans, on stderr
  -h, --help             this help
  --version              the version

environment:
  TRACEPARENT, TRACESTATE, BAGGAGE   the W3C context to join and to pass on
  OTEL_EXPORTER_OTLP_*, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_EXPORTER,
  OTEL_TRACES_SAMPLER[_ARG], OTEL_PROPAGATORS, OTEL_SDK_DISABLED (docs/configuration.md;
                         a value that cannot be used: one warning, ignored alone)
  TRACEEXEC_HOME         spool, local store and logs (default ~/.local/state/traceexec)
  TRACEEXEC_KEEP_LOCAL   true: like --keep-local
  TRACEEXEC_WAIT         true: like --wait
  TRACEEXEC_WARN_INTERVAL  how often a destination's delivery problem is repeated (10m)
  TRACEEXEC_SPOOL_LIMIT  spans kept per destination while it is down (default 2,000,000)

exit status: CMD's; 128+N when CMD was killed by signal N; 124 on timeout (137
when KILL was needed); 126 not executable; 127 not found; 2 for bad traceexec
options.
"""
